"""Phase 3 of line dedup (map over input shards): remove the frequent segments from each text;
a document left with fewer than ``min_words`` words goes to ``_rejects/`` as it was, with
``_reason`` ``lines:too_short``. Kept documents get ``<unit>s_removed`` and ``chars_removed``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import doc_keys
from curate.dedup.lines import sketch
from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesPlan
from curate.dedup.lines.counting import TOTAL_SKETCH, frequent_name, segment_positions
from curate.io.readers import batch_ids, read_batches
from curate.io.shard_output import ShardOutput, reject_schema, with_reject_columns

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
    count_fields = [pa.field(plan.removed_column, pa.int32()), pa.field("chars_removed", pa.int64())]
    count_names = [f.name for f in count_fields]
    stats = {"rows_in": 0, "segments_removed": 0, "chars_removed": 0}
    first_row = 0
    with ShardOutput(root, shard.index) as output:
        for batch in read_batches(shard, read, schema=plan.read_schema(shard.index)):
            # A second pass over an earlier output replaces its counts rather than duplicating them.
            batch = batch.drop_columns([c for c in count_names if c in batch.schema.names])
            n = batch.num_rows
            text = batch.column(read.text_column)
            rows, hashes = kernel.segment_hashes(text, unit=config.unit)  # type: ignore[arg-type]
            docs = doc_keys(shard.index, first_row, n)[rows]
            drop = frequent.drop_mask(hashes, docs, segment_positions(rows))
            result = kernel.remove_segments(text, drop, unit=config.unit)  # type: ignore[arg-type]
            too_short = (result.segments_removed > 0) & (result.words_left < config.min_words)
            if read.id_column not in batch.schema.names:
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            counts = [
                pa.array(result.segments_removed.astype(np.int32)),
                pa.array(result.chars_removed.astype(np.int64)),
            ]
            position = batch.schema.get_field_index(read.text_column)
            rewritten = batch.set_column(position, batch.schema.field(position), result.texts)
            original = batch
            for item, column in zip(count_fields, counts, strict=True):
                rewritten = rewritten.append_column(item, column)
                original = original.append_column(item, column)
            kept_schema = _kept_schema(plan, batch.schema, count_fields)
            output.keep(rewritten.filter(pa.array(~too_short)), kept_schema)
            # A rejected document goes out as it came in, with the counts that condemned it.
            short = with_reject_columns(original.filter(pa.array(too_short)), STAGE_NAME, TOO_SHORT)
            output.reject(short, reject_schema(kept_schema))
            stats["rows_in"] += n
            stats["segments_removed"] += int(result.segments_removed.sum())
            stats["chars_removed"] += int(result.chars_removed.sum())
            first_row += n
        published = output.commit()
    result_stats: dict[str, Any] = {
        **stats,
        "kept": output.kept_rows,
        "removed": output.rejected_rows,
        "shards": [p.as_json() for p in published],
    }
    plan.workspace.mark_done(PHASE, f"s{shard.index:05d}", result_stats, [root / p.name for p in published])
    return result_stats


def _kept_schema(plan: LinesPlan, batch_schema: pa.Schema, count_fields: list[pa.Field]) -> pa.Schema:
    read = plan.config.read
    base = plan.output_schema if plan.output_schema is not None else batch_schema
    if read.id_column not in base.names:
        base = base.append(pa.field(read.id_column, pa.string()))
    names = {f.name for f in count_fields}
    return pa.schema([f for f in base if f.name not in names] + count_fields)
