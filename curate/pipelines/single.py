"""Running one stage as its own command (``curate filter c4 IN OUT``, ``curate dedup exact IN OUT``).

Both are the general machinery with one stage: a map stage is a fused group of one; a
global stage runs its phases, then its apply stage as a fused group of one. The manifest
says what the stage reports (its counters), as it always has.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from curate.faults import fault_point
from curate.io.layout import REJECTS
from curate.io.readers import ReadOptions
from curate.pipelines.fingerprint import stage_fields
from curate.pipelines.map_runner import ChainPlan, StageTally, chain_task
from curate.pipelines.phases import quarantined_shards, run_phase
from curate.pipelines.plan import base_fields, inspect_inputs
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.stage import GlobalStage, MapStage, Phase
from curate.pipelines.summary import StageSummary, output_body, quarantine_list

APPLY_PHASE = "map"


def chain_phase(name: str = APPLY_PHASE, *, quarantine: bool = True) -> Phase:
    return Phase(name, "map", chain_task, quarantine=quarantine)


def filter_counters(tally: StageTally, *, annotate: bool) -> dict[str, Any]:
    """A filter's or modifier's manifest counters: drops (or flags) per reason, changes, extras."""
    prefix = "flagged" if annotate else "dropped"
    reasons = tally.flagged if annotate else tally.dropped
    counters: dict[str, Any] = {f"{prefix}:{reason}": count for reason, count in sorted(reasons.items())}
    counters.update({f"changed:{kind}": count for kind, count in sorted(tally.changes.items())})
    counters.update({f"counted:{name}": count for name, count in sorted(tally.counted.items())})
    return counters


def run_map_stage(
    stage: MapStage,
    label: str,
    config_fields: dict[str, Any],
    read: ReadOptions,
    input_location: str,
    output: Path,
    options: RunOptions,
    counters: Callable[[StageTally], dict[str, Any]],
) -> StageSummary:
    stage.check_installed()
    with StageRun(label, input_location, output, config_fields, options, source=stage.source) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        inputs, quarantined = inspect_inputs(run.shards, read, options.skip_bad_shards, run.workspace)
        plan = ChainPlan(
            **base_fields(run, inputs, quarantined, options.skip_bad_shards),
            read=read,
            stages=(stage,),
            kept_root=output,
            reject_dirs=(REJECTS,),
        )
        stats = run_phase(run, chain_phase(), plan)
        quarantined.update(quarantined_shards(stats))
        finished = {key: value for key, value in stats.items() if "quarantined" not in value}
        body = output_body(output, finished)
        tally = StageTally.total([value["stages"][0] for value in finished.values()])
        manifest_counters = counters(tally)
        manifest_counters["invalid_utf8_rows"] = sum(v.get("invalid_utf8_rows", 0) for v in finished.values())
        manifest = run.finish(
            {
                **body,
                "counters": manifest_counters,
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)


def run_global_phases(
    run: StageRun, stage: GlobalStage, plan: Any, quarantined: dict[int, str], *, prefix: str = ""
) -> tuple[Any, dict[str, dict[str, dict[str, Any]]]]:
    """Run every phase but the apply; return the plan (without quarantined shards) and the
    stats of each phase by name."""
    stats: dict[str, dict[str, dict[str, Any]]] = {}
    for phase in stage.phases():
        if phase.when is not None and not phase.when(plan):
            continue
        stats[phase.name] = run_phase(run, phase, plan, marker_phase=prefix + phase.name)
        fault_point(f"phase:{prefix}{phase.name}")
        stage.after_phase(phase.name, stats[phase.name])
        if phase.quarantine:
            quarantined.update(quarantined_shards(stats[phase.name]))
            plan = plan.without(quarantined)
    return plan, stats


def run_global_stage(
    stage: GlobalStage, read: ReadOptions, input_location: str, output: Path, options: RunOptions
) -> StageSummary:
    stage.check_installed()
    with StageRun(stage.stage_label, input_location, output, stage_fields(stage, read), options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        inputs, quarantined = inspect_inputs(run.shards, read, options.skip_bad_shards, run.workspace)
        stage.check_input(inputs.unified, run.shards)
        base = base_fields(run, inputs, quarantined, options.skip_bad_shards)
        plan = stage.make_plan(base, sum(s.size for s in run.shards))
        plan, stats = run_global_phases(run, stage, plan, quarantined)
        chain = ChainPlan(
            **base_fields(run, inputs, quarantined, options.skip_bad_shards),
            read=read,
            stages=(stage.apply_stage(plan),),
            kept_root=output,
            reject_dirs=(REJECTS,),
        )
        apply_stats = run_phase(run, chain_phase(stage.apply_phase, quarantine=False), chain)
        fault_point(f"phase:{stage.apply_phase}")
        body = output_body(output, apply_stats)
        tally = StageTally.total([value["stages"][0] for value in apply_stats.values()])
        manifest = run.finish(
            {
                **body,
                "counters": stage.counters(plan, stats, {"tally": tally, "body": body}),
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
                **stage.manifest_fields(plan, stats),
            }
        )
        return StageSummary(manifest, reused=False)
