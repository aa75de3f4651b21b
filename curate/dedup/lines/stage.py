"""Running ``curate dedup lines``: plan, phases, manifest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesConfig, LinesPlan
from curate.dedup.lines.counting import count_task, frequent_task, sum_sketches_task
from curate.dedup.lines.rewriting import rewrite_task
from curate.pipelines.plan import base_fields, inspect_inputs, partitions_for
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

# Partial count rows are ~24 bytes per line, ~40 lines per document.
COUNT_ROW_BYTES = 24 * 40


def run_lines(config: LinesConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schema, quarantined = inspect_inputs(run.shards, config.read, options.skip_bad_shards, run.workspace)
        plan = LinesPlan(
            **base_fields(run, schema, quarantined, options.skip_bad_shards),
            config=config,
            partitions=partitions_for(sum(s.size for s in run.shards), COUNT_ROW_BYTES),
        )
        count_stats = run.run_phase("count", count_task, plan.shard_tasks())
        quarantined.update(quarantined_shards(count_stats))
        plan = plan.without(quarantined)
        if config.approx:
            frequent_stats = run.run_phase("frequent", sum_sketches_task, [("sketch", (plan, 0))])
        else:
            frequent_stats = run.run_phase("frequent", frequent_task, plan.partition_tasks(plan.partitions, "p"))
        rewrite_stats = run.run_phase("rewrite", rewrite_task, plan.shard_tasks())
        body = output_body(output, rewrite_stats)
        segments = sum(s.get("segments", 0) for s in count_stats.values())
        counters: dict[str, Any] = {
            f"removed:{TOO_SHORT}": body["rows_rejected"],
            "segments": segments,
            plan.removed_column: sum(s["segments_removed"] for s in rewrite_stats.values()),
            "chars_removed": sum(s["chars_removed"] for s in rewrite_stats.values()),
            "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in count_stats.values()),
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
            counters["distinct_segments"] = sum(s["distinct"] for s in frequent_stats.values())
            counters["frequent_segments"] = sum(s["frequent"] for s in frequent_stats.values())
        manifest = run.finish(
            {
                **body,
                "counters": counters,
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)
