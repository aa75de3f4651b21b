"""The run workspace under ``OUT/_work``: intermediate files and per-task completion markers.

A task is done when its marker exists, was written by a run with the same fingerprint,
and every file it lists still exists with the recorded size (and, for a published shard,
the recorded xxh3-128). So a deleted or damaged output is redone, and a config change
never silently reuses stale work.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.io.manifest import write_json_atomically
from curate.io.paths import ensure_dir, safe_join
from curate.io.writers import file_checksum, is_intermediate

WORK_DIR = "_work"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class Workspace:
    """Where one run keeps its state. Picklable: tasks in other processes get a copy."""

    root: Path
    fingerprint: str

    def path(self, *parts: str) -> Path:
        return safe_join(self.root, WORK_DIR, *parts)

    def directory(self, *parts: str) -> Path:
        return ensure_dir(self.root, WORK_DIR, *parts)

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def _marker(self, phase: str, task: str) -> Path:
        return self.path("markers", phase, f"{task}.json")

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
            path = safe_join(self.root, output["name"])
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
        write_json_atomically(self.root, f"{WORK_DIR}/markers/{phase}/{task}.json", record, durable=False)

    def _output_record(self, path: Path) -> dict[str, Any]:
        """Size for every output; a checksum too for published shards (outside ``_work``),
        so a resumed run redoes a published shard whose bytes changed. Intermediates are
        only protected against crashes (atomic rename), and re-hashing them all on every
        resume would cost more than it guards."""
        name = self.relative(path)
        record: dict[str, Any] = {"name": name, "bytes": path.stat().st_size}
        if not is_intermediate(name):
            record["xxh3_128"] = file_checksum(path)
        return record

    def read_run(self) -> dict[str, Any] | None:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError), open(self.path(RUN_FILE)) as handle:
            loaded: dict[str, Any] = json.load(handle)
            return loaded
        return None

    def write_run(self, record: dict[str, Any]) -> None:
        self.directory()
        write_json_atomically(self.root, f"{WORK_DIR}/{RUN_FILE}", record, durable=False)

    def remove_intermediates(self) -> None:
        """Drop ``_work`` once the manifest is written: the manifest now speaks for the run."""
        shutil.rmtree(self.path(), ignore_errors=True)
