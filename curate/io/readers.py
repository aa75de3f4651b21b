"""Reading input shards as bounded Arrow batches with a canonical text column.

Policies applied here, for every stage:

* the text column is read as ``large_string`` (no 32-bit offset overflow on >2 GiB batches);
* **invalid UTF-8** in the text column is decoded with U+FFFD replacement and counted
  (``invalid_utf8_rows``); lone surrogates in JSON escapes are replaced the same way;
* a compressed input is decompressed as a stream and stopped at a size cap (a
  decompression bomb is treated as a corrupt shard);
* every failure names the file: :class:`~curate.errors.BadInputError`.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import zstandard

from curate.errors import BadInputError, UsageError
from curate.io.discovery import InputShard
from curate.io.integrity import verify_shard

DEFAULT_BATCH_ROWS = 8192
JSON_BLOCK_BYTES = 16 << 20
_JSON_READ = pajson.ReadOptions(use_threads=False, block_size=1 << 20)
# A compressed shard may expand to this many times its size, and at least this many bytes.
DECOMPRESSION_RATIO_CAP = 200
DECOMPRESSION_FLOOR_BYTES = 1 << 30


@dataclass(frozen=True)
class ReadOptions:
    """Which columns carry the text and the id. ``id_column=None`` or a missing default
    ``id`` column means ids are derived as ``<shard name>#<row>`` (stable across re-runs
    of the same files)."""

    text_column: str = "text"
    id_column: str = "id"
    id_column_explicit: bool = False
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_decompressed_bytes: int | None = None


@dataclass
class ReadCounters:
    rows: int = 0
    invalid_utf8_rows: int = 0
    extra: dict[str, int] = field(default_factory=dict)


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
        raise BadInputError(shard.path, f"text column {column!r} has type {values.type}, not a string")
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
    if options.id_column in batch.schema.names:
        ids = batch.column(options.id_column)
        return ids if pa.types.is_string(ids.type) else pc.cast(ids, pa.string())
    rows = pa.array(range(first_row, first_row + batch.num_rows), pa.int64())
    return pc.binary_join_element_wise(pa.scalar(shard.name), pc.cast(rows, pa.string()), "#")


def _decompressed_cap(shard: InputShard, options: ReadOptions) -> int:
    if options.max_decompressed_bytes is not None:
        return options.max_decompressed_bytes
    return max(DECOMPRESSION_FLOOR_BYTES, DECOMPRESSION_RATIO_CAP * shard.size)


class _CappedReader(io.RawIOBase):
    """A byte stream that fails once more than ``cap`` bytes came out of it."""

    def __init__(self, inner: io.BufferedIOBase | io.RawIOBase, cap: int, shard: InputShard) -> None:
        self._inner = inner
        self._cap = cap
        self._seen = 0
        self._shard = shard

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        self._seen += n
        if self._seen > self._cap:
            raise BadInputError(
                self._shard.path, f"decompresses to more than {self._cap} bytes (cap); treated as corrupt"
            )
        buffer[:n] = data
        return n


def _open_text_stream(shard: InputShard, options: ReadOptions) -> io.BufferedReader:
    raw = shard.filesystem.open_input_stream(shard.path, compression=None)
    source: io.BufferedIOBase | io.RawIOBase
    if shard.compression == "gzip":
        source = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]
    elif shard.compression == "zstd":
        source = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[arg-type]
    else:
        source = raw  # type: ignore[assignment]
    return io.BufferedReader(_CappedReader(source, _decompressed_cap(shard, options), shard), 1 << 20)


def _json_blocks(shard: InputShard, options: ReadOptions) -> Iterator[bytes]:
    stream = _open_text_stream(shard, options)
    try:
        pending = b""
        while True:
            try:
                chunk = stream.read(JSON_BLOCK_BYTES)
            except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
                if isinstance(exc, BadInputError):
                    raise
                raise BadInputError(shard.path, f"truncated or corrupt compressed data ({exc})") from exc
            if not chunk:
                break
            data = pending + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            pending = data[cut + 1 :]
            yield data[: cut + 1]
        if pending.strip():
            yield pending
    finally:
        stream.close()


def _parse_json_block_slowly(block: bytes, shard: InputShard) -> pa.Table:
    """Line by line, with replacement of invalid UTF-8 and lone surrogates."""
    records = []
    for number, line in enumerate(block.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(
                shard.path, f"invalid JSON in a line of the block ({exc.msg}, block line {number})"
            ) from exc
        if not isinstance(record, dict):
            raise BadInputError(shard.path, f"JSON line is not an object (block line {number})")
        records.append(
            {key: _replace_surrogates(value) if isinstance(value, str) else value for key, value in record.items()}
        )
    return pa.Table.from_pylist(records)


def _replace_surrogates(value: str) -> str:
    return value.encode("utf-16", errors="surrogatepass").decode("utf-16", errors="replace")


def _parse_json_block(block: bytes, shard: InputShard, options: ReadOptions) -> tuple[pa.Table, int]:
    schema_fields = [pa.field(options.text_column, pa.large_string())]
    parse = pajson.ParseOptions(explicit_schema=pa.schema(schema_fields), unexpected_field_behavior="infer")
    try:
        # One thread: with several, the order of the fields inferred for a struct column depends
        # on which chunk finishes first, so the same file would not give the same bytes twice.
        return pajson.read_json(io.BytesIO(block), read_options=_JSON_READ, parse_options=parse), 0
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "encoding" not in message.lower() and "utf" not in message.lower() and "surrogate" not in message.lower():
            raise BadInputError(shard.path, f"invalid JSON ({message.splitlines()[0]})") from exc
    table = _parse_json_block_slowly(block, shard)
    repaired_rows = sum(1 for line in block.splitlines() if line.strip() and _has_bad_utf8(line))
    return table, repaired_rows


def _has_bad_utf8(line: bytes) -> bool:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return "\\ud8" in text.lower() or "\\udc" in text.lower() or "\\udf" in text.lower()


def read_batches(
    shard: InputShard,
    options: ReadOptions,
    counters: ReadCounters | None = None,
    columns: list[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the shard's rows as record batches in file order, the text column canonical.

    ``columns`` restricts the Parquet columns read (the text column is always included
    when present). A shard of a curate dataset is first checked against its manifest's
    checksum. Raises BadInputError naming the shard on any read or decode failure,
    and UsageError when the text column is missing.
    """
    counters = counters if counters is not None else ReadCounters()
    verify_shard(shard)
    if shard.size == 0:
        raise BadInputError(shard.path, "empty file (0 bytes)")
    if shard.format == "parquet":
        batches = _parquet_batches(shard, options, columns)
    else:
        batches = _jsonl_batches(shard, options, counters)
    for batch in batches:
        if options.text_column not in batch.schema.names:
            raise UsageError(f"{shard.path}: no text column {options.text_column!r} (columns: {batch.schema.names})")
        # An explicit id column must exist, unless the caller asked for other columns only.
        wants_id = columns is None or options.id_column in columns
        if options.id_column_explicit and wants_id and options.id_column not in batch.schema.names:
            raise UsageError(f"{shard.path}: no id column {options.id_column!r} (columns: {batch.schema.names})")
        position = batch.schema.get_field_index(options.text_column)
        text, repaired = canonical_text(batch.column(position), shard=shard, column=options.text_column)
        counters.invalid_utf8_rows += repaired
        counters.rows += batch.num_rows
        yield batch.set_column(position, pa.field(options.text_column, pa.large_string()), text)


def _parquet_batches(shard: InputShard, options: ReadOptions, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    try:
        handle = shard.filesystem.open_input_file(shard.path)
        parquet = pq.ParquetFile(handle)
        if columns is not None:
            present = set(parquet.schema_arrow.names)
            # Once each: a name asked for twice (--on text reads the text column twice)
            # would give a zero-row shard's batch duplicate fields.
            columns = [c for c in dict.fromkeys(columns) if c in present]
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


def _jsonl_batches(shard: InputShard, options: ReadOptions, counters: ReadCounters) -> Iterator[pa.RecordBatch]:
    any_rows = False
    for block in _json_blocks(shard, options):
        table, repaired = _parse_json_block(block, shard, options)
        counters.invalid_utf8_rows += repaired
        for batch in table.to_batches(max_chunksize=options.batch_rows):
            any_rows = True
            yield batch
    if not any_rows:
        yield pa.RecordBatch.from_pylist([], schema=pa.schema([pa.field(options.text_column, pa.large_string())]))
