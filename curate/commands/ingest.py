"""``curate ingest NAME IN OUT``: source stages, raw inputs to shards: web archives (WARC, ARC,
WET) to text shards, and image files (``ingest images``: a folder tree; ``ingest webdataset``:
WebDataset ``.tar`` shards) to image shards.

The web-archive commands are made from their registered stages (``INGEST_STAGES`` in
``curate.pipelines.registry``): their options are the fields of the stage's dataclass. The image
commands are one pass each, not stages (their input is not a dataset of shards).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from curate.commands.options import _option, json_flag

F = TypeVar("F", bound=Callable[..., Any])


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
            json_flag("Print the summary as one JSON object."),
        ]
    ):
        fn = decorator(fn)
    return fn


def _output_location(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """OUT: a local path, ``s3://`` or ``gs://``; any other URI is a usage error before anything is
    created (never a local ``s3:``)."""
    from curate.io.locations import check_output_location

    location = check_output_location(value, object_store=True)
    if Path(location).is_file():
        raise click.BadParameter(f"{location} is a file, not a directory", ctx=ctx, param=param)
    return location


@click.command("images")
@click.argument("source", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("output", metavar="OUT", callback=_output_location)
@_ingest_options
def images(source: Path, output: str, **params: Any) -> None:
    """Every image file below DIR (recursively) becomes a row: id (the relative path), image (the bytes),
    format, width, height. Files that are not decodable images go to OUT.curate/rejects/ with their bytes and
    _reason ingest_images:<why> (empty, unidentified, corrupt, too_large, file_too_large, outside_root,
    not_a_file), counted in the manifest. Symlinks are followed only to files inside DIR; symlinked
    directories and hidden (.name) entries are skipped.
    """
    _ingest(source, output, params, webdataset=False)


@click.command("webdataset")
@click.argument("source", metavar="TARS", type=click.Path(exists=True, path_type=Path))
@click.argument("output", metavar="OUT", callback=_output_location)
@_ingest_options
def webdataset(source: Path, output: str, **params: Any) -> None:
    """WebDataset shards (img2dataset / DataComp layout: a .tar file, or a folder of them) become rows:
    key.jpg + key.txt + key.json -> id (TAR/key), image, format, width, height, text, json. A sample
    without an image, or whose image does not decode, goes to OUT.curate/rejects/ (_reason
    ingest_webdataset:<why>) with its text and json; a missing txt / json is null, counted. Nothing is
    extracted to disk; a truncated tar is bad input (exit 3).
    """
    _ingest(source, output, params, webdataset=True)


def _ingest(source: Path, output: str, params: dict[str, Any], *, webdataset: bool) -> None:
    from curate.images.ingest import IngestOptions, ingest_images
    from curate.io.locations import scheme_of

    as_json = params.pop("as_json")
    if scheme_of(output) is None:
        manifest = ingest_images(source, Path(output), IngestOptions(**params), webdataset=webdataset)
    else:
        # An object-store OUT: made in its local staging copy (curate's own, replaced each time:
        # ingest is one pass), then published, the manifest last (curate.io.object_output).
        from curate.io.object_output import check_fresh, publish, staging_dir

        check_fresh(output, params["overwrite"])
        options = IngestOptions(**{**params, "overwrite": True})
        manifest = ingest_images(source, staging_dir(output), options, webdataset=webdataset)
        publish(output, staging_dir(output), params["overwrite"])
    label = "ingest webdataset" if webdataset else "ingest images"
    counters = manifest["counters"]
    result = {
        "stage": label,
        "input": str(source),
        "output": str(output),
        "rows_in": manifest["rows_in"],
        "rows_kept": manifest["rows_kept"],
        "rows_removed": manifest["rows_removed"],
        "seconds": manifest["seconds"],
        "run_id": manifest["run_id"],
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


IMAGE_COMMANDS: dict[str, click.Command] = {"images": images, "webdataset": webdataset}


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    dropped = {k.removeprefix("dropped:"): v for k, v in counters.items() if k.startswith("dropped:")}
    return {"dropped": dropped}, f"{sum(dropped.values())} records not kept, "


class IngestGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.pipelines.registry import group_names

        return sorted([*group_names("ingest"), *IMAGE_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from curate.commands.stage_command import make_stage_command
        from curate.pipelines.registry import entry

        if cmd_name in IMAGE_COMMANDS:
            return IMAGE_COMMANDS[cmd_name]
        found = entry("ingest", cmd_name)
        return None if found is None else make_stage_command(found, _report, short_help=found.summary)


@click.group(cls=IngestGroup)
def ingest() -> None:
    """Raw sources to shards: web archives (WARC, ARC, WET) with main-content extraction; image folders
    and WebDataset .tar shards."""
