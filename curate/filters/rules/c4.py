"""``c4`` and ``c4-lines``: the heuristic rules of C4 (Raffel et al. 2020, "Exploring the Limits of Transfer
Learning with a Unified Text-to-Text Transformer", JMLR 21(140), §2.2, "The Colossal Clean Crawled Corpus").

C4 works line by line. Every non-blank line, stripped of surrounding whitespace, goes through these rules
in this order (as datatrove's ``C4QualityFilter`` and the TFDS reference ``c4_utils.clean_page`` do):

1. a word longer than ``--max-word-length`` (1000) characters removes the line;
2. Wikipedia-style citations (``[12]``, ``[edit]``, ``[citation needed]``) are deleted from it;
3. it must end with a terminal punctuation character (``--terminal-punctuation``: ``. ? ! " '``) but not
   with ``...``, else it is removed;
4. it must have at least ``--min-words-per-line`` (3) words (counted before citations are deleted);
5. ``lorem ipsum`` (any case) drops the whole document;
6. a line containing ``javascript`` (any case) is removed;
7. a curly bracket ``{`` drops the whole document;
8. a line containing a policy phrase (``terms of use``, ``privacy policy``, ``cookie policy``, ``uses
   cookies``, ``use of cookies``, ``use cookies``; any case) is removed.

The lines left are the page C4 keeps. A document is then dropped, with the code of the first rule it fails:

- ``c4:empty``: no non-blank line at all (null, empty or whitespace-only text; a special case of the next);
- ``c4:lorem_ipsum`` / ``c4:curly_bracket``: whichever comes first in line order, on a line that reached
  that check (a ``{`` on a line removed earlier, e.g. one without terminal punctuation, does not count);
- ``c4:too_few_sentences``: fewer than ``--min-sentences`` (5) sentences in the kept lines;
- ``c4:bad_words``: the kept lines, lower-cased, contain a word of the bad-word list, flanked by non-word
  characters (anything but letters, numbers and ``_``) or the ends of the text.

**The defaults and why.** The paper says "we discarded any page with fewer than 5 sentences and only
retained lines that contained at least 3 words", and datatrove follows it (5 sentences, 3 words); the TFDS
code that built C4 uses the reverse (``_MIN_NUM_SENTENCES = 3``, ``_MIN_WORDS_PER_LINE = 5``). curate
follows the paper and datatrove; ``--min-sentences 3 --min-words-per-line 5`` gives the TFDS behaviour.
The paper's terminal marks are "a period, exclamation mark, question mark, or end quotation mark"; TFDS uses
``. ? ! "`` and datatrove adds ``'``, which curate follows. Curly quotes (``”``) are not counted by either.

**Sentences** are counted as spaCy's English tokenizer and sentencizer count them (datatrove splits every
kept line with them), without a model: a word whose trailing punctuation holds a sentence terminal (the
Unicode ``Sentence_Terminal`` property: ``. ! ?`` and ``。 ！ ？ ؟ । ۔`` ...) ends a sentence when another
word with a letter or digit follows, except an ellipsis, an abbreviation (``Mr.``, ``e.g.``), an initial
(``J.``, ``U.S.``) or a single lower-case letter (``r.``); a full stop between a lower-case and an
upper-case letter (``end.Next``) and a non-ASCII terminal inside a word (``好。我``) also end one. On the 697
Common Crawl documents of the shared sample, and on 6,435 more (Gutenberg chapters raw and reflowed, gold
article bodies, SMS), this gives the same keep/drop decision as datatrove (0.10.1, spaCy 3.8) for every
document. ``rust_ext/src/line_rules.rs`` defines it exactly.

**Lines** are split at ``\\n``, ``\\r\\n`` and a lone ``\\r`` (curate's shared definition,
``curate/filters/text_stats.py``); Python's ``str.splitlines`` used by C4 also splits at ``\\v \\f \\x1c-\\x1e
\\x85 U+2028 U+2029``, which curate treats as whitespace inside a line (of the 361 Common Crawl documents kept,
one holds a U+2028, and its rewritten text differs from datatrove's there). Blank lines are not lines.
Hard-wrapped text (Project Gutenberg files wrapped at ~70 characters) loses every line that does not end a
sentence: join each paragraph into one line first.

**Scripts other than Latin.** C4 is an English rule set and its defaults act like it: lines of Chinese,
Japanese or Thai text have one or two whitespace-separated "words" and end with ``。`` or no mark at all,
so rules 3 and 4 remove every line and such documents go as ``c4:too_few_sentences``. Arabic, Cyrillic or
Devanagari prose whose sentences end with ``.`` is treated like English; lines ending with ``؟``, ``।`` or
``۔`` are removed. To apply C4 to other scripts, add their marks to ``--terminal-punctuation`` (e.g.
``'.?!"'"'"'。！？؟।'``) and, for scripts without spaces, lower ``--min-words-per-line`` (``0`` or ``1``).

**Bad words.** C4 removed "any page that contained any word on the List of Dirty, Naughty, Obscene or
Otherwise Bad Words" (LDNOOBW). That list is not bundled: ``curate/filters/data/c4_badwords_en.txt`` is a
short placeholder of unambiguous English obscenities. For C4's behaviour, pass LDNOOBW's ``en`` file with
``--bad-words-file`` (one entry per line; blank lines and lines starting with ``#`` are ignored). The
fingerprint covers the file's content (the manifest's ``files``): after the list is edited, a re-run
into the same output is refused until ``--overwrite``. ``--no-bad-words`` turns the rule off.

**Line removal.** C4 also rewrites every page it keeps to its kept lines (stripped, citations deleted,
joined by ``\\n``), and so does ``c4`` by default (``--no-remove-lines`` keeps the text unchanged; the
manifest counts ``counted:c4:lines_removed``): its output equals datatrove's ``C4QualityFilter`` output, text
included. Rejected documents go to ``OUT.curate/rejects/`` unchanged. The modifier ``c4-lines`` removes the lines
without dropping any document. ``c4`` reports what would be removed in its
statistics (``--annotate``): ``c4_lines``, ``c4_lines_removed``, ``c4_sentences`` (in the kept lines),
``c4_lines_too_long_word``, ``c4_lines_no_terminal_punctuation``, ``c4_lines_too_few_words``,
``c4_lines_javascript``, ``c4_lines_policy`` and ``c4_bad_words`` (null when the rule is off).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from curate import kernel
from curate.errors import UsageError
from curate.filters.base import Modification, TextFilter, TextModifier, Verdict
from curate.filters.registry import register

TERMINAL_PUNCTUATION = ".?!\"'"
DEFAULT_BAD_WORDS = "c4_badwords_en.txt"

# RE2 (Arrow's regex engine) metacharacters; everything else in a bad word is matched literally.
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")
# Python's \W: not a letter, number or underscore.
_NON_WORD = r"[^\pL\pN_]"


@dataclass(frozen=True)
class C4LineOptions:
    """The line rules shared by ``c4`` and ``c4-lines`` (fields, hence options, of both)."""

    terminal_punctuation: str = field(
        default=TERMINAL_PUNCTUATION,
        metadata={"help": "Characters a kept line may end with (a line ending with '...' never counts)."},
    )
    require_terminal_punctuation: bool = field(
        default=True, metadata={"help": "Remove lines that do not end with --terminal-punctuation."}
    )
    remove_citations: bool = field(
        default=True, metadata={"help": "Delete [12], [edit] and [citation needed] from lines first."}
    )
    min_words_per_line: int = field(default=3, metadata={"help": "Remove lines with fewer words (0: no minimum)."})
    max_word_length: int = field(
        default=1000, metadata={"help": "Remove lines with a word longer than this many characters (0: no limit)."}
    )
    remove_javascript_lines: bool = field(default=True, metadata={"help": "Remove lines mentioning 'javascript'."})
    remove_policy_lines: bool = field(
        default=True, metadata={"help": "Remove lines with 'terms of use', 'privacy policy', cookie phrases."}
    )

    def check_line_options(self) -> None:
        if self.require_terminal_punctuation and not self.terminal_punctuation:
            raise UsageError("--terminal-punctuation must not be empty (or use --no-require-terminal-punctuation)")
        if self.min_words_per_line < 0:
            raise UsageError(f"--min-words-per-line must not be negative, got {self.min_words_per_line}")
        if self.max_word_length < 0:
            raise UsageError(f"--max-word-length must not be negative (0: no limit), got {self.max_word_length}")

    def line_rules(
        self, texts: pa.Array, *, rewrite: bool, drop_lorem_ipsum: bool, drop_curly_bracket: bool
    ) -> kernel.C4LineRules:
        return kernel.c4_line_rules(
            texts,
            terminal_punctuation=self.terminal_punctuation,
            filter_no_terminal_punct=self.require_terminal_punctuation,
            remove_citations=self.remove_citations,
            max_word_length=self.max_word_length or None,
            min_words_per_line=self.min_words_per_line,
            filter_lorem_ipsum=drop_lorem_ipsum,
            filter_javascript=self.remove_javascript_lines,
            filter_curly_bracket=drop_curly_bracket,
            filter_policy=self.remove_policy_lines,
            rewrite=rewrite,
        )


@register
@dataclass(frozen=True)
class C4(C4LineOptions, TextFilter):
    """C4 rules (Raffel et al. 2020, §2.2): drop documents with fewer than 5 sentences in their lines that
    end with terminal punctuation and have 3 words (javascript and policy lines removed), with lorem ipsum,
    with a curly bracket, or with a bad word.

    Reasons c4:<rule> with <rule> one of empty, lorem_ipsum, curly_bracket, too_few_sentences, bad_words.
    Kept documents are written as C4 writes them, reduced to their kept lines (--no-remove-lines keeps the
    text as it was; c4-lines does only the line removal). The bundled bad-word list is a short
    placeholder; pass the LDNOOBW "en" list with --bad-words-file for C4's behaviour.
    """

    name = "c4"
    summary = "C4 rules (Raffel et al. 2020): terminal punctuation, sentences, lorem ipsum, {, bad words."

    min_sentences: int = field(
        default=5, metadata={"help": "Drop documents with fewer sentences in their kept lines (0: no minimum)."}
    )
    drop_lorem_ipsum: bool = field(default=True, metadata={"help": "Drop documents with 'lorem ipsum'."})
    drop_curly_bracket: bool = field(default=True, metadata={"help": "Drop documents with '{' in a kept line."})
    bad_words: bool = field(default=True, metadata={"help": "Drop documents with a word of the bad-word list."})
    bad_words_file: str | None = field(
        default=None,
        metadata={"help": "Bad-word list, one per line ('#' comments); default: a short bundled placeholder."},
    )
    remove_lines: bool = field(
        default=True,
        metadata={"help": "Write kept documents as C4 does: only their kept lines (stripped, citations deleted)."},
    )

    def __post_init__(self) -> None:
        self.check_line_options()
        if self.min_sentences < 0:
            raise UsageError(f"--min-sentences must not be negative, got {self.min_sentences}")
        # The list's digest keys the cached pattern: an edited file is re-read, even in a long-lived worker.
        digest = _digest(self.bad_words_file) if self.bad_words else ""
        object.__setattr__(self, "_bad_words_digest", digest)
        if self.bad_words:
            self.pattern()  # reads and checks the list now: a usage error, not a crash later

    def pattern(self) -> str:
        return bad_words_pattern(self.bad_words_file, self.__dict__["_bad_words_digest"])

    def files(self) -> tuple[str, ...]:
        return (self.bad_words_file,) if self.bad_words and self.bad_words_file else ()

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        rules = self.line_rules(
            texts,
            rewrite=self.bad_words or self.remove_lines,
            drop_lorem_ipsum=self.drop_lorem_ipsum,
            drop_curly_bracket=self.drop_curly_bracket,
        )
        counts = {name: values.astype(np.int64) for name, values in rules.counts.items()}
        n = len(texts)
        empty = (counts["lines"] == 0) & (self.min_sentences > 0)
        too_few = counts["sentences"] < self.min_sentences
        bad: NDArray[np.bool_] = np.zeros(n, dtype=bool)
        bad_column = pa.nulls(n, pa.bool_())
        if self.bad_words and rules.texts is not None:
            pattern = self.pattern()
            found = pc.fill_null(pc.match_substring_regex(pc.utf8_lower(rules.texts), pattern), False)
            bad = np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
            bad_column = pa.array(bad, pa.bool_())
        p = self.reason_prefix
        verdict_rules = [
            (f"{p}:empty", empty),
            (f"{p}:lorem_ipsum", counts["document_rule"] == 1),
            (f"{p}:curly_bracket", counts["document_rule"] == 2),
            (f"{p}:too_few_sentences", too_few),
            (f"{p}:bad_words", bad),
        ]
        stats = {
            f"{p}_lines": pa.array(counts["lines"], pa.int64()),
            f"{p}_lines_removed": pa.array(counts["lines"] - counts["lines_kept"], pa.int64()),
            f"{p}_sentences": pa.array(counts["sentences"], pa.int64()),
            f"{p}_lines_too_long_word": pa.array(counts["too_long_word"], pa.int64()),
            f"{p}_lines_no_terminal_punctuation": pa.array(counts["no_terminal_punctuation"], pa.int64()),
            f"{p}_lines_too_few_words": pa.array(counts["too_few_words"], pa.int64()),
            f"{p}_lines_javascript": pa.array(counts["javascript"], pa.int64()),
            f"{p}_lines_policy": pa.array(counts["policy"], pa.int64()),
            f"{p}_bad_words": bad_column,
        }
        verdict = Verdict.from_rules(verdict_rules, n, stats, texts=rules.texts if self.remove_lines else None)
        if not self.remove_lines:
            return verdict
        removed = np.asarray(counts["lines"] - counts["lines_kept"])[verdict.keep]
        return dataclasses.replace(verdict, counters={f"{p}:lines_removed": int(removed.sum())})


@register
@dataclass(frozen=True)
class C4Lines(C4LineOptions, TextModifier):
    """Remove the lines C4 removes (Raffel et al. 2020, §2.2): lines without terminal punctuation, with
    fewer than 3 words, with a word over 1000 characters, mentioning javascript or a policy phrase; delete
    citations; strip the lines kept. Documents are never dropped: run the c4 filter (same line options)
    first for that. Counts lines_removed; adds the column c4_lines_removed.
    """

    name = "c4-lines"
    summary = "Remove the lines C4 removes (Raffel et al. 2020); never drops a document."

    def __post_init__(self) -> None:
        self.check_line_options()

    def modify(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Modification:
        rules = self.line_rules(texts, rewrite=True, drop_lorem_ipsum=False, drop_curly_bracket=False)
        assert rules.texts is not None
        removed = (rules.counts["lines"] - rules.counts["lines_kept"]).astype(np.int64)
        return Modification(
            texts=rules.texts,
            counts={"lines_removed": removed},
            columns={"c4_lines_removed": pa.array(removed, pa.int64())},
        )


def read_bad_words(path: str | None) -> list[str]:
    """The entries of a bad-word list (``None``: the bundled placeholder), stripped and lower-cased; blank
    lines and lines starting with ``#`` are skipped. Raises ``UsageError`` if it cannot be read or is empty."""
    try:
        if path is None:
            text = importlib.resources.files("curate.filters").joinpath("data", DEFAULT_BAD_WORDS).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--bad-words-file {path}: cannot read it ({exc})") from exc
    words = sorted({s.lower() for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")})
    if not words:
        raise UsageError(f"--bad-words-file {path}: no words in it")
    return words


def _digest(path: str | None) -> str:
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"--bad-words-file {path}: cannot read it ({exc})") from exc


@functools.lru_cache(maxsize=8)
def bad_words_pattern(path: str | None, digest: str = "") -> str:
    """An RE2 pattern matching any bad word flanked by non-word characters or the ends of the text."""
    escaped = ("".join("\\" + c if c in _RE2_SPECIAL else c for c in word) for word in read_bad_words(path))
    return f"(?:^|{_NON_WORD})(?:{'|'.join(escaped)})(?:{_NON_WORD}|$)"
