"""Per-document dedup decisions, exchanged between a global stage's resolve and filter phases.

A resolve task orders each group of duplicates best survivor first and says, per member,
which row of the group it is a duplicate of (its *leader*; a leader points at itself).
These rows become decisions, written once per (input shard, partition) so that the filter
phase of one shard reads only its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.io.discovery import InputShard
from curate.io.layout import WORK
from curate.io.writers import write_table_atomically

# Document keys pack (input shard index, row) into one u64 so edges and memberships stay small.
ROW_BITS = 40
ROW_MASK = (1 << ROW_BITS) - 1

DECISION_SCHEMA = pa.schema(
    [
        ("doc", pa.uint64()),
        ("removed", pa.bool_()),
        ("dup_of", pa.string()),
        ("similarity", pa.float64()),
        ("dup_cluster", pa.string()),
        ("dup_cluster_size", pa.int64()),
    ]
)


def decision_name(shard_index: int, partition: int) -> str:
    return f"{WORK}/decisions/s{shard_index:05d}/q{partition:04d}.parquet"


def doc_keys(shard_index: int, first_row: int, count: int) -> np.ndarray:
    """The u64 keys of rows ``first_row .. first_row + count`` of one input shard."""
    return (np.uint64(shard_index) << np.uint64(ROW_BITS)) | np.arange(first_row, first_row + count, dtype=np.uint64)


def decisions_from_leaders(table: pa.Table, leader_rows: np.ndarray, similarity: np.ndarray) -> pa.Table:
    """Decisions for rows of ``table`` (columns ``doc``, ``id``) given each row's leader row
    and its similarity to it; members of groups of one get no cluster."""
    n = table.num_rows
    removed = leader_rows != np.arange(n, dtype=np.int64)
    cluster_size = np.bincount(leader_rows, minlength=n)[leader_rows].astype(np.int64)
    in_cluster = cluster_size > 1
    leader_ids = table.column("id").combine_chunks().take(pa.array(leader_rows)).cast(pa.string())
    no_string = pa.scalar(None, pa.string())
    return pa.table(
        {
            "doc": table.column("doc").combine_chunks(),
            "removed": pa.array(removed),
            "dup_of": pc.if_else(pa.array(removed), leader_ids, no_string),
            "similarity": pa.array(similarity.astype(np.float64), mask=~removed),
            "dup_cluster": pc.if_else(pa.array(in_cluster), leader_ids, no_string),
            "dup_cluster_size": pa.array(cluster_size, mask=~in_cluster),
        },
        schema=DECISION_SCHEMA,
    )


def write_decisions_by_shard(root: Path, decisions: pa.Table, partition: int, shards: list[InputShard]) -> list[Path]:
    doc_shard = decisions.column("doc").to_numpy() >> np.uint64(ROW_BITS)
    outputs = []
    for shard in shards:
        picked = np.flatnonzero(doc_shard == np.uint64(shard.index))
        write_table_atomically(root, decision_name(shard.index, partition), decisions.take(pa.array(picked)))
        outputs.append(root / decision_name(shard.index, partition))
    return outputs
