"""Running ``curate dedup lines``: plan, phases, manifest."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesConfig, LinesPlan
from curate.dedup.lines.counting import count_task, frequent_task, sum_sketches_task
from curate.dedup.lines.rewriting import rewrite_task
from curate.io.schema import check_input_schemas
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

# Partial count rows are ~24 bytes; a ~3 KB document has ~40 lines.
PARTITION_TARGET_BYTES = 256 << 20


def partitions_for(total_input_bytes: int) -> int:
    estimated_lines = max(1, total_input_bytes // 75)
    return max(2, min(4096, math.ceil(estimated_lines * 24 / PARTITION_TARGET_BYTES)))


def run_lines(config: LinesConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schemas = check_input_schemas(run.shards, config.read, skip_bad=options.skip_bad_shards)
        quarantined = dict(schemas.unreadable)
        plan = LinesPlan(
            config=config,
            workspace=run.workspace,
            shards=tuple(run.shards),
            partitions=partitions_for(sum(s.size for s in run.shards)),
            output_schema=schemas.unified,
            skip_bad_shards=options.skip_bad_shards,
            active=frozenset(s.index for s in run.shards if s.index not in quarantined),
        )

        def shard_tasks() -> list[tuple[str, Any]]:
            return [(f"s{s.index:05d}", (plan, s.index)) for s in plan.active_shards]

        count_stats = run.run_phase("count", count_task, shard_tasks())
        quarantined.update(quarantined_shards(count_stats))
        plan = replace(plan, active=frozenset(i for i in plan.active if i not in quarantined))
        if config.approx:
            frequent_stats = run.run_phase("frequent", sum_sketches_task, [("sketch", (plan, 0))])
        else:
            frequent_stats = run.run_phase(
                "frequent", frequent_task, [(f"p{p:04d}", (plan, p)) for p in range(plan.partitions)]
            )
        rewrite_stats = run.run_phase("rewrite", rewrite_task, shard_tasks())
        body = output_body(output, rewrite_stats)
        segments = sum(s.get("segments", 0) for s in count_stats.values())
        counters: dict[str, Any] = {
            f"removed:{TOO_SHORT}": body["rows_rejected"],
            "segments": segments,
            f"{config.unit}s_removed": sum(s["segments_removed"] for s in rewrite_stats.values()),
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
