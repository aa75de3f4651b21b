"""Small seeded corpora for end-to-end tests, brute-force expectations computed from first
principles (Python sets), independent of the kernel and of the LSH phases, and where the
shared third-party corpora are."""

from __future__ import annotations

import os
import random
import re
import unicodedata
from pathlib import Path

SHARED_DATA_VARIABLE = "CURATE_SHARED_DATA"


def shared_data_dir() -> Path:
    """The shared corpora: ``$CURATE_SHARED_DATA`` if set, else ``../shared/data`` beside the
    checkout (the layout CI uses). Never an absolute path written in a test."""
    configured = os.environ.get(SHARED_DATA_VARIABLE)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "data"


WORDS = [
    "river",
    "stone",
    "light",
    "morning",
    "garden",
    "window",
    "letter",
    "silver",
    "forest",
    "harbor",
    "candle",
    "winter",
    "meadow",
    "lantern",
    "orchard",
    "valley",
    "thunder",
    "bridge",
    "feather",
    "mirror",
    "compass",
    "island",
    "marble",
    "shadow",
    "whisper",
    "ember",
    "canyon",
    "glacier",
    "horizon",
    "velvet",
    "crystal",
    "falcon",
    "prairie",
    "summit",
    "willow",
    "beacon",
    "cobble",
    "drift",
    "fable",
    "grove",
    "hollow",
    "ivory",
    "jasmine",
    "kettle",
    "linen",
    "mosaic",
    "nectar",
    "opal",
    "pebble",
    "quartz",
    "ripple",
    "saffron",
    "timber",
    "umber",
    "vessel",
    "wander",
    "yonder",
    "zephyr",
    "anchor",
    "basket",
    "cellar",
    "dune",
    "echo",
    "fern",
    "gravel",
    "hearth",
    "inlet",
    "juniper",
]


def brute_normalize(text: str) -> list[str]:
    """Tokens after the documented normalisation, written independently of the kernel:
    NFKC, casefold, Unicode punctuation to spaces, whitespace split."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return text.split()


def word_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    tokens = brute_normalize(text)
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def brute_components(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """The connected component of each of ``n`` nodes under ``pairs``, named by its smallest node
    (a plain union-find, the reference for curate's components)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def random_document(rng: random.Random, words: int) -> str:
    sentences = []
    while words > 0:
        length = min(words, rng.randint(6, 14))
        sentence = " ".join(rng.choice(WORDS) for _ in range(length))
        sentences.append(sentence.capitalize() + ".")
        words -= length
    return " ".join(sentences)


def mutate(rng: random.Random, text: str, rate: float) -> str:
    """Substitute about ``rate`` of the words."""
    tokens = text.split(" ")
    for i in range(len(tokens)):
        if rng.random() < rate:
            tokens[i] = rng.choice(WORDS)
    return " ".join(tokens)


def near_duplicate_corpus(seed: int, originals: int, copies: int, words: int = 300) -> list[dict[str, object]]:
    """``originals`` unrelated documents and ``copies`` light edits (1-3 % substitutions,
    a reformatting, a header line) of randomly chosen originals."""
    rng = random.Random(seed)
    docs: list[dict[str, object]] = []
    for i in range(originals):
        docs.append({"id": f"orig-{i:04d}", "text": random_document(rng, words), "score": rng.randint(0, 9)})
    for j in range(copies):
        source = rng.choice(docs[:originals])
        text = str(source["text"])
        kind = j % 3
        if kind == 0:
            text = mutate(rng, text, rng.uniform(0.005, 0.015))
        elif kind == 1:
            text = re.sub(r"\. ", ".\n\n", text).upper()
        else:
            text = "Home | About | Contact\n" + text
        docs.append({"id": f"copy-{j:04d}", "text": text, "score": rng.randint(0, 9)})
    rng.shuffle(docs)
    return docs


def expected_pairs(docs: list[dict[str, object]], threshold: float, n: int = 5) -> dict[tuple[str, str], float]:
    """Every pair with exact Jaccard >= threshold, by brute force."""
    sets = {str(d["id"]): word_shingles(str(d["text"]), n) for d in docs}
    ids = sorted(sets)
    found = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            similarity = jaccard(sets[a], sets[b])
            if similarity >= threshold:
                found[(a, b)] = similarity
    return found


# Language-ID corpora: lingua's ISO 639-1 file names, and the UDHR file (ISO 639-3) of each.
LINGUA_TO_UDHR = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "nl": "nld",
    "pt": "por_PT",
    "pl": "pol",
    "sv": "swe",
    "fi": "fin",
    "tr": "tur",
    "ru": "rus",
}


def lingua_rows(shared: Path, languages: list[str], kind: str = "sentences") -> list[dict[str, object]]:
    """One row per line of lingua's test files: id, text, and the language (the file name)."""
    rows: list[dict[str, object]] = []
    for language in languages:
        lines = (shared / "lingua-langid-testdata" / kind / f"{language}.txt").read_text(encoding="utf-8").splitlines()
        rows += [{"id": f"{language}-{i}", "text": line, "language": language} for i, line in enumerate(lines)]
    return rows


def udhr_paragraphs(shared: Path, code: str, min_chars: int = 40) -> list[str]:
    """The paragraphs (non-empty lines) of one UDHR translation, long enough to classify."""
    text = (shared / "udhr2-multilingual" / f"{code}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= min_chars]


def chunks(text: str, size: int) -> list[str]:
    """``text`` cut at paragraph breaks into pieces of about ``size`` characters."""
    pieces: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return pieces


def prose_documents(shared: Path, books: int, per_book: int, skip: int = 20, articles: bool = True) -> list[str]:
    """Long-form prose: ~2,000-character passages of Gutenberg books (the first ``books``
    authors' first book, from passage ``skip`` on: past the front matter), and the gold
    article bodies of the article-extraction benchmark (with ``articles``)."""
    import json

    root = shared / "gutenberg-top-authors-subset"
    documents: list[str] = []
    for author in sorted(p for p in root.iterdir() if p.is_dir())[:books]:
        book = sorted(author.glob("*.txt"))[0]
        documents += chunks(book.read_text(encoding="utf-8", errors="replace"), 2000)[skip : skip + per_book]
    if not articles:
        return documents
    truth = json.loads((shared / "article-extraction-benchmark" / "ground-truth.json").read_text(encoding="utf-8"))
    documents += [item["articleBody"] for _, item in sorted(truth.items()) if len(item["articleBody"]) > 200]
    return documents


def informal_documents(shared: Path) -> list[str]:
    """Informal, spam and raw web text: every SMS of the spam collection, nltk webtext's forum,
    chat and personal-ad lines in groups of five, and the Common Crawl documents of dolma's samples."""
    import gzip
    import json

    documents = []
    for line in (shared / "sms-spam-collection" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines()[1:]:
        documents.append(line.partition("\t")[2])
    for name in ("firefox.txt", "overheard.txt", "singles.txt"):
        lines = (shared / "nltk-webtext" / name).read_text(encoding="utf-8", errors="replace").splitlines()
        documents += ["\n".join(lines[i : i + 5]) for i in range(0, len(lines), 5)]
    with gzip.open(shared / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "rt") as f:
        documents += [json.loads(line)["text"] for line in f]
    return [d for d in documents if d.strip()]
