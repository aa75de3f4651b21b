"""The run workspace under ``OUT.curate/work``: intermediate files and per-task completion markers.

A task is done when its marker exists, was written by a run with the same fingerprint,
and every file it lists still exists with the recorded size (and, for a published shard,
the recorded xxh3-128). So a deleted or damaged output is redone, and a config change
never silently reuses stale work.

The workspace root is the state directory ``OUT.curate`` (``curate.io.layout``): names of
intermediates and rejects are relative to it. A marker names its files relative to the
directory holding OUT and ``OUT.curate``, so that it can name the kept shards in OUT too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import UnsafePathError
from curate.io.layout import TMP, WORK
from curate.io.manifest import write_json_atomically
from curate.io.paths import ensure_dir, safe_join
from curate.io.writers import file_checksum

RUN_FILE = "run.json"


@dataclass(frozen=True)
class Workspace:
    """Where one run keeps its state. Picklable: tasks in other processes get a copy.

    ``root``: the state directory (``OUT.curate``); ``out``: the dataset directory whose kept
    shards the run publishes (OUT, beside ``root``)."""

    root: Path
    fingerprint: str
    out: Path

    def path(self, *parts: str) -> Path:
        return safe_join(self.root, WORK, *parts)

    def directory(self, *parts: str) -> Path:
        return ensure_dir(self.root, WORK, *parts)

    @property
    def tmp_dir(self) -> Path:
        """Temporary files of atomic writes: on OUT's filesystem, so a rename publishes them."""
        return ensure_dir(self.root, WORK, TMP)

    @property
    def _base(self) -> Path:
        return self.root.parent

    def _marker(self, phase: str, task: str) -> Path:
        return self.path("markers", phase, f"{task}.json")

    def _recorded(self, name: str) -> Path:
        """A marker's file name back to a path: under OUT or the state directory, nowhere else."""
        path = safe_join(self._base, name)
        top = Path(name).parts[0] if Path(name).parts else ""
        if top not in (self.root.name, self.out.name):
            raise UnsafePathError(f"refusing marker entry {name!r}: not under {self.out} or {self.root}")
        return path

    def done(self, phase: str, task: str) -> dict[str, Any] | None:
        """The stats a finished task recorded, or None if it must (re)run."""
        marker = self._marker(phase, task)
        try:
            with open(marker, encoding="utf-8") as handle:
                record = json.load(handle)
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if record.get("fingerprint") != self.fingerprint:
            return None
        for output in record.get("outputs", []):
            path = self._recorded(output["name"])
            try:
                if path.stat().st_size != output["bytes"]:
                    return None
            except FileNotFoundError:
                return None
            if "xxh3_128" in output and file_checksum(path) != output["xxh3_128"]:
                return None
        stats: dict[str, Any] = record.get("stats", {})
        return stats

    def any_done(self) -> bool:
        """Whether any task of this run has a completion marker (work worth keeping)."""
        markers = self.path("markers")
        return markers.is_dir() and any(markers.rglob("*.json"))

    def mark_done(self, phase: str, task: str, stats: dict[str, Any], outputs: list[Path]) -> None:
        self.directory("markers", phase)
        record = {
            "fingerprint": self.fingerprint,
            "stats": stats,
            "outputs": [self._output_record(p) for p in outputs],
        }
        write_json_atomically(self.root, f"{WORK}/markers/{phase}/{task}.json", record, durable=False)

    def _output_record(self, path: Path) -> dict[str, Any]:
        """Size for every output; a checksum too for published shards (outside ``work/``),
        so a resumed run redoes a published shard whose bytes changed. Intermediates are
        only protected against crashes (atomic rename), and re-hashing them all on every
        resume would cost more than it guards."""
        name = Path(os.path.relpath(path, self._base)).as_posix()
        record: dict[str, Any] = {"name": name, "bytes": path.stat().st_size}
        inside_work = Path(os.path.relpath(path, self.root)).parts[:1] == (WORK,)
        if not inside_work:
            record["xxh3_128"] = file_checksum(path)
        return record

    def read_run(self) -> dict[str, Any] | None:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError), open(self.path(RUN_FILE)) as handle:
            loaded: dict[str, Any] = json.load(handle)
            return loaded
        return None

    def write_run(self, record: dict[str, Any]) -> None:
        self.directory()
        write_json_atomically(self.root, f"{WORK}/{RUN_FILE}", record, durable=False)

    def remove_intermediates(self) -> None:
        """Drop ``work/`` once the manifest is written: the manifest now speaks for the run."""
        shutil.rmtree(self.path(), ignore_errors=True)
