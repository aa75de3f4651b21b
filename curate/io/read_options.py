"""How input shards are read (columns, batch size, the decompression cap) and what reading counted."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BATCH_ROWS = 8192
# Web text in JSONL compresses 3-10x (gzip) and rarely past 20x (zstd --long on boilerplate-heavy
# crawls); a decompression bomb expands 1,000x and more. 100x leaves real data 5-10x of headroom
# and stops a 15 MB bomb after 1.5 GB, a few seconds of work, instead of 3 GB.
DEFAULT_MAX_EXPANSION = 100
# A small shard may always expand this far: a tiny file with a high ratio is harmless.
DECOMPRESSION_FLOOR_BYTES = 256 << 20


@dataclass(frozen=True)
class ReadOptions:
    """Which columns carry the text and the id. ``id_column=None`` or a missing default
    ``id`` column means ids are derived as ``<shard name>#<row>`` (stable across re-runs
    of the same files).

    A compressed shard may decompress to ``max_expansion`` times its size (at least
    ``DECOMPRESSION_FLOOR_BYTES``; 0 = no cap), or exactly ``max_decompressed_bytes`` when
    that is set; past the cap it is treated as corrupt (a decompression bomb).

    ``text_required``: a shard without the text column is refused. Image datasets have no text,
    so a run whose stages read no text column (``curate hash images``, ``dedup images``) reads
    with it off: the text column is then canonicalised where present and passed over where not."""

    text_column: str = "text"
    id_column: str = "id"
    id_column_explicit: bool = False
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_expansion: int = DEFAULT_MAX_EXPANSION
    max_decompressed_bytes: int | None = None
    text_required: bool = True

    def decompressed_cap(self, compressed_bytes: int) -> int | None:
        """The most bytes a compressed shard of this size may expand to (None: no cap)."""
        if self.max_decompressed_bytes is not None:
            return self.max_decompressed_bytes
        if self.max_expansion <= 0:
            return None
        return max(DECOMPRESSION_FLOOR_BYTES, self.max_expansion * compressed_bytes)


@dataclass
class ReadCounters:
    rows: int = 0
    invalid_utf8_rows: int = 0
    extra: dict[str, int] = field(default_factory=dict)
