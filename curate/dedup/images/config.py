"""Configuration and plan of ``curate dedup images``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from curate.dedup.keep import KeepRule, cluster_columns_option, keep_option
from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.options import check_ranges, option
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_images"
ALGORITHM_VERSION = 1
METHODS = ("phash", "dhash", "embedding")
HASH_BITS = 64
# imagededup's default for perceptual hashes: Hamming distance <= 10 of 64 bits.
DEFAULT_HASH_THRESHOLD = 1 - 10 / HASH_BITS
DEFAULT_COSINE_THRESHOLD = 0.9


@dataclass(frozen=True)
class ImageDedupConfig:
    """The options of ``curate dedup images``."""

    read: ReadOptions = field(default_factory=ReadOptions)
    by: str = option("phash", "What makes two images duplicates: a perceptual hash or an embedding.", choices=METHODS)
    column: str = option("", "The column to compare (default: the --by name: phash, dhash, embedding).", auto="")
    threshold: float = option(
        0.0,
        "Duplicates at or above this similarity: for phash/dhash 1 - Hamming distance / 64 (default 0.84375: "
        "distance <= 10, imagededup's default); for embedding the cosine (default 0.9).",
        min=0.0,
        max=1.0,
        min_open=True,
        auto=0.0,
    )
    neighbours: int = option(32, "Embedding: nearest neighbours searched per image.", min=1, max=1024)
    exact_max: int = option(
        200_000,
        "Embedding: exact search (faiss flat inner product) up to this many images; beyond, an IVF index "
        "trained on a sample (approximate: see --nprobe).",
        min=1,
    )
    nprobe: int = option(16, "Embedding with an IVF index: inverted lists searched per query.", min=1)
    keep: KeepRule = keep_option()  # noqa: RUF009 (a field() shared by the dedup configs)
    cluster_columns: bool = cluster_columns_option()

    @property
    def max_distance(self) -> int:
        """The largest Hamming distance at or above ``threshold``."""
        return int((1.0 - self.threshold) * HASH_BITS + 1e-9)

    def resolved(self, notice: Callable[[str], None]) -> ImageDedupConfig:
        threshold = self.threshold or (DEFAULT_COSINE_THRESHOLD if self.by == "embedding" else DEFAULT_HASH_THRESHOLD)
        return replace(self, column=self.column or self.by, threshold=threshold)

    def validate(self) -> None:
        check_ranges(self)
        if self.keep.kind in ("longest", "shortest"):
            raise UsageError(f"--keep {self.keep} ranks texts; for images use first, max:COL or min:COL (max:width)")

    def fingerprint_fields(self) -> dict[str, object]:
        return {
            "read": {"id_column": self.read.id_column},
            "by": self.by,
            "column": self.column,
            "threshold": self.threshold,
            "neighbours": self.neighbours,
            "exact_max": self.exact_max,
            "nprobe": self.nprobe,
            "keep": str(self.keep),
            "cluster_columns": self.cluster_columns,
            "algorithm_version": ALGORITHM_VERSION,
        }


@dataclass(frozen=True)
class ImagePlan(ShardPlan):
    config: ImageDedupConfig

    @property
    def decision_partitions(self) -> int:
        return 1

    @property
    def stage(self) -> str:
        return STAGE_NAME

    @property
    def reason(self) -> str:
        return f"images:duplicate_{self.config.by}"
