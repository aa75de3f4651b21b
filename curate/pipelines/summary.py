"""What every stage reports: the manifest body built from its last (writing) phase, and quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class StageSummary:
    manifest: dict[str, Any]
    reused: bool

    @property
    def quarantined(self) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.manifest.get("quarantined", [])
        return found


def output_body(output: Path, filter_stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Shards (names relative to OUT), rejects (relative to ``OUT.curate``), row counts
    (checked: in = kept + rejected) and the output schema."""
    shards: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for stats in filter_stats.values():
        shards.extend(stats["shards"])
        rejects.extend(stats["rejects"])
    rows_in = sum(s["rows_in"] for s in filter_stats.values())
    kept = sum(s["kept"] for s in filter_stats.values())
    removed = sum(s["removed"] for s in filter_stats.values())
    if rows_in != kept + removed:
        raise AssertionError(f"rows in {rows_in} != kept {kept} + removed {removed}")
    schema = pq.read_schema(output / shards[0]["name"]) if shards else None
    return {
        "shards": shards,
        "rejects": rejects,
        "rows_in": rows_in,
        "rows_kept": kept,
        "rows_removed": removed,
        "schema": schema_json(schema),
    }


def schema_json(schema: pa.Schema | None) -> list[dict[str, str]]:
    if schema is None:
        return []
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def quarantine_list(paths: dict[int, str], quarantined: dict[int, str]) -> list[dict[str, str]]:
    return [{"path": paths[i], "error": message} for i, message in sorted(quarantined.items())]
