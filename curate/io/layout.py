"""Where a curate output keeps its files: every path of the layout, in one place.

::

    OUT/part-*.parquet          the kept rows and nothing else, so that every reader pointed at
                                OUT (a directory, ``OUT/*.parquet`` or ``OUT/**/*.parquet``) reads
                                exactly them (docs/output-layout.md)
    OUT.curate/                 the sibling state directory: one documented path away, on the
                                same filesystem as OUT (atomic renames), outside every reader's view
      manifest.json             written last, atomically: OUT is complete (the commit point)
      lock                      the OS advisory lock of the running run
      rejects/part-*.parquet    dropped rows (``curate run``: ``rejects/KK-<stage>/part-*.parquet``)
      work/                     markers, intermediates, ``tmp/`` for atomic writes (``--keep-work``)
      intermediate/KK-<stage>/  ``curate run --keep-intermediate``: datasets of their own

Names a manifest lists are relative to OUT for ``shards`` and to ``OUT.curate`` for ``rejects``
(``"layout": 2`` in the manifest). An output written by curate before this layout (layout 1:
``OUT/_manifest.json``, ``OUT/_rejects/``, ``OUT/_work/``, ``OUT/_curate.lock``) is still read:
every reader of a dataset goes through :func:`find_manifest` and :func:`listed_path`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curate.errors import BadInputError, UsageError

STATE_SUFFIX = ".curate"
LAYOUT_VERSION = 2

# Names inside the state directory (relative to it: the run's workspace root).
MANIFEST = "manifest.json"
LOCK = "lock"
REJECTS = "rejects"
WORK = "work"
TMP = "tmp"
INTERMEDIATE = "intermediate"
STATE_DIRS = (REJECTS, WORK, INTERMEDIATE)

# Layout 1 (curate before OUT.curate existed), all inside OUT: still read, and removed by --overwrite.
LEGACY_MANIFEST = "_manifest.json"
LEGACY_LOCK = "_curate.lock"
LEGACY_REJECTS = "_rejects"
LEGACY_WORK = "_work"
LEGACY_DIRS = (LEGACY_REJECTS, LEGACY_WORK, "_intermediate")

KEPT_PREFIX = "part-"
KEPT_SUFFIX = ".parquet"


def is_kept_shard_name(name: str) -> bool:
    """A file name curate writes in OUT (``part-NNNNN.parquet``)."""
    return name.startswith(KEPT_PREFIX) and name.endswith(KEPT_SUFFIX)


def state_dir(out: Path | str) -> Path:
    """``OUT.curate``, beside OUT. OUT given as ``.`` or ``x/..`` is made absolute first, so the
    state directory is still a sibling with a name (never ``..curate`` inside OUT)."""
    out = Path(out)
    if out.name in ("", ".", ".."):
        out = Path(os.path.abspath(out))
    if not out.name:
        raise UsageError(f"the output {out} has no name (the filesystem root): choose a directory below it")
    return out.with_name(out.name + STATE_SUFFIX)


def manifest_path(out: Path | str) -> Path:
    return state_dir(out) / MANIFEST


def lock_path(out: Path | str) -> Path:
    return state_dir(out) / LOCK


def rejects_dir(out: Path | str) -> Path:
    return state_dir(out) / REJECTS


def work_dir(out: Path | str) -> Path:
    return state_dir(out) / WORK


def tmp_dir(out: Path | str) -> Path:
    """Where the kept shards of OUT are written before their rename into OUT."""
    return work_dir(out) / TMP


def work_name(*parts: str) -> str:
    """A name under ``work/``, relative to the workspace root (the state directory)."""
    return "/".join((WORK, *parts))


def legacy_manifest_path(out: Path | str) -> Path:
    return Path(out) / LEGACY_MANIFEST


def legacy_lock_path(out: Path | str) -> Path:
    return Path(out) / LEGACY_LOCK


def legacy_rejects_dir(out: Path | str) -> Path:
    return Path(out) / LEGACY_REJECTS


def legacy_work_dir(out: Path | str) -> Path:
    return Path(out) / LEGACY_WORK


def find_manifest(out: Path | str) -> Path | None:
    """The manifest that makes OUT a finished dataset: ``OUT.curate/manifest.json``, else an
    older curate's ``OUT/_manifest.json``; None when there is neither."""
    for path in (manifest_path(out), legacy_manifest_path(out)):
        if path.is_file():
            return path
    return None


def is_legacy(manifest: dict[str, Any]) -> bool:
    return manifest.get("layout", 1) != LAYOUT_VERSION


def rejects_base(out: Path | str, manifest: dict[str, Any]) -> Path:
    """The directory the manifest's ``rejects`` names are relative to."""
    return Path(out) if is_legacy(manifest) else state_dir(out)


def _checked(name: Any, where: Path) -> str:
    if not isinstance(name, str) or os.path.isabs(name) or ".." in Path(name).parts or "\x00" in name:
        raise BadInputError(str(where), f"refusing listed file name {name!r} (escapes the dataset)")
    return name


def listed_path(out: Path | str, manifest: dict[str, Any], entry: dict[str, Any], kind: str) -> Path:
    """Where a file the manifest lists under ``kind`` (``shards`` or ``rejects``) is."""
    base = Path(out) if kind == "shards" else rejects_base(out, manifest)
    return base / _checked(entry.get("name"), base)


def listed_files(out: Path | str, manifest: dict[str, Any]) -> list[tuple[dict[str, Any], Path]]:
    """Every file the manifest lists (shards, then rejects) with its path."""
    return [
        (entry, listed_path(out, manifest, entry, kind))
        for kind in ("shards", "rejects")
        for entry in manifest.get(kind, [])
    ]


def display_name(out: Path | str, manifest: dict[str, Any], entry: dict[str, Any], kind: str) -> str:
    """A listed file named as a user finds it: ``part-00000.parquet`` for a kept shard,
    ``OUT.curate/rejects/part-00000.parquet`` for rejects (relative to OUT's parent)."""
    if kind == "shards" or is_legacy(manifest):
        return str(entry["name"])
    return f"{state_dir(out).name}/{entry['name']}"
