"""``curate explain OUT ID``: why is this document gone (or is it kept)?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curate.errors import ExitCode, UsageError


@click.command()
@click.argument("output", metavar="OUT", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("doc_id", metavar="ID")
@click.option("--id-column", default="id", show_default=True, show_envvar=True, help="Column holding the id.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
def explain(output: Path, doc_id: str, id_column: str, as_json: bool) -> None:
    """Say whether document ID was kept in OUT or, if removed, by which stage and why.

    Exits 0 when found (kept or removed), 1 when the id is in neither.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curate.io.manifest import read_manifest

    manifest = read_manifest(output)
    if manifest is None:
        raise UsageError(f"{output} has no _manifest.json: not a finished curate output")
    found: dict[str, Any] | None = None
    for listed, status in ((manifest.get("rejects", []), "removed"), (manifest.get("shards", []), "kept")):
        for shard in listed:
            table = pq.read_table(output / shard["name"])
            if id_column not in table.column_names:
                continue
            ids = pc.cast(table.column(id_column), "string")
            hits = pc.indices_nonzero(pc.equal(ids, doc_id))
            if len(hits):
                row = table.take(hits.slice(0, 1)).to_pylist()[0]
                fields = {
                    k: v for k, v in row.items() if k.startswith("_") or k.startswith("dup_") or k == "similarity"
                }
                found = {"id": doc_id, "status": status, "file": shard["name"], **fields}
                break
        if found:
            break
    if found is None:
        if as_json:
            click.echo(json.dumps({"id": doc_id, "status": "unknown"}))
        else:
            click.echo(f"{doc_id}: not found in {output} (neither kept nor rejected)")
        raise SystemExit(ExitCode.FAILED)
    if as_json:
        click.echo(json.dumps(found, sort_keys=True, default=str))
    elif found["status"] == "kept":
        click.echo(f"{doc_id}: kept ({found['file']})")
    else:
        detail = f"removed by {found.get('_stage')}: {found.get('_reason')}"
        if found.get("dup_of") is not None:
            detail += f"; duplicate of {found['dup_of']} (similarity {found.get('similarity'):.4f})"
        click.echo(f"{doc_id}: {detail}")
