"""Running a text stage (filter or modifier) over a dataset: a map over shards.

Filters write kept rows to ``part-NNNNN.parquet`` and dropped rows to ``_rejects/`` with
``_stage`` and ``_reason``; with ``annotate`` they drop nothing and add their statistics as
columns instead. Modifiers rewrite the text column and count what they changed. Counters
per reason (``dropped:<reason>``) or per kind go to the manifest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.filters.base import TextFilter, TextModifier, TextStage
from curate.io.readers import ReadCounters, ReadOptions, batch_ids, read_batches
from curate.io.shard_output import ShardOutput, reject_schema, with_reject_columns
from curate.pipelines.plan import ShardPlan, base_fields, inspect_inputs
from curate.pipelines.runner import RunOptions, StageRun
from curate.pipelines.summary import StageSummary, output_body, quarantine_list, quarantined_shards, run_or_quarantine

PHASE = "map"


@dataclass(frozen=True)
class TextStagePlan(ShardPlan):
    stage: TextStage
    read: ReadOptions
    annotate: bool

    @property
    def stage_name(self) -> str:
        return f"{self.stage.kind}_{self.stage.reason_prefix}"


def _base_schema(plan: TextStagePlan, batch_schema: pa.Schema) -> pa.Schema:
    schema = plan.output_schema if plan.output_schema is not None else batch_schema
    if plan.read.id_column not in schema.names:
        schema = schema.append(pa.field(plan.read.id_column, pa.string()))
    return schema


def _with_columns(batch: pa.RecordBatch, columns: dict[str, pa.Array]) -> pa.RecordBatch:
    """``batch`` with ``columns`` appended, replacing same-named ones (a re-run annotates afresh)."""
    batch = batch.drop_columns([name for name in columns if name in batch.schema.names])
    for name, column in columns.items():
        batch = batch.append_column(name, column)
    return batch


def _schema_with(schema: pa.Schema, batch: pa.RecordBatch, names: list[str]) -> pa.Schema:
    kept = [f for f in schema if f.name not in names]
    return pa.schema(kept + [batch.schema.field(n) for n in names])


def map_task(args: tuple[TextStagePlan, int]) -> dict[str, Any]:
    plan, shard_index = args
    root = plan.workspace.root

    def work() -> tuple[dict[str, Any], list[Path]]:
        stats = _map_shard(plan, shard_index)
        return stats, [root / p["name"] for p in stats["shards"]]

    return run_or_quarantine(plan.workspace, PHASE, shard_index, plan.skip_bad_shards, work)


def _map_shard(plan: TextStagePlan, shard_index: int) -> dict[str, Any]:
    shard = plan.shards[shard_index]
    read = plan.read
    stage = plan.stage
    counters = ReadCounters()
    reasons: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    extra: Counter[str] = Counter()
    rows_in = 0
    first_row = 0
    with ShardOutput(plan.workspace.root, shard.index) as output:
        for batch in read_batches(shard, read, counters, schema=plan.read_schema(shard.index)):
            n = batch.num_rows
            if read.id_column not in batch.schema.names:
                batch = batch.append_column(read.id_column, batch_ids(batch, shard, first_row, read))
            texts = batch.column(read.text_column)
            schema = _base_schema(plan, batch.schema)
            if isinstance(stage, TextModifier):
                change = stage.modify(texts, batch)
                position = batch.schema.get_field_index(read.text_column)
                batch = batch.set_column(position, batch.schema.field(position), change.texts.cast(pa.large_string()))
                batch = _with_columns(batch, change.columns)
                for kind, per_row in change.counts.items():
                    changes[kind] += int(np.asarray(per_row).sum())
                output.keep(batch, _schema_with(schema, batch, list(change.columns)))
            elif isinstance(stage, TextFilter):
                verdict = stage.evaluate(texts, batch)
                extra.update(verdict.counters)
                if plan.annotate:
                    batch = _with_columns(batch, verdict.stats)
                    output.keep(batch, _schema_with(schema, batch, list(verdict.stats)))
                    reasons.update(_count(verdict.reasons.drop_null()))
                else:
                    keep = pa.array(np.asarray(verdict.keep, dtype=bool))
                    kept = batch
                    if verdict.texts is not None:
                        position = batch.schema.get_field_index(read.text_column)
                        cleaned = verdict.texts.cast(pa.large_string())
                        kept = batch.set_column(position, batch.schema.field(position), cleaned)
                    output.keep(kept.filter(keep), schema)
                    dropped_reasons = verdict.reasons.filter(pc.invert(keep))
                    reasons.update(_count(dropped_reasons))
                    rejected = with_reject_columns(batch.filter(pc.invert(keep)), plan.stage_name, dropped_reasons)
                    output.reject(rejected, reject_schema(schema))
            else:
                raise TypeError(f"{type(stage).__name__} is neither a TextFilter nor a TextModifier")
            rows_in += n
            first_row += n
        if rows_in != output.kept_rows + output.rejected_rows:
            raise AssertionError(
                f"{shard.path}: {rows_in} rows in, {output.kept_rows} kept + {output.rejected_rows} dropped"
            )
        published = output.commit()
    return {
        "rows_in": rows_in,
        "kept": output.kept_rows,
        "removed": output.rejected_rows,
        "reasons": dict(reasons),
        "changes": dict(changes),
        "counted": dict(extra),
        "invalid_utf8_rows": counters.invalid_utf8_rows,
        "shards": [p.as_json() for p in published],
    }


def _count(reasons: pa.Array) -> Counter[str]:
    counted: Counter[str] = Counter()
    for item in reasons.value_counts().to_pylist():
        counted[str(item["values"])] += int(item["counts"])
    return counted


def run_text_stage(
    stage: TextStage, read: ReadOptions, input_location: str, output: Path, options: RunOptions, *, annotate: bool
) -> StageSummary:
    fields = {"stage": stage.name, "config": stage.config(), "annotate": annotate, "text_column": read.text_column}
    with StageRun(f"{stage.kind}_{stage.reason_prefix}", input_location, output, fields, options) as run:
        if run.previous_manifest is not None:
            return StageSummary(run.previous_manifest, reused=True)
        assert run.workspace is not None
        schema, quarantined = inspect_inputs(run.shards, read, options.skip_bad_shards, run.workspace)
        plan = TextStagePlan(
            **base_fields(run, schema, quarantined, options.skip_bad_shards), stage=stage, read=read, annotate=annotate
        )
        stats = run.run_phase(PHASE, map_task, plan.shard_tasks())
        quarantined.update(quarantined_shards(stats))
        finished = {key: value for key, value in stats.items() if "quarantined" not in value}
        body = output_body(output, finished)
        reasons: Counter[str] = Counter()
        changes: Counter[str] = Counter()
        counted: Counter[str] = Counter()
        for value in finished.values():
            reasons.update(value["reasons"])
            changes.update(value["changes"])
            counted.update(value.get("counted", {}))
        prefix = "flagged" if annotate else "dropped"
        counters: dict[str, Any] = {f"{prefix}:{reason}": count for reason, count in sorted(reasons.items())}
        counters.update({f"changed:{kind}": count for kind, count in sorted(changes.items())})
        counters.update({f"counted:{name}": count for name, count in sorted(counted.items())})
        counters["invalid_utf8_rows"] = sum(v.get("invalid_utf8_rows", 0) for v in finished.values())
        manifest = run.finish(
            {
                **body,
                "counters": counters,
                "quarantined": quarantine_list({s.index: s.path for s in run.shards}, quarantined),
            }
        )
        return StageSummary(manifest, reused=False)
