"""``dedup semantic`` as a global stage (SemDeDup, Abbas et al., "SemDeDup: Data-efficient
learning at web-scale through semantic deduplication", 2023; reimplemented from the paper):

1. **collect** (map, per shard): the collect phase of ``dedup images --by embedding`` (doc key,
   id, --keep value, embedding; NaN or a wrong dimension is bad input).
2. **resolve** (single task): spherical k-means (faiss, seeded) over the unit embeddings; within
   each cluster every pair with cosine >= 1 - eps (an exact faiss range search over that
   cluster); connected components; one survivor per component: by default the member farthest
   from its centroid (lowest cosine to it), as the paper keeps, or a --keep rule.
3. **apply**: kept rows to ``part-*``, the others to ``OUT.curate/rejects/`` with ``dup_of``,
   ``similarity``, ``dup_cluster``, ``dup_cluster_size`` and ``_reason semantic:duplicate``.

One difference from the paper's procedure: the paper walks each cluster's members in order
(farthest from the centroid first) and drops a member if any member before it is within eps;
curate joins duplicates transitively (components) and keeps one per component, so in a chain
a ~ b ~ c where a and c are not within eps, the paper may keep a and c, curate keeps one of the
three. Pairs never cross k-means clusters (the paper's approximation: duplicates split by a
cluster boundary are missed).

Memory of resolve: the embeddings (4 d bytes each: 1.5 GiB for 1M x 384) plus the largest
cluster's flat index (a copy of its vectors) and its range-search results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from curate import kernel
from curate.dedup.decisions import DECISION_SCHEMA, decisions_from_leaders, write_decisions_by_shard
from curate.dedup.filtering import DecisionsApply
from curate.dedup.images.knn import faiss_module, normalised, pair_cosines
from curate.dedup.images.stage import collect_task, read_collected, require_one_dimension
from curate.dedup.keep import KeepRule
from curate.dedup.semantic.config import FARTHEST, STAGE_NAME, SemanticDedupConfig, SemanticPlan
from curate.dedup.survivors import group_leaders
from curate.errors import UsageError
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import run_global_stage
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary


def semantic_collect_task(plan: SemanticPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    return collect_task(plan.image_plan(), shard_index)


def kmeans(
    vectors: NDArray[np.float32], clusters: int, iterations: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Each row's cluster and its cosine to that cluster's centroid (spherical k-means:
    centroids renormalised, rows assigned by inner product)."""
    faiss = faiss_module()
    n, dimension = vectors.shape
    if clusters <= 1:
        centroid = normalised(vectors.mean(axis=0, keepdims=True))
        return np.zeros(n, dtype=np.int64), (vectors @ centroid[0]).astype(np.float32)
    model = faiss.Kmeans(dimension, clusters, niter=iterations, seed=0, spherical=True, verbose=False)  # type: ignore[attr-defined]
    model.train(vectors)
    index = faiss.IndexFlatIP(dimension)  # type: ignore[attr-defined]
    index.add(np.ascontiguousarray(model.centroids, dtype=np.float32))
    scores, labels = index.search(vectors, 1)
    return labels[:, 0].astype(np.int64), scores[:, 0].astype(np.float32)


def cluster_pairs(
    vectors: NDArray[np.float32], labels: NDArray[np.int64], threshold: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row pairs (i < j) of the same cluster whose cosine is >= ``threshold``: an exact range
    search per cluster, verified on the exact inner product."""
    faiss = faiss_module()
    found_i: list[NDArray[np.int64]] = []
    found_j: list[NDArray[np.int64]] = []
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        block = np.ascontiguousarray(vectors[members])
        index = faiss.IndexFlatIP(block.shape[1])  # type: ignore[attr-defined]
        index.add(block)
        # faiss returns inner products strictly above the radius, in float32.
        limits, _, neighbours = index.range_search(block, float(np.float32(threshold) - np.float32(1e-6)))
        rows = np.repeat(np.arange(len(members)), np.diff(limits.astype(np.int64)))
        keep = rows < neighbours
        found_i.append(members[rows[keep]])
        found_j.append(members[neighbours[keep]])
    if not found_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    i, j = np.minimum(i, j), np.maximum(i, j)
    exact = pair_cosines(vectors, i, j) >= threshold - 1e-6
    return i[exact].astype(np.int64), j[exact].astype(np.int64)


def resolve_task(plan: SemanticPlan, index: int) -> tuple[dict[str, Any], list[Path]]:
    """k-means → pairs within clusters → components → the --keep rule's member survives."""
    root = plan.workspace.root
    config = plan.config
    table, vectors = read_collected(root, plan.active_shards, "embedding")
    pairs, clusters = 0, 0
    if table is None or table.num_rows < 2:
        decisions = DECISION_SCHEMA.empty_table()
    else:
        clusters = config.cluster_count(len(vectors))
        labels, centroid_cosine = kmeans(vectors, clusters, config.iterations)
        i, j = cluster_pairs(vectors, labels, config.threshold)
        pairs = len(i)
        nodes, roots = kernel.connected_components(i.astype(np.uint64), j.astype(np.uint64))
        members = table.take(pa.array(nodes.astype(np.int64)))
        keep = config.keep
        if keep.kind == FARTHEST:
            # Lowest cosine to the centroid first: the paper's survivor.
            members = members.set_column(
                members.schema.get_field_index("key"), "key", pa.array(centroid_cosine[nodes.astype(np.int64)])
            )
            keep = KeepRule("min", "key")
        members = members.append_column("component", pa.array(roots))
        members = members.append_column("row", pa.array(nodes.astype(np.int64)))
        members = members.take(keep.priority_order(members, group="component", key="key", id_column="id", doc="doc"))
        components = members.column("component").to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], components[1:] != components[:-1]]))
        leaders = group_leaders(np.append(starts, len(components)).astype(np.int64))
        rows = members.column("row").to_numpy()
        similarity = pair_cosines(vectors, rows, rows[leaders]).astype(np.float64)
        decisions = decisions_from_leaders(members.select(["doc", "id"]), leaders, similarity)
    outputs = write_decisions_by_shard(root, decisions, 0, plan.active_shards)
    removed = int(np.count_nonzero(decisions.column("removed").to_numpy(zero_copy_only=False)))
    groups = len(pc.unique(decisions.column("dup_cluster").drop_null())) if decisions.num_rows else 0
    return {"removed": removed, "groups": groups, "pairs": pairs, "kmeans_clusters": clusters}, outputs


PHASES = [
    Phase("collect", "map", semantic_collect_task, quarantine=True),
    Phase("resolve", "single", resolve_task),
]


@dataclass(frozen=True)
class SemanticDedupStage(GlobalStage):
    config: SemanticDedupConfig

    name = "semantic"
    summary = "Semantic near-duplicates (SemDeDup): k-means, then cosine >= 1 - eps within each cluster."
    extra = "semantic"
    extra_modules = ("faiss",)

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        keep = (self.config.keep.column,) if self.config.keep.column else ()
        return (self.config.column, *keep)

    def fingerprint_fields(self) -> dict[str, object]:
        return self.config.fingerprint_fields()

    def check_input(self, unified: pa.Schema | None, shards: list[InputShard]) -> None:
        if unified is not None and self.config.column not in unified.names:
            raise UsageError(
                f"no column {self.config.column!r} in the input (columns: {unified.names}); "
                "add it with `curate embed text` first"
            )
        self.config.keep.require_column(unified)

    def after_phase(self, name: str, stats: dict[str, dict[str, Any]]) -> None:
        if name == "collect":
            require_one_dimension(self.config.column, stats)

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> SemanticPlan:
        return SemanticPlan(**base, config=self.config)

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: SemanticPlan) -> MapStage:
        return DecisionsApply(plan)

    def counters(
        self, plan: SemanticPlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        resolve = list(stats["resolve"].values())
        return {
            f"removed:{plan.reason}": apply["body"]["rows_removed"],
            "groups": sum(s["groups"] for s in resolve),
            "pairs": sum(s["pairs"] for s in resolve),
            "kmeans_clusters": sum(s["kmeans_clusters"] for s in resolve),
            "null_values": sum(s.get("null_values", 0) for s in stats["collect"].values()),
        }


def run_semantic_dedup(
    config: SemanticDedupConfig, input_location: str, output: Path, options: RunOptions
) -> StageSummary:
    config.validate()
    return run_global_stage(SemanticDedupStage(config), config.read, input_location, output, options)
