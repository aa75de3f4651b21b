"""Configuration and plan of ``curate dedup lines``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.options import check_ranges, option
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_lines"
ALGORITHM_VERSION = 1
TOO_SHORT = "lines:too_short"
# What kept rows are told was removed, by unit (sentences3 windows remove whole sentences).
REMOVED_COLUMNS = {"line": "lines_removed", "paragraph": "paragraphs_removed", "sentences3": "sentences_removed"}


@dataclass(frozen=True)
class SketchShape:
    """A count-min sketch of ``depth`` rows of ``width`` counters (Cormode & Muthukrishnan 2005):
    an estimate exceeds the true count by more than ``epsilon * total`` with probability at
    most ``delta``, where epsilon = e / width and delta = exp(-depth)."""

    width: int
    depth: int

    @property
    def epsilon(self) -> float:
        return math.e / self.width

    @property
    def delta(self) -> float:
        return math.exp(-self.depth)

    @property
    def bytes(self) -> int:
        return self.width * self.depth * 4


@dataclass(frozen=True)
class LinesConfig:
    """The options of ``curate dedup lines``."""

    read: ReadOptions = field(default_factory=ReadOptions)
    min_count: int = option(
        3, "Remove every occurrence of a line (paragraph) seen at least this many times in the dataset.", min=2
    )
    unit: str = option(
        "line",
        "What repeats: lines, paragraphs, or (C4) spans of three sentences, removed sentence by sentence.",
        choices=tuple(REMOVED_COLUMNS),
    )
    keep_first: bool = option(False, "Keep each frequent line's first occurrence (input order).", flag=True)
    min_words: int = option(
        1, "A document left with fewer words after removal goes to OUT.curate/rejects (lines:too_short).", min=0
    )
    approx: bool = option(False, "Count with a count-min sketch (bounded memory, may overcount).", flag=True)
    sketch_width: int = option(1 << 22, "Counters per sketch row (power of 2).")
    sketch_depth: int = option(4, "Sketch rows.", min=1, max=16)

    @property
    def sketch(self) -> SketchShape:
        return SketchShape(width=self.sketch_width, depth=self.sketch_depth)

    def validate(self) -> None:
        check_ranges(self)
        if self.approx and self.keep_first:
            raise UsageError("--keep-first needs exact counts (where each line first occurs); drop --approx")
        if self.sketch.width < 1024 or self.sketch.width & (self.sketch.width - 1):
            raise UsageError(f"--sketch-width must be a power of two >= 1024, got {self.sketch.width}")

    def fingerprint_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "read": {"text_column": self.read.text_column, "id_column": self.read.id_column},
            "unit": self.unit,
            "min_count": self.min_count,
            "keep_first": self.keep_first,
            "min_words": self.min_words,
            "approx": self.approx,
            "algorithm_version": ALGORITHM_VERSION,
        }
        if self.approx:
            fields["sketch"] = {"width": self.sketch.width, "depth": self.sketch.depth}
        return fields


@dataclass(frozen=True)
class LinesPlan(ShardPlan):
    config: LinesConfig
    partitions: int

    @property
    def removed_column(self) -> str:
        return REMOVED_COLUMNS[self.config.unit]
