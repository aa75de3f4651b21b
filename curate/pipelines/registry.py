"""Every stage curate can run, by command path (``filter c4``, ``dedup minhash``).

An entry holds the frozen config dataclass whose fields are the stage's options and how
to build the stage from their values. From it come the CLI command (``curate GROUP NAME``),
the ``curate run`` stage of the same name with the same keys, defaults, types and ranges,
and the listing of ``curate stages``. Filters and modifiers register themselves
(``curate.filters.registry``); the dedup stages are listed here. Nothing heavy is imported
until an entry is used.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curate.pipelines.options import field_default, field_values, option_fields

Notice = Callable[[str], None]


@dataclass(frozen=True)
class StageEntry:
    group: str
    name: str
    kind: str  # "map" or "global"
    config_cls: type
    build: Callable[[dict[str, Any], Any, Notice], Any]  # (field values, ReadOptions, notice) -> stage
    summary: str
    help: str
    # Options the command has besides the config's fields (a filter's --annotate).
    annotate: bool = False

    @property
    def path(self) -> str:
        return f"{self.group} {self.name}"

    def build_stage(self, params: dict[str, Any], read: Any, notice: Notice) -> Any:
        """The stage from parsed option values (``params`` loses the options it used)."""
        values = field_values(self.config_cls, params)
        if self.annotate:
            values["annotate"] = bool(params.pop("annotate", False))
        return self.build(values, read, notice)

    def option_names(self) -> list[str]:
        names = [f.name for f in option_fields(self.config_cls)]
        return [*names, "annotate"] if self.annotate else names

    def describe(self) -> list[tuple[str, str, str]]:
        """(option, default, help) of every option, for ``curate stages``."""
        rows = []
        for item in option_fields(self.config_cls):
            default = field_default(item)
            automatic = item.metadata.get("auto", dataclasses.MISSING) is not dataclasses.MISSING
            shown = "auto" if automatic else default
            rows.append((item.name.replace("_", "-"), _show(shown), item.metadata.get("help", "")))
        if self.annotate:
            rows.append(("annotate", "False", "Drop nothing; add the measured statistics as columns."))
        return rows


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _minhash(values: dict[str, Any], read: Any, notice: Notice) -> Any:
    from curate.dedup.minhash.config import MinHashConfig
    from curate.dedup.minhash.stage import MinHashStage

    config = MinHashConfig(read=read, **values).resolved(notice)
    config.validate()
    return MinHashStage(config)


def _exact(values: dict[str, Any], read: Any, notice: Notice) -> Any:
    from curate.dedup.exact.config import ExactConfig
    from curate.dedup.exact.stage import ExactStage

    config = ExactConfig(read=read, **values)
    config.validate()
    return ExactStage(config)


def _lines(values: dict[str, Any], read: Any, notice: Notice) -> Any:
    from curate.dedup.lines.config import LinesConfig
    from curate.dedup.lines.stage import LinesStage

    config = LinesConfig(read=read, **values)
    config.validate()
    if config.approx:
        shape = config.sketch
        notice(
            f"curate: count-min sketch {shape.depth} x {shape.width} ({shape.bytes / 2**20:.2f} MiB): counts exceed "
            f"the truth by more than {shape.epsilon:.2e} x (lines in the dataset) with probability <= {shape.delta:.3f}"
        )
    return LinesStage(config)


MINHASH_HELP = """MinHash-LSH near-duplicate removal: IN (shard directory, glob or file) to OUT.

    Kept rows go to OUT/part-*.parquet unchanged; removed rows go to
    OUT.curate/rejects/part-*.parquet with dup_of (the id of the kept survivor), similarity,
    _stage and _reason. Prints a one-line summary (or JSON with --json).
    """

EXACT_HELP = """Exact duplicate removal by a 128-bit hash (xxh3-128) of the normalised text, URL or column.

    Same output contract as minhash: kept rows in OUT/part-*.parquet, removed rows in
    OUT.curate/rejects/ with dup_of (the kept survivor's id) and _reason exact:duplicate_<on>.
    """

LINES_HELP = """Remove lines (or paragraphs) repeated across the dataset: navigation, banners, footers.

    Counts every normalised line over all shards (exactly, through hash partitions, or with
    --approx in a count-min sketch), removes those seen --min-count times or more from each
    text, and adds <unit>s_removed / chars_removed columns. Documents left too short go to
    OUT.curate/rejects/ unchanged with _reason lines:too_short.
    """

# name -> (config class as module:attribute, builder, summary, command help)
DEDUP_STAGES = {
    "minhash": (
        "curate.dedup.minhash.config:MinHashConfig",
        _minhash,
        "MinHash-LSH near-duplicate removal.",
        MINHASH_HELP,
    ),
    "exact": (
        "curate.dedup.exact.config:ExactConfig",
        _exact,
        "Exact duplicate removal by a 128-bit hash of the normalised text, URL or column.",
        EXACT_HELP,
    ),
    "lines": (
        "curate.dedup.lines.config:LinesConfig",
        _lines,
        "Remove lines (or paragraphs) repeated across the dataset.",
        LINES_HELP,
    ),
}


def _images(values: dict[str, Any], read: Any, notice: Notice) -> Any:
    from curate.dedup.images.config import ImageDedupConfig
    from curate.dedup.images.stage import ImageDedupStage

    config = ImageDedupConfig(read=read, **values).resolved(notice)
    config.validate()
    return ImageDedupStage(config)


IMAGES_HELP = """Near-duplicate images: Hamming distance of perceptual hashes or cosine of embeddings.

    --by phash / dhash reads the uint64 column of `curate hash images`; --by embedding the
    fixed-size float32 list of `curate embed images`. Pairs at or above --threshold are
    joined into connected components; one survivor per component (--keep); the others go to
    OUT.curate/rejects/ with dup_of, similarity (to the survivor), dup_cluster and _reason
    images:duplicate_<by>.
    """

DEDUP_STAGES["images"] = (
    "curate.dedup.images.config:ImageDedupConfig",
    _images,
    "Near-duplicate images by perceptual hash (Hamming) or embedding (cosine kNN).",
    IMAGES_HELP,
)


def _semantic(values: dict[str, Any], read: Any, notice: Notice) -> Any:
    from curate.dedup.semantic.config import SemanticDedupConfig
    from curate.dedup.semantic.stage import SemanticDedupStage

    config = SemanticDedupConfig(read=read, **values).resolved(notice)
    config.validate()
    return SemanticDedupStage(config)


SEMANTIC_HELP = """Semantic near-duplicates (SemDeDup, Abbas et al. 2023) of an embedding column.

    Reads the fixed-size float list of `curate embed text` (or any embedding). Spherical
    k-means (faiss, seeded) groups the embeddings; within each cluster, pairs with cosine
    >= 1 - --eps are joined into connected components; one survivor per component: by default
    the member farthest from its centroid, as the paper keeps (--keep farthest), or first,
    max:COL, min:COL. The others go to OUT.curate/rejects/ with dup_of, similarity (to the
    survivor), dup_cluster and _reason semantic:duplicate.
    """

DEDUP_STAGES["semantic"] = (
    "curate.dedup.semantic.config:SemanticDedupConfig",
    _semantic,
    "Semantic near-duplicates (SemDeDup): k-means, then cosine >= 1 - eps within each cluster.",
    SEMANTIC_HELP,
)

# Map stages outside ``filter``: (group, name) -> stage class as module:attribute.
MAP_STAGES = {
    ("hash", "images"): "curate.images.hashing:HashImages",
    ("embed", "images"): "curate.images.embedding:EmbedImages",
    ("embed", "text"): "curate.semantic.embed:EmbedText",
}
MAP_GROUPS = ("hash", "embed")


def map_entry(group: str, name: str) -> StageEntry:
    cls = _load(MAP_STAGES[(group, name)])

    def build(values: dict[str, Any], read: Any, notice: Notice) -> Any:
        return cls(**values)

    doc = (cls.__doc__ or cls.summary).strip()
    return StageEntry(group, name, "map", cls, build, cls.summary, doc)


# Source stages, by name: what `curate ingest NAME` runs (config class = stage class).
INGEST_STAGES = {"warc": "curate.ingest.stage:IngestWarc"}


def ingest_entry(name: str) -> StageEntry:
    cls = _load(INGEST_STAGES[name])

    def build(values: dict[str, Any], read: Any, notice: Notice) -> Any:
        return cls(**values)

    return StageEntry("ingest", name, "map", cls, build, cls.summary, (cls.__doc__ or cls.summary).strip())


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def dedup_entry(name: str) -> StageEntry:
    target, build, summary, help_text = DEDUP_STAGES[name]
    return StageEntry("dedup", name, "global", _load(target), build, summary, help_text)


def filter_entry(cls: type) -> StageEntry:
    from curate.filters.base import TextFilter

    def build(values: dict[str, Any], read: Any, notice: Notice) -> Any:
        stage = cls(**values)
        # A filter whose options need the whole dataset (filter quality --top-percent) is
        # replaced by the global stage that makes its cut.
        replacement = getattr(stage, "global_stage", None)
        return (replacement(read) if replacement is not None else None) or stage

    doc = (cls.__doc__ or cls.summary).strip()
    annotate = issubclass(cls, TextFilter)
    return StageEntry("filter", cls.name, "map", cls, build, cls.summary, doc, annotate=annotate)  # type: ignore[attr-defined]


# The map stages of ``curate classify`` (its training commands are not stages): name -> class.
CLASSIFY_STAGES = {"score": "curate.classify.stages:ClassifyScore"}


def classify_entry(name: str) -> StageEntry:
    cls = _load(CLASSIFY_STAGES[name])

    def build(values: dict[str, Any], read: Any, notice: Notice) -> Any:
        return cls(**values)

    return StageEntry("classify", name, "map", cls, build, cls.summary, (cls.__doc__ or cls.summary).strip())


def group_names(group: str) -> list[str]:
    if group == "dedup":
        return list(DEDUP_STAGES)
    if group in MAP_GROUPS:
        return [name for g, name in MAP_STAGES if g == group]
    if group == "ingest":
        return list(INGEST_STAGES)
    if group == "classify":
        return list(CLASSIFY_STAGES)
    from curate.filters.registry import load_all

    return list(load_all())


def entry(group: str, name: str) -> StageEntry | None:
    if group == "dedup":
        return dedup_entry(name) if name in DEDUP_STAGES else None
    if group in MAP_GROUPS:
        return map_entry(group, name) if (group, name) in MAP_STAGES else None
    if group == "ingest":
        return ingest_entry(name) if name in INGEST_STAGES else None
    if group == "classify":
        return classify_entry(name) if name in CLASSIFY_STAGES else None
    if group == "filter":
        from curate.filters.registry import load_all

        stages = load_all()
        return filter_entry(stages[name]) if name in stages else None
    return None


def all_entries() -> dict[str, StageEntry]:
    """Every stage by path: dedup, hash, embed, filters, classify, then sources (each group sorted as
    its command lists it)."""
    found: dict[str, StageEntry] = {}
    for group in ("dedup", *MAP_GROUPS, "filter", "classify", "ingest"):
        for name in group_names(group):
            item = entry(group, name)
            if item is not None:
                found[item.path] = item
    return found
