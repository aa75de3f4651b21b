"""Running a text stage (filter or modifier) over a dataset: a fused group of one map stage.

Filters write kept rows to ``part-NNNNN.parquet`` and dropped rows to ``OUT.curate/rejects/`` with
``_stage`` and ``_reason``; with ``annotate`` they drop nothing and add their statistics as
columns instead. Modifiers rewrite the text column and count what they changed. Counters
per reason (``dropped:<reason>``) or per kind go to the manifest.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from curate.filters.base import TextFilter, TextStage
from curate.io.readers import ReadOptions
from curate.pipelines.fingerprint import stage_fields
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import filter_counters, run_map_stage
from curate.pipelines.summary import StageSummary


def run_text_stage(
    stage: TextStage, read: ReadOptions, input_location: str, output: Path, options: RunOptions, *, annotate: bool
) -> StageSummary:
    if isinstance(stage, TextFilter) and stage.annotate != annotate:
        stage = dataclasses.replace(stage, annotate=annotate)
    return run_map_stage(
        stage,
        stage.stage_label,
        stage_fields(stage, read),
        read,
        input_location,
        output,
        options,
        lambda tally: filter_counters(tally, annotate=annotate),
    )
