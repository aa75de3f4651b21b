"""``curate filter NAME IN OUT``: one command per registered filter or modifier, its options
made from the fields of the stage's dataclass (so registering a stage is all it takes)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import click

from curate.commands.options import _option, execution_options, input_arguments, read_options, report, run_options


def _option_for(item: dataclasses.Field[Any], hint: Any) -> Any:
    name = "--" + item.name.replace("_", "-")
    help_text = item.metadata.get("help", "")
    default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[misc]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is bool:
        return _option(f"{name}/--no-{name[2:]}", item.name, default=default, show_default=True, help=help_text)
    if origin is tuple:
        return _option(
            name, item.name, multiple=True, default=default, show_default=True, help=help_text + " (repeatable)"
        )
    if hint is int or hint is float or hint is str:
        return _option(name, item.name, type=hint, default=default, show_default=True, help=help_text)
    if (origin is typing.Union or str(origin) == "<class 'types.UnionType'>") and str in args:
        return _option(name, item.name, type=str, default=default, show_default=True, help=help_text)
    if Path in args or hint is Path:
        return _option(name, item.name, type=click.Path(exists=True, dir_okay=False), default=default, help=help_text)
    raise TypeError(f"{item.name}: unsupported option type {hint!r}")


def make_command(cls: type) -> click.Command:
    """A click command for a registered text stage."""
    from curate.filters.base import config_fields

    hints = typing.get_type_hints(cls)
    fields = config_fields(cls)
    is_filter = getattr(cls, "kind", "filter") == "filter"

    @click.pass_obj
    def run(app: Any, **params: Any) -> None:
        from curate.filters.stage import run_text_stage

        values = {f.name: params.pop(f.name) for f in fields}
        for f in fields:
            if isinstance(values[f.name], list):
                values[f.name] = tuple(values[f.name])
        stage = cls(**values)
        annotate = bool(params.get("annotate", False))
        summary = run_text_stage(
            stage,
            read_options(params),
            params["input_location"],
            Path(params["output"]),
            run_options(params, app),
            annotate=annotate,
        )
        counters = summary.manifest["counters"]
        if is_filter:
            prefix = "flagged:" if annotate else "dropped:"
            detail_counts = {k.removeprefix(prefix): v for k, v in counters.items() if k.startswith(prefix)}
            extra: dict[str, Any] = {"annotate": annotate, ("flagged" if annotate else "dropped"): detail_counts}
            detail = f"{sum(detail_counts.values())} flagged, " if annotate else ""
        else:
            changes = {k.removeprefix("changed:"): v for k, v in counters.items() if k.startswith("changed:")}
            extra = {"changed": changes}
            detail = ", ".join(f"{v} {k}" for k, v in changes.items()) + (", " if changes else "")
        report(app, f"filter {cls.name}", params, summary, extra, detail)

    command: Any = run
    command = execution_options(command)
    if is_filter:
        command = _option("--annotate", is_flag=True, help="Drop nothing; add the measured statistics as columns.")(
            command
        )
    for item in reversed(fields):
        command = _option_for(item, hints[item.name])(command)
    command = input_arguments(command)
    doc = (cls.__doc__ or cls.summary).strip()
    return click.command(name=cls.name, help=doc, short_help=cls.summary)(command)


class FilterGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.filters.registry import load_all

        return list(load_all())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from curate.filters.registry import load_all

        stages = load_all()
        return make_command(stages[cmd_name]) if cmd_name in stages else None


@click.group(cls=FilterGroup)
def filter() -> None:
    """Heuristic quality filters (Gopher, C4, FineWeb), URL blocklists, PII redaction."""
