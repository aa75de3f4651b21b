"""``dedup lines`` as a global stage: count (map) → frequent segments (reduce, or one sketch sum)
→ rewrite (a map stage)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesConfig, LinesPlan
from curate.dedup.lines.counting import count_task, frequent_task, sum_sketches_task
from curate.dedup.lines.rewriting import LineRewrite
from curate.pipelines.plan import partitions_for
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import run_global_stage
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary

# Partial count rows are ~24 bytes per line, ~40 lines per document.
COUNT_ROW_BYTES = 24 * 40


def _partitions(plan: LinesPlan) -> int:
    return plan.partitions


def _exact(plan: LinesPlan) -> bool:
    return not plan.config.approx


def _approx(plan: LinesPlan) -> bool:
    return plan.config.approx


# Both counting variants write their markers under one phase name, "frequent".
PHASES = [
    Phase("count", "map", count_task, quarantine=True),
    Phase("frequent", "reduce", frequent_task, count=_partitions, prefix="p", when=_exact),
    Phase("frequent", "single", sum_sketches_task, key="sketch", when=_approx),
]


@dataclass(frozen=True)
class LinesStage(GlobalStage):
    config: LinesConfig

    name = "lines"
    summary = "Remove lines (or paragraphs) repeated across the dataset."
    apply_phase = "rewrite"

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def fingerprint_fields(self) -> dict[str, object]:
        return self.config.fingerprint_fields()

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> LinesPlan:
        return LinesPlan(**base, config=self.config, partitions=partitions_for(input_bytes, COUNT_ROW_BYTES))

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: LinesPlan) -> MapStage:
        return LineRewrite(plan)

    def counters(
        self, plan: LinesPlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        config = self.config
        count_stats = stats["count"].values()
        segments = sum(s.get("segments", 0) for s in count_stats)
        counted = apply["tally"].counted
        counters: dict[str, Any] = {
            f"removed:{TOO_SHORT}": apply["body"]["rows_removed"],
            "segments": segments,
            plan.removed_column: counted["segments_removed"],
            "chars_removed": counted["chars_removed"],
            "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in count_stats),
        }
        if config.approx:
            counters["sketch"] = {
                "width": config.sketch.width,
                "depth": config.sketch.depth,
                "bytes": config.sketch.bytes,
                "epsilon": config.sketch.epsilon,
                "delta": config.sketch.delta,
                "max_overcount": math.ceil(config.sketch.epsilon * segments),
            }
        else:
            counters["distinct_segments"] = sum(s["distinct"] for s in stats["frequent"].values())
            counters["frequent_segments"] = sum(s["frequent"] for s in stats["frequent"].values())
        return counters


def run_lines(config: LinesConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    return run_global_stage(LinesStage(config), config.read, input_location, output, options)
