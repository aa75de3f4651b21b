"""Duplicate ids in a dedup stage's input: counted, with an example, never silent.

A dedup stage names survivors by id (``dup_of``, ``dup_cluster``) and ``curate explain``
finds documents by id, so two rows with one id make both ambiguous. The first phase of each
dedup stage writes every row's id, its 128-bit hash and its doc key, hash-partitioned, to
``work/ids/pPPPP/sNNNNN.parquet``; one reduce per partition then counts the rows whose id
an earlier row (in input order) already has. Memory is bounded by partition size. The
stage warns and records ``duplicate_ids`` in the manifest; it does not refuse, because the
removal itself does not depend on ids (rows are keyed by position).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import ROW_BITS, ROW_MASK
from curate.io.discovery import InputShard
from curate.io.layout import WORK
from curate.io.partitioned import PartitionedWriter
from curate.pipelines.plan import ShardPlan

PHASE = "ids"
ID_SCHEMA = pa.schema([("hi", pa.uint64()), ("lo", pa.uint64()), ("doc", pa.uint64()), ("id", pa.string())])


def id_name(partition: int, shard_index: int) -> str:
    return f"{WORK}/ids/p{partition:04d}/s{shard_index:05d}.parquet"


class IdWriter:
    """The id rows of one input shard, written beside a stage's first-phase outputs."""

    def __init__(self, root: Path, shard_index: int, partitions: int) -> None:
        self.partitions = partitions
        self.names = [id_name(p, shard_index) for p in range(partitions)]
        self.paths = [root / name for name in self.names]
        self._writer = PartitionedWriter(root, self.names, ID_SCHEMA)

    def write(self, ids: pa.Array, docs: np.ndarray) -> None:
        """``ids`` (strings, nulls skipped: a missing id is not a shared one) of the rows keyed ``docs``."""
        present = np.asarray(ids.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if not present.all():
            ids = ids.filter(pa.array(present))
            docs = docs[present]
        ids = ids.cast(pa.string())
        hi, lo = kernel.content_hashes(ids, level="none")
        rows = pa.record_batch([pa.array(hi), pa.array(lo), pa.array(docs, pa.uint64()), ids], schema=ID_SCHEMA)
        self._writer.write(rows, lo % np.uint64(self.partitions))

    def commit(self) -> list[Path]:
        self._writer.commit()
        return self.paths

    def __enter__(self) -> IdWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._writer.abort()


def duplicate_ids_task(plan: ShardPlan, partition: int) -> tuple[dict[str, Any], list[Path]]:
    """Reduce one id partition: rows whose id an earlier row has, and the first such id."""
    root = plan.workspace.root
    tables = [pq.read_table(root / id_name(partition, shard.index)) for shard in plan.active_shards]
    table = pa.concat_tables(tables) if tables else ID_SCHEMA.empty_table()
    stats: dict[str, Any] = {"duplicate_ids": 0, "example": None}
    if table.num_rows > 1:
        table = table.sort_by([("hi", "ascending"), ("lo", "ascending"), ("doc", "ascending")])
        hi = table.column("hi").to_numpy()
        lo = table.column("lo").to_numpy()
        repeat = np.concatenate([[False], (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])])
        stats["duplicate_ids"] = int(repeat.sum())
        if repeat.any():
            # The example: the repeated id whose second row comes first in input order.
            docs = table.column("doc").to_numpy()
            second = int(np.flatnonzero(repeat)[np.argmin(docs[repeat])])
            first = second - 1
            while first > 0 and repeat[first]:
                first -= 1
            stats["example"] = {
                "id": table.column("id")[second].as_py(),
                "docs": [int(docs[first]), int(docs[second])],
            }
    return stats, []


def summarize(stats: dict[str, dict[str, Any]], shards: tuple[InputShard, ...]) -> dict[str, Any]:
    """The manifest's record of duplicate ids: a count and the first example (by input order)."""
    total = sum(s["duplicate_ids"] for s in stats.values())
    examples = [s["example"] for s in stats.values() if s["example"] is not None]
    if not examples:
        return {"duplicate_ids": total}
    example = min(examples, key=lambda e: e["docs"][1])
    where = [f"{shards[doc >> ROW_BITS].name} row {doc & ROW_MASK}" for doc in example["docs"]]
    return {"duplicate_ids": total, "duplicate_id_example": {"id": example["id"], "rows": where}}
