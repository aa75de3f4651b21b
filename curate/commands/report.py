"""``curate report DIR... [-o report.html]``: one self-contained HTML page for a dataset or a
whole chain (each DIR's manifests are followed back to the first stage)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from curate.errors import UsageError


@click.command()
@click.argument(
    "outputs", metavar="DIR...", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "target",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write.",
)
def report(outputs: tuple[Path, ...], target: Path) -> None:
    """Write one HTML page: the funnel stage by stage (in / kept / dropped per reason), cluster
    size and similarity histograms of dedup stages, histograms of annotated statistics with
    their thresholds, and a sample of removed documents per reason with their dup_of.

    Each DIR is followed back through the inputs its manifest records; DIRs of one chain are
    shown once, in chain order. Needs matplotlib (pip install 'curate[report]').
    """
    from curate.io.chain import chain_of
    from curate.io.layout import manifest_path
    from curate.io.manifest import read_manifest
    from curate.report.data import stage_view
    from curate.report.page import render, write

    ordered: list[tuple[Path, dict[str, Any]]] = []
    seen: set[str] = set()
    stopped: list[str] = []
    for output in outputs:
        manifest = read_manifest(output)
        if manifest is None:
            raise UsageError(f"{output} has no manifest ({manifest_path(output)}): not a finished curate output")
        chain, why = chain_of(output.absolute(), manifest)
        stopped.append(why)
        for item in chain:
            if os.path.realpath(item[0]) not in seen:
                seen.add(os.path.realpath(item[0]))
                ordered.append(item)
    views = []
    previous_columns: set[str] | None = None
    for output, manifest in ordered:
        views.append(stage_view(output, manifest, previous_columns))
        previous_columns = {entry["name"] for entry in manifest.get("schema", [])}
    write(target, render(views, stopped))
    click.echo(f"{target}: {len(views)} stage(s)")
