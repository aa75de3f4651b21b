"""Reading a WARC, ARC or WET file as Arrow batches of records, surviving damaged records.

warcio parses the records (WARC 1.0/1.1, ARC v1 converted to WARC, per-record gzip or
plain). Every record becomes one row, kept or not, so that records in = kept + rejected:
the ingest stage decides, and the reader already marks what it knows (``_read_reason``):
not a response, not HTML, an HTTP error, truncated, larger than the cap.

A damaged record (a gzip member cut short, a Content-Length that lies, bytes that are not a
record) becomes one row with ``ingest:truncated_record`` or ``ingest:corrupt_record``, and
reading goes on from the next record found after it: the next gzip member that opens with a
WARC header, or the next ``WARC/1.`` line of a plain file. A file in which no record can be
read at all is not a web archive: :class:`~curate.errors.BadInputError`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa

from curate.errors import BadInputError
from curate.ingest.formats import warc_read_schema
from curate.io.discovery import InputShard

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RECORD_TYPES_KEPT = frozenset({"response", "conversion"})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_SCAN_BYTES = 1 << 20
# A batch ends at this many payload bytes too, whatever its row count: 256 pages near the size
# cap would otherwise hold more than a GiB.
BATCH_PAYLOAD_BYTES = 64 << 20
_MAX_RESYNC_SCAN = 64 << 20


@dataclass(frozen=True)
class RecordLimits:
    """``max_payload_bytes``: a larger payload is not read (``ingest:too_large``)."""

    max_payload_bytes: int


def _media_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    media = value.split(";", 1)[0].strip().lower() or None
    found = _CHARSET.search(value)
    return media, (found.group(1).lower() if found else None)


def _drain(stream: Any) -> None:
    while stream.read(1 << 16):
        pass


class _Rows:
    """Column lists of the batch being built."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in warc_read_schema("text").names if name != "text"}

    payload_bytes = 0

    def add(self, **values: Any) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))
        self.payload_bytes += len(values.get("_payload") or b"")

    def full(self, batch_rows: int) -> bool:
        return len(self) >= batch_rows or self.payload_bytes >= BATCH_PAYLOAD_BYTES

    def __len__(self) -> int:
        return len(self.columns["id"])

    def batch(self, text_column: str) -> pa.RecordBatch:
        schema = warc_read_schema(text_column)
        arrays = []
        for item in schema:
            if item.name == text_column:
                arrays.append(pa.nulls(len(self), pa.large_string()))
            else:
                arrays.append(pa.array(self.columns[item.name], item.type))
        self.columns = {name: [] for name in self.columns}
        self.payload_bytes = 0
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _record_row(record: Any, shard: InputShard, limits: RecordLimits) -> dict[str, Any]:
    """The row of one record, its payload read (at most the cap) and the rest drained.
    ``id`` is None where the caller derives it from the offset (ARC records have no id;
    warcio's conversion would make up a random one)."""
    headers = record.rec_headers
    rec_type = record.rec_type
    is_arc = shard.path.lower().endswith((".arc", ".arc.gz"))
    row: dict[str, Any] = {
        "id": None if is_arc else headers.get_header("WARC-Record-ID"),
        "url": headers.get_header("WARC-Target-URI"),
        "date": headers.get_header("WARC-Date"),
        "_warc_type": rec_type,
    }
    reason = None
    if rec_type not in RECORD_TYPES_KEPT:
        reason = "ingest:not_response"
    elif rec_type == "conversion":  # WET: text already extracted
        media, charset = _media_type(headers.get_header("Content-Type"))
        row.update(content_type=media or "text/plain", _http_charset=charset or "utf-8")
    else:
        http = record.http_headers
        status = http.get_statuscode() if http is not None else None
        media, charset = _media_type(http.get_header("Content-Type") if http is not None else None)
        row.update(content_type=media, _http_charset=charset)
        try:
            row["_http_status"] = int(status) if status else None
        except ValueError:
            row["_http_status"] = None
        if row["_http_status"] is None or not 200 <= row["_http_status"] < 300:
            reason = "ingest:http_status"
        elif media not in HTML_TYPES:
            reason = "ingest:non_html"
    if headers.get_header("WARC-Truncated"):
        reason = "ingest:truncated_record"
    if reason is None:
        try:
            payload = record.content_stream().read(limits.max_payload_bytes + 1)
        except (OSError, ValueError, EOFError, zlib.error):
            payload, reason = None, "ingest:bad_content_encoding"
        if payload is not None and len(payload) > limits.max_payload_bytes:
            payload, reason = None, "ingest:too_large"
        row["_payload"] = payload
    _drain(record.raw_stream)
    if getattr(record.raw_stream, "limit", 0) > 0:  # fewer bytes than Content-Length said
        row["_payload"], reason = None, "ingest:truncated_record"
    row["_read_reason"] = reason
    return row


def _is_gzip(handle: IO[bytes]) -> bool:
    handle.seek(0)
    magic = handle.read(2)
    handle.seek(0)
    return magic == b"\x1f\x8b"


def _next_record_start(handle: IO[bytes], after: int, gzipped: bool) -> int | None:
    """The offset of the next readable record after ``after``: a gzip member that opens
    with a WARC header, or a ``WARC/1.`` line (None when there is none)."""
    marker = b"\x1f\x8b\x08" if gzipped else b"\nWARC/1."
    position = after + 1
    scanned = 0
    while scanned < _MAX_RESYNC_SCAN:
        handle.seek(position)
        chunk = handle.read(_SCAN_BYTES + len(marker))
        if len(chunk) < len(marker):
            return None
        found = chunk.find(marker)
        while found >= 0:
            candidate = position + found
            if not gzipped:
                return candidate + 1
            handle.seek(candidate)
            try:
                head = zlib.decompressobj(31).decompress(handle.read(4096), 16)
            except zlib.error:
                head = b""
            if head.startswith(b"WARC/"):
                return candidate
            found = chunk.find(marker, found + 1)
        position += _SCAN_BYTES
        scanned += _SCAN_BYTES
    return None


def warc_batches(
    shard: InputShard, text_column: str, batch_rows: int, limits: RecordLimits
) -> Iterator[pa.RecordBatch]:
    """The rows of every record of ``shard``, in file order, ``batch_rows`` at a time."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    is_arc = shard.path.lower().endswith((".arc", ".arc.gz"))

    class _Iterator(ArchiveIterator):  # type: ignore[misc]
        def _consume_blanklines(self) -> tuple[bytes | None, int]:
            """The blank lines after a record, and the next line. warcio skips a first line
            that is not blank with a warning on stderr; curate keeps it: in a WARC it is a
            record whose Content-Length was too short (counted in ``err_count``, and the line
            is then not a record header: a corrupt record, read past), in Common Crawl's
            2008 ARC files it is the next record's header (no blank line between records)."""
            empty_size = 0
            first = True
            while True:
                line = self.reader.readline()
                if not line:
                    return None, empty_size
                if not line.rstrip():
                    empty_size += len(line)
                    first = False
                    continue
                if first and not is_arc:
                    self.err_count += 1
                return line, empty_size

    rows = _Rows()
    read_any = False
    with shard.filesystem.open_input_file(shard.path) as raw:
        handle: IO[bytes] = raw  # type: ignore[assignment]
        gzipped = _is_gzip(handle)
        start = 0
        while True:
            handle.seek(start)
            iterator = _Iterator(handle, arc2warc=True)
            # One format per file, by its name: a stray line in a WARC is then an error, not
            # taken for an ARC header.
            iterator.known_format = "arc" if is_arc else "warc"
            last_end = start
            failure: str | None = None
            try:
                for record in iterator:
                    try:
                        errors = iterator.err_count
                        row = _record_row(record, shard, limits)
                        # (warcio knows a record's offset once it has read the record)
                        offset = start + iterator.get_record_offset()
                        last_end = offset + iterator.get_record_length()
                        if iterator.err_count > errors:  # more bytes than its Content-Length said
                            row["_payload"], row["_read_reason"] = None, "ingest:truncated_record"
                    except (OSError, ValueError, EOFError, zlib.error):
                        failure = "ingest:truncated_record"
                        url = record.rec_headers.get_header("WARC-Target-URI")
                        rows.add(
                            id=f"<urn:curate:{shard.name}#{last_end}>",
                            url=url,
                            _offset=last_end,
                            _warc_type=record.rec_type,
                            _read_reason=failure,
                        )
                        break
                    row["_offset"] = offset
                    row["id"] = row["id"] or f"<urn:curate:{shard.name}#{offset}>"
                    rows.add(**row)
                    read_any = True
                    if rows.full(batch_rows):
                        yield rows.batch(text_column)
            except (ArchiveLoadFailed, OSError, ValueError, EOFError, zlib.error) as exc:
                if not read_any and start == 0 and last_end == 0:
                    raise BadInputError(
                        shard.path, f"not a WARC, ARC or WET file ({str(exc).splitlines()[0][:200]})"
                    ) from exc
                failure = "ingest:corrupt_record"
                rows.add(id=f"<urn:curate:{shard.name}#{last_end}>", _offset=last_end, _read_reason=failure)
            if failure is None:
                break
            resume = _next_record_start(handle, last_end, gzipped)
            if resume is None or resume <= start:
                break
            start = last_end = resume
    if len(rows) or not read_any:
        yield rows.batch(text_column)
