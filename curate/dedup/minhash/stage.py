"""Running ``curate dedup minhash``: plan the phases, run them, write the manifest."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.dedup.filtering import filter_task
from curate.dedup.minhash.candidates import candidate_task
from curate.dedup.minhash.clusters import gather_task, resolve_task
from curate.dedup.minhash.components import components_task
from curate.dedup.minhash.config import STAGE_NAME, MinHashConfig, MinHashPlan
from curate.dedup.minhash.signatures import signature_task
from curate.io.schema import check_input_schemas
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards

log = logging.getLogger(__name__)

# Band rows cost ~16 bytes per band per document; aim partitions at this many bytes.
BAND_PARTITION_TARGET_BYTES = 256 << 20
MAX_PARTITIONS = 4096


def partitions_for(total_input_bytes: int, bands: int) -> int:
    """Partition count from input size only (never from worker count), so a resumed run
    with other --workers finds the same partitions. ~3 KB per doc is assumed."""
    estimated_docs = max(1, total_input_bytes // 3000)
    band_bytes = estimated_docs * bands * 16
    return max(2, min(MAX_PARTITIONS, math.ceil(band_bytes / BAND_PARTITION_TARGET_BYTES)))


def run_minhash(config: MinHashConfig, input_location: str, output: Path, options: RunOptions) -> StageSummary:
    config.validate()
    with StageRun(STAGE_NAME, input_location, output, config.fingerprint_fields(), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schemas = check_input_schemas(run.shards, config.read, skip_bad=options.skip_bad_shards)
        quarantined: dict[int, str] = dict(schemas.unreadable)
        partitions = partitions_for(sum(s.size for s in run.shards), config.bands)
        plan = MinHashPlan(
            config=config,
            workspace=run.workspace,
            shards=tuple(run.shards),
            band_partitions=partitions,
            cluster_partitions=partitions,
            output_schema=schemas.unified,
            skip_bad_shards=options.skip_bad_shards,
            active=frozenset(s.index for s in run.shards if s.index not in quarantined),
        )

        def shard_tasks(p: MinHashPlan) -> list[tuple[str, Any]]:
            return [(f"s{s.index:05d}", (p, s.index)) for s in p.active_shards]

        def partition_tasks(p: MinHashPlan) -> list[tuple[str, Any]]:
            return [(f"q{q:04d}", (p, q)) for q in range(p.cluster_partitions)]

        signature_stats = run.run_phase("signatures", signature_task, shard_tasks(plan))
        quarantined.update(quarantined_shards(signature_stats))
        plan = replace(plan, active=frozenset(i for i in plan.active if i not in quarantined))

        edge_stats = run.run_phase(
            "candidates", candidate_task, [(f"p{q:04d}", (plan, q)) for q in range(plan.band_partitions)]
        )
        component_stats = run.run_phase("components", components_task, [("all", (plan, 0))])["all"]
        run.run_phase("gather", gather_task, shard_tasks(plan))
        resolve_stats = run.run_phase("resolve", resolve_task, partition_tasks(plan))
        filter_stats = run.run_phase("filter", filter_task, shard_tasks(plan))

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
            "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            "similarity": "exact_jaccard" if config.verify else "estimated_jaccard",
        }
        manifest = run.finish(manifest_body)
        return StageSummary(manifest, reused=False)
