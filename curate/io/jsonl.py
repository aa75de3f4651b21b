r"""Reading JSONL shards (plain, ``.gz``, ``.zst``) as Arrow tables of one schema per file.

* Decompression is Arrow's, as a stream: a stream that ends before its end-of-stream marker
  (in any frame or member of a multi-frame file) is *truncated*, one that expands past the
  cap (:meth:`ReadOptions.decompressed_cap`) is a bomb; both make the shard corrupt.
* Lines are parsed by pyarrow in blocks of whole lines (~16 MiB). A line longer than
  pyarrow's parse block is parsed with a block as large as the line: any line that fits in
  memory is read.
* Types are inferred over the whole file (every block, unified by
  :func:`curate.io.promotion.unify`), then every block is parsed with that schema, so all
  blocks agree. JSON strings stay strings: nothing that looks like a timestamp is converted.
* Invalid text: invalid UTF-8 and lone surrogate escapes (``\ud800``) in the *text* column
  become U+FFFD, each repaired row counted once. Anywhere else they are an error naming the
  file, line and column: a string column cannot hold them, and rewriting another column
  would change the user's data silently. Only lines that need it take the slow path (Python
  ``json``); they are re-serialised and the block is parsed by pyarrow like any other.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from curate.errors import BadInputError
from curate.io.columns import top_level
from curate.io.discovery import InputShard
from curate.io.promotion import SchemaConflict, unify
from curate.io.read_options import ReadOptions

JSON_BLOCK_BYTES = 16 << 20
PARSE_BLOCK_BYTES = 1 << 20  # pyarrow's default: blocks of a block parse on several threads
MAX_PARSE_BLOCK_BYTES = (1 << 31) - 1  # pyarrow's block size is an int32

# An escape that may encode a surrogate: valid pairs too (Python's json joins those).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# What is left in a decoded string of a lone escape or of an invalid byte (surrogateescape).
SURROGATE = re.compile("[\ud800-\udfff]")
ARROW_COLUMN = re.compile(r"Column\(/([^)]*)\)")


@dataclass(frozen=True)
class Block:
    """Whole lines of a JSONL file, starting ``offset`` decompressed bytes into it;
    ``unterminated``: these are the file's last bytes and lack a final newline."""

    data: bytes
    offset: int
    shard: InputShard
    options: ReadOptions
    unterminated: bool = False

    @functools.cached_property
    def first_line(self) -> int:
        """The file's (1-based) line number of the block's first line. Only error messages
        need it, so it is counted then, by reading the file again up to the block."""
        lines = 1
        seen = 0
        for earlier in blocks(self.shard, self.options):
            if seen >= self.offset:
                break
            lines += earlier.data.count(b"\n")
            seen += len(earlier.data)
        return lines

    @property
    def last_line(self) -> int:
        return self.first_line + max(0, self.data.count(b"\n") - (0 if self.unterminated else 1))


def _open(shard: InputShard) -> Any:
    raw = shard.filesystem.open_input_stream(shard.path, compression=None)
    return pa.CompressedInputStream(raw, shard.compression) if shard.compression else raw


def _read(stream: Any, shard: InputShard) -> memoryview:
    try:
        return memoryview(stream.read_buffer(JSON_BLOCK_BYTES))
    except (OSError, pa.ArrowException) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in message.lower():
            raise BadInputError(
                shard.path,
                f"truncated: the {shard.compression} stream ends before its end marker "
                "(an incomplete copy or download?)",
            ) from exc
        raise BadInputError(shard.path, f"corrupt {shard.compression} data ({message})") from exc


def _last_newline(chunk: memoryview) -> int:
    """The index of the chunk's last newline, or -1 (the tail is searched first: lines are
    usually much shorter than a chunk)."""
    start = max(0, len(chunk) - (1 << 20))
    found = bytes(chunk[start:]).rfind(b"\n")
    if found >= 0 or start == 0:
        return found if found < 0 else start + found
    return bytes(chunk[:start]).rfind(b"\n")


def blocks(shard: InputShard, options: ReadOptions) -> Iterator[Block]:
    """The file's bytes (decompressed, capped) cut into blocks of whole lines, in order."""
    cap = options.decompressed_cap(shard.size) if shard.compression else None
    stream = _open(shard)
    try:
        seen = 0
        offset = 0
        tail: list[bytes] = []  # bytes after the last newline so far (a long line in pieces)
        while len(chunk := _read(stream, shard)):
            seen += len(chunk)
            if cap is not None and seen > cap:
                raise BadInputError(
                    shard.path,
                    f"decompresses to more than {cap} bytes (the cap, --max-expansion); treated as corrupt",
                )
            cut = _last_newline(chunk)
            if cut < 0:
                tail.append(bytes(chunk))
                continue
            data = b"".join([*tail, chunk[: cut + 1]])
            tail = [bytes(chunk[cut + 1 :])] if cut + 1 < len(chunk) else []
            yield Block(data, offset, shard, options)
            offset += len(data)
        rest = b"".join(tail)
        if rest.strip():
            yield Block(rest, offset, shard, options, unterminated=True)
    finally:
        stream.close()


def _read_options(block_size: int, *, inferring: bool) -> pajson.ReadOptions:
    # Inferring on one thread: with several, the order of the fields inferred for a struct column
    # depends on which parse block finishes first, so one file would not give one schema.
    return pajson.ReadOptions(block_size=block_size, use_threads=not inferring)


def _arrow_parse(data: bytes, schema: pa.Schema | None, only_listed: bool) -> pa.Table:
    if schema is None:
        parse = pajson.ParseOptions(unexpected_field_behavior="infer")
    else:
        parse = pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore" if only_listed else "error"
        )
    block_size = PARSE_BLOCK_BYTES
    while True:
        try:
            return pajson.read_json(
                pa.BufferReader(data),
                read_options=_read_options(block_size, inferring=schema is None),
                parse_options=parse,
            )
        except pa.ArrowInvalid as exc:
            # A line longer than the parse block "straddles" two block boundaries.
            if "straddl" not in str(exc) or block_size >= min(len(data), MAX_PARSE_BLOCK_BYTES):
                raise
            block_size = min(len(data) + 1, MAX_PARSE_BLOCK_BYTES)


def _one_byte(match: re.Match[str]) -> str:
    # An invalid byte decoded with surrogateescape stays that byte; a lone escape becomes 0xFF,
    # which decodes to one U+FFFD on its own.
    found = match.group()
    return found if "\udc80" <= found <= "\udcff" else "\udcff"


def replace_invalid_text(value: str) -> str:
    """``value`` with each invalid UTF-8 sequence and each lone surrogate replaced by U+FFFD
    (invalid bytes as Python's ``errors="replace"`` does, the same as for Parquet)."""
    return SURROGATE.sub(_one_byte, value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _invalid_text_at(path: str, value: object) -> str | None:
    """The path of the first string (or key) below ``value`` holding invalid text."""
    if isinstance(value, str):
        return path if SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if SURROGATE.search(key):
                return f"{path}.{key!r}"
            found = _invalid_text_at(f"{path}.{key}", item)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _invalid_text_at(f"{path}[{index}]", item)
            if found:
                return found
    return None


def _record(line: bytes, offset: int, block: Block, is_last: bool, shard: InputShard) -> dict[str, Any]:
    try:
        record = json.loads(line.decode("utf-8", "surrogateescape"), strict=False)
    except json.JSONDecodeError as exc:
        cut = " (the file ends inside this line: truncated?)" if block.unterminated and is_last else ""
        number = block.first_line + offset
        problem = f"line {number}: invalid JSON ({exc.msg} at character {exc.pos}){cut}"
        raise BadInputError(shard.path, problem, line=number) from exc
    if not isinstance(record, dict):
        number = block.first_line + offset
        raise BadInputError(shard.path, f"line {number}: not a JSON object", line=number)
    return record


def _repair_lines(block: Block, shard: InputShard, text_column: str, *, every_line: bool) -> tuple[bytes, int]:
    """The block with the text of lines holding invalid UTF-8 or lone surrogates repaired,
    and how many lines were. ``every_line`` also parses lines that look fine, to find the
    one pyarrow refused. Raises BadInputError naming the line for invalid JSON, a line that
    is not an object, or invalid text outside the text column."""
    lines = block.data.split(b"\n")
    repaired = 0
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            line.decode("utf-8")
            suspicious = SURROGATE_ESCAPE.search(line) is not None
        except UnicodeDecodeError:
            suspicious = True
        if not (suspicious or every_line):
            continue
        # Line numbers are counted only for an error message (block.first_line reads the file again).
        record = _record(line, offset, block, offset == len(lines) - 1, shard)
        if not suspicious:
            continue
        changed = text_column not in record and _repair_nested_text(record, text_column.split("."))
        for key, value in record.items():
            if key == text_column and isinstance(value, str):
                if SURROGATE.search(value):
                    record[key] = replace_invalid_text(value)
                    changed = True
                continue
            where = key if SURROGATE.search(key) else _invalid_text_at(key, value)
            if where is not None:
                raise BadInputError(
                    shard.path,
                    f"line {block.first_line + offset}, column {where!r}: invalid UTF-8 or a lone surrogate "
                    f"escape; only the text column ({text_column!r}) is repaired (U+FFFD), other columns are "
                    "never rewritten",
                    line=block.first_line + offset,
                    column=where,
                )
        if changed:
            lines[offset] = json.dumps(record, ensure_ascii=False).encode("utf-8")
            repaired += 1
    return b"\n".join(lines), repaired


def _repair_nested_text(record: dict[str, Any], parts: list[str]) -> bool:
    """Repair the text at a struct path (``metadata.text``) of one record in place; whether
    it changed. A path that is absent or not a string here changes nothing."""
    holder: Any = record
    for part in parts[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or len(parts) < 2:
        return False
    value = holder.get(parts[-1])
    if not isinstance(value, str) or not SURROGATE.search(value):
        return False
    holder[parts[-1]] = replace_invalid_text(value)
    return True


def _arrow_problem(exc: BaseException, block: Block) -> str:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    message = ARROW_COLUMN.sub(lambda m: f"column {m.group(1).replace('/', '.')!r}", message)
    return f"lines {block.first_line}-{block.last_line}: {message}"


def is_valid_utf8(data: bytes) -> bool:
    """Arrow's UTF-8 validation over the bytes, without decoding them to a Python str."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def parse_block(
    block: Block, shard: InputShard, text_column: str, schema: pa.Schema | None, *, only_listed: bool = False
) -> tuple[pa.Table, int]:
    """The block as a table (``schema``'s types, or inferred when None; with ``only_listed``
    other fields are skipped) and the number of rows whose text was repaired."""
    # pyarrow's JSON parser copies invalid UTF-8 into string columns as it is, so it is
    # checked first; a lone surrogate escape it refuses.
    first_error: BaseException | None = None
    if is_valid_utf8(block.data):
        try:
            return _arrow_parse(block.data, schema, only_listed), 0
        except pa.ArrowInvalid as exc:
            first_error = exc
    data, repaired = _repair_lines(block, shard, text_column, every_line=False)
    if repaired:
        try:
            return _arrow_parse(data, schema, only_listed), repaired
        except pa.ArrowInvalid as exc:
            first_error = exc
    # Not (only) invalid text: name the line pyarrow refused, if Python's json refuses it too.
    _repair_lines(block, shard, text_column, every_line=True)
    if first_error is None:
        raise BadInputError(shard.path, f"lines {block.first_line}-{block.last_line}: invalid UTF-8 outside strings")
    raise BadInputError(shard.path, _arrow_problem(first_error, block)) from first_error


def json_types(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every inferred timestamp or date back to the string it was in the file."""
    return pa.schema([item.with_type(_strings_for_times(item.type)) for item in schema])


def _strings_for_times(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct(
            [kind.field(i).with_type(_strings_for_times(kind.field(i).type)) for i in range(kind.num_fields)]
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        value = kind.value_field.with_type(_strings_for_times(kind.value_type))
        return pa.large_list(value) if pa.types.is_large_list(kind) else pa.list_(value)
    return kind


def infer_schema(shard: InputShard, options: ReadOptions, stop: Callable[[], bool] = lambda: False) -> pa.Schema | None:
    """The file's schema over every block (None for a file without rows; stops early,
    returning None, once ``stop()`` is true). Raises BadInputError for a corrupt file or a
    column whose types cannot be unified."""
    unified: pa.Schema | None = None
    for block in blocks(shard, options):
        if stop():
            return None
        table, _ = parse_block(block, shard, options.text_column, None)
        if table.num_rows == 0:
            continue
        schema = json_types(table.schema)
        try:
            unified = schema if unified is None else unify(unified, schema)
        except SchemaConflict as conflict:
            raise BadInputError(
                shard.path,
                f"column {conflict.column!r} is {conflict.later} in lines {block.first_line}-{block.last_line} "
                f"but {conflict.earlier} in earlier lines; make it one type",
            ) from conflict
    return unified


def read_tables(
    shard: InputShard, options: ReadOptions, schema: pa.Schema, columns: list[str] | None
) -> Iterator[tuple[pa.Table, int]]:
    """Every block parsed with ``schema`` (restricted to ``columns`` when given), with the
    number of rows whose text was repaired."""
    only_listed = columns is not None
    if columns is not None:
        tops = {top_level(c, schema.names) for c in columns}
        schema = pa.schema([item for item in schema if item.name in tops])
    for block in blocks(shard, options):
        yield parse_block(block, shard, options.text_column, schema, only_listed=only_listed)
