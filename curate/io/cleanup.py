"""What curate wrote for an output, in either layout, and nothing else: for ``--overwrite``,
for undoing a run that failed before any work, and for telling a stranger's directory apart.

A file is curate's when its name is one curate writes: ``part-*.parquet`` in OUT, the state
directory's own names (``curate.io.layout``), and an older curate's names inside OUT
(``_manifest.json``, ``_rejects/``, ``_work/``, ``_intermediate/``). A user's stray file stays, and
nothing is followed through a symlink.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from curate.io import layout


def _remove_dir(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)


def _remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if not path.is_dir() or path.is_symlink():
            path.unlink()


def foreign_entries(out: Path) -> list[str]:
    """Names in OUT that curate did not write (in either layout)."""
    if not out.is_dir():
        return []
    ours = {layout.LEGACY_MANIFEST, layout.LEGACY_LOCK, *layout.LEGACY_DIRS}
    return sorted(p.name for p in out.iterdir() if p.name not in ours and not layout.is_kept_shard_name(p.name))


def remove_curate_files(out: Path) -> None:
    """Remove the output's manifest first (OUT stops being complete), then its shards, rejects
    and work, in both layouts. The lock files stay: their holder removes them."""
    state = layout.state_dir(out)
    _remove_file(layout.manifest_path(out))
    _remove_file(layout.legacy_manifest_path(out))
    if out.is_dir():
        for path in out.iterdir():
            if path.name in layout.LEGACY_DIRS:
                _remove_dir(path)
            elif layout.is_kept_shard_name(path.name) and path.is_file():
                path.unlink()
    if state.is_dir() and not state.is_symlink():
        for name in layout.STATE_DIRS:
            _remove_dir(state / name)
