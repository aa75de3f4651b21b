"""Checking input schemas over all footers before any write, and conforming batches to one schema."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import BadInputError, UsageError
from curate.io.discovery import InputShard
from curate.io.readers import ReadOptions

STRING_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary(), pa.string_view(), pa.null())


@dataclass
class SchemaReport:
    """The unified schema of the Parquet inputs (text column as large_string), and the
    shards whose footer could not be read (only filled when skipping bad shards)."""

    unified: pa.Schema | None
    unreadable: dict[int, str] = field(default_factory=dict)


PICKLED_EXTENSION = b"arrow.py_extension_type"


def _pickled_fields(fields: list[pa.Field], prefix: str = "") -> list[str]:
    found = []
    for item in fields:
        if (item.metadata or {}).get(b"ARROW:extension:name") == PICKLED_EXTENSION:
            found.append(prefix + item.name)
        children = [item.type.field(i) for i in range(item.type.num_fields)] if item.type.num_fields else []
        found += _pickled_fields(children, f"{prefix}{item.name}.")
    return found


def refuse_pickled_payloads(schema: pa.Schema, path: str) -> None:
    """A column declaring Arrow's Python extension type carries a pickle, which would run code
    if unpickled. pyarrow no longer unpickles it, but such a file is refused outright."""
    pickled = _pickled_fields(list(schema))
    if pickled:
        raise BadInputError(path, f"column(s) {', '.join(pickled)} carry a pickled Python extension type; refused")


def read_footer_schema(shard: InputShard) -> pa.Schema:
    if shard.size == 0:
        raise BadInputError(shard.path, "empty file (0 bytes)")
    try:
        with shard.filesystem.open_input_file(shard.path) as handle:
            schema = pq.read_schema(handle)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(shard.path, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    refuse_pickled_payloads(schema, shard.path)
    return schema


def check_input_schemas(shards: list[InputShard], options: ReadOptions, *, skip_bad: bool) -> SchemaReport:
    """Read every Parquet footer; fail up front on a missing text column (UsageError) or a
    column whose type conflicts between shards (BadInputError naming both shards)."""
    report = SchemaReport(unified=None)
    seen: dict[str, tuple[pa.DataType, str]] = {}
    schemas: list[pa.Schema] = []
    for shard in shards:
        if shard.format != "parquet":
            continue
        try:
            schema = read_footer_schema(shard)
        except BadInputError as exc:
            if not skip_bad:
                raise
            report.unreadable[shard.index] = str(exc)
            continue
        if options.text_column not in schema.names:
            raise UsageError(f"{shard.path}: no text column {options.text_column!r} (columns: {schema.names})")
        text_type = schema.field(options.text_column).type
        if text_type not in STRING_TYPES:
            raise UsageError(f"{shard.path}: text column {options.text_column!r} has type {text_type}, not a string")
        if options.id_column_explicit and options.id_column not in schema.names:
            raise UsageError(f"{shard.path}: no id column {options.id_column!r} (columns: {schema.names})")
        schema = schema.set(
            schema.get_field_index(options.text_column), pa.field(options.text_column, pa.large_string())
        ).remove_metadata()
        for item in schema:
            if pa.types.is_null(item.type):
                continue
            previous = seen.get(item.name)
            if previous is None:
                seen[item.name] = (item.type, shard.path)
            elif not _compatible(previous[0], item.type):
                raise BadInputError(
                    shard.path,
                    f"column {item.name!r} is {item.type} here but {previous[0]} in {previous[1]}; "
                    "cast the shards to one type first",
                )
        schemas.append(schema)
    if schemas:
        report.unified = pa.unify_schemas(schemas, promote_options="permissive")
    return report


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    if a == b:
        return True
    families = (pa.types.is_integer, pa.types.is_floating, pa.types.is_string, pa.types.is_large_string)
    if (pa.types.is_string(a) or pa.types.is_large_string(a)) and (
        pa.types.is_string(b) or pa.types.is_large_string(b)
    ):
        return True
    return any(test(a) and test(b) for test in families[:2])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Reorder, cast and null-fill ``batch`` to ``schema`` (columns an input shard lacks
    become nulls). Columns of ``batch`` not in ``schema`` are an error, not a silent drop."""
    extra = set(batch.schema.names) - set(schema.names)
    if extra:
        raise ValueError(f"columns {sorted(extra)} are not in the output schema")
    columns = []
    for item in schema:
        if item.name in batch.schema.names:
            column = batch.column(item.name)
            columns.append(column if column.type == item.type else column.cast(item.type))
        else:
            columns.append(pa.nulls(batch.num_rows, item.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)
