"""``curate explain OUT ID``: why is this document gone (or is it kept)?

OUT may be the last output of a chain of commands: a document not found in OUT (neither kept
nor rejected there) is looked for in OUT's input, when that input is a curate dataset whose
manifest is still the one OUT was made from (its fingerprint is recorded in OUT's manifest),
and so on back to the first stage. The answer names the output and the stage that dropped it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from curate.commands.options import json_flag
from curate.errors import ExitCode, UsageError
from curate.io.chain import previous_dataset


def _find(output: Path, manifest: dict[str, Any], doc_id: str, id_column: str) -> list[dict[str, Any]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curate.io.columns import column_values, has_column
    from curate.io.layout import display_name, listed_path

    found: list[dict[str, Any]] = []
    for kind, status in (("rejects", "removed"), ("shards", "kept")):
        for shard in manifest.get(kind, []):
            table = pq.read_table(listed_path(output, manifest, shard, kind))
            if not has_column(table.schema, id_column):
                continue
            ids = pc.cast(column_values(table, id_column), "string")
            hits = pc.indices_nonzero(pc.equal(ids, doc_id))
            for row in table.take(hits).to_pylist():
                fields = {
                    k: v for k, v in row.items() if k.startswith("_") or k.startswith("dup_") or k == "similarity"
                }
                file = display_name(output, manifest, shard, kind)
                found.append({"id": doc_id, "status": status, "output": str(output), "file": file, **fields})
    return found


@click.command()
@click.argument("output", metavar="OUT", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("doc_id", metavar="ID")
@click.option("--id-column", default="id", show_default=True, show_envvar=True, help="Column holding the id.")
@json_flag("Print the answer as JSON.")
def explain(output: Path, doc_id: str, id_column: str, as_json: bool) -> None:
    """Say whether document ID was kept in OUT or, if removed, by which stage and why.

    OUT may be the last output of a chain: a document dropped by an earlier stage is found by
    following the manifests back through the inputs they were made from. When several rows
    carry ID (ids should be unique; dedup stages warn when they are not), every one of them is
    answered for, one line each. Exits 0 when found (kept or removed), 1 when the id is in
    none of the outputs of the chain.
    """
    from curate.io.layout import manifest_path
    from curate.io.manifest import read_manifest

    manifest = read_manifest(output)
    if manifest is None:
        raise UsageError(f"{output} has no manifest ({manifest_path(output)}): not a finished curate output")
    searched = [str(output)]
    stopped = ""
    current, current_manifest = output, manifest
    found = _find(current, current_manifest, doc_id, id_column)
    seen = {os.path.realpath(current)}
    while not found:
        previous = previous_dataset(current, current_manifest)
        if isinstance(previous, str):
            stopped = previous
            break
        current, current_manifest = previous
        if os.path.realpath(current) in seen:  # a manifest edited into a loop
            stopped = f"{current} was already searched"
            break
        seen.add(os.path.realpath(current))
        searched.append(str(current))
        # Earlier in the chain only a removal answers the question: a document kept there
        # and absent from every later output was lost, which the row counts forbid.
        found = [hit for hit in _find(current, current_manifest, doc_id, id_column) if hit["status"] == "removed"]
    if not found:
        if as_json:
            click.echo(json.dumps({"id": doc_id, "status": "unknown", "searched": searched, "stopped": stopped}))
        else:
            click.echo(f"{doc_id}: not found in {' <- '.join(searched)} (neither kept nor rejected); {stopped}")
        raise SystemExit(ExitCode.FAILED)
    if as_json:
        answer = found[0] if len(found) == 1 else {"id": doc_id, "status": "several", "rows": found}
        click.echo(json.dumps(answer, sort_keys=True, default=str))
        return
    if len(found) > 1:
        click.echo(f"{doc_id}: {len(found)} rows carry this id (ids should be unique)")
    for item in found:
        where = "" if item["output"] == str(output) else f" in {item['output']}"
        if item["status"] == "kept":
            click.echo(f"{doc_id}: kept ({item['file']})")
        else:
            detail = f"removed by {item.get('_stage')}{where}: {item.get('_reason')}"
            if item.get("dup_of") is not None:
                detail += f"; duplicate of {item['dup_of']}"
                if item.get("similarity") is not None:
                    detail += f" (similarity {item['similarity']:.4f})"
            click.echo(f"{doc_id}: {detail}")
