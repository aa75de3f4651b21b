"""The two files a map over one input shard publishes: ``part-NNNNN.parquet`` (kept rows)
and, if anything was dropped, ``_rejects/part-NNNNN.parquet`` (dropped rows with
``_stage`` and ``_reason``). Both atomic; neither is published if the shard fails."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import pyarrow as pa

from curate.io.schema import conform
from curate.io.writers import AtomicParquetWriter, PublishedShard

STAGE_FIELD = pa.field("_stage", pa.string())
REASON_FIELD = pa.field("_reason", pa.string())


def part_name(shard_index: int) -> str:
    return f"part-{shard_index:05d}.parquet"


def reject_name(shard_index: int) -> str:
    return f"_rejects/part-{shard_index:05d}.parquet"


def with_reject_columns(batch: pa.RecordBatch, stage: str, reasons: pa.Array | str) -> pa.RecordBatch:
    """``batch`` plus ``_stage`` and ``_reason`` (replacing any from an earlier stage)."""
    batch = batch.drop_columns([n for n in (STAGE_FIELD.name, REASON_FIELD.name) if n in batch.schema.names])
    n = batch.num_rows
    if isinstance(reasons, str):
        reasons = pa.array([reasons] * n, pa.string())
    batch = batch.append_column(STAGE_FIELD, pa.array([stage] * n, pa.string()))
    return batch.append_column(REASON_FIELD, reasons.cast(pa.string()))


def reject_schema(kept_schema: pa.Schema, extra: list[pa.Field] | None = None) -> pa.Schema:
    """The rejects' schema: the kept schema, then ``extra`` fields, then ``_stage`` and ``_reason``."""
    tail = [*(extra or []), STAGE_FIELD, REASON_FIELD]
    names = {f.name for f in tail}
    return pa.schema([f for f in kept_schema if f.name not in names] + tail)


class ShardOutput:
    """Writers of one shard's kept and rejected rows, opened on first use."""

    def __init__(self, root: Path, shard_index: int) -> None:
        self.root = root
        self.shard_index = shard_index
        self._kept: AtomicParquetWriter | None = None
        self._rejected: AtomicParquetWriter | None = None
        self.kept_rows = 0
        self.rejected_rows = 0

    def keep(self, batch: pa.RecordBatch, schema: pa.Schema) -> None:
        if self._kept is None:
            self._kept = AtomicParquetWriter(self.root, part_name(self.shard_index), schema=schema)
        self._kept.write(conform(batch, schema))
        self.kept_rows += batch.num_rows

    def reject(self, batch: pa.RecordBatch, schema: pa.Schema) -> None:
        if batch.num_rows == 0:
            return
        if self._rejected is None:
            self._rejected = AtomicParquetWriter(self.root, reject_name(self.shard_index), schema=schema)
        self._rejected.write(conform(batch, schema))
        self.rejected_rows += batch.num_rows

    def commit(self) -> list[PublishedShard]:
        if self._kept is None:
            raise ValueError(f"shard {self.shard_index}: nothing was read, so the output schema is unknown")
        published = [self._kept.commit()]
        if self._rejected is not None:
            published.append(self._rejected.commit())
        return published

    def abort(self) -> None:
        for writer in (self._kept, self._rejected):
            if writer is not None:
                writer.abort()

    def __enter__(self) -> ShardOutput:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
