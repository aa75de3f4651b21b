"""Running a text stage (filter or modifier) over a dataset: a fused group of one map stage.

Filters write kept rows to ``part-NNNNN.parquet`` and dropped rows to ``_rejects/`` with
``_stage`` and ``_reason``; with ``annotate`` they drop nothing and add their statistics as
columns instead. Modifiers rewrite the text column and count what they changed. Counters
per reason (``dropped:<reason>``) or per kind go to the manifest.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from curate.filters.base import TextFilter, TextStage
from curate.io.readers import ReadOptions
from curate.pipelines.fingerprint import file_digests
from curate.pipelines.runner import RunOptions
from curate.pipelines.single import filter_counters, run_map_stage
from curate.pipelines.summary import StageSummary


def text_stage_fields(stage: TextStage, read: ReadOptions) -> dict[str, Any]:
    """What a text stage's manifest says of its configuration (and its fingerprint covers)."""
    annotate = isinstance(stage, TextFilter) and stage.annotate
    fields: dict[str, Any] = {
        "stage": stage.name,
        "config": stage.config(),
        "annotate": annotate,
        "text_column": read.text_column,
    }
    if stage.files():
        fields["files"] = file_digests(stage.files())
    return fields


def run_text_stage(
    stage: TextStage, read: ReadOptions, input_location: str, output: Path, options: RunOptions, *, annotate: bool
) -> StageSummary:
    if isinstance(stage, TextFilter) and stage.annotate != annotate:
        stage = dataclasses.replace(stage, annotate=annotate)
    return run_map_stage(
        stage,
        stage.stage_label,
        text_stage_fields(stage, read),
        read,
        input_location,
        output,
        options,
        lambda tally: filter_counters(tally, annotate=annotate),
    )
