"""``gopher-quality``: the quality rules of MassiveText (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", arXiv:2112.11446, appendix A.1.1, "Quality Filtering").

A document is dropped, with the code of the first rule it fails (in this order), if it has

1. ``word_count``: fewer than 50 or more than 100,000 words;
2. ``mean_word_length``: a mean word length outside 3 to 10 characters;
3. ``hash_ratio``: more than 0.1 ``#`` per word;
4. ``ellipsis_ratio``: more than 0.1 ellipses (``...`` or ``…``) per word;
5. ``bullet_lines``: more than 90% of its lines starting with a bullet;
6. ``ellipsis_lines``: more than 30% of its lines ending with an ellipsis;
7. ``alpha_words``: fewer than 80% of its words holding an alphabetic character;
8. ``stop_words``: fewer than 2 of the English words the, be, to, of, and, that, have, with.

What is counted (``curate/filters/text_stats.py`` and ``rust_ext/src/text_stats.rs`` define it exactly):

- a **word** is a whitespace-separated token (Python's ``str.split()``), punctuation attached. Rules 1 and 2
  count only words holding a letter or digit (a lone ``-`` or ``|`` is not a word) and measure them with their
  punctuation (``end.`` has 4 characters); rules 3, 4 and 7 divide by all tokens; rule 8 compares each token,
  stripped of non-alphanumeric characters at both ends, with the stop words as written (each one present
  counts once). Matching is case-sensitive: the rule looks for running English prose, where these words
  are lower-case, and a capitalised "The" in the title of a page in another language does not count.
- a **line** is a non-blank line stripped of surrounding whitespace; a bullet line starts with one of
  ``--bullets`` (``•``, ``●``, ``◦``, ``‣``, ``▪``, ``-``, ``*``); an ellipsis line ends with ``...`` or ``…``.
- a ratio with nothing to divide by (no words, no lines) is null in the statistics and fails no rule.

**Scripts written without spaces** (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, Tibetan, Yi): a document
whose letters are mostly in these scripts has a handful of very long "words", so rules 1-4, 7 and 8 would
drop every one of them for the wrong reason. With ``--scripts-without-spaces skip`` (the default) such
documents bypass those word rules (the line rules 5 and 6 still apply); the ``gopher_unspaced_script`` column
(``--annotate``) marks them. With ``apply`` every rule applies as written (and almost all such documents go).
Other scripts (Arabic, Cyrillic, Devanagari, Korean...) are split on spaces like English: the rules apply,
and the English stop words drop them unless ``--stop-words`` or ``--min-stop-words 0`` say otherwise.

A threshold at its limit keeps the document (the paper drops "fewer than" / "more than"). Statistics columns
for ``--annotate``: ``gopher_word_count``, ``gopher_mean_word_length``, ``gopher_hash_ratio``,
``gopher_ellipsis_ratio``, ``gopher_bullet_lines_fraction``, ``gopher_ellipsis_lines_fraction``,
``gopher_alpha_words_fraction``, ``gopher_stop_words``, ``gopher_unspaced_script``.
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

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("\u2022", "\u25cf", "\u25e6", "\u2023", "\u25aa", "-", "*")
SCRIPT_MODES = ("skip", "apply")


def ratio(numerator: NDArray[np.int64], denominator: NDArray[np.int64]) -> tuple[NDArray[np.float64], pa.Array]:
    """``numerator / denominator`` per row as numpy (0 where undefined) and as Arrow (null where undefined)."""
    defined = denominator > 0
    values = np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=defined)
    return values, pa.array(values, pa.float64(), mask=~defined)


def unspaced_script(letters: NDArray[np.int64], unspaced_letters: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Rows whose letters are mostly (more than half) in scripts written without spaces between words."""
    return 2 * unspaced_letters > letters


def check_script_mode(value: str) -> None:
    if value not in SCRIPT_MODES:
        raise UsageError(f"--scripts-without-spaces must be one of {', '.join(SCRIPT_MODES)}, got {value!r}")


def check_fraction(option: str, value: float, high: float = 1.0) -> None:
    if not 0.0 <= value <= high:
        raise UsageError(f"--{option} must be between 0 and {high:g}, got {value}")


@register
@dataclass(frozen=True)
class GopherQuality(TextFilter):
    """Gopher quality rules (Rae et al. 2021, appendix A.1.1): word count, mean word length, # and ellipsis
    per word, bullet and ellipsis lines, words with letters, English stop words.

    Reasons gopher_quality:<rule> with <rule> one of word_count, mean_word_length, hash_ratio,
    ellipsis_ratio, bullet_lines, ellipsis_lines, alpha_words, stop_words. Words are whitespace-separated
    tokens; documents mostly in scripts written without spaces (Chinese, Japanese, Thai...) skip the word
    rules by default (--scripts-without-spaces).
    """

    name = "gopher-quality"
    summary = "Gopher quality rules (Rae et al. 2021): words, word length, symbols, bullets, stop words."

    min_words: int = field(default=50, metadata={"help": "Drop documents with fewer words (letter or digit)."})
    max_words: int = field(default=100_000, metadata={"help": "Drop documents with more words."})
    min_mean_word_length: float = field(default=3.0, metadata={"help": "Drop below this mean word length."})
    max_mean_word_length: float = field(default=10.0, metadata={"help": "Drop above this mean word length."})
    max_hash_ratio: float = field(default=0.1, metadata={"help": "Drop above this many '#' per word."})
    max_ellipsis_ratio: float = field(default=0.1, metadata={"help": "Drop above this many '...'/'…' per word."})
    max_bullet_lines_fraction: float = field(
        default=0.9, metadata={"help": "Drop above this fraction of lines starting with a bullet."}
    )
    max_ellipsis_lines_fraction: float = field(
        default=0.3, metadata={"help": "Drop above this fraction of lines ending with '...' or '…'."}
    )
    min_alpha_words_fraction: float = field(
        default=0.8, metadata={"help": "Drop below this fraction of words holding an alphabetic character."}
    )
    min_stop_words: int = field(default=2, metadata={"help": "Drop documents with fewer distinct stop words."})
    stop_words: tuple[str, ...] = field(default=STOP_WORDS, metadata={"help": "A stop word (matched as written)."})
    bullets: tuple[str, ...] = field(default=BULLETS, metadata={"help": "A prefix that makes a line a bullet."})
    scripts_without_spaces: str = field(
        default="skip",
        metadata={
            "help": "skip: documents mostly in scripts without spaces (CJK, Thai...) bypass the word rules; "
            "apply: every rule applies."
        },
    )

    def __post_init__(self) -> None:
        check_script_mode(self.scripts_without_spaces)
        if self.min_words < 0 or self.max_words < self.min_words:
            raise UsageError(f"need 0 <= --min-words <= --max-words, got {self.min_words} and {self.max_words}")
        if self.min_mean_word_length < 0 or self.max_mean_word_length < self.min_mean_word_length:
            raise UsageError("need 0 <= --min-mean-word-length <= --max-mean-word-length")
        if self.max_hash_ratio < 0 or self.max_ellipsis_ratio < 0:
            raise UsageError("--max-hash-ratio and --max-ellipsis-ratio must not be negative")
        check_fraction("max-bullet-lines-fraction", self.max_bullet_lines_fraction)
        check_fraction("max-ellipsis-lines-fraction", self.max_ellipsis_lines_fraction)
        check_fraction("min-alpha-words-fraction", self.min_alpha_words_fraction)
        if len(self.stop_words) > kernel.MAX_STOP_WORDS or any(not w or len(w.split()) != 1 for w in self.stop_words):
            raise UsageError(f"--stop-words: at most {kernel.MAX_STOP_WORDS}, each one non-empty word")
        if not 0 <= self.min_stop_words <= len(set(self.stop_words)):
            raise UsageError(
                f"--min-stop-words must be between 0 and the number of stop words, got {self.min_stop_words}"
            )
        if any(not b for b in self.bullets):
            raise UsageError("--bullets must not be empty strings")

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        counts = kernel.gopher_quality_counts(texts, stop_words=self.stop_words, bullets=self.bullets)
        words, lines = counts["words"], counts["lines"]
        word_count = counts["counted_words"]
        mean_length, mean_length_column = ratio(counts["counted_word_chars"], word_count)
        hash_ratio, hash_column = ratio(counts["hashes"], words)
        ellipsis_ratio, ellipsis_column = ratio(counts["ellipses"], words)
        bullets, bullets_column = ratio(counts["bullet_lines"], lines)
        ellipsis_lines, ellipsis_lines_column = ratio(counts["ellipsis_lines"], lines)
        alpha, alpha_column = ratio(counts["alpha_words"], words)
        unspaced = unspaced_script(counts["letters"], counts["unspaced_letters"])
        word_rules = ~unspaced if self.scripts_without_spaces == "skip" else np.ones(len(words), dtype=bool)
        has_words, has_counted = words > 0, word_count > 0
        prefix = self.reason_prefix
        rules = [
            (f"{prefix}:word_count", word_rules & ((word_count < self.min_words) | (word_count > self.max_words))),
            (
                f"{prefix}:mean_word_length",
                word_rules
                & has_counted
                & ((mean_length < self.min_mean_word_length) | (mean_length > self.max_mean_word_length)),
            ),
            (f"{prefix}:hash_ratio", word_rules & has_words & (hash_ratio > self.max_hash_ratio)),
            (f"{prefix}:ellipsis_ratio", word_rules & has_words & (ellipsis_ratio > self.max_ellipsis_ratio)),
            (f"{prefix}:bullet_lines", (lines > 0) & (bullets > self.max_bullet_lines_fraction)),
            (f"{prefix}:ellipsis_lines", (lines > 0) & (ellipsis_lines > self.max_ellipsis_lines_fraction)),
            (f"{prefix}:alpha_words", word_rules & has_words & (alpha < self.min_alpha_words_fraction)),
            (f"{prefix}:stop_words", word_rules & (counts["stop_words"] < self.min_stop_words)),
        ]
        stats = {
            "gopher_word_count": pa.array(word_count, pa.int64()),
            "gopher_mean_word_length": mean_length_column,
            "gopher_hash_ratio": hash_column,
            "gopher_ellipsis_ratio": ellipsis_column,
            "gopher_bullet_lines_fraction": bullets_column,
            "gopher_ellipsis_lines_fraction": ellipsis_lines_column,
            "gopher_alpha_words_fraction": alpha_column,
            "gopher_stop_words": pa.array(counts["stop_words"], pa.int64()),
            "gopher_unspaced_script": pa.array(unspaced, pa.bool_()),
        }
        skipped = int(unspaced.sum()) if self.scripts_without_spaces == "skip" else 0
        return Verdict.from_rules(
            rules, len(texts), stats, counters={f"{self.reason_prefix}:unspaced_script_word_rules_skipped": skipped}
        )
