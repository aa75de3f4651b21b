"""What every stage command shares: input arguments and columns, execution options, and the
summary it prints (one line, or one JSON object with --json; exit 3 if shards were quarantined)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from curate.error_output import ErrorReport, report_error
from curate.errors import ExitCode
from curate.io.layout import REJECTS, STATE_SUFFIX
from curate.io.locations import check_output_location
from curate.io.read_options import DEFAULT_MAX_EXPANSION

if TYPE_CHECKING:
    from curate.cli import App
    from curate.io.readers import ReadOptions
    from curate.pipelines.runner import RunOptions
    from curate.pipelines.summary import StageSummary

F = TypeVar("F", bound=Callable[..., Any])


def _json_errors_too(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """With --json (flag or environment), errors go to stderr as JSON too (see cli.App)."""
    from curate.cli import App

    app = ctx.find_object(App)
    if value and app is not None:
        app.json_errors = True
    return value


class JsonFlag(click.Option):
    """``--json``: its environment variable is ``CURATE_<COMMAND>_JSON``, not the
    ``..._AS_JSON`` click would derive from the parameter's name. Processed first (eager), so
    that an error in another option is already reported as JSON."""

    def _name_envvar(self, ctx: click.Context) -> None:
        if self.envvar is None and ctx.auto_envvar_prefix is not None:
            self.envvar = f"{ctx.auto_envvar_prefix}_JSON"

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        self._name_envvar(ctx)
        return super().resolve_envvar_value(ctx)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self._name_envvar(ctx)
        return super().get_help_record(ctx)


def json_flag(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--json",
        "as_json",
        cls=JsonFlag,
        is_flag=True,
        is_eager=True,
        callback=_json_errors_too,
        show_envvar=True,
        help=f"{help_text} Errors go to stderr as JSON objects too.",
    )


def _option(*decls: str, **kwargs: Any) -> Callable[[F], F]:
    kwargs.setdefault("show_envvar", True)
    return click.option(*decls, **kwargs)


def _output_location(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """OUT as a local path or ``s3://BUCKET/PREFIX``; any other URI is a usage error before
    anything is created."""
    return None if value is None else check_output_location(value, object_store=True)


def input_arguments(fn: F) -> F:
    for decorator in reversed(
        [
            click.argument("input_location", metavar="IN"),
            click.argument("output", metavar="OUT", type=click.Path(file_okay=False), callback=_output_location),
            _option("--text-column", default="text", show_default=True, help="Column holding the document text."),
            _option(
                "--id-column",
                default=None,
                help="Column holding a unique document id (any type; default 'id' if present, "
                "else ids are derived as '<file>#<row>').",
            ),
            _option(
                "--max-expansion",
                type=click.IntRange(min=0),
                default=DEFAULT_MAX_EXPANSION,
                show_default=True,
                help="A compressed input (.gz, .zst) may decompress to this many times its size (and at least "
                "256 MiB); beyond that it is treated as corrupt, a decompression bomb. 0 = no cap.",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


def execution_options(fn: F) -> F:
    for decorator in reversed(
        [
            _option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="local: worker threads in this process (see --pool); ray: a Ray cluster (or a local Ray "
                "instance).",
            ),
            _option(
                "--pool",
                type=click.Choice(["thread", "process"]),
                default="thread",
                show_default=True,
                help="Local workers: threads (every hot path releases the GIL) or spawned processes.",
            ),
            _option(
                "--workers",
                type=click.IntRange(min=0),
                default=0,
                help="Parallel workers (0 = the CPUs this process may use: affinity, cgroup quota).",
            ),
            _option("--ray-address", default=None, help="Ray cluster address (else RAY_ADDRESS, else local Ray)."),
            _option(
                "--on-error",
                type=click.Choice(["fail", "skip"]),
                default="fail",
                show_default=True,
                help="On a corrupt input shard: fail, or skip it (quarantined, listed in the manifest, exit 3).",
            ),
            _option("--overwrite", is_flag=True, help="Replace an output written with another configuration."),
            _option("--keep-work", is_flag=True, help="Keep intermediate files in OUT.curate/work after success."),
            json_flag("Print the summary as one JSON object."),
        ]
    ):
        fn = decorator(fn)
    return fn


def read_options(params: dict[str, Any]) -> ReadOptions:
    from curate.io.readers import ReadOptions

    return ReadOptions(
        text_column=params["text_column"],
        id_column=params["id_column"] or "id",
        id_column_explicit=params["id_column"] is not None,
        max_expansion=params["max_expansion"],
    )


def run_options(params: dict[str, Any], app: App) -> RunOptions:
    from curate.pipelines.runner import RunOptions

    return RunOptions(
        executor=params["executor"],
        pool=params["pool"],
        workers=params["workers"],
        ray_address=params["ray_address"],
        overwrite=params["overwrite"],
        skip_bad_shards=params["on_error"] == "skip",
        quiet=app.quiet,
        keep_work=params["keep_work"],
    )


def report(
    app: App, label: str, params: dict[str, Any], summary: StageSummary, extra: dict[str, Any], detail: str
) -> None:
    """Print the run's summary on stdout; exit 3 when shards were quarantined."""
    manifest = summary.manifest
    result = {
        "stage": label,
        "input": params["input_location"],
        "output": params["output"],
        "rows_in": manifest["rows_in"],
        "rows_kept": manifest["rows_kept"],
        "rows_removed": manifest["rows_removed"],
        "clusters": manifest["counters"].get("clusters"),
        "seconds": manifest["seconds"],
        "run_id": app.run_id,
        # The run that wrote OUT: this one, or for an output already done, the one before.
        "output_run_id": manifest.get("run_id"),
        "quarantined": summary.quarantined,
        "already_done": summary.reused,
        **({"duplicate_ids": manifest["duplicate_ids"]} if "duplicate_ids" in manifest else {}),
        **extra,
    }
    if params["as_json"]:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        share = 100.0 * result["rows_removed"] / result["rows_in"] if result["rows_in"] else 0.0
        done = " (already done)" if summary.reused else ""
        clusters = "" if result["clusters"] is None else f"{result['clusters']} clusters, "
        click.echo(
            f"{label}: {result['rows_in']} in, {result['rows_kept']} kept, {result['rows_removed']} removed "
            f"({share:.2f}%), {clusters}{detail}{result['seconds']:.2f} s "
            f"-> {params['output']}{done}"
        )
    if result["rows_in"] == 0 and summary.quarantined:
        app.notice(f"curate: warning: no documents were read: {len(summary.quarantined)} shard(s) quarantined")
    elif result["rows_in"] == 0:
        app.notice("curate: warning: the input holds no documents")
    elif result["rows_kept"] == 0:
        app.notice(
            f"curate: warning: every document was removed ({result['rows_in']} in, see "
            f"{str(params['output']).rstrip('/')}{STATE_SUFFIX}/{REJECTS})"
        )
    duplicates = manifest.get("duplicate_ids", 0)
    if duplicates:
        example = manifest.get("duplicate_id_example", {})
        app.notice(
            f"curate: warning: {duplicates} row(s) share their id with an earlier row (e.g. {example.get('id')!r} "
            f"at {' and '.join(example.get('rows', []))}): dup_of and explain are ambiguous for them"
        )
    for item in summary.quarantined:
        if params["as_json"]:
            error = ErrorReport(
                "quarantined", ExitCode.BAD_INPUT, f"{item['path']}: {item['error']}", file=item["path"]
            )
            report_error(error, as_json=True)
        else:
            app.notice(f"curate: quarantined {item['path']}: {item['error']}")
    if summary.quarantined:
        sys.exit(ExitCode.BAD_INPUT)
