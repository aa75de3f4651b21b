"""``dedup images`` as a global stage: collect hashes or embeddings (map) → pairs at or above the
threshold, connected components, one survivor per component (single) → apply decisions (map).

Memory of the resolve task: every row's key (id, doc key, --keep value) plus 8 bytes per hash or
``4 d`` bytes per embedding, plus the search's own bounded buffers (``hamming.BLOCK_CANDIDATES``,
``knn.SEARCH_BLOCK``). An embedding search holds the vectors about twice (the matrix and faiss's
index): about 100 MB for 1M hashed images; 4.85 GiB peak for 1M 512-d embeddings (measured by
``bench/images_million.py --by embedding``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import DECISION_SCHEMA, decisions_from_leaders, doc_keys, write_decisions_by_shard
from curate.dedup.filtering import DecisionsApply
from curate.dedup.images.config import HASH_BITS, STAGE_NAME, ImageDedupConfig, ImagePlan
from curate.dedup.images.hamming import hamming_pairs, popcount64
from curate.dedup.survivors import group_leaders
from curate.errors import BadInputError, UsageError
from curate.io.discovery import InputShard
from curate.io.layout import WORK
from curate.io.readers import ReadCounters, ReadOptions, batch_ids, read_batches
from curate.io.writers import write_table_atomically
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import run_global_stage
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary


def require_one_dimension(column: str, stats: dict[str, dict[str, Any]]) -> None:
    """After the collect phase: every shard's embeddings have one dimension (else bad input)."""
    dims = {s["dimension"] for s in stats.values() if s.get("dimension") is not None}
    if len(dims) > 1:
        raise BadInputError(column, f"embeddings of several dimensions across shards: {sorted(dims)}")


def collected_name(shard_index: int) -> str:
    return f"{WORK}/images/s{shard_index:05d}.parquet"


def _hash_values(values: pa.Array, shard: InputShard, column: str) -> np.ndarray:
    if pa.types.is_uint64(values.type):
        return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.uint64)
    if pa.types.is_int64(values.type):
        return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.int64).view(np.uint64)
    raise BadInputError(shard.path, f"hash column {column!r} has type {values.type}, not a 64-bit integer")


def _embedding_values(values: pa.Array, shard: InputShard, column: str, first_row: int) -> np.ndarray:
    """The (n, d) float32 matrix of a (fixed-size) list column; null rows are zeros."""
    kind = values.type
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        raise BadInputError(shard.path, f"embedding column {column!r} has type {kind}, not a list of floats")
    present = values.is_valid().to_numpy(zero_copy_only=False)
    lengths = np.asarray(pc.fill_null(pc.list_value_length(values), -1).to_numpy(zero_copy_only=False))
    dims = np.unique(lengths[present])
    if len(dims) > 1:
        row = int(np.flatnonzero(present & (lengths != dims[0]))[0])
        raise BadInputError(
            shard.path, f"row {first_row + row}: embedding of dimension {lengths[row]}, others have {dims[0]}"
        )
    dimension = int(dims[0]) if len(dims) else 0
    matrix = np.zeros((len(values), dimension), dtype=np.float32)
    if dimension and present.any():
        flat = pc.list_flatten(values.filter(pa.array(present)))
        matrix[present] = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dimension)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInputError(shard.path, f"row {first_row + row}: embedding holds NaN or infinity", row=first_row + row)
    return matrix


def collect_task(plan: ImagePlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    """Per shard: doc key, id, --keep value and the hash or embedding of every non-null row."""
    shard = plan.shards[shard_index]
    config = plan.config
    columns = [config.read.id_column, config.column, *([config.keep.column] if config.keep.column else [])]
    counters = ReadCounters()
    read = replace(config.read, text_required=False)  # image datasets have no text column
    first_row, nulls, dimension = 0, 0, None
    tables = []
    for batch in read_batches(shard, read, counters, columns=columns, schema=plan.read_schema(shard.index)):
        n = batch.num_rows
        if config.column not in batch.schema.names:
            raise UsageError(f"{shard.path}: no column {config.column!r} (columns: {batch.schema.names})")
        values = batch.column(config.column)
        present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        picked = pa.array(np.flatnonzero(present))
        nulls += int(n - present.sum())
        if config.by == "embedding":
            matrix = _embedding_values(values, shard, config.column, first_row)[present]
            if matrix.shape[0]:
                if dimension is not None and matrix.shape[1] != dimension:
                    raise BadInputError(shard.path, f"embeddings of dimension {matrix.shape[1]} and {dimension}")
                dimension = matrix.shape[1]
            width = matrix.shape[1] or 1  # a shard of null embeddings only: any width, no rows
            value = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), width)
        else:
            value = pa.array(_hash_values(values, shard, config.column)[present], pa.uint64())
        key = config.keep.values(batch, pa.nulls(n, pa.large_string())).take(picked)
        docs = doc_keys(shard.index, first_row, n)[present]
        ids = batch_ids(batch, shard, first_row, config.read).take(picked)
        tables.append(pa.table({"doc": pa.array(docs), "id": ids, "key": key, "value": value}))
        first_row += n
    table = pa.concat_tables(tables, promote_options="permissive") if tables else None
    if table is None:
        table = pa.table({"doc": pa.array([], pa.uint64()), "id": pa.array([], pa.string())})
    write_table_atomically(plan.workspace.root, collected_name(shard.index), table)
    stats = {"rows": counters.rows, "null_values": nulls, "dimension": dimension}
    return stats, [plan.workspace.root / collected_name(shard.index)]


def _similarities(values: np.ndarray, by: str, rows: np.ndarray, leaders: np.ndarray) -> np.ndarray:
    """Each row's similarity to its leader: 1 - Hamming / 64, or the cosine (unit rows)."""
    if by == "embedding":
        from curate.dedup.images.knn import pair_cosines

        return pair_cosines(values, rows, leaders).astype(np.float64)
    return 1.0 - popcount64(values[rows] ^ values[leaders]) / HASH_BITS


def read_collected(root: Path, shards: list[InputShard], by: str) -> tuple[pa.Table | None, np.ndarray]:
    """The collect phase's output: every row's keys as one table (None: no rows), and the values
    as the search takes them (unit float32 rows, or uint64 hashes). Read one shard at a time and
    copied into one array, so all values never exist in Arrow as well (for 1M 512-d embeddings,
    2 GiB that Arrow's allocator would keep)."""
    from curate.dedup.images.knn import copy_rows, normalise_in_place

    paths = [root / collected_name(shard.index) for shard in shards]
    counts = [pq.ParquetFile(path).metadata.num_rows for path in paths]
    keys: list[pa.Table] = []
    values = np.zeros(0, dtype=np.uint64)
    row = 0
    for path, count in zip(paths, counts, strict=True):
        if not count:
            continue
        collected = pq.read_table(path)
        column = collected.column("value")
        if by == "embedding":
            if not keys:
                values = np.empty((sum(counts), column.type.list_size), dtype=np.float32)
            copy_rows(values[row : row + count], column)
        else:
            if not keys:
                values = np.empty(sum(counts), dtype=np.uint64)
            values[row : row + count] = column.to_numpy()
        keys.append(collected.drop_columns(["value"]))
        row += count
    if by == "embedding" and keys:
        normalise_in_place(values)
    # What the collect phase and these reads allocated, Arrow's allocator would otherwise keep
    # (measured: ~0.5 GiB at 200k 512-d embeddings) while the search allocates its index.
    pa.default_memory_pool().release_unused()
    return (pa.concat_tables(keys, promote_options="permissive") if keys else None), values


def resolve_task(plan: ImagePlan, index: int) -> tuple[dict[str, Any], list[Path]]:
    """Pairs → components → the --keep rule's best member of each survives."""
    root = plan.workspace.root
    config = plan.config
    table, values = read_collected(root, plan.active_shards, config.by)
    if table is None or table.num_rows < 2:
        decisions = DECISION_SCHEMA.empty_table()
        pairs = 0
    else:
        if config.by == "embedding":
            from curate.dedup.images.knn import cosine_pairs

            i, j = cosine_pairs(
                values, config.threshold, neighbours=config.neighbours, exact_max=config.exact_max, nprobe=config.nprobe
            )
        else:
            # The only task of its phase (one decision partition): the probes use every core.
            from curate.pipelines.cpus import available_cpus

            i, j = hamming_pairs(values, config.max_distance, threads=available_cpus())
        pairs = len(i)
        nodes, roots = kernel.connected_components(i.astype(np.uint64), j.astype(np.uint64))
        members = table.take(pa.array(nodes.astype(np.int64)))
        members = members.append_column("cluster", pa.array(roots))
        members = members.append_column("row", pa.array(nodes.astype(np.int64)))
        members = members.take(
            config.keep.priority_order(members, group="cluster", key="key", id_column="id", doc="doc")
        )
        clusters = members.column("cluster").to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], clusters[1:] != clusters[:-1]])) if len(clusters) else []
        offsets = np.append(starts, len(clusters)).astype(np.int64)
        leaders = group_leaders(offsets)
        rows = members.column("row").to_numpy()
        similarity = _similarities(values, config.by, rows, rows[leaders])
        decisions = decisions_from_leaders(members.select(["doc", "id"]), leaders, similarity)
    outputs = write_decisions_by_shard(root, decisions, 0, plan.active_shards)
    removed = int(np.count_nonzero(decisions.column("removed").to_numpy(zero_copy_only=False)))
    groups = len(pc.unique(decisions.column("dup_cluster").drop_null())) if decisions.num_rows else 0
    return {"removed": removed, "clusters": groups, "pairs": pairs}, outputs


PHASES = [
    Phase("collect", "map", collect_task, quarantine=True),
    Phase("resolve", "single", resolve_task),
]


@dataclass(frozen=True)
class ImageDedupStage(GlobalStage):
    config: ImageDedupConfig

    name = "images"
    summary = "Near-duplicate images by perceptual hash (Hamming) or embedding (cosine kNN)."
    extra = "images"

    @property
    def extra_modules(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("faiss",) if self.config.by == "embedding" else ()

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        keep = (self.config.keep.column,) if self.config.keep.column else ()
        return (self.config.column, *keep)

    def fingerprint_fields(self) -> dict[str, object]:
        return self.config.fingerprint_fields()

    def check_input(self, unified: pa.Schema | None, shards: list[InputShard]) -> None:
        config = self.config
        if unified is not None and config.column not in unified.names:
            making = "curate embed images" if config.by == "embedding" else "curate hash images"
            raise UsageError(
                f"--by {config.by}: no column {config.column!r} in the input (columns: {unified.names}); "
                f"add it with `{making}` first"
            )
        config.keep.require_column(unified)

    def after_phase(self, name: str, stats: dict[str, dict[str, Any]]) -> None:
        if name == "collect" and self.config.by == "embedding":
            require_one_dimension(self.config.column, stats)

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> ImagePlan:
        return ImagePlan(**base, config=self.config)

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: ImagePlan) -> MapStage:
        return DecisionsApply(plan)

    def counters(
        self, plan: ImagePlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        resolve = stats["resolve"].values()
        return {
            f"removed:{plan.reason}": apply["body"]["rows_removed"],
            "clusters": sum(s["clusters"] for s in resolve),
            "pairs": sum(s["pairs"] for s in resolve),
            "null_values": sum(s.get("null_values", 0) for s in stats["collect"].values()),
        }

    def manifest_fields(self, plan: ImagePlan, stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        return {}


def run_image_dedup(config: ImageDedupConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    return run_global_stage(ImageDedupStage(config), config.read, input_location, output, options)
