"""``curate filter NAME IN OUT``: one command per registered filter or modifier, its options
made from the fields of the stage's dataclass (so registering a stage is all it takes)."""

from __future__ import annotations

from typing import Any

import click


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    if getattr(stage, "kind", "filter") == "filter":  # a global stage (filter quality --top-percent) is one
        annotate = bool(getattr(stage, "annotate", False))
        prefix = "flagged:" if annotate else "dropped:"
        detail_counts = {k.removeprefix(prefix): v for k, v in counters.items() if k.startswith(prefix)}
        extra: dict[str, Any] = {"annotate": annotate, ("flagged" if annotate else "dropped"): detail_counts}
        return extra, f"{sum(detail_counts.values())} flagged, " if annotate else ""
    changes = {k.removeprefix("changed:"): v for k, v in counters.items() if k.startswith("changed:")}
    return {"changed": changes}, ", ".join(f"{v} {k}" for k, v in changes.items()) + (", " if changes else "")


def make_command(cls: type) -> click.Command:
    """A click command for a registered text stage."""
    from curate.commands.stage_command import make_stage_command
    from curate.pipelines.registry import filter_entry

    return make_stage_command(filter_entry(cls), _report, short_help=cls.summary)  # type: ignore[attr-defined]


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
