"""The frozen configuration of a MinHash dedup run and the plan shared by its tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from curate.dedup.keep import KeepRule, cluster_columns_option, keep_option
from curate.dedup.survivors import SURVIVOR_MODES, TextSimilarity
from curate.errors import UsageError
from curate.io.readers import ReadOptions
from curate.pipelines.options import check_ranges, option
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_minhash"
# Bump when a change alters which documents are removed for the same config.
ALGORITHM_VERSION = 1
REASON = "minhash:near_duplicate"


@dataclass(frozen=True)
class MinHashConfig:
    """The options of ``curate dedup minhash`` (their order is the order of ``--help``)."""

    read: ReadOptions = field(default_factory=ReadOptions)
    threshold: float = option(
        0.8,
        "Jaccard similarity at or above which documents are duplicates.",
        min=0,
        max=1,
        min_open=True,
        max_open=True,
    )
    num_perm: int = option(128, "MinHash permutations.", min=1, max=1024)
    ngram: int = option(5, "Shingle size (words or chars).", min=1)
    shingle: str = option("word", "Shingle unit.", choices=("word", "char"))
    bands: int = option(0, "LSH bands (default: chosen from --threshold).", min=1, auto=0)
    rows: int = option(0, "Rows per band (default: chosen from --threshold).", min=1, auto=0)
    seed: int = option(1, "Seed of the MinHash permutations.")
    keep: KeepRule = keep_option()  # noqa: RUF009 (a field() shared by the dedup configs)
    cluster_columns: bool = cluster_columns_option()
    survivors: str = option(
        "cover",
        "cover: keep as few documents as a greedy cover of each cluster's similarity graph finds "
        "(--keep only breaks ties in coverage, so the survivor is the cluster's centre); keep-rule: the member "
        "--keep ranks best always survives and the others join the first survivor they match (keeps more "
        "documents; prefer it when ranking by e.g. --keep max:quality_score matters more than count).",
        choices=SURVIVOR_MODES,
    )
    verify: bool = option(True, "Check each member's exact Jaccard against its cluster's survivor before removing it.")
    # keep-rule mode only: the survivors a member is compared with (cover has no such cap).
    max_leaders: int = option(64, cli=False)
    index: str = option(
        "",
        "Persistent dedup index (a directory): also remove documents near-duplicate of a survivor of an earlier "
        "run, then add this run's survivors to it once OUT is published (nightly incremental dedup).",
    )
    # Set by the index session: the index's content this run probes (a resumed run must probe the same).
    index_generation: str = option("", cli=False)

    def resolved(self, notice: Callable[[str], None]) -> MinHashConfig:
        """With --bands and --rows chosen from --threshold when neither was given."""
        if (self.bands == 0) != (self.rows == 0):
            raise UsageError("give both --bands and --rows, or neither (then they are chosen from --threshold)")
        if self.bands:
            return self
        from curate.dedup.lsh_params import UNVERIFIED_WEIGHTS, VERIFIED_WEIGHTS, optimal_bands

        weights = VERIFIED_WEIGHTS if self.verify else UNVERIFIED_WEIGHTS
        choice = optimal_bands(self.threshold, self.num_perm, *weights)
        notice(
            f"curate: LSH {choice.bands} bands x {choice.rows} rows for threshold {self.threshold} "
            f"(P(candidate | J={self.threshold}) = {choice.candidate_probability(self.threshold):.3f})"
        )
        return replace(self, bands=choice.bands, rows=choice.rows)

    def validate(self) -> None:
        check_ranges(self)
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
        if not self.index:
            # Without an index, the identity of runs made before the option existed.
            fields.pop("index")
            fields.pop("index_generation")
        else:
            # The index's content (its generation) decides the output, not where it lies.
            fields["index"] = True
        return fields

    def similarity(self) -> TextSimilarity:
        """What makes two texts duplicates under this configuration (verification, survivors)."""
        return TextSimilarity(
            threshold=self.threshold,
            kind=self.shingle,  # type: ignore[arg-type]
            ngram=self.ngram,
            num_perm=self.num_perm,
            seed=self.seed,
            bands=self.bands,
            rows=self.rows,
        )

    def signatures(self, texts: Any) -> Any:
        """MinHash signatures and band hashes of ``texts`` with this configuration: the one call a
        run's signature phase and the nightly index both make, so that they hash alike."""
        from curate import kernel

        return kernel.minhash_batch(texts, **self.similarity().hashing())

    def index_fields(self) -> dict[str, object]:
        """What an index must have been built with to be probed by this run (not the keep rule or the
        survivor mode, which only decide between tonight's documents)."""
        return {
            "stage": STAGE_NAME,
            "algorithm_version": ALGORITHM_VERSION,
            "threshold": self.threshold,
            "num_perm": self.num_perm,
            "ngram": self.ngram,
            "shingle": self.shingle,
            "bands": self.bands,
            "rows": self.rows,
            "seed": self.seed,
            "verify": self.verify,
            "text_column": self.read.text_column,
            "id_column": self.read.id_column,
        }


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
