"""Atomic publication of Parquet shards.

A shard is written under ``OUT.curate/work/tmp/`` (``curate.io.layout``), closed, re-opened to check its row count,
fsynced, then renamed into place. A writer that saw an exception never publishes: its
temporary file is deleted (pyarrow's ParquetWriter would otherwise write a valid footer
on close, making a partial file look complete).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate.errors import WriteFailedError
from curate.io.layout import TMP, WORK
from curate.io.paths import ensure_dir, safe_join

ROW_GROUP_BYTES = 96 << 20
COMPRESSION = "zstd"


@dataclass(frozen=True)
class PublishedShard:
    """What a manifest records of one written file."""

    name: str
    rows: int
    bytes: int
    xxh3_128: str

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "rows": self.rows, "bytes": self.bytes, "xxh3_128": self.xxh3_128}


def file_checksum(path: Path) -> str:
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def os_problem(exc: OSError) -> str:
    """The reason of an OS error in a few words ("No space left on device")."""
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@contextlib.contextmanager
def naming_failures(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into a one-line error that names it."""
    try:
        yield
    except OSError as exc:
        raise WriteFailedError(str(path), os_problem(exc)) from exc


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_intermediate(name: str) -> bool:
    """A name under the workspace's ``work/`` (relative to the state directory)."""
    return Path(name).parts[0] == WORK


def publish_file(root: Path, temporary: Path, name: str) -> Path:
    """Rename ``temporary`` to ``root/name`` (checked to stay under root).

    Published shards are fsynced (file, then directory) so that they survive a power
    loss once the manifest lists them; intermediates under ``work/`` are only protected
    against process crashes (rename is atomic), which is what resuming needs, and
    skipping their fsyncs saves hundreds of disk flushes per run.
    """
    final = safe_join(root, name)
    ensure_dir(root, *Path(name).parts[:-1])  # root too: its temporary file may be elsewhere
    durable = not is_intermediate(name)
    if durable:
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
    os.replace(temporary, final)
    if durable:
        fsync_dir(final.parent)
    return final


def temporary_path(root: Path, name: str, tmp_dir: Path | None = None) -> Path:
    """A fresh temporary file for ``root/name``: in ``tmp_dir`` (the run's ``work/tmp``, on the
    filesystem of OUT, for shards written into OUT), by default ``root/work/tmp`` (``root`` being
    the state directory, for rejects and intermediates)."""
    directory = ensure_dir(root, WORK, TMP) if tmp_dir is None else ensure_dir(tmp_dir)
    return directory / f"{Path(name).name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"


class AtomicParquetWriter:
    """Write one Parquet shard to ``root/name`` atomically.

    Batches are buffered into row groups of about ``ROW_GROUP_BYTES``. Use as a context
    manager: leaving the block normally publishes the shard, leaving it with an
    exception deletes the temporary file and publishes nothing. ``schema`` is required
    for the writer to produce a zero-row shard.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        schema: pa.Schema | None = None,
        *,
        row_group_bytes: int = ROW_GROUP_BYTES,
        tmp_dir: Path | None = None,
    ) -> None:
        self.root = root
        self._row_group_bytes = row_group_bytes
        self.name = name
        safe_join(root, name)  # refuse hostile names before any work
        self._temporary = temporary_path(root, name, tmp_dir)
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self.rows = 0
        self.published: PublishedShard | None = None

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        if self._writer is None:
            self._schema = schema
            # Intermediates are mostly hashes (incompressible, no repeats): cheap lz4, no
            # dictionary attempts. Published shards get zstd and dictionaries.
            intermediate = is_intermediate(self.name)
            self._writer = pq.ParquetWriter(
                self._temporary,
                schema,
                compression="lz4" if intermediate else COMPRESSION,
                use_dictionary=not intermediate,
                write_statistics=True,
                store_schema=True,
            )
        return self._writer

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        for batch in batches:
            if self._schema is not None and batch.schema != self._schema:
                batch = batch.cast(self._schema) if batch.schema.names == self._schema.names else batch
            self._pending.append(batch)
            self._pending_bytes += batch.nbytes
            self.rows += batch.num_rows
        if self._pending_bytes >= self._row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=self._schema or self._pending[0].schema)
        with naming_failures(self.root / self.name):
            writer = self._open(table.schema)
            writer.write_table(table, row_group_size=max(1, table.num_rows))
        self._pending = []
        self._pending_bytes = 0

    @property
    def schema(self) -> pa.Schema | None:
        return self._schema

    def commit(self) -> PublishedShard:
        self._flush()
        if self._writer is None and self._schema is None:
            raise ValueError(f"cannot write zero-row shard {self.name} without a schema")
        with naming_failures(self.root / self.name):
            if self._writer is None:
                assert self._schema is not None
                self._open(self._schema)
            assert self._writer is not None
            self._writer.close()
            metadata = pq.read_metadata(self._temporary)
            if metadata.num_rows != self.rows:
                raise OSError(f"wrote {self.rows} rows but the file holds {metadata.num_rows}")
            size = self._temporary.stat().st_size
            checksum = file_checksum(self._temporary)
            publish_file(self.root, self._temporary, self.name)
        self.published = PublishedShard(self.name, self.rows, size, checksum)
        return self.published

    def abort(self) -> None:
        self._pending = []
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            self._temporary.unlink()

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise


def write_table_atomically(root: Path, name: str, table: pa.Table) -> PublishedShard:
    """One-shot helper for intermediate files under ``work/``."""
    with AtomicParquetWriter(root, name, schema=table.schema) as writer:
        writer.write(table)
    assert writer.published is not None
    return writer.published
