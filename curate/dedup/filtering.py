"""The last phase of every dedup stage (map over input shards): write kept rows to
``part-NNNNN.parquet`` and removed rows, with why, to ``_rejects/part-NNNNN.parquet``.
Rows in = kept + removed, checked."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import DECISION_SCHEMA, ROW_MASK, decision_name
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions, batch_ids, read_batches
from curate.io.schema import conform
from curate.io.writers import AtomicParquetWriter
from curate.pipelines.workspace import Workspace

PHASE = "filter"
CLUSTER_FIELDS = [pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int64())]
REJECT_FIELDS = [
    pa.field("dup_of", pa.string()),
    pa.field("similarity", pa.float64()),
    *CLUSTER_FIELDS,
    pa.field("_stage", pa.string()),
    pa.field("_reason", pa.string()),
]


class FilterPlan(Protocol):
    """What a dedup stage's plan offers the filter phase."""

    workspace: Workspace
    shards: tuple[InputShard, ...]
    output_schema: pa.Schema | None

    @property
    def read(self) -> ReadOptions: ...

    @property
    def cluster_columns(self) -> bool: ...

    @property
    def decision_partitions(self) -> int: ...

    @property
    def stage(self) -> str: ...

    @property
    def reason(self) -> str: ...


def part_name(shard_index: int) -> str:
    return f"part-{shard_index:05d}.parquet"


def reject_name(shard_index: int) -> str:
    return f"_rejects/part-{shard_index:05d}.parquet"


def output_schema(plan: FilterPlan, batch_schema: pa.Schema) -> pa.Schema:
    """The kept rows' schema: the inputs' unified schema (or this shard's), plus a derived
    ``id`` column when the input has none, plus the optional cluster columns."""
    schema = plan.output_schema if plan.output_schema is not None else batch_schema
    read = plan.read
    if read.id_column not in schema.names:
        schema = schema.append(pa.field(read.id_column, pa.string()))
    if plan.cluster_columns:
        for item in CLUSTER_FIELDS:
            if item.name not in schema.names:
                schema = schema.append(item)
    return schema


def _load_decisions(plan: FilterPlan, shard_index: int) -> pa.Table:
    root = plan.workspace.root
    tables = [pq.read_table(root / decision_name(shard_index, q)) for q in range(plan.decision_partitions)]
    table = pa.concat_tables(tables) if tables else DECISION_SCHEMA.empty_table()
    return table.sort_by("doc")


def filter_task(args: tuple[FilterPlan, int]) -> dict[str, Any]:
    plan, shard_index = args
    shard = plan.shards[shard_index]
    root = plan.workspace.root
    read = plan.read
    decisions = _load_decisions(plan, shard_index)
    decided_rows = (decisions.column("doc").to_numpy() & np.uint64(ROW_MASK)).astype(np.int64)
    kept_writer: AtomicParquetWriter | None = None
    reject_writer: AtomicParquetWriter | None = None
    rows_in = kept = removed = 0
    first_row = 0
    try:
        for batch in read_batches(shard, read):
            n = batch.num_rows
            lo, hi = np.searchsorted(decided_rows, [first_row, first_row + n])
            lookup = np.full(n, -1, dtype=np.int64)
            lookup[decided_rows[lo:hi] - first_row] = np.arange(lo, hi)
            indices = pa.array(lookup, mask=lookup < 0)
            picked = decisions.take(indices)
            removed_mask = pc.fill_null(picked.column("removed"), False).combine_chunks()
            if read.id_column not in batch.schema.names:
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            schema = output_schema(plan, batch.schema)
            if kept_writer is None:
                kept_writer = AtomicParquetWriter(root, part_name(shard.index), schema=schema)
            kept_batch = batch
            if plan.cluster_columns:
                for item in CLUSTER_FIELDS:
                    if item.name not in batch.schema.names:
                        kept_batch = kept_batch.append_column(item, picked.column(item.name).combine_chunks())
            kept_writer.write(conform(kept_batch.filter(pc.invert(removed_mask)), schema))
            n_removed = int(pc.sum(removed_mask).as_py() or 0)
            if n_removed:
                rejected = batch.filter(removed_mask)
                rejected_info = picked.filter(removed_mask)
                for item in REJECT_FIELDS[:4]:
                    column = rejected_info.column(item.name).combine_chunks()
                    if item.name in rejected.schema.names:
                        rejected = rejected.drop_columns([item.name])
                    rejected = rejected.append_column(item, column)
                rejected = rejected.append_column(REJECT_FIELDS[4], pa.array([plan.stage] * n_removed, pa.string()))
                rejected = rejected.append_column(REJECT_FIELDS[5], pa.array([plan.reason] * n_removed, pa.string()))
                reject_schema = pa.schema(
                    [f for f in schema if f.name not in {x.name for x in REJECT_FIELDS}] + REJECT_FIELDS
                )
                if reject_writer is None:
                    reject_writer = AtomicParquetWriter(root, reject_name(shard.index), schema=reject_schema)
                reject_writer.write(conform(rejected, reject_schema))
            rows_in += n
            removed += n_removed
            kept += n - n_removed
            first_row += n
        if rows_in != kept + removed:
            raise AssertionError(f"{shard.path}: {rows_in} rows in but {kept} kept + {removed} removed")
        assert kept_writer is not None
        published = [kept_writer.commit()]
        if reject_writer is not None:
            published.append(reject_writer.commit())
    except BaseException:
        for writer in (kept_writer, reject_writer):
            if writer is not None:
                writer.abort()
        raise
    stats = {
        "rows_in": rows_in,
        "kept": kept,
        "removed": removed,
        "shards": [p.as_json() for p in published],
    }
    plan.workspace.mark_done(PHASE, f"s{shard.index:05d}", stats, [root / p.name for p in published])
    return stats
