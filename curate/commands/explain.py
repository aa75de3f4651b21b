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

    When several rows carry ID (ids should be unique; dedup stages warn when they are
    not), every one of them is answered for, one line each. Exits 0 when found (kept or
    removed), 1 when the id is in neither.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curate.io.manifest import read_manifest

    manifest = read_manifest(output)
    if manifest is None:
        raise UsageError(f"{output} has no _manifest.json: not a finished curate output")
    found: list[dict[str, Any]] = []
    for listed, status in ((manifest.get("rejects", []), "removed"), (manifest.get("shards", []), "kept")):
        for shard in listed:
            table = pq.read_table(output / shard["name"])
            if id_column not in table.column_names:
                continue
            ids = pc.cast(table.column(id_column), "string")
            hits = pc.indices_nonzero(pc.equal(ids, doc_id))
            for row in table.take(hits).to_pylist():
                fields = {
                    k: v for k, v in row.items() if k.startswith("_") or k.startswith("dup_") or k == "similarity"
                }
                found.append({"id": doc_id, "status": status, "file": shard["name"], **fields})
    if not found:
        if as_json:
            click.echo(json.dumps({"id": doc_id, "status": "unknown"}))
        else:
            click.echo(f"{doc_id}: not found in {output} (neither kept nor rejected)")
        raise SystemExit(ExitCode.FAILED)
    if as_json:
        answer = found[0] if len(found) == 1 else {"id": doc_id, "status": "several", "rows": found}
        click.echo(json.dumps(answer, sort_keys=True, default=str))
        return
    if len(found) > 1:
        click.echo(f"{doc_id}: {len(found)} rows carry this id (ids should be unique)")
    for item in found:
        if item["status"] == "kept":
            click.echo(f"{doc_id}: kept ({item['file']})")
        else:
            detail = f"removed by {item.get('_stage')}: {item.get('_reason')}"
            if item.get("dup_of") is not None:
                detail += f"; duplicate of {item['dup_of']} (similarity {item.get('similarity'):.4f})"
            click.echo(f"{doc_id}: {detail}")
