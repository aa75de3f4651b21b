"""Column paths: ``metadata.url`` names the field ``url`` of the struct column ``metadata``.

A name that is a top-level column is that column, even when it holds a dot (a column named
``a.b`` wins over the field ``b`` of a struct ``a``); otherwise the dots descend into struct
fields. Used by every option naming a column (``--id-column``, ``--on``, ``--url-column``,
``--text-column``). A stage that rewrites the text (``dedup lines``, ``filter pii``, ``filter
c4``) rewrites the field inside its struct (:func:`with_values`): the user's struct keeps its
place, its other fields and its types, and no top-level column is added.
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


def is_nested(schema: pa.Schema, path: str) -> bool:
    """Whether ``path`` names a field inside a struct (not a top-level column)."""
    return path not in schema.names and has_column(schema, path)


def text_values(batch: pa.RecordBatch | pa.Table, path: str) -> pa.Array:
    """The text at ``path`` as one ``large_string`` array, what every stage's kernels take (a
    top-level text column is read as large_string already; a struct field keeps its own type
    in the data and is cast here). KeyError when absent."""
    values = column_values(batch, path)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if pa.types.is_large_string(values.type) else values.cast(pa.large_string())


def _with_child(array: pa.Array, parts: list[str], values: pa.Array) -> pa.Array:
    """The struct ``array`` with the field ``parts[0]`` (below it, ``parts[1:]``) replaced by
    ``values`` cast to the field's type; its null rows, other fields and field order kept."""
    assert isinstance(array, pa.StructArray)
    struct_type = array.type
    children = array.flatten()  # offsets applied; a null struct's children are unseen anyway
    index = struct_type.get_field_index(parts[0])
    child = children[index]
    children[index] = values.cast(child.type) if len(parts) == 1 else _with_child(child, parts[1:], values)
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(struct_type), mask=mask)


def with_values(batch: pa.RecordBatch, path: str, values: pa.Array) -> pa.RecordBatch:
    """``batch`` with the column or struct field at ``path`` replaced by ``values``, cast to
    the type it had. KeyError when absent."""
    parts = _field_path(batch.schema, path)
    if parts is None:
        raise KeyError(path)
    position = batch.schema.get_field_index(parts[0])
    field = batch.schema.field(position)
    if len(parts) == 1:
        return batch.set_column(position, field, values.cast(field.type))
    column = batch.column(position)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return batch.set_column(position, field, _with_child(column, parts[1:], values))
