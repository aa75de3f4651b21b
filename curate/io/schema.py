"""Checking input schemas over every input (Parquet footers, JSONL schema passes) before any
write, and conforming batches to the one schema every output shard has."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import BadInputError, UsageError
from curate.io import jsonl
from curate.io.columns import column_type, has_column
from curate.io.discovery import InputShard
from curate.io.promotion import SchemaConflict, unify
from curate.io.readers import ReadOptions, jsonl_read_schema
from curate.pipelines.cpus import available_cpus

STRING_TYPES = (pa.string(), pa.large_string(), pa.binary(), pa.large_binary(), pa.string_view(), pa.null())


@dataclass
class SchemaReport:
    """The unified schema of the inputs (text column as large_string), the shards that
    could not be read (only filled when skipping bad shards), and the types each JSONL
    shard is parsed with (its own columns, the unified types)."""

    unified: pa.Schema | None
    unreadable: dict[int, str] = field(default_factory=dict)
    read_schemas: dict[int, pa.Schema] = field(default_factory=dict)


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


class SchemaCache:
    """JSONL schema passes of one run, kept in its ``work/`` so that a resumed run does not
    read every file again: one Arrow IPC schema per file, keyed by path, size and mtime."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, shard: InputShard) -> Path:
        key = json.dumps([shard.path, shard.size, shard.mtime_ns]).encode()
        return self.directory / f"{hashlib.sha256(key).hexdigest()[:32]}.arrow"

    def get(self, shard: InputShard) -> pa.Schema | None:
        try:
            return pa.ipc.read_schema(pa.py_buffer(self._file(shard).read_bytes()))
        except (OSError, pa.ArrowException):
            return None

    def put(self, shard: InputShard, schema: pa.Schema) -> None:
        target = self._file(shard)
        temporary = target.with_suffix(f".tmp{threading.get_ident()}")
        temporary.write_bytes(schema.serialize().to_pybytes())
        os.replace(temporary, target)


def _shard_schema(
    shard: InputShard, options: ReadOptions, stop: threading.Event, cache: SchemaCache | None
) -> pa.Schema | None:
    """A Parquet shard's footer schema, or a JSONL shard's schema over all its lines (None
    for a JSONL file without rows, or when ``stop`` was set: another shard failed)."""
    if shard.format == "parquet":
        return read_footer_schema(shard)
    if shard.format == "warc":  # one row per record, whatever the file holds
        from curate.ingest.formats import warc_read_schema

        return warc_read_schema(options.text_column)
    if shard.size == 0:
        raise BadInputError(shard.path, "empty file (0 bytes)")
    cached = cache.get(shard) if cache is not None else None
    if cached is not None:
        return cached
    schema = jsonl.infer_schema(shard, options, stop=stop.is_set)
    if schema is not None and cache is not None and not stop.is_set():
        cache.put(shard, schema)
    return schema


def _checked(schema: pa.Schema, shard: InputShard, options: ReadOptions) -> pa.Schema:
    """``schema`` with the text column as large_string; UsageError for a missing or
    non-string text column or a missing explicit id column."""
    if not has_column(schema, options.text_column) and not options.text_required:
        if options.id_column_explicit and not has_column(schema, options.id_column):
            raise UsageError(
                f"{shard.path}: no id column {options.id_column!r} (columns: {schema.names})",
                path=shard.path,
                column=options.id_column,
            )
        return schema.remove_metadata()
    if not has_column(schema, options.text_column):
        raise UsageError(
            f"{shard.path}: no text column {options.text_column!r} (columns: {schema.names})",
            path=shard.path,
            column=options.text_column,
        )
    text_type = column_type(schema, options.text_column)
    nested = options.text_column not in schema.names
    # A struct field is rewritten in place with its own type: a binary one would need a cast.
    allowed = (pa.string(), pa.large_string(), pa.null()) if nested else STRING_TYPES
    if text_type not in allowed:
        raise UsageError(
            f"{shard.path}: text column {options.text_column!r} has type {text_type}, not a string",
            path=shard.path,
            column=options.text_column,
        )
    if options.id_column_explicit and not has_column(schema, options.id_column):
        raise UsageError(
            f"{shard.path}: no id column {options.id_column!r} (columns: {schema.names})",
            path=shard.path,
            column=options.id_column,
        )
    if nested:  # the user's struct as it is (stages cast the field to large_string to read it)
        return schema.remove_metadata()
    position = schema.get_field_index(options.text_column)
    return schema.set(position, pa.field(options.text_column, pa.large_string())).remove_metadata()


def check_input_schemas(
    shards: list[InputShard],
    options: ReadOptions,
    *,
    skip_bad: bool,
    workers: int = 0,
    cache: SchemaCache | None = None,
) -> SchemaReport:
    """Read every Parquet footer and every JSONL file's schema (a pass over its lines, on
    ``workers`` threads, kept in ``cache``) before any write, and unify them with the
    promotion of :mod:`curate.io.promotion`. Fails up front on a missing text column
    (UsageError) or a column whose types cannot be unified (BadInputError naming both shards
    and the column); with ``skip_bad`` an unreadable shard is listed in ``unreadable`` instead."""
    report = SchemaReport(unified=None)
    threads = workers if workers > 0 else min(8, available_cpus())
    found: dict[int, pa.Schema | None] = {}
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        futures = {shard.index: pool.submit(_shard_schema, shard, options, stop, cache) for shard in shards}
        try:
            for shard in shards:  # in shard order: the same error and schema on every run
                try:
                    found[shard.index] = futures[shard.index].result()
                except BadInputError as exc:
                    if not skip_bad:
                        raise
                    report.unreadable[shard.index] = str(exc)
        except BaseException:
            stop.set()  # the other files' passes end at their next block
            for future in futures.values():
                future.cancel()
            raise
    origin: dict[str, str] = {}
    for shard in shards:
        schema = found.get(shard.index)
        if schema is None:
            continue
        schema = _checked(schema, shard, options)
        if report.unified is None:
            report.unified = schema
        else:
            try:
                report.unified = unify(report.unified, schema)
            except SchemaConflict as conflict:
                raise BadInputError(
                    shard.path,
                    f"column {conflict.column!r} is {conflict.later} here but {conflict.earlier} in "
                    f"{origin[conflict.column]}; cast the shards to one type first",
                    column=conflict.column,
                ) from conflict
        for item in schema:  # where each column first had a type (null never conflicts)
            if not pa.types.is_null(item.type):
                origin.setdefault(item.name, shard.path)
    for shard in shards:
        schema = found.get(shard.index)
        if shard.format == "jsonl" and schema is not None:
            report.read_schemas[shard.index] = jsonl_read_schema(schema, report.unified, options.text_column)
    return report


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
