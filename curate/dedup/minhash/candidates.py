"""Phase 2 (reduce per band partition): documents sharing an LSH bucket become candidate edges.

Each bucket with k > 1 documents contributes k - 1 edges, from every member to the
bucket's smallest doc key: enough to connect the bucket, linear rather than quadratic in
its size. Memory is bounded by one partition.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from curate.dedup.minhash.config import MinHashPlan
from curate.dedup.minhash.signatures import band_name
from curate.io.writers import write_table_atomically

PHASE = "candidates"
EDGE_SCHEMA = pa.schema([("a", pa.uint64()), ("b", pa.uint64())])


def edge_name(partition: int) -> str:
    return f"_work/edges/p{partition:04d}.parquet"


def candidate_task(args: tuple[MinHashPlan, int]) -> dict[str, Any]:
    plan, partition = args
    root = plan.workspace.root
    files = [str(root / band_name(partition, shard.index)) for shard in plan.active_shards]
    if files:
        bands = pl.read_parquet(files)
        edges = (
            bands.with_columns(leader=pl.col("doc").min().over("bucket"))
            .filter(pl.col("doc") != pl.col("leader"))
            .select(a=pl.col("doc"), b=pl.col("leader"))
            .unique()
            .sort(["a", "b"])
        )
        table = edges.to_arrow().cast(EDGE_SCHEMA)
    else:
        table = EDGE_SCHEMA.empty_table()
    published = write_table_atomically(root, edge_name(partition), table)
    stats = {"edges": published.rows}
    plan.workspace.mark_done(PHASE, f"p{partition:04d}", stats, [root / edge_name(partition)])
    return stats
