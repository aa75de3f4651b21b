"""Running consecutive map stages fused: one read and one write per shard, whatever their number.

For every batch of a shard, each stage in turn sees the rows the stages before it kept
(with their rewritten text and added columns), exactly as it would see them read back
from the previous stage's output: between stages the batch is conformed to the schema the
previous stage would have written. Kept rows of the last stage go to ``part-NNNNN.parquet``;
the rows stage ``k`` dropped go to its own rejects directory with ``_stage`` and
``_reason``. Rows in = kept + dropped by each stage, checked per shard and per stage.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.io.columns import has_column, with_values
from curate.io.readers import ReadCounters, ReadOptions, batch_ids, read_batches
from curate.io.schema import conform
from curate.io.shard_output import ShardOutput, part_name, reject_schema, with_reject_columns
from curate.io.writers import AtomicParquetWriter
from curate.pipelines.plan import ShardPlan
from curate.pipelines.stage import BatchContext, MapResult, MapStage


@dataclass(frozen=True)
class ChainPlan(ShardPlan):
    """A fused group of map stages over the shards of one dataset.

    ``kept_root``: where ``part-NNNNN.parquet`` go (OUT, or an intermediate dataset under
    ``work/``); ``reject_dirs[k]``: the rejects directory of stage ``k``, relative to the
    workspace root (the state directory ``OUT.curate``).
    """

    read: ReadOptions = field(default_factory=ReadOptions)
    stages: tuple[MapStage, ...] = ()
    kept_root: Path | None = None
    reject_dirs: tuple[str, ...] = ()
    # Per stage, a directory (relative to the workspace root) where the rows it kept are also
    # written, as the dataset its single command would have written (``--keep-intermediate``).
    keep_dirs: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        for position, stage in enumerate(self.stages):
            if stage.positional and position > 0:
                raise ValueError(f"{stage.stage_label} needs row positions: it must be first in its fused group")


@dataclass
class StageTally:
    """What one stage did to the rows it saw (summed over batches and shards)."""

    rows_in: int = 0
    kept: int = 0
    removed: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    counted: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "kept": self.kept,
            "removed": self.removed,
            "dropped": dict(self.dropped),
            "flagged": dict(self.flagged),
            "changes": dict(self.changes),
            "counted": dict(self.counted),
        }

    @staticmethod
    def total(values: list[dict[str, Any]]) -> StageTally:
        tally = StageTally()
        for value in values:
            tally.rows_in += value["rows_in"]
            tally.kept += value["kept"]
            tally.removed += value["removed"]
            tally.dropped.update(value["dropped"])
            tally.flagged.update(value["flagged"])
            tally.changes.update(value["changes"])
            tally.counted.update(value["counted"])
        return tally


def count_values(values: pa.Array) -> Counter[str]:
    counted: Counter[str] = Counter()
    for item in values.value_counts().to_pylist():
        counted[str(item["values"])] += int(item["counts"])
    return counted


def with_columns(batch: pa.RecordBatch, columns: dict[str, pa.Array]) -> pa.RecordBatch:
    """``batch`` with ``columns`` appended, replacing same-named ones (a re-run annotates afresh)."""
    batch = batch.drop_columns([name for name in columns if name in batch.schema.names])
    for name, column in columns.items():
        batch = batch.append_column(name, column)
    return batch


def schema_with(schema: pa.Schema, batch: pa.RecordBatch, names: list[str]) -> pa.Schema:
    """``schema`` with the fields ``names`` of ``batch`` moved (or added) to its end."""
    kept = [f for f in schema if f.name not in names]
    return pa.schema(kept + [batch.schema.field(n) for n in names])


@functools.lru_cache(maxsize=256)
def as_read_back(schema: pa.Schema, text_column: str) -> pa.Schema:
    """``schema`` as the next command of a shell chain would see it: written to Parquet and read
    back (list items are named ``element``, ...), then unified as every stage's input is (text
    column ``large_string``, no schema metadata). Found by a round trip of an empty table."""
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink, store_schema=True)
    back = pq.read_schema(pa.BufferReader(sink.getvalue()))
    if text_column in back.names:
        back = back.set(back.get_field_index(text_column), pa.field(text_column, pa.large_string()))
    return back.remove_metadata()


@dataclass
class _Step:
    """One stage's result on one batch, applied."""

    kept: pa.RecordBatch
    kept_schema: pa.Schema
    rejected: pa.RecordBatch | None
    rejected_schema: pa.Schema | None


def apply_result(
    stage: MapStage, batch: pa.RecordBatch, schema: pa.Schema, result: MapResult, tally: StageTally, read: ReadOptions
) -> _Step:
    n = batch.num_rows
    kept = batch
    if result.texts is not None:
        # In place: a top-level text column (large_string), or the field of the user's struct
        # (metadata.text, with its own type), never a new column.
        kept = with_values(kept, read.text_column, result.texts)
    kept = with_columns(kept, result.columns)
    kept_schema = schema_with(schema, kept, list(result.columns))
    removed = [name for name in stage.removes() if name in kept.schema.names]
    if removed:  # neither kept nor rejected rows carry what the stage removes
        batch = batch.drop_columns(removed)
        kept = kept.drop_columns(removed)
        kept_schema = pa.schema([f for f in kept_schema if f.name not in removed])
    tally.rows_in += n
    tally.changes.update(result.changes)
    tally.counted.update(result.counters)
    keep = None if result.keep is None else np.asarray(result.keep, dtype=bool)
    if keep is None or keep.all():
        if result.reasons is not None:
            tally.flagged.update(count_values(result.reasons.drop_null()))
        tally.kept += n
        return _Step(kept, kept_schema, None, None)
    keep_mask = pa.array(keep)
    drop_mask = pc.invert(keep_mask)
    if result.reasons is None:
        raise ValueError(f"{stage.stage_label}: dropped rows without reasons")
    dropped_reasons = result.reasons.filter(drop_mask)
    tally.dropped.update(count_values(dropped_reasons))
    tally.flagged.update(count_values(result.reasons.filter(keep_mask).drop_null()))
    rejected = batch.filter(drop_mask)
    rejected = with_columns(
        rejected, {name: column.filter(drop_mask) for name, column in result.reject_columns.items()}
    )
    rejected = with_reject_columns(rejected, stage.stage_label, dropped_reasons)
    extra = [pa.field(name, column.type) for name, column in result.reject_columns.items()]
    kept = kept.filter(keep_mask)
    tally.kept += kept.num_rows
    tally.removed += rejected.num_rows
    return _Step(kept, kept_schema, rejected, reject_schema(kept_schema, extra))


def chain_task(plan: ChainPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    """One fused pass over one shard: read once, every stage, write kept rows and rejects."""
    shard = plan.shards[shard_index]
    read = plan.read
    batch_rows = [s.resources.batch_rows for s in plan.stages if s.resources.batch_rows]
    if batch_rows:
        read = dataclasses.replace(read, batch_rows=min(batch_rows))
    stages = plan.stages
    states = [stage.worker_state() for stage in stages]
    shard_states = [stage.begin_shard(shard, state) for stage, state in zip(stages, states, strict=True)]
    tallies = [StageTally() for _ in stages]
    counters = ReadCounters()
    root = plan.workspace.root
    kept_root = plan.kept_root if plan.kept_root is not None else plan.workspace.out
    tmp_dir = plan.workspace.tmp_dir
    rows_in = 0
    first_row = 0
    keep_dirs = plan.keep_dirs or (None,) * len(stages)
    intermediate: dict[int, AtomicParquetWriter] = {}
    with (
        ShardOutput(root, shard.index, kept_root=kept_root, tmp_dir=tmp_dir, reject_dirs=plan.reject_dirs) as output,
        _AbortOnError(intermediate),
    ):
        if stages[0].source is not None:
            batches = stages[0].source_batches(shard, read)
        else:
            batches = read_batches(shard, read, counters, schema=plan.read_schema(shard.index))
        for batch in batches:
            n = batch.num_rows
            if not has_column(batch.schema, read.id_column):
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            schema = plan.output_schema if plan.output_schema is not None else batch.schema
            if not has_column(schema, read.id_column):
                schema = schema.append(pa.field(read.id_column, pa.string()))
            for k, stage in enumerate(stages):
                if k > 0:
                    # What the next stage would read back from this stage's output.
                    schema = as_read_back(schema, read.text_column)
                    batch = conform(batch, schema)
                context = BatchContext(shard, first_row, read, states[k], shard_states[k])
                step = apply_result(stage, batch, schema, stage.apply(batch, context), tallies[k], read)
                if step.rejected is not None and step.rejected_schema is not None:
                    output.reject(step.rejected, step.rejected_schema, k)
                batch, schema = step.kept, step.kept_schema
                directory = keep_dirs[k]
                if directory is not None:
                    if k not in intermediate:
                        intermediate[k] = AtomicParquetWriter(
                            root / directory, part_name(shard.index), schema=schema, tmp_dir=tmp_dir
                        )
                    intermediate[k].write(conform(batch, schema))
            output.keep(batch, schema)
            rows_in += n
            first_row += n
        removed = sum(t.removed for t in tallies)
        if rows_in != output.kept_rows + removed or removed != output.rejected_rows:
            raise AssertionError(f"{shard.path}: {rows_in} rows in, {output.kept_rows} kept + {removed} dropped")
        for tally, following in itertools.pairwise(tallies):
            if tally.kept != following.rows_in:
                raise AssertionError(f"{shard.path}: a stage kept {tally.kept} rows, the next saw {following.rows_in}")
        kept_shard, rejects = output.commit()
        kept_by_stage = {k: writer.commit() for k, writer in intermediate.items()}
    stats = {
        "rows_in": rows_in,
        "kept": output.kept_rows,
        "removed": output.rejected_rows,
        "stages": [t.as_json() for t in tallies],
        "invalid_utf8_rows": counters.invalid_utf8_rows,
        "shards": [kept_shard.as_json()],
        "rejects": [p.as_json() for p in rejects],
        "intermediate": {str(k): p.as_json() for k, p in kept_by_stage.items()},
    }
    outputs = [kept_root / kept_shard.name, *(root / p.name for p in rejects)]
    outputs += [root / str(keep_dirs[k]) / p.name for k, p in kept_by_stage.items()]
    return stats, outputs


class _AbortOnError:
    """Abandon the intermediate writers of a shard that failed (none of them publishes)."""

    def __init__(self, writers: dict[int, AtomicParquetWriter]) -> None:
        self.writers = writers

    def __enter__(self) -> _AbortOnError:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            for writer in self.writers.values():
                writer.abort()
