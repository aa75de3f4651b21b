"""What the report shows, read from the manifests and shards of each output of a chain."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.io.columns import column_values, has_column
from curate.io.layout import listed_path

SAMPLES_PER_REASON = 3
EXCERPT_CHARS = 240
# A statistic histogram reads at most this many values (the first shards' rows).
MAX_STAT_VALUES = 200_000
_WORD = re.compile(r"[a-z]+")
_NOT_TOPICAL = {"min", "max", "ratio", "fraction", "count", "lines", "line"}


@dataclass
class Removed:
    id: str
    excerpt: str
    dup_of: str | None = None
    dup_excerpt: str | None = None
    similarity: float | None = None


@dataclass
class Statistic:
    column: str
    values: np.ndarray
    thresholds: list[tuple[str, float]]


@dataclass
class StageView:
    output: Path
    stage: str
    rows_in: int
    rows_kept: int
    rows_removed: int
    dropped: dict[str, int]
    flagged: dict[str, int]
    cluster_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    similarities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    statistics: list[Statistic] = field(default_factory=list)
    samples: dict[str, list[Removed]] = field(default_factory=dict)


def _excerpt(text: object) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "…"


def _read(output: Path, manifest: dict[str, Any], kind: str) -> pa.Table | None:
    """Every file the manifest lists under ``kind`` (``shards`` or ``rejects``), as one table."""
    tables = [pq.read_table(listed_path(output, manifest, entry, kind)) for entry in manifest.get(kind, [])]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _reason_counts(counters: dict[str, Any], prefix: str) -> dict[str, int]:
    return {key.split(":", 1)[1]: int(value) for key, value in counters.items() if key.startswith(prefix)}


def _tokens(name: str) -> set[str]:
    return {word for word in _WORD.findall(name.lower()) if word not in _NOT_TOPICAL}


def _matches(column_word: str, config_words: set[str]) -> bool:
    return any(word.startswith(column_word) or column_word.startswith(word) for word in config_words)


def thresholds_for(column: str, config: dict[str, Any]) -> list[tuple[str, float]]:
    """The numeric options of the stage that bound this statistic: every topical word of the
    column (``line_punct_ratio``: punct) is a word, or a prefix of one, of the option
    (``min_punctuated_lines_fraction``) and the other way round (so ``word_count`` takes
    ``min_words`` but not ``min_alpha_words``), and the option is a min_ or max_ bound."""
    words = _tokens(column.split("_", 1)[1] if "_" in column else column)
    found = []
    for key, value in config.items():
        if not key.startswith(("min_", "max_")) or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        option_words = _tokens(key)
        if (
            words
            and all(_matches(word, option_words) for word in words)
            and all(_matches(word, words) for word in option_words)
        ):
            found.append((key, float(value)))
    return found


def _stage_config(manifest: dict[str, Any]) -> dict[str, Any]:
    config = manifest.get("config", {})
    inner = config.get("config") if isinstance(config.get("config"), dict) else config
    return inner if isinstance(inner, dict) else {}


def stage_view(output: Path, manifest: dict[str, Any], input_columns: set[str] | None) -> StageView:
    counters = manifest.get("counters", {})
    dropped = _reason_counts(counters, "dropped:") or _reason_counts(counters, "removed:")
    view = StageView(
        output=output,
        stage=str(manifest.get("stage")),
        rows_in=int(manifest.get("rows_in", 0)),
        rows_kept=int(manifest.get("rows_kept", 0)),
        rows_removed=int(manifest.get("rows_removed", 0)),
        dropped=dropped,
        flagged=_reason_counts(counters, "flagged:"),
    )
    rejects = _read(output, manifest, "rejects")
    if rejects is not None and rejects.num_rows:
        _dedup_histograms(view, rejects)
        _samples(view, output, manifest, rejects)
    _statistics(view, output, manifest, input_columns)
    return view


def _dedup_histograms(view: StageView, rejects: pa.Table) -> None:
    if "similarity" in rejects.column_names:
        values = rejects.column("similarity").drop_null().to_numpy()
        view.similarities = np.asarray(values, dtype=np.float64)
    if "dup_cluster" in rejects.column_names:
        # A cluster is its removed members plus its survivor(s): the recorded size if any.
        if "dup_cluster_size" in rejects.column_names:
            sizes = rejects.group_by("dup_cluster").aggregate([("dup_cluster_size", "max")])
            view.cluster_sizes = np.asarray(sizes.column("dup_cluster_size_max").to_numpy(), dtype=np.int64)
        else:
            counts = rejects.group_by("dup_cluster").aggregate([("dup_cluster", "count")])
            view.cluster_sizes = np.asarray(counts.column("dup_cluster_count").to_numpy(), dtype=np.int64) + 1


def _samples(view: StageView, output: Path, manifest: dict[str, Any], rejects: pa.Table) -> None:
    config = manifest.get("config", {})
    read = config.get("read") if isinstance(config.get("read"), dict) else config
    text_column = read.get("text_column") or "text"
    if not has_column(rejects.schema, text_column):
        text_column = "text"
    id_column = "id"
    picked: dict[str, list[dict[str, Any]]] = {}
    for reason in sorted(set(rejects.column("_reason").drop_null().to_pylist())):
        rows = rejects.filter(pc.equal(rejects.column("_reason"), reason)).slice(0, SAMPLES_PER_REASON)
        present = has_column(rows.schema, text_column)
        texts = column_values(rows, text_column).to_pylist() if present else [None] * rows.num_rows
        # The text under one key, wherever the column lives (metadata.text is a struct field).
        picked[reason] = [{**row, "_text": text} for row, text in zip(rows.to_pylist(), texts, strict=True)]
    wanted = {row.get("dup_of") for rows in picked.values() for row in rows if row.get("dup_of") is not None}
    survivors: dict[str, str] = {}
    if wanted:
        kept = _read(output, manifest, "shards")
        if kept is not None and has_column(kept.schema, id_column) and has_column(kept.schema, text_column):
            ids = pc.cast(column_values(kept, id_column), pa.string())
            hits = kept.filter(pc.is_in(ids, pa.array(sorted(wanted), pa.string())))
            survivors = dict(
                zip(
                    pc.cast(column_values(hits, id_column), pa.string()).to_pylist(),
                    column_values(hits, text_column).to_pylist(),
                    strict=True,
                )
            )
    for reason, rows in picked.items():
        view.samples[reason] = [
            Removed(
                id=str(row.get(id_column)),
                excerpt=_excerpt(row.get("_text")),
                dup_of=row.get("dup_of"),
                dup_excerpt=_excerpt(survivors[row["dup_of"]]) if row.get("dup_of") in survivors else None,
                similarity=row.get("similarity"),
            )
            for row in rows
        ]


def _statistics(view: StageView, output: Path, manifest: dict[str, Any], input_columns: set[str] | None) -> None:
    """Histograms of the numeric columns the stage added (an annotating filter's statistics)."""
    schema = [entry["name"] for entry in manifest.get("schema", [])]
    stage_prefix = str(manifest.get("config", {}).get("stage", "")).replace("-", "_") + "_"
    added = [
        name
        for name in schema
        if (input_columns is not None and name not in input_columns)
        or (input_columns is None and name.startswith(stage_prefix))
    ]
    if not added or not manifest.get("shards"):
        return
    config = _stage_config(manifest)
    values: dict[str, list[np.ndarray]] = {name: [] for name in added}
    read = 0
    for entry in manifest["shards"]:
        table = pq.read_table(listed_path(output, manifest, entry, "shards"), columns=added)
        for name in added:
            column = table.column(name)
            if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                values[name].append(np.asarray(column.drop_null().to_numpy(), dtype=np.float64))
        read += table.num_rows
        if read >= MAX_STAT_VALUES:
            break
    for name in added:
        if values[name]:
            view.statistics.append(Statistic(name, np.concatenate(values[name]), thresholds_for(name, config)))
