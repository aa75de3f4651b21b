"""``curate ingest``: turn the files users have into a curate dataset (``ingest images``: a folder
tree of image files; ``ingest webdataset``: WebDataset ``.tar`` shards)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from curate.commands.options import _option

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def ingest() -> None:
    """Turn files users have into a dataset of Parquet shards."""


def _ingest_options(fn: F) -> F:
    for decorator in reversed(
        [
            _option(
                "--shard-bytes",
                type=click.IntRange(min=1),
                default=256 << 20,
                show_default=True,
                help="Image bytes per output shard.",
            ),
            _option(
                "--max-file-bytes",
                type=click.IntRange(min=0),
                default=256 << 20,
                show_default=True,
                help="Larger files are not read (_reason file_too_large). 0 = no limit.",
            ),
            _option(
                "--max-pixels",
                type=click.IntRange(min=0),
                default=89_478_485,
                show_default=True,
                help="Images with more pixels are refused from their header (too_large); Pillow's "
                "decompression-bomb limit by default. 0 = no limit.",
            ),
            _option("--workers", type=click.IntRange(min=0), default=0, help="Decoding threads (0 = CPU count)."),
            _option("--overwrite", is_flag=True, help="Replace what curate wrote in OUT before."),
            _option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object."),
        ]
    ):
        fn = decorator(fn)
    return fn


@ingest.command("images")
@click.argument("source", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("output", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@_ingest_options
def images(source: Path, output: Path, **params: Any) -> None:
    """Every image file below DIR (recursively) becomes a row: id (the relative path), image (the bytes),
    format, width, height. Files that are not decodable images go to OUT/_rejects/ with their bytes and
    _reason ingest_images:<why> (empty, unidentified, corrupt, too_large, file_too_large, outside_root,
    not_a_file), counted in the manifest. Symlinks are followed only to files inside DIR; symlinked
    directories and hidden (.name) entries are skipped.
    """
    _ingest(source, output, params, webdataset=False)


@ingest.command("webdataset")
@click.argument("source", metavar="TARS", type=click.Path(exists=True, path_type=Path))
@click.argument("output", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@_ingest_options
def webdataset(source: Path, output: Path, **params: Any) -> None:
    """WebDataset shards (img2dataset / DataComp layout: a .tar file, or a folder of them) become rows:
    key.jpg + key.txt + key.json -> id (TAR/key), image, format, width, height, text, json. A sample
    without an image, or whose image does not decode, goes to OUT/_rejects/ (_reason
    ingest_webdataset:<why>) with its text and json; a missing txt / json is null, counted. Nothing is
    extracted to disk; a truncated tar is bad input (exit 3).
    """
    _ingest(source, output, params, webdataset=True)


def _ingest(source: Path, output: Path, params: dict[str, Any], *, webdataset: bool) -> None:
    from curate.images.ingest import IngestOptions, ingest_images

    as_json = params.pop("as_json")
    manifest = ingest_images(source, output, IngestOptions(**params), webdataset=webdataset)
    label = "ingest webdataset" if webdataset else "ingest images"
    counters = manifest["counters"]
    result = {
        "stage": label,
        "input": str(source),
        "output": str(output),
        "rows_in": manifest["rows_in"],
        "rows_kept": manifest["rows_out"],
        "rows_removed": manifest["rows_rejected"],
        "seconds": manifest["seconds"],
        "counters": counters,
    }
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        why = ", ".join(f"{k.rsplit(':', 1)[1]} {v}" for k, v in counters.items() if k.startswith("removed:"))
        click.echo(
            f"{label}: {result['rows_in']} in, {result['rows_kept']} images, {result['rows_removed']} "
            f"rejected{' (' + why + ')' if why else ''}, {result['seconds']:.2f} s -> {output}"
        )
