"""Exact dedup: content hashes of whole texts and hashes of their repeated segments (lines, paragraphs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native
from curate.kernel._binding import capsules, check_choice, concat, large_strings, numbers, over_chunks, single_array

Level: TypeAlias = Literal["none", "basic", "aggressive"]
Unit: TypeAlias = Literal["line", "paragraph", "sentences3"]
_LEVELS = ("none", "basic", "aggressive")
_UNITS = ("line", "paragraph", "sentences3")


def _check_unit(unit: object) -> None:
    check_choice("unit", unit, _UNITS, f"one of {', '.join(_UNITS)}")


def content_hashes(texts: pa.Array | pa.ChunkedArray, *, level: Level) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """xxh3-128 of every row under a normalisation ``level``, as ``(hi, lo)`` uint64 arrays.

    ``none`` hashes the UTF-8 bytes; ``basic`` applies NFC, turns CRLF / CR into LF and strips whitespace
    (``str.isspace``) at the end of every line and at both ends of the text; ``aggressive`` is
    :func:`normalize_text`. Null rows hash like the empty string: callers mask them.
    """
    check_choice("level", level, _LEVELS, "none, basic or aggressive")
    chunks = over_chunks(texts, lambda arrays, row_base: _native.content_hashes(*arrays, level, row_base))
    empty = np.zeros(0, np.uint64)
    return (
        concat([numbers(hi, np.uint64) for _, (hi, _) in chunks], empty),
        concat([numbers(lo, np.uint64) for _, (_, lo) in chunks], empty),
    )


def segment_hashes(texts: pa.Array | pa.ChunkedArray, *, unit: Unit) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Every non-blank line (or paragraph: a run of non-blank lines; or window of three consecutive sentences)
    of every row, in order.

    Returns ``(rows, hashes)``: the row of each segment and the xxh3-64 of its key (the line with surrounding
    whitespace removed, NFC; a paragraph's lines joined by ``\\n``). Blank lines are never segments.
    """
    _check_unit(unit)
    chunks = over_chunks(texts, lambda arrays, row_base: (row_base, _native.segment_hashes(*arrays, unit, row_base)))
    return (
        concat(
            [numbers(rows, np.uint32).astype(np.int64) + row_base for _, (row_base, (rows, _)) in chunks],
            np.zeros(0, np.int64),
        ),
        concat([numbers(hashes, np.uint64) for _, (_, (_, hashes)) in chunks], np.zeros(0, np.uint64)),
    )


@dataclass(frozen=True)
class SegmentRemoval:
    """The texts without the dropped segments (nulls stay null), and per row the number of segments and
    characters removed and the words left (``str.split()`` words)."""

    texts: pa.LargeStringArray
    segments_removed: NDArray[np.uint32]
    chars_removed: NDArray[np.uint64]
    words_left: NDArray[np.uint64]


def remove_segments(texts: pa.Array | pa.ChunkedArray, drop: NDArray[np.bool_], *, unit: Unit) -> SegmentRemoval:
    """Remove the segments flagged in ``drop`` (aligned with :func:`segment_hashes`' output) with the line
    breaks that end them; for ``sentences3`` every sentence of a flagged window goes (and ``segments_removed``
    counts sentences). Raises ``ValueError`` if ``drop`` does not have one flag per segment."""
    _check_unit(unit)
    flags = np.ascontiguousarray(drop, dtype=np.uint8)
    array = single_array(texts)
    offsets, data, validity, removed, chars, words = _native.remove_segments(*capsules(array), unit, flags.tobytes(), 0)
    return SegmentRemoval(
        texts=large_strings(len(array), (offsets, data, validity)),
        segments_removed=numbers(removed, np.uint32),
        chars_removed=numbers(chars, np.uint64),
        words_left=numbers(words, np.uint64),
    )
