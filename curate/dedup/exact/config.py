"""Configuration and plan of ``curate dedup exact``."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.dedup.keep import KeepRule
from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_exact"
ALGORITHM_VERSION = 1
LEVELS = ("none", "basic", "aggressive")


@dataclass(frozen=True)
class ExactConfig:
    read: ReadOptions = field(default_factory=ReadOptions)
    on: str = "text"
    normalize: str = "basic"
    keep: KeepRule = field(default_factory=lambda: KeepRule("first"))
    cluster_columns: bool = False

    @property
    def column(self) -> str:
        """The column whose value is compared: ``text`` means the text column."""
        return self.read.text_column if self.on == "text" else self.on

    @property
    def is_url(self) -> bool:
        return self.on == "url"

    def validate(self) -> None:
        if self.normalize not in LEVELS:
            raise UsageError(f"--normalize must be one of {', '.join(LEVELS)}, got {self.normalize!r}")

    def fingerprint_fields(self) -> dict[str, object]:
        return {
            "read": {"text_column": self.read.text_column, "id_column": self.read.id_column},
            "on": self.on,
            "normalize": self.normalize,
            "keep": str(self.keep),
            "cluster_columns": self.cluster_columns,
            "algorithm_version": ALGORITHM_VERSION,
        }


@dataclass(frozen=True)
class ExactPlan(ShardPlan):
    config: ExactConfig
    partitions: int

    @property
    def decision_partitions(self) -> int:
        return self.partitions

    @property
    def stage(self) -> str:
        return STAGE_NAME

    @property
    def reason(self) -> str:
        return f"exact:duplicate_{self.config.on}"
