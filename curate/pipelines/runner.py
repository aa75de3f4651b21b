"""What every stage run shares: input discovery, the output lock, the fingerprint check
that makes a re-run resume or do nothing, running phases with markers, the manifest.

OUT holds the kept shards only; the run's state is in ``OUT.curate`` beside it
(``curate.io.layout``). Outcomes of starting a run on ``OUT``:

* a manifest with the same fingerprint: nothing to do, the summary is re-read (an older
  curate's ``OUT/_manifest.json`` counts too: that output stays as it is);
* a manifest or an unfinished run with another fingerprint: refused (UsageError) unless
  ``overwrite``, which removes curate's own files (never anything else, in either layout)
  and starts over;
* an unfinished run with the same fingerprint: resumed from its completion markers;
* a non-empty ``OUT`` that is not a curate output: refused unless ``overwrite``;
* an ``OUT`` (or its ``OUT.curate``) inside a directory or glob input: refused (the next run
  would read it).

A run that fails before any work leaves ``OUT`` as it was (see ``_failed_before_work``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from curate import __version__
from curate.errors import CurateError, UnsafePathError, UsageError
from curate.io import cleanup, layout
from curate.io.discovery import (
    InputShard,
    discover_inputs,
    glob_could_read,
    input_root,
    is_directory_input,
)
from curate.io.lock import OutputLock
from curate.io.manifest import fingerprint, read_manifest, write_manifest
from curate.io.writers import file_checksum
from curate.log_lines import current_run_id
from curate.pipelines.cpus import available_cpus
from curate.pipelines.executors import Executor, make_executor
from curate.pipelines.workspace import Workspace

log = logging.getLogger(__name__)


def _peak_rss() -> str:
    """This process's peak resident memory (threads included; not child processes)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return "unknown"


def _intact(path: Path, listed: dict[str, Any]) -> bool:
    if not path.is_file() or path.stat().st_size != listed["bytes"]:
        return False
    return "xxh3_128" not in listed or file_checksum(path) == listed["xxh3_128"]


@dataclass(frozen=True)
class RunOptions:
    """How to run, as opposed to what to compute: none of it enters the fingerprint."""

    executor: str = "local"
    pool: str = "thread"
    workers: int = 0
    ray_address: str | None = None
    overwrite: bool = False
    skip_bad_shards: bool = False
    quiet: bool = False
    keep_work: bool = False

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else available_cpus()


@dataclass
class StageRun:
    stage: str
    input_location: str
    output: Path
    config_fields: dict[str, Any]
    options: RunOptions
    shards: list[InputShard] = field(default_factory=list)
    input_manifest: dict[str, Any] | None = None
    fingerprint: str = ""
    workspace: Workspace | None = None
    previous_manifest: dict[str, Any] | None = None
    # The first stage's source (``"warc"``): which input files discovery finds.
    source: str | None = None
    started: float = 0.0
    started_at: str = ""
    _lock: OutputLock | None = None
    _legacy_lock: OutputLock | None = None
    _executor: Executor | None = None
    # What this invocation created, so that an error before any work can undo it.
    _fresh: bool = False
    _output_existed: bool = True
    _state_existed: bool = True
    _lock_existed: bool = True
    # An older curate's files were removed (--overwrite): its lock file goes with them.
    _legacy_cleared: bool = False

    @property
    def state(self) -> Path:
        """``OUT.curate``: the manifest, the lock, the rejects and the workspace."""
        return layout.state_dir(self.output)

    def __enter__(self) -> StageRun:
        self.started = time.monotonic()
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.shards, self.input_manifest = discover_inputs(self.input_location, self.source)
        self._refuse_output_inside_input()
        self._output_existed = self._check_output_path()
        self._state_existed = os.path.lexists(self.state)
        self._lock_existed = os.path.lexists(layout.lock_path(self.output))
        self.output.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(exist_ok=True)
        self._lock = OutputLock(layout.lock_path(self.output), self.output).__enter__()
        try:
            self._check_same_filesystem()
            if os.path.lexists(layout.legacy_lock_path(self.output)):
                # An older curate may be running on this OUT: it locks this file.
                self._legacy_lock = OutputLock(layout.legacy_lock_path(self.output), self.output).__enter__()
            self._prepare()
        except BaseException as exc:
            self._release(undo=isinstance(exc, CurateError))
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if self._executor is not None:
                self._executor.close()
        finally:
            self._release(undo=self._failed_before_work(exc))

    def _failed_before_work(self, exc: BaseException | None) -> bool:
        """A run this invocation started afresh that stopped on one of curate's errors (a
        wrong column, a schema conflict, a corrupt shard, a full disk) before any task
        finished, or on a usage error at any point: there is no work worth resuming (a
        corrected command has another fingerprint), so OUT goes back to how it was. Once a
        task finished, a bad shard keeps the work: ``--on-error skip`` resumes it."""
        if not isinstance(exc, CurateError) or not self._fresh or self.workspace is None:
            return False
        return isinstance(exc, UsageError) or not self.workspace.any_done()

    def _release(self, *, undo: bool) -> None:
        if undo and self._fresh:
            self._remove_curate_files()
        if self._legacy_lock is not None:
            self._legacy_lock.release(remove=self._legacy_cleared)
            self._legacy_lock = None
        if self._lock is not None:
            remove_lock = undo and not self._lock_existed
            self._lock.release(remove=remove_lock)
            self._lock = None
            if remove_lock and not self._state_existed:
                with contextlib.suppress(OSError):
                    self.state.rmdir()  # only if empty: nothing of anyone else's is removed
            if remove_lock and not self._output_existed:
                with contextlib.suppress(OSError):
                    self.output.rmdir()

    def _check_output_path(self) -> bool:
        """Whether OUT exists; refuses an OUT (or ``OUT.curate``) that cannot be a directory of ours."""
        for path, what in ((self.output, "the output"), (self.state, "the output's state directory")):
            if path.is_symlink() and not path.exists():
                raise UsageError(f"{what} {path} is a symlink to a missing path ({os.readlink(path)})")
            if path.exists() and not path.is_dir():
                raise UsageError(f"{what} {path} exists and is not a directory")
        if self.state.is_symlink():
            raise UnsafePathError(f"refusing {self.state}: the output's state directory is a symlink")
        return self.output.exists()

    def _check_same_filesystem(self) -> None:
        if os.stat(self.output).st_dev != os.stat(self.state).st_dev:
            raise UsageError(
                f"{self.output} and {self.state} are on different filesystems (is {self.output} a mount "
                "point?): shards are published by renaming; choose a directory below the mount point"
            )

    def _refuse_output_inside_input(self) -> None:
        if "://" in self.input_location:
            return
        root = input_root(self.input_location) if self.input_manifest is None else None
        for target in (self.output, self.state):
            real = os.path.realpath(target)
            if root is not None and self._input_would_read(root, real):
                raise UsageError(
                    f"the output {self.output} is inside the input {self.input_location}, so a second run "
                    f"would read its own output ({target}); choose a directory outside it (or one whose "
                    "name starts with '_', which input discovery skips)"
                )
            for shard in self.shards:
                if os.path.realpath(shard.path).startswith(real + os.sep):
                    raise UsageError(f"the output {target} contains input files; choose a separate directory")

    def _input_would_read(self, root: str, out: str) -> bool:
        """Whether discovery of the input (a directory or glob below ``root``) would find the
        shards this run writes in ``out``: then the next identical run would read them."""
        real_root = os.path.realpath(root)
        if out != real_root and not out.startswith(real_root + os.sep):
            return False
        if not is_directory_input(self.input_location):
            return glob_could_read(self.input_location, out)
        # Below a directory, discovery skips folders whose name starts with _ or . (or is X.curate)
        inside = Path(os.path.relpath(out, real_root)).parts if out != real_root else ()
        return not any(part.startswith(("_", ".")) or part.endswith(layout.STATE_SUFFIX) for part in inside)

    def _prepare(self) -> None:
        identity = {
            "stage": self.stage,
            "config": self.config_fields,
            "inputs": [s.fingerprint() for s in self.shards],
            "input_manifest": (self.input_manifest or {}).get("fingerprint"),
        }
        self.fingerprint = fingerprint(identity)
        self.workspace = Workspace(self.state, self.fingerprint, self.output)
        if self.options.overwrite:
            self._clear()
            return
        manifest = read_manifest(self.output)
        run = self.workspace.read_run()
        if manifest is not None:
            if manifest.get("fingerprint") == self.fingerprint:
                damaged = self._damaged_outputs(manifest)
                if not damaged:
                    if layout.is_legacy(manifest):
                        log.info(
                            "%s: written by an older curate (OUT/_manifest.json); --overwrite rewrites it "
                            "as OUT + OUT.curate",
                            self.output,
                        )
                    self.previous_manifest = manifest
                    return
                # The intermediates are gone with the finished run, so a global stage
                # cannot redo one shard alone: redo the run (same bytes, by determinism).
                log.warning("%s: %s missing or changed; redoing the run", self.output, ", ".join(damaged))
                self._clear()
                return
            raise UsageError(
                f"{self.output} holds a finished {manifest.get('stage')} run with another configuration or "
                "input; pass --overwrite to replace it, or choose another output directory"
            )
        if run is not None and run.get("fingerprint") != self.fingerprint:
            raise UsageError(
                f"{self.output} holds an unfinished run with another configuration or input; "
                "pass --overwrite to start over"
            )
        if run is None and layout.legacy_work_dir(self.output).is_dir():
            raise UsageError(
                f"{self.output} holds an unfinished run of an older curate (OUT/_work); pass --overwrite to start over"
            )
        if run is None and (cleanup.foreign_entries(self.output) or any(self.output.glob("part-*"))):
            raise UsageError(f"{self.output} is not empty and not a curate output; pass --overwrite or choose another")
        if run is None:
            self.workspace.write_run({"fingerprint": self.fingerprint, "started_at": self.started_at})
            self._fresh = True

    def _damaged_outputs(self, manifest: dict[str, Any]) -> list[str]:
        """Listed files that are missing or no longer hold the bytes the manifest recorded
        (size, then xxh3-128: a flipped byte keeps the size)."""
        listed = layout.listed_files(self.output, manifest)
        # xxh3 releases the GIL: the files are hashed in parallel (~5 GB/s per thread).
        with ThreadPoolExecutor(max(1, min(len(listed), self.options.worker_count))) as pool:
            intact = list(pool.map(lambda item: _intact(item[1], item[0]), listed))
        return [entry["name"] for (entry, _), ok in zip(listed, intact, strict=True) if not ok]

    def _clear(self) -> None:
        """Start afresh: remove what curate wrote, nothing else (a user's stray file stays)."""
        self._remove_curate_files()
        assert self.workspace is not None
        self.workspace.write_run({"fingerprint": self.fingerprint, "started_at": self.started_at})
        self._fresh = True

    def _remove_curate_files(self) -> None:
        self._legacy_cleared = self._legacy_lock is not None
        cleanup.remove_curate_files(self.output)

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(
                self.options.executor,
                self.options.worker_count,
                self.options.ray_address,
                quiet=self.options.quiet,
                pool=self.options.pool,
            )
        return self._executor

    def run_phase(
        self,
        phase: str,
        fn: Callable[[Any], dict[str, Any]],
        tasks: Sequence[tuple[str, Any]],
        weights: Sequence[int] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Run the tasks (key, argument) of one phase whose markers are missing; return the
        stats of every task by key, finished now or earlier. ``weights`` (aligned with
        ``tasks``): the bytes each task reads, which the progress bar then counts."""
        assert self.workspace is not None
        results: dict[str, dict[str, Any]] = {}
        todo: list[tuple[str, Any]] = []
        todo_weights: list[int] = []
        for i, (key, argument) in enumerate(tasks):
            done = self.workspace.done(phase, key)
            if done is None:
                todo.append((key, argument))
                if weights is not None:
                    todo_weights.append(weights[i])
            else:
                results[key] = done
        if todo:
            began = time.monotonic()
            outputs = self.executor.map(
                fn,
                [argument for _, argument in todo],
                description=phase,
                weights=None if weights is None else todo_weights,
            )
            for (key, _), stats in zip(todo, outputs, strict=True):
                results[key] = stats
            log.info(
                "phase %s: %d task(s) in %.2f s (%d done earlier), peak RSS so far %s",
                phase,
                len(todo),
                time.monotonic() - began,
                len(results) - len(todo),
                _peak_rss(),
            )
        return {key: results[key] for key, _ in tasks}

    def _input_location_record(self) -> str:
        """The input as given, made absolute when it is a local path (a chain run from another
        working directory still resolves)."""
        if "://" in self.input_location:
            return self.input_location
        return os.path.abspath(self.input_location)

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        """Write the manifest (last, atomically), then drop ``work/``."""
        assert self.workspace is not None
        manifest = {
            "curate_version": __version__,
            "stage": self.stage,
            "config": self.config_fields,
            "fingerprint": self.fingerprint,
            "inputs": [s.fingerprint() for s in self.shards],
            "input_manifest_fingerprint": (self.input_manifest or {}).get("fingerprint"),
            # Where the input was (not in the fingerprint): `curate explain` follows a chain back.
            "input_location": self._input_location_record(),
            "started_at": self.started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - self.started, 3),
            # The run that wrote this dataset: in its stderr lines and --json summary too.
            "run_id": current_run_id(),
            **body,
            "layout": layout.LAYOUT_VERSION,
        }
        write_manifest(self.output, manifest)
        if not self.options.keep_work:
            self.workspace.remove_intermediates()
        return manifest
