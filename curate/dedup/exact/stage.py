"""Running ``curate dedup exact``: plan, phases, manifest."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.dedup.exact.config import STAGE_NAME, ExactConfig, ExactPlan
from curate.dedup.exact.hashing import hash_task
from curate.dedup.exact.resolve import resolve_task
from curate.dedup.filtering import filter_task
from curate.errors import UsageError
from curate.io.schema import check_input_schemas
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

# Hash rows are ~48 bytes per document; aim partitions at this many bytes.
PARTITION_TARGET_BYTES = 256 << 20


def partitions_for(total_input_bytes: int) -> int:
    estimated_docs = max(1, total_input_bytes // 3000)
    return max(2, min(4096, math.ceil(estimated_docs * 48 / PARTITION_TARGET_BYTES)))


def run_exact(config: ExactConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schemas = check_input_schemas(run.shards, config.read, skip_bad=options.skip_bad_shards)
        unified = schemas.unified
        if unified is not None and config.column not in unified.names:
            raise UsageError(f"--on {config.on}: no column {config.column!r} in the input (columns: {unified.names})")
        if unified is not None and config.keep.column and config.keep.column not in unified.names:
            raise UsageError(f"--keep {config.keep}: no column {config.keep.column!r} in the input")
        quarantined = dict(schemas.unreadable)
        plan = ExactPlan(
            config=config,
            workspace=run.workspace,
            shards=tuple(run.shards),
            partitions=partitions_for(sum(s.size for s in run.shards)),
            output_schema=unified,
            skip_bad_shards=options.skip_bad_shards,
            active=frozenset(s.index for s in run.shards if s.index not in quarantined),
        )

        def shard_tasks() -> list[tuple[str, Any]]:
            return [(f"s{s.index:05d}", (plan, s.index)) for s in plan.active_shards]

        hash_stats = run.run_phase("hashes", hash_task, shard_tasks())
        quarantined.update(quarantined_shards(hash_stats))
        plan = replace(plan, active=frozenset(i for i in plan.active if i not in quarantined))
        resolve_stats = run.run_phase(
            "resolve", resolve_task, [(f"q{q:04d}", (plan, q)) for q in range(plan.partitions)]
        )
        filter_stats = run.run_phase("filter", filter_task, shard_tasks())
        body = output_body(output, filter_stats)
        manifest = run.finish(
            {
                **body,
                "counters": {
                    f"removed:{plan.reason}": body["rows_rejected"],
                    "clusters": sum(s["clusters"] for s in resolve_stats.values()),
                    "null_values": sum(s.get("null_values", 0) for s in hash_stats.values()),
                    "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in hash_stats.values()),
                },
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)
