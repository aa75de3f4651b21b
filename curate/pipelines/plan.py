"""What every task of a stage shares, and how a stage sizes its hash partitions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pyarrow as pa

from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions
from curate.io.schema import check_input_schemas
from curate.pipelines.workspace import Workspace

PlanT = TypeVar("PlanT", bound="ShardPlan")

PARTITION_TARGET_BYTES = 256 << 20
MAX_PARTITIONS = 4096
ASSUMED_DOC_BYTES = 3000


@dataclass(frozen=True)
class ShardPlan:
    """The run's workspace, its input shards and which of them are still in play
    (quarantined ones drop out). Picklable: process pools and Ray get a copy per task."""

    workspace: Workspace
    shards: tuple[InputShard, ...]
    output_schema: pa.Schema | None
    skip_bad_shards: bool
    active: frozenset[int]

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


def inspect_inputs(
    shards: list[InputShard], read: ReadOptions, skip_bad: bool
) -> tuple[pa.Schema | None, dict[int, str]]:
    """The unified input schema (checked over every footer before any write) and the shards
    already quarantined because their footer is unreadable."""
    report = check_input_schemas(shards, read, skip_bad=skip_bad)
    return report.unified, dict(report.unreadable)


def base_fields(run: Any, schema: pa.Schema | None, quarantined: dict[int, str], skip_bad: bool) -> dict[str, Any]:
    """The ShardPlan fields of a stage run, to pass on to a plan subclass."""
    return {
        "workspace": run.workspace,
        "shards": tuple(run.shards),
        "output_schema": schema,
        "skip_bad_shards": skip_bad,
        "active": frozenset(s.index for s in run.shards if s.index not in quarantined),
    }
