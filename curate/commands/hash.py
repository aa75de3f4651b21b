"""``curate hash``: per-row hash columns (``curate hash images``: pHash / dHash)."""

from __future__ import annotations

from typing import Any

import click

from curate.commands.map_group import MapStageGroup


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    failed = {k.removeprefix("counted:undecodable:"): v for k, v in counters.items() if "undecodable:" in k}
    return {"undecodable": failed}, f"{sum(failed.values())} undecodable, "


@click.group(cls=MapStageGroup, stage_group="hash", reporter=_report)
def hash() -> None:
    """Add hash columns (perceptual hashes of images)."""
