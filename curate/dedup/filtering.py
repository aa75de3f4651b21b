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
from curate.io.shard_output import ShardOutput, reject_schema, with_reject_columns
from curate.pipelines.workspace import Workspace

PHASE = "filter"
CLUSTER_FIELDS = [pa.field("dup_cluster", pa.string()), pa.field("dup_cluster_size", pa.int64())]
DUP_FIELDS = [pa.field("dup_of", pa.string()), pa.field("similarity", pa.float64()), *CLUSTER_FIELDS]


class DedupOutputConfig(Protocol):
    """What every dedup stage's config says about its input columns and output."""

    @property
    def read(self) -> ReadOptions: ...

    @property
    def cluster_columns(self) -> bool: ...


class FilterPlan(Protocol):
    """What a dedup stage's plan offers the filter phase."""

    workspace: Workspace
    shards: tuple[InputShard, ...]
    output_schema: pa.Schema | None

    def read_schema(self, shard_index: int) -> pa.Schema | None: ...

    @property
    def config(self) -> DedupOutputConfig: ...

    @property
    def decision_partitions(self) -> int: ...

    @property
    def stage(self) -> str: ...

    @property
    def reason(self) -> str: ...


def output_schema(plan: FilterPlan, batch_schema: pa.Schema) -> pa.Schema:
    """The kept rows' schema: the inputs' unified schema (or this shard's), plus a derived
    ``id`` column when the input has none, plus the optional cluster columns."""
    schema = plan.output_schema if plan.output_schema is not None else batch_schema
    read = plan.config.read
    if read.id_column not in schema.names:
        schema = schema.append(pa.field(read.id_column, pa.string()))
    if plan.config.cluster_columns:
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
    read = plan.config.read
    decisions = _load_decisions(plan, shard_index)
    decided_rows = (decisions.column("doc").to_numpy() & np.uint64(ROW_MASK)).astype(np.int64)
    rows_in = 0
    first_row = 0
    with ShardOutput(root, shard.index) as output:
        for batch in read_batches(shard, read, schema=plan.read_schema(shard.index)):
            n = batch.num_rows
            lo, hi = np.searchsorted(decided_rows, [first_row, first_row + n])
            lookup = np.full(n, -1, dtype=np.int64)
            lookup[decided_rows[lo:hi] - first_row] = np.arange(lo, hi)
            picked = decisions.take(pa.array(lookup, mask=lookup < 0))
            removed_mask = pc.fill_null(picked.column("removed"), False).combine_chunks()
            if read.id_column not in batch.schema.names:
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            schema = output_schema(plan, batch.schema)
            kept_batch = batch
            if plan.config.cluster_columns:
                for item in CLUSTER_FIELDS:
                    if item.name not in batch.schema.names:
                        kept_batch = kept_batch.append_column(item, picked.column(item.name).combine_chunks())
            output.keep(kept_batch.filter(pc.invert(removed_mask)), schema)
            rejected = batch.filter(removed_mask)
            if rejected.num_rows:
                info = picked.filter(removed_mask)
                rejected = rejected.drop_columns([f.name for f in DUP_FIELDS if f.name in rejected.schema.names])
                for item in DUP_FIELDS:
                    rejected = rejected.append_column(item, info.column(item.name).combine_chunks())
                rejected = with_reject_columns(rejected, plan.stage, plan.reason)
                output.reject(rejected, reject_schema(schema, DUP_FIELDS))
            rows_in += n
            first_row += n
        if rows_in != output.kept_rows + output.rejected_rows:
            raise AssertionError(
                f"{shard.path}: {rows_in} rows in but {output.kept_rows} kept + {output.rejected_rows} removed"
            )
        published = output.commit()
    stats = {
        "rows_in": rows_in,
        "kept": output.kept_rows,
        "removed": output.rejected_rows,
        "shards": [p.as_json() for p in published],
    }
    plan.workspace.mark_done(PHASE, f"s{shard.index:05d}", stats, [root / p.name for p in published])
    return stats
