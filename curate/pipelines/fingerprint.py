"""One fingerprint for every stage: what it is, how it reads, and the content of the files it uses.

A stage's identity is its name, its algorithm version, its config, the read options that
change what it sees, and the SHA-256 of every file it depends on (a word list, a
blocklist, a model): an edited file changes the fingerprint, so an output computed with
the old file is never answered for the new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from curate.errors import UsageError
from curate.io.manifest import fingerprint
from curate.io.readers import ReadOptions


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def file_digests(paths: Iterable[str]) -> dict[str, str]:
    return {path: file_digest(path) for path in paths}


def read_identity(read: ReadOptions) -> dict[str, Any]:
    """The read options that change what a stage computes (batch size does not)."""
    return {"text_column": read.text_column, "id_column": read.id_column, "id_column_explicit": read.id_column_explicit}


def stage_identity(
    name: str, algorithm_version: int, config: dict[str, Any], read: ReadOptions, files: Iterable[str] = ()
) -> dict[str, Any]:
    return {
        "stage": name,
        "algorithm_version": algorithm_version,
        "config": config,
        "read": read_identity(read),
        "files": file_digests(files),
    }


def stage_fingerprint(
    name: str, algorithm_version: int, config: dict[str, Any], read: ReadOptions, files: Iterable[str] = ()
) -> str:
    return fingerprint(stage_identity(name, algorithm_version, config, read, files))
