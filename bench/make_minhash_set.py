"""Build the MinHash benchmark set: ~50k web-page-sized documents with planted near-duplicates.

    python bench/make_minhash_set.py --out bench/data/minhash --docs 50000 --seed 0

Source: the distinct books (one copy per ``git_blob_sha1``) of the Project Gutenberg subset in
``../shared/data/gutenberg-top-authors-subset`` (beside the checkout, or under ``$CURATE_SHARED_DATA``),
with the PG licence header/footer removed.

Output (``--out``):

* ``shards/part-00000.parquet`` ... ``part-00015.parquet``: columns ``id`` (string), ``text``
  (large_string), ``url`` (string); zstd; rows shuffled.
* ``truth.parquet``: one row per planted copy: ``copy_id``, ``source_id``, ``transforms`` (list<string>).
* ``build.json``: the parameters and counts of this build.

The distinct books hold ~65 MB of text, about 19k documents of ~3.3 KB. When ``--docs`` needs more
originals than that, the rest are "collages": documents made of sentences drawn at random from the
whole corpus (see :func:`neardup_corpus.remix_documents`); they are not near-duplicates of anything.
Natural containment between editions / volumes of the same work (e.g. Don Quixote "Volume 1,
Complete" and its "Part NN" files) also yields unlabelled near-duplicates; the bench therefore scores
tools against exact Jaccard as well as against the planted truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

import neardup_corpus as nc

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string())])
TRUTH_SCHEMA = pa.schema([("copy_id", pa.string()), ("source_id", pa.string()), ("transforms", pa.list_(pa.string()))])


def build(gutenberg: Path, out: Path, n_docs: int, seed: int, dup_fraction: float, n_shards: int) -> dict:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    books = nc.load_books(gutenberg, distinct=True)
    sizes = nc.SizeModel(median=2650.0)

    originals: list[tuple[str, str, str]] = []  # (id, text, url)
    all_paragraphs: list[str] = []
    for book in books:
        paragraphs = nc.split_paragraphs(book.text, max_chars=sizes.hi)
        all_paragraphs.extend(paragraphs)
        base = f"https://library.example.org/{nc.slugify(book.author)}/{nc.slugify(book.title)}"
        for i, text in enumerate(nc.cut_documents(paragraphs, rng, sizes)):
            originals.append((nc.doc_id(f"{book.key}#{i}"), text, f"{base}/page-{i + 1}"))
    n_book_docs = len(originals)

    n_copies = round(n_docs * dup_fraction)
    n_originals = n_docs - n_copies
    n_collages = 0
    if len(originals) > n_originals:
        keep = np.sort(rng.choice(len(originals), n_originals, replace=False))
        originals = [originals[int(i)] for i in keep]
    elif len(originals) < n_originals:
        n_collages = n_originals - len(originals)
        pool = nc.sentence_pool(all_paragraphs)
        for i, text in enumerate(nc.remix_documents(pool, n_collages, rng, sizes)):
            originals.append((nc.doc_id(f"collage:{seed}:{i}"), text, f"https://pages.example.net/c/{i + 1}"))

    vocab = nc.vocabulary(text for _, text, _ in originals[::10])
    copies = nc.plant_copies([(i, t) for i, t, _ in originals], n_copies, rng, vocab)

    ids = [i for i, _, _ in originals] + [c.copy_id for c in copies]
    texts = [t for _, t, _ in originals] + [c.text for c in copies]
    urls = [u for _, _, u in originals] + [c.url for c in copies]
    if len(set(ids)) != len(ids):
        raise SystemExit("internal error: duplicate document ids")
    order = rng.permutation(len(ids))

    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("part-*.parquet"):
        old.unlink()
    for stale in (out / "exact_pairs.parquet",):
        stale.unlink(missing_ok=True)
    for k, chunk in enumerate(np.array_split(order, n_shards)):
        table = pa.table(
            {
                "id": [ids[i] for i in chunk],
                "text": [texts[i] for i in chunk],
                "url": [urls[i] for i in chunk],
            },
            schema=SCHEMA,
        )
        pq.write_table(table, shard_dir / f"part-{k:05d}.parquet", compression="zstd")

    truth = pa.table(
        {
            "copy_id": [c.copy_id for c in copies],
            "source_id": [c.source_id for c in copies],
            "transforms": [c.transforms for c in copies],
        },
        schema=TRUTH_SCHEMA,
    )
    pq.write_table(truth, out / "truth.parquet", compression="zstd")

    text_bytes = sum(len(t.encode("utf-8")) for t in texts)
    info = {
        "seed": seed,
        "docs": len(ids),
        "book_documents_available": n_book_docs,
        "originals_from_books": n_originals - n_collages,
        "collages": n_collages,
        "planted_copies": len(copies),
        "planted_sources": len({c.source_id for c in copies}),
        "distinct_books": len(books),
        "shards": n_shards,
        "text_bytes": text_bytes,
        "mean_doc_bytes": round(text_bytes / max(len(ids), 1), 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench/data/minhash"))
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dup-fraction", type=float, default=0.125, help="share of documents that are planted copies")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--gutenberg", type=Path, default=nc.DEFAULT_GUTENBERG)
    args = ap.parse_args()
    if not (args.gutenberg / "MANIFEST.tsv").is_file():
        sys.exit(
            f"error: the Gutenberg subset is not available at {args.gutenberg} (MANIFEST.tsv missing); "
            "pass --gutenberg DIR pointing at a copy of gutenberg-top-authors-subset"
        )
    if not 0.0 <= args.dup_fraction < 1.0 or args.docs < 1 or args.shards < 1:
        sys.exit("error: need --docs >= 1, --shards >= 1 and 0 <= --dup-fraction < 1")
    info = build(args.gutenberg, args.out, args.docs, args.seed, args.dup_fraction, args.shards)
    print(json.dumps(info))
    print(
        f"wrote {info['docs']} documents ({info['text_bytes'] / 1e6:.1f} MB of text, "
        f"{info['planted_copies']} planted copies) to {args.out}/shards, truth in {args.out}/truth.parquet",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
