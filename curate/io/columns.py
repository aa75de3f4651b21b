"""Column paths: ``metadata.url`` names the field ``url`` of the struct column ``metadata``.

A name that is a top-level column is that column, even when it holds a dot (a column named
``a.b`` wins over the field ``b`` of a struct ``a``); otherwise the dots descend into struct
fields. Used by the options that only read a column (``--id-column``, ``--on``,
``--url-column``); the text column is rewritten by stages and stays top-level.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def top_level(path: str, names: list[str] | tuple[str, ...] | None = None) -> str:
    """The top-level column a path lives in (what a reader must project)."""
    if names is not None and path in names:
        return path
    return path.split(".", 1)[0]


def _field_path(schema: pa.Schema, path: str) -> list[str] | None:
    """The chain of field names ``path`` denotes in ``schema``, or None when there is none."""
    if path in schema.names:
        return [path]
    parts = path.split(".")
    if len(parts) < 2 or parts[0] not in schema.names:
        return None
    current = schema.field(parts[0]).type
    for part in parts[1:]:
        if not pa.types.is_struct(current) or current.get_field_index(part) < 0:
            return None
        current = current.field(part).type
    return parts


def has_column(schema: pa.Schema, path: str) -> bool:
    return _field_path(schema, path) is not None


def column_type(schema: pa.Schema, path: str) -> pa.DataType | None:
    parts = _field_path(schema, path)
    if parts is None:
        return None
    current = schema.field(parts[0]).type
    for part in parts[1:]:
        current = current.field(part).type
    return current


def column_values(batch: pa.RecordBatch | pa.Table, path: str) -> pa.Array | pa.ChunkedArray:
    """The values at ``path``; a row whose struct is null is null. KeyError when absent."""
    parts = _field_path(batch.schema, path)
    if parts is None:
        raise KeyError(path)
    values = batch.column(parts[0])
    for part in parts[1:]:
        values = pc.struct_field(values, [part])
    return values
