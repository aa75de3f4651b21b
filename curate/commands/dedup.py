"""``curate dedup``: exact, near-duplicate (MinHash-LSH) and repeated-line removal.

Each command is made from its registered config dataclass (``curate.pipelines.registry``):
the options, their defaults and ranges are written once, on the config's fields.
``curate dedup IN OUT`` runs minhash.
"""

from __future__ import annotations

from typing import Any

import click


class DefaultCommandGroup(click.Group):
    """A group that runs ``default_command`` when its first argument names no command,
    so ``curate dedup in/ out/`` means ``curate dedup minhash in/ out/``; its commands are
    built from the registry when asked for (``curate --help`` imports none of them)."""

    default_command = "minhash"

    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.pipelines.registry import group_names

        return sorted(group_names("dedup"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from curate.commands.stage_command import make_stage_command
        from curate.pipelines.registry import entry

        found = entry("dedup", cmd_name)
        return None if found is None else make_stage_command(found, REPORTERS[cmd_name])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.list_commands(ctx) and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _minhash_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    config = stage.config
    extra = {"lsh_bands": config.bands, "lsh_rows": config.rows, "threshold": config.threshold}
    return extra, f"{config.bands}x{config.rows} bands, "


def _exact_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {"on": stage.config.on, "normalize": stage.config.normalize}, ""


def _lines_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    from curate.dedup.lines.config import REMOVED_COLUMNS

    config = stage.config
    counters = summary.manifest["counters"]
    column = REMOVED_COLUMNS[config.unit]
    removed = counters[column]
    extra = {"unit": config.unit, "min_count": config.min_count, column: removed}
    if config.approx:
        extra["sketch"] = counters["sketch"]
    return extra, f"{removed} {column.replace('_', ' ')}, "


def _images_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    config = stage.config
    pairs = summary.manifest["counters"].get("pairs", 0)
    return {"by": config.by, "threshold": config.threshold, "pairs": pairs}, f"{pairs} pairs, "


def _semantic_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    config = stage.config
    counters = summary.manifest["counters"]
    pairs, clusters = counters.get("pairs", 0), counters.get("kmeans_clusters", 0)
    extra = {"eps": config.eps, "kmeans_clusters": clusters, "pairs": pairs}
    return extra, f"{clusters} k-means clusters, {pairs} pairs, "


REPORTERS = {
    "semantic": _semantic_report,
    "images": _images_report,
    "minhash": _minhash_report,
    "exact": _exact_report,
    "lines": _lines_report,
}


@click.group(cls=DefaultCommandGroup)
def dedup() -> None:
    """Remove duplicate and near-duplicate documents (default method: minhash)."""
