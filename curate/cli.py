"""The ``curate`` command line: the root group, the app object passed down, the one abort path.

Command groups are imported lazily, and heavy libraries only inside the command that needs
them, so that ``curate --help`` is instant.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from curate import __version__
from curate.error_output import ErrorReport, report_error
from curate.errors import CurateError, ExitCode
from curate.help_format import UnbrokenHelpFormatter
from curate.log_lines import RUN_ID_PATTERN, CurrentStderrHandler, StampedFormatter, echo_stderr, new_run_id, set_run_id

COMMAND_GROUPS = {
    "classify": ("curate.commands.classify", "classify", "Train fastText classifiers and score documents."),
    "dedup": ("curate.commands.dedup", "dedup", "Remove duplicate and near-duplicate documents."),
    "embed": ("curate.commands.embed", "embed", "Add embedding columns (image descriptors)."),
    "explain": ("curate.commands.explain", "explain", "Why is a document gone?"),
    "filter": ("curate.commands.filter", "filter", "Quality filters and PII redaction."),
    "hash": ("curate.commands.hash", "hash", "Add hash columns (perceptual hashes of images)."),
    "ingest": (
        "curate.commands.ingest",
        "ingest",
        "Raw sources to shards: web archives (WARC / ARC / WET) to text, image folders and WebDataset tars.",
    ),
    "index": ("curate.commands.index", "index", "Inspect and maintain a persistent dedup index."),
    "report": ("curate.commands.report", "report", "One HTML page about a dataset or a chain."),
    "run": ("curate.commands.run", "run", "Run a pipeline of stages (YAML)."),
    "stages": ("curate.commands.run", "stages", "List the stages a pipeline can use."),
    "status": ("curate.commands.status", "status", "Is a dataset or an index complete, in progress, or broken?"),
    "verify": ("curate.commands.verify", "verify", "Check a dataset's files against its manifest's checksums."),
}


@dataclass
class App:
    """Built once by the root group; every command receives it as ``ctx.obj``."""

    verbosity: int = 0
    quiet: bool = False
    run_id: str = ""
    # Set by a command's --json (its flag or environment variable): errors go to stderr as JSON.
    json_errors: bool = False

    def notice(self, message: str) -> None:
        """A line for the person at the terminal (stderr; silenced by -q; stamped with the time
        and run id when stderr is not a terminal)."""
        if not self.quiet:
            echo_stderr(message)


def abort(message: str, code: int | ExitCode) -> NoReturn:
    echo_stderr(f"curate: error: {message}")
    sys.exit(int(code))


class LazyGroup(click.Group):
    """The root group: loads command groups on first use and turns curate's errors into
    one line on stderr (one JSON object when the command has --json, see
    :mod:`curate.error_output`) and the exit code they carry."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["curate.arguments"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        arguments: list[str] = ctx.meta.get("curate.arguments", [])
        # --json on the command line counts even when parsing failed before it was processed.
        json_asked = "--json" in arguments[: arguments.index("--")] if "--" in arguments else "--json" in arguments
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except CurateError as exc:
            report_error(ErrorReport.from_curate_error(exc), as_json=_json_errors(ctx.obj, json_asked))
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            message = "interrupted; the same command resumes from the tasks that finished"
            report_error(
                ErrorReport("interrupted", ExitCode.INTERRUPTED, message), as_json=_json_errors(ctx.obj, json_asked)
            )
            ctx.exit(int(ExitCode.INTERRUPTED))
        except click.ClickException as exc:
            if not (_json_errors(ctx.obj, json_asked) or _json_from_environment(exc)):
                raise
            report_error(ErrorReport.from_click_exception(exc), as_json=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            # Unexpected (a bug): with --json, one JSON object; otherwise main() reports it.
            if not _json_errors(ctx.obj, json_asked) or (ctx.obj is not None and ctx.obj.verbosity > 0):
                raise
            report_error(ErrorReport.unexpected(exc), as_json=True)
            ctx.exit(int(ExitCode.FAILED))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_GROUPS:
            return None
        module_name, attribute, _ = COMMAND_GROUPS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


def _json_errors(app: App | None, json_asked: bool) -> bool:
    return json_asked or (app is not None and app.json_errors)


def _json_from_environment(exc: click.ClickException) -> bool:
    """A usage error found while parsing a command whose --json is set by its environment
    variable (``CURATE_<COMMAND>_JSON``): the flag itself was never processed."""
    context = getattr(exc, "ctx", None)
    if context is None or context.auto_envvar_prefix is None:
        return False
    value = os.environ.get(f"{context.auto_envvar_prefix}_JSON", "")
    return value.strip().lower() in {"1", "true", "t", "yes", "y", "on"}


def _check_run_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is None or value == "":
        return new_run_id()
    if not RUN_ID_PATTERN.fullmatch(value):
        raise click.BadParameter(
            f"{value!r}: up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _configure_logging(level: int) -> None:
    """Log records to stderr as ``curate: message`` (stamped when stderr is not a terminal).
    Like ``logging.basicConfig``, it leaves a root logger that already has handlers alone."""
    root_logger = logging.getLogger()
    if root_logger.handlers:
        return
    handler = CurrentStderrHandler()
    handler.setFormatter(StampedFormatter())
    root_logger.addHandler(handler)
    root_logger.setLevel(level)


def _load_config(path: Path, root: click.Group, ctx: click.Context) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--config") from exc
    if not isinstance(loaded, dict):
        raise click.BadParameter(f"{path} must hold a mapping of command groups", param_hint="--config")
    _validate_config(loaded, root, ctx, path.name)
    return loaded


def _validate_config(values: dict[str, Any], command: click.Command, ctx: click.Context, where: str) -> None:
    """Unknown keys are errors that suggest the nearest valid key."""
    if isinstance(command, click.Group):
        valid = command.list_commands(ctx)
        for key, value in values.items():
            sub = command.get_command(ctx, key) if key in valid else None
            if sub is None:
                _unknown(key, valid, where)
            elif not isinstance(value, dict):
                raise click.BadParameter(f"{where}: {key} must be a mapping", param_hint="--config")
            else:
                _validate_config(value, sub, ctx, f"{where}:{key}")
        return
    valid = [p.name for p in command.params if p.name and isinstance(p, click.Option)]
    for key in values:
        if key.replace("-", "_") not in valid:
            _unknown(key, valid, where)
    for key in list(values):
        if "-" in key:
            values[key.replace("-", "_")] = values.pop(key)


def _unknown(key: str, valid: list[str], where: str) -> NoReturn:
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else f" (valid: {', '.join(valid)})"
    raise click.BadParameter(f"{where}: unknown key {key!r}{hint}", param_hint="--config")


# Every command's help (the root group's and each subcommand's context) wraps at spaces only.
click.Context.formatter_class = UnbrokenHelpFormatter


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "CURATE"})
@click.version_option(__version__, prog_name="curate")
@click.option("-v", "--verbose", count=True, show_envvar=True, help="Explain more (-v phases and choices, -vv debug).")
@click.option(
    "-q", "--quiet", is_flag=True, show_envvar=True, help="Print only results (no notices, no progress bars)."
)
@click.option(
    "--run-id",
    callback=_check_run_id,
    show_envvar=True,
    help="This run's id, in the manifest, the --json summary and stderr lines (which, when stderr is not a "
    "terminal, start with the UTC time and the id). Default: made from the start time and 24 random bits.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of option defaults by command, e.g. {dedup: {minhash: {threshold: 0.7}}}. "
    "Precedence: defaults < file < environment < flags.",
)
@click.pass_context
def root(ctx: click.Context, verbose: int, quiet: bool, run_id: str, config_path: Path | None) -> None:
    """curate: clean directories of Parquet shards for training sets.

    \b
    Exit codes: 0 done; 1 failed; 2 usage error; 3 bad input data (or shards
    quarantined with --on-error skip); 75 another run holds the output (try later);
    130 interrupted (the same command resumes).
    """
    set_run_id(run_id)
    ctx.obj = App(verbosity=verbose, quiet=quiet, run_id=run_id)
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    _configure_logging(level)
    if config_path is not None:
        assert isinstance(ctx.command, click.Group)
        ctx.default_map = _load_config(config_path, ctx.command, ctx)


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Click maps usage errors to exit 2 and the root group maps
    curate's errors; anything else is a bug, reported in one line unless -v."""
    try:
        root.main(args=argv, prog_name="curate")
    except SystemExit as exc:
        if exc.code == ExitCode.INTERRUPTED:
            # Leave now: joining worker threads would wait for their current tasks, and
            # what they leave is safe (writes are atomic; the lock is the kernel's).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(ExitCode.INTERRUPTED))
        raise
    except Exception as exc:
        if logging.getLogger().isEnabledFor(logging.INFO):
            raise
        abort(f"{type(exc).__name__}: {exc} (run with -v for the traceback)", ExitCode.FAILED)
