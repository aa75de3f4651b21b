"""Configuration and plan of ``curate dedup semantic`` (SemDeDup, Abbas et al. 2023)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from curate.dedup.images.config import ImageDedupConfig, ImagePlan
from curate.dedup.keep import KeepRule, cluster_columns_option
from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.options import check_ranges, option
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_semantic"
REASON = "semantic:duplicate"
ALGORITHM_VERSION = 1
# The paper's rule: in each group of duplicates, keep the member least similar to its k-means
# centroid (the least prototypical one).
FARTHEST = "farthest"
# Auto cluster count: one k-means cluster per this many embeddings (the paper's clusters hold
# thousands: 50,000 clusters for LAION-440M, 11,000 for C4).
ROWS_PER_CLUSTER = 10_000


def parse_keep(text: str) -> KeepRule:
    """``farthest`` (the paper's rule) or any rule of the other dedup commands but the text
    lengths (``first``, ``max:COL``, ``min:COL``)."""
    return KeepRule(FARTHEST) if text == FARTHEST else KeepRule.parse(text)


@dataclass(frozen=True)
class SemanticDedupConfig:
    """The options of ``curate dedup semantic``."""

    read: ReadOptions = field(default_factory=ReadOptions)
    column: str = option("embedding", "The embedding column (fixed-size list of floats: `curate embed text`).")
    eps: float = option(
        0.05,
        "Duplicates: cosine >= 1 - EPS within a k-means cluster (the paper's epsilon).",
        min=0.0,
        max=1.0,
        max_open=True,
    )
    clusters: int = option(
        0,
        f"k-means clusters (0: one per {ROWS_PER_CLUSTER:,} embeddings, at least 1).",
        min=0,
        auto=0,
    )
    iterations: int = option(20, "k-means iterations (faiss, seeded: the same input gives the same clusters).", min=1)
    keep: KeepRule = option(  # noqa: RUF009 (option() is the field definition, as in the other configs)
        default_factory=lambda: KeepRule(FARTHEST),
        help="Survivor of each group of duplicates: farthest (from its k-means centroid, the paper's rule), "
        "first, max:COL or min:COL (ties broken by id).",
        parse=parse_keep,
    )
    cluster_columns: bool = cluster_columns_option()

    @property
    def threshold(self) -> float:
        return 1.0 - self.eps

    def cluster_count(self, rows: int) -> int:
        wanted = self.clusters or math.ceil(rows / ROWS_PER_CLUSTER)
        return max(1, min(wanted, rows))

    def resolved(self, notice: Callable[[str], None]) -> SemanticDedupConfig:
        return self

    def validate(self) -> None:
        check_ranges(self)
        if self.keep.kind in ("longest", "shortest"):
            raise UsageError(f"--keep {self.keep}: dedup semantic keeps farthest, first, max:COL or min:COL")

    def collect_config(self) -> ImageDedupConfig:
        """What the shared collect phase of ``dedup images --by embedding`` reads: the
        embedding and the --keep column (none for farthest: computed when resolving)."""
        keep = KeepRule("first") if self.keep.kind == FARTHEST else self.keep
        return ImageDedupConfig(read=self.read, by="embedding", column=self.column, keep=keep, threshold=self.threshold)

    def fingerprint_fields(self) -> dict[str, object]:
        return {
            "read": {"id_column": self.read.id_column},
            "column": self.column,
            "eps": self.eps,
            "clusters": self.clusters,
            "iterations": self.iterations,
            "keep": str(self.keep),
            "cluster_columns": self.cluster_columns,
            "algorithm_version": ALGORITHM_VERSION,
        }


@dataclass(frozen=True)
class SemanticPlan(ShardPlan):
    config: SemanticDedupConfig

    @property
    def decision_partitions(self) -> int:
        return 1

    @property
    def stage(self) -> str:
        return STAGE_NAME

    @property
    def reason(self) -> str:
        return REASON

    def image_plan(self) -> ImagePlan:
        """The same shards and workspace seen by the collect phase of ``dedup images``."""
        base = {f.name: getattr(self, f.name) for f in fields(ShardPlan)}
        return ImagePlan(**base, config=self.config.collect_config())
