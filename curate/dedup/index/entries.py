"""What a published output shard adds to an index, per dedup: the survivors' keys, bucket hashes and
what a later match is confirmed against (the text for MinHash, the content hash's high half for exact).

The same calls a run's own phases make (``MinHashConfig.signatures``, ``comparable_values`` and
``content_hashes``), so a survivor is indexed under the buckets tonight's documents are probed with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.index.store import EXACT_STAGE, IndexEntries, id_keys
from curate.io.columns import column_values, text_values, top_level
from curate.io.layout import listed_path


def _ids(config: Any, table: pa.Table) -> pa.Array:
    ids = column_values(table, config.read.id_column)
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids.cast(pa.string())


def minhash_entries(config: Any, table: pa.Table) -> IndexEntries:
    ids = _ids(config, table)
    texts = text_values(table, config.read.text_column)
    result = config.signatures(texts)
    # Documents without shingles have no buckets in a run either: they can never match.
    nonempty = result.shingle_counts > 0
    mask = pa.array(nonempty)
    keys = id_keys(ids)[nonempty]
    docs = pa.table({"key": pa.array(keys, pa.uint64()), "id": ids.filter(mask), "text": texts.filter(mask)})
    return IndexEntries(docs, np.ascontiguousarray(result.band_hashes[nonempty]), keys)


def exact_entries(config: Any, table: pa.Table) -> IndexEntries:
    from curate.dedup.exact.hashing import comparable_values

    ids = _ids(config, table)
    values = comparable_values(config, table)
    hi, lo = kernel.content_hashes(values, level=config.hash_level)
    # A null value is nobody's duplicate, in a run as in the index.
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    keys = id_keys(ids)[present]
    docs = pa.table(
        {"key": pa.array(keys, pa.uint64()), "id": ids.filter(pa.array(present)), "hi": pa.array(hi[present])}
    )
    return IndexEntries(docs, lo[present].reshape(-1, 1), keys)


def output_entries(config: Any, output: Path, manifest: dict[str, Any]) -> Iterator[IndexEntries]:
    """The entries of every kept shard of a published OUT, one shard at a time (memory: one shard)."""
    exact = config.index_fields()["stage"] == EXACT_STAGE
    read = config.read
    compared = config.column if exact else read.text_column
    for entry in manifest.get("shards", []):
        path = listed_path(output, manifest, entry, "shards")
        names = pq.read_schema(path).names
        # Column paths (metadata.text, meta.url) are read through their top-level struct.
        columns = [top_level(read.id_column, names), top_level(compared, names)]
        table = pq.read_table(path, columns=list(dict.fromkeys(columns)))
        yield exact_entries(config, table) if exact else minhash_entries(config, table)
        del table
