"""Phase 3: connected components of the candidate graph, and memberships per shard.

This is the one phase that holds state for the whole corpus in one process: a union-find
over the documents that have at least one candidate edge (not over all documents), about
24 bytes per such document in the Rust kernel. Its output is split by input shard so that
the following phases stay bounded by one shard or one partition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import ROW_BITS
from curate.dedup.minhash.candidates import edge_name
from curate.dedup.minhash.config import MinHashPlan
from curate.io.layout import WORK
from curate.io.writers import write_table_atomically

MEMBER_SCHEMA = pa.schema([("doc", pa.uint64()), ("root", pa.uint64())])


def member_name(shard_index: int) -> str:
    return f"{WORK}/members/s{shard_index:05d}.parquet"


def components_task(plan: MinHashPlan, _: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    a_parts, b_parts = [], []
    for partition in range(plan.band_partitions):
        table = pq.read_table(root / edge_name(partition))
        a_parts.append(table.column("a").to_numpy())
        b_parts.append(table.column("b").to_numpy())
    a = np.concatenate(a_parts) if a_parts else np.empty(0, np.uint64)
    b = np.concatenate(b_parts) if b_parts else np.empty(0, np.uint64)
    nodes, roots = kernel.connected_components(a.astype(np.uint64), b.astype(np.uint64))
    shard_of = nodes >> np.uint64(ROW_BITS)
    outputs = []
    for shard in plan.active_shards:
        picked = shard_of == np.uint64(shard.index)
        table = pa.table({"doc": nodes[picked], "root": roots[picked]}, schema=MEMBER_SCHEMA)
        write_table_atomically(root, member_name(shard.index), table)
        outputs.append(root / member_name(shard.index))
    return {"clustered_docs": len(nodes), "components": len(np.unique(roots))}, outputs
