"""datatrove's MinHash dedup (signatures -> buckets -> cluster -> filter) on the bench Parquet shards.

Runs inside ``bench/.venv-datatrove`` (datatrove is not a curate dependency); ``bench/minhash_bench.py``
creates that venv on request and calls this script in a subprocess:

    bench/.venv-datatrove/bin/python bench/datatrove_minhash.py --data DIR --out OUT --bands 9 --rows 13

It uses datatrove's own text simplification (lower case, punctuation removed, numbers / weekdays / months
normalised, whitespace collapsed) and word 5-grams. Word splitting is a plain whitespace split of the
already simplified text: datatrove's default English word tokenizer needs spaCy, which only changes
how punctuation-free text is split into words (it would not, here) and costs a large install.

Writes ``OUT/result.parquet`` in the bench's common format: one row per removed document with
``id``, ``dup_of`` (the kept document of its cluster) and ``similarity`` (null: datatrove does not
estimate it), and prints one JSON line with counts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class WhitespaceTokenizer(WordTokenizer):
    """Splits datatrove-simplified text (no punctuation left) on whitespace."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def id_and_cluster(self: object, document: object) -> dict:
    meta = getattr(document, "metadata", {})
    return {"id": document.id, "cluster": int(meta.get("minhash_cluster_id", -1))}  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="directory of part-*.parquet (id, text)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    t0 = time.perf_counter()
    shards = sorted(args.data.glob("part-*.parquet"))
    if not shards:
        raise SystemExit(f"no part-*.parquet in {args.data}")
    n_tasks = len(shards)
    work = args.out / "work"
    if args.out.exists():
        shutil.rmtree(args.out)
    work.mkdir(parents=True)

    config = MinhashConfig(
        n_grams=5,
        num_buckets=args.bands,
        hashes_per_bucket=args.rows,
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )

    def reader() -> ParquetReader:
        return ParquetReader(str(args.data), glob_pattern="part-*.parquet", text_key="text", id_key="id")

    tokenizer = WhitespaceTokenizer("en")
    stage1 = LocalPipelineExecutor(
        pipeline=[reader(), MinhashDedupSignature(str(work / "signatures"), config=config, language=tokenizer)],
        tasks=n_tasks,
        workers=args.workers,
        logging_dir=str(work / "logs/signatures"),
    )
    stage2 = LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(str(work / "signatures"), str(work / "buckets"), config=config)],
        tasks=config.num_buckets,
        workers=args.workers,
        logging_dir=str(work / "logs/buckets"),
        depends=stage1,
    )
    stage3 = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(str(work / "buckets"), str(work / "remove_ids"), config=config, save_cluster_id=True)
        ],
        tasks=1,
        workers=1,
        logging_dir=str(work / "logs/clusters"),
        depends=stage2,
    )
    stage4 = LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                str(work / "remove_ids"),
                load_cluster_ids=True,
                exclusion_writer=ParquetWriter(str(work / "removed"), adapter=id_and_cluster),
            ),
            ParquetWriter(str(work / "kept"), adapter=id_and_cluster),
        ],
        tasks=n_tasks,
        workers=args.workers,
        logging_dir=str(work / "logs/filter"),
        depends=stage3,
    )
    stage4.run()

    def read(folder: Path) -> pa.Table:
        files = sorted(folder.glob("*.parquet"))
        if not files:
            return pa.table({"id": pa.array([], pa.string()), "cluster": pa.array([], pa.int64())})
        return pa.concat_tables([pq.read_table(f, columns=["id", "cluster"]) for f in files])

    kept = read(work / "kept")
    removed = read(work / "removed")
    survivor: dict[int, str] = {}
    for doc, cluster in zip(kept["id"].to_pylist(), kept["cluster"].to_pylist(), strict=True):
        if cluster >= 0:
            survivor[cluster] = doc
    removed_ids = removed["id"].to_pylist()
    dup_of = [survivor.get(c) for c in removed["cluster"].to_pylist()]
    result = pa.table(
        {
            "id": pa.array(removed_ids, pa.string()),
            "dup_of": pa.array(dup_of, pa.string()),
            "similarity": pa.array([None] * len(removed_ids), pa.float64()),
        }
    )
    pq.write_table(result, args.out / "result.parquet")
    print(
        json.dumps(
            {
                "rows_in": kept.num_rows + removed.num_rows,
                "rows_kept": kept.num_rows,
                "rows_removed": removed.num_rows,
                "clusters": len(survivor),
                "bands": args.bands,
                "rows": args.rows,
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
