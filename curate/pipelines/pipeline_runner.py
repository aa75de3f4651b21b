"""Running a pipeline: fused passes between barriers, one output, one manifest.

Every group of the pipeline (``Pipeline.groups``) is one fused pass over the shards of
its input: the first group reads the pipeline's input; a group after a barrier reads the
dataset the group before it wrote to ``OUT.curate/work/pipeline/gNN/`` (a complete dataset with
its manifest in ``gNN.curate/``, byte-identical to what the single command of the shell chain
would write).
A barrier's phases run first, their intermediates under that group's ``gNN.curate/work/``; then its
apply stage and the map stages after it run as one pass. The last group writes
``OUT/part-NNNNN.parquet``.

Rejects: stage ``k`` of the pipeline writes its dropped rows to
``OUT.curate/rejects/KK-<stage>/part-NNNNN.parquet`` (``KK`` its position in the file, two
digits; ``<stage>`` the ``_stage`` of its rows, e.g. ``filter_c4``, ``dedup_minhash``), where
``part-NNNNN`` names the shard of that stage's input. These are byte for byte the
``OUT.curate/rejects/part-NNNNN.parquet`` of that stage's command in the equivalent shell chain.

With ``--keep-intermediate``, what stage ``k`` kept is also written as the dataset its command
would have written, ``OUT.curate/intermediate/KK-<stage>/`` (a fused stage writes it alongside the
pass; the last stage of a pass before a barrier has it already, in ``work/pipeline/``).

The whole run has one fingerprint (every stage's identity, the read options, the
inputs): markers of every phase of every group live under ``OUT.curate/work/markers/`` and a
killed run resumes shard by shard; a run whose pipeline changed meanwhile is refused
unless ``--overwrite``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from curate.io import layout
from curate.io.discovery import discover_inputs
from curate.io.manifest import write_manifest
from curate.pipelines.fingerprint import read_identity, stage_fields
from curate.pipelines.map_runner import ChainPlan, StageTally
from curate.pipelines.phases import quarantined_shards, run_phase
from curate.pipelines.pipeline import Group, Pipeline, PipelineStage
from curate.pipelines.plan import inspect_inputs
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.single import chain_phase, filter_counters, run_global_phases
from curate.pipelines.stage import MapStage
from curate.pipelines.summary import StageSummary, quarantine_list, schema_json
from curate.pipelines.workspace import Workspace

STAGE_NAME = "pipeline"


def pipeline_fields(pipeline: Pipeline, keep_intermediate: bool) -> dict[str, Any]:
    """The run's identity: the read options and, per stage, its path and what its own command's
    manifest would record (``fingerprint.stage_fields``: config, algorithm version, files)."""
    stages = [{"path": item.path, **stage_fields(item.stage, pipeline.read)} for item in pipeline.stages]
    fields: dict[str, Any] = {"read": read_identity(pipeline.read), "stages": stages}
    if keep_intermediate:  # it changes what the output holds
        fields["keep_intermediate"] = True
    return fields


def intermediate_dir(item: PipelineStage) -> str:
    """Where ``--keep-intermediate`` puts the dataset stage ``item`` wrote (its command's output)."""
    return f"{layout.INTERMEDIATE}/{item.position:02d}-{item.stage.stage_label}"


def group_directory(output: Path, index: int) -> Path:
    """The dataset group ``index`` writes when it is not the last: in the run's workspace."""
    return layout.work_dir(output) / "pipeline" / f"g{index:02d}"


def _marker_prefix(item: PipelineStage) -> str:
    return f"{item.position:02d}-{item.stage.stage_label}."


def indexed_stages(pipeline: Pipeline) -> list[PipelineStage]:
    """The stages with a persistent dedup index (``--index``)."""
    return [item for item in pipeline.stages if getattr(getattr(item.stage, "config", None), "index", "")]


def survivors_dir(pipeline: Pipeline, item: PipelineStage) -> Path:
    """Where the dataset ``item`` kept lies once the run is published: OUT for the last stage, else
    its intermediate (written for an indexed stage even without ``--keep-intermediate``: the index
    update reads its survivors there, after OUT is published, as it reads OUT after a command)."""
    if item is pipeline.stages[-1]:
        return pipeline.output
    return layout.state_dir(pipeline.output) / intermediate_dir(item)


def run_pipeline(pipeline: Pipeline, options: RunOptions, *, keep_intermediate: bool = False) -> StageSummary:
    output = pipeline.output
    kept_as_dataset = {item.position for item in indexed_stages(pipeline)}
    read = pipeline.read
    fields = pipeline_fields(pipeline, keep_intermediate)
    source = pipeline.stages[0].stage.source
    with StageRun(STAGE_NAME, pipeline.input_location, output, fields, options, source=source) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        inputs, quarantined = inspect_inputs(run.shards, read, options.skip_bad_shards, run.workspace)
        schema, read_schemas = inputs.unified, dict(inputs.read_schemas)
        shards = list(run.shards)
        groups = pipeline.groups()
        tallies: dict[int, StageTally] = {}
        barrier_counters: dict[int, dict[str, Any]] = {}
        barrier_fields: dict[int, dict[str, Any]] = {}
        rejects: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        rows_in = 0
        invalid_utf8 = 0
        for index, group in enumerate(groups, start=1):
            last = index == len(groups)
            root = output if last else group_directory(output, index)
            root.mkdir(parents=True, exist_ok=True)
            first = index == 1
            base = {
                "shards": tuple(shards),
                "output_schema": schema,
                "read_schemas": read_schemas if first else {},
                "skip_bad_shards": options.skip_bad_shards and first,
                "active": frozenset(s.index for s in shards if not (first and s.index in quarantined)),
            }
            stages: list[MapStage] = []
            plan = None
            phase_stats: dict[str, dict[str, dict[str, Any]]] = {}
            if group.barrier is not None:
                barrier = group.barrier.stage
                barrier.check_input(schema, shards)
                plan = barrier.make_plan(
                    {**base, "workspace": Workspace(layout.state_dir(root), run.fingerprint, root)},
                    sum(s.size for s in shards),
                )
                plan, phase_stats = run_global_phases(
                    run, barrier, plan, quarantined if first else {}, prefix=_marker_prefix(group.barrier)
                )
                if first:
                    base["active"] = plan.active
                stages.append(barrier.apply_stage(plan))
            stages += [item.stage for item in group.maps]
            chain = ChainPlan(
                workspace=run.workspace,
                **base,
                read=read,
                stages=tuple(stages),
                kept_root=root,
                reject_dirs=tuple(item.reject_dir for item in group.members),
                # The last member's output is the group's own (moved there at the end).
                keep_dirs=tuple(
                    intermediate_dir(item)
                    if (keep_intermediate or item.position in kept_as_dataset) and item is not group.members[-1]
                    else None
                    for item in group.members
                ),
            )
            phase = chain_phase(f"g{index:02d}.pass", quarantine=first and group.barrier is None)
            stats = run_phase(run, phase, chain)
            if first:
                quarantined.update(quarantined_shards(stats))
            finished = [value for value in stats.values() if "quarantined" not in value]
            if first:
                rows_in = sum(value["rows_in"] for value in finished)
            invalid_utf8 += sum(value.get("invalid_utf8_rows", 0) for value in finished)
            group_kept = []
            for value in finished:
                group_kept.extend(value["shards"])
                rejects.extend(value["rejects"])
            for position, item in enumerate(group.members):
                tallies[item.position] = StageTally.total([value["stages"][position] for value in finished])
                written = [
                    value["intermediate"][str(position)] for value in finished if str(position) in value["intermediate"]
                ]
                if written:
                    _write_dataset_manifest(run.state / intermediate_dir(item), written)
            if group.barrier is not None and plan is not None:
                body = {"rows_removed": tallies[group.barrier.position].removed}
                barrier_counters[group.barrier.position] = group.barrier.stage.counters(
                    plan, phase_stats, {"tally": tallies[group.barrier.position], "body": body}
                )
                barrier_fields[group.barrier.position] = group.barrier.stage.manifest_fields(plan, phase_stats)
            if last:
                kept = group_kept
            else:
                shards, schema = _publish_group(root, group_kept, read)
        rows_kept = sum(s["rows"] for s in kept)
        rows_removed = sum(s["rows"] for s in rejects)
        if rows_in != rows_kept + rows_removed:
            raise AssertionError(f"rows in {rows_in} != kept {rows_kept} + removed {rows_removed}")
        if keep_intermediate or kept_as_dataset:
            _keep_intermediate(output, groups, None if keep_intermediate else kept_as_dataset)
        import pyarrow.parquet as pq

        final_schema = pq.read_schema(output / kept[0]["name"]) if kept else None
        manifest = run.finish(
            {
                "shards": kept,
                "rejects": sorted(rejects, key=lambda s: s["name"]),
                "rows_in": rows_in,
                "rows_kept": rows_kept,
                "rows_removed": rows_removed,
                "schema": schema_json(final_schema),
                "stages": [
                    {**_stage_report(item, tallies, barrier_counters), **barrier_fields.get(item.position, {})}
                    for item in pipeline.stages
                ],
                "groups": [[item.position for item in group.members] for group in groups],
                "counters": {"invalid_utf8_rows": invalid_utf8},
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)


def _publish_group(root: Path, kept: list[dict[str, Any]], read: Any) -> tuple[list[Any], Any]:
    """Write the manifest of a barrier's input dataset and read it back as the next shards."""
    from curate.io.schema import check_input_schemas

    _write_dataset_manifest(root, kept)
    found, _ = discover_inputs(str(root))
    return found, check_input_schemas(found, read, skip_bad=False).unified


def _write_dataset_manifest(root: Path, shards: list[dict[str, Any]]) -> None:
    """A manifest listing ``shards`` (names relative to ``root``): a dataset later stages, or a
    later command, can read."""
    listed = sorted(shards, key=lambda s: s["name"])
    write_manifest(
        root, {"stage": "pipeline_intermediate", "shards": listed, "rows_kept": sum(s["rows"] for s in listed)}
    )


def _keep_intermediate(output: Path, groups: list[Group], only: set[int] | None = None) -> None:
    """Move each barrier's input dataset to ``OUT.curate/intermediate/KK-<stage>/`` (its manifest
    to ``KK-<stage>.curate/``), named after the stage ``KK`` that wrote it (the last of its fused
    pass): a dataset a later command can read. ``only``: just those of the stages at these positions."""
    for index, group in enumerate(groups[:-1], start=1):
        if only is not None and group.members[-1].position not in only:
            continue
        source = group_directory(output, index)
        target = layout.state_dir(output) / intermediate_dir(group.members[-1])
        for stale in (target, layout.state_dir(target)):
            if stale.exists():
                shutil.rmtree(stale)
        target.mkdir(parents=True)
        layout.state_dir(target).mkdir()
        for item in source.glob("part-*.parquet"):
            shutil.move(str(item), target / item.name)
        shutil.move(str(layout.manifest_path(source)), layout.manifest_path(target))


def _stage_report(
    item: PipelineStage, tallies: dict[int, StageTally], barrier_counters: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    tally = tallies.get(item.position, StageTally())
    report: dict[str, Any] = {
        "position": item.position,
        "stage": item.path,
        "label": item.stage.stage_label,
        "rejects": item.reject_dir,
        "rows_in": tally.rows_in,
        "rows_kept": tally.kept,
        "rows_removed": tally.removed,
        "dropped": dict(sorted(tally.dropped.items())),
        "flagged": dict(sorted(tally.flagged.items())),
        "changed": dict(sorted(tally.changes.items())),
        "counted": dict(sorted(tally.counted.items())),
    }
    if item.position in barrier_counters:
        report["counters"] = barrier_counters[item.position]
    else:
        report["counters"] = filter_counters(tally, annotate=bool(getattr(item.stage, "annotate", False)))
    return report
