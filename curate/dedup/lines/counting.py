"""Phases 1 and 2 of line dedup: count segment hashes per shard (map), then per hash
partition (reduce) keep those seen at least ``min_count`` times with their first occurrence.
With ``approx`` the map phase fills a count-min sketch instead and one task sums them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from curate import kernel
from curate.dedup.decisions import doc_keys
from curate.dedup.lines import sketch
from curate.dedup.lines.config import LinesPlan
from curate.io.columns import text_values
from curate.io.layout import WORK
from curate.io.partitioned import PartitionedWriter
from curate.io.readers import ReadCounters, read_batches
from curate.io.writers import write_table_atomically

if TYPE_CHECKING:
    pass

COUNT_SCHEMA = pa.schema(
    [("hash", pa.uint64()), ("count", pa.uint64()), ("first_doc", pa.uint64()), ("first_seg", pa.uint32())]
)
FREQUENT_SCHEMA = pa.schema([("hash", pa.uint64()), ("first_doc", pa.uint64()), ("first_seg", pa.uint32())])


def count_name(partition: int, shard_index: int) -> str:
    return f"{WORK}/counts/p{partition:04d}/s{shard_index:05d}.parquet"


def sketch_name(shard_index: int) -> str:
    return f"{WORK}/sketch/s{shard_index:05d}.npy"


TOTAL_SKETCH = f"{WORK}/sketch/total.npy"


def frequent_name(partition: int) -> str:
    return f"{WORK}/frequent/p{partition:04d}.parquet"


def segment_positions(rows: np.ndarray) -> np.ndarray:
    """Each segment's index within its document, given the (sorted) row of every segment."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.uint32)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(rows)) + 1])
    first_of_row = np.repeat(starts, np.diff(np.append(starts, len(rows))))
    return (np.arange(len(rows)) - first_of_row).astype(np.uint32)


def count_task(plan: LinesPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    import polars as pl

    shard = plan.shards[shard_index]
    config = plan.config
    root = plan.workspace.root
    counters = ReadCounters()
    segments = 0
    first_row = 0
    counts = sketch.empty(config.sketch) if config.approx else None
    names = [] if config.approx else [count_name(p, shard.index) for p in range(plan.partitions)]
    with PartitionedWriter(root, names, COUNT_SCHEMA) as partitions:
        for batch in read_batches(
            shard, config.read, counters, columns=[config.read.text_column], schema=plan.read_schema(shard.index)
        ):
            rows, hashes = kernel.segment_hashes(text_values(batch, config.read.text_column), unit=config.unit)  # type: ignore[arg-type]
            segments += len(hashes)
            if counts is not None:
                sketch.add(counts, hashes, config.sketch)
            else:
                # Aggregate within the batch only, so memory stays bounded by the batch; the
                # reduce phase adds the partial counts up.
                frame = pl.DataFrame(
                    {
                        "hash": hashes,
                        "first_doc": doc_keys(shard.index, first_row, batch.num_rows)[rows],
                        "first_seg": segment_positions(rows),
                    }
                )
                partial = frame.group_by("hash", maintain_order=True).agg(
                    pl.len().cast(pl.UInt64).alias("count"), pl.col("first_doc").first(), pl.col("first_seg").first()
                )
                table = partial.select(["hash", "count", "first_doc", "first_seg"]).to_arrow().cast(COUNT_SCHEMA)
                partitions.write(table, (partial.get_column("hash") % plan.partitions).to_numpy())
            first_row += batch.num_rows
        partitions.commit()
    if counts is not None:
        outputs = [sketch.save(root, sketch_name(shard.index), counts)]
    else:
        outputs = [root / count_name(p, shard.index) for p in range(plan.partitions)]
    stats = {"rows": counters.rows, "segments": segments, "invalid_utf8_rows": counters.invalid_utf8_rows}
    return stats, outputs


def frequent_task(plan: LinesPlan, partition: int) -> tuple[dict[str, Any], list[Path]]:
    import polars as pl

    root = plan.workspace.root
    files = [str(root / count_name(partition, s.index)) for s in plan.active_shards]
    if files:
        frame = pl.read_parquet(files)
        frequent = (
            frame.sort(["hash", "first_doc", "first_seg"])
            .group_by("hash")
            .agg(pl.col("count").sum(), pl.col("first_doc").first(), pl.col("first_seg").first())
            .filter(pl.col("count") >= plan.config.min_count)
            .sort("hash")
        )
        distinct = frame.get_column("hash").n_unique()
        table = frequent.select(["hash", "first_doc", "first_seg"]).to_arrow().cast(FREQUENT_SCHEMA)
    else:
        distinct = 0
        table = FREQUENT_SCHEMA.empty_table()
    write_table_atomically(root, frequent_name(partition), table)
    return {"distinct": int(distinct), "frequent": table.num_rows}, [root / frequent_name(partition)]


def sum_sketches_task(plan: LinesPlan, _: int) -> tuple[dict[str, Any], list[Path]]:
    root = plan.workspace.root
    total = sketch.empty(plan.config.sketch)
    for shard in plan.active_shards:
        total += sketch.load(root / sketch_name(shard.index))
    path = sketch.save(root, TOTAL_SKETCH, total)
    return {"segments": int(total[0].sum(dtype=np.uint64))}, [path]
