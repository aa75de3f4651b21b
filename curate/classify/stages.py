"""The fastText map stages: ``classify score``, ``filter lang`` and ``filter quality``.

Each names its model by path (never a download): the file is checked when the stage is built
(:func:`curate.classify.model_file.inspect_model`: complete, a supervised model, the SHA-256
given by ``--model-sha256``, the labels asked for present), its SHA-256 enters the stage's
fingerprint (``files()``), and ``setup()`` loads it once per worker process after checking
that the file still has that digest. Text goes through the one preprocessing of
:mod:`curate.classify.text` (line breaks to spaces, ``--max-chars``); an empty document is
labelled ``unknown`` with score 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classify.model import LoadedModel, Predictions, load_model, predict
from curate.classify.model_file import ModelInfo, inspect_model
from curate.classify.text import DEFAULT_MAX_CHARS, EMPTY_LABEL
from curate.errors import UsageError
from curate.filters.base import RUN_FIELD, TextFilter, TextStage
from curate.filters.registry import register
from curate.io.columns import text_values
from curate.pipelines.options import check_ranges, option
from curate.pipelines.stage import BatchContext, MapResult, reasons_from_rules

MODEL_HELP = "fastText model file (.bin or .ftz) by path; never downloaded."
SHA_HELP = "Refuse the model unless its SHA-256 is this (hex)."
MAX_CHARS_HELP = "Classify only the first N characters of each document (0: all of it)."


def _model_info(stage: Any) -> ModelInfo:
    if not stage.model:
        raise UsageError(f"{stage.group} {stage.name}: --model is required (a fastText .bin or .ftz file)")
    check_ranges(stage)
    info = inspect_model(stage.model, stage.model_sha256 or None)
    object.__setattr__(stage, "info", info)
    return info


def _languages(text: str) -> tuple[str, ...]:
    return tuple(item.strip().removeprefix("__label__") for item in text.split(",") if item.strip())


def _require_labels(stage: Any, wanted: tuple[str, ...], option_name: str) -> None:
    missing = [label for label in wanted if label not in stage.info.labels]
    if missing:
        shown = ", ".join(stage.info.labels[:40]) + (" ..." if len(stage.info.labels) > 40 else "")
        raise UsageError(
            f"{option_name}: {stage.model} has no label {', '.join(map(repr, missing))} "
            f"({len(stage.info.labels)} labels: {shown})"
        )


class ModelStage:
    """What the three stages share: the model's file, its loading and prediction."""

    extra: ClassVar[str | None] = None  # prediction is in the Rust extension; fastText only trains
    extra_modules: ClassVar[tuple[str, ...]] = ()
    model: str
    max_chars: int
    info: ModelInfo

    def files(self) -> tuple[str, ...]:
        return (self.model,)

    def setup(self) -> LoadedModel:
        return load_model(self.model, self.info.sha256)

    def predictions(self, batch: pa.RecordBatch, context: BatchContext, k: int) -> Predictions:
        return predict(context.state, text_values(batch, context.read.text_column), k=k, max_chars=self.max_chars)


def label_probability(found: Predictions, label: str, rows: int) -> pa.Array:
    """Per row, the probability the model gave ``label`` (0 where it is not among the top k)."""
    flat_labels = found.labels.flatten()
    flat_scores = np.asarray(found.scores.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    parents = np.asarray(pc.list_parent_indices(found.labels).to_numpy(zero_copy_only=False))
    hit = np.asarray(pc.equal(flat_labels, label).to_numpy(zero_copy_only=False), dtype=bool)
    probability = np.zeros(rows, dtype=np.float32)
    probability[parents[hit]] = flat_scores[hit]
    return pa.array(probability, pa.float32())


@dataclass(frozen=True)
class ClassifyScore(ModelStage, TextStage):
    """Label every document with a fastText model: adds NAME_label and NAME_score (the top label
    without __label__ and its probability); with --k N > 1 both are lists of the top N. Drops
    nothing. An empty or whitespace-only document gets the label 'unknown' and score 0."""

    name: ClassVar[str] = "score"
    group: ClassVar[str] = "classify"
    kind: ClassVar[str] = "classify"
    summary: ClassVar[str] = "Add a fastText model's label and score to every document."

    model: str = option("", MODEL_HELP)
    column_name: str = option("classifier", "Prefix of the added columns: NAME_label, NAME_score.")
    k: int = option(1, "Keep the top K labels (K > 1: list columns).", min=1)
    max_chars: int = option(DEFAULT_MAX_CHARS, MAX_CHARS_HELP, min=0)
    model_sha256: str = option("", SHA_HELP)
    info: ModelInfo = field(default=None, init=False, repr=False, compare=False, metadata=RUN_FIELD)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _model_info(self)
        if not self.column_name.isidentifier():
            raise UsageError(f"--column-name must be a plain name such as 'quality', got {self.column_name!r}")

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        k = min(self.k, len(self.info.labels))
        found = self.predictions(batch, context, k)
        if self.k == 1:
            columns = {f"{self.column_name}_label": found.label, f"{self.column_name}_score": found.score}
        else:
            columns = {f"{self.column_name}_label": found.labels, f"{self.column_name}_score": found.scores}
        empty = int(pc.sum(pc.equal(found.label, EMPTY_LABEL)).as_py() or 0)
        return MapResult(columns=columns, counters={"empty": empty} if empty else {})


@register
@dataclass(frozen=True)
class LangFilter(ModelStage, TextFilter):
    """Keep documents a fastText language-ID model (lid.176, GlotLID, or one trained with
    curate classify train) labels with one of --keep, with probability >= --min-score. Adds
    lang (the top label without __label__) and lang_score to kept and rejected rows. Reasons:
    lang:empty (nothing to classify), lang:not_kept, lang:low_score."""

    name: ClassVar[str] = "lang"
    summary: ClassVar[str] = "Keep documents in the given languages (fastText language ID)."

    model: str = option("", MODEL_HELP)
    keep: str = option("", "Languages to keep, comma-separated model labels (en,de or eng_Latn); empty: any.")
    min_score: float = option(0.65, "Minimum probability of the top language.", min=0.0, max=1.0)
    max_chars: int = option(DEFAULT_MAX_CHARS, MAX_CHARS_HELP, min=0)
    model_sha256: str = option("", SHA_HELP)
    info: ModelInfo = field(default=None, init=False, repr=False, compare=False, metadata=RUN_FIELD)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _model_info(self)
        _require_labels(self, _languages(self.keep), "--keep")

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        found = self.predictions(batch, context, 1)
        n = batch.num_rows
        keep = _languages(self.keep)
        label_is_empty = np.asarray(pc.equal(found.label, EMPTY_LABEL).to_numpy(zero_copy_only=False), dtype=bool)
        if keep:
            kept_language = pc.is_in(found.label, value_set=pa.array(keep, pa.string()))
            not_kept = ~np.asarray(kept_language.to_numpy(zero_copy_only=False), dtype=bool)
        else:
            not_kept = np.zeros(n, dtype=bool)
        low = np.asarray(found.score.to_numpy(zero_copy_only=False)) < np.float32(self.min_score)
        rules = [("lang:empty", label_is_empty), ("lang:not_kept", not_kept), ("lang:low_score", low)]
        verdict, reasons = reasons_from_rules(rules, n)
        columns = {"lang": found.label, "lang_score": found.score}
        if self.annotate:
            return MapResult(reasons=reasons, columns=columns)
        return MapResult(keep=verdict, reasons=reasons, columns=columns, reject_columns=columns)


# --min-score when neither it nor --top-percent is given.
DEFAULT_MIN_QUALITY = 0.5
AUTO_MIN_SCORE = -1.0


@register
@dataclass(frozen=True)
class QualityFilter(ModelStage, TextFilter):
    """Keep documents a fastText quality classifier (DCLM's, or one trained with curate classify
    train-quality) scores high: the score is the probability of --label (hq). Either an absolute
    cut, --min-score X (default 0.5), or --top-percent P: the best P % of the whole dataset, an
    exact cut over every score (two passes; documents tying the threshold are all kept, so at
    least P % are). Adds quality_score to kept and rejected rows. Reasons: quality:empty,
    quality:low_score, quality:below_top_percent."""

    name: ClassVar[str] = "quality"
    summary: ClassVar[str] = "Keep documents a fastText quality classifier scores high enough."

    model: str = option("", MODEL_HELP)
    label: str = option("hq", "The model's label of good documents; the score is its probability.")
    min_score: float = option(
        AUTO_MIN_SCORE, f"Minimum probability of --label (default {DEFAULT_MIN_QUALITY}).", auto=AUTO_MIN_SCORE
    )
    top_percent: float = option(0.0, "Keep the best P % of the dataset instead (0: off).", min=0.0, max=100.0)
    max_chars: int = option(DEFAULT_MAX_CHARS, MAX_CHARS_HELP, min=0)
    model_sha256: str = option("", SHA_HELP)
    info: ModelInfo = field(default=None, init=False, repr=False, compare=False, metadata=RUN_FIELD)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _model_info(self)
        _require_labels(self, (self.label.removeprefix("__label__"),), "--label")
        given = self.min_score != AUTO_MIN_SCORE
        if given and not 0.0 <= self.min_score <= 1.0:
            raise UsageError(f"--min-score must be in [0, 1], got {self.min_score}")
        if given and self.top_percent > 0:
            raise UsageError("give --min-score or --top-percent, not both")
        if self.top_percent > 0 and self.annotate:
            raise UsageError("--top-percent drops documents; use classify score to only annotate")

    @property
    def threshold(self) -> float:
        return DEFAULT_MIN_QUALITY if self.min_score == AUTO_MIN_SCORE else self.min_score

    def global_stage(self, read: Any) -> Any:
        """With --top-percent, the global stage that makes the cut over the whole dataset."""
        if self.top_percent <= 0:
            return None
        from curate.classify.top_percent import TopPercentStage

        return TopPercentStage(self, read)

    def scores(self, batch: pa.RecordBatch, context: BatchContext) -> tuple[pa.Array, np.ndarray]:
        """The probability of --label per row, and which rows are empty."""
        found = self.predictions(batch, context, len(self.info.labels))
        score = label_probability(found, self.label.removeprefix("__label__"), batch.num_rows)
        empty = np.asarray(pc.equal(found.label, EMPTY_LABEL).to_numpy(zero_copy_only=False), dtype=bool)
        return score, empty

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        n = batch.num_rows
        score, empty = self.scores(batch, context)
        low = np.asarray(score.to_numpy(zero_copy_only=False)) < np.float32(self.threshold)
        verdict, reasons = reasons_from_rules([("quality:empty", empty), ("quality:low_score", low)], n)
        columns = {"quality_score": score}
        if self.annotate:
            return MapResult(reasons=reasons, columns=columns)
        return MapResult(keep=verdict, reasons=reasons, columns=columns, reject_columns=columns)
