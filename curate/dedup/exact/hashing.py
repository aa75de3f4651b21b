"""Phase 1 of exact dedup (map over input shards): a 128-bit hash of each row's normalised value,
written hash-partitioned to ``work/hashes/pPPPP/sNNNNN.parquet``. Null values get no hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import kernel
from curate.dedup.decisions import doc_keys
from curate.dedup.exact.config import ExactConfig, ExactPlan
from curate.dedup.exact.urls import normalize_urls
from curate.dedup.unique_ids import IdWriter
from curate.errors import UsageError
from curate.io.columns import column_values, has_column, text_values
from curate.io.layout import WORK
from curate.io.partitioned import PartitionedWriter
from curate.io.readers import ReadCounters, batch_ids, read_batches


def hash_name(partition: int, shard_index: int) -> str:
    return f"{WORK}/hashes/p{partition:04d}/s{shard_index:05d}.parquet"


def hash_schema(key_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [("hi", pa.uint64()), ("lo", pa.uint64()), ("doc", pa.uint64()), ("id", pa.string()), ("key", key_type)]
    )


def hash_task(plan: ExactPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    stats = _hashes(plan, shard_index)
    outputs = [root / hash_name(p, shard_index) for p in range(plan.partitions)]
    return stats, outputs + IdWriter(root, shard_index, plan.partitions).paths


def comparable_values(config: ExactConfig, batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """The values compared (the column, URLs normalised), ready for ``content_hashes``."""
    if not has_column(batch.schema, config.column):
        raise UsageError(f"no column {config.column!r} to deduplicate on (columns: {batch.schema.names})")
    values = column_values(batch, config.column)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if config.is_url:
        return normalize_urls(values)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.large_string())
    return values


def _hashes(plan: ExactPlan, shard_index: int) -> dict[str, Any]:
    shard = plan.shards[shard_index]
    config = plan.config
    root = plan.workspace.root
    columns = [config.read.text_column, config.read.id_column, config.column]
    if config.keep.column:
        columns.append(config.keep.column)
    counters = ReadCounters()
    first_row = 0
    nulls = 0
    names = [hash_name(p, shard.index) for p in range(plan.partitions)]
    with PartitionedWriter(root, names) as partitions, IdWriter(root, shard.index, plan.partitions) as id_rows:
        for batch in read_batches(shard, config.read, counters, columns=columns, schema=plan.read_schema(shard.index)):
            n = batch.num_rows
            values = comparable_values(config, batch)
            hi, lo = kernel.content_hashes(values, level=config.hash_level)  # type: ignore[arg-type]
            present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            nulls += int(n - present.sum())
            key = config.keep.values(batch, text_values(batch, config.read.text_column))
            docs = doc_keys(shard.index, first_row, n)
            ids = batch_ids(batch, shard, first_row, config.read)
            id_rows.write(ids, docs)
            picked = np.flatnonzero(present)  # a null value is nobody's duplicate
            index = pa.array(picked)
            rows = pa.record_batch(
                [pa.array(hi[picked]), pa.array(lo[picked]), pa.array(docs[picked]), ids.take(index), key.take(index)],
                schema=hash_schema(key.type),
            )
            partitions.write(rows, lo[picked] % np.uint64(plan.partitions))
            first_row += n
        partitions.commit(empty_schema=hash_schema(pa.int64()))
        id_rows.commit()
    return {
        "rows": counters.rows,
        "null_values": nulls,
        "invalid_utf8_rows": counters.invalid_utf8_rows,
    }
