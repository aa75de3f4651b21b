"""Running ``curate dedup exact``: plan, phases, manifest."""

from __future__ import annotations

from pathlib import Path

from curate.dedup.exact.config import STAGE_NAME, ExactConfig, ExactPlan
from curate.dedup.exact.hashing import hash_task
from curate.dedup.exact.resolve import resolve_task
from curate.dedup.filtering import filter_task
from curate.dedup.unique_ids import PHASE as ID_PHASE
from curate.dedup.unique_ids import duplicate_ids_task
from curate.dedup.unique_ids import summarize as summarize_ids
from curate.errors import UsageError
from curate.pipelines.plan import base_fields, inspect_inputs, partitions_for
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

# Hash rows are ~48 bytes per document.
HASH_ROW_BYTES = 48


def run_exact(config: ExactConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        inputs, quarantined = inspect_inputs(run.shards, config.read, options.skip_bad_shards, run.workspace)
        unified = inputs.unified
        if unified is not None and config.column not in unified.names:
            raise UsageError(f"--on {config.on}: no column {config.column!r} in the input (columns: {unified.names})")
        config.keep.require_column(unified)
        plan = ExactPlan(
            **base_fields(run, inputs, quarantined, options.skip_bad_shards),
            config=config,
            partitions=partitions_for(sum(s.size for s in run.shards), HASH_ROW_BYTES),
        )
        hash_stats = run.run_phase("hashes", hash_task, plan.shard_tasks())
        quarantined.update(quarantined_shards(hash_stats))
        plan = plan.without(quarantined)
        id_stats = run.run_phase(ID_PHASE, duplicate_ids_task, plan.partition_tasks(plan.partitions, "i"))
        resolve_stats = run.run_phase("resolve", resolve_task, plan.partition_tasks(plan.partitions))
        filter_stats = run.run_phase("filter", filter_task, plan.shard_tasks())
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
                **summarize_ids(id_stats, plan.shards),
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)
