"""``curate run PIPELINE.yaml``: a recipe of stages as one run; ``curate stages``: what a recipe may use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curate.commands.options import _option, execution_options, json_flag, run_options


@click.command()
@click.argument("pipeline_file", metavar="PIPELINE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_option(
    "--input",
    "input_location",
    envvar="CURATE_RUN_INPUT",
    default=None,
    help="Input dataset (overrides the file's 'input').",
)
@_option("--output", default=None, type=click.Path(file_okay=False), help="Output (overrides the file's 'output').")
@_option("--dry-run", is_flag=True, help="Check the pipeline and print its plan; run nothing.")
@_option(
    "--keep-intermediate",
    is_flag=True,
    help="Also write what each stage kept as its own dataset, OUT.curate/intermediate/KK-<stage>/.",
)
@execution_options
@click.pass_obj
def run(app: Any, pipeline_file: Path, **params: Any) -> None:
    """Run the stages listed in PIPELINE (YAML) as one job: IN to OUT.

    \b
    input: data/crawl                 # or --input
    output: data/clean                # or --output
    read: {text-column: text, id-column: id}
    stages:
      - filter gopher-quality: {}
      - filter c4: {remove-lines: false}
      - dedup exact: {}
      - dedup minhash: {threshold: 0.8, keep: longest}

    Each stage is a command path with that command's long options (see `curate stages`).
    Consecutive filters run fused, one read and one write per shard; a dedup stage is a
    barrier whose last phase fuses with the filters after it. Kept rows go to
    OUT/part-*.parquet; stage KK's rejects to OUT.curate/rejects/KK-<stage>/; the manifest counts
    rows in / kept / dropped per reason for every stage. The same output as the shell chain
    of the single commands, byte for byte. A killed run resumes shard by shard; a pipeline
    file edited before the resume is refused unless --overwrite.
    """
    from curate.pipelines.pipeline import parse_pipeline

    pipeline = parse_pipeline(
        pipeline_file, input_location=params["input_location"], output=params["output"], notice=app.notice
    )
    if params["dry_run"]:
        _print_plan(pipeline, params["as_json"])
        return
    from curate.pipelines.pipeline_runner import run_pipeline

    params["input_location"] = pipeline.input_location
    params["output"] = str(pipeline.output)
    options = run_options(params, app)
    keep = params["keep_intermediate"]
    if pipeline.publish_to is not None:
        from curate.errors import UsageError
        from curate.pipelines.pipeline_runner import indexed_stages

        if indexed_stages(pipeline):
            raise UsageError("--index needs a local OUT (the index is updated once OUT is published)")
        from curate.io.object_output import check_writable

        check_writable(pipeline.publish_to, params["overwrite"])
    summary = _run_indexed(pipeline, options, keep) or run_pipeline(pipeline, options, keep_intermediate=keep)
    if pipeline.publish_to is not None:
        from dataclasses import replace

        from curate.io.object_output import publish

        # Made in the local staging copy; now the store: object by object, the manifest last.
        if publish(pipeline.publish_to, pipeline.output, params["overwrite"]) and summary.reused:
            summary = replace(summary, reused=False)
        params["output"] = pipeline.publish_to
    _report(app, pipeline, params, summary)


def _run_indexed(pipeline: Any, options: Any, keep_intermediate: bool) -> Any:
    """A pipeline with a dedup stage that has ``--index``: the whole run inside that index's session
    (lock, recovery, the update after OUT is published), as the stage's own command runs. None when
    no stage has an index."""
    from dataclasses import replace

    from curate.dedup.index.session import IndexSession
    from curate.errors import UsageError
    from curate.pipelines.pipeline_runner import indexed_stages, run_pipeline, survivors_dir

    indexed = indexed_stages(pipeline)
    if not indexed:
        return None
    if len(indexed) > 1:
        where = ", ".join(f"{item.position} ({item.path})" for item in indexed)
        raise UsageError(f"one stage with --index per pipeline (stages {where}); run the others as commands")
    item = indexed[0]
    session = IndexSession(item.stage.config, pipeline.output, survivors_dir(pipeline, item))

    def run_with(stage: Any) -> Any:
        stages = tuple(replace(other, stage=stage) if other is item else other for other in pipeline.stages)
        return run_pipeline(replace(pipeline, stages=stages), options, keep_intermediate=keep_intermediate)

    return session.run(run_with, item.stage)


def _plan(pipeline: Any) -> dict[str, Any]:
    groups = []
    for index, group in enumerate(pipeline.groups(), start=1):
        groups.append(
            {
                "pass": index,
                "barrier": None
                if group.barrier is None
                else {"position": group.barrier.position, "stage": group.barrier.path},
                "fused": [{"position": item.position, "stage": item.path} for item in group.members],
                "reads": "input" if index == 1 else f"OUT.curate/work/pipeline/g{index - 1:02d}",
                "writes": "OUT" if index == len(pipeline.groups()) else f"OUT.curate/work/pipeline/g{index:02d}",
            }
        )
    return {
        "pipeline": pipeline.source,
        "input": pipeline.input_location,
        "output": str(pipeline.output),
        "read": {"text_column": pipeline.read.text_column, "id_column": pipeline.read.id_column},
        "stages": [
            {"position": item.position, "stage": item.path, "kind": item.entry.kind, "rejects": item.reject_dir}
            for item in pipeline.stages
        ],
        "passes": groups,
    }


def _print_plan(pipeline: Any, as_json: bool) -> None:
    plan = _plan(pipeline)
    if as_json:
        click.echo(json.dumps(plan, sort_keys=True))
        return
    lines = [
        f"pipeline {plan['pipeline']}: {len(plan['stages'])} stages in {len(plan['passes'])} fused passes",
        f"  input:  {plan['input']}",
        f"  output: {plan['output']}",
    ]
    for group in plan["passes"]:
        if group["barrier"] is not None:
            barrier = group["barrier"]
            lines.append(f"  barrier: {barrier['position']} {barrier['stage']} (needs every shard of its input)")
        members = ", ".join(f"{m['position']} {m['stage']}" for m in group["fused"])
        lines.append(f"  pass {group['pass']}: {members}  ({group['reads']} -> {group['writes']})")
    for stage in plan["stages"]:
        lines.append(f"  rejects of {stage['position']} {stage['stage']}: OUT/{stage['rejects']}/")
    click.echo("\n".join(lines))


def _report(app: Any, pipeline: Any, params: dict[str, Any], summary: Any) -> None:
    from curate.commands.options import report

    manifest = summary.manifest
    stages = manifest.get("stages", [])
    detail = "".join(f"{s['position']} {s['stage']} -{s['rows_removed']}, " for s in stages if s["rows_removed"])
    extra = {
        "pipeline": pipeline.source,
        "stages": [
            {k: s[k] for k in ("position", "stage", "rows_in", "rows_kept", "rows_removed", "dropped")} for s in stages
        ],
    }
    report(app, "run", params, summary, extra, detail)


@click.command()
@json_flag("Print the stages and their options as JSON.")
def stages(as_json: bool) -> None:
    """List every stage a pipeline (and the command line) can run, with its options and defaults."""
    from curate.pipelines.registry import all_entries

    entries = all_entries()
    if as_json:
        listing = {
            path: {
                "kind": entry.kind,
                "summary": entry.summary,
                "options": [{"name": n, "default": d, "help": h} for n, d, h in entry.describe()],
            }
            for path, entry in entries.items()
            if not entry.name.startswith("test-")
        }
        click.echo(json.dumps(listing, sort_keys=True))
        return
    for path, entry in entries.items():
        if entry.name.startswith("test-"):
            continue
        click.echo(f"{path} ({entry.kind}): {entry.summary}")
        for name, default, _ in entry.describe():
            click.echo(f"    {name}: {default}" if default != "" else f"    {name}")
