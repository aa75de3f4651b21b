"""Build the bundled sample dataset ``examples/sample/`` from public-domain Project Gutenberg books.

    python examples/build_sample.py [--out examples/sample] [--seed 0]

About 3,000 web-page-sized documents (1-3 KB) in 4 zstd Parquet shards (``part-00000.parquet`` ..
``part-00003.parquet``; columns ``id``, ``text``, ``url``) with, by construction:

* natural near-duplicates: the same passage taken from two different files of the same translation
  (e.g. Jowett's Republic filed under Plato and under Jowett, the Longfellow Divine Comedy complete and
  its Hell volume), cut independently at paragraph boundaries;
* planted near-duplicates (~15 % of the documents) made by ``bench/neardup_corpus.py``: word edits,
  truncation, added navigation / cookie / "Share this" lines, formatting-only changes and combinations;
* a few exact duplicates, a few empty documents and a few very short ones.

Every other document comes from books that share no passage with any other book of the collection,
so that the only duplicates are the ones listed above. The Project Gutenberg licence header and footer
are removed from every text. The same seed produces the same bytes (given the same pyarrow version).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import neardup_corpus as nc  # noqa: E402

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string())])
SIZES = nc.SizeModel(median=1700.0, sigma=0.35, lo=1000, hi=3000)

# Pairs of distinct files holding the same translation (found by shared paragraphs in the collection).
NATURAL_PAIRS = [
    ("Plato/The_Republic.txt", "Jowett_Benjamin/The_Republic.txt"),
    (
        "Dante_Alighieri/Divine_Comedy_Longfellow_s_Translation_Complete.txt",
        "Dante_Alighieri/Divine_Comedy_Longfellow_s_Translation_Hell.txt",
    ),
    (
        "Dante_Alighieri/Divine_Comedy_Cary_s_Translation_Purgatory.txt",
        "Dante_Alighieri/The_Divine_Comedy_by_Dante_Illustrated_Purgatory_Complete.txt",
    ),
    (
        "Cervantes_Saavedra_Miguel_de/Don_Quixote.txt",
        "Cervantes_Saavedra_Miguel_de/The_History_of_Don_Quixote_Volume_1_Complete.txt",
    ),
    ("Tolstoy_Leo_graf/Redemption_and_two_other_plays.txt", "Maude_Aylmer/Fruits_of_Culture.txt"),
    (
        "Chekhov_Anton_Pavlovich/Best_Russian_Short_Stories.txt",
        "Chekhov_Anton_Pavlovich/The_Lock_and_Key_Library_The_Most_Interesting_Stories_of_All_Nations_"
        "North_Europe_Russian_Swedish_Da.txt",
    ),
    ("Garnett_Constance/The_Torrents_of_Spring.txt", "Tolstoy_Leo_graf/Stories_by_Foreign_Authors_Russian.txt"),
]
NATURAL_PER_PAIR = 12
N_EXACT = 12
EMPTY_TEXTS = ["", " ", "\n\n", "\t \n"]
SHORT_TEXTS = [
    "Home",
    "Page not found",
    "Page not found",
    "Loading...",
    "Click here to continue reading.",
    "Subscribe to our newsletter",
    "THE END",
    "CHAPTER I",
    "404 Not Found",
    "Read more \u2192",
    "Share this: Facebook | Twitter | Email",
    "Comments are closed.",
    "Thank you for reading!",
    "Previous | Next",
]
KEY_WORDS = 10


@dataclass
class Doc:
    id: str
    text: str
    url: str


def _key(paragraph: str) -> str | None:
    words = nc.normalize(paragraph).split()
    return " ".join(words[:KEY_WORDS]) if len(words) >= KEY_WORDS else None


def books_sharing_passages(paragraphs: dict[str, list[str]], min_shared: int = 5) -> set[str]:
    """Books that share at least ``min_shared`` paragraph openings with some other book."""
    owners: dict[str, set[str]] = defaultdict(set)
    for key, paras in paragraphs.items():
        for p in paras:
            k = _key(p)
            if k is not None:
                owners[k].add(key)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for books in owners.values():
        if 1 < len(books) <= 4:
            ordered = sorted(books)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    shared[(a, b)] += 1
    out: set[str] = set()
    for (a, b), n in shared.items():
        if n >= min_shared:
            out.update((a, b))
    return out


def natural_pairs(
    paragraphs: dict[str, list[str]], rng: np.random.Generator
) -> tuple[list[tuple[Doc, Doc, float]], int]:
    """Passages found in both files of each NATURAL_PAIRS entry, cut independently in each file."""
    found: list[tuple[Doc, Doc, float]] = []
    tried = 0
    for book_a, book_b in NATURAL_PAIRS:
        pa_, pb = paragraphs[book_a], paragraphs[book_b]
        where_b: dict[str, int] = {}
        for i, p in enumerate(pb):
            k = _key(p)
            if k is not None:
                where_b.setdefault(k, i)
        matches: list[tuple[int, int, int]] = []
        for start, end in nc.cut_spans([len(p) for p in pa_], rng, SIZES):
            k = _key(pa_[start])
            if k is not None and k in where_b:
                matches.append((start, end, where_b[k]))
        picked = sorted(rng.permutation(len(matches))[: NATURAL_PER_PAIR * 2].tolist())
        n_pair = 0
        for m in picked:
            if n_pair >= NATURAL_PER_PAIR:
                break
            tried += 1
            start, end, jb = matches[m]
            text_a = "\n\n".join(pa_[start:end])
            # Cut the other file independently: from the same opening, to a length drawn afresh.
            target = SIZES.draw(rng)
            stop = jb
            length = 0
            while stop < len(pb) and length < target and length + len(pb[stop]) <= SIZES.hi:
                length += len(pb[stop]) + 2
                stop += 1
            if stop == jb:
                continue
            text_b = "\n\n".join(pb[jb:stop])
            j = nc.jaccard(nc.shingles(text_a), nc.shingles(text_b))
            if j < 0.3:  # the two files diverge here (different notes, illustrations): not a pair
                continue
            n_pair += 1
            doc_a = Doc(
                nc.doc_id(f"sample:{book_a}#{start}"),
                text_a,
                f"https://library.example.org/{nc.slugify(book_a.removesuffix('.txt'))}/p{start}",
            )
            doc_b = Doc(
                nc.doc_id(f"sample:{book_b}#{jb}"),
                text_b,
                f"https://archive.example.net/{nc.slugify(book_b.removesuffix('.txt'))}/p{jb}",
            )
            found.append((doc_a, doc_b, j))
    return found, tried


def build(gutenberg: Path, out: Path, n_docs: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    books = nc.load_books(gutenberg, distinct=True)
    paragraphs = {b.key: nc.split_paragraphs(b.text, max_chars=SIZES.hi) for b in books}
    for a, b in NATURAL_PAIRS:
        if a not in paragraphs or b not in paragraphs:
            raise SystemExit(f"error: {a} or {b} is missing from {gutenberg}/MANIFEST.tsv")

    pairs, tried = natural_pairs(paragraphs, rng)
    natural_docs = [d for a, b, _ in pairs for d in (a, b)]

    # Originals: only from books that share no passage with another book of the collection.
    family = books_sharing_passages(paragraphs)
    pool: list[Doc] = []
    for book in books:
        if book.key in family:
            continue
        paras = paragraphs[book.key]
        base = f"https://library.example.org/{nc.slugify(book.author)}/{nc.slugify(book.title)}"
        for start, end in nc.cut_spans([len(p) for p in paras], rng, SIZES):
            pool.append(Doc(nc.doc_id(f"sample:{book.key}#{start}"), "\n\n".join(paras[start:end]), f"{base}/p{start}"))

    n_copies = round(0.15 * n_docs)
    n_special = N_EXACT + len(EMPTY_TEXTS) + len(SHORT_TEXTS)
    n_originals = n_docs - n_copies - n_special - len(natural_docs)
    if n_originals > len(pool):
        # Drawing originals twice would add duplicates the ground truth does not list.
        most = n_docs
        while most - round(0.15 * most) - n_special - len(natural_docs) > len(pool):
            most -= 1
        raise SystemExit(
            f"error: --docs {n_docs} needs {n_originals} distinct passages, but {gutenberg} gives {len(pool)}; "
            f"use --docs {most} or fewer (or a larger Gutenberg collection with --gutenberg)"
        )
    chosen = np.sort(rng.choice(len(pool), n_originals, replace=False))
    originals = [pool[int(i)] for i in chosen]

    vocab = nc.vocabulary(d.text for d in originals)
    copies = nc.plant_copies([(d.id, d.text) for d in originals], n_copies, rng, vocab)

    exact: list[Doc] = []
    for i in sorted(rng.choice(len(originals), N_EXACT, replace=False).tolist()):
        src = originals[i]
        exact.append(Doc(nc.doc_id(f"sample:exact:{src.id}"), src.text, f"https://mirror.example.info/{src.id}"))
    special = [
        Doc(nc.doc_id(f"sample:empty:{i}"), text, f"https://pages.example.net/blank/{i}")
        for i, text in enumerate(EMPTY_TEXTS)
    ]
    special += [
        Doc(nc.doc_id(f"sample:short:{i}"), text, f"https://pages.example.net/short/{i}")
        for i, text in enumerate(SHORT_TEXTS)
    ]

    docs = originals + natural_docs + [Doc(c.copy_id, c.text, c.url) for c in copies] + exact + special
    if len({d.id for d in docs}) != len(docs):
        raise SystemExit("internal error: duplicate ids in the sample")
    order = rng.permutation(len(docs))

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    for k, chunk in enumerate(np.array_split(order, 4)):
        rows = [docs[int(i)] for i in chunk]
        table = pa.table(
            {"id": [d.id for d in rows], "text": [d.text for d in rows], "url": [d.url for d in rows]},
            schema=SCHEMA,
        )
        pq.write_table(table, out / f"part-{k:05d}.parquet", compression="zstd", compression_level=9)

    sims = [j for _, _, j in pairs]
    return {
        "documents": len(docs),
        "originals": len(originals),
        "natural_pairs": len(pairs),
        "natural_pair_jaccard_min_median_max": [
            round(min(sims), 3),
            round(float(np.median(sims)), 3),
            round(max(sims), 3),
        ]
        if sims
        else [],
        "natural_candidates_tried": tried,
        "planted_copies": len(copies),
        "planted_sources": len({c.source_id for c in copies}),
        "exact_duplicates": len(exact),
        "empty": len(EMPTY_TEXTS),
        "very_short": len(SHORT_TEXTS),
        "books_excluded_as_sharing_passages": len(family),
        "text_bytes": sum(len(d.text.encode("utf-8")) for d in docs),
        "bytes_on_disk": sum(p.stat().st_size for p in out.glob("part-*.parquet")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "examples" / "sample")
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gutenberg", type=Path, default=nc.DEFAULT_GUTENBERG)
    args = ap.parse_args()
    if not (args.gutenberg / "MANIFEST.tsv").is_file():
        sys.exit(
            f"error: the Gutenberg subset is not available at {args.gutenberg} (MANIFEST.tsv missing); "
            "pass --gutenberg DIR pointing at a copy of gutenberg-top-authors-subset"
        )
    info = build(args.gutenberg, args.out, args.docs, args.seed)
    for k, v in info.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
