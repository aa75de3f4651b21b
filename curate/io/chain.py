"""Following a chain of curate outputs back: each manifest records where its input was
(``input_location``) and the fingerprint of the input's manifest; an earlier output is
followed only while its manifest is still the one the later output was made from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def previous_dataset(output: Path, manifest: dict[str, Any]) -> tuple[Path, dict[str, Any]] | str:
    """The curate dataset OUT was made from, or why the chain cannot be followed further."""
    from curate.io.manifest import read_manifest

    location = manifest.get("input_location")
    if not isinstance(location, str):
        return f"{output}'s manifest does not record its input (written by an older curate): explain the earlier output"
    if "://" in location:
        return f"{output} was made from {location}, which curate does not follow"
    if manifest.get("input_manifest_fingerprint") is None:
        return f"{output} was made from {location}, the raw input (no curate manifest)"
    previous = Path(location)
    earlier = read_manifest(previous) if previous.is_dir() else None
    if earlier is None:
        return f"{output} was made from {location}, which is no longer a finished curate output"
    if earlier.get("fingerprint") != manifest["input_manifest_fingerprint"]:
        return f"{output} was made from {location}, which has been rewritten since (another manifest)"
    return previous, earlier


def chain_of(output: Path, manifest: dict[str, Any]) -> tuple[list[tuple[Path, dict[str, Any]]], str]:
    """Every output of the chain ending at ``output``, the first stage first, and why the
    walk stopped where it did."""
    chain = [(output, manifest)]
    seen = {os.path.realpath(output)}
    while True:
        previous = previous_dataset(*chain[-1])
        if isinstance(previous, str):
            return list(reversed(chain)), previous
        if os.path.realpath(previous[0]) in seen:
            return list(reversed(chain)), f"{previous[0]} was already visited"
        seen.add(os.path.realpath(previous[0]))
        chain.append(previous)
