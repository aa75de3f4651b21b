"""Gopher rule statistics (curate/filters/rules/gopher_quality.py, gopher_repetition.py).

Words, lines, paragraphs and characters as defined in ``curate/filters/text_stats.py`` (``str.split()``
words; stripped non-blank lines; runs of lines). The exact definitions are in ``rust_ext/src/text_stats.rs``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native
from curate.kernel._binding import check_int, check_str_list, concat, numbers, over_chunks

GOPHER_QUALITY_COUNTS: tuple[str, ...] = tuple(_native.QUALITY_COLUMNS)
"""Names of :func:`gopher_quality_counts`' arrays: ``chars``, ``words`` (all words), ``counted_words`` (words
holding an alphanumeric character), ``counted_word_chars`` (their characters), ``alpha_words`` (words holding an
alphabetic character), ``hashes`` (``#``), ``ellipses`` (non-overlapping ``...`` plus ``…``), ``lines``,
``bullet_lines``, ``ellipsis_lines`` (ending with ``...`` or ``…``), ``stop_words`` (distinct stop words present),
``letters`` (alphabetic characters), ``unspaced_letters`` (those of scripts written without spaces)."""
GOPHER_REPETITION_COUNTS: tuple[str, ...] = tuple(_native.REPETITION_COLUMNS)
"""Names of :func:`gopher_repetition_counts`' fixed arrays: ``chars``, ``words``, ``letters``,
``unspaced_letters``, ``lines``, ``dup_lines``, ``dup_line_chars``, ``paragraphs``, ``dup_paragraphs``,
``dup_paragraph_chars``; then ``top_<n>gram_chars`` and ``dup_<n>gram_chars`` for each n asked for."""
MAX_STAT_NGRAM: int = _native.MAX_STAT_NGRAM
MAX_STOP_WORDS: int = _native.MAX_STOP_WORDS


def _count_matrix(
    texts: pa.Array | pa.ChunkedArray, width: int, function: Callable[..., bytearray], args: tuple[object, ...]
) -> NDArray[np.int64]:
    """The ``(rows, width)`` counts of a Gopher statistics kernel over every chunk of ``texts``."""
    chunks = over_chunks(texts, lambda arrays, row_base: function(*arrays, *args, row_base))
    parts = [numbers(raw, np.uint64, n, width).astype(np.int64) for n, raw in chunks]
    return concat(parts, np.zeros((0, width), np.int64))


def gopher_quality_counts(
    texts: pa.Array | pa.ChunkedArray, *, stop_words: list[str] | tuple[str, ...], bullets: list[str] | tuple[str, ...]
) -> dict[str, NDArray[np.int64]]:
    """The counts behind the Gopher quality rules for every row, by the names in :data:`GOPHER_QUALITY_COUNTS`.

    ``stop_words`` are matched case-insensitively against words stripped of non-alphanumeric characters at both
    ends; ``bullets`` are the prefixes that make a (stripped) line a bullet line. Null rows count as empty.
    Raises ``ValueError`` for more than :data:`MAX_STOP_WORDS` stop words, an empty or multi-word stop word, an
    empty bullet, or (naming the row) a value that is not valid UTF-8.
    """
    args = (check_str_list("stop_words", stop_words), check_str_list("bullets", bullets))
    matrix = _count_matrix(texts, len(GOPHER_QUALITY_COUNTS), _native.gopher_quality_stats, args)
    return {name: matrix[:, i] for i, name in enumerate(GOPHER_QUALITY_COUNTS)}


def gopher_repetition_counts(
    texts: pa.Array | pa.ChunkedArray,
    *,
    top_ngrams: list[int] | tuple[int, ...],
    dup_ngrams: list[int] | tuple[int, ...],
) -> dict[str, NDArray[np.int64]]:
    """The counts behind the Gopher repetition rules for every row (see :data:`GOPHER_REPETITION_COUNTS`).

    ``top_<n>gram_chars``: characters of the text covered by the occurrences of its most frequent word n-gram
    (0 if no n-gram occurs twice). ``dup_<n>gram_chars``: characters covered by the occurrences of n-grams that
    occurred earlier in the text. Overlapping occurrences count each character once. Null rows count as empty.
    Raises ``ValueError`` for an n outside 1..:data:`MAX_STAT_NGRAM` or a value that is not valid UTF-8.
    """
    top = [check_int("top n-gram size", n, 1, MAX_STAT_NGRAM) for n in top_ngrams]
    dup = [check_int("duplicate n-gram size", n, 1, MAX_STAT_NGRAM) for n in dup_ngrams]
    names = list(GOPHER_REPETITION_COUNTS) + [f"top_{n}gram_chars" for n in top] + [f"dup_{n}gram_chars" for n in dup]
    if len(set(names)) != len(names):
        raise ValueError("n-gram sizes must not repeat")
    matrix = _count_matrix(texts, len(names), _native.gopher_repetition_stats, (top, dup))
    return {name: matrix[:, i] for i, name in enumerate(names)}
