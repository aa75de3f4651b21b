"""``gopher-repetition``: the repetition rules of MassiveText (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", arXiv:2112.11446, appendix A.1.1 "Repetition Removal",
thresholds of table A1).

A document is dropped, with the code of the first rule it fails (in this order), if

0. ``empty``: it has no word at all (null, empty or whitespace-only; ``--no-drop-empty`` keeps those);
1. ``dup_line_fraction``: more than 30% of its lines duplicate an earlier line;
2. ``dup_line_char_fraction``: those duplicate lines hold more than 20% of its characters;
3. ``dup_para_fraction``: more than 30% of its paragraphs duplicate an earlier paragraph;
4. ``dup_para_char_fraction``: those duplicate paragraphs hold more than 20% of its characters;
5. ``top_<n>gram_char_fraction`` for n = 2, 3, 4: the occurrences of its most frequent word n-gram hold
   more than 20%, 18%, 16% of its characters;
6. ``dup_<n>gram_char_fraction`` for n = 5..10: the occurrences of n-grams that already occurred earlier in
   it hold more than 15%, 14%, 13%, 12%, 11%, 10% of its characters.

Definitions (``rust_ext/src/text_stats.rs`` is the reference):

- lines and paragraphs as in ``curate/filters/text_stats.py`` (stripped non-blank lines; runs of lines),
  compared exactly; a duplicate is an occurrence after the first, and its characters are the stripped
  line's (a paragraph's: its lines joined by ``\\n``).
- words are whitespace-separated tokens compared exactly as written (case and punctuation included); an
  n-gram is n consecutive words.
- a top n-gram's characters are its words joined by single spaces; a duplicate n-gram's are its words'
  characters without the spaces (datatrove measures them so, and FineWeb's thresholds were applied to those
  measures; the paper does not say). Overlapping occurrences count each word and space once, as the paper
  asks ("taking care not to count characters that occur in overlapping n-grams more than once"), so every
  fraction is at most 1.
- the most frequent n-gram must occur at least twice (an n-gram seen once is not repetition); among ties, the
  one that occurs first is taken.
- every character fraction divides by all the characters of the text (code points, whitespace included).

Where this differs from datatrove's ``GopherRepetitionFilter`` on purpose: datatrove measures a top n-gram
even when it occurs once, so a document of a few words ("Processing Feedback ...") is dropped as
``top_2_gram``; it multiplies a top n-gram's length by its count, so overlapping occurrences ("ha ha ha ha")
count twice and a fraction can exceed 1; after each duplicate n-gram it skips n words, so it neither covers
overlapping repeats nor remembers the n-grams it skipped; and it splits lines at ``\\n`` only, counting blank
(whitespace-only) lines. ``bench/filters_bench.py`` measures the effect (``bench/README.md``).

Documents mostly in scripts written without spaces (Chinese, Japanese, Thai...) have few, long "words": with
``--scripts-without-spaces skip`` (the default) they bypass the n-gram rules (5 and 6) and keep the line
and paragraph rules; ``apply`` applies every rule.

Any threshold set to 1 disables its rule. Statistics for ``--annotate``: ``gopher_dup_line_fraction``,
``gopher_dup_line_char_fraction``, ``gopher_dup_para_fraction``, ``gopher_dup_para_char_fraction``,
``gopher_top_<n>gram_char_fraction``, ``gopher_dup_<n>gram_char_fraction``, ``gopher_unspaced_script``
(null where there is nothing to divide by).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curate import kernel
from curate.filters.base import TextFilter, Verdict
from curate.filters.registry import register
from curate.filters.rules.gopher_quality import check_fraction, check_script_mode, ratio, unspaced_script

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)


def _max_fraction(default: float, what: str) -> float:
    return field(default=default, metadata={"help": f"Drop above this fraction {what}."})


@register
@dataclass(frozen=True)
class GopherRepetition(TextFilter):
    """Gopher repetition rules (Rae et al. 2021, appendix A.1.1, table A1): duplicate lines and paragraphs,
    most frequent 2-4-grams, duplicate 5-10-grams, as fractions of the document's characters.

    Reasons gopher_repetition:<rule> with <rule> one of empty, dup_line_fraction, dup_line_char_fraction,
    dup_para_fraction, dup_para_char_fraction, top_<n>gram_char_fraction (n = 2..4),
    dup_<n>gram_char_fraction (n = 5..10). A threshold of 1 disables its rule.
    """

    name = "gopher-repetition"
    summary = "Gopher repetition rules (Rae et al. 2021): duplicate lines, paragraphs and n-grams."

    drop_empty: bool = field(default=True, metadata={"help": "Drop documents without any word (null, blank)."})
    max_dup_line_fraction: float = _max_fraction(0.30, "of lines duplicating an earlier line")
    max_dup_line_char_fraction: float = _max_fraction(0.20, "of characters in duplicate lines")
    max_dup_para_fraction: float = _max_fraction(0.30, "of paragraphs duplicating an earlier paragraph")
    max_dup_para_char_fraction: float = _max_fraction(0.20, "of characters in duplicate paragraphs")
    max_top_2gram_char_fraction: float = _max_fraction(0.20, "of characters in the most frequent 2-gram")
    max_top_3gram_char_fraction: float = _max_fraction(0.18, "of characters in the most frequent 3-gram")
    max_top_4gram_char_fraction: float = _max_fraction(0.16, "of characters in the most frequent 4-gram")
    max_dup_5gram_char_fraction: float = _max_fraction(0.15, "of characters in repeated 5-grams")
    max_dup_6gram_char_fraction: float = _max_fraction(0.14, "of characters in repeated 6-grams")
    max_dup_7gram_char_fraction: float = _max_fraction(0.13, "of characters in repeated 7-grams")
    max_dup_8gram_char_fraction: float = _max_fraction(0.12, "of characters in repeated 8-grams")
    max_dup_9gram_char_fraction: float = _max_fraction(0.11, "of characters in repeated 9-grams")
    max_dup_10gram_char_fraction: float = _max_fraction(0.10, "of characters in repeated 10-grams")
    scripts_without_spaces: str = field(
        default="skip",
        metadata={
            "help": "skip: documents mostly in scripts without spaces (CJK, Thai...) bypass the n-gram rules; "
            "apply: every rule applies."
        },
    )

    def __post_init__(self) -> None:
        check_script_mode(self.scripts_without_spaces)
        for option, value in self._thresholds():
            check_fraction(option, value)

    def _thresholds(self) -> list[tuple[str, float]]:
        names = ["dup_line", "dup_line_char", "dup_para", "dup_para_char"]
        names += [f"top_{n}gram_char" for n in TOP_NGRAMS] + [f"dup_{n}gram_char" for n in DUP_NGRAMS]
        return [(f"max-{name.replace('_', '-')}-fraction", getattr(self, f"max_{name}_fraction")) for name in names]

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        counts = kernel.gopher_repetition_counts(texts, top_ngrams=TOP_NGRAMS, dup_ngrams=DUP_NGRAMS)
        chars, lines, paragraphs = counts["chars"], counts["lines"], counts["paragraphs"]
        measured = {
            "dup_line_fraction": ratio(counts["dup_lines"], lines),
            "dup_line_char_fraction": ratio(counts["dup_line_chars"], chars),
            "dup_para_fraction": ratio(counts["dup_paragraphs"], paragraphs),
            "dup_para_char_fraction": ratio(counts["dup_paragraph_chars"], chars),
        }
        for n in TOP_NGRAMS:
            measured[f"top_{n}gram_char_fraction"] = ratio(counts[f"top_{n}gram_chars"], chars)
        for n in DUP_NGRAMS:
            measured[f"dup_{n}gram_char_fraction"] = ratio(counts[f"dup_{n}gram_chars"], chars)
        unspaced = unspaced_script(counts["letters"], counts["unspaced_letters"])
        ngram_rules = ~unspaced if self.scripts_without_spaces == "skip" else np.ones(len(chars), dtype=bool)
        rules = [(f"{self.reason_prefix}:empty", (counts["words"] == 0) & self.drop_empty)]
        for name, (values, _) in measured.items():
            applies = ngram_rules if "gram" in name else True
            rules.append((f"{self.reason_prefix}:{name}", applies & (values > getattr(self, f"max_{name}"))))
        stats = {f"gopher_{name}": column for name, (_, column) in measured.items()}
        stats["gopher_unspaced_script"] = pa.array(unspaced, pa.bool_())
        skipped = int(unspaced.sum()) if self.scripts_without_spaces == "skip" else 0
        return Verdict.from_rules(
            rules, len(texts), stats, counters={f"{self.reason_prefix}:unspaced_script_word_rules_skipped": skipped}
        )
