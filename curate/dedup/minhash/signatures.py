"""Phase 1 (map over input shards): MinHash signatures and LSH band buckets.

Per shard it writes ``work/sig/sNNNNN.parquet`` (doc key, id, keep key, signature) for
every document with at least one shingle, and one ``work/bands/pPPPP/sNNNNN.parquet``
(bucket, doc) file per band partition. Documents without shingles (empty, punctuation
only) get no buckets, so they can never be grouped as duplicates of each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from curate.dedup.decisions import doc_keys
from curate.dedup.minhash.config import MinHashPlan
from curate.dedup.unique_ids import IdWriter
from curate.io.columns import text_values
from curate.io.layout import WORK
from curate.io.partitioned import PartitionedWriter
from curate.io.readers import ReadCounters, batch_ids, read_batches
from curate.io.writers import AtomicParquetWriter


def sig_name(shard_index: int) -> str:
    return f"{WORK}/sig/s{shard_index:05d}.parquet"


def band_name(partition: int, shard_index: int) -> str:
    return f"{WORK}/bands/p{partition:04d}/s{shard_index:05d}.parquet"


BAND_SCHEMA = pa.schema([("bucket", pa.uint64()), ("doc", pa.uint64())])


def sig_schema(plan: MinHashPlan, key_type: pa.DataType) -> pa.Schema:
    """Signatures are kept only without --verify (for the estimated similarity); with it,
    exact Jaccard on the texts replaces them, so they need not be written at all."""
    fields = [("doc", pa.uint64()), ("id", pa.string()), ("key", key_type)]
    if not plan.config.verify:
        fields.append(("sig", pa.binary(4 * plan.config.num_perm)))
    return pa.schema(fields)


def signature_task(plan: MinHashPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    stats = _signatures(plan, shard_index)
    outputs = [root / sig_name(shard_index)]
    outputs += [root / band_name(p, shard_index) for p in range(plan.band_partitions)]
    return stats, outputs + IdWriter(root, shard_index, plan.band_partitions).paths


def _signatures(plan: MinHashPlan, shard_index: int) -> dict[str, Any]:
    shard = plan.shards[shard_index]
    config = plan.config
    root = plan.workspace.root
    read = config.read
    columns = [read.text_column, read.id_column]
    if config.keep.column:
        columns.append(config.keep.column)
    counters = ReadCounters()
    partitions = plan.band_partitions
    names = [band_name(p, shard.index) for p in range(partitions)]
    sig_writer: AtomicParquetWriter | None = None
    first_row = 0
    empty_docs = 0
    with PartitionedWriter(root, names, BAND_SCHEMA) as bands, IdWriter(root, shard.index, partitions) as id_rows:
        try:
            for batch in read_batches(shard, read, counters, columns=columns, schema=plan.read_schema(shard.index)):
                text = text_values(batch, read.text_column)
                result = config.signatures(text)
                n = batch.num_rows
                docs = doc_keys(shard.index, first_row, n)
                nonempty = result.shingle_counts > 0
                empty_docs += int(n - nonempty.sum())
                key = config.keep.values(batch, text)
                if sig_writer is None:
                    sig_writer = AtomicParquetWriter(root, sig_name(shard.index), schema=sig_schema(plan, key.type))
                mask = pa.array(nonempty)
                ids = batch_ids(batch, shard, first_row, read)
                id_rows.write(ids, docs)
                columns = [pa.array(docs[nonempty]), ids.filter(mask), key.filter(mask)]
                if not config.verify:
                    signatures = np.ascontiguousarray(result.signatures[nonempty])
                    columns.append(
                        pa.FixedSizeBinaryArray.from_buffers(
                            pa.binary(4 * config.num_perm), int(nonempty.sum()), [None, pa.py_buffer(signatures)]
                        )
                    )
                sig_writer.write(pa.record_batch(columns, schema=sig_writer.schema))
                buckets = result.band_hashes[nonempty].reshape(-1)
                band_docs = np.repeat(docs[nonempty], config.bands)
                bands.write(
                    pa.record_batch([pa.array(buckets), pa.array(band_docs)], schema=BAND_SCHEMA),
                    buckets % np.uint64(partitions),
                )
                first_row += n
            if sig_writer is None:
                sig_writer = AtomicParquetWriter(root, sig_name(shard.index), schema=sig_schema(plan, pa.int64()))
            sig_writer.commit()
            bands.commit()
            id_rows.commit()
        except BaseException:
            if sig_writer is not None:
                sig_writer.abort()
            raise
    return {
        "rows": counters.rows,
        "empty_docs": empty_docs,
        "invalid_utf8_rows": counters.invalid_utf8_rows,
    }
