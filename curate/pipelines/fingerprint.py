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


def stage_fields(stage: Any, read: ReadOptions) -> dict[str, Any]:
    """What a stage's manifest records of its configuration, and so what its fingerprint
    covers: for a dedup stage its config with the algorithm version and read options
    (``fingerprint_fields``); for a filter or modifier its name, config, annotate and text
    column; for both, the SHA-256 of every file the stage reads. The single commands and
    ``curate run`` (per stage) both use it."""
    from curate.pipelines.stage import GlobalStage

    if isinstance(stage, GlobalStage):
        fields: dict[str, Any] = dict(stage.fingerprint_fields())
    else:
        fields = {
            "stage": stage.name,
            "config": stage.config(),
            "annotate": bool(getattr(stage, "annotate", False)),
            "text_column": read.text_column,
        }
    if stage.files():
        fields["files"] = file_digests(stage.files())
    return fields


def stage_fingerprint(stage: Any, read: ReadOptions) -> str:
    return fingerprint(stage_fields(stage, read))
