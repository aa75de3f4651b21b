"""Phase 3 of line dedup (map over input shards): remove the frequent segments from each text;
a document left with fewer than ``min_words`` words goes to ``_rejects/`` as it was, with
``_reason`` ``lines:too_short``. Kept documents get ``<unit>s_removed`` and ``chars_removed``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import doc_keys
from curate.dedup.filtering import part_name, reject_name
from curate.dedup.lines import sketch
from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesPlan
from curate.dedup.lines.counting import TOTAL_SKETCH, frequent_name, segment_positions
from curate.io.readers import batch_ids, read_batches
from curate.io.schema import conform
from curate.io.writers import AtomicParquetWriter

PHASE = "rewrite"


class FrequentSegments:
    """Which segments to drop: exact (sorted hashes with first occurrences) or a sketch."""

    def __init__(self, plan: LinesPlan) -> None:
        self.plan = plan
        root = plan.workspace.root
        config = plan.config
        self.sketch = sketch.load(root / TOTAL_SKETCH) if config.approx else None
        if self.sketch is None:
            tables = [pq.read_table(root / frequent_name(p)) for p in range(plan.partitions)]
            table = pa.concat_tables(tables).sort_by("hash")
            self.hashes = table.column("hash").to_numpy()
            self.first_doc = table.column("first_doc").to_numpy()
            self.first_seg = table.column("first_seg").to_numpy()

    def drop_mask(self, hashes: np.ndarray, docs: np.ndarray, positions: np.ndarray) -> np.ndarray:
        config = self.plan.config
        if self.sketch is not None:
            result: np.ndarray = sketch.estimate(self.sketch, hashes, config.sketch) >= config.min_count
            return result
        if len(self.hashes) == 0:
            return np.zeros(len(hashes), dtype=bool)
        where = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        frequent: np.ndarray = self.hashes[where] == hashes
        if config.keep_first:
            first = (self.first_doc[where] == docs) & (self.first_seg[where] == positions)
            frequent &= ~first
        return frequent


def rewrite_task(args: tuple[LinesPlan, int]) -> dict[str, Any]:
    plan, shard_index = args
    shard = plan.shards[shard_index]
    config = plan.config
    root = plan.workspace.root
    read = config.read
    frequent = FrequentSegments(plan)
    removed_field = pa.field(plan.removed_column, pa.int32())
    chars_field = pa.field("chars_removed", pa.int64())
    kept_writer: AtomicParquetWriter | None = None
    reject_writer: AtomicParquetWriter | None = None
    stats = {"rows_in": 0, "kept": 0, "removed": 0, "segments_removed": 0, "chars_removed": 0}
    first_row = 0
    try:
        for batch in read_batches(shard, read):
            # A second pass over an earlier output replaces its counts rather than duplicating them.
            batch = batch.drop_columns([c for c in (plan.removed_column, "chars_removed") if c in batch.schema.names])
            n = batch.num_rows
            text = batch.column(read.text_column)
            rows, hashes = kernel.segment_hashes(text, unit=config.unit)  # type: ignore[arg-type]
            docs = doc_keys(shard.index, first_row, n)[rows]
            drop = frequent.drop_mask(hashes, docs, segment_positions(rows))
            result = kernel.remove_segments(text, drop, unit=config.unit)  # type: ignore[arg-type]
            too_short = (result.segments_removed > 0) & (result.words_left < config.min_words)
            if read.id_column not in batch.schema.names:
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            info = [
                pa.array(result.segments_removed.astype(np.int32)),
                pa.array(result.chars_removed.astype(np.int64)),
            ]
            position = batch.schema.get_field_index(read.text_column)
            rewritten = batch.set_column(position, batch.schema.field(position), result.texts)
            for field, column in zip((removed_field, chars_field), info, strict=True):
                rewritten = rewritten.append_column(field, column)
            base = (
                plan.output_schema
                if plan.output_schema is not None
                else batch.schema.remove(position).insert(position, pa.field(read.text_column, pa.large_string()))
            )
            if read.id_column not in base.names:
                base = base.append(pa.field(read.id_column, pa.string()))
            base = pa.schema([f for f in base if f.name not in (plan.removed_column, "chars_removed")])
            kept_schema = base.append(removed_field).append(chars_field)
            if kept_writer is None:
                kept_writer = AtomicParquetWriter(root, part_name(shard.index), schema=kept_schema)
            keep_mask = pa.array(~too_short)
            kept_writer.write(conform(rewritten.filter(keep_mask), kept_schema))
            n_short = int(too_short.sum())
            if n_short:
                short = batch.filter(pa.array(too_short))
                for field, column in zip((removed_field, chars_field), info, strict=True):
                    short = short.append_column(field, column.filter(pa.array(too_short)))
                short = short.append_column("_stage", pa.array([STAGE_NAME] * n_short, pa.string()))
                short = short.append_column("_reason", pa.array([TOO_SHORT] * n_short, pa.string()))
                reject_schema = kept_schema.append(pa.field("_stage", pa.string())).append(
                    pa.field("_reason", pa.string())
                )
                if reject_writer is None:
                    reject_writer = AtomicParquetWriter(root, reject_name(shard.index), schema=reject_schema)
                reject_writer.write(conform(short, reject_schema))
            stats["rows_in"] += n
            stats["removed"] += n_short
            stats["kept"] += n - n_short
            stats["segments_removed"] += int(result.segments_removed.sum())
            stats["chars_removed"] += int(result.chars_removed.sum())
            first_row += n
        assert kept_writer is not None
        published = [kept_writer.commit()]
        if reject_writer is not None:
            published.append(reject_writer.commit())
    except BaseException:
        for writer in (kept_writer, reject_writer):
            if writer is not None:
                writer.abort()
        raise
    outputs: list[Path] = [root / p.name for p in published]
    result_stats: dict[str, Any] = {**stats, "shards": [p.as_json() for p in published]}
    plan.workspace.mark_done(PHASE, f"s{shard.index:05d}", result_stats, outputs)
    return result_stats
