"""Running ``curate dedup minhash``: plan the phases, run them, write the manifest."""

from __future__ import annotations

import logging
from pathlib import Path

from curate.dedup.filtering import filter_task
from curate.dedup.minhash.candidates import candidate_task
from curate.dedup.minhash.clusters import gather_task, resolve_task
from curate.dedup.minhash.components import components_task
from curate.dedup.minhash.config import STAGE_NAME, MinHashConfig, MinHashPlan
from curate.dedup.minhash.signatures import signature_task
from curate.dedup.unique_ids import PHASE as ID_PHASE
from curate.dedup.unique_ids import duplicate_ids_task
from curate.dedup.unique_ids import summarize as summarize_ids
from curate.pipelines.plan import base_fields, inspect_inputs, partitions_for
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

log = logging.getLogger(__name__)

# Each document leaves ~16 bytes of bucket rows per band.
BAND_ROW_BYTES = 16


def run_minhash(config: MinHashConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schema, quarantined = inspect_inputs(run.shards, config.read, options.skip_bad_shards, run.workspace)
        config.keep.require_column(schema.unified)
        partitions = partitions_for(sum(s.size for s in run.shards), config.bands * BAND_ROW_BYTES)
        plan = MinHashPlan(
            **base_fields(run, schema, quarantined, options.skip_bad_shards),
            config=config,
            band_partitions=partitions,
            cluster_partitions=partitions,
        )

        signature_stats = run.run_phase("signatures", signature_task, plan.shard_tasks())
        quarantined.update(quarantined_shards(signature_stats))
        plan = plan.without(quarantined)
        id_stats = run.run_phase(ID_PHASE, duplicate_ids_task, plan.partition_tasks(plan.band_partitions, "i"))

        edge_stats = run.run_phase("candidates", candidate_task, plan.partition_tasks(plan.band_partitions, "p"))
        component_stats = run.run_phase("components", components_task, [("all", (plan, 0))])["all"]
        run.run_phase("gather", gather_task, plan.shard_tasks())
        resolve_stats = run.run_phase("resolve", resolve_task, plan.partition_tasks(plan.cluster_partitions))
        filter_stats = run.run_phase("filter", filter_task, plan.shard_tasks())

        body = output_body(output, filter_stats)
        manifest_body = {
            **body,
            "counters": {
                "removed:minhash:near_duplicate": body["rows_rejected"],
                "clusters": sum(s["clusters"] for s in resolve_stats.values()),
                "candidate_edges": sum(s["edges"] for s in edge_stats.values()),
                "clustered_docs": component_stats["clustered_docs"],
                "empty_docs": sum(s.get("empty_docs", 0) for s in signature_stats.values()),
                "invalid_utf8_rows": sum(s.get("invalid_utf8_rows", 0) for s in signature_stats.values()),
            },
            **summarize_ids(id_stats, plan.shards),
            "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            "similarity": "exact_jaccard" if config.verify else "estimated_jaccard",
        }
        manifest = run.finish(manifest_body)
        return StageSummary(manifest, reused=False)
