"""The frozen configuration of a MinHash dedup run and the plan shared by its tasks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from curate.dedup.keep import KeepRule
from curate.dedup.survivors import check_mode
from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_minhash"
# Bump when a change alters which documents are removed for the same config.
ALGORITHM_VERSION = 1
REASON = "minhash:near_duplicate"


@dataclass(frozen=True)
class MinHashConfig:
    read: ReadOptions = field(default_factory=ReadOptions)
    threshold: float = 0.8
    num_perm: int = 128
    ngram: int = 5
    shingle: str = "word"
    bands: int = 0
    rows: int = 0
    seed: int = 1
    keep: KeepRule = field(default_factory=lambda: KeepRule("first"))
    verify: bool = True
    cluster_columns: bool = False
    survivors: str = "cover"
    # keep-rule mode only: the survivors a member is compared with (cover has no such cap).
    max_leaders: int = 64

    def validate(self) -> None:
        check_mode(self.survivors)
        if not 0.0 < self.threshold < 1.0:
            raise UsageError(f"--threshold must be between 0 and 1 (exclusive), got {self.threshold}")
        if self.num_perm < 1 or self.num_perm > 1024:
            raise UsageError(f"--num-perm must be in 1..1024, got {self.num_perm}")
        if self.ngram < 1:
            raise UsageError(f"--ngram must be at least 1, got {self.ngram}")
        if self.shingle not in ("word", "char"):
            raise UsageError(f"--shingle must be word or char, got {self.shingle!r}")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise UsageError(
                f"--bands × --rows must be at most --num-perm ({self.bands} × {self.rows} > {self.num_perm})"
            )

    def fingerprint_fields(self) -> dict[str, object]:
        """Everything that changes which rows are kept or what the output holds."""
        fields = asdict(self)
        fields["keep"] = str(self.keep)
        fields["read"] = {
            "text_column": self.read.text_column,
            "id_column": self.read.id_column,
            "id_column_explicit": self.read.id_column_explicit,
        }
        fields["algorithm_version"] = ALGORITHM_VERSION
        return fields


@dataclass(frozen=True)
class MinHashPlan(ShardPlan):
    """Everything a task needs, picklable for process pools and Ray."""

    config: MinHashConfig
    band_partitions: int
    cluster_partitions: int

    # What the shared filter phase needs to know (curate.dedup.filtering.FilterPlan).
    @property
    def decision_partitions(self) -> int:
        return self.cluster_partitions

    @property
    def stage(self) -> str:
        return STAGE_NAME

    @property
    def reason(self) -> str:
        return REASON
