"""Writing one shard's intermediate rows split over hash partitions: one atomic file per
partition, all published together or none (the shuffle side of a global stage)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa

from curate.io.writers import AtomicParquetWriter

# Many partition files are open at once, so each buffers less before writing a row group.
PARTITION_ROW_GROUP_BYTES = 8 << 20


class PartitionedWriter:
    """Rows routed by a partition number per row to ``names[partition]`` under ``root``.

    ``schema`` may be left for the first write to fix; ``empty_schema`` is what an input
    with no rows at all publishes. Use as a context manager: on an exception every file is
    abandoned; otherwise call :meth:`commit`.
    """

    def __init__(self, root: Path, names: list[str], schema: pa.Schema | None = None) -> None:
        self.root = root
        self.names = names
        self._schema = schema
        self._writers: list[AtomicParquetWriter] | None = None
        if schema is not None:
            self._open(schema)

    def _open(self, schema: pa.Schema) -> list[AtomicParquetWriter]:
        if self._writers is None:
            self._schema = schema
            self._writers = [
                AtomicParquetWriter(self.root, name, schema=schema, row_group_bytes=PARTITION_ROW_GROUP_BYTES)
                for name in self.names
            ]
        return self._writers

    def write(self, rows: pa.Table | pa.RecordBatch, partition_of: np.ndarray) -> None:
        """Append ``rows``; row i goes to partition ``partition_of[i]``."""
        writers = self._open(self._schema or rows.schema)
        partition_of = np.asarray(partition_of, dtype=np.int64)
        order = np.argsort(partition_of, kind="stable")
        bounds = np.searchsorted(partition_of[order], np.arange(len(writers) + 1))
        for p, writer in enumerate(writers):
            picked = order[bounds[p] : bounds[p + 1]]
            if len(picked):
                writer.write(rows.take(pa.array(picked)))

    def commit(self, empty_schema: pa.Schema | None = None) -> list[Path]:
        schema = self._schema or empty_schema
        if schema is None:
            raise ValueError("nothing was written and no schema was given for the empty partitions")
        for writer in self._open(schema):
            writer.commit()
        return [self.root / name for name in self.names]

    def abort(self) -> None:
        for writer in self._writers or []:
            writer.abort()

    def __enter__(self) -> PartitionedWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
