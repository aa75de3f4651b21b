"""Words, lines and paragraphs of every row of an Arrow string array, computed over the whole array at once.

The heuristic filters (Gopher, C4, FineWeb) share these definitions, so that a "word" or a "line" means the
same thing in every rule set and in every report:

- **word**: a maximal run of non-whitespace characters, i.e. Python's ``str.split()`` with no argument.
  Whitespace is ``str.isspace()`` (Unicode: bidirectional class WS, B or S, or category Zs): the
  characters of :data:`WHITESPACE`. Punctuation stays attached (``"end."`` is one word of 4
  characters); a text in a script written without spaces (Chinese, Japanese, Thai) is a few very long words.
- **line**: the text between line breaks (``\\n``, ``\\r\\n`` or a lone ``\\r``) with surrounding whitespace
  removed; blank lines (empty after stripping) are not lines. This is the definition of ``curate dedup
  lines`` too (minus its NFC key normalisation).
- **paragraph**: a maximal run of consecutive lines (a blank line ends a paragraph); its text is its lines
  joined by ``\\n``.
- character counts are Unicode code points (``len(str)``).

A null row has no words, lines or paragraphs and 0 characters. Every function takes a ``pa.Array`` or
``pa.ChunkedArray`` of ``string`` / ``large_string`` and returns row-aligned results: list arrays of type
``large_list<large_string>`` without nulls, or numpy arrays. Per-row aggregates of list elements are
``per_row(items, values)`` (a ``np.bincount`` over :func:`item_rows`). Nothing loops over rows in Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["WHITESPACE", "char_counts", "item_rows", "lines", "paragraphs", "per_row", "words"]

_LINE_BREAK = r"\r\n|\r|\n"
# Python's str.isspace() characters, spelled out: RE2's \s is ASCII only, and Arrow's utf8_split_whitespace
# (pyarrow 26) sometimes returns a trailing "\n" as a word for text ending in "\r\n" (it reads past the value).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_RUN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]+"


def _strings(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"texts must be a string or large_string array, got {texts.type}")
    return texts


def _list_without_nulls(parts: pa.Array) -> pa.LargeListArray:
    """``parts`` (a list array, nulls allowed) as ``large_list<large_string>`` with null rows empty."""
    lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = pc.list_flatten(parts).cast(pa.large_string())
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)


def words(texts: pa.Array | pa.ChunkedArray) -> pa.LargeListArray:
    """The words of every row (``str.split()``), in order."""
    array = _strings(texts)
    # Leading or trailing whitespace gives an empty first or last piece: dropped below.
    split = _list_without_nulls(pc.split_pattern_regex(array, _WHITESPACE_RUN))
    values = pc.list_flatten(split)
    keep = pc.greater(pc.binary_length(values), 0)
    return _nested(values.filter(keep), item_rows(split)[keep.to_numpy(zero_copy_only=False)], len(array))


def _raw_lines(texts: pa.Array) -> tuple[pa.Array, NDArray[np.int64], NDArray[np.bool_]]:
    """Every line of every row, stripped (blank ones included), its row, and whether it starts its row."""
    split = pc.split_pattern_regex(texts, _LINE_BREAK)
    rows = item_rows(_list_without_nulls(split))
    stripped = pc.utf8_trim(pc.list_flatten(split), WHITESPACE).cast(pa.large_string())
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    return stripped, rows, first


def _nested(values: pa.Array, rows: NDArray[np.int64], n: int) -> pa.LargeListArray:
    """``values`` (ordered by row) grouped into one list per row of ``n`` rows."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)


def lines(texts: pa.Array | pa.ChunkedArray) -> pa.LargeListArray:
    """The non-blank lines of every row, stripped of surrounding whitespace, in order."""
    array = _strings(texts)
    stripped, rows, _ = _raw_lines(array)
    keep = pc.greater(pc.utf8_length(stripped), 0)
    return _nested(stripped.filter(keep), rows[keep.to_numpy(zero_copy_only=False)], len(array))


def paragraphs(texts: pa.Array | pa.ChunkedArray) -> pa.LargeListArray:
    """The paragraphs of every row (runs of non-blank lines, joined by ``\\n``), in order."""
    array = _strings(texts)
    stripped, rows, first = _raw_lines(array)
    blank = ~pc.greater(pc.utf8_length(stripped), 0).to_numpy(zero_copy_only=False)
    previous_blank = np.ones(len(blank), dtype=bool)
    previous_blank[1:] = blank[:-1]
    starts = ~blank & (first | previous_blank)
    kept = ~blank
    # Offsets of each paragraph within the non-blank lines, then one list of lines per paragraph.
    line_offsets = np.flatnonzero(starts[kept]).astype(np.int64)
    line_offsets = np.append(line_offsets, np.int64(kept.sum()))
    grouped = pa.LargeListArray.from_arrays(pa.array(line_offsets, pa.int64()), stripped.filter(pa.array(kept)))
    joined = pc.binary_join(grouped, pa.scalar("\n", pa.large_string()))
    return _nested(joined, rows[starts], len(array))


def item_rows(items: pa.LargeListArray | pa.ListArray) -> NDArray[np.int64]:
    """The row of every element of a list array returned by this module (``len = total elements``)."""
    return np.asarray(pc.list_parent_indices(items).to_numpy(zero_copy_only=False), dtype=np.int64)


def per_row(items: pa.LargeListArray | pa.ListArray, values: NDArray[np.generic] | None = None) -> NDArray[np.float64]:
    """Sum per row of ``values`` (one number or bool per element of ``items``); the element count without.

    Rows without elements get 0. Counts are exact (float64 holds integers up to 2**53).
    """
    weights = None if values is None else np.asarray(values, dtype=np.float64)
    return np.bincount(item_rows(items), weights=weights, minlength=len(items)).astype(np.float64)


def char_counts(texts: pa.Array | pa.ChunkedArray) -> NDArray[np.int64]:
    """Characters (code points) of every row; 0 for null."""
    lengths = pc.fill_null(pc.utf8_length(_strings(texts)), 0)
    return np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
