"""Keep rules: which member of a duplicate cluster survives.

``first`` (input order: shard, then row), ``longest`` / ``shortest`` (text length in
characters), ``max:COL`` / ``min:COL`` (a column's value, nulls last). Every rule is
deterministic: ties are broken by the document id, then by input position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import UsageError
from curate.pipelines.options import option

# pyarrow 25 moved null placement into each sort key (the global option is deprecated).
_PER_KEY_NULL_PLACEMENT = int(pa.__version__.split(".")[0]) >= 25


def keep_option() -> Any:
    """``--keep``, one definition for every dedup stage."""
    return option(
        default_factory=lambda: KeepRule("first"),
        help="Survivor of each group of duplicates: first, longest, shortest, max:COL, min:COL "
        "(ties broken by id; with minhash --survivors cover it decides between members of equal coverage).",
        parse=KeepRule.parse,
    )


def cluster_columns_option() -> Any:
    return option(False, "Add dup_cluster / dup_cluster_size columns to kept rows.", flag=True)


@dataclass(frozen=True)
class KeepRule:
    kind: str  # first | longest | shortest | max | min
    column: str | None = None

    @staticmethod
    def parse(text: str) -> KeepRule:
        if text in ("first", "longest", "shortest"):
            return KeepRule(text)
        kind, _, column = text.partition(":")
        if kind in ("max", "min") and column:
            return KeepRule(kind, column)
        raise UsageError(f"invalid --keep {text!r}: use first, longest, shortest, max:COLUMN or min:COLUMN")

    def __str__(self) -> str:
        return f"{self.kind}:{self.column}" if self.column else self.kind

    @property
    def descending(self) -> bool:
        return self.kind in ("longest", "max")

    def require_column(self, unified: pa.Schema | None) -> None:
        """Before any work: a ``max:COL`` / ``min:COL`` column that no input has (the schema
        pass covers Parquet footers and JSONL files alike) is a usage error."""
        if self.column is not None and unified is not None and self.column not in unified.names:
            raise UsageError(f"--keep {self}: no column {self.column!r} in the input (columns: {unified.names})")

    def values(self, batch: pa.RecordBatch, text: pa.Array) -> pa.Array:
        """What this rule ranks ``batch``'s rows by (null for ``first``, which ranks by position;
        null when a shard lacks the column)."""
        if self.kind in ("longest", "shortest"):
            return pc.fill_null(pc.utf8_length(text), 0).cast(pa.int64())
        if self.kind in ("max", "min"):
            assert self.column is not None
            if self.column not in batch.schema.names:
                return pa.nulls(batch.num_rows, pa.float64())
            return batch.column(self.column)
        return pa.nulls(batch.num_rows, pa.int64())

    def priority_order(
        self, table: pa.Table, *, group: str | list[str], key: str, id_column: str, doc: str
    ) -> pa.Array:
        """Row indices of ``table`` sorted by ``group`` (one or more columns), then best
        survivor first: the rule's key (nulls last), then id, then input position."""
        groups = [group] if isinstance(group, str) else list(group)
        columns = [*groups, doc] if self.kind == "first" else [*groups, key, id_column, doc]
        orders = ["descending" if self.descending and name == key else "ascending" for name in columns]
        if self.kind == "first":
            orders = ["ascending"] * len(columns)
        pairs = list(zip(columns, orders, strict=True))
        if _PER_KEY_NULL_PLACEMENT:
            return pc.sort_indices(table, sort_keys=[(name, order, "at_end") for name, order in pairs])
        return pc.sort_indices(table, sort_keys=pairs, null_placement="at_end")
