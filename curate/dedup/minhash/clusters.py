"""Phases 4 and 5: gather each cluster's members in one partition, then resolve survivors.

Gather (map over shards) joins a shard's memberships with its signatures, keep keys and,
when verifying, the members' texts, and routes every row to the partition of its
component root. Resolve (reduce per cluster partition) orders each component best
survivor first (keep rule, then id) and hands it to the shared survivor choice
(``curate.dedup.survivors``): a greedy cover of the verified similarity graph
(``--survivors cover``) or leader clustering in keep-rule order (``keep-rule``). Either way
a chain A~B~C never removes C as a duplicate of a far A, and ``dup_of`` always names a
kept document at or above the threshold, never an intermediate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import DECISION_SCHEMA, ROW_MASK, decisions_from_leaders, write_decisions_by_shard
from curate.dedup.minhash.components import member_name
from curate.dedup.minhash.config import MinHashPlan
from curate.dedup.minhash.signatures import sig_name
from curate.dedup.survivors import choose_survivors, group_leaders
from curate.io.columns import text_values
from curate.io.layout import WORK
from curate.io.readers import read_batches
from curate.io.writers import write_table_atomically


def cluster_name(partition: int, shard_index: int) -> str:
    return f"{WORK}/clusters/q{partition:04d}/s{shard_index:05d}.parquet"


def _member_texts(plan: MinHashPlan, shard_index: int, docs: np.ndarray) -> pa.Array:
    """The texts of the given (sorted) doc keys of one shard, in that order."""
    shard = plan.shards[shard_index]
    rows = (docs & np.uint64(ROW_MASK)).astype(np.int64)
    pieces: list[pa.Array] = []
    first_row = 0
    column = plan.config.read.text_column
    for batch in read_batches(shard, plan.config.read, columns=[column], schema=plan.read_schema(shard.index)):
        end = first_row + batch.num_rows
        lo, hi = np.searchsorted(rows, [first_row, end])
        if hi > lo:
            pieces.append(text_values(batch, column).take(pa.array(rows[lo:hi] - first_row)))
        first_row = end
        if hi == len(rows):
            break
    if not pieces:
        return pa.array([], pa.large_string())
    return pa.concat_arrays(pieces)


def gather_task(plan: MinHashPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    members = pq.read_table(root / member_name(shard_index))
    signatures = pq.read_table(root / sig_name(shard_index))
    joined = members.join(signatures, "doc", join_type="inner").sort_by("doc")
    if plan.config.verify:
        docs = joined.column("doc").to_numpy()
        joined = joined.append_column("text", _member_texts(plan, shard_index, docs))
    roots = joined.column("root").to_numpy()
    partition_of = roots % np.uint64(plan.cluster_partitions)
    outputs = []
    for partition in range(plan.cluster_partitions):
        picked = np.flatnonzero(partition_of == np.uint64(partition))
        write_table_atomically(root, cluster_name(partition, shard_index), joined.take(pa.array(picked)))
        outputs.append(root / cluster_name(partition, shard_index))
    return {"members": joined.num_rows}, outputs


def _group_offsets(sorted_roots: np.ndarray) -> np.ndarray:
    if len(sorted_roots) == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.diff(sorted_roots)) + 1
    return np.concatenate([[0], starts, [len(sorted_roots)]]).astype(np.int64)


def _estimated_similarity(signatures: pa.Array, leader_rows: np.ndarray, num_perm: int) -> np.ndarray:
    if len(signatures) == 0:
        return np.zeros(0, dtype=np.float64)
    raw = signatures.cast(pa.binary(4 * num_perm)) if not pa.types.is_fixed_size_binary(signatures.type) else signatures
    buffer = raw.buffers()[1]
    matrix = np.frombuffer(buffer, dtype=np.uint32)[raw.offset * num_perm : (raw.offset + len(raw)) * num_perm]
    matrix = matrix.reshape(len(raw), num_perm)
    similarity: np.ndarray = (matrix == matrix[leader_rows]).mean(axis=1)
    return similarity


def resolve_task(plan: MinHashPlan, partition: int) -> tuple[dict[str, Any], list[Path]]:
    config = plan.config
    root = plan.workspace.root
    tables = [pq.read_table(root / cluster_name(partition, shard.index)) for shard in plan.active_shards]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else None
    if table is None or table.num_rows == 0:
        decisions = DECISION_SCHEMA.empty_table()
    else:
        table = table.take(config.keep.priority_order(table, group="root", key="key", id_column="id", doc="doc"))
        offsets = _group_offsets(table.column("root").to_numpy())
        if config.verify:
            leader_rows, similarity = choose_survivors(
                table.column("text"),
                offsets,
                config.similarity(),
                mode=config.survivors,
                max_leaders=config.max_leaders,
            )
        else:
            leader_rows = group_leaders(offsets)
            similarity = _estimated_similarity(table.column("sig").combine_chunks(), leader_rows, config.num_perm)
        decisions = decisions_from_leaders(table, leader_rows, similarity)
    outputs = write_decisions_by_shard(root, decisions, partition, plan.active_shards)
    removed = int(np.count_nonzero(decisions.column("removed").to_numpy(zero_copy_only=False)))
    clusters = len(pc.unique(decisions.column("dup_cluster").drop_null())) if decisions.num_rows else 0
    return {"removed": removed, "clusters": clusters}, outputs
