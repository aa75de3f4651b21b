"""Build web-page-like documents from Project Gutenberg books and plant labelled near-duplicates.

Shared by ``bench/make_minhash_set.py`` (the ~50k-document MinHash benchmark set) and
``examples/build_sample.py`` (the bundled sample). Everything random goes through a caller-supplied
``numpy.random.Generator``, and every input is iterated in a sorted order, so the same seed gives the same
documents, ids and bytes.

Pieces:

* :func:`load_books` reads ``MANIFEST.tsv`` and keeps one copy of each distinct content (``git_blob_sha1``),
  with the Project Gutenberg licence header and footer removed (:func:`strip_gutenberg`).
* :func:`split_paragraphs` / :func:`cut_documents` cut a book into paragraph-aligned documents of web-page
  size; :func:`remix_documents` makes extra "collage" documents out of sentences when a corpus needs more
  documents than the distinct books hold.
* :func:`plant_copies` derives near-duplicates from chosen originals with recorded transforms: word edits,
  added boilerplate lines, truncation, formatting-only changes, and combinations of those.
* :func:`normalize` / :func:`shingles` / :func:`jaccard` are the reference normalisation used to score
  results (NFKC, casefold, Unicode punctuation to space, whitespace collapsed, word 5-grams).
"""

from __future__ import annotations

import csv
import hashlib
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shared_data import GUTENBERG

DEFAULT_GUTENBERG = GUTENBERG

# --------------------------------------------------------------------------------------------------
# Loading books
# --------------------------------------------------------------------------------------------------

_START_RE = re.compile(r"^\*\*\* ?START OF .*$", re.MULTILINE)
_END_RE = re.compile(r"^\*\*\* ?END OF .*$", re.MULTILINE)
_OLD_HEADER_END_RE = re.compile(r"^\*END\*THE SMALL PRINT.*$", re.MULTILINE)
_END_LINE_RE = re.compile(r"^\s*End of (the |this )?Project Gutenberg.*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Book:
    """One distinct book: ``key`` is its manifest ``local_path``; ``text`` has no PG header/footer."""

    key: str
    blob: str
    author: str
    title: str
    text: str


def strip_gutenberg(raw: str) -> str:
    """Return the body of a Project Gutenberg file without its licence header and footer.

    Modern files: the text between the ``*** START OF`` and ``*** END OF`` lines. Older files (1990s
    "Small Print" licence): the text after ``*END*THE SMALL PRINT...`` up to ``End of the Project
    Gutenberg Etext...``. The ``End of the Project Gutenberg ...`` line that precedes the end marker
    is dropped as well.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    start = _START_RE.search(text)
    if start is not None:
        begin = start.end()
    else:
        old = _OLD_HEADER_END_RE.search(text)
        begin = old.end() if old is not None else 0
    stop = len(text)
    end = _END_RE.search(text, begin)
    if end is not None:
        stop = end.start()
    end_line = _END_LINE_RE.search(text, begin, stop)
    if end_line is not None:
        stop = end_line.start()
    return text[begin:stop].strip("\n")


def load_books(root: Path = DEFAULT_GUTENBERG, distinct: bool = True) -> list[Book]:
    """Read the books listed in ``root/MANIFEST.tsv``, sorted by ``local_path``.

    With ``distinct`` (the default) only the first file (in ``local_path`` order) of each distinct
    ``git_blob_sha1`` is kept: the upstream collection files the same eBook under several authors.
    """
    manifest = root / "MANIFEST.tsv"
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: r["local_path"])
    books: list[Book] = []
    seen: set[str] = set()
    for row in rows:
        blob = row["git_blob_sha1"]
        if distinct and blob in seen:
            continue
        seen.add(blob)
        path = root / row["local_path"]
        raw = path.read_bytes().decode("utf-8", errors="replace")
        author, _, title = row["local_path"].removesuffix(".txt").partition("/")
        books.append(Book(row["local_path"], blob, author, title, strip_gutenberg(raw)))
    return books


# --------------------------------------------------------------------------------------------------
# Cutting books into documents
# --------------------------------------------------------------------------------------------------

_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_WS_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[A-Z\u201c\u2018])")


def split_paragraphs(text: str, max_chars: int = 8000) -> list[str]:
    """Split on blank lines, unwrap each paragraph to one line, and split over-long paragraphs.

    A paragraph longer than ``max_chars`` is cut at sentence boundaries into pieces of at most
    about ``max_chars // 3`` characters (a single over-long sentence is cut at a space).
    """
    out: list[str] = []
    for block in _BLANK_LINE_RE.split(text):
        para = _WS_RE.sub(" ", block).strip()
        if not para:
            continue
        if len(para) <= max_chars:
            out.append(para)
            continue
        piece_max = max(200, max_chars // 3)
        current = ""
        for sentence in split_sentences(para):
            while len(sentence) > piece_max:
                cut = sentence.rfind(" ", 0, piece_max)
                cut = cut if cut > 0 else piece_max
                if current:
                    out.append(current)
                    current = ""
                out.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if current and len(current) + 1 + len(sentence) > piece_max:
                out.append(current)
                current = ""
            current = f"{current} {sentence}" if current else sentence
        if current:
            out.append(current)
    return out


def split_sentences(paragraph: str) -> list[str]:
    """A rough English sentence split (enough for building collages; not a linguistic tool)."""
    return [s for s in _SENTENCE_END_RE.split(paragraph) if s]


@dataclass(frozen=True)
class SizeModel:
    """Target document sizes (characters): log-normal around ``median``, clipped to [lo, hi]."""

    median: float = 2500.0
    sigma: float = 0.55
    lo: int = 1000
    hi: int = 8000

    def draw(self, rng: np.random.Generator) -> int:
        value = float(rng.lognormal(np.log(self.median), self.sigma))
        return int(min(max(value, self.lo), self.hi))


def cut_spans(lengths: Sequence[int], rng: np.random.Generator, sizes: SizeModel) -> list[tuple[int, int]]:
    """Group consecutive paragraphs (given by their lengths) into ``[start, end)`` spans of about
    ``sizes.draw()`` characters, counting two characters per paragraph break.

    A span never exceeds ``sizes.hi`` (a paragraph is at most ``sizes.hi`` long after
    :func:`split_paragraphs`); a too-short tail is merged into the previous span when it fits,
    otherwise dropped if shorter than ``sizes.lo // 2``.
    """
    spans: list[tuple[int, int]] = []
    start, length = 0, 0
    target = sizes.draw(rng)
    for i, size in enumerate(lengths):
        extra = size + (2 if i > start else 0)
        if i > start and length + extra > sizes.hi:
            spans.append((start, i))
            start, length, target = i, 0, sizes.draw(rng)
            extra = size
        length += extra
        if length >= target:
            spans.append((start, i + 1))
            start, length, target = i + 1, 0, sizes.draw(rng)
    if start < len(lengths):
        if spans and sum(lengths[spans[-1][0] : len(lengths)]) + 2 * (len(lengths) - spans[-1][0]) <= sizes.hi:
            spans[-1] = (spans[-1][0], len(lengths))
        elif length >= sizes.lo // 2:
            spans.append((start, len(lengths)))
    return spans


def cut_documents(paragraphs: Sequence[str], rng: np.random.Generator, sizes: SizeModel) -> list[str]:
    """Cut a book's paragraphs into documents of web-page size (see :func:`cut_spans`)."""
    spans = cut_spans([len(p) for p in paragraphs], rng, sizes)
    return ["\n\n".join(paragraphs[a:b]) for a, b in spans]


def remix_documents(sentences: Sequence[str], n_docs: int, rng: np.random.Generator, sizes: SizeModel) -> list[str]:
    """Make ``n_docs`` "collage" documents out of sentences drawn from the whole corpus.

    Each round is a fresh permutation of ``sentences`` consumed in order, so inside a round no
    sentence repeats and two collages share a sentence only by coincidence across rounds: collages
    are not near-duplicates of each other nor of the contiguous documents. Sentences are grouped
    into paragraphs of 2-6 sentences.
    """
    if not sentences:
        return []
    docs: list[str] = []
    order = rng.permutation(len(sentences))
    pos = 0
    while len(docs) < n_docs:
        target = sizes.draw(rng)
        paras: list[str] = []
        length = 0
        while length < target:
            n_sent = int(rng.integers(2, 7))
            chosen: list[str] = []
            for _ in range(n_sent):
                if pos >= len(order):
                    order = rng.permutation(len(sentences))
                    pos = 0
                chosen.append(sentences[order[pos]])
                pos += 1
            para = " ".join(chosen)
            if length + len(para) + 2 > sizes.hi and paras:
                break
            paras.append(para)
            length += len(para) + 2
        docs.append("\n\n".join(paras))
    return docs


def sentence_pool(paragraphs: Iterable[str], min_chars: int = 30, max_chars: int = 400) -> list[str]:
    """All sentences of ``paragraphs`` whose length lies in [min_chars, max_chars]."""
    pool: list[str] = []
    for para in paragraphs:
        pool.extend(s for s in split_sentences(para) if min_chars <= len(s) <= max_chars)
    return pool


def doc_id(key: str, prefix: str = "d") -> str:
    """A stable opaque id: ``prefix`` + 16 hex digits of BLAKE2b(key). Sorts in no meaningful order."""
    return prefix + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def slugify(text: str, max_len: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "page"


def vocabulary(texts: Iterable[str], size: int = 5000) -> list[str]:
    """The ``size`` most frequent lower-case alphabetic words (ties broken alphabetically)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1 or w in ("a", "i"))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in ranked[:size]]


# --------------------------------------------------------------------------------------------------
# Near-duplicate transforms
# --------------------------------------------------------------------------------------------------

SITE_NAMES = [
    "ClassicReads",
    "Bookshelf Online",
    "The Reading Room",
    "LitHub Archive",
    "Old Pages",
    "Story Corner",
    "Free Classics Daily",
    "Public Library Mirror",
]

HEADER_LINES = [
    "Home | Books | Authors | Genres | About | Contact",
    "Home \u203a Library \u203a Classics \u203a Read online",
    "Skip to main content",
    "Menu   Search   Sign in   Register",
    "You are here: Home / Classics / Chapter",
    "Welcome to {site} \u2013 thousands of free books to read online",
    "Subscribe to our newsletter for a new classic every week!",
    "Advertisement",
]

COOKIE_LINES = [
    "We use cookies to improve your experience. By continuing to browse you agree to our use of cookies. "
    "Accept | Learn more",
    "This site uses cookies. Read our Privacy Policy to find out more. [OK]",
    "Cookie settings: we and our partners store and access information on your device. Accept all / Reject all",
]

FOOTER_LINES = [
    "Share this: Facebook | Twitter | Email | Print",
    "Share this article",
    "\u00a9 {year} {site}. All rights reserved.",
    "Privacy Policy | Terms of Use | Contact us | Sitemap",
    "Related posts: More classics you might enjoy",
    "Tags: classics, literature, public domain, free ebooks",
    "Posted in Books | Leave a comment",
    "Back to top \u2191",
    "Previous page | Next page",
    "Was this page helpful? Yes / No",
]

MIRROR_HOSTS = [
    "classicreads.example.com",
    "bookshelf.example.net",
    "readingroom.example.org",
    "lithub-archive.example.com",
    "oldpages.example.net",
    "storycorner.example.com",
    "freeclassics.example.org",
    "mirror.example.info",
]

TRANSFORM_FAMILIES = ("truncate", "edit", "format", "boilerplate")


def edit_words(text: str, rng: np.random.Generator, rate: float, vocab: Sequence[str]) -> str:
    """Delete, insert or substitute words, each word touched with probability ``rate``.

    Paragraph breaks are kept; inserted and substituted words come from ``vocab``.
    """
    out_paras: list[str] = []
    for para in text.split("\n"):
        words = para.split(" ")
        if not para:
            out_paras.append(para)
            continue
        touched = rng.random(len(words)) < rate
        ops = rng.integers(0, 3, size=len(words))
        picks = rng.integers(0, len(vocab), size=len(words))
        new: list[str] = []
        for i, word in enumerate(words):
            if not touched[i]:
                new.append(word)
            elif ops[i] == 0:  # delete
                continue
            elif ops[i] == 1:  # insert a word before this one
                new.append(vocab[picks[i]])
                new.append(word)
            else:  # substitute
                new.append(vocab[picks[i]])
        out_paras.append(" ".join(new))
    return "\n".join(out_paras)


def add_boilerplate(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """Add 1-3 header lines (navigation, cookie banner...) and 1-3 footer lines ("Share this"...)."""
    site = SITE_NAMES[int(rng.integers(len(SITE_NAMES)))]
    year = int(rng.integers(2009, 2025))
    n_head = int(rng.integers(1, 4))
    n_foot = int(rng.integers(1, 4))
    pool = HEADER_LINES + COOKIE_LINES
    head = [pool[i].format(site=site, year=year) for i in sorted(rng.choice(len(pool), n_head, False))]
    foot = [FOOTER_LINES[i].format(site=site, year=year) for i in sorted(rng.choice(len(FOOTER_LINES), n_foot, False))]
    return "\n".join([*head, "", text, "", *foot]), f"boilerplate:h{n_head}f{n_foot}"


def truncate(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """Keep 70-95 % of the characters: a prefix (80 % of the time) or a suffix, cut at a space."""
    keep = float(rng.uniform(0.70, 0.95))
    n = int(len(text) * keep)
    if rng.random() < 0.8:
        cut = text.rfind(" ", 0, n)
        out = text[: cut if cut > 0 else n].rstrip()
        where = "head"
    else:
        cut = text.find(" ", len(text) - n)
        out = text[cut if cut >= 0 else len(text) - n :].lstrip()
        where = "tail"
    return out, f"truncate:{keep:.2f}:{where}"


_STRAIGHT_DQ_OPEN_RE = re.compile(r'(^|[\s(\[])"')
_STRAIGHT_SQ_OPEN_RE = re.compile(r"(^|[\s(\[])'")


def _curly_quotes(text: str) -> str:
    text = _STRAIGHT_DQ_OPEN_RE.sub("\\1\u201c", text)
    text = text.replace('"', "\u201d")
    text = _STRAIGHT_SQ_OPEN_RE.sub("\\1\u2018", text)
    return text.replace("'", "\u2019")


def _straight_quotes(text: str) -> str:
    return text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")


def reformat(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """Formatting-only changes: 1-3 of reflow, case, quotes, blank lines (words unchanged)."""
    kinds = ["reflow", "case", "quotes", "blank"]
    n = int(rng.integers(1, 4))
    chosen = [kinds[i] for i in sorted(rng.choice(len(kinds), n, False))]
    labels: list[str] = []
    for kind in chosen:
        if kind == "reflow":
            width = int(rng.integers(50, 101))
            paras = text.split("\n\n")
            text = "\n\n".join(textwrap.fill(p, width=width) if p.strip() else p for p in paras)
            labels.append(f"reflow{width}")
        elif kind == "case":
            mode = ("lower", "upper", "first-upper")[int(rng.choice(3, p=[0.5, 0.2, 0.3]))]
            if mode == "lower":
                text = text.lower()
            elif mode == "upper":
                text = text.upper()
            else:
                first, sep, rest = text.partition("\n")
                text = first.upper() + sep + rest
            labels.append(f"case-{mode}")
        elif kind == "quotes":
            if any(q in text for q in "\u201c\u201d\u2018\u2019"):
                text = _straight_quotes(text)
                labels.append("quotes-straight")
            else:
                text = _curly_quotes(text)
                labels.append("quotes-curly")
        else:
            paras = text.split("\n\n")
            gaps = rng.integers(1, 4, size=max(len(paras) - 1, 0))
            pieces = [paras[0]]
            for gap, para in zip(gaps, paras[1:], strict=True):
                pieces.append("\n" * (int(gap) + 1) + "  " * int(rng.integers(0, 2)) + para)
            text = "".join(pieces) + "\n" * int(rng.integers(0, 3))
            labels.append("blank-lines")
    return text, "format:" + "+".join(labels)


@dataclass(frozen=True)
class PlantedCopy:
    copy_id: str
    source_id: str
    text: str
    url: str
    transforms: list[str] = field(default_factory=list)


def transform_copy(
    text: str, rng: np.random.Generator, vocab: Sequence[str], families: Sequence[str]
) -> tuple[str, list[str]]:
    """Apply the given transform families in a fixed order: truncate, edit, format, boilerplate."""
    labels: list[str] = []
    for family in TRANSFORM_FAMILIES:
        if family not in families:
            continue
        if family == "truncate":
            text, label = truncate(text, rng)
        elif family == "edit":
            rate = float(rng.uniform(0.01, 0.10))
            text = edit_words(text, rng, rate, vocab)
            label = f"edit:{rate:.3f}"
        elif family == "format":
            text, label = reformat(text, rng)
        else:
            text, label = add_boilerplate(text, rng)
        labels.append(label)
    return text, labels


def choose_families(rng: np.random.Generator) -> list[str]:
    """1 (45 %), 2 (35 %), 3 (15 %) or all 4 (5 %) transform families, chosen uniformly."""
    n = int(rng.choice([1, 2, 3, 4], p=[0.45, 0.35, 0.15, 0.05]))
    idx = sorted(rng.choice(len(TRANSFORM_FAMILIES), n, False))
    return [TRANSFORM_FAMILIES[i] for i in idx]


def plant_copies(
    originals: Sequence[tuple[str, str]],
    n_copies: int,
    rng: np.random.Generator,
    vocab: Sequence[str],
) -> list[PlantedCopy]:
    """Derive ``n_copies`` near-duplicates from ``originals`` (a sequence of ``(id, text)``).

    Sources are drawn without replacement; each gets 1 copy (75 %), 2 (18 %) or 3 (7 %), each copy
    with its own random transforms (:func:`choose_families`). Copies are never made from copies.
    """
    copies: list[PlantedCopy] = []
    order = rng.permutation(len(originals))
    for idx in order:
        if len(copies) >= n_copies:
            break
        source_id, source_text = originals[int(idx)]
        k = int(rng.choice([1, 2, 3], p=[0.75, 0.18, 0.07]))
        for j in range(min(k, n_copies - len(copies))):
            text, labels = transform_copy(source_text, rng, vocab, choose_families(rng))
            host = MIRROR_HOSTS[int(rng.integers(len(MIRROR_HOSTS)))]
            slug = slugify(" ".join(source_text.split()[:8]))
            copy_id = doc_id(f"copy:{source_id}:{j}")
            copies.append(PlantedCopy(copy_id, source_id, text, f"https://{host}/{slug}-{copy_id[-6:]}", labels))
    return copies


# --------------------------------------------------------------------------------------------------
# Reference normalisation and exact Jaccard (used for scoring; independent of curate's code)
# --------------------------------------------------------------------------------------------------

_PUNCT_TABLE: list[int] = []


def _punct_table() -> list[int]:
    """A code point -> code point list mapping every punctuation character (category P*) to a space.

    A list indexed by code point makes ``str.translate`` about twice as fast as a dict would.
    """
    if not _PUNCT_TABLE:
        table = list(range(0x110000))
        for cp in range(0x110000):
            if unicodedata.category(chr(cp)).startswith("P"):
                table[cp] = 0x20
        _PUNCT_TABLE.extend(table)
    return _PUNCT_TABLE


def normalize(text: str) -> str:
    """NFKC, casefold, every Unicode punctuation character (category P*) to a space, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_punct_table())
    return " ".join(text.split())


def shingles(text: str, n: int = 5) -> set[str]:
    """Word n-grams of :func:`normalize` (text); a document with fewer than ``n`` words is one shingle."""
    words = normalize(text).split()
    if not words:
        return set()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str] | frozenset[int], b: set[str] | frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)  # type: ignore[operator]
    return inter / (len(a) + len(b) - inter)
