"""Phase 2 of exact dedup (reduce per hash partition): in each group of equal hashes the
keep rule's best row survives and the others are its duplicates (similarity 1.0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import DECISION_SCHEMA, decisions_from_leaders, write_decisions_by_shard
from curate.dedup.exact.config import ExactPlan
from curate.dedup.exact.hashing import hash_name
from curate.dedup.index.probe import drop_hits, load_hit_docs
from curate.dedup.survivors import group_leaders


def resolve_task(plan: ExactPlan, partition: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    tables = [pq.read_table(root / hash_name(partition, shard.index)) for shard in plan.active_shards]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else None
    if table is not None and plan.config.index:
        # Documents already removed as copies of an index survivor leave the within-run dedup.
        table = drop_hits(table, load_hit_docs(root, plan.active_shards))
    if table is None or table.num_rows == 0:
        decisions = DECISION_SCHEMA.empty_table()
    else:
        rule = plan.config.keep
        table = table.take(rule.priority_order(table, group=["hi", "lo"], key="key", id_column="id", doc="doc"))
        hi = table.column("hi").to_numpy()
        lo = table.column("lo").to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])]))
        sizes = np.diff(np.append(starts, len(hi)))
        # Only groups of two or more matter; singletons are kept without a decision.
        table = table.filter(pa.array(np.repeat(sizes > 1, sizes)))
        sizes = sizes[sizes > 1]
        leader_rows = group_leaders(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
        decisions = decisions_from_leaders(table, leader_rows, np.ones(table.num_rows))
    outputs = write_decisions_by_shard(root, decisions, partition, plan.active_shards)
    removed = int(np.count_nonzero(decisions.column("removed").to_numpy(zero_copy_only=False)))
    groups = len(pc.unique(decisions.column("dup_cluster").drop_null())) if decisions.num_rows else 0
    return {"removed": removed, "clusters": groups}, outputs
