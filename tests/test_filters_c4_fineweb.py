"""curate filter c4 / c4-lines / fineweb: every rule at its boundary with numbers worked out by hand, a
plain-Python reference of every count (sentences, word tokens, line rules) checked against the Rust kernel on
random and real text, real corpora (Common Crawl with datatrove's decisions pinned, Gutenberg chapters, gold
article bodies, SMS spam, UDHR), and bad input (nulls, invalid UTF-8, 50 MB documents, 1 MB lines, missing
column)."""

from __future__ import annotations

import gzip
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate import kernel
from curate.errors import UsageError
from curate.filters.rules.c4 import C4, C4Lines, read_bad_words
from curate.filters.rules.fineweb import FineWeb
from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard

# -- the plain-Python reference of rust_ext/src/line_rules.rs ------------------------------------------------

TERMINALS = frozenset(kernel.SENTENCE_TERMINALS)
# fmt: off
ABBREVIATIONS = frozenset([
    "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "Gen", "Gov", "Rep", "Sen", "Rev", "Messrs", "Mt", "Inc",
    "Ltd", "Co", "Corp", "vs", "e.g", "i.e", "a.m", "p.m", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
    "Sep", "Sept", "Oct", "Nov", "Dec",
])
# fmt: on
CONTRACTIONS = ("'s", "'S", "n't", "N'T", "'re", "'ll", "'ve", "'d", "'m", "’s", "n’t", "’re", "’ll", "’ve", "’d", "’m")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def punct_or_symbol(c: str) -> bool:
    return unicodedata.category(c)[0] in "PS"


def word_char(c: str) -> bool:
    return not punct_or_symbol(c) and not c.isspace() and unicodedata.category(c) != "Cc"


def letter_like(c: str) -> bool:
    return word_char(c) and unicodedata.category(c)[0] != "N"


def url_like(word: str) -> bool:
    return "://" in word or "@" in word or word.startswith("www.")


def raw_lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def ref_ends_sentence(word: str) -> bool:
    start = len(word)
    while start and punct_or_symbol(word[start - 1]):
        start -= 1
    run, core = word[start:], word[:start]
    if any(c != "." and c in TERMINALS for c in run):
        return True
    if "." not in run or run.startswith(".."):
        return False
    if not run.startswith("."):
        return True
    core = core.lstrip("".join(c for c in core if punct_or_symbol(c)))
    if not core:
        return True
    if core in ABBREVIATIONS:
        return False
    if len(core) == 1 and core.islower():
        return False
    return not core[-1].isupper() or (len(core) >= 2 and core[-2].isupper())


def ref_inner_breaks(word: str) -> int:
    if url_like(word):
        return 0
    breaks = 0
    for k in range(1, len(word) - 1):
        before, c, after = word[k - 1], word[k], word[k + 1]
        if (c == "." and before.islower() and after.isupper()) or (
            not c.isascii() and c in TERMINALS and word_char(after)
        ):
            breaks += 1
    return breaks


def ref_sentences(line: str) -> int:
    count, pending = 0, False
    for word in line.split():
        if count == 0:
            count = 1
        elif pending and any(word_char(c) for c in word):
            count, pending = count + 1, False
        count += ref_inner_breaks(word)
        pending = pending or ref_ends_sentence(word)
    return count


def ref_remove_citations(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        if line[i] == "[":
            j = i + 1
            while j < len(line) and unicodedata.category(line[j])[0] == "N":
                j += 1
            if j < len(line) and line[j] == "]":
                i = j + 1
                continue
            tail = next((t for t in ("edit]", "citation needed]") if line.startswith(t, i + 1)), None)
            if tail is not None:
                i += 1 + len(tail)
                continue
        out.append(line[i])
        i += 1
    return "".join(out)


C4_DEFAULTS = {
    "terminal": ".?!\"'",
    "require": True,
    "citations": True,
    "min_words": 3,
    "max_length": 1000,
    "lorem": True,
    "javascript": True,
    "curly": True,
    "policy": True,
}


def ref_c4(text: str | None, **options: object) -> tuple[dict[str, int], str | None]:
    """C4's line rules, one line at a time, as datatrove's C4QualityFilter applies them (no early return)."""
    o = {**C4_DEFAULTS, **options}
    counts = dict.fromkeys(kernel.C4_LINE_COLUMNS, 0)
    if text is None:
        return counts, None
    kept: list[str] = []
    for raw in raw_lines(text):
        line = raw.strip()
        if not line:
            continue
        counts["lines"] += 1
        words = line.split()
        if o["max_length"] and any(len(w) > o["max_length"] for w in words):  # type: ignore[operator]
            counts["too_long_word"] += 1
            continue
        if o["citations"]:
            line = ref_remove_citations(line)
        if o["require"] and (not line or line[-1] not in o["terminal"] or line.endswith("...")):  # type: ignore[operator]
            counts["no_terminal_punctuation"] += 1
            continue
        if len(words) < o["min_words"]:  # type: ignore[operator]
            counts["too_few_words"] += 1
            continue
        lowered = line.lower()
        if o["lorem"] and not counts["document_rule"] and "lorem ipsum" in lowered:
            counts["document_rule"] = 1
        if o["javascript"] and "javascript" in lowered:
            counts["javascript"] += 1
            continue
        if o["curly"] and not counts["document_rule"] and "{" in line:
            counts["document_rule"] = 2
        if o["policy"] and any(p in lowered for p in POLICY):
            counts["policy"] += 1
            continue
        counts["lines_kept"] += 1
        counts["sentences"] += ref_sentences(line)
        kept.append(line)
    return counts, "\n".join(kept).strip()


def ref_affix_tokens(run: str) -> int:
    return sum(1 for i, c in enumerate(run) if not (c == "." and i and run[i - 1] == "."))


def ref_word_tokens(word: str) -> int:
    lead = 0
    while lead < len(word) and punct_or_symbol(word[lead]):
        lead += 1
    if lead == len(word):
        return ref_affix_tokens(word)
    trail = len(word)
    while trail > lead and punct_or_symbol(word[trail - 1]):
        trail -= 1
    core = word[lead:trail]
    tokens = ref_affix_tokens(word[:lead]) + ref_affix_tokens(word[trail:]) + 1
    if not url_like(core):
        for k in range(1, len(core) - 1):
            before, c, after = core[k - 1], core[k], core[k + 1]
            if (c in ":/=<>" and word_char(before) and letter_like(after)) or (
                c in "-\u2013\u2014," and letter_like(before) and letter_like(after)
            ):
                tokens += 2
    if any(core.endswith(s) and len(core) > len(s) for s in CONTRACTIONS):
        tokens += 1
    return tokens


def ref_fineweb(text: str | None, stop_chars: str | None = None, short_line_length: int = 30) -> dict[str, int]:
    counts = dict.fromkeys(kernel.FINEWEB_LINE_COLUMNS, 0)
    if text is None:
        return counts
    stops = TERMINALS if stop_chars is None else frozenset(stop_chars)
    lines = raw_lines(text)
    counts["chars"] = sum(len(line) for line in lines)
    counts["line_breaks"] = len(lines) - 1
    seen: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        counts["lines"] += 1
        counts["punctuated_lines"] += line[-1] in stops
        counts["short_lines"] += len(line) <= short_line_length
        if line in seen:
            counts["duplicate_line_chars"] += len(line)
        seen.add(line)
    counts["words"] = sum(ref_word_tokens(w) for w in text.split())
    return counts


def kernel_c4(texts: list[str | None], **options: object) -> tuple[list[dict[str, int]], list[str | None]]:
    o = {**C4_DEFAULTS, **options}
    result = kernel.c4_line_rules(
        pa.array(texts, pa.large_string()),
        terminal_punctuation=str(o["terminal"]),
        filter_no_terminal_punct=bool(o["require"]),
        remove_citations=bool(o["citations"]),
        max_word_length=int(o["max_length"]) or None,  # type: ignore[call-overload]
        min_words_per_line=int(o["min_words"]),  # type: ignore[call-overload]
        filter_lorem_ipsum=bool(o["lorem"]),
        filter_javascript=bool(o["javascript"]),
        filter_curly_bracket=bool(o["curly"]),
        filter_policy=bool(o["policy"]),
        rewrite=True,
    )
    rows = [{name: int(result.counts[name][i]) for name in kernel.C4_LINE_COLUMNS} for i in range(len(texts))]
    assert result.texts is not None
    return rows, result.texts.to_pylist()


def kernel_fineweb(texts: list[str | None], **options: object) -> list[dict[str, int]]:
    counts = kernel.fineweb_line_stats(
        pa.array(texts, pa.large_string()),
        stop_chars=options.get("stop_chars"),  # type: ignore[arg-type]
        short_line_length=int(options.get("short_line_length", 30)),  # type: ignore[call-overload]
    )
    return [{name: int(counts[name][i]) for name in kernel.FINEWEB_LINE_COLUMNS} for i in range(len(texts))]


def assert_kernel_matches_reference(texts: list[str | None], **c4_options: object) -> None:
    rows, rewritten = kernel_c4(texts, **c4_options)
    for text, row, new_text in zip(texts, rows, rewritten, strict=True):
        expected, expected_text = ref_c4(text, **c4_options)
        assert (row, new_text) == (expected, expected_text), repr(text)[:300]
    for text, row in zip(texts, kernel_fineweb(texts), strict=True):
        assert row == ref_fineweb(text), repr(text)[:300]


# -- helpers for filters ---------------------------------------------------------------------------------------


def verdict(stage: C4 | FineWeb, texts: list[str | None]) -> tuple[list[str | None], dict[str, list[object]]]:
    array = pa.array(texts, pa.large_string())
    result = stage.evaluate(array, pa.record_batch({"text": array}))
    assert result.keep.tolist() == [r is None for r in result.reasons.to_pylist()]
    return result.reasons.to_pylist(), {k: v.to_pylist() for k, v in result.stats.items()}


def c4_reasons(texts: list[str | None], **options: object) -> list[str | None]:
    return verdict(C4(**options), texts)[0]  # type: ignore[arg-type]


def fineweb_reasons(texts: list[str | None], **options: object) -> list[str | None]:
    return verdict(FineWeb(**options), texts)[0]  # type: ignore[arg-type]


def sentences_of(line: str) -> int:
    """c4_sentences of a one-line document (the line must survive the line rules)."""
    stats = verdict(C4(min_sentences=0, bad_words=False), [line])[1]
    assert stats["c4_lines_removed"] == [0], line
    return int(stats["c4_sentences"][0])  # type: ignore[arg-type]


def tokens_of(text: str) -> int:
    return int(kernel.fineweb_line_stats(pa.array([text]), stop_chars=None, short_line_length=30)["words"][0])


# Five lines of one sentence each, 5 words, ending with ".": the smallest document C4 keeps.
FIVE = [f"This is sentence number {n}." for n in ("one", "two", "three", "four", "five")]


def doc(*lines: str) -> str:
    return "\n".join(lines)


# -- the character tables ---------------------------------------------------------------------------------------


def test_punct_or_symbol_table_is_unicode_categories_p_and_s() -> None:
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    for low, high in kernel.PUNCT_OR_SYMBOL_RANGES:
        table[low : high + 1] = True
    expected = np.array([punct_or_symbol(chr(c)) for c in range(sys.maxunicode + 1)])
    assert unicodedata.unidata_version == "14.0.0"
    assert np.array_equal(table, expected)


def test_sentence_terminals_are_the_unicode_property() -> None:
    regex = pytest.importorskip("regex")
    expected = "".join(
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) != "Cn" and regex.match(r"\p{Sentence_Terminal}", chr(c))
    )
    assert expected == kernel.SENTENCE_TERMINALS
    assert {".", "!", "?", "。", "！", "？", "؟", "।", "۔", "።"} <= TERMINALS
    assert not {'"', "'", "…", ";", ":"} & TERMINALS


# -- sentences (C4) and word tokens (FineWeb), by hand ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "sentences"),
    [
        ("One two three.", 1),
        ("It rained. We stayed in. Then it stopped!", 3),
        ("Mr. Smith met Dr. Jones at St. Paul's.", 1),  # abbreviations keep their full stop
        ("J. R. R. Tolkien wrote many books.", 1),  # initials
        ("The U.S. Army has a base here.", 1),  # U.S.: a capital after a full stop, not after a capital
        ("LOL. That was funny.", 2),  # two capitals: LOL ends a sentence
        ("He scored 10. Then he left.", 2),  # a number ends one
        ("Wait... what is this?", 1),  # an ellipsis does not
        ("Wait . . . what is this?", 2),  # spaced dots: a break only before the next word
        ('She said "Stop." Then he stopped.', 2),  # a full stop inside the quotes
        ("See (for example, page 3). It works.", 2),  # ")." after other punctuation ends one
        ("It ended.Then it began again.", 2),  # a full stop between lower and upper case
        ("Visit http://example.com/a?b=c or write to a.B@c.com today.", 1),  # no break inside URLs
        ("Cena 2017 r. w Tumianach jest znana.", 1),  # a single lower-case letter
        ("Really?! Yes, really.", 2),
        ("Es ist so. Hier ist es.", 2),
        ("你好。我很好。谢谢你。", 3),  # a non-ASCII terminal inside a word ends a sentence
        ("- - - .", 1),  # words without a letter or digit start no sentence
    ],
)
def test_sentence_count(line: str, sentences: int) -> None:
    assert ref_sentences(line) == sentences
    options = {"terminal_punctuation": ".?!\"'。", "min_words_per_line": 1} if "好" in line else {}
    stats = verdict(C4(min_sentences=0, bad_words=False, **options), [line])[1]  # type: ignore[arg-type]
    assert stats["c4_lines_removed"] == [0]
    assert stats["c4_sentences"] == [sentences]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, world!", 4),  # Hello , world !
        ("Don't stop.", 4),  # Do n't stop .
        ("it's I'm they're", 6),
        ("e-mail me at a@b.com today", 7),  # e - mail me at a@b.com today
        ("Time 09:11 now", 3),  # no split before a digit
        ("people:fer:402ws", 3),  # people : fer:402ws
        ("... (yes) --", 6),  # ... ( yes ) - -
        ("http://x.com/a?b=c", 1),
        ("one—two, three–four", 7),  # one — two , three – four
        ("", 0),
        ("   \n\t ", 0),
    ],
)
def test_word_tokens(text: str, tokens: int) -> None:
    assert sum(ref_word_tokens(w) for w in text.split()) == tokens
    assert tokens_of(text) == tokens


# -- c4: each rule at its boundary -----------------------------------------------------------------------------


def test_c4_five_sentences_kept_four_dropped() -> None:
    reasons, stats = verdict(C4(), [doc(*FIVE), doc(*FIVE[:4]), " ".join(FIVE)])
    assert reasons == [None, "c4:too_few_sentences", None]
    assert stats["c4_sentences"] == [5, 4, 5]
    assert stats["c4_lines"] == [5, 4, 1]
    assert stats["c4_lines_removed"] == [0, 0, 0]
    assert c4_reasons([doc(*FIVE[:3])], min_sentences=3) == [None]
    assert c4_reasons([""], min_sentences=0) == [None]


def test_c4_terminal_punctuation() -> None:
    endings = {
        "Line with no mark at all": "c4:too_few_sentences",
        "Line ending with an ellipsis...": "c4:too_few_sentences",
        "Line ending with a curly quote ”": "c4:too_few_sentences",
        "Line ending with a colon:": "c4:too_few_sentences",
        'He said "it is so."': None,
        "He said 'it is so'": None,
        "Why would it be so?": None,
        "It is so!": None,
        "   Surrounding spaces are stripped.   ": None,
    }
    texts = [doc(*FIVE[:4], line) for line in endings]
    reasons, stats = verdict(C4(), texts)
    assert reasons == list(endings.values())
    assert stats["c4_lines_no_terminal_punctuation"] == [int(r is not None) for r in endings.values()]
    # The option replaces the set; without the rule every line with 3 words is kept.
    assert c4_reasons([doc(*FIVE[:4], "Ends with a colon:")], terminal_punctuation=".:") == [None]
    assert c4_reasons([doc(*FIVE[:4], "No mark here")], require_terminal_punctuation=False) == [None]


def test_c4_min_words_per_line() -> None:
    reasons, stats = verdict(C4(), [doc(*FIVE[:4], "Two words."), doc(*FIVE[:4], "Three words here.")])
    assert reasons == ["c4:too_few_sentences", None]
    assert stats["c4_lines_too_few_words"] == [1, 0]
    assert c4_reasons([doc(*FIVE[:4], "Two words.")], min_words_per_line=2) == [None]
    # Words are counted before citations are deleted (as datatrove does): "[1] [2] Yes." has 3.
    assert c4_reasons([doc(*FIVE[:4], "[1] [2] Yes.")]) == [None]


def test_c4_max_word_length() -> None:
    ok, too_long = "a" * 1000, "a" * 1001
    reasons, stats = verdict(C4(), [doc(*FIVE[:4], f"A {ok} word."), doc(*FIVE[:4], f"A {too_long} word.")])
    assert reasons == [None, "c4:too_few_sentences"]
    assert stats["c4_lines_too_long_word"] == [0, 1]
    assert c4_reasons([doc(*FIVE[:4], f"A {too_long} word.")], max_word_length=0) == [None]
    assert c4_reasons([doc(*FIVE[:4], "A ééééé word.")], max_word_length=4) == ["c4:too_few_sentences"]


def test_c4_citations() -> None:
    lines = ["Cited right after the stop.[12]", "Cited after a space. [12]", "[edit] Heading is here.", "Not [x1] one."]
    rules = C4Lines()
    array = pa.array([doc(*lines)], pa.large_string())
    out = rules.modify(array, pa.record_batch({"text": array}))
    # "Cited after a space. " keeps its space once the citation is gone, so it no longer ends with a stop.
    assert out.texts.to_pylist() == ["Cited right after the stop.\n Heading is here.\nNot [x1] one."]
    assert out.counts["lines_removed"].tolist() == [1]
    assert ref_remove_citations("a[1]b[edit]c[citation needed]d[ ]e[12x]") == "abcd[ ]e[12x]"
    no_removal = C4Lines(remove_citations=False).modify(array, pa.record_batch({"text": array}))
    assert no_removal.texts.to_pylist() == ["[edit] Heading is here.\nNot [x1] one."]


def test_c4_citations_strip_only_the_ends_of_the_rewritten_text() -> None:
    array = pa.array([doc("[edit] First line is here.", "[edit] Second line is here.")], pa.large_string())
    out = C4Lines().modify(array, pa.record_batch({"text": array}))
    assert out.texts.to_pylist() == ["First line is here.\n Second line is here."]


def test_c4_lorem_ipsum_and_curly_bracket_drop_the_document() -> None:
    texts = [
        doc(*FIVE, "Lorem Ipsum dolor sit amet."),
        doc(*FIVE, "The set {a, b} has two members."),
        doc(*FIVE, "Lorem ipsum dolor sit amet"),  # no terminal mark: removed before the check
        doc(*FIVE, "function f() { return 1; }"),  # idem
        doc(*FIVE, "Enable JavaScript: var x = {a: 1}."),  # removed as a javascript line first
        doc(*FIVE, "The set {a} is here.", "Lorem ipsum is here."),  # the first in line order
        doc(*FIVE, "Lorem ipsum is here.", "The set {a} is here."),
        doc(*FIVE, "Too {few}."),  # removed (2 words) before the check
    ]
    assert c4_reasons(texts) == [
        "c4:lorem_ipsum",
        "c4:curly_bracket",
        None,
        None,
        None,
        "c4:curly_bracket",
        "c4:lorem_ipsum",
        None,
    ]
    assert c4_reasons(texts[:2], drop_lorem_ipsum=False, drop_curly_bracket=False) == [None, None]


def test_c4_javascript_and_policy_lines_are_removed() -> None:
    removed = [
        "Please enable JavaScript to view this page.",
        "Read our Privacy Policy before you go.",
        "By using it you accept the terms of use.",
        "This site uses cookies for analytics.",
        "We use cookies to improve it.",
        "See the Cookie Policy for details.",
        "Learn about our use of cookies here.",
    ]
    reasons, stats = verdict(C4(), [doc(*FIVE[:4], line) for line in removed])
    assert set(reasons) == {"c4:too_few_sentences"}
    assert stats["c4_lines_javascript"] == [1, 0, 0, 0, 0, 0, 0]
    assert stats["c4_lines_policy"] == [0, 1, 1, 1, 1, 1, 1]
    options = {"remove_javascript_lines": False, "remove_policy_lines": False}
    assert c4_reasons([doc(*FIVE[:4], line) for line in removed], **options) == [None] * len(removed)


def test_c4_bad_words() -> None:
    assert read_bad_words(None)  # the bundled placeholder
    texts = [
        doc(*FIVE, "What the fuck is this."),
        doc(*FIVE, "Fuck it, it is said here."),  # at the start of a line, any case
        doc(*FIVE, "Scunthorpe is a town in England."),  # inside a word: no match
        doc(*FIVE, "Say fuck_this or fucks here."),  # "_" and letters are word characters
        doc(*FIVE, "a fuck in a line without a stop"),  # removed line: not looked at
        doc(*FIVE[:3], "What the fuck is this."),  # too few sentences first
    ]
    reasons, stats = verdict(C4(), texts)
    assert reasons == ["c4:bad_words", "c4:bad_words", None, None, None, "c4:too_few_sentences"]
    assert stats["c4_bad_words"] == [True, True, False, False, False, True]
    reasons, stats = verdict(C4(bad_words=False), texts)
    assert reasons == [None, None, None, None, None, "c4:too_few_sentences"]
    assert stats["c4_bad_words"] == [None] * 6


def test_c4_bad_words_file(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# a comment\n\nGreen Eggs\nspam.\na+b\n", encoding="utf-8")
    stage = C4(bad_words_file=str(words))
    texts = [
        doc(*FIVE, "I do not like green eggs and ham."),
        doc(*FIVE, "I do not like greeneggs and ham."),
        doc(*FIVE, "It was spam. Really it was."),
        doc(*FIVE, "It was spammy. Really it was."),
        doc(*FIVE, "They say a+b is c here."),
        doc(*FIVE, "They say aab is c here."),  # "+" is literal, not a regex
        doc(*FIVE, "It says fuck here."),  # not in this list
    ]
    assert verdict(stage, texts)[0] == ["c4:bad_words", None, "c4:bad_words", None, "c4:bad_words", None, None]
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no words"):
        C4(bad_words_file=str(empty))
    with pytest.raises(UsageError, match="cannot read"):
        C4(bad_words_file=str(tmp_path / "missing.txt"))


def test_c4_empty_null_and_whitespace() -> None:
    reasons, stats = verdict(C4(), [None, "", "  \n\t\r\n \u3000 "])
    assert reasons == ["c4:empty"] * 3
    assert stats["c4_lines"] == [0, 0, 0]
    assert c4_reasons([None, ""], min_sentences=0) == [None, None]


def test_c4_line_removal_and_crlf() -> None:
    text = "\r\n".join(
        [
            "  Kept line one is here.  ",
            "Menu item",
            "Kept line two is here.[3]",
            "",
            "Another kept line here!",
            "Enable javascript now please.",
            "Our privacy policy applies here.",
        ]
    )
    array = pa.array([text, None, ""], pa.large_string())
    out = C4Lines().modify(array, pa.record_batch({"text": array}))
    assert out.texts.to_pylist() == [
        "Kept line one is here.\nKept line two is here.\nAnother kept line here!",
        None,
        "",
    ]
    assert out.counts["lines_removed"].tolist() == [3, 0, 0]
    assert out.columns["c4_lines_removed"].to_pylist() == [3, 0, 0]


def test_c4_tfds_settings() -> None:
    # TFDS's c4_utils: at least 5 words per line and 3 sentences.
    texts = [doc(*FIVE[:3]), doc("Four words are here.", *FIVE[:3])]
    assert c4_reasons(texts, min_sentences=3, min_words_per_line=5) == [None, None]
    assert verdict(C4(min_sentences=3, min_words_per_line=5), texts)[1]["c4_lines_too_few_words"] == [0, 1]


def test_c4_options_are_checked() -> None:
    with pytest.raises(UsageError):
        C4(min_sentences=-1)
    with pytest.raises(UsageError):
        C4(terminal_punctuation="")
    with pytest.raises(UsageError):
        C4Lines(max_word_length=-1)
    C4(terminal_punctuation="", require_terminal_punctuation=False)


# -- fineweb: each rule at its boundary -------------------------------------------------------------------------


def punctuated(i: int) -> str:  # 42-43 characters, 9 tokens (8 words and the final ".")
    return f"This is sentence number {i} of the document."


def unpunctuated(i: int) -> str:  # 41-42 characters, 8 tokens
    return f"This is heading number {i} of the document"


def test_fineweb_line_punctuation_ratio() -> None:
    at_limit = doc(*(punctuated(i) for i in range(3)), *(unpunctuated(i) for i in range(22)))  # 3/25 = 0.12
    below = doc(*(punctuated(i) for i in range(2)), *(unpunctuated(i) for i in range(23)))  # 2/25 = 0.08
    none = doc(*(unpunctuated(i) for i in range(25)))
    reasons, stats = verdict(FineWeb(), [at_limit, below, none])
    assert reasons == [None, "fineweb:line_punct_ratio", "fineweb:line_punct_ratio"]
    assert stats["fineweb_line_punct_ratio"] == [0.12, 0.08, 0.0]
    # 24 line breaks over 3 * 9 + 22 * 8 = 203 tokens
    assert stats["fineweb_list_ratio"][0] == 24 / 203
    assert fineweb_reasons([below, none], punctuation_exclude_zero=True) == ["fineweb:line_punct_ratio", None]
    assert fineweb_reasons([below], min_punctuated_lines_fraction=0.08) == [None]


def test_fineweb_lines_are_taken_as_written() -> None:
    lines = [punctuated(i) for i in range(10)]
    trailing = doc(*(line + " " for line in lines))  # ". " does not end with a stop character
    crlf = "\r\n".join(lines)  # \r\n is a line break, not a character of the line
    reasons, stats = verdict(FineWeb(), [doc(*lines), trailing, crlf])
    assert reasons == [None, "fineweb:line_punct_ratio", None]
    assert stats["fineweb_line_punct_ratio"] == [1.0, 0.0, 1.0]


def test_fineweb_stop_chars_and_other_scripts() -> None:
    chinese = "这是一个很长的句子，用来测试中文的标点符号是否被正确地识别出来。"  # 32 characters
    thai = "นี่คือประโยคภาษาไทยที่ยาวพอสมควรสำหรับการทดสอบตัวกรอง"  # Thai ends sentences with a space
    arabic = "هل هذه جملة عربية طويلة بما يكفي لاختبار علامة الاستفهام؟"
    reasons, stats = verdict(FineWeb(), [chinese, thai, arabic])
    assert stats["fineweb_line_punct_ratio"] == [1.0, 0.0, 1.0]
    assert reasons == [None, "fineweb:line_punct_ratio", None]
    assert fineweb_reasons([chinese, arabic], stop_chars=".!?") == ["fineweb:line_punct_ratio"] * 2
    assert fineweb_reasons([doc(*(f"Item number {i} of the list here;" for i in range(5)))], stop_chars=";") == [None]
    # A line of Chinese is 2 tokens (the line and its "。"): 2 breaks over 6 tokens is more than 0.3.
    lines = [chinese, chinese.replace("一个", "两个"), chinese.replace("一个", "三个")]
    assert fineweb_reasons([doc(*lines[:2]), doc(*lines)]) == [None, "fineweb:list_ratio"]


def test_fineweb_short_line_ratio() -> None:
    def short(i: int) -> str:  # "Short line 12." at most 30 characters, 4 tokens
        return f"Short line {i}."

    at_limit = doc(*(short(i) for i in range(67)), *(punctuated(i) for i in range(33)))  # 67/100
    above = doc(*(short(i) for i in range(68)), *(punctuated(i) for i in range(32)))  # 68/100
    reasons, stats = verdict(FineWeb(), [at_limit, above])
    assert reasons == [None, "fineweb:short_line_ratio"]
    assert stats["fineweb_short_line_ratio"] == [0.67, 0.68]
    assert stats["fineweb_list_ratio"][0] == 99 / (67 * 4 + 33 * 9)
    assert fineweb_reasons([above], short_line_length=13) == [None]  # "Short line 1." is 13, "Short line 10." 14
    # Indentation counts: 4 spaces and 28 characters make 32.
    assert verdict(FineWeb(), [doc(*(" " * 4 + "x" * 26 + f"{i}." for i in range(10)))])[1][
        "fineweb_short_line_ratio"
    ] == [0.0]


def test_fineweb_duplicate_line_characters() -> None:
    def line(i: int) -> str:  # exactly 50 characters
        text = f"Unique line {i:03d}: " + "w" * 32 + "."
        assert len(text) == 50
        return text

    unique = [line(i) for i in range(100)]
    one_copy = doc(*unique[:99], unique[0])  # 50 of 5,000 characters: 0.01
    two_copies = doc(*unique[:98], unique[0], unique[1])  # 100 of 5,000: 0.02
    with_blanks = doc(*unique[:99], unique[0], "    ", "")  # blank lines: 4 more characters, not a line
    reasons, stats = verdict(FineWeb(), [one_copy, two_copies, with_blanks])
    assert reasons == [None, "fineweb:char_dup_ratio", None]
    assert stats["fineweb_char_dup_ratio"] == [0.01, 0.02, 50 / 5004]
    assert stats["fineweb_lines"] == [100, 100, 100]
    assert fineweb_reasons([two_copies], max_duplicate_line_chars_fraction=0.1) == [None]


def test_fineweb_list_ratio() -> None:
    def two(i: int) -> str:  # one 40-letter word and ".": 2 tokens
        return "x" * 40 + "abcdefghij"[i] + "."

    def three(i: int) -> str:  # 3 tokens
        return "x" * 40 + " " + "abcdefghij"[i] + "."

    at_limit = doc(two(0), two(1), three(2), three(3))  # 3 breaks / 10 tokens
    above = doc(two(0), two(1), two(2), three(3))  # 3 / 9
    reasons, stats = verdict(FineWeb(), [at_limit, above])
    assert reasons == [None, "fineweb:list_ratio"]
    assert stats["fineweb_list_ratio"] == [0.3, 3 / 9]
    assert fineweb_reasons([above], max_line_breaks_per_word=0.34) == [None]
    # Blank lines are line breaks too (datatrove counts every "\n").
    assert fineweb_reasons([doc(two(0), "", "", three(1), three(2))]) == ["fineweb:list_ratio"]


def test_fineweb_empty_null_and_whitespace() -> None:
    reasons, stats = verdict(FineWeb(), [None, "", " \n \t\n"])
    assert reasons == ["fineweb:empty"] * 3
    assert stats["fineweb_line_punct_ratio"] == [None] * 3


def test_fineweb_options_are_checked() -> None:
    for options in (
        {"min_punctuated_lines_fraction": 1.5},
        {"max_short_lines_fraction": -0.1},
        {"short_line_length": -1},
        {"max_line_breaks_per_word": float("nan")},
    ):
        with pytest.raises(UsageError):
            FineWeb(**options)  # type: ignore[arg-type]


# -- the kernel against the reference ----------------------------------------------------------------------------

PIECES = [
    "a", "B", "word", "Mr", "e.g", "U.S", "LOL", "ok", "10", "٣", "²", "好", "我", "é", "İ", "\u212a", "ǅ", "ª",
    " ", " ", " ", "\t", "\u00a0", "\u3000", "\n", "\n", "\r", "\r\n", "\u2028", "\x85", "\x1c",
    ".", ".", "!", "?", "...", "…", '"', "'", "’", "”", "(", ")", "[", "]", "{", "}", ":", ";", "/", "-", "—", ",",
    "=", "@", "_", "$", "%", "。", "！", "؟", "\u200b", "\x07",
    "[12]", "[edit]", "[citation needed]", "lorem ipsum", "Lorem Ipsum", "javascript", "JavaScript",
    "privacy policy", "use cookies", "Terms of Use", "http://", "www.", "n't", "'s", "’m",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.lists(st.sampled_from(PIECES), max_size=40).map("".join), min_size=1, max_size=6),
    min_words=st.integers(0, 4),
    max_length=st.integers(0, 8),
    terminal=st.sampled_from([".?!\"'", ".", "。！？.", "x"]),
    flags=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_kernel_matches_the_reference_on_random_text(
    texts: list[str], min_words: int, max_length: int, terminal: str, flags: list[bool]
) -> None:
    require, citations, lorem, javascript, curly, policy = flags
    options = {
        "terminal": terminal,
        "require": require,
        "citations": citations,
        "min_words": min_words,
        "max_length": max_length,
        "lorem": lorem,
        "javascript": javascript,
        "curly": curly,
        "policy": policy,
    }
    assert_kernel_matches_reference([*texts, None], **options)
    for text in texts:
        assert tokens_of(text) == sum(ref_word_tokens(w) for w in text.split())
        fine = kernel_fineweb([text], stop_chars="。.", short_line_length=3)[0]
        assert fine == ref_fineweb(text, stop_chars="。.", short_line_length=3)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_kernel_invariants_on_any_unicode(texts: list[str]) -> None:
    rows, rewritten = kernel_c4(list(texts))
    for text, row, new_text in zip(texts, rows, rewritten, strict=True):
        assert row["lines_kept"] + sum(row[k] for k in kernel.C4_LINE_COLUMNS[3:8]) == row["lines"]
        assert new_text is not None and len(new_text) <= len(text)
        assert row["lines"] == sum(1 for line in raw_lines(text) if line.strip())
    for text, row in zip(texts, kernel_fineweb(list(texts)), strict=True):
        assert row["punctuated_lines"] <= row["lines"] and row["short_lines"] <= row["lines"]
        assert row["duplicate_line_chars"] <= row["chars"] == len(re.sub(r"\r\n|\r|\n", "", text))


def test_rewritten_texts_keep_arrow_offsets_nulls_and_chunks() -> None:
    chunked = pa.chunked_array([pa.array([doc(*FIVE), None], pa.string()), pa.array(["", doc(*FIVE[:2])])])
    out = C4Lines().modify(chunked, pa.record_batch({"x": [0, 1, 2, 3]}))  # type: ignore[arg-type]
    assert out.texts.to_pylist() == [doc(*FIVE), None, "", doc(*FIVE[:2])]
    sliced = pa.array(["junk", doc(*FIVE[:1]), "junk"], pa.large_string()).slice(1, 1)
    assert C4Lines().modify(sliced, pa.record_batch({"x": [0]})).texts.to_pylist() == [FIVE[0]]
    assert kernel.c4_line_rules(
        pa.array([], pa.large_string()),
        terminal_punctuation=".",
        filter_no_terminal_punct=True,
        remove_citations=True,
        max_word_length=None,
        min_words_per_line=3,
        filter_lorem_ipsum=True,
        filter_javascript=True,
        filter_curly_bracket=True,
        filter_policy=True,
        rewrite=True,
    ).texts == pa.array([], pa.large_string())


def test_kernel_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="stop_chars"):
        kernel.fineweb_line_stats(pa.array(["x"]), stop_chars="", short_line_length=30)
    with pytest.raises(TypeError):
        kernel.fineweb_line_stats(["x"], stop_chars=None, short_line_length=30)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="short_line_length"):
        kernel.fineweb_line_stats(pa.array(["x"]), stop_chars=None, short_line_length=-1)
    bad = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(np.array([0, 2], np.int32)), pa.py_buffer(b"\xc3(")]
    )
    with pytest.raises(ValueError, match="row 0: invalid UTF-8"):
        kernel.fineweb_line_stats(bad, stop_chars=None, short_line_length=30)


# -- real corpora ---------------------------------------------------------------------------------------------


def common_crawl(shared_data: Path) -> list[str]:
    path = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def gutenberg_chapters(shared_data: Path, books: int = 40) -> list[str]:
    chapters = []
    for path in sorted((shared_data / "gutenberg-top-authors-subset").glob("*/*.txt"))[:books]:
        parts = re.split(r"\n(?=(?:CHAPTER|Chapter) [IVXLC\d]+)", path.read_text(encoding="utf-8"))
        chapters += [p for p in parts[1:-1] if len(p) > 2000]  # neither the front matter nor the licence
    return chapters


def reflow(text: str) -> str:
    """Hard-wrapped paragraphs joined into one line each, as web text has them."""
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def test_common_crawl_decisions_are_datatrove_s(shared_data: Path) -> None:
    """The decisions on the 697 CC documents equal those of datatrove 0.10.1's C4QualityFilter and
    FineWebQualityFilter (spaCy en tokenizer), measured document by document; here their tallies."""
    texts = common_crawl(shared_data)
    assert len(texts) == 697
    c4 = Counter(c4_reasons(texts, bad_words=False))
    # datatrove: 361 kept, 325 too_few_sentences (27 of them "empty" here: no non-blank line), 11 curly_bracket
    assert c4 == {None: 361, "c4:too_few_sentences": 298, "c4:empty": 27, "c4:curly_bracket": 11}
    fineweb = Counter(fineweb_reasons(texts))
    assert fineweb == {
        None: 328,
        "fineweb:line_punct_ratio": 213,
        "fineweb:char_dup_ratio": 84,
        "fineweb:short_line_ratio": 28,
        "fineweb:empty": 27,
        "fineweb:list_ratio": 17,
    }
    assert_kernel_matches_reference(texts)


def test_common_crawl_through_the_cli_with_c4_lines(shared_data: Path, tmp_path: Path) -> None:
    """One command, `c4`, gives C4's output text included; `c4 --no-remove-lines` then `c4-lines` gives
    the same documents and texts."""
    texts = common_crawl(shared_data)
    write_shard(tmp_path / "in" / "cc.parquet", [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    expected = {str(i): ref_c4(t)[1] for i, t in enumerate(texts)}
    result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "one"), "--no-bad-words", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["dropped"] == {"c4:too_few_sentences": 298, "c4:empty": 27, "c4:curly_bracket": 11}
    one = read_dir(tmp_path / "one")
    assert one.num_rows == 361
    kept_ids = one.column("id").to_pylist()
    assert one.column("text").to_pylist() == [expected[i] for i in kept_ids]
    removed = sum(ref_c4(texts[int(i)])[0]["lines"] - ref_c4(texts[int(i)])[0]["lines_kept"] for i in kept_ids)
    manifest = json.loads(manifest_path(tmp_path / "one").read_text())
    assert manifest["counters"]["counted:c4:lines_removed"] == removed
    rejected = read_dir(rejects_dir(tmp_path / "one"))
    assert all(
        t == texts[int(i)]
        for i, t in zip(rejected.column("id").to_pylist(), rejected.column("text").to_pylist(), strict=True)
    )

    result = invoke(
        "filter", "c4", str(tmp_path / "in"), str(tmp_path / "mid"), "--no-bad-words", "--no-remove-lines", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "mid").column("text").to_pylist() == [texts[int(i)] for i in kept_ids]
    result = invoke("filter", "c4-lines", str(tmp_path / "mid"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    out = read_dir(tmp_path / "out")
    assert out.column("text").to_pylist() == [expected[i] for i in kept_ids]
    assert json.loads(result.stdout)["changed"] == {"lines_removed": removed}


def test_gutenberg_chapters_are_kept_once_reflowed(shared_data: Path) -> None:
    chapters = gutenberg_chapters(shared_data)
    assert len(chapters) > 300
    reflowed = [reflow(c) for c in chapters]
    c4 = c4_reasons(reflowed)
    fineweb = fineweb_reasons(reflowed)
    assert c4.count(None) / len(c4) > 0.95
    assert fineweb.count(None) / len(fineweb) > 0.9
    # Hard-wrapped at ~70 characters, few lines end a sentence: FineWeb (and datatrove) drop the raw chapters.
    raw = Counter(fineweb_reasons(chapters))
    assert raw["fineweb:line_punct_ratio"] / len(chapters) > 0.95
    assert_kernel_matches_reference(chapters[:60] + reflowed[:60])


def test_gold_article_bodies_are_mostly_kept(shared_data: Path) -> None:
    truth = json.loads((shared_data / "article-extraction-benchmark" / "ground-truth.json").read_text("utf-8"))
    bodies = [entry["articleBody"] for entry in truth.values()]
    assert len(bodies) == 181
    assert c4_reasons(bodies, bad_words=False).count(None) / len(bodies) > 0.9
    assert fineweb_reasons(bodies).count(None) / len(bodies) > 0.9
    assert_kernel_matches_reference(bodies)


def test_sms_messages_are_dropped_with_the_right_reason(shared_data: Path) -> None:
    lines = (shared_data / "sms-spam-collection" / "SMSSpamCollection").read_text("utf-8").split("\n")
    rows = [line.split("\t", 1) for line in lines[1:] if line]  # label<TAB>text, after a header line
    assert len(rows) == 5574
    labels, texts = [r[0] for r in rows], [r[1] for r in rows]
    c4, stats = verdict(C4(), texts)
    assert c4.count("c4:too_few_sentences") / len(texts) > 0.97
    # C4 keeps a message only if it holds 5 sentences in lines of 3 words ending with a terminal mark.
    assert all((r is None) == (n >= 5) for r, n in zip(c4, stats["c4_sentences"], strict=True) if r != "c4:bad_words")
    spam = [r for r, label in zip(c4, labels, strict=True) if label == "spam"]
    assert spam.count(None) / len(spam) < 0.05
    # One line each, so FineWeb's rules reduce to: ends with a terminal, then longer than 30 characters.
    assert all("\n" not in t and "\r" not in t for t in texts)
    expected = [
        "fineweb:empty"
        if not t.strip()
        else "fineweb:line_punct_ratio"
        if t[-1] not in TERMINALS
        else "fineweb:short_line_ratio"
        if len(t) <= 30
        else None
        for t in texts
    ]
    assert fineweb_reasons(texts) == expected
    assert Counter(expected)["fineweb:short_line_ratio"] > 500


def test_other_scripts(shared_data: Path) -> None:
    """C4's defaults are English: CJK and Thai lines end without ". ? ! \\" '" and have 1-2 words, so every
    line goes; with their marks and no word minimum, Chinese and Japanese are kept. Arabic ends sentences
    with "." and is kept as it is. FineWeb counts 。 and ؟ as terminal; lines of unspaced scripts are one or
    two word tokens, so multi-line Chinese and Japanese look like lists. Decisions equal datatrove's."""
    udhr = {
        name: (shared_data / "udhr2-multilingual" / f"{name}.txt").read_text("utf-8")
        for name in ("cmn_hans", "jpn", "tha", "arb")
    }
    texts = list(udhr.values())
    assert c4_reasons(texts) == ["c4:too_few_sentences"] * 3 + [None]
    with_marks = {"terminal_punctuation": ".?!\"'。！？", "min_words_per_line": 0}
    assert c4_reasons(texts, **with_marks) == [None, None, "c4:too_few_sentences", None]
    assert fineweb_reasons(texts) == ["fineweb:list_ratio", "fineweb:list_ratio", "fineweb:line_punct_ratio", None]
    assert_kernel_matches_reference(texts)


def test_udhr_in_every_language_matches_the_reference(shared_data: Path) -> None:
    texts = [p.read_text("utf-8") for p in sorted((shared_data / "udhr2-multilingual").glob("*.txt"))]
    assert len(texts) > 300
    assert_kernel_matches_reference(texts)


# -- bad input -----------------------------------------------------------------------------------------------


def test_invalid_utf8_in_a_parquet_file(tmp_path: Path) -> None:
    good = doc(*FIVE).encode()
    raw = [good + b"\n\xff\xfe bad bytes here.", b"\xc3(", None, good]
    path = tmp_path / "in" / "bad.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ["0", "1", "2", "3"], "text": pa.array(raw, pa.binary())}), path)
    # FIVE's lines have at most 30 characters: short for FineWeb.
    expected = {
        "c4": {"c4:empty": 1, "c4:too_few_sentences": 1},
        "fineweb": {"fineweb:empty": 1, "fineweb:line_punct_ratio": 1, "fineweb:short_line_ratio": 2},
    }
    for name, dropped in expected.items():
        result = invoke("filter", name, str(tmp_path / "in"), str(tmp_path / name), "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["dropped"] == dropped
        manifest = json.loads(manifest_path(tmp_path / name).read_text())
        assert manifest["counters"]["invalid_utf8_rows"] == 2
    kept = read_dir(tmp_path / "c4").column("text").to_pylist()
    assert kept == [doc(*FIVE) + "\n\ufffd\ufffd bad bytes here.", doc(*FIVE)]


def test_a_50_mb_document_and_1_mb_lines(tmp_path: Path) -> None:
    lines = [f"Sentence number {i} is right here." for i in range(1_500_000)]
    big = "\n".join(lines)
    assert len(big.encode()) > 50_000_000
    one_mb = {
        "words": "word " * 200_000 + "end.",  # one sentence
        "long_word": "a" * 1_000_000 + ".",  # removed by C4: a word over 1000 characters
        "sentences": "Hi there. " * 100_000,  # 100,000 sentences on one line
        "brackets": "{" * 1_000_000,
        "dots": "." * 1_000_000,
    }
    rows = [{"id": "big", "text": big}] + [{"id": k, "text": v} for k, v in one_mb.items()]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "c4"), "--annotate", "--json")
    assert result.exit_code == 0, result.stderr
    out = read_dir(tmp_path / "c4").to_pylist()
    stats = {r["id"]: (r["c4_lines"], r["c4_sentences"], r["c4_lines_removed"]) for r in out}
    assert stats == {
        "big": (1_500_000, 1_500_000, 0),
        "words": (1, 1, 0),
        "long_word": (1, 0, 1),
        "sentences": (1, 100_000, 0),
        "brackets": (1, 0, 1),
        "dots": (1, 0, 1),
    }
    result = invoke("filter", "fineweb", str(tmp_path / "in"), str(tmp_path / "fw"), "--json")
    assert result.exit_code == 0, result.stderr
    # "big": 1,499,999 breaks over 7 tokens a line; the 1 MB lines are one long punctuated line each,
    # except "{{{..." (no terminal) and "sentences" (ends with a space).
    assert json.loads(result.stdout)["dropped"] == {"fineweb:line_punct_ratio": 2}
    assert sorted(read_dir(tmp_path / "fw").column("id").to_pylist()) == ["big", "dots", "long_word", "words"]


def test_missing_text_column_is_a_usage_error(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "0", "body": doc(*FIVE)}])
    for name in ("c4", "c4-lines", "fineweb"):
        result = invoke("filter", name, str(tmp_path / "in"), str(tmp_path / name))
        assert result.exit_code == 2, result.output
        assert "text" in result.stderr


# -- the command line ----------------------------------------------------------------------------------------


def test_help_of_every_command() -> None:
    for name, option in (("c4", "--min-sentences"), ("c4-lines", "--min-words-per-line"), ("fineweb", "--stop-chars")):
        result = invoke("filter", name, "--help")
        assert result.exit_code == 0
        assert option in result.stdout and "CURATE_FILTER_" in result.stdout


def test_cli_annotate_rejects_options_and_environment(tmp_path: Path) -> None:
    texts = [doc(*FIVE), doc(*FIVE[:4]), ""]
    write_shard(tmp_path / "in" / "a.parquet", [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "a"), "--annotate", "--json")
    assert result.exit_code == 0, result.stderr
    annotated = read_dir(tmp_path / "a")
    assert annotated.column("c4_sentences").to_pylist() == [5, 4, 0]
    assert annotated.column("c4_bad_words").to_pylist() == [False, False, False]
    assert json.loads(result.stdout)["flagged"] == {"c4:too_few_sentences": 1, "c4:empty": 1}

    result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "b"), "--min-sentences", "4", "--json")
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "b").column("id").to_pylist() == ["0", "1"]
    rejects = read_dir(rejects_dir(tmp_path / "b")).to_pylist()
    assert [(r["id"], r["_stage"], r["_reason"]) for r in rejects] == [("2", "filter_c4", "c4:empty")]
    manifest = json.loads(manifest_path(tmp_path / "b").read_text())
    assert manifest["config"]["config"]["min_sentences"] == 4
    assert manifest["rows_in"] == 3 == manifest["rows_kept"] + manifest["rows_removed"]

    from click.testing import CliRunner

    from curate.cli import root

    runner = CliRunner(env={"CURATE_FILTER_FINEWEB_SHORT_LINE_LENGTH": "10"})
    result = runner.invoke(root, ["filter", "fineweb", str(tmp_path / "in"), str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(manifest_path(tmp_path / "c").read_text())["config"]["config"]["short_line_length"] == 10

    words = tmp_path / "words.txt"
    words.write_text("sentence number five\n", encoding="utf-8")
    result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "w"), "--bad-words-file", str(words), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["dropped"] == {"c4:bad_words": 1, "c4:too_few_sentences": 1, "c4:empty": 1}
    assert json.loads(manifest_path(tmp_path / "w").read_text())["config"]["config"]["bad_words_file"] == str(words)

    for bad in (["--min-sentences", "-1"], ["--bad-words-file", str(tmp_path / "missing.txt")]):
        result = invoke("filter", "c4", str(tmp_path / "in"), str(tmp_path / "d"), *bad)
        assert result.exit_code == 2, result.output
    result = invoke("filter", "fineweb", str(tmp_path / "in"), str(tmp_path / "e"), "--max-short-lines-fraction", "2")
    assert result.exit_code == 2, result.output
