"""Which file names are web archives, and the columns a web-archive shard is read as.

Kept apart from the reader so that discovery can tell a WARC file from a JSONL one without
importing the archive library.
"""

from __future__ import annotations

import pyarrow as pa

# .warc.wet.gz and .warc.wat.gz end in .gz after .wet/.wat: listed by their last two parts.
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz")


def is_web_archive(path: str) -> bool:
    return path.lower().endswith(WARC_SUFFIXES)


def warc_read_schema(text_column: str) -> pa.Schema:
    """One row per archive record. Columns starting with ``_`` are what the ingest stage
    decides from and removes; ``_read_reason`` is set when the reader already knows the record
    is not kept (not a response, not HTML, an HTTP error, truncated, too large)."""
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("url", pa.string()),
            pa.field("date", pa.string()),
            pa.field(text_column, pa.large_string()),
            pa.field("content_type", pa.string()),
            pa.field("_warc_type", pa.string()),
            pa.field("_http_status", pa.int32()),
            pa.field("_offset", pa.int64()),
            pa.field("_http_charset", pa.string()),
            pa.field("_payload", pa.large_binary()),
            pa.field("_read_reason", pa.string()),
        ]
    )


INTERNAL_COLUMNS = ("_warc_type", "_http_status", "_offset", "_http_charset", "_payload", "_read_reason")
