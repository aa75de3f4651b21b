"""``filter quality --top-percent P``: keep the best P % of the whole dataset, a global stage.

The cut needs every score first, so it is two passes and an exact quantile, no sketch:

1. ``scores`` (a map over shards): the quality score of every row, in shard order, saved as
   ``work/quality/scores/sNNNNN.npy`` (float32; NaN marks an empty document, which is never
   kept). A shard's first read: with ``--on-error skip`` a bad shard is quarantined here.
2. ``cut`` (one task): ``n`` = the number of non-empty documents over every shard,
   ``target`` = ceil(n x P / 100), ``threshold`` = the ``target``-th highest score (exact, over
   all of them). Saved as ``work/quality/cut.json``.
3. apply (a map stage): keep a row when its score >= ``threshold``. Every document whose score
   ties the threshold is kept, so the output holds *at least* ``target`` documents and more
   exactly when scores tie at the cut (float32 probabilities tie often near 0 and 1); the
   manifest records ``target``, ``threshold`` and the number kept. Rejects carry
   ``quality_score`` and the reason ``quality:below_top_percent`` (or ``quality:empty``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.io.discovery import InputShard
from curate.io.readers import ReadCounters, ReadOptions, read_batches
from curate.pipelines.plan import ShardPlan
from curate.pipelines.stage import BatchContext, GlobalStage, MapResult, MapStage, Phase, reasons_from_rules

STAGE_LABEL = "filter_quality"


@dataclass(frozen=True)
class TopPercentPlan(ShardPlan):
    read: ReadOptions
    scorer: Any  # the QualityFilter whose scores are cut

    def scores_path(self, shard_index: int) -> Path:
        return self.workspace.path("quality", "scores", f"s{shard_index:05d}.npy")

    @property
    def cut_path(self) -> Path:
        return self.workspace.path("quality", "cut.json")


def _save(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        write(handle)
    os.replace(temporary, path)


def scores_task(plan: TopPercentPlan, shard_index: int) -> tuple[dict[str, Any], list[Path]]:
    shard = plan.shards[shard_index]
    scorer = plan.scorer
    state = scorer.worker_state()
    counters = ReadCounters()
    parts = []
    for batch in read_batches(shard, plan.read, counters, columns=[plan.read.text_column]):
        context = BatchContext(shard, 0, plan.read, state)
        score, empty = scorer.scores(batch, context)
        values = np.asarray(score.to_numpy(zero_copy_only=False), dtype=np.float32).copy()
        values[empty] = np.nan
        parts.append(values)
    scores = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    path = plan.scores_path(shard_index)
    _save(path, lambda handle: np.save(handle, scores, allow_pickle=False))
    empty_rows = int(np.isnan(scores).sum())
    return {"rows": len(scores), "empty": empty_rows, "invalid_utf8_rows": counters.invalid_utf8_rows}, [path]


def exact_cut(scores: np.ndarray, percent: float) -> dict[str, Any]:
    """The ``target``-th highest of the non-NaN ``scores``, target = ceil(n x percent / 100)."""
    present = scores[~np.isnan(scores)]
    n = len(present)
    target = min(n, math.ceil(n * percent / 100.0))
    if target == 0:
        return {"scored": n, "target": 0, "threshold": None}
    threshold = float(np.partition(present, n - target)[n - target])
    return {"scored": n, "target": target, "threshold": threshold, "at_or_above": int((present >= threshold).sum())}


def cut_task(plan: TopPercentPlan, _: int) -> tuple[dict[str, Any], list[Path]]:
    loaded = [np.load(plan.scores_path(s.index), allow_pickle=False) for s in plan.active_shards]
    scores = np.concatenate(loaded) if loaded else np.zeros(0, dtype=np.float32)
    cut = exact_cut(scores, plan.scorer.top_percent)
    _save(plan.cut_path, lambda handle: handle.write(json.dumps(cut).encode()))
    return cut, [plan.cut_path]


class TopPercentApply(MapStage):
    """Keep the rows whose phase-1 score is >= the cut, looked up by row position."""

    group = "filter"
    name = "quality"
    positional = True

    def __init__(self, plan: TopPercentPlan) -> None:
        self.plan = plan

    @property
    def stage_label(self) -> str:
        return STAGE_LABEL

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        return ()

    def begin_shard(self, shard: InputShard, state: Any) -> Any:
        cut = json.loads(self.plan.cut_path.read_text())
        threshold = np.float32(np.inf if cut["threshold"] is None else cut["threshold"])
        return np.load(self.plan.scores_path(shard.index), allow_pickle=False), threshold

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        scores, threshold = context.shard_state
        n = batch.num_rows
        mine = scores[context.first_row : context.first_row + n]
        if len(mine) != n:
            raise AssertionError(f"{context.shard.path}: {n} rows, {len(mine)} scores from the first pass")
        empty = np.isnan(mine)
        below = ~empty & (mine < threshold)
        keep, reasons = reasons_from_rules([("quality:empty", empty), ("quality:below_top_percent", below)], n)
        column = {"quality_score": pa.array(np.nan_to_num(mine, nan=0.0), pa.float32())}
        return MapResult(keep=keep, reasons=reasons, columns=column, reject_columns=column)


PHASES = [Phase("scores", "map", scores_task, quarantine=True), Phase("cut", "single", cut_task)]


@dataclass(frozen=True)
class TopPercentStage(GlobalStage):
    scorer: Any  # QualityFilter with top_percent > 0
    read: ReadOptions

    name: ClassVar[str] = "quality"
    group: ClassVar[str] = "filter"
    apply_phase: ClassVar[str] = "filter"

    @property
    def stage_label(self) -> str:
        return STAGE_LABEL

    def check_installed(self) -> None:
        self.scorer.check_installed()

    def files(self) -> tuple[str, ...]:
        return self.scorer.files()

    def fingerprint_fields(self) -> dict[str, object]:
        return {
            "stage": self.scorer.name,
            "config": self.scorer.config(),
            "annotate": False,
            "text_column": self.read.text_column,
            "algorithm": "exact top-percent cut, ties kept",
        }

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> TopPercentPlan:
        return TopPercentPlan(**base, read=self.read, scorer=self.scorer)

    def phases(self) -> list[Phase]:
        return PHASES

    def apply_stage(self, plan: TopPercentPlan) -> MapStage:
        return TopPercentApply(plan)

    def counters(
        self, plan: TopPercentPlan, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]
    ) -> dict[str, Any]:
        from curate.pipelines.single import filter_counters

        counters = filter_counters(apply["tally"], annotate=False)
        counters["invalid_utf8_rows"] = sum(s.get("invalid_utf8_rows", 0) for s in stats["scores"].values())
        return counters

    def manifest_fields(self, plan: TopPercentPlan, stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        cut = stats["cut"]["all"]
        return {"top_percent": {"percent": self.scorer.top_percent, **cut}}
