"""Phase 2 (reduce per band partition): documents sharing an LSH bucket become candidate edges.

Each bucket with k > 1 documents contributes k - 1 edges, from every member to the
bucket's smallest doc key: enough to connect the bucket, linear rather than quadratic in
its size. Memory is bounded by one partition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.index.probe import drop_hits, load_hit_docs
from curate.dedup.minhash.config import MinHashPlan
from curate.dedup.minhash.signatures import BAND_SCHEMA, band_name
from curate.io.layout import WORK
from curate.io.writers import write_table_atomically

EDGE_SCHEMA = pa.schema([("a", pa.uint64()), ("b", pa.uint64())])


def edge_name(partition: int) -> str:
    return f"{WORK}/edges/p{partition:04d}.parquet"


def star_edges(buckets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (member, smallest doc of its bucket) for every bucket with two or more docs,
    each pair once, sorted. numpy sorts rather than a hash table: less memory per row."""
    order = np.lexsort((docs, buckets))
    buckets, docs = buckets[order], docs[order]
    starts = np.concatenate([[True], buckets[1:] != buckets[:-1]]) if len(buckets) else np.zeros(0, bool)
    leaders = docs[np.maximum.accumulate(np.where(starts, np.arange(len(docs)), 0))]
    members = ~starts & (docs != leaders)
    a, b = docs[members], leaders[members]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    fresh = np.concatenate([[True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])]) if len(a) else np.zeros(0, bool)
    return a[fresh], b[fresh]


def candidate_task(plan: MinHashPlan, partition: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    tables = [pq.read_table(root / band_name(partition, shard.index)) for shard in plan.active_shards]
    bands = pa.concat_tables(tables) if tables else BAND_SCHEMA.empty_table()
    if plan.config.index:
        # Documents already removed as duplicates of the index leave the within-run dedup.
        bands = drop_hits(bands, load_hit_docs(root, plan.active_shards))
    a, b = star_edges(bands.column("bucket").to_numpy(), bands.column("doc").to_numpy())
    del bands, tables
    table = pa.table({"a": a, "b": b}, schema=EDGE_SCHEMA)
    published = write_table_atomically(root, edge_name(partition), table)
    return {"edges": published.rows}, [root / edge_name(partition)]
