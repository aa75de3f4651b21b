"""What every task of a stage shares, and how a stage sizes its hash partitions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pyarrow as pa

from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.io.schema import SchemaCache, check_input_schemas
from curate.pipelines.workspace import Workspace

PlanT = TypeVar("PlanT", bound="ShardPlan")

PARTITION_TARGET_BYTES = 256 << 20
MAX_PARTITIONS = 4096
ASSUMED_DOC_BYTES = 3000
SCHEMA_DIR = "schemas"


@dataclass(frozen=True)
class ShardPlan:
    """The run's workspace, its input shards and which of them are still in play
    (quarantined ones drop out), the one schema of every output shard and the types each
    JSONL shard is read with. Picklable: process pools and Ray get a copy per task."""

    workspace: Workspace
    shards: tuple[InputShard, ...]
    output_schema: pa.Schema | None
    read_schemas: Mapping[int, pa.Schema]
    skip_bad_shards: bool
    active: frozenset[int]

    def read_schema(self, shard_index: int) -> pa.Schema | None:
        """The types JSONL shard ``shard_index`` is parsed with, from the schema pass (None
        for Parquet, whose own types are cast to ``output_schema`` on write)."""
        return self.read_schemas.get(shard_index)

    @property
    def active_shards(self) -> list[InputShard]:
        return [s for s in self.shards if s.index in self.active]

    def without(self: PlanT, quarantined: Iterable[int]) -> PlanT:
        return replace(self, active=self.active - frozenset(quarantined))

    def shard_tasks(self: PlanT) -> list[tuple[str, tuple[PlanT, int]]]:
        return [(f"s{s.index:05d}", (self, s.index)) for s in self.active_shards]

    def partition_tasks(self: PlanT, count: int, prefix: str = "q") -> list[tuple[str, tuple[PlanT, int]]]:
        return [(f"{prefix}{p:04d}", (self, p)) for p in range(count)]


def partitions_for(total_input_bytes: int, bytes_per_doc: int) -> int:
    """Hash partitions of ~256 MiB of intermediate rows, estimated from the input size
    alone (never from the worker count), so that a resumed run finds the same layout."""
    estimated_docs = max(1, total_input_bytes // ASSUMED_DOC_BYTES)
    return max(2, min(MAX_PARTITIONS, math.ceil(estimated_docs * bytes_per_doc / PARTITION_TARGET_BYTES)))


@dataclass(frozen=True)
class InputSchemas:
    """What the schema pass found: the inputs' unified schema (None when no shard has
    rows) and the read schema of each JSONL shard."""

    unified: pa.Schema | None
    read_schemas: Mapping[int, pa.Schema]


def inspect_inputs(
    shards: list[InputShard], read: ReadOptions, skip_bad: bool, workspace: Workspace | None = None
) -> tuple[InputSchemas, dict[int, str]]:
    """The inputs' schemas (every Parquet footer and every JSONL file, before any write;
    JSONL passes kept in ``workspace`` for a resumed run) and the shards already
    quarantined because they could not be read."""
    cache = SchemaCache(workspace.directory(SCHEMA_DIR)) if workspace is not None else None
    report = check_input_schemas(shards, read, skip_bad=skip_bad, cache=cache)
    return InputSchemas(report.unified, dict(report.read_schemas)), dict(report.unreadable)


def base_fields(run: Any, inputs: InputSchemas, quarantined: dict[int, str], skip_bad: bool) -> dict[str, Any]:
    """The ShardPlan fields of a stage run, to pass on to a plan subclass."""
    return {
        "workspace": run.workspace,
        "shards": tuple(run.shards),
        "output_schema": inputs.unified,
        "read_schemas": dict(inputs.read_schemas),
        "skip_bad_shards": skip_bad,
        "active": frozenset(s.index for s in run.shards if s.index not in quarantined),
    }
