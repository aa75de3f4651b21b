"""The one type promotion curate applies when the same column differs between shards, or
between blocks of one JSONL file: Arrow's ``permissive`` unification.

* ``null`` (a column that is always null so far) takes the other type;
* integers widen (``int32`` + ``int64`` -> ``int64``), integers and floats give ``float64``
  (an integer above 2**53 loses precision), ``string`` + ``large_string`` -> ``large_string``;
* structs take the union of their fields (each unified the same way), lists unify their items.

Anything else (a number in one shard and a string in another, a timestamp and a string, a
list and a scalar) is a conflict: :class:`SchemaConflict` names the column.
"""

from __future__ import annotations

import pyarrow as pa


class SchemaConflict(Exception):
    """Column ``column`` is ``earlier`` in one schema and ``later`` in the other."""

    def __init__(self, column: str, earlier: pa.DataType, later: pa.DataType) -> None:
        super().__init__(f"column {column!r} is {later} here but {earlier} before")
        self.column = column
        self.earlier = earlier
        self.later = later


def _permissive(schemas: list[pa.Schema]) -> pa.Schema:
    return pa.unify_schemas(schemas, promote_options="permissive")


def unify(earlier: pa.Schema, later: pa.Schema) -> pa.Schema:
    """``earlier`` with ``later``'s new columns appended and every shared column promoted;
    raises SchemaConflict naming the first column that cannot be promoted."""
    try:
        return _permissive([earlier, later])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        for item in later:
            if item.name not in earlier.names:
                continue
            before = earlier.field(item.name)
            try:
                _permissive([pa.schema([before]), pa.schema([item])])
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                raise SchemaConflict(item.name, before.type, item.type) from exc
        raise
