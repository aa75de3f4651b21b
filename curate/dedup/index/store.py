"""The persistent dedup index directory (DESIGN.md §8), its own directory, never a run's workspace:

```
IDX/
  _index.json              state, written last and atomically: fingerprint, runs, applied outputs, next night
  _pending.json            an update announced before the run publishes OUT (see ``IndexSession``)
  _curate.lock             the index's own OS advisory lock (one run per index)
  bands/run-NNNNNN-PPPPP.parquet  (bucket u64, key u64) of the survivors of one night's output shard PPPPP,
                                  sorted by bucket (``dedup exact``: the low half of the content hash)
  docs/run-NNNNNN-PPPPP.parquet   (key u64, id, night, text) of those survivors, sorted by key
                                  (``dedup exact``: the high half of the content hash, ``hi``, for text)
  removed.parquet          (id, before) removed with ``curate index remove``: the id's rows of the runs of
                           nights before ``before`` no longer match (tombstones until compaction)
```

Document keys are derived from the id (the low 64 bits of xxh3-128 of the id string), never from a
position in one run's input, so they mean the same document on every night. The index stores the
survivors' *text* (zstd-compressed): a tonight document that shares a band bucket with a survivor is
verified on exact Jaccard, the same check a single run over all nights makes, so the incremental runs
keep the same documents. The trade-off: the index holds about the compressed size of every kept
document (a signature-only index would be 4·num_perm bytes per document but could only estimate the
similarity). Only the texts of candidates are read, by key, through the row-group statistics of the
sorted ``docs`` runs. ``dedup exact --index`` keeps the same layout with the 128-bit content hash
instead: its low half as the one "band" bucket, its high half in the docs run to confirm a match.

A night is added one output shard at a time, each its own sorted run: the update's memory is one
shard, whatever the night's size; ``compact`` merges the runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import kernel
from curate.errors import CurateError, UsageError
from curate.faults import fault_point
from curate.io.lock import OutputLock
from curate.io.manifest import fingerprint
from curate.io.writers import fsync_dir, naming_failures

STATE_NAME = "_index.json"
PENDING_NAME = "_pending.json"
# The index's own lock, inside the index (its layout is not an output's: docs/output-layout.md).
LOCK_NAME = "_curate.lock"
REMOVED_NAME = "removed.parquet"
FORMAT = 1
BAND_SCHEMA = pa.schema([("bucket", pa.uint64()), ("key", pa.uint64())])
REMOVED_SCHEMA = pa.schema([("id", pa.string()), ("before", pa.int64())])
DOC_SCHEMA = pa.schema([("key", pa.uint64()), ("id", pa.string()), ("night", pa.int64()), ("text", pa.large_string())])
EXACT_DOC_SCHEMA = pa.schema([("key", pa.uint64()), ("id", pa.string()), ("night", pa.int64()), ("hi", pa.uint64())])
EXACT_STAGE = "dedup_exact"
# Small row groups in the docs runs: a probe reads only the groups whose key range holds a candidate.
DOC_ROW_GROUP = 4096
# Parquet bytes of the runs merged at once by `index compact` (one key range of every run).
COMPACT_PIECE_BYTES = 64 << 20


class IndexMismatchError(UsageError):
    """The index was built with another configuration."""


def id_keys(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The stable u64 key of every id (xxh3-128 of the id string, low half)."""
    _, lo = kernel.content_hashes(pc.cast(ids, pa.large_string()), level="none")
    return lo


def run_name(kind: str, run: dict[str, Any]) -> str:
    return f"{kind}/{run['file']}"


def doc_schema(config: dict[str, Any]) -> pa.Schema:
    """The docs runs' schema of an index built with ``config`` (its ``stage`` says which dedup)."""
    return EXACT_DOC_SCHEMA if config.get("stage") == EXACT_STAGE else DOC_SCHEMA


@dataclass(frozen=True)
class IndexEntries:
    """What one output shard adds to the index: ``docs`` (key, id and the payload: text, or the hash's
    high half), ``buckets`` (one row of bucket hashes per doc) and the docs' ``keys``."""

    docs: pa.Table
    buckets: np.ndarray
    keys: np.ndarray


@dataclass
class IndexState:
    fingerprint: str
    config: dict[str, Any]
    next_night: int = 1
    runs: list[dict[str, Any]] = field(default_factory=list)  # {file, night, docs, bands}
    applied: list[dict[str, Any]] = field(default_factory=list)  # {output, manifest, night}
    removed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "config": self.config,
            "next_night": self.next_night,
            "runs": self.runs,
            "applied": self.applied,
            "removed": self.removed,
        }

    @property
    def generation(self) -> str:
        """Changes whenever the index's content does (a resumed run must probe the same index)."""
        return fingerprint({"runs": self.runs, "removed": self.removed, "fingerprint": self.fingerprint})


@contextlib.contextmanager
def _temporary(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path``, removed when the write fails; an OS error (a full disk)
    becomes one line naming ``path`` (exit 1)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with naming_failures(path):
            yield tmp
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_parquet(root: Path, name: str, table: pa.Table, row_group: int | None = None) -> None:
    """Write ``root/name`` through a temporary file, fsync, rename: a crash leaves the old or the new file."""
    path = root / name
    with _temporary(path) as tmp:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def _write_pieces(
    root: Path, name: str, schema: pa.Schema, pieces: Iterable[pa.Table], row_group: int | None = None
) -> int:
    """Write the tables of ``pieces`` one after another as ``root/name`` (temporary file, fsync,
    rename, as :func:`_write_parquet`); the number of rows written."""
    path = root / name
    rows = 0
    with _temporary(path) as tmp:
        path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for piece in pieces:
                writer.write_table(piece.cast(schema), row_group_size=row_group)
                rows += piece.num_rows
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return rows


def _u64_ranges(count: int) -> list[tuple[int, int | None]]:
    """``count`` equal ranges of the uint64 values (keys and buckets are hashes: evenly spread); the
    last one open at the top."""
    bounds = [(i << 64) // count for i in range(count)]
    return [(low, bounds[i + 1] if i + 1 < count else None) for i, low in enumerate(bounds)]


def _in_range(column: str, low: int, high: int | None) -> pc.Expression:
    inside = pc.field(column) >= pa.scalar(low, pa.uint64())
    return inside if high is None else inside & (pc.field(column) < pa.scalar(high, pa.uint64()))


def write_json(path: Path, value: Any) -> None:
    """Atomically and durably: temporary file, fsync, rename, fsync of the directory."""
    with _temporary(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)


def _sorted_bands(buckets: np.ndarray, keys: np.ndarray) -> pa.Table:
    """(bucket, key) sorted by bucket (a stable radix sort: rows of one bucket keep their order, which
    is deterministic, the order of OUT's rows or of the runs merged)."""
    order = np.argsort(buckets, kind="stable")
    return pa.table({"bucket": buckets[order], "key": keys[order]}, schema=BAND_SCHEMA)


class Index:
    """An index directory; open it with :meth:`locked` for anything that writes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- state ---------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / STATE_NAME).exists()

    def state(self) -> IndexState | None:
        path = self.root / STATE_NAME
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CurateError(f"{path}: unreadable index state ({exc})") from exc
        if raw.get("format") != FORMAT:
            raise CurateError(f"{path}: index format {raw.get('format')!r}, this curate reads {FORMAT}")
        return IndexState(
            fingerprint=raw["fingerprint"],
            config=raw["config"],
            next_night=raw["next_night"],
            runs=raw["runs"],
            applied=raw["applied"],
            removed=raw.get("removed", 0),
        )

    def _state_runs(self) -> list[dict[str, Any]] | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return list(json.loads((self.root / STATE_NAME).read_text(encoding="utf-8"))["runs"])
        return None

    def write_state(self, state: IndexState) -> None:
        write_json(self.root / STATE_NAME, state.as_json())

    def check_config(self, config: dict[str, Any]) -> IndexState | None:
        """The state, after checking the index was built with ``config`` (else a clear refusal)."""
        state = self.state()
        if state is not None and state.fingerprint != fingerprint(config):
            differ = sorted(k for k in {*config, *state.config} if config.get(k) != state.config.get(k))
            detail = ", ".join(f"{k}: index {state.config.get(k)!r}, this run {config.get(k)!r}" for k in differ)
            raise IndexMismatchError(
                f"index {self.root} was built with another configuration ({detail}); "
                "use the index's options or another index"
            )
        return state

    def locked(self) -> OutputLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return OutputLock(self.root / LOCK_NAME)

    # --- reading -------------------------------------------------------------------------------
    def removed(self) -> pa.Table:
        path = self.root / REMOVED_NAME
        return pq.read_table(path).cast(REMOVED_SCHEMA) if path.exists() else REMOVED_SCHEMA.empty_table()

    def live(self, table: pa.Table, removed: pa.Table | None = None) -> pa.Table:
        """``table`` (columns key, night) without the rows a removal tombstoned, in its own order."""
        removed = self.removed() if removed is None else removed
        if removed.num_rows == 0 or table.num_rows == 0:
            return table
        tomb = pa.table({"key": id_keys(removed.column("id")), "before": removed.column("before")})
        tomb = tomb.group_by("key").aggregate([("before", "max")]).rename_columns(["key", "before"])
        at = pc.index_in(table.column("key"), value_set=tomb.column("key"))
        before = pc.take(tomb.column("before"), at)  # null where the key has no tombstone
        dead = pc.fill_null(pc.less(table.column("night"), before), False)
        return table.filter(pc.invert(dead))

    def probe_buckets(self, state: IndexState, buckets: np.ndarray) -> pa.Table:
        """(bucket, key, night) of every index row whose bucket is in the sorted unique ``buckets``: each
        run is streamed in batches and searched, so memory is bounded by tonight's buckets and one
        batch, whatever the history."""
        found: list[pa.Table] = []
        for run in state.runs:
            with pq.ParquetFile(self.root / run_name("bands", run)) as handle:
                for batch in handle.iter_batches(batch_size=1 << 20):
                    column = batch.column(0).to_numpy()
                    at = np.searchsorted(buckets, column)
                    hit = (
                        (at < len(buckets)) & (buckets[np.minimum(at, len(buckets) - 1)] == column)
                        if len(buckets)
                        else None
                    )
                    if hit is not None and hit.any():
                        picked = pa.Table.from_batches([batch]).filter(pa.array(hit))
                        found.append(
                            picked.append_column("night", pa.array(np.full(picked.num_rows, run["night"], np.int64)))
                        )
        if not found:
            return BAND_SCHEMA.empty_table().append_column("night", pa.array([], pa.int64()))
        return pa.concat_tables(found)

    def docs_for(self, state: IndexState, keys: np.ndarray) -> pa.Table:
        """(key, id, night, text or hi) of the survivors with these keys. Per run, only the row groups
        whose key range (from the footer's statistics) holds a wanted key are read, one at a time, and
        filtered at once: memory is one row group plus the matches."""
        schema = doc_schema(state.config)
        if len(keys) == 0:
            return schema.empty_table()
        wanted = np.unique(keys)
        value_set = pa.array(wanted, pa.uint64())
        found = [schema.empty_table()]
        for run in state.runs:
            with pq.ParquetFile(self.root / run_name("docs", run)) as handle:
                meta = handle.metadata
                column = meta.schema.names.index("key")
                for group in range(meta.num_row_groups):
                    statistics = meta.row_group(group).column(column).statistics
                    if statistics is not None and statistics.has_min_max:
                        # The first wanted key at or above the group's min must not pass its max.
                        at = int(np.searchsorted(wanted, np.uint64(statistics.min)))
                        if at == len(wanted) or wanted[at] > np.uint64(statistics.max):
                            continue
                    table = handle.read_row_group(group)
                    table = table.filter(pc.is_in(table.column("key"), value_set=value_set))
                    if table.num_rows:
                        found.append(table.cast(schema))
        return pa.concat_tables(found)

    def stats(self) -> dict[str, Any]:
        state = self.state()
        if state is None:
            return {"index": str(self.root), "exists": False}
        docs = sum(r["docs"] for r in state.runs)
        size = sum(p.stat().st_size for p in self.root.rglob("*.parquet"))
        return {
            "index": str(self.root),
            "exists": True,
            "runs": len(state.runs),
            "documents": docs,
            "band_rows": sum(r["bands"] for r in state.runs),
            "removed_pending_compaction": state.removed,
            "nights": state.next_night - 1,
            "bytes": size,
            "pending_update": (self.root / PENDING_NAME).exists(),
            "config": state.config,
        }

    # --- writing (under the lock) --------------------------------------------------------------
    def add_night(self, state: IndexState, shards: Iterable[IndexEntries], output: dict[str, Any]) -> IndexState:
        """Add one night's survivors, one sorted run per output shard (``shards`` is consumed one at
        a time: memory is one shard), then the state (written last): a crash before the state leaves
        the index as it was (the runs written are not in it; a re-run writes the same bytes under the
        same names). A failed write removes the runs this call wrote."""
        night = state.next_night
        schema = doc_schema(state.config)
        runs: list[dict[str, Any]] = []
        try:
            for part, entries in enumerate(shards):
                if entries.docs.num_rows == 0:
                    continue
                docs = entries.docs.append_column("night", pa.array(np.full(entries.docs.num_rows, night, np.int64)))
                docs = docs.select(schema.names).cast(schema)
                docs = docs.take(pa.array(np.argsort(docs.column("key").to_numpy(), kind="stable")))
                per_doc = entries.buckets.shape[1] if entries.buckets.ndim == 2 else 0
                band_table = _sorted_bands(entries.buckets.reshape(-1), np.repeat(entries.keys, per_doc))
                run = {
                    "file": f"run-{night:06d}-{part:05d}.parquet",
                    "night": night,
                    "docs": docs.num_rows,
                    "bands": band_table.num_rows,
                }
                runs.append(run)
                _write_parquet(self.root, run_name("docs", run), docs, DOC_ROW_GROUP)
                _write_parquet(self.root, run_name("bands", run), band_table)
                del docs, band_table
                fault_point("index:run")
            new = IndexState(
                state.fingerprint,
                state.config,
                night + 1,
                [*state.runs, *runs],
                [*state.applied, {**output, "night": night}],
                state.removed,
            )
            fault_point("index:runs")
            self.write_state(new)
        except BaseException:
            # Unless the new state did reach the disk (a failure after its rename), the runs written
            # here are in no state: remove them so that the index is exactly as it was.
            if self._state_runs() != [*state.runs, *runs]:
                for run in runs:
                    for kind in ("docs", "bands"):
                        with contextlib.suppress(OSError):
                            (self.root / run_name(kind, run)).unlink()
            raise
        return new

    def remove(self, state: IndexState, ids: pa.Array) -> int:
        """Tombstone ``ids``: their rows in the runs so far no longer suppress later copies (a copy
        kept on a later night is a new survivor and is indexed again); compaction drops the rows."""
        old = self.removed()
        new = pa.table({"id": ids.cast(pa.string()), "before": pa.array(np.full(len(ids), state.next_night, np.int64))})
        merged = pa.concat_tables([old, new.cast(REMOVED_SCHEMA)])
        merged = merged.group_by("id").aggregate([("before", "max")]).rename_columns(["id", "before"]).sort_by("id")
        _write_parquet(self.root, REMOVED_NAME, merged)
        state.removed = merged.num_rows
        self.write_state(state)
        return merged.num_rows - old.num_rows

    def compact(self, state: IndexState, piece_bytes: int = COMPACT_PIECE_BYTES) -> IndexState:
        """Merge every run into one without the removed rows, a range of keys (docs) or of buckets
        (bands) at a time: each run is sorted, so a range reads only the row groups that hold it and
        memory is one range of every run (``piece_bytes`` of Parquet), whatever the index's size.
        The merged run gets a new file name and the state switches to it in one atomic write; the
        old files are deleted only after."""
        if not state.runs:
            return state
        schema = doc_schema(state.config)
        removed = self.removed()
        size = sum((self.root / run_name(k, r)).stat().st_size for r in state.runs for k in ("docs", "bands"))
        ranges = _u64_ranges(max(1, -(-size // piece_bytes)))

        def docs_pieces() -> Iterator[pa.Table]:
            for low, high in ranges:
                parts = [
                    pq.read_table(self.root / run_name("docs", r), filters=_in_range("key", low, high)).cast(schema)
                    for r in state.runs
                ]
                piece = self.live(pa.concat_tables(parts), removed)
                yield piece.take(pa.array(np.argsort(piece.column("key").to_numpy(), kind="stable")))

        def bands_pieces() -> Iterator[pa.Table]:
            for low, high in ranges:
                parts = []
                for r in state.runs:
                    part = pq.read_table(self.root / run_name("bands", r), filters=_in_range("bucket", low, high))
                    parts.append(part.append_column("night", pa.array(np.full(part.num_rows, r["night"], np.int64))))
                piece = self.live(pa.concat_tables(parts), removed)
                yield _sorted_bands(piece.column("bucket").to_numpy(), piece.column("key").to_numpy())

        night = state.runs[-1]["night"]
        # docs keep their own night; the merged run's night is its newest (tombstones compare per row).
        run: dict[str, Any] = {"file": f"compact-{night:06d}-{len(state.runs):04d}.parquet", "night": night}
        run["docs"] = _write_pieces(self.root, run_name("docs", run), schema, docs_pieces(), DOC_ROW_GROUP)
        run["bands"] = _write_pieces(self.root, run_name("bands", run), BAND_SCHEMA, bands_pieces())
        new = IndexState(state.fingerprint, state.config, state.next_night, [run], state.applied, 0)
        self.write_state(new)
        with contextlib.suppress(FileNotFoundError):
            (self.root / REMOVED_NAME).unlink()
        for old in state.runs:
            if old["file"] != run["file"]:
                for kind in ("docs", "bands"):
                    with contextlib.suppress(FileNotFoundError):
                        (self.root / run_name(kind, old)).unlink()
        return new
