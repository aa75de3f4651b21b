"""``dedup exact`` as a global stage: hashes (map) → [with --index: probe the index (single)] →
duplicate ids (reduce) → survivors (reduce) → apply decisions (a map stage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.dedup.exact.config import STAGE_NAME, ExactConfig, ExactPlan
from curate.dedup.exact.hashing import hash_task
from curate.dedup.exact.resolve import resolve_task
from curate.dedup.filtering import DecisionsApply
from curate.dedup.index.exact_probe import exact_probe_task
from curate.dedup.index.probe import index_reason
from curate.dedup.unique_ids import PHASE as ID_PHASE
from curate.dedup.unique_ids import duplicate_ids_task
from curate.dedup.unique_ids import summarize as summarize_ids
from curate.errors import UsageError
from curate.io.columns import has_column
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.pipelines.plan import partitions_for
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import run_global_stage
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary

# Hash rows are ~48 bytes per document.
HASH_ROW_BYTES = 48


def _partitions(plan: ExactPlan) -> int:
    return plan.partitions


def _has_index(plan: ExactPlan) -> bool:
    return bool(plan.config.index)


PHASES = [
    Phase("hashes", "map", hash_task, quarantine=True),
    Phase("index_probe", "single", exact_probe_task, key="all", when=_has_index),
    Phase(ID_PHASE, "reduce", duplicate_ids_task, count=_partitions, prefix="i"),
    Phase("resolve", "reduce", resolve_task, count=_partitions, prefix="q"),
]


@dataclass(frozen=True)
class ExactStage(GlobalStage):
    config: ExactConfig

    name = "exact"
    summary = "Exact duplicate removal by a 128-bit hash of the normalised text, URL or column."

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        keep = (self.config.keep.column,) if self.config.keep.column else ()
        return (read.text_column, self.config.column, *keep)

    def fingerprint_fields(self) -> dict[str, object]:
        return self.config.fingerprint_fields()

    def check_input(self, unified: pa.Schema | None, shards: list[InputShard]) -> None:
        config = self.config
        if unified is not None and not has_column(unified, config.column):
            raise UsageError(f"--on {config.on}: no column {config.column!r} in the input (columns: {unified.names})")
        config.keep.require_column(unified)
        if config.index and not config.index_generation:
            raise UsageError("--index needs its index session (the `dedup exact` command or `curate run` opens it)")
        if config.index and unified is not None and config.read.id_column not in unified.names:
            raise UsageError(
                f"--index needs a stable id column: no column {config.read.id_column!r} in the input "
                "(pass --id-column; a derived id names a position, not a document)"
            )

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> ExactPlan:
        return ExactPlan(**base, config=self.config, partitions=partitions_for(input_bytes, HASH_ROW_BYTES))

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: ExactPlan) -> MapStage:
        return DecisionsApply(plan)

    def counters(
        self, plan: ExactPlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        hashes = stats["hashes"].values()
        of_index = stats["index_probe"]["all"]["index_matches"] if "index_probe" in stats else 0
        index_counters = {f"removed:{index_reason(plan.reason)}": of_index} if self.config.index else {}
        return {
            f"removed:{plan.reason}": apply["body"]["rows_removed"] - of_index,
            **index_counters,
            "clusters": sum(s["clusters"] for s in stats["resolve"].values()),
            "null_values": sum(s.get("null_values", 0) for s in hashes),
            "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in hashes),
        }

    def manifest_fields(self, plan: ExactPlan, stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        return summarize_ids(stats[ID_PHASE], plan.shards)


def run_exact(config: ExactConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    return run_global_stage(ExactStage(config), config.read, input_location, output, options)
