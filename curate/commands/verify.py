"""``curate verify DIR``: does every file a dataset's manifest lists still hold its bytes?"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from curate.commands.options import json_flag
from curate.errors import ExitCode, UsageError


@click.command()
@click.argument("dataset", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@json_flag("Print the result as one JSON object.")
def verify(dataset: Path, as_json: bool) -> None:
    """Check every shard and rejects file listed in DIR's manifest (DIR.curate/manifest.json)
    against its recorded size and xxh3-128 checksum.

    Stages check the shards they read anyway; this is for a dataset about to be copied or
    published. Exits 0 when every file matches, 3 when one is missing or changed.
    """
    from curate.io import layout
    from curate.io.manifest import read_manifest
    from curate.io.writers import file_checksum

    manifest = read_manifest(dataset)
    if manifest is None:
        raise UsageError(f"{dataset} has no manifest ({layout.manifest_path(dataset)}): not a finished curate output")
    listed = layout.listed_files(dataset, manifest)
    damaged: list[dict[str, str]] = []
    checked_bytes = 0
    for entry, path in listed:
        if not path.is_file():
            damaged.append({"name": entry["name"], "path": str(path), "problem": "missing"})
            continue
        size = path.stat().st_size
        checked_bytes += size
        if size != entry["bytes"]:
            damaged.append(
                {"name": entry["name"], "path": str(path), "problem": f"{size} bytes, manifest says {entry['bytes']}"}
            )
        elif file_checksum(path) != entry["xxh3_128"]:
            damaged.append({"name": entry["name"], "path": str(path), "problem": "checksum mismatch (content changed)"})
    if as_json:
        click.echo(json.dumps({"dataset": str(dataset), "files": len(listed), "damaged": damaged}, sort_keys=True))
    else:
        for item in damaged:
            click.echo(f"{item['path']}: {item['problem']}")
        verdict = f"{len(damaged)} damaged" if damaged else "all match"
        click.echo(f"verify: {len(listed)} files, {checked_bytes / 1e6:.1f} MB checked, {verdict} -> {dataset}")
    if damaged:
        sys.exit(ExitCode.BAD_INPUT)
