"""Reading input shards as bounded Arrow batches with a canonical text column.

Policies applied here, for every stage:

* the text column is read as ``large_string`` (no 32-bit offset overflow on >2 GiB batches);
* **invalid UTF-8** in the text column is decoded with U+FFFD replacement and counted
  (``invalid_utf8_rows``, one per repaired row); in JSONL, lone surrogate escapes in the text
  column are replaced the same way, and either one in another column is an error (see
  :mod:`curate.io.jsonl`);
* a compressed input is decompressed as a stream, stopped at a size cap (a decompression
  bomb is a corrupt shard), and a stream cut short is a truncated, corrupt shard;
* JSONL is parsed with the types of its schema pass (see :mod:`curate.io.schema`), so every
  block of a file, and every file of a run, has the same types;
* every failure names the file: :class:`~curate.errors.BadInputError`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from curate.errors import BadInputError, UsageError
from curate.io import jsonl
from curate.io.columns import column_values, has_column, top_level, with_values
from curate.io.discovery import InputShard
from curate.io.integrity import verify_shard
from curate.io.read_options import DEFAULT_BATCH_ROWS, ReadCounters, ReadOptions

__all__ = ["DEFAULT_BATCH_ROWS", "ReadCounters", "ReadOptions", "batch_ids", "canonical_text", "read_batches"]


def _repair_utf8(values: pa.Array) -> tuple[pa.Array, int]:
    """Replace invalid UTF-8 with U+FFFD. Only reached when validation failed, so the
    per-row Python loop here is off the hot path."""
    as_binary = values.cast(pa.large_binary()) if pa.types.is_large_string(values.type) else values.view(pa.binary())
    repaired: list[str | None] = []
    count = 0
    for raw in as_binary.to_pylist():
        if raw is None:
            repaired.append(None)
            continue
        text = raw.decode("utf-8", errors="replace")
        if "\ufffd" in text and text.encode("utf-8") != raw:
            count += 1
        repaired.append(text)
    return pa.array(repaired, type=pa.large_string()), count


def canonical_text(values: pa.Array, *, shard: InputShard, column: str) -> tuple[pa.Array, int]:
    """The text column as valid ``large_string`` plus the number of rows repaired."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_binary(values.type):
        values = values.view(pa.string())
    elif pa.types.is_large_binary(values.type):
        values = values.view(pa.large_string())
    elif pa.types.is_string_view(values.type):
        values = values.cast(pa.large_string())
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        if pa.types.is_null(values.type):
            return pa.nulls(len(values), pa.large_string()), 0
        raise BadInputError(shard.path, f"text column {column!r} has type {values.type}, not a string", column=column)
    try:
        values.validate(full=True)
        repaired = 0
    except pa.ArrowInvalid:
        values, repaired = _repair_utf8(values)
    if not pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())
    return values, repaired


def batch_ids(batch: pa.RecordBatch, shard: InputShard, first_row: int, options: ReadOptions) -> pa.Array:
    """The document ids of ``batch`` as strings (cast from any id type, or derived)."""
    if has_column(batch.schema, options.id_column):
        ids = column_values(batch, options.id_column)
        return ids if pa.types.is_string(ids.type) else pc.cast(ids, pa.string())
    rows = pa.array(range(first_row, first_row + batch.num_rows), pa.int64())
    return pc.binary_join_element_wise(pa.scalar(shard.name), pc.cast(rows, pa.string()), "#")


def read_batches(
    shard: InputShard,
    options: ReadOptions,
    counters: ReadCounters | None = None,
    columns: list[str] | None = None,
    schema: pa.Schema | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the shard's rows as record batches in file order, the text column canonical.

    ``columns`` restricts the columns read (the caller lists the text column). ``schema``
    is the types a JSONL shard is parsed with (its schema pass, :func:`jsonl_read_schema`);
    without it the file is inferred first, an extra pass. A shard of a curate dataset is
    first checked against its manifest's checksum. Raises BadInputError naming the shard on
    any read or decode failure, and UsageError when the text column is missing.
    """
    counters = counters if counters is not None else ReadCounters()
    if shard.format == "warc":
        raise UsageError(f"{shard.path} is a web archive: read it with `curate ingest warc IN OUT`", path=shard.path)
    verify_shard(shard)
    if shard.size == 0:
        raise BadInputError(shard.path, "empty file (0 bytes)")
    if shard.format == "parquet":
        batches = _parquet_batches(shard, options, columns)
    else:
        batches = _jsonl_batches(shard, options, counters, columns, schema)
    for batch in batches:
        has_text = has_column(batch.schema, options.text_column)
        if not has_text and options.text_required:
            raise UsageError(
                f"{shard.path}: no text column {options.text_column!r} (columns: {batch.schema.names})",
                path=shard.path,
                column=options.text_column,
            )
        # An explicit id column must exist, unless the caller asked for other columns only.
        wants_id = columns is None or options.id_column in columns
        if options.id_column_explicit and wants_id and not has_column(batch.schema, options.id_column):
            raise UsageError(
                f"{shard.path}: no id column {options.id_column!r} (columns: {batch.schema.names})",
                path=shard.path,
                column=options.id_column,
            )
        if not has_text:
            counters.rows += batch.num_rows
            yield batch
            continue
        counters.rows += batch.num_rows
        if options.text_column not in batch.schema.names:
            # A struct field (metadata.text) keeps its type inside the user's struct: only
            # repaired text is written back into it.
            text, repaired = canonical_text(
                column_values(batch, options.text_column), shard=shard, column=options.text_column
            )
            counters.invalid_utf8_rows += repaired
            yield with_values(batch, options.text_column, text) if repaired else batch
            continue
        position = batch.schema.get_field_index(options.text_column)
        text, repaired = canonical_text(batch.column(position), shard=shard, column=options.text_column)
        counters.invalid_utf8_rows += repaired
        yield batch.set_column(position, pa.field(options.text_column, pa.large_string()), text)


def _parquet_batches(shard: InputShard, options: ReadOptions, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    try:
        handle = shard.filesystem.open_input_file(shard.path)
        parquet = pq.ParquetFile(handle)
        if columns is not None:
            present = parquet.schema_arrow.names
            # Once each: a name asked for twice (--on text reads the text column twice)
            # would give a zero-row shard's batch duplicate fields. A path (metadata.url)
            # reads its top-level column.
            tops = [top_level(c, present) for c in columns]
            columns = [c for c in dict.fromkeys(tops) if c in present]
        empty = True
        for batch in parquet.iter_batches(batch_size=options.batch_rows, columns=columns):
            empty = False
            yield batch
        if empty:
            schema = (
                parquet.schema_arrow if columns is None else pa.schema([parquet.schema_arrow.field(c) for c in columns])
            )
            yield pa.RecordBatch.from_pylist([], schema=schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(shard.path, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc


@functools.lru_cache(maxsize=256)
def _json_can_parse(kind: pa.DataType) -> bool:
    """Whether pyarrow's JSON reader converts to ``kind`` (not to dictionaries, maps,
    large or fixed-size lists, which a Parquet shard may bring into the unified schema)."""
    try:
        pajson.read_json(
            pa.BufferReader(b"{}\n"), parse_options=pajson.ParseOptions(explicit_schema=pa.schema([("x", kind)]))
        )
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def jsonl_read_schema(file_schema: pa.Schema, unified: pa.Schema | None, text_column: str) -> pa.Schema:
    """The types a JSONL file is parsed with: its own columns (so a column it lacks stays
    absent, as in Parquet), with the run's unified types (where the JSON reader can produce
    them; else the file's own, cast on write) and the text column large_string."""
    fields = []
    for item in file_schema:
        if unified is not None and item.name in unified.names and _json_can_parse(unified.field(item.name).type):
            item = unified.field(item.name)
        if item.name == text_column:
            item = pa.field(text_column, pa.large_string())
        fields.append(item)
    return pa.schema(fields)


def _jsonl_batches(
    shard: InputShard,
    options: ReadOptions,
    counters: ReadCounters,
    columns: list[str] | None,
    schema: pa.Schema | None,
) -> Iterator[pa.RecordBatch]:
    if schema is None:
        inferred = jsonl.infer_schema(shard, options)
        schema = None if inferred is None else jsonl_read_schema(inferred, None, options.text_column)
    any_rows = False
    if schema is not None:
        for table, repaired in jsonl.read_tables(shard, options, schema, columns):
            counters.invalid_utf8_rows += repaired
            for batch in table.to_batches(max_chunksize=options.batch_rows):
                any_rows = True
                yield batch
    if not any_rows:
        empty = schema if schema is not None else pa.schema([pa.field(options.text_column, pa.large_string())])
        if columns is not None:
            empty = pa.schema([item for item in empty if item.name in columns])
        yield pa.RecordBatch.from_pylist([], schema=empty)
