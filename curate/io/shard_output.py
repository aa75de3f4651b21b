"""The files a map over one input shard publishes: ``OUT/part-NNNNN.parquet`` (kept rows)
and, if anything was dropped, ``OUT.curate/rejects/part-NNNNN.parquet`` (dropped rows with
``_stage`` and ``_reason``). All atomic; none is published if the shard fails.

A fused pass of several map stages (``curate run``) writes one rejects file per stage that
dropped something, each under its own directory (``rejects/NN-<stage>/``), and may write
its kept rows to another dataset than OUT (an intermediate dataset under ``work/``)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import pyarrow as pa

from curate.io.layout import REJECTS
from curate.io.schema import conform
from curate.io.writers import AtomicParquetWriter, PublishedShard

STAGE_FIELD = pa.field("_stage", pa.string())
REASON_FIELD = pa.field("_reason", pa.string())


def part_name(shard_index: int) -> str:
    return f"part-{shard_index:05d}.parquet"


def reject_name(shard_index: int, directory: str = REJECTS) -> str:
    return f"{directory}/part-{shard_index:05d}.parquet"


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
    """Writers of one shard's kept and rejected rows, opened on first use.

    Kept rows go to ``kept_root/part-NNNNN.parquet`` (OUT, or a dataset under ``work/``), by
    way of a temporary file in ``tmp_dir`` (on the same filesystem); the rejects of stage
    ``k`` to ``root/reject_dirs[k]`` (``root``: the state directory). Published names are
    relative to ``kept_root`` for the kept shard and to ``root`` for rejects.
    """

    def __init__(
        self,
        root: Path,
        shard_index: int,
        *,
        kept_root: Path,
        tmp_dir: Path,
        reject_dirs: tuple[str, ...] = (REJECTS,),
    ) -> None:
        self.root = root
        self.kept_root = kept_root
        self.tmp_dir = tmp_dir
        self.shard_index = shard_index
        self.reject_dirs = reject_dirs
        self._kept: AtomicParquetWriter | None = None
        self._rejected: list[AtomicParquetWriter | None] = [None] * len(reject_dirs)
        self.kept_rows = 0
        self.rejected_rows = 0

    def keep(self, batch: pa.RecordBatch, schema: pa.Schema) -> None:
        if self._kept is None:
            self._kept = AtomicParquetWriter(
                self.kept_root, part_name(self.shard_index), schema=schema, tmp_dir=self.tmp_dir
            )
        self._kept.write(conform(batch, schema))
        self.kept_rows += batch.num_rows

    def reject(self, batch: pa.RecordBatch, schema: pa.Schema, stage: int = 0) -> None:
        if batch.num_rows == 0:
            return
        writer = self._rejected[stage]
        if writer is None:
            name = reject_name(self.shard_index, self.reject_dirs[stage])
            writer = self._rejected[stage] = AtomicParquetWriter(self.root, name, schema=schema)
        writer.write(conform(batch, schema))
        self.rejected_rows += batch.num_rows

    def commit(self) -> tuple[PublishedShard, list[PublishedShard]]:
        """Publish the kept shard and the rejects: (kept, rejects)."""
        if self._kept is None:
            raise ValueError(f"shard {self.shard_index}: nothing was read, so the output schema is unknown")
        kept = self._kept.commit()
        return kept, [writer.commit() for writer in self._rejected if writer is not None]

    def abort(self) -> None:
        for writer in (self._kept, *self._rejected):
            if writer is not None:
                writer.abort()

    def __enter__(self) -> ShardOutput:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
