"""The last phase of every dedup stage, a map stage over input shards: kept rows to
``part-NNNNN.parquet`` and removed rows, with why, to ``OUT.curate/rejects/part-NNNNN.parquet``
(written by the map runner, which checks rows in = kept + removed)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import DECISION_SCHEMA, ROW_MASK, decision_name
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.pipelines.stage import BatchContext, MapResult, MapStage
from curate.pipelines.workspace import Workspace

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


def _load_decisions(plan: FilterPlan, shard_index: int) -> pa.Table:
    root = plan.workspace.root
    tables = [pq.read_table(root / decision_name(shard_index, q)) for q in range(plan.decision_partitions)]
    table = pa.concat_tables(tables) if tables else DECISION_SCHEMA.empty_table()
    reason = pa.repeat(pa.scalar(plan.reason, pa.string()), table.num_rows)
    table = table.append_column("reason", reason)
    if getattr(plan.config, "index", ""):
        from curate.dedup.index.probe import hits_name, index_reason

        hits = pq.read_table(root / hits_name(shard_index)).cast(DECISION_SCHEMA)
        of_index = pa.scalar(index_reason(plan.reason), pa.string())
        hits = hits.append_column("reason", pa.repeat(of_index, hits.num_rows))
        table = pa.concat_tables([table, hits])
    return table.sort_by("doc")


class DecisionsApply(MapStage):
    """The apply phase of every dedup stage, as a map stage: each row's decision is looked up
    by its position in the shard (hence positional: first of its fused group). Removed rows
    go to the rejects with ``dup_of``, ``similarity``, ``dup_cluster`` and ``dup_cluster_size``;
    kept rows get the two cluster columns with ``cluster_columns`` (unless they have them)."""

    group = "dedup"
    positional = True

    def __init__(self, plan: FilterPlan) -> None:
        self.plan = plan

    @property
    def stage_label(self) -> str:
        return self.plan.stage

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        return ()

    def begin_shard(self, shard: InputShard, state: Any) -> Any:
        decisions = _load_decisions(self.plan, shard.index)
        decided_rows = (decisions.column("doc").to_numpy() & np.uint64(ROW_MASK)).astype(np.int64)
        return decisions, decided_rows

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        decisions, decided_rows = context.shard_state
        n = batch.num_rows
        first_row = context.first_row
        lo, hi = np.searchsorted(decided_rows, [first_row, first_row + n])
        lookup = np.full(n, -1, dtype=np.int64)
        lookup[decided_rows[lo:hi] - first_row] = np.arange(lo, hi)
        picked = decisions.take(pa.array(lookup, mask=lookup < 0))
        removed = np.asarray(pc.fill_null(picked.column("removed"), False).combine_chunks(), dtype=bool)
        columns = {}
        if self.plan.config.cluster_columns:
            columns = {
                item.name: picked.column(item.name).combine_chunks()
                for item in CLUSTER_FIELDS
                if item.name not in batch.schema.names
            }
        reasons = pc.if_else(pa.array(removed), picked.column("reason").combine_chunks(), pa.scalar(None, pa.string()))
        return MapResult(
            keep=~removed,
            reasons=reasons,
            columns=columns,
            reject_columns={item.name: picked.column(item.name).combine_chunks() for item in DUP_FIELDS},
        )
