"""Configuration and plan of ``curate dedup exact``."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.dedup.keep import KeepRule, cluster_columns_option, keep_option
from curate.io.readers import ReadOptions
from curate.pipelines.options import check_ranges, option
from curate.pipelines.plan import ShardPlan

STAGE_NAME = "dedup_exact"
ALGORITHM_VERSION = 1
LEVELS = ("none", "basic", "aggressive")


@dataclass(frozen=True)
class ExactConfig:
    """The options of ``curate dedup exact``."""

    read: ReadOptions = field(default_factory=ReadOptions)
    on: str = option(
        "text", "What must be identical: 'text' (the text column), 'url' (normalised URLs) or any column name."
    )
    normalize: str = option(
        "basic",
        "none: bytes as they are; basic: NFC, CRLF->LF, trailing whitespace; aggressive: NFKC, case folding, "
        "punctuation and whitespace folded (as minhash).",
        choices=LEVELS,
    )
    keep: KeepRule = keep_option()  # noqa: RUF009 (a field() shared by the dedup configs)
    cluster_columns: bool = cluster_columns_option()
    index: str = option(
        "",
        "Persistent dedup index (a directory): also remove documents identical to a survivor of an earlier run, "
        "then add this run's survivors to it once OUT is published (nightly incremental dedup).",
    )
    # Set by the index session: the index's content this run probes (a resumed run must probe the same).
    index_generation: str = option("", cli=False)

    @property
    def hash_level(self) -> str:
        """The normalisation level the content hash is taken at (URLs are normalised before)."""
        return "none" if self.is_url else self.normalize

    @property
    def column(self) -> str:
        """The column whose value is compared: ``text`` means the text column."""
        return self.read.text_column if self.on == "text" else self.on

    @property
    def is_url(self) -> bool:
        return self.on == "url"

    def validate(self) -> None:
        check_ranges(self)

    def fingerprint_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "read": {"text_column": self.read.text_column, "id_column": self.read.id_column},
            "on": self.on,
            "normalize": self.normalize,
            "keep": str(self.keep),
            "cluster_columns": self.cluster_columns,
            "algorithm_version": ALGORITHM_VERSION,
        }
        if self.index:
            # The index's content (its generation) decides the output, not where it lies; without an
            # index the fields are those of runs made before the option existed.
            fields["index"] = True
            fields["index_generation"] = self.index_generation
        return fields

    def index_fields(self) -> dict[str, object]:
        """What an index must have been built with to be probed by this run (not the keep rule, which
        only decides between tonight's documents)."""
        return {
            "stage": STAGE_NAME,
            "algorithm_version": ALGORITHM_VERSION,
            "on": self.on,
            "column": self.column,
            "normalize": self.hash_level,
            "id_column": self.read.id_column,
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
