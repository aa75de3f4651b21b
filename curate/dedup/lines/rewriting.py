"""Phase 3 of line dedup (a map stage over input shards): remove the frequent segments from each text;
a document left with fewer than ``min_words`` words goes to ``OUT.curate/rejects/`` as it was, with
``_reason`` ``lines:too_short``. Kept documents get ``<unit>s_removed`` and ``chars_removed``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import doc_keys
from curate.dedup.lines import sketch
from curate.dedup.lines.config import STAGE_NAME, TOO_SHORT, LinesPlan
from curate.dedup.lines.counting import TOTAL_SKETCH, frequent_name, segment_positions
from curate.io.columns import text_values
from curate.pipelines.stage import BatchContext, MapResult, MapStage


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


class LineRewrite(MapStage):
    """The apply phase of line dedup as a map stage: positional (segment keys name the row of
    the shard), first of its fused group. The frequent segments are loaded by ``setup``,
    once per worker, and shared by every shard it rewrites."""

    group = "dedup"
    positional = True

    def __init__(self, plan: LinesPlan) -> None:
        self.plan = plan

    @property
    def stage_label(self) -> str:
        return STAGE_NAME

    def setup_key(self) -> str:
        return f"{STAGE_NAME}:{self.plan.workspace.root}:{self.plan.workspace.fingerprint}"

    def setup(self) -> FrequentSegments:
        return FrequentSegments(self.plan)

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        config = self.plan.config
        frequent: FrequentSegments = context.state
        n = batch.num_rows
        text = text_values(batch, config.read.text_column)
        rows, hashes = kernel.segment_hashes(text, unit=config.unit)  # type: ignore[arg-type]
        docs = doc_keys(context.shard.index, context.first_row, n)[rows]
        drop = frequent.drop_mask(hashes, docs, segment_positions(rows))
        result = kernel.remove_segments(text, drop, unit=config.unit)  # type: ignore[arg-type]
        too_short = (result.segments_removed > 0) & (result.words_left < config.min_words)
        # Kept and rejected rows both get the counts; a rejected document keeps its text as it
        # came in, with the counts that condemned it.
        counts = {
            self.plan.removed_column: pa.array(result.segments_removed.astype(np.int32)),
            "chars_removed": pa.array(result.chars_removed.astype(np.int64)),
        }
        reasons = pc.if_else(pa.array(too_short), pa.scalar(TOO_SHORT), pa.scalar(None, pa.string()))
        return MapResult(
            keep=~too_short,
            reasons=reasons,
            texts=result.texts,
            columns=counts,
            reject_columns=counts,
            counters={
                "segments_removed": int(result.segments_removed.sum()),
                "chars_removed": int(result.chars_removed.sum()),
            },
        )
