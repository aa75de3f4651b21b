"""One incremental run: lock the index, recover an interrupted update, run the stage, then add the
run's survivors to the index — only after OUT is published.

The order makes a crash anywhere recoverable to the state an uninterrupted run reaches:

1. take the index lock (busy: exit 75 before anything is written), then recover: a ``_pending.json``
   left by a killed run is rolled forward when its OUT has a complete manifest (the survivors are read
   back from OUT, so the update is the same bytes whenever it is made) and dropped otherwise;
2. write ``_pending.json`` (OUT, its night) *before* the run can write OUT's manifest;
3. run the stage (OUT is published when its manifest is written; a re-run of a complete OUT reuses it);
4. build the night's runs from OUT's kept rows, write the index state (atomic, last), remove the
   pending record. An OUT already listed in the state as applied is not added twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.index.store import LOCK_NAME, PENDING_NAME, Index, IndexState, id_keys, write_json
from curate.errors import BusyError, CurateError
from curate.io.layout import listed_path
from curate.io.manifest import fingerprint, read_manifest


def _output_key(output: Path) -> str:
    return str(Path(output).resolve())


def survivors_of(config: Any, output: Path, manifest: dict[str, Any]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """(key, id, text) and band hashes of every kept row of a published OUT (cost ∝ tonight)."""
    read = config.read
    pieces = []
    for entry in manifest.get("shards", []):
        pieces.append(
            pq.read_table(listed_path(output, manifest, entry, "shards"), columns=[read.id_column, read.text_column])
        )
    if not pieces:
        empty = pa.table(
            {"key": pa.array([], pa.uint64()), "id": pa.array([], pa.string()), "text": pa.array([], pa.large_string())}
        )
        return empty, np.zeros((0, config.bands), np.uint64), np.empty(0, np.uint64)
    table = pa.concat_tables(pieces, promote_options="permissive")
    ids = table.column(read.id_column).combine_chunks().cast(pa.string())
    texts = table.column(read.text_column).combine_chunks().cast(pa.large_string())
    result = kernel.minhash_batch(
        texts,
        kind=config.shingle,
        ngram=config.ngram,
        num_perm=config.num_perm,
        seed=config.seed,
        bands=config.bands,
        rows=config.rows,
    )
    # Documents without shingles have no buckets in a run either: they can never match.
    nonempty = result.shingle_counts > 0
    mask = pa.array(nonempty)
    keys = id_keys(ids)[nonempty]
    docs = pa.table({"key": pa.array(keys, pa.uint64()), "id": ids.filter(mask), "text": texts.filter(mask)})
    return docs, np.ascontiguousarray(result.band_hashes[nonempty]), keys


class IndexSession:
    def __init__(self, config: Any, output: Path) -> None:
        self.config = config
        self.output = Path(output)
        self.index = Index(Path(config.index))
        self.fields = config.index_fields()

    def _fresh_state(self) -> IndexState:
        return IndexState(fingerprint(self.fields), self.fields)

    def _applied(self, state: IndexState | None, output: str) -> bool:
        return state is not None and any(a["output"] == output for a in state.applied)

    def apply(self, state: IndexState | None, output: Path, generation: str) -> IndexState:
        """Add a published OUT's survivors (idempotent: an OUT already applied is skipped)."""
        state = state or self._fresh_state()
        key = _output_key(output)
        if self._applied(state, key):
            return state
        manifest = read_manifest(output)
        assert manifest is not None
        docs, bands, keys = survivors_of(self.config, output, manifest)
        return self.index.add_night(
            state, docs, bands, keys, {"output": key, "manifest": manifest.get("fingerprint"), "generation": generation}
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
            state = self.apply(state, output, pending["generation"])
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
                write_json(root / PENDING_NAME, {"output": key, "generation": generation})
            try:
                summary = run_stage(stage)
            except BaseException as exc:
                if isinstance(exc, (BusyError, CurateError)) and read_manifest(self.output) is None:
                    with contextlib.suppress(FileNotFoundError):
                        (root / PENDING_NAME).unlink()
                raise
            self.apply(state, self.output, generation)
            with contextlib.suppress(FileNotFoundError):
                (root / PENDING_NAME).unlink()
            return summary
