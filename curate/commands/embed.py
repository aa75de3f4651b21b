"""``curate embed``: per-row embedding columns (``curate embed images``: an ONNX model)."""

from __future__ import annotations

from typing import Any

import click

from curate.commands.map_group import MapStageGroup


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    failed = {k.removeprefix("counted:undecodable:"): v for k, v in counters.items() if "undecodable:" in k}
    return {"undecodable": failed, "dimension": stage.dimension()}, f"{sum(failed.values())} undecodable, "


@click.group(cls=MapStageGroup, stage_group="embed", reporter=_report)
def embed() -> None:
    """Add embedding columns (image descriptors from an ONNX model)."""
