"""The manifest (``OUT.curate/manifest.json``): written last and atomically; its presence means
OUT is complete. An older curate's ``OUT/_manifest.json`` is read too (``curate.io.layout``)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from curate.errors import BadInputError
from curate.io.layout import LAYOUT_VERSION, MANIFEST, find_manifest, state_dir
from curate.io.paths import safe_join
from curate.io.writers import fsync_dir, naming_failures


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def fingerprint(value: Any) -> str:
    """A stable hex digest of a JSON-able value (sorted keys, no whitespace)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:32]


def write_json_atomically(root: Path, name: str, value: Any, *, durable: bool = True) -> None:
    """Write JSON to a hidden temporary file beside ``root/name`` and rename it over that
    (``name`` may hold folders, checked to stay under root). Beside, not in ``work/tmp``: a
    manifest of a kept dataset (``curate run --keep-intermediate``) leaves no work folder behind.
    ``durable`` adds the fsyncs that make it survive a power loss (the manifest); markers skip them."""
    final = safe_join(root, name)
    with naming_failures(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, final)
        if durable:
            fsync_dir(final.parent)


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Commit OUT: its manifest, with ``layout`` 2, to ``OUT.curate/manifest.json``."""
    state = state_dir(out)
    state.mkdir(parents=True, exist_ok=True)
    write_json_atomically(state, MANIFEST, {**manifest, "layout": LAYOUT_VERSION})


# Count names of manifests written before one vocabulary was chosen, and the names they became:
# rows_in / rows_kept / rows_removed everywhere (summary, --json, manifest, pipeline stages).
OLD_COUNT_NAMES = {"rows_out": "rows_kept", "rows_rejected": "rows_removed"}
OLD_STAGE_COUNT_NAMES = {"kept": "rows_kept", "removed": "rows_removed"}
OLD_INTERMEDIATE_COUNT_NAMES = {"rows": "rows_kept"}


def _renamed(value: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    renamed = dict(value)
    for old, new in names.items():
        if old in renamed and new not in renamed:
            renamed[new] = renamed.pop(old)
    return renamed


def with_current_count_names(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with the counts of an older curate under today's names (``rows_out`` ->
    ``rows_kept``, ``rows_rejected`` -> ``rows_removed``; a pipeline stage's ``kept`` /
    ``removed`` -> ``rows_kept`` / ``rows_removed``; an intermediate dataset's ``rows`` ->
    ``rows_kept``). A current manifest comes back equal."""
    current = _renamed(manifest, OLD_COUNT_NAMES)
    if current.get("stage") == "pipeline_intermediate":
        current = _renamed(current, OLD_INTERMEDIATE_COUNT_NAMES)
    if isinstance(current.get("stages"), list):
        current["stages"] = [
            _renamed(item, OLD_STAGE_COUNT_NAMES) if isinstance(item, dict) else item for item in current["stages"]
        ]
    return current


def read_manifest(out: Path) -> dict[str, Any] | None:
    """OUT's manifest (``OUT.curate/manifest.json``, else an older curate's ``OUT/_manifest.json``),
    or None when there is none, its counts under today's names (:func:`with_current_count_names`).
    A manifest that is not a JSON object (truncated, edited, garbage) is bad input (exit 3),
    never a traceback."""
    path = find_manifest(out)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadInputError(str(path), f"unreadable manifest ({exc}); remove it or pass --overwrite") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("shards", []), list):
        raise BadInputError(str(path), "not a curate manifest (want a JSON object with a list of shards)")
    return with_current_count_names(loaded)
