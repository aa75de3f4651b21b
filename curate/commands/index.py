"""``curate index``: inspect and maintain a persistent dedup index (``dedup minhash|exact --index``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curate.commands.options import json_flag
from curate.errors import UsageError

INDEX_ARG = click.argument("index_dir", metavar="IDX", type=click.Path(file_okay=False, path_type=Path))
JSON_OPT = json_flag("Print the result as one JSON object.")


@click.group()
def index() -> None:
    """Inspect and maintain a persistent dedup index (nightly incremental dedup)."""


def _open(index_dir: Path) -> Any:
    from curate.dedup.index.store import Index

    found = Index(index_dir)
    if not found.exists():
        raise UsageError(f"{index_dir} is not a curate index (no _index.json)")
    return found


def _echo(value: dict[str, Any], as_json: bool, line: str) -> None:
    click.echo(json.dumps(value, sort_keys=True) if as_json else line)


@index.command()
@INDEX_ARG
@JSON_OPT
def stats(index_dir: Path, as_json: bool) -> None:
    """Documents, runs, nights, bytes and configuration of IDX."""
    found = _open(index_dir).stats()
    line = (
        f"index: {found['documents']} documents in {found['runs']} runs over {found['nights']} nights, "
        f"{found['removed_pending_compaction']} removed ids awaiting compaction, "
        f"{found['bytes'] / 1e6:.1f} MB -> {index_dir}"
    )
    _echo(found, as_json, line)


@index.command()
@INDEX_ARG
@JSON_OPT
def compact(index_dir: Path, as_json: bool) -> None:
    """Merge every run of IDX into one, dropping removed documents (under the index lock)."""
    found = _open(index_dir)
    with found.locked():
        state = found.state()
        before = len(state.runs)
        state = found.compact(state)
    value = {
        "index": str(index_dir),
        "runs_before": before,
        "runs": len(state.runs),
        "documents": state.runs[0]["docs"] if state.runs else 0,
    }
    _echo(value, as_json, f"compact: {before} runs -> {value['runs']}, {value['documents']} documents -> {index_dir}")


@index.command()
@INDEX_ARG
@click.option(
    "--ids",
    "ids_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file of ids, one a line (e.g. takedown requests).",
)
@JSON_OPT
def remove(index_dir: Path, ids_file: Path, as_json: bool) -> None:
    """Remove documents from IDX: they no longer suppress later copies. Their rows go at the next compaction."""
    import pyarrow as pa

    found = _open(index_dir)
    ids = [line.strip() for line in ids_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    with found.locked():
        added = found.remove(found.state(), pa.array(ids, pa.string()))
    value = {"index": str(index_dir), "ids": len(ids), "newly_removed": added}
    _echo(value, as_json, f"remove: {len(ids)} ids, {added} newly removed -> {index_dir}")
