"""Exact dedup: curate's ``dedup exact`` and ``dedup lines`` against plain polars and Python scripts on the same data.

    python bench/exact_bench.py [--data bench/data/exact] [--repeat N]

The first run builds the data set (seeded, ~20 s, cached in ``DATA/``; see :func:`build_corpus`):
~50k documents, ~150 MB of text in 16 Parquet shards (``id``, ``text``, ``url``) made of the 330
Project Gutenberg files (cut into ~3 KB paragraph-aligned documents) and the Common Crawl documents of
``dolma-cc-samples``, with planted exact duplicates (byte-identical, CRLF, trailing-whitespace and NFD
copies), URL variants and re-crawls, and navigation / cookie / footer lines plus a few hundred site
templates added to a share of the documents. ``DATA/truth.parquet`` records what was planted and, per
document, which document an exact reference keeps in its place (bytes, ``basic`` normalisation, URL).

Every tool runs as a subprocess of a fresh wrapper process (``_measure``) that records wall time, CPU
time of the process tree, the peak RSS of its largest process and the peak of the tree's summed PSS
(sampled from ``/proc``). The peers are the hidden sub-commands ``_polars_exact``, ``_set_exact``,
``_polars_lines`` and ``_counter_lines`` of this file; they import nothing heavy until they run.
See ``bench/README.md`` for what is compared and how.
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import neardup_corpus as nc  # noqa: E402
from process_stats import last_json, log, measure_main, shard_paths, tail  # noqa: E402
from shared_data import SHARED  # noqa: E402

from curate.io.layout import manifest_path, rejects_dir  # noqa: E402

CORES = 2
GUTENBERG = SHARED / "gutenberg-top-authors-subset"
DOLMA_CC = SHARED / "dolma-cc-samples"
DEFAULT_DATA = HERE / "data" / "exact"
DEFAULT_OUT = HERE / "out" / "exact"
BUILD_VERSION = 1  # bump when the builder's output changes: a cached set with another version is rebuilt
MIN_COUNT = 3

EXACT_TOOLS = ("curate-exact", "curate-exact-none", "curate-url", "polars-exact", "set-exact")
LINES_TOOLS = ("curate-lines", "curate-lines-approx", "polars-lines", "counter-lines")
TOOLS = EXACT_TOOLS + LINES_TOOLS
BASELINES = {  # idle interpreter + imports: subtracted from peak RSS for "memory per distinct line"
    "idle-curate": "import curate.cli",
    "idle-curate-libs": "import curate.cli, curate.kernel, numpy, polars, pyarrow.parquet",
    "idle-polars": "import polars",
    "idle-pyarrow": "import pyarrow.parquet",
}
BASELINE_OF = {
    "curate-lines": "idle-curate",
    "curate-lines-approx": "idle-curate",
    "polars-lines": "idle-polars",
    "counter-lines": "idle-pyarrow",
}
# What each exact tool must equal: the reference kept set under bytes ("none"), "basic" or URLs.
EXACT_MODE = {
    "curate-exact": "basic",
    "curate-exact-none": "none",
    "curate-url": "url",
    "polars-exact": "none",
    "set-exact": "none",
}
RATIO_PAIRS = (
    (("curate-exact", "curate-exact-none"), ("polars-exact", "set-exact")),
    (("curate-lines", "curate-lines-approx"), ("polars-lines", "counter-lines")),
)


# --------------------------------------------------------------------------------------------------
# Reference semantics (independent of curate): used to build the truth and by the Python peers
# --------------------------------------------------------------------------------------------------

_BREAK_RE = re.compile(r"\r\n|\r|\n")
_BREAK_KEEP_RE = re.compile(r"(\r\n|\r|\n)")


def basic_form(text: str) -> str:
    """curate's documented ``basic`` normalisation: NFC, CRLF / CR -> LF, whitespace (``str.isspace``)
    stripped at the end of every line and at both ends of the text."""
    return "\n".join(unicodedata.normalize("NFC", line.rstrip()) for line in _BREAK_RE.split(text)).strip()


def url_key(url: str) -> str:
    """A URL without scheme, ``www.``, default port, fragment and trailing slashes of the path; host
    lower-cased, query kept (curate's documented ``--on url`` rule, written with ``urllib.parse``)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.netloc.lower().removeprefix("www.")
    if (scheme == "http" and host.endswith(":80")) or (scheme == "https" and host.endswith(":443")):
        host = host.rsplit(":", 1)[0]
    query = f"?{parts.query}" if parts.query else ""
    return host + parts.path.rstrip("/") + query


def line_key(line: str) -> str:
    """The key a line is counted under: surrounding whitespace removed, NFC ('' = blank, never counted)."""
    key = line.strip()
    return key if key.isascii() else unicodedata.normalize("NFC", key)


# --------------------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------------------

NAV_LINES = [
    "Home | News | Sport | Weather | Contact",
    "Skip to main content",
    "Skip to navigation",
    "Toggle navigation",
    "Menu",
    "Search this site",
    "Sign in | Register",
    "Log in / Sign up",
    "You are here: Home",
    "Main menu",
    "Jump to navigation Jump to search",
    "Home > Articles > Archive",
    "Advertisement",
    "Subscribe",
]
COOKIE_LINES = [
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our use of "
    "cookies. Accept | Learn more",
    "This website uses cookies to ensure you get the best experience. Got it!",
    "Cookie settings: we and our partners store and access information on your device. Accept all / Reject all",
    "By using this site you agree to our Privacy Policy and Terms of Service.",
]
FOOTER_LINES = [
    "Share this: Facebook | Twitter | Email | Print",
    "Share this article",
    "Privacy Policy | Terms of Use | Contact us | Sitemap",
    "Related posts",
    "Leave a comment",
    "Back to top",
    "Previous page | Next page",
    "Was this page helpful? Yes / No",
    "Powered by WordPress",
    "All rights reserved.",
    "Print this page",
    "Report an error",
]
_SITE_A = ["Daily", "Open", "Blue", "Northern", "Quiet", "Modern", "Golden", "Little", "Urban", "Free", "Old", "Bright"]
_SITE_B = ["Reader", "Chronicle", "Gazette", "Notebook", "Library", "Review", "Journal", "Archive", "Post", "Digest"]
_SITE_C = ["", " Online", " Weekly", " Today", " Hub", " Times"]
TEMPLATE_HEADERS = ["{site} | Home | Articles | About | Contact", "Welcome to {site}", "{site} - {tagline}"]
TEMPLATE_FOOTERS = [
    "\u00a9 {year} {site}. All rights reserved.",
    "{site} is published by {site} Media Ltd., registered in {country}.",
    "Follow {site} on Facebook, Twitter and Instagram",
    "Subscribe to the {site} newsletter",
    "Contact the {site} editors: editors@{host}",
]
_TAGLINES = ["stories worth reading", "news and views", "since 1998", "the best of the web", "read, think, share"]
_COUNTRIES = ["England and Wales", "Ireland", "Scotland", "the Netherlands", "Delaware", "Ontario"]
BOOK_HOSTS = [
    "library.example.org",
    "classics.example.com",
    "gutenberg-mirror.example.net",
    "readfree.example.org",
    "oldbooks.example.com",
    "textarchive.example.net",
]
MIRROR_HOSTS = ["mirror1.example.info", "copycat.example.biz", "aggregator.example.io", "scraper.example.co"]

N_TEMPLATES = 300
TEMPLATE_ZIPF = 1.3  # template popularity ~ 1 / rank^1.3: a few sites on thousands of pages, a tail on 1-3
BOILERPLATE_SHARE = 0.4
RECRAWL_SHARE = 0.02
DOC_MEDIAN, DOC_SIGMA, DOC_LO, DOC_HI = 2200.0, 0.5, 1000, 8000
PARA_PIECE = 3000  # an over-long paragraph (or line) is cut into pieces of at most this many characters
COPY_KINDS = ("exact", "crlf", "trailing_ws", "nfd")
COPY_KIND_P = (0.75, 0.10, 0.10, 0.05)
COPY_MULTIPLICITY_P = (0.70, 0.20, 0.07, 0.03)  # 1, 2, 3 or 4 copies of a chosen source

DATA_SCHEMA_FIELDS = (("id", "string"), ("text", "large_string"), ("url", "string"))


@dataclass
class Doc:
    id: str
    text: str
    url: str
    origin: str
    kind: str = "original"  # original | natural_dup | copy_<kind> | recrawl
    source_id: str | None = None
    template: int = -1
    boilerplate_lines: int = 0


@dataclass(frozen=True)
class Template:
    site: str
    host: str
    header: tuple[str, ...]
    footer: tuple[str, ...]


def _seed_of(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def doc_id(key: str) -> str:
    return "d" + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def slugify(text: str, max_len: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "page"


_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


def _pieces(block: str) -> list[str]:
    """An over-long paragraph cut at line breaks (and an over-long line at spaces) into short pieces."""
    lines: list[str] = []
    for line in block.split("\n"):
        while len(line) > PARA_PIECE:
            cut = line.rfind(" ", 0, PARA_PIECE)
            cut = cut if cut > 0 else PARA_PIECE
            lines.append(line[:cut])
            line = line[cut:].lstrip(" ")
        lines.append(line)
    out: list[str] = []
    piece: list[str] = []
    size = 0
    for line in lines:
        if piece and size + len(line) + 1 > PARA_PIECE:
            out.append("\n".join(piece))
            piece, size = [], 0
        piece.append(line)
        size += len(line) + 1
    if piece:
        out.append("\n".join(piece))
    return out


def book_documents(text: str, rng: np.random.Generator) -> list[str]:
    """Paragraph-aligned documents of a log-normal size (median 2.2 KB, 1-8 KB; ~3 KB on average) with the book's own
    line breaks kept; paragraphs are separated by one blank line."""
    paragraphs: list[str] = []
    for block in _BLANK_LINE_RE.split(text):
        block = block.strip("\n")
        if block.strip():
            paragraphs.extend(_pieces(block) if len(block) > PARA_PIECE else [block])

    def target() -> int:
        return int(min(max(rng.lognormal(math.log(DOC_MEDIAN), DOC_SIGMA), DOC_LO), DOC_HI))

    docs: list[str] = []
    current: list[str] = []
    size, goal = 0, target()
    for para in paragraphs:
        if current and size + len(para) + 2 > DOC_HI:
            docs.append("\n\n".join(current))
            current, size, goal = [], 0, target()
        current.append(para)
        size += len(para) + 2
        if size >= goal:
            docs.append("\n\n".join(current))
            current, size, goal = [], 0, target()
    if current:
        if docs and len(docs[-1]) + size <= DOC_HI:
            docs[-1] = docs[-1] + "\n\n" + "\n\n".join(current)
        elif size >= DOC_LO // 2:
            docs.append("\n\n".join(current))
    return docs


def make_templates(rng: np.random.Generator) -> list[Template]:
    names = [f"{a} {b}{c}" for a in _SITE_A for b in _SITE_B for c in _SITE_C]
    chosen = sorted(rng.choice(len(names), N_TEMPLATES, replace=False))
    templates: list[Template] = []
    for t, index in enumerate(chosen):
        site = names[int(index)]
        host = f"{slugify(site)}.example.com"
        values = {
            "site": site,
            "host": host,
            "year": 2008 + t % 12,
            "tagline": _TAGLINES[t % len(_TAGLINES)],
            "country": _COUNTRIES[t % len(_COUNTRIES)],
        }
        templates.append(
            Template(
                site,
                host,
                tuple(h.format(**values) for h in TEMPLATE_HEADERS),
                tuple(f.format(**values) for f in TEMPLATE_FOOTERS),
            )
        )
    return templates


def add_boilerplate(
    text: str, templates: Sequence[Template], weights: np.ndarray, rng: np.random.Generator
) -> tuple[str, int, int]:
    """Header lines (generic navigation + the site template's) and footer lines (the template's +
    generic cookie / footer lines). Returns (text, template, number of lines added)."""
    t = int(rng.choice(len(templates), p=weights))
    tpl = templates[t]
    nav = [NAV_LINES[int(i)] for i in sorted(rng.choice(len(NAV_LINES), int(rng.integers(0, 3)), replace=False))]
    head = nav + [tpl.header[int(i)] for i in sorted(rng.choice(len(tpl.header), int(rng.integers(1, 3)), False))]
    foot = [tpl.footer[int(i)] for i in sorted(rng.choice(len(tpl.footer), int(rng.integers(1, 4)), False))]
    generic = COOKIE_LINES + FOOTER_LINES
    foot += [generic[int(i)] for i in sorted(rng.choice(len(generic), int(rng.integers(0, 3)), replace=False))]
    return "\n".join(head) + "\n\n" + text + "\n\n" + "\n".join(foot), t, len(head) + len(foot)


def url_variant(url: str, rng: np.random.Generator) -> str:
    """The same page under another spelling: scheme, www., host case, default port, trailing slash, fragment."""
    parts = urlsplit(url)
    scheme, host, path = parts.scheme, parts.netloc, parts.path
    changed = False
    if rng.random() < 0.5:
        scheme, changed = ("http" if scheme == "https" else "https"), True
    if rng.random() < 0.5:
        host, changed = (host[4:] if host.startswith("www.") else "www." + host), True
    if rng.random() < 0.15:
        host, changed = host.upper(), True
    if rng.random() < 0.1:
        host, changed = host + (":443" if scheme == "https" else ":80"), True
    if rng.random() < 0.3 or not changed:
        path = path.rstrip("/") if path.endswith("/") and len(path) > 1 else path + "/"
    fragment = "comments" if rng.random() < 0.1 else ""
    return urlunsplit((scheme, host, path, parts.query, fragment))


def plant_copy(source: Doc, kind: str, rng: np.random.Generator) -> tuple[str, str]:
    """(text, kind) of a copy of ``source``; ``nfd`` falls back to ``trailing_ws`` for NFD-stable text."""
    text = source.text
    if kind == "nfd":
        nfd = unicodedata.normalize("NFD", text)
        if nfd != text:
            return nfd, kind
        kind = "trailing_ws"
    if kind == "crlf":
        return text.replace("\n", "\r\n"), kind
    if kind == "trailing_ws":
        lines = text.split("\n")
        touched = rng.random(len(lines)) < 0.3
        touched[int(rng.integers(len(lines)))] = True
        pads = (" ", "  ", "\t", " \t")
        out = [
            line + pads[int(rng.integers(len(pads)))] if hit else line for line, hit in zip(lines, touched, strict=True)
        ]
        return "\n".join(out) + "\n", kind
    return text, "exact"


def _first_of(keys: Sequence[object], ids: Sequence[str]) -> list[str]:
    """Per row, the id of the first row (in order) with the same key."""
    first: dict[object, str] = {}
    return [first.setdefault(k, i) for k, i in zip(keys, ids, strict=True)]


def build_corpus(out: Path, seed: int, n_docs: int, n_shards: int) -> dict[str, Any]:
    """Build ``out/shards/part-*.parquet``, ``out/truth.parquet`` and ``out/build.json``.

    1. Every one of the 330 Gutenberg files (header/footer stripped, LF) is cut into documents with a
       generator seeded by its content (``git_blob_sha1``), so the 117 redundant files give exact
       duplicate documents (``natural_dup``) of the first file with that content. The Common Crawl
       documents are added as they are (35 of them repeat another's text: ``natural_dup`` too).
    2. 40 % of the distinct contents get boilerplate (seeded by the content, so duplicates stay equal).
    3. 2 % re-crawls: a source's URL spelled differently, its text plus a "Last updated" line.
    4. Planted copies fill up to ``n_docs``: sources drawn at random get 1-4 copies, each byte-identical
       (75 %), with CRLF line breaks (10 %), trailing whitespace (10 %) or in NFD (5 %); half of the
       copies keep the source's URL in another spelling, half get a mirror URL.
    5. Rows are shuffled and written to ``n_shards`` shards; the truth records, per document, its kind,
       source, template, and the id kept in its place by a reference exact dedup (keep first in input
       order) on bytes, on ``basic_form`` and on ``url_key``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    docs: list[Doc] = []

    # 1. Gutenberg documents
    with (GUTENBERG / "MANIFEST.tsv").open(newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: r["local_path"])
    first_file: dict[str, str] = {}
    cut_cache: dict[str, list[str]] = {}
    for row in rows:
        blob, path = row["git_blob_sha1"], row["local_path"]
        if blob not in cut_cache:
            raw = (GUTENBERG / path).read_bytes().decode("utf-8", errors="replace")
            book_rng = np.random.default_rng([seed, _seed_of("book", blob)])
            cut_cache[blob] = book_documents(nc.strip_gutenberg(raw), book_rng)
        author, _, title = path.removesuffix(".txt").partition("/")
        host = BOOK_HOSTS[_seed_of(author) % len(BOOK_HOSTS)]
        www = "www." if _seed_of(path, "www") % 3 == 0 else ""
        scheme = "http" if _seed_of(path, "scheme") % 5 == 0 else "https"
        for k, text in enumerate(cut_cache[blob]):
            doc = Doc(
                id=doc_id(f"gutenberg/{path}#{k}"),
                text=text,
                url=f"{scheme}://{www}{host}/{slugify(author)}/{slugify(title)}/{k + 1}",
                origin=f"gutenberg/{path}#{k}",
            )
            if blob in first_file:
                doc.kind, doc.source_id = "natural_dup", doc_id(f"gutenberg/{first_file[blob]}#{k}")
            docs.append(doc)
        first_file.setdefault(blob, path)
    n_book_docs = len(docs)

    # 1b. Common Crawl documents
    cc_first: dict[str, str] = {}
    for path in sorted(DOLMA_CC.glob("CC-MAIN-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                text = record.get("text") or ""  # 27 are empty: kept, as a crawl would have them
                url = (record.get("metadata") or {}).get("url") or f"cc.example.org/{record['id']}"
                if "://" not in url:
                    url = ("http://" if _seed_of(url) % 4 == 0 else "https://") + url
                doc = Doc(id=doc_id(f"cc/{record['id']}"), text=text, url=url, origin=f"cc/{path.name}/{record['id']}")
                if text in cc_first:
                    doc.kind, doc.source_id = "natural_dup", cc_first[text]
                else:
                    cc_first[text] = doc.id
                docs.append(doc)
    n_cc_docs = len(docs) - n_book_docs

    # 2. boilerplate, decided per distinct content
    templates = make_templates(rng)
    weights = 1.0 / np.arange(1, N_TEMPLATES + 1) ** TEMPLATE_ZIPF
    weights /= weights.sum()
    decided: dict[str, tuple[str, int, int]] = {}
    for doc in docs:
        if doc.text not in decided:
            bp_rng = np.random.default_rng([seed, _seed_of("boilerplate", doc.text)])
            if bp_rng.random() < BOILERPLATE_SHARE:
                decided[doc.text] = add_boilerplate(doc.text, templates, weights, bp_rng)
            else:
                decided[doc.text] = (doc.text, -1, 0)
        doc.text, doc.template, doc.boilerplate_lines = decided[doc.text]
    del decided

    originals = [d for d in docs if d.kind == "original"]

    # 3. re-crawls: the same URL (another spelling), a changed text
    n_recrawl = round(n_docs * RECRAWL_SHARE)
    for i in sorted(rng.choice(len(originals), n_recrawl, replace=False)):
        src = originals[int(i)]
        day = int(rng.integers(1, 29))
        docs.append(
            Doc(
                id=doc_id(f"recrawl/{src.id}"),
                text=f"{src.text}\n\nLast updated: 2019-07-{day:02d}",
                url=url_variant(src.url, rng),
                origin=f"recrawl/{src.origin}",
                kind="recrawl",
                source_id=src.id,
                template=src.template,
                boilerplate_lines=src.boilerplate_lines,
            )
        )

    # 4. planted copies
    n_copies = n_docs - len(docs)
    if n_copies < 0:
        raise SystemExit(f"error: --docs {n_docs} is below the {len(docs)} documents the sources already give")
    copies: list[Doc] = []
    copy_no: dict[str, int] = defaultdict(int)
    while len(copies) < n_copies:
        src = originals[int(rng.integers(len(originals)))]
        for _ in range(min(int(rng.choice(4, p=COPY_MULTIPLICITY_P)) + 1, n_copies - len(copies))):
            j = copy_no[src.id]
            copy_no[src.id] += 1
            text, kind = plant_copy(src, str(rng.choice(COPY_KINDS, p=COPY_KIND_P)), rng)
            if rng.random() < 0.5:
                url = url_variant(src.url, rng)
            else:
                url = f"https://{MIRROR_HOSTS[int(rng.integers(len(MIRROR_HOSTS)))]}/{src.id}/{j + 1}"
            copies.append(
                Doc(
                    id=doc_id(f"copy/{src.id}/{j}"),
                    text=text,
                    url=url,
                    origin=f"copy/{src.origin}/{j}",
                    kind=f"copy_{kind}",
                    source_id=src.id,
                    template=src.template,
                    boilerplate_lines=src.boilerplate_lines,
                )
            )
    docs.extend(copies)
    if len({d.id for d in docs}) != len(docs):
        raise SystemExit("internal error: duplicate document ids")

    # 5. shuffle, reference truth, shards
    order = [docs[int(i)] for i in rng.permutation(len(docs))]
    ids = [d.id for d in order]
    first_none = _first_of([hashlib.blake2b(d.text.encode("utf-8"), digest_size=16).digest() for d in order], ids)
    first_basic = _first_of(
        [hashlib.blake2b(basic_form(d.text).encode("utf-8"), digest_size=16).digest() for d in order], ids
    )
    first_url = _first_of([url_key(d.url) for d in order], ids)

    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("part-*.parquet"):
        old.unlink()
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in DATA_SCHEMA_FIELDS])
    for k, chunk in enumerate(np.array_split(np.arange(len(order)), n_shards)):
        part = [order[int(i)] for i in chunk]
        table = pa.table(
            {"id": [d.id for d in part], "text": [d.text for d in part], "url": [d.url for d in part]}, schema=schema
        )
        pq.write_table(table, shard_dir / f"part-{k:05d}.parquet", compression="zstd")
    truth = pa.table(
        {
            "id": ids,
            "kind": [d.kind for d in order],
            "source_id": [d.source_id for d in order],
            "origin": [d.origin for d in order],
            "template": pa.array([d.template for d in order], pa.int32()),
            "boilerplate_lines": pa.array([d.boilerplate_lines for d in order], pa.int32()),
            "first_none": first_none,
            "first_basic": first_basic,
            "first_url": first_url,
        }
    )
    pq.write_table(truth, out / "truth.parquet", compression="zstd")

    kinds: dict[str, int] = defaultdict(int)
    for d in order:
        kinds[d.kind] += 1
    template_docs: dict[int, int] = defaultdict(int)
    for d in docs:
        if d.template >= 0 and d.kind in ("original", "natural_dup"):
            template_docs[d.template] += 1
    text_bytes = sum(len(d.text.encode("utf-8")) for d in order)
    info: dict[str, Any] = {
        "build_version": BUILD_VERSION,
        "seed": seed,
        "docs": len(order),
        "shards": n_shards,
        "text_bytes": text_bytes,
        "mean_doc_bytes": round(text_bytes / max(len(order), 1), 1),
        "gutenberg_files": len(rows),
        "gutenberg_documents": n_book_docs,
        "cc_documents": n_cc_docs,
        "kinds": dict(sorted(kinds.items())),
        "boilerplate_documents": sum(d.boilerplate_lines > 0 for d in order),
        "boilerplate_line_occurrences": sum(d.boilerplate_lines for d in order),
        "templates_used": len(template_docs),
        "templates_on_fewer_than_3_distinct_pages": sum(v < 3 for v in template_docs.values()),
        "expected_removed": {
            "none": sum(f != i for f, i in zip(first_none, ids, strict=True)),
            "basic": sum(f != i for f, i in zip(first_basic, ids, strict=True)),
            "url": sum(f != i for f, i in zip(first_url, ids, strict=True)),
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def ensure_corpus(data: Path, seed: int, n_docs: int, n_shards: int, rebuild: bool) -> dict[str, Any] | None:
    """The build info of the set in ``data`` (built if missing or stale); None for a foreign set
    (shards without our ``build.json``: run without truth)."""
    build = data / "build.json"
    wanted = {"build_version": BUILD_VERSION, "seed": seed, "docs": n_docs, "shards": n_shards}
    if build.exists() and not rebuild:
        info: dict[str, Any] = json.loads(build.read_text())
        if all(info.get(k) == v for k, v in wanted.items()) and len(shard_paths(data / "shards")) == n_shards:
            return info
    elif shard_paths(data / "shards") and not rebuild:
        return None
    for folder, what in ((GUTENBERG, "MANIFEST.tsv"), (DOLMA_CC, "CC-MAIN-*.jsonl.gz")):
        if not any(folder.glob(what)):
            sys.exit(f"error: {folder}/{what} is missing: the data set is built from {SHARED}")
    log(f"building the data set in {data} (seed {seed}, {n_docs} docs, {n_shards} shards; ~20 s, cached)")
    info = build_corpus(data, seed, n_docs, n_shards)
    log(f"built: {info['docs']:,} docs, {info['text_bytes'] / 1e6:.1f} MB text in {info['seconds']}s")
    return info


# --------------------------------------------------------------------------------------------------
# _measure: a fresh wrapper process per tool
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# The peers (hidden sub-commands; each prints one JSON line)
# --------------------------------------------------------------------------------------------------


def _peer_args(prog: str, argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--min-count", type=int, default=MIN_COUNT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def polars_exact_main(argv: Sequence[str]) -> None:
    """Read all shards, ``unique(subset=["text"], keep="first", maintain_order=True)``, write Parquet."""
    import polars as pl

    args = _peer_args("_polars_exact", argv)
    df = pl.read_parquet(shard_paths(args.data))
    kept = df.unique(subset=["text"], keep="first", maintain_order=True)
    kept.write_parquet(args.out / "kept.parquet")
    print(json.dumps({"rows_in": df.height, "rows_kept": kept.height, "rows_removed": df.height - kept.height}))


def set_exact_main(argv: Sequence[str]) -> None:
    """Iterate rows, xxh3_128 of the text's UTF-8 bytes, set membership; write the kept rows."""
    import pyarrow.parquet as pq
    import xxhash

    args = _peer_args("_set_exact", argv)
    seen: set[int] = set()
    writer: pq.ParquetWriter | None = None
    rows_in = kept = 0
    for path in shard_paths(args.data):
        table = pq.read_table(path)
        keep: list[int] = []
        for i, text in enumerate(table.column("text").to_pylist()):
            digest = xxhash.xxh3_128_intdigest(text.encode("utf-8")) if text is not None else -1
            if digest not in seen:
                seen.add(digest)
                keep.append(i)
        if writer is None:
            writer = pq.ParquetWriter(args.out / "kept.parquet", table.schema)
        writer.write_table(table.take(keep))
        rows_in += table.num_rows
        kept += len(keep)
    if writer is not None:
        writer.close()
    print(json.dumps({"rows_in": rows_in, "rows_kept": kept, "rows_removed": rows_in - kept}))


def polars_lines_main(argv: Sequence[str]) -> None:
    """Split texts on LF, explode, key = strip + NFC, count keys with group_by, drop lines seen
    >= min-count times, rebuild each text with the remaining lines joined by LF (a CRLF line keeps its CR)."""
    import polars as pl

    args = _peer_args("_polars_lines", argv)
    df = pl.read_parquet(shard_paths(args.data)).with_row_index("doc")
    lines = (
        df.select("doc", pl.col("text").str.split("\n").alias("line"))
        .explode("line")
        .with_columns(key=pl.col("line").str.strip_chars().str.normalize("NFC"))
    )
    counts = lines.filter(pl.col("key") != "").group_by("key").len()
    frequent = counts.filter(pl.col("len") >= args.min_count).select("key", drop=pl.lit(True))
    lines = lines.join(frequent, on="key", how="left", maintain_order="left").with_columns(
        pl.col("drop").fill_null(False)
    )
    rebuilt = lines.group_by("doc", maintain_order=True).agg(
        pl.col("line").filter(~pl.col("drop")).str.join("\n").alias("new_text"),
        pl.col("drop").sum().cast(pl.Int32).alias("lines_removed"),
    )
    out = df.join(rebuilt, on="doc", how="left", maintain_order="left").with_columns(
        pl.col("new_text").fill_null(pl.col("text")), pl.col("lines_removed").fill_null(0)
    )
    short = (pl.col("lines_removed") > 0) & ~pl.col("new_text").str.contains(r"\S")
    kept = out.filter(~short).select("id", pl.col("new_text").alias("text"), "url", "lines_removed")
    rejected = out.filter(short).select("id", "lines_removed")
    kept.write_parquet(args.out / "kept.parquet")
    rejected.write_parquet(args.out / "rejected.parquet")
    info = {
        "rows_in": df.height,
        "rows_kept": kept.height,
        "rows_removed": rejected.height,
        "lines": int(counts.get_column("len").sum()),
        "distinct_lines": counts.height,
        "frequent_lines": frequent.height,
        "lines_removed": int(out.get_column("lines_removed").sum()),
    }
    print(json.dumps(info))


def _without_frequent(text: str, counts: dict[str, int], min_count: int) -> tuple[str, int]:
    parts = _BREAK_KEEP_RE.split(text)  # line, break, line, break, ..., last line
    out: list[str] = []
    removed = 0
    for i in range(0, len(parts), 2):
        key = line_key(parts[i])
        if key and counts[key] >= min_count:
            removed += 1
            continue
        out.append(parts[i])
        if i + 1 < len(parts):
            out.append(parts[i + 1])
    return "".join(out), removed


def counter_lines_main(argv: Sequence[str]) -> None:
    """Two passes over the shards: a ``collections.Counter`` of line keys (strip + NFC; lines split on
    LF, CRLF or CR), then every line seen >= min-count times removed with its line break."""
    from collections import Counter

    import pyarrow as pa
    import pyarrow.parquet as pq

    args = _peer_args("_counter_lines", argv)
    paths = shard_paths(args.data)
    counts: Counter[str] = Counter()
    for path in paths:
        for text in pq.read_table(path, columns=["text"]).column("text").to_pylist():
            counts.update(k for k in map(line_key, _BREAK_RE.split(text or "")) if k)
    kept_writer: pq.ParquetWriter | None = None
    rejected: list[tuple[str, int]] = []
    rows_in = kept = lines_removed = 0
    for path in paths:
        table = pq.read_table(path)
        new_texts: list[str | None] = []
        removed_counts: list[int] = []
        keep: list[int] = []
        for i, (doc, text) in enumerate(
            zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True)
        ):
            new, removed = _without_frequent(text, counts, args.min_count) if text is not None else (None, 0)
            lines_removed += removed
            if removed and not (new or "").split():
                rejected.append((doc, removed))
                continue
            keep.append(i)
            new_texts.append(new)
            removed_counts.append(removed)
        out = table.take(keep)
        out = out.set_column(out.schema.get_field_index("text"), "text", pa.array(new_texts, pa.large_string()))
        out = out.append_column("lines_removed", pa.array(removed_counts, pa.int32()))
        if kept_writer is None:
            kept_writer = pq.ParquetWriter(args.out / "kept.parquet", out.schema)
        kept_writer.write_table(out)
        rows_in += table.num_rows
        kept += len(keep)
    if kept_writer is not None:
        kept_writer.close()
    pq.write_table(
        pa.table({"id": [d for d, _ in rejected], "lines_removed": pa.array([n for _, n in rejected], pa.int32())}),
        args.out / "rejected.parquet",
    )
    info = {
        "rows_in": rows_in,
        "rows_kept": kept,
        "rows_removed": rows_in - kept,
        "lines": sum(counts.values()),
        "distinct_lines": len(counts),
        "frequent_lines": sum(1 for v in counts.values() if v >= args.min_count),
        "lines_removed": lines_removed,
    }
    print(json.dumps(info))


PEERS = {
    "_measure": functools.partial(measure_main, interval=0.05),
    "_polars_exact": polars_exact_main,
    "_set_exact": set_exact_main,
    "_polars_lines": polars_lines_main,
    "_counter_lines": counter_lines_main,
}


# --------------------------------------------------------------------------------------------------
# Running the tools
# --------------------------------------------------------------------------------------------------


@dataclass
class ToolRun:
    name: str
    cmd: list[str]
    target: Path
    ok: bool = False
    note: str = ""
    wall_s: float = math.nan
    cpu_s: float = math.nan
    max_rss_mib: float = math.nan
    tree_pss_mib: float = math.nan
    other_cores: float = math.nan
    info: dict[str, Any] = field(default_factory=dict)
    notice: str = ""  # curate's stderr notices
    counters: dict[str, Any] = field(default_factory=dict)  # curate's manifest counters


def curate_cmd() -> list[str]:
    """The ``curate`` script of this interpreter (not a pyenv shim), else the one on PATH, else ``-m curate``."""
    beside = Path(sys.executable).parent / "curate"
    exe = str(beside) if beside.exists() else shutil.which("curate")
    return [exe] if exe else [sys.executable, "-m", "curate"]


CURATE_ARGS = {
    "curate-exact": ["exact"],
    "curate-exact-none": ["exact", "--normalize", "none"],
    "curate-url": ["exact", "--on", "url"],
    "curate-lines": ["lines", "--min-count", str(MIN_COUNT)],
    "curate-lines-approx": ["lines", "--min-count", str(MIN_COUNT), "--approx"],
}
PEER_COMMANDS = {
    "polars-exact": "_polars_exact",
    "set-exact": "_set_exact",
    "polars-lines": "_polars_lines",
    "counter-lines": "_counter_lines",
}


def tool_command(name: str, shards: Path, target: Path) -> list[str]:
    if name in BASELINES:
        return [sys.executable, "-c", BASELINES[name]]
    if name in CURATE_ARGS:
        command, *options = CURATE_ARGS[name]
        return [*curate_cmd(), "dedup", command, str(shards), str(target), *options, "--json", "--workers", str(CORES)]
    peer = [sys.executable, str(Path(__file__).resolve()), PEER_COMMANDS[name], "--data", str(shards)]
    return [*peer, "--out", str(target), "--min-count", str(MIN_COUNT)]


def run_tool(name: str, shards: Path, out: Path, timeout: float, rep: int = 0) -> ToolRun:
    """Run one tool into ``out/NAME`` (round 1) or ``out/NAME.runN`` (later rounds)."""
    stem = name if rep == 0 else f"{name}.run{rep + 1}"
    target = out / stem
    if target.exists():
        shutil.rmtree(target)
    run = ToolRun(name, tool_command(name, shards, target), target)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    res, stdout, stderr = logs / f"{stem}.measure.json", logs / f"{stem}.stdout", logs / f"{stem}.stderr"
    wrapper = [sys.executable, str(Path(__file__).resolve()), "_measure", str(res), str(stdout), str(stderr)]
    subprocess.run([*wrapper, str(timeout), "--", *run.cmd], check=False)
    try:
        stats = json.loads(res.read_text())
    except (OSError, json.JSONDecodeError):
        stats = {"rc": -1, "error": "wrapper wrote no result"}
    run.wall_s = float(stats.get("wall_s", math.nan))
    run.cpu_s = float(stats.get("cpu_s", math.nan))
    run.max_rss_mib = float(stats.get("max_rss_mib", math.nan))
    run.tree_pss_mib = float(stats.get("tree_pss_mib", math.nan))
    run.other_cores = float(stats.get("other_cores", math.nan))
    run.info = last_json(stdout.read_text(errors="replace")) if stdout.exists() else {}
    if stats.get("rc") != 0:
        why = "timed out" if stats.get("timed_out") else f"exit {stats.get('rc')}: {tail(stderr)}"
        run.note = f"FAILED ({why}); command: {' '.join(run.cmd)}"
        return run
    if name.startswith("curate"):
        run.notice = " ".join(
            ln.strip() for ln in stderr.read_text(errors="replace").splitlines() if ln.startswith("curate:")
        )
        manifest = manifest_path(target)
        if not manifest.exists() or not list(target.glob("part-*.parquet")):
            run.note = "exit 0 but no OUT.curate/manifest.json or OUT/part-*.parquet"
            return run
        run.counters = json.loads(manifest.read_text()).get("counters", {})
    run.ok = True
    return run


# --------------------------------------------------------------------------------------------------
# Reading outputs and checking them
# --------------------------------------------------------------------------------------------------


def _concat(files: list[Path], columns: list[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f, columns=columns) for f in files]
    if not tables:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.concat_tables(tables, promote_options="permissive")


def kept_files(run: ToolRun) -> list[Path]:
    if run.name.startswith("curate"):
        return sorted(run.target.glob("part-*.parquet"))
    return [run.target / "kept.parquet"]


def rejected_files(run: ToolRun) -> list[Path]:
    if run.name.startswith("curate"):
        return sorted(rejects_dir(run.target).glob("part-*.parquet"))
    path = run.target / "rejected.parquet"
    return [path] if path.exists() else []


@dataclass
class ExactCheck:
    removed: int
    expected: int | None  # removed by the reference for this tool's mode (None without truth)
    diff_truth: int | None  # ids kept by one and not the other, vs the reference
    kept: set[str]


def check_exact(run: ToolRun, truth: pa.Table | None, n_docs: int) -> ExactCheck:
    kept = set(_concat(kept_files(run), ["id"]).column("id").to_pylist())
    removed = n_docs - len(kept)
    if truth is None:
        return ExactCheck(removed, None, None, kept)
    ids = truth.column("id").to_pylist()
    first = truth.column(f"first_{EXACT_MODE[run.name]}").to_pylist()
    expected_kept = {i for i, f in zip(ids, first, strict=True) if i == f}
    return ExactCheck(removed, n_docs - len(expected_kept), len(kept ^ expected_kept), kept)


@dataclass
class LinesResult:
    kept: pa.Table  # id, text, lines_removed
    rejected: dict[str, int]  # id -> lines removed


def load_lines(run: ToolRun) -> LinesResult:
    kept = _concat(kept_files(run), ["id", "text", "lines_removed"])
    rej = _concat(rejected_files(run), ["id", "lines_removed"]) if rejected_files(run) else None
    rejected = {} if rej is None else dict(zip(rej["id"].to_pylist(), rej["lines_removed"].to_pylist(), strict=True))
    return LinesResult(kept, rejected)


@dataclass
class LinesCheck:
    docs_removed: int
    lines_removed: int
    distinct: int | None
    frequent: int | None
    differs: str  # agreement with the reference, in words


def compare_lines(result: LinesResult, ref: LinesResult | None) -> str:
    """Same rejected documents, same lines removed per document, same kept texts (bytes, then modulo
    line endings / trailing whitespace) as the reference."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if ref is None:
        return "-"
    bad: list[str] = []
    if set(result.rejected) != set(ref.rejected):
        bad.append(f"{len(set(result.rejected) ^ set(ref.rejected))} rejected ids differ")
    ref_ids = ref.kept.column("id").to_pylist()
    where = {doc: i for i, doc in enumerate(ref_ids)}
    ids = result.kept.column("id").to_pylist()
    common = [i for i, doc in enumerate(ids) if doc in where]
    if len(common) != len(ids) or len(ids) != len(ref_ids):
        bad.append(f"{len(set(ids) ^ set(ref_ids))} kept ids differ")
    mine = result.kept.take(pa.array(common, pa.int64()))
    theirs = ref.kept.take(pa.array([where[ids[i]] for i in common], pa.int64()))
    counts_equal = pc.equal(
        mine.column("lines_removed").cast(pa.int64()), theirs.column("lines_removed").cast(pa.int64())
    )
    n_counts = len(common) - pc.sum(counts_equal.cast(pa.int64())).as_py() if common else 0
    if n_counts:
        bad.append(f"{n_counts} docs with another lines_removed")
    same_bytes = pc.equal(mine.column("text").cast(pa.large_string()), theirs.column("text").cast(pa.large_string()))
    differ = [i for i, same in enumerate(same_bytes.to_pylist()) if not same]
    if differ:
        a, b = mine.column("text"), theirs.column("text")
        loose = sum(basic_form(a[i].as_py() or "") != basic_form(b[i].as_py() or "") for i in differ)
        bad.append(f"{len(differ)} texts differ in bytes ({loose} beyond line endings / trailing whitespace)")
    return "same" if not bad else "; ".join(bad)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _fmt(value: float | int | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _speed_cells(run: ToolRun, n_docs: int, mb: float) -> list[str]:
    return [
        _fmt(run.wall_s, ".2f"),
        _fmt(run.cpu_s, ".2f"),
        _fmt(n_docs / run.wall_s, ",.0f"),
        _fmt(mb / run.wall_s / CORES, ".2f"),
        _fmt(run.max_rss_mib, ",.0f"),
        _fmt(run.tree_pss_mib, ",.0f"),
    ]


SPEED_HEADER = ["wall s", "cpu s", "docs/s", "MB/s/core", "maxRSS MiB", "treePSS MiB"]


def report(
    runs: dict[str, ToolRun],
    exact_checks: dict[str, ExactCheck],
    lines_checks: dict[str, LinesCheck],
    n_docs: int,
    text_bytes: int,
    extra: dict[str, str],
) -> str:
    mb = text_bytes / 1e6
    out: list[str] = [f"exact dedup ({n_docs:,} docs, {mb:.1f} MB text)", ""]
    rows: list[list[str]] = []
    for name in EXACT_TOOLS:
        run = runs.get(name)
        if run is None or not run.ok or name not in exact_checks:
            continue
        ec = exact_checks[name]
        truth = "-" if ec.diff_truth is None else ("same" if ec.diff_truth == 0 else f"{ec.diff_truth} ids differ")
        rows.append(
            [name, EXACT_MODE[name], *_speed_cells(run, n_docs, mb), f"{ec.removed:,}", _fmt(ec.expected, ","), truth]
        )
    out += _table(["tool", "equal on", *SPEED_HEADER, "removed", "expected", "kept ids vs truth"], rows)
    out += ["", f"line dedup, --min-count {MIN_COUNT}", ""]
    rows = []
    ref_distinct = next(
        (lines_checks[n].distinct for n in ("counter-lines", "curate-lines", "polars-lines") if n in lines_checks),
        None,
    )
    for name in LINES_TOOLS:
        run = runs.get(name)
        if run is None or not run.ok or name not in lines_checks:
            continue
        c = lines_checks[name]
        base = runs.get(BASELINE_OF[name])
        per_line = math.nan
        if base is not None and base.ok and ref_distinct:
            per_line = (run.max_rss_mib - base.max_rss_mib) * 2**20 / ref_distinct
        rows.append(
            [
                name,
                *_speed_cells(run, n_docs, mb),
                f"{c.docs_removed:,}",
                f"{c.lines_removed:,}",
                _fmt(c.distinct, ","),
                _fmt(c.frequent, ","),
                _fmt(per_line, ",.0f"),
                c.differs,
            ]
        )
    out += _table(
        [
            "tool",
            *SPEED_HEADER,
            "docs removed",
            "lines removed",
            "distinct lines",
            "frequent",
            "B/distinct line",
            "vs counter-lines",
        ],
        rows,
    )
    out.append("")
    for k, v in extra.items():
        out.append(f"{k}: {v}")
    busy = ", ".join(f"{r.name} {r.other_cores:.2f}" for r in runs.values() if not math.isnan(r.other_cores))
    out.append(f"CPU used by other processes during each run, in cores (of {CORES}; near 0 = quiet machine): {busy}")
    for run in runs.values():
        if run.note:
            out.append(f"note {run.name}: {run.note}")
    for curates, peers in RATIO_PAIRS:
        for cur_name in curates:
            cur = runs.get(cur_name)
            if cur is None or not cur.ok:
                out.append(f"ratios: {cur_name} not available, no ratios")
                continue
            for peer_name in peers:
                peer = runs.get(peer_name)
                if peer is None or not peer.ok:
                    continue
                out.append(
                    f"{cur_name} vs {peer_name}: {peer.wall_s / cur.wall_s:.2f}x speed (wall), "
                    f"{peer.cpu_s / cur.cpu_s:.2f}x less CPU, memory {cur.max_rss_mib / peer.max_rss_mib:.2f}x "
                    f"(max RSS) / {cur.tree_pss_mib / peer.tree_pss_mib:.2f}x (tree PSS) of {peer_name}'s"
                )
    return "\n".join(out)


LEGEND = """\
columns: wall s = wall-clock seconds of the tool's process (interpreter start, reading and writing
  included); cpu s = user+sys CPU seconds of its process tree; docs/s = documents / wall;
  MB/s/core = text MB (UTF-8) / wall / 2 cores; maxRSS = peak RSS of the largest single process;
  treePSS = peak of the summed PSS of all its processes (sampled every 50 ms).
  exact: equal on = what must be identical (none: the text's bytes; basic: after NFC, CRLF -> LF and
  trailing whitespace removed; url: the normalised URL); expected = documents a reference (Python dict,
  keep first in input order) removes in that mode; kept ids vs truth = the tool's kept ids against the
  reference's.
  lines: docs removed = documents left without words (rejected); frequent = distinct lines seen >= min-count
  times (curate --approx: not known); B/distinct line = (maxRSS - maxRSS of an idle interpreter with the
  tool's imports) / distinct lines in the data (the same denominator for every row); vs counter-lines = same
  rejected ids, same lines removed per document, same kept texts (bytes; the count in parentheses differs
  beyond line endings / trailing whitespace)."""


def check_all(
    runs: dict[str, ToolRun], truth: pa.Table | None, n_docs: int, baselines: list[str]
) -> tuple[dict[str, ExactCheck], dict[str, LinesCheck], dict[str, str]]:
    """Check every tool's output against the truth (exact) and the reference run (lines)."""
    exact_checks = {
        name: check_exact(runs[name], truth, n_docs) for name in EXACT_TOOLS if name in runs and runs[name].ok
    }
    extra: dict[str, str] = {}
    for a, b in (
        ("curate-exact-none", "polars-exact"),
        ("curate-exact-none", "set-exact"),
        ("polars-exact", "set-exact"),
    ):
        if a in exact_checks and b in exact_checks:
            diff = len(exact_checks[a].kept ^ exact_checks[b].kept)
            extra[f"kept ids {a} vs {b}"] = "same" if diff == 0 else f"{diff} ids differ"
    for name, check in exact_checks.items():
        if runs[name].info.get("rows_removed") != check.removed:
            held = n_docs - check.removed
            runs[name].note += f" JSON rows_removed={runs[name].info.get('rows_removed')} but OUT holds {held} rows"

    lines_checks: dict[str, LinesCheck] = {}
    ref_name = next((n for n in ("counter-lines", "curate-lines") if n in runs and runs[n].ok), None)
    ref = load_lines(runs[ref_name]) if ref_name is not None else None
    for name in LINES_TOOLS:
        if name not in runs or not runs[name].ok:
            continue
        run = runs[name]
        result = ref if name == ref_name else load_lines(run)
        assert result is not None
        differs = "(reference)" if name == ref_name else compare_lines(result, ref)
        if name.startswith("curate"):
            lines_removed = int(run.counters.get("lines_removed", run.info.get("lines_removed", -1)))
            distinct, frequent = run.counters.get("distinct_segments"), run.counters.get("frequent_segments")
        else:
            lines_removed = int(run.info.get("lines_removed", -1))
            distinct, frequent = run.info.get("distinct_lines"), run.info.get("frequent_lines")
        lines_checks[name] = LinesCheck(len(result.rejected), lines_removed, distinct, frequent, differs)
        if run.info.get("rows_removed") != len(result.rejected):
            run.note += f" JSON rows_removed={run.info.get('rows_removed')} but {len(result.rejected)} rejected rows"
        del result
    approx = runs.get("curate-lines-approx")
    if approx is not None and approx.ok:
        sk = approx.counters.get("sketch", {})
        extra["curate-lines-approx sketch (stderr)"] = approx.notice or "-"
        extra["curate-lines-approx sketch (manifest counters.sketch)"] = json.dumps(sk)
        if "curate-lines" in lines_checks and "curate-lines-approx" in lines_checks:
            exact, approximate = lines_checks["curate-lines"], lines_checks["curate-lines-approx"]
            extra["curate-lines-approx vs exact counts"] = (
                f"{approximate.lines_removed - exact.lines_removed:+,} lines removed, "
                f"{approximate.docs_removed - exact.docs_removed:+,} docs removed"
            )
    for name in baselines:
        if runs[name].ok:
            extra[f'baseline {name} (`python -c "{BASELINES[name]}"`)'] = f"maxRSS {runs[name].max_rss_mib:.0f} MiB"
    segments = next((runs[n].counters.get("segments") for n in LINES_TOOLS if n in runs and runs[n].counters), None)
    if segments is not None:
        extra["non-blank lines in the data (curate counters.segments)"] = f"{segments:,}"
    distinct = next((c.distinct for c in lines_checks.values() if c.distinct), None)
    libs = runs.get("idle-curate-libs")
    if libs is not None and libs.ok and distinct:
        extra["B/distinct line of curate with idle-curate-libs as the baseline"] = ", ".join(
            f"{n} {(runs[n].max_rss_mib - libs.max_rss_mib) * 2**20 / distinct:,.0f}"
            for n in ("curate-lines", "curate-lines-approx")
            if n in runs and runs[n].ok
        )
    return exact_checks, lines_checks, extra


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in PEERS:
        PEERS[sys.argv[1]](sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data set folder (built there if missing)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="tool outputs, logs, results.md / results.json")
    ap.add_argument("--repeat", type=int, default=1, help="run each tool N times, report its fastest run")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--timeout", type=float, default=600.0, help="per-tool time limit, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the data set even if cached")
    args = ap.parse_args()
    if args.repeat < 1:
        sys.exit("error: --repeat must be >= 1")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        sys.exit(f"error: unknown tools {sorted(unknown)}; choose from {','.join(TOOLS)}")

    import pyarrow.parquet as pq

    t_start = time.perf_counter()
    build = ensure_corpus(args.data, args.seed, args.docs, args.shards, args.rebuild)
    shards = args.data / "shards"
    if not shard_paths(shards):
        sys.exit(f"error: no shards in {shards}")
    truth = pq.read_table(args.data / "truth.parquet") if build is not None else None
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in shard_paths(shards))
    text_bytes = int(build["text_bytes"]) if build is not None else _text_bytes(shard_paths(shards))
    args.out.mkdir(parents=True, exist_ok=True)

    baselines = sorted({BASELINE_OF[t] for t in tools if t in BASELINE_OF})
    if any(t.startswith("curate-lines") for t in tools):
        baselines.append("idle-curate-libs")  # curate.cli imports lazily; its workers load these
    runs: dict[str, ToolRun] = {}
    walls: dict[str, list[float]] = defaultdict(list)
    for rep in range(args.repeat):
        for name in [*baselines, *tools]:
            if rep > 0 and not runs[name].ok:
                continue
            log(f"{name} (run {rep + 1}/{args.repeat})")
            run = run_tool(name, shards, args.out, args.timeout, rep)
            log(f"{name}: {'ok' if run.ok else 'FAILED'} {run.wall_s:.2f}s {run.note}")
            walls[name].append(run.wall_s)
            if rep == 0:
                runs[name] = run
            elif run.ok and run.wall_s < runs[name].wall_s:  # keep the fastest (least disturbed) run
                shutil.rmtree(runs[name].target, ignore_errors=True)
                if run.target.exists():  # baselines write nothing
                    run.target = run.target.rename(args.out / name)
                runs[name] = run
            else:
                if not run.ok:
                    runs[name].note += f" (run {rep + 1} failed: {run.note})"
                shutil.rmtree(run.target, ignore_errors=True)

    log("checking outputs")
    exact_checks, lines_checks, extra = check_all(runs, truth, n_docs, baselines)
    if build is not None:
        kinds = ", ".join(f"{k} {v:,}" for k, v in build["kinds"].items())
        extra["data"] = (
            f"{build['docs']:,} docs ({build['gutenberg_documents']:,} from "
            f"{build['gutenberg_files']} Gutenberg files, "
            f"{build['cc_documents']} Common Crawl); {kinds}; boilerplate on {build['boilerplate_documents']:,} docs "
            f"({build['boilerplate_line_occurrences']:,} lines, {build['templates_used']} site templates, "
            f"{build['templates_on_fewer_than_3_distinct_pages']} on < 3 distinct pages)"
        )
    extra["bench wall time"] = f"{time.perf_counter() - t_start:.0f}s"
    extra["wall seconds of every run (the fastest is reported)"] = ", ".join(
        f"{t} " + "/".join(f"{w:.2f}" for w in ws) for t, ws in walls.items()
    )
    table = report(runs, exact_checks, lines_checks, n_docs, text_bytes, extra)
    print(table)
    print(LEGEND)
    (args.out / "results.md").write_text(table + "\n\n" + LEGEND + "\n")
    summary = {
        name: {
            "ok": run.ok,
            "note": run.note,
            "command": run.cmd,
            "wall_s": run.wall_s,
            "cpu_s": run.cpu_s,
            "max_rss_mib": run.max_rss_mib,
            "tree_pss_mib": run.tree_pss_mib,
            "other_cores": run.other_cores,
            "info": run.info,
            "counters": run.counters,
            "notice": run.notice,
        }
        for name, run in runs.items()
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def _text_bytes(paths: list[Path]) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        total += int(pc.sum(pc.binary_length(pq.read_table(path, columns=["text"]).column("text"))).as_py() or 0)
    return total


if __name__ == "__main__":
    main()
