"""The contract of a map stage over text: one vectorised method over a whole Arrow batch.

A **filter** returns, for every row, keep or drop and, for dropped rows, a short
machine-readable reason (``gopher_quality:mean_word_length``); it may also return the
statistics it measured as columns, which ``--annotate`` adds to the output instead of
dropping anything (so thresholds can be chosen afterwards, as dolma does).

Both are map stages of the one stage contract (``curate.pipelines.stage``): ``apply`` turns
a verdict or a modification into a :class:`~curate.pipelines.stage.MapResult`. Whether a
filter drops or annotates is its ``annotate`` field.

A **modifier** returns a rewritten text column and per-row counts of what it changed (PII
redaction); it never drops a row.

Both are frozen dataclasses whose fields are their thresholds: the command line options,
the fingerprint and the manifest's config all come from those fields. Nothing here loops
over documents in Python; implementations use Arrow compute, polars or the Rust kernel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.io.columns import text_values
from curate.pipelines.stage import BatchContext, MapResult, MapStage, reasons_from_rules


@dataclass(frozen=True)
class Verdict:
    """Row-aligned outcome of a filter over one batch.

    ``keep``: bool per row. ``reasons``: a string array, null where kept, else the reason code
    of the first rule that failed. ``stats``: measured statistics by column name (row-aligned).
    ``texts``: for filters that also clean what they keep (C4 removes lines), the new text of
    every row; kept rows are written with it, dropped rows go to ``OUT.curate/rejects/`` as they came.
    ``counters``: batch totals of anything worth counting that is not a drop reason (summed
    into the manifest as ``counted:<name>``).
    """

    keep: np.ndarray
    reasons: pa.Array
    stats: dict[str, pa.Array] = field(default_factory=dict)
    texts: pa.Array | None = None
    counters: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def from_rules(
        rules: list[tuple[str, np.ndarray]],
        n: int,
        stats: dict[str, pa.Array] | None = None,
        *,
        texts: pa.Array | None = None,
        counters: dict[str, int] | None = None,
    ) -> Verdict:
        """Combine rules given in order as (reason code, fails-per-row mask): a row is dropped
        with the code of the first rule it fails."""
        keep, reasons = reasons_from_rules(rules, n)
        return Verdict(keep=keep, reasons=reasons, stats=stats or {}, texts=texts, counters=counters or {})

    def as_result(self, *, annotate: bool) -> MapResult:
        """The map-stage result: with ``annotate``, nothing dropped and the statistics added."""
        if annotate:
            return MapResult(reasons=self.reasons, columns=self.stats, counters=self.counters)
        return MapResult(keep=self.keep, reasons=self.reasons, texts=self.texts, counters=self.counters)


@dataclass(frozen=True)
class Modification:
    """Row-aligned outcome of a modifier: the new texts, per-row counts by kind, extra columns."""

    texts: pa.Array
    counts: dict[str, np.ndarray]
    columns: dict[str, pa.Array] = field(default_factory=dict)

    def as_result(self) -> MapResult:
        changes = {kind: int(np.asarray(per_row).sum()) for kind, per_row in self.counts.items()}
        return MapResult(texts=self.texts, columns=self.columns, changes=changes)


# A field that says how the stage runs rather than what it computes: not an option of the
# generic option loop, and not in the stage's config.
RUN_FIELD = {"run_field": True}


def config_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of a stage's dataclass that are its options."""
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("run_field")]


@dataclass(frozen=True)
class TextStage(MapStage):
    """Base of filters and modifiers. Subclasses are frozen dataclasses; ``name`` is the
    command name (``gopher-quality``), ``reason_prefix`` prefixes reason codes."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    kind: ClassVar[str] = "filter"  # or "modifier"
    extra: ClassVar[str | None] = None  # pip extra needed, if any

    @property
    def reason_prefix(self) -> str:
        return self.name.replace("-", "_")

    @property
    def stage_label(self) -> str:
        return f"{self.kind}_{self.reason_prefix}"

    def config(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in config_fields(type(self))}


@dataclass(frozen=True)
class TextFilter(TextStage):
    annotate: bool = field(default=False, kw_only=True, metadata=RUN_FIELD)

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        raise NotImplementedError

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        return self.evaluate(text_values(batch, context.read.text_column), batch).as_result(annotate=self.annotate)


@dataclass(frozen=True)
class TextModifier(TextStage):
    kind: ClassVar[str] = "modifier"

    def modify(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Modification:
        raise NotImplementedError

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        return self.modify(text_values(batch, context.read.text_column), batch).as_result()


def _jsonable(value: object) -> object:
    if isinstance(value, tuple | list | frozenset | set):
        return [_jsonable(v) for v in value]
    return value
