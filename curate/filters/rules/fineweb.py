"""``fineweb``: the custom quality filters of FineWeb (Penedo et al. 2024, "The FineWeb Datasets: Decanting the
Web for the Finest Text Data at Scale", arXiv:2406.17557, the heuristic filters added after C4's; implemented
in datatrove as ``FineWebQualityFilter``).

Lines are the non-blank lines of the text, taken **as written**: split at ``\\n`` (``\\r\\n`` and a lone
``\\r`` also break a line), a line of whitespace only skipped, nothing stripped, so a line's length counts
its indentation and trailing spaces, and a line ending with ``". "`` does not end with punctuation. This is
how datatrove measures them, and it matters: stripping the lines changes 10 of the 697 decisions on the
shared Common Crawl sample. A document is dropped, with the code of the first rule it fails (in this order):

1. ``fineweb:empty``: no non-blank line (null, empty or whitespace-only text);
2. ``fineweb:line_punct_ratio``: fewer than ``--min-punctuated-lines-fraction`` (0.12) of its lines end with a
   terminal punctuation character (``--stop-chars``; by default every character with the Unicode
   ``Sentence_Terminal`` property: ``. ! ?`` and ``。 ！ ？ ؟ । ۔ ።`` ..., so Chinese, Arabic or Hindi prose
   counts as punctuated; quotes and ``…`` do not). With ``--punctuation-exclude-zero`` a document with no
   punctuated line at all is not dropped by this rule (datatrove's ``line_punct_exclude_zero``);
3. ``fineweb:short_line_ratio``: more than ``--max-short-lines-fraction`` (0.67) of its lines have at most
   ``--short-line-length`` (30) characters;
4. ``fineweb:char_dup_ratio``: the characters of lines identical to an earlier line (compared as written) make
   more than ``--max-duplicate-line-chars-fraction`` (0.01) of all characters other than line breaks;
5. ``fineweb:list_ratio``: more than ``--max-line-breaks-per-word`` (0.3) line breaks per word token.

**Thresholds.** 0.12, 0.67 / 30 and 0.3 are the paper's and datatrove's. For duplicated lines the paper's
text gives 0.1 while datatrove's ``FineWebQualityFilter``, which built FineWeb, uses 0.01; curate follows the
code (``--max-duplicate-line-chars-fraction 0.1`` gives the paper's wording). A ratio at its threshold keeps
the document, as in datatrove (``<`` for the minimum, ``>`` for the maxima).

**Word tokens** (rule 5) approximate spaCy's English tokenizer, which datatrove uses, without a model: each
whitespace-separated word is one token, plus one per leading or trailing punctuation or symbol character
(``...`` is one), plus the pieces split off inside it by ``: / = < >`` before a letter and ``- – — ,``
between letters (not in URLs or e-mail addresses), plus one for an English contraction (``'s``, ``n't``).
Counting whitespace-separated words instead would change 4 of the 697 decisions; these tokens change none.
``rust_ext/src/line_rules.rs`` defines them exactly.

**What it drops that one might not expect** (datatrove drops the same documents):

- *hard-wrapped text*, such as Project Gutenberg files wrapped at ~70 characters: most lines end in the middle
  of a sentence, so rule 2 drops it (99% of raw Gutenberg chapters; 6% once paragraphs are joined into lines);
- *scripts written without spaces* (Chinese, Japanese): a line is one or two word tokens, so a document of
  three or more lines has more than 0.3 line breaks per token and goes by rule 5. Thai, which ends sentences
  with a space rather than a mark, goes by rule 2. Arabic (``؟``, ``.``), Hindi (``।``) and Cyrillic prose
  are measured like English. Raise ``--max-line-breaks-per-word`` or use ``--stop-chars`` to adapt.

**A deliberate difference from datatrove.** ``\\r\\n`` and a lone ``\\r`` break lines. datatrove splits at
``\\n`` only, so a CRLF text has a ``\\r`` at the end of every line, no line ends with punctuation and every
CRLF document is dropped by rule 2; curate does not copy that (the shared sample has no ``\\r``).

Statistics columns for ``--annotate`` (null where there is no line): ``fineweb_line_punct_ratio``,
``fineweb_short_line_ratio``, ``fineweb_char_dup_ratio``, ``fineweb_list_ratio``, and ``fineweb_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import kernel
from curate.errors import UsageError
from curate.filters.base import TextFilter, Verdict
from curate.filters.registry import register


def _ratio(numerator: NDArray[np.uint64], denominator: NDArray[np.uint64]) -> tuple[NDArray[np.float64], pa.Array]:
    """``numerator / denominator`` per row as numpy (0 where undefined) and as Arrow (null where undefined)."""
    defined = denominator > 0
    values = np.divide(
        numerator.astype(np.float64), denominator.astype(np.float64), out=np.zeros(len(numerator)), where=defined
    )
    return values, pa.array(values, pa.float64(), mask=~defined)


def _check_fraction(option: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--{option} must be between 0 and 1, got {value}")


@register
@dataclass(frozen=True)
class FineWeb(TextFilter):
    """FineWeb quality rules (Penedo et al. 2024): drop documents whose lines mostly lack terminal
    punctuation, are mostly short, repeat, or that look like lists (many line breaks per word).

    Reasons fineweb:<rule> with <rule> one of empty, line_punct_ratio, short_line_ratio, char_dup_ratio,
    list_ratio. Lines are measured as written (not stripped), as datatrove does; the duplicated-line
    threshold is datatrove's 0.01 (the paper's text says 0.1).
    """

    name = "fineweb"
    summary = "FineWeb rules (Penedo et al. 2024): punctuated, short and duplicated lines, list-like text."

    min_punctuated_lines_fraction: float = field(
        default=0.12, metadata={"help": "Drop below this fraction of lines ending with a --stop-chars character."}
    )
    punctuation_exclude_zero: bool = field(
        default=False, metadata={"help": "Do not drop documents with no punctuated line at all by that rule."}
    )
    stop_chars: str = field(
        default="",
        metadata={"help": "Characters that end a punctuated line; empty: every Unicode Sentence_Terminal."},
    )
    max_short_lines_fraction: float = field(
        default=0.67, metadata={"help": "Drop above this fraction of lines of at most --short-line-length chars."}
    )
    short_line_length: int = field(default=30, metadata={"help": "A line this long or shorter is short."})
    max_duplicate_line_chars_fraction: float = field(
        default=0.01, metadata={"help": "Drop above this fraction of characters in lines seen earlier."}
    )
    max_line_breaks_per_word: float = field(
        default=0.3, metadata={"help": "Drop above this many line breaks per word token (list-like text)."}
    )

    def __post_init__(self) -> None:
        _check_fraction("min-punctuated-lines-fraction", self.min_punctuated_lines_fraction)
        _check_fraction("max-short-lines-fraction", self.max_short_lines_fraction)
        _check_fraction("max-duplicate-line-chars-fraction", self.max_duplicate_line_chars_fraction)
        if self.short_line_length < 0:
            raise UsageError(f"--short-line-length must not be negative, got {self.short_line_length}")
        if not self.max_line_breaks_per_word >= 0.0:
            raise UsageError(f"--max-line-breaks-per-word must not be negative, got {self.max_line_breaks_per_word}")

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        counts = kernel.fineweb_line_stats(
            texts, stop_chars=self.stop_chars or None, short_line_length=self.short_line_length
        )
        lines = counts["lines"]
        empty = lines == 0
        punctuated, punctuated_column = _ratio(counts["punctuated_lines"], lines)
        short, short_column = _ratio(counts["short_lines"], lines)
        duplicated, duplicated_column = _ratio(counts["duplicate_line_chars"], counts["chars"])
        line_breaks, line_breaks_column = _ratio(counts["line_breaks"], counts["words"])
        unpunctuated = punctuated < self.min_punctuated_lines_fraction
        if self.punctuation_exclude_zero:
            unpunctuated &= punctuated != 0.0
        p = self.reason_prefix
        rules = [
            (f"{p}:empty", empty),
            (f"{p}:line_punct_ratio", ~empty & unpunctuated),
            (f"{p}:short_line_ratio", ~empty & (short > self.max_short_lines_fraction)),
            (f"{p}:char_dup_ratio", ~empty & (duplicated > self.max_duplicate_line_chars_fraction)),
            (f"{p}:list_ratio", ~empty & (line_breaks > self.max_line_breaks_per_word)),
        ]
        stats = {
            f"{p}_lines": pa.array(lines.astype(np.int64), pa.int64()),
            f"{p}_line_punct_ratio": punctuated_column,
            f"{p}_short_line_ratio": short_column,
            f"{p}_char_dup_ratio": duplicated_column,
            f"{p}_list_ratio": line_breaks_column,
        }
        return Verdict.from_rules(rules, len(texts), stats)
