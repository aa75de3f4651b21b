"""``curate embed``: per-row embedding columns (``curate embed images``: an ONNX model; ``curate
embed text``: sentence embeddings)."""

from __future__ import annotations

from typing import Any

import click

from curate.commands.map_group import MapStageGroup


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    if stage.name == "text":
        nulls = int(counters.get("counted:null_text", 0))
        return {"null_text": nulls, "dimension": stage.dimension()}, f"{nulls} null texts, "
    failed = {k.removeprefix("counted:undecodable:"): v for k, v in counters.items() if "undecodable:" in k}
    return {"undecodable": failed, "dimension": stage.dimension()}, f"{sum(failed.values())} undecodable, "


@click.group(cls=MapStageGroup, stage_group="embed", reporter=_report)
def embed() -> None:
    """Add embedding columns (image descriptors from an ONNX model, sentence embeddings of text)."""
