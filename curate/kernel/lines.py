"""Line rules of the C4 and FineWeb filters (curate/filters/rules/c4.py, fineweb.py).

Definitions are in rust_ext/src/line_rules.rs: lines split at \\n, \\r\\n or a lone \\r (blank ones skipped),
words as str.split(), "punctuation or symbol" = general category P*/S*, sentence terminals = the Unicode
Sentence_Terminal property.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native
from curate.kernel._binding import (
    U64_MAX,
    check_int,
    check_str,
    concat,
    concat_strings,
    large_strings,
    numbers,
    over_chunks,
)

C4_LINE_COLUMNS: tuple[str, ...] = tuple(_native.C4_COLUMNS)
"""Per-row counts of :func:`c4_line_rules`, in order: non-blank lines, lines kept, sentences in kept lines,
lines removed for a too long word / no terminal punctuation / too few words / ``javascript`` / a policy
phrase, and ``document_rule`` (0 none, 1 ``lorem ipsum``, 2 ``{``: the first met in line order)."""
FINEWEB_LINE_COLUMNS: tuple[str, ...] = tuple(_native.FINEWEB_COLUMNS)
"""Per-row counts of :func:`fineweb_line_stats`, in order: non-blank lines, lines ending with a stop
character, lines of at most ``short_line_length`` characters, characters of lines identical to an earlier
line, characters other than line breaks, line breaks, word tokens."""
_TERMINALS, _PUNCT_OR_SYMBOL = _native.line_rule_tables()
SENTENCE_TERMINALS: str = _TERMINALS
"""Every character with the Unicode ``Sentence_Terminal`` property (Unicode 14), in code point order."""
PUNCT_OR_SYMBOL_RANGES: tuple[tuple[int, int], ...] = tuple(_PUNCT_OR_SYMBOL)
"""Inclusive code point ranges of general categories P* and S* (Unicode 14)."""


@dataclass(frozen=True)
class C4LineRules:
    """Row-aligned outcome of :func:`c4_line_rules`: counts by :data:`C4_LINE_COLUMNS` name (uint64, zeros
    for null rows) and, if asked for, the texts rewritten to their kept lines (nulls stay null)."""

    counts: dict[str, NDArray[np.uint64]]
    texts: pa.LargeStringArray | None


def c4_line_rules(
    texts: pa.Array | pa.ChunkedArray,
    *,
    terminal_punctuation: str,
    filter_no_terminal_punct: bool,
    remove_citations: bool,
    max_word_length: int | None,
    min_words_per_line: int,
    filter_lorem_ipsum: bool,
    filter_javascript: bool,
    filter_curly_bracket: bool,
    filter_policy: bool,
    rewrite: bool,
) -> C4LineRules:
    """The C4 line rules over every row (Raffel et al. 2020, §2.2; see ``rust_ext/src/line_rules.rs``).

    ``terminal_punctuation``: the characters a kept line may end with (not empty when the rule is on);
    ``max_word_length`` None disables that rule. Raises ``ValueError`` for bad arguments and, naming the
    row, for a value that is not valid UTF-8.
    """
    terminal = check_str("terminal_punctuation", terminal_punctuation)
    if filter_no_terminal_punct and not terminal:
        raise ValueError("terminal_punctuation must not be empty when filter_no_terminal_punct is on")
    max_length = None if max_word_length is None else check_int("max_word_length", max_word_length, 0, U64_MAX)
    min_words = check_int("min_words_per_line", min_words_per_line, 0, U64_MAX)
    chunks = over_chunks(
        texts,
        lambda arrays, row_base: _native.c4_lines(
            *arrays,
            terminal=terminal,
            filter_no_terminal_punct=bool(filter_no_terminal_punct),
            remove_citations=bool(remove_citations),
            max_word_length=max_length,
            min_words_per_line=min_words,
            filter_lorem_ipsum=bool(filter_lorem_ipsum),
            filter_javascript=bool(filter_javascript),
            filter_curly_bracket=bool(filter_curly_bracket),
            filter_policy=bool(filter_policy),
            rewrite=bool(rewrite),
            row_base=row_base,
        ),
    )
    width = len(C4_LINE_COLUMNS)
    table = concat([numbers(raw, np.uint64, n, width) for n, (raw, _) in chunks], np.zeros((0, width), np.uint64))
    out_texts: pa.LargeStringArray | None = None
    if rewrite:
        out_texts = concat_strings([large_strings(n, text) for n, (_, text) in chunks if text is not None])
    return C4LineRules(
        counts={name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(C4_LINE_COLUMNS)},
        texts=out_texts,
    )


def fineweb_line_stats(
    texts: pa.Array | pa.ChunkedArray, *, stop_chars: str | None, short_line_length: int
) -> dict[str, NDArray[np.uint64]]:
    """The FineWeb line counts of every row by :data:`FINEWEB_LINE_COLUMNS` name (uint64, zeros for null rows;
    Penedo et al. 2024; see ``rust_ext/src/line_rules.rs``). Lines are measured as written, not stripped.

    ``stop_chars``: the characters a punctuated line ends with; None for :data:`SENTENCE_TERMINALS`.
    Raises ``ValueError`` for an empty ``stop_chars`` and, naming the row, for invalid UTF-8.
    """
    stops = None if stop_chars is None else check_str("stop_chars", stop_chars)
    short = check_int("short_line_length", short_line_length, 0, U64_MAX)
    chunks = over_chunks(
        texts,
        lambda arrays, row_base: _native.fineweb_lines(
            *arrays, stop_chars=stops, short_line_length=short, row_base=row_base
        ),
    )
    width = len(FINEWEB_LINE_COLUMNS)
    table = concat([numbers(raw, np.uint64, n, width) for n, raw in chunks], np.zeros((0, width), np.uint64))
    return {name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(FINEWEB_LINE_COLUMNS)}
