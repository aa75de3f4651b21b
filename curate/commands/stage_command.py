"""A CLI command made from a registered stage: IN OUT, the read options, one option per config
field (from ``curate.pipelines.options``), the execution options; then build, run, report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from curate.commands.options import _option, execution_options, input_arguments, read_options, report, run_options
from curate.errors import UsageError

if TYPE_CHECKING:
    from curate.pipelines.registry import StageEntry
    from curate.pipelines.summary import StageSummary

# (stage, summary, params) -> (extra JSON fields, detail of the one-line summary)
Reporter = Callable[[Any, "StageSummary", dict[str, Any]], tuple[dict[str, Any], str]]


def run_stage(stage: Any, read: Any, params: dict[str, Any], app: Any) -> StageSummary:
    """Run a built stage as its own command; an ``s3://`` OUT is made in its local staging copy,
    then published (``curate.io.object_output``)."""
    from curate.io.locations import scheme_of

    location = params["output"]
    if scheme_of(location) is None:
        return _run_stage(stage, read, params, app, Path(location))
    from curate.io.object_output import check_writable, publish, staging_dir

    if getattr(getattr(stage, "config", None), "index", ""):
        raise UsageError("--index needs a local OUT (the index is updated once OUT is published)")
    check_writable(location, params["overwrite"])
    summary = _run_stage(stage, read, params, app, staging_dir(location))
    if publish(location, staging_dir(location), params["overwrite"]) and summary.reused:
        # Done locally before, published only now (a publish that was killed): not "already done".
        summary = replace(summary, reused=False)
    return summary


def _run_stage(stage: Any, read: Any, params: dict[str, Any], app: Any, output: Path) -> StageSummary:
    from curate.pipelines.single import run_global_stage
    from curate.pipelines.stage import GlobalStage

    if isinstance(stage, GlobalStage) and getattr(getattr(stage, "config", None), "index", ""):
        from curate.dedup.index.session import IndexSession

        session = IndexSession(stage.config, output)
        options = run_options(params, app)
        return session.run(lambda s: run_global_stage(s, read, params["input_location"], output, options), stage)
    if isinstance(stage, GlobalStage):
        return run_global_stage(stage, read, params["input_location"], output, run_options(params, app))
    from curate.filters.stage import run_text_stage

    return run_text_stage(
        stage,
        read,
        params["input_location"],
        output,
        run_options(params, app),
        annotate=bool(getattr(stage, "annotate", False)),
    )


def make_stage_command(entry: StageEntry, reporter: Reporter, *, short_help: str | None = None) -> click.Command:
    from curate.pipelines.options import click_options

    @click.pass_obj
    def run(app: Any, **params: Any) -> None:
        read = read_options(params)
        stage = entry.build_stage(params, read, app.notice)
        from curate.pipelines.stage import text_requirement

        read = text_requirement(read, [stage])
        summary = run_stage(stage, read, params, app)
        extra, detail = reporter(stage, summary, params)
        report(app, entry.path, params, summary, extra, detail)

    command: Any = execution_options(run)
    if entry.annotate:
        command = _option("--annotate", is_flag=True, help="Drop nothing; add the measured statistics as columns.")(
            command
        )
    for decorator in reversed(click_options(entry.config_cls)):
        command = decorator(command)
    command = input_arguments(command)
    return click.command(name=entry.name, help=entry.help, short_help=short_help)(command)
