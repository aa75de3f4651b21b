"""Path safety: every path curate writes resolves under the output root."""

from __future__ import annotations

import os
from pathlib import Path

from curate.errors import UnsafePathError


def safe_join(root: Path, *parts: str) -> Path:
    """Join ``parts`` under ``root``, refusing anything that could land outside it.

    Refused: NUL bytes, absolute parts, ``..`` components, and results that resolve
    (through symlinks) outside ``root``'s real path. Raises :class:`UnsafePathError`.
    """
    for part in parts:
        if "\x00" in part:
            raise UnsafePathError(f"refusing path with a NUL byte: {part!r}")
        if os.path.isabs(part) or part.startswith("~"):
            raise UnsafePathError(f"refusing absolute path component: {part!r}")
        if any(component == ".." for component in Path(part).parts):
            raise UnsafePathError(f"refusing path component with '..': {part!r}")
    candidate = root.joinpath(*parts)
    real_root = os.path.realpath(root)
    # Resolve the deepest existing ancestor so that a symlinked subfolder is caught
    # before anything is created below it.
    real_candidate = os.path.realpath(candidate)
    if real_candidate != real_root and not real_candidate.startswith(real_root + os.sep):
        raise UnsafePathError(f"refusing to write {candidate}: it resolves outside {root} (symlink?)")
    return candidate


def ensure_dir(root: Path, *parts: str) -> Path:
    """``safe_join`` then create the directory (and parents), re-checking after creation."""
    path = safe_join(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return safe_join(root, *parts)
