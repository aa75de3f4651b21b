"""Configuration and plan of ``curate dedup lines``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from curate.errors import UsageError
from curate.io.readers import ReadOptions
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
    read: ReadOptions = field(default_factory=ReadOptions)
    unit: str = "line"
    min_count: int = 3
    keep_first: bool = False
    min_words: int = 1
    approx: bool = False
    sketch: SketchShape = field(default_factory=lambda: SketchShape(width=1 << 22, depth=4))

    def validate(self) -> None:
        if self.unit not in REMOVED_COLUMNS:
            raise UsageError(f"--unit must be one of {', '.join(REMOVED_COLUMNS)}, got {self.unit!r}")
        if self.min_count < 2:
            raise UsageError(f"--min-count must be at least 2, got {self.min_count}")
        if self.min_words < 0:
            raise UsageError(f"--min-words must be at least 0, got {self.min_words}")
        if self.approx and self.keep_first:
            raise UsageError("--keep-first needs exact counts (where each line first occurs); drop --approx")
        if self.sketch.width < 1024 or self.sketch.width & (self.sketch.width - 1):
            raise UsageError(f"--sketch-width must be a power of two >= 1024, got {self.sketch.width}")
        if not 1 <= self.sketch.depth <= 16:
            raise UsageError(f"--sketch-depth must be in 1..16, got {self.sketch.depth}")

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
