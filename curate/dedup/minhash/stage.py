"""``dedup minhash`` as a global stage: its phases as data, then the shared decisions apply."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.dedup.filtering import DecisionsApply
from curate.dedup.index.probe import INDEX_REASON, probe_task
from curate.dedup.minhash.candidates import candidate_task
from curate.dedup.minhash.clusters import gather_task, resolve_task
from curate.dedup.minhash.components import components_task
from curate.dedup.minhash.config import REASON, STAGE_NAME, MinHashConfig, MinHashPlan
from curate.dedup.minhash.signatures import signature_task
from curate.dedup.unique_ids import PHASE as ID_PHASE
from curate.dedup.unique_ids import duplicate_ids_task
from curate.dedup.unique_ids import summarize as summarize_ids
from curate.errors import UsageError
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.pipelines.plan import partitions_for
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import run_global_stage
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary

log = logging.getLogger(__name__)

# Each document leaves ~16 bytes of bucket rows per band.
BAND_ROW_BYTES = 16


def _bands(plan: MinHashPlan) -> int:
    return plan.band_partitions


def _clusters(plan: MinHashPlan) -> int:
    return plan.cluster_partitions


def _has_index(plan: MinHashPlan) -> bool:
    return bool(plan.config.index)


PHASES = [
    Phase("signatures", "map", signature_task, quarantine=True),
    Phase("index_probe", "single", probe_task, key="all", when=_has_index),
    Phase(ID_PHASE, "reduce", duplicate_ids_task, count=_bands, prefix="i"),
    Phase("candidates", "reduce", candidate_task, count=_bands, prefix="p"),
    Phase("components", "single", components_task, key="all"),
    Phase("gather", "map", gather_task),
    Phase("resolve", "reduce", resolve_task, count=_clusters, prefix="q"),
]


@dataclass(frozen=True)
class MinHashStage(GlobalStage):
    """signatures (map) → duplicate ids (reduce) → candidate edges (reduce per band partition) → connected components
    (single) → gather clusters (map) → resolve survivors (reduce per cluster partition) →
    apply decisions (map stage)."""

    config: MinHashConfig

    name = "minhash"
    summary = "MinHash-LSH near-duplicate removal."

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        keep = (self.config.keep.column,) if self.config.keep.column else ()
        return (read.text_column, *keep)

    def fingerprint_fields(self) -> dict[str, object]:
        return self.config.fingerprint_fields()

    def check_input(self, unified: pa.Schema | None, shards: list[InputShard]) -> None:
        self.config.keep.require_column(unified)
        read = self.config.read
        if self.config.index and not self.config.index_generation:
            raise UsageError("--index needs its index session (the `dedup minhash` command or `curate run` opens it)")
        if self.config.index and unified is not None and read.id_column not in unified.names:
            raise UsageError(
                f"--index needs a stable id column: no column {read.id_column!r} in the input "
                "(pass --id-column; a derived id names a position, not a document)"
            )

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> MinHashPlan:
        partitions = partitions_for(input_bytes, self.config.bands * BAND_ROW_BYTES)
        return MinHashPlan(**base, config=self.config, band_partitions=partitions, cluster_partitions=partitions)

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: MinHashPlan) -> MapStage:
        return DecisionsApply(plan)

    def counters(
        self, plan: MinHashPlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        signatures = stats["signatures"].values()
        of_index = stats["index_probe"]["all"]["index_matches"] if "index_probe" in stats else 0
        index_counters = {f"removed:{INDEX_REASON}": of_index} if self.config.index else {}
        return {
            f"removed:{REASON}": apply["body"]["rows_removed"] - of_index,
            **index_counters,
            "clusters": sum(s["clusters"] for s in stats["resolve"].values()),
            "candidate_edges": sum(s["edges"] for s in stats["candidates"].values()),
            "clustered_docs": stats["components"]["all"]["clustered_docs"],
            "empty_docs": sum(s.get("empty_docs", 0) for s in signatures),
            "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in signatures),
        }

    def manifest_fields(self, plan: MinHashPlan, stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        similarity = "exact_jaccard" if self.config.verify else "estimated_jaccard"
        return {**summarize_ids(stats[ID_PHASE], plan.shards), "similarity": similarity}


def run_minhash(config: MinHashConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    return run_global_stage(MinHashStage(config), config.read, input_location, output, options)
