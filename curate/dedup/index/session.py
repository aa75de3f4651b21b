"""One incremental run: lock the index, recover an interrupted update, run the stage, then add the
run's survivors to the index — only after OUT is published.

The order makes a crash anywhere recoverable to the state an uninterrupted run reaches:

1. take the index lock (busy: exit 75 before anything is written), then recover: a ``_pending.json``
   left by a killed run is rolled forward when its OUT has a complete manifest (the survivors are read
   back from OUT, so the update is the same bytes whenever it is made) and dropped otherwise;
2. write ``_pending.json`` (OUT, its night) *before* the run can write OUT's manifest;
3. run the stage (OUT is published when its manifest is written; a re-run of a complete OUT reuses it);
4. build the night's runs from OUT's kept rows, one output shard at a time (memory: one shard), write
   the index state (atomic, last), remove the pending record. An OUT already listed in the state as
   applied is not added twice. A failed update (a full disk) removes the runs it wrote and keeps the
   pending record: the next run on the index rolls it forward.

``fault_point`` names the boundaries between these steps for the fault-injection tests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.dedup.index.entries import output_entries
from curate.dedup.index.store import LOCK_NAME, PENDING_NAME, Index, IndexState, write_json
from curate.errors import BusyError, CurateError
from curate.faults import fault_point
from curate.io.manifest import fingerprint, read_manifest


def _output_key(output: Path) -> str:
    return str(Path(output).resolve())


class IndexSession:
    """``output``: the run's OUT (published when its manifest is); ``survivors``: the dataset of the
    indexed stage's survivors, OUT itself for a command, an intermediate of OUT in a pipeline."""

    def __init__(self, config: Any, output: Path, survivors: Path | None = None) -> None:
        self.config = config
        self.output = Path(output)
        self.survivors = Path(survivors) if survivors is not None else self.output
        self.index = Index(Path(config.index))
        self.fields = config.index_fields()

    def _fresh_state(self) -> IndexState:
        return IndexState(fingerprint(self.fields), self.fields)

    def _applied(self, state: IndexState | None, output: str) -> bool:
        return state is not None and any(a["output"] == output for a in state.applied)

    def apply(self, state: IndexState | None, output: Path, generation: str, survivors: Path) -> IndexState:
        """Add the survivors of a published OUT (idempotent: an OUT already applied is skipped)."""
        state = state or self._fresh_state()
        key = _output_key(output)
        if self._applied(state, key):
            return state
        manifest = read_manifest(output)
        kept = read_manifest(survivors)
        if manifest is None or kept is None:
            raise CurateError(f"{survivors}: no manifest; cannot add this run's survivors to the index")
        return self.index.add_night(
            state,
            output_entries(self.config, survivors, kept),
            {"output": key, "manifest": manifest.get("fingerprint"), "generation": generation},
        )

    def recover(self, state: IndexState | None) -> IndexState | None:
        pending_path = self.index.root / PENDING_NAME
        if not pending_path.exists():
            return state
        try:
            pending = json.loads(pending_path.read_text(encoding="utf-8"))
        except ValueError:
            pending = {}
        output = Path(pending.get("output", ""))
        if pending.get("output") and read_manifest(output) is not None and not self._applied(state, pending["output"]):
            survivors = Path(pending.get("survivors") or output)
            state = self.apply(state, output, pending["generation"], survivors)
        pending_path.unlink()
        return state

    def run(self, run_stage: Callable[[Any], Any], stage: Any) -> Any:
        root = self.index.root
        if root.exists() and not root.is_dir():
            raise CurateError(f"{root} is not a directory: not a curate index")
        with self.index.locked():
            # Checked under the lock: a first run's files are there before its first _index.json.
            if not (root / "_index.json").exists() and any(
                p.name not in (LOCK_NAME, PENDING_NAME, "bands", "docs") for p in root.iterdir()
            ):
                raise CurateError(f"{root} is not a curate index (no _index.json) and not empty")
            state = self.recover(self.index.check_config(self.fields))
            key = _output_key(self.output)
            done = [a for a in (state.applied if state else []) if a["output"] == key]
            # An OUT already applied keeps the generation it was made with: its re-run is a no-op.
            generation = done[0]["generation"] if done else (state or self._fresh_state()).generation
            stage = replace(stage, config=replace(self.config, index_generation=generation))
            if not done:
                pending = {"output": key, "generation": generation}
                if self.survivors != self.output:
                    pending["survivors"] = str(self.survivors.resolve())
                write_json(root / PENDING_NAME, pending)
                fault_point("index:pending")
            try:
                summary = run_stage(stage)
            except BaseException as exc:
                if isinstance(exc, (BusyError, CurateError)) and read_manifest(self.output) is None:
                    with contextlib.suppress(FileNotFoundError):
                        (root / PENDING_NAME).unlink()
                raise
            fault_point("published")
            self.apply(state, self.output, generation, self.survivors)
            fault_point("index:state")
            with contextlib.suppress(FileNotFoundError):
                (root / PENDING_NAME).unlink()
            return summary
