"""gopher-quality and gopher-repetition (Rae et al. 2021, appendix A): the shared text_stats definitions, the
Rust counts against a plain-Python reference, every rule just below / at / just above its threshold (on
``evaluate`` and through the CLI), real corpora, scripts without spaces, and bad input."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import kernel
from curate.filters import text_stats
from curate.filters.base import Verdict
from curate.filters.rules.gopher_quality import STOP_WORDS, GopherQuality
from curate.filters.rules.gopher_repetition import DUP_NGRAMS, TOP_NGRAMS, GopherRepetition
from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard

# -- a plain-Python reference of the definitions ---------------------------------------------------------------

UNSPACED = [(0x0E00, 0x0FFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x4E00, 0x9FFF)]


def _alnum(c: str) -> bool:
    return c.isalpha() or c.isnumeric()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def _paragraphs(text: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def _strip_non_alnum(word: str) -> str:
    start, end = 0, len(word)
    while start < end and not _alnum(word[start]):
        start += 1
    while end > start and not _alnum(word[end - 1]):
        end -= 1
    return word[start:end]


def ref_quality(text: str, stop_words: tuple[str, ...] = STOP_WORDS, bullets: tuple[str, ...] = ("-",)) -> dict:
    words = text.split()
    counted = [w for w in words if any(_alnum(c) for c in w)]
    lines = _lines(text)
    stops = set(stop_words)
    return {
        "chars": len(text),
        "words": len(words),
        "counted_words": len(counted),
        "counted_word_chars": sum(len(w) for w in counted),
        "alpha_words": sum(any(c.isalpha() for c in w) for w in words),
        "hashes": text.count("#"),
        "ellipses": text.count("...") + text.count("\u2026"),
        "lines": len(lines),
        "bullet_lines": sum(any(line.startswith(b) for b in bullets) for line in lines),
        "ellipsis_lines": sum(line.endswith(("...", "\u2026")) for line in lines),
        "stop_words": len(stops & {_strip_non_alnum(w) for w in words}),
        "letters": sum(c.isalpha() for c in text),
        "unspaced_letters": sum(c.isalpha() and any(a <= ord(c) <= b for a, b in UNSPACED) for c in text),
    }


def _covered(lengths: list[int], starts: list[int], n: int, spaces: bool) -> int:
    """Characters of the words at ``starts[k]..starts[k] + n`` (plus one per space between two words of one
    occurrence if ``spaces``), each word and space counted once."""
    words = {i for start in starts for i in range(start, start + n)}
    gaps = {i for start in starts for i in range(start, start + n - 1)} if spaces else set()
    return sum(lengths[i] for i in words) + len(gaps)


def ref_repetition(text: str, top: tuple[int, ...] = TOP_NGRAMS, dup: tuple[int, ...] = DUP_NGRAMS) -> dict:
    def duplicates(items: list[str]) -> tuple[int, int]:
        seen: set[str] = set()
        count = chars = 0
        for item in items:
            if item in seen:
                count, chars = count + 1, chars + len(item)
            seen.add(item)
        return count, chars

    lines, paragraphs = _lines(text), _paragraphs(text)
    dup_lines, dup_line_chars = duplicates(lines)
    dup_paragraphs, dup_paragraph_chars = duplicates(paragraphs)
    words = text.split()
    lengths = [len(w) for w in words]
    result = {
        "chars": len(text),
        "words": len(words),
        "letters": sum(c.isalpha() for c in text),
        "unspaced_letters": sum(c.isalpha() and any(a <= ord(c) <= b for a, b in UNSPACED) for c in text),
        "lines": len(lines),
        "dup_lines": dup_lines,
        "dup_line_chars": dup_line_chars,
        "paragraphs": len(paragraphs),
        "dup_paragraphs": dup_paragraphs,
        "dup_paragraph_chars": dup_paragraph_chars,
    }

    def grams(n: int) -> list[tuple[str, ...]]:
        return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]

    for n in top:
        found = grams(n)
        counts = collections.Counter(found)  # insertion order: first occurrence first
        best = max(counts.values(), default=0)
        chosen = next((g for g, c in counts.items() if c == best), None) if best >= 2 else None
        starts = [i for i, g in enumerate(found) if g == chosen]
        result[f"top_{n}gram_chars"] = _covered(lengths, starts, n, spaces=True)
    for n in dup:
        seen: set[tuple[str, ...]] = set()
        repeats = []
        for i, g in enumerate(grams(n)):
            if g in seen:
                repeats.append(i)
            seen.add(g)
        result[f"dup_{n}gram_chars"] = _covered(lengths, repeats, n, spaces=False)
    return result


def _rows(counts: dict[str, np.ndarray]) -> list[dict[str, int]]:
    n = len(next(iter(counts.values())))
    return [{k: int(v[i]) for k, v in counts.items()} for i in range(n)]


# -- text_stats: words, lines, paragraphs ------------------------------------------------------------------------

TRICKY = ["", "  ", "a b\n\n c \r\nd\re", "  \n\n", "x\n \n\ny\nz\n", "one", "\u3000lead\u00a0 trail\x1c", "\r\n\r\n"]


def test_text_stats_match_python_definitions() -> None:
    texts = [*TRICKY, None]
    array = pa.array(texts, pa.large_string())
    assert text_stats.words(array).to_pylist() == [(t or "").split() for t in texts]
    assert text_stats.lines(array).to_pylist() == [_lines(t or "") for t in texts]
    assert text_stats.paragraphs(array).to_pylist() == [_paragraphs(t or "") for t in texts]
    assert text_stats.char_counts(array).tolist() == [len(t or "") for t in texts]
    words = text_stats.words(array)
    assert text_stats.per_row(words).tolist() == [len((t or "").split()) for t in texts]
    lengths = np.asarray(pa.compute.utf8_length(pa.compute.list_flatten(words)))
    assert text_stats.per_row(words, lengths).tolist() == [sum(map(len, (t or "").split())) for t in texts]
    # Sliced and chunked input give the same rows.
    assert text_stats.lines(array.slice(2, 3)).to_pylist() == [_lines(t) for t in texts[2:5]]
    chunked = pa.chunked_array([array.slice(0, 4), array.slice(4)])
    assert text_stats.paragraphs(chunked).to_pylist() == [_paragraphs(t or "") for t in texts]


def test_words_are_deterministic() -> None:
    # pyarrow 26's utf8_split_whitespace returned ["...", "\n"] for this text about one time in seven.
    text = " a\n\nがカ 中文字 a •\n\nЖж 中文字\nกขค 中文字\r\n"
    results = {str(text_stats.words(pa.array([text], pa.large_string())).to_pylist()) for _ in range(300)}
    assert results == {str([text.split()])}


TOKENS = [
    "the", "The", "THE,", "(and)", "of", "to.", "theory", "a", "ab", "...", "\u2026", "#", "#tag", "-", "\u2022",
    "123", "\u0661\u0662", "\u4e2d\u6587\u5b57", "\u0e01\u0e02\u0e04", "\u304c\u30ab", "\u0416\u0436", "\u03c2",
    "\u212a", "x...", "....", "......", "\u00e9t\u00e9", "\u00bd",
]  # fmt: skip
SEPARATORS = [" ", "  ", "\n", "\n\n", "\r\n", "\t", "\u3000", " \n \n", "\r", "\x1c", "\u00a0"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(TOKENS), max_size=40))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) + 1, max_size=len(words) + 1))
    return seps[0] + "".join(w + s for w, s in zip(words, seps[1:], strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(documents(), min_size=1, max_size=6))
def test_kernel_counts_match_the_reference(texts: list[str]) -> None:
    array = pa.array(texts, pa.large_string())
    quality = kernel.gopher_quality_counts(array, stop_words=STOP_WORDS, bullets=["-"])
    assert _rows(quality) == [ref_quality(t) for t in texts]
    repetition = kernel.gopher_repetition_counts(array, top_ngrams=[1, 2, 3, 4], dup_ngrams=[2, 5, 6, 10])
    assert _rows(repetition) == [ref_repetition(t, (1, 2, 3, 4), (2, 5, 6, 10)) for t in texts]
    assert [r["words"] for r in _rows(quality)] == text_stats.per_row(text_stats.words(array)).tolist()
    assert [r["lines"] for r in _rows(quality)] == text_stats.per_row(text_stats.lines(array)).tolist()
    assert [r["paragraphs"] for r in _rows(repetition)] == text_stats.per_row(text_stats.paragraphs(array)).tolist()


CLASS_FREE = ("chars", "words", "hashes", "ellipses", "lines", "bullet_lines", "ellipsis_lines")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_kernel_counts_on_random_unicode(texts: list[str]) -> None:
    """Any Unicode (surrogates aside): every count that does not depend on letter classes matches, no panic."""
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    array = pa.array(texts, pa.large_string())
    quality = _rows(kernel.gopher_quality_counts(array, stop_words=STOP_WORDS, bullets=["-"]))
    assert [{k: r[k] for k in CLASS_FREE} for r in quality] == [
        {k: v for k, v in ref_quality(t).items() if k in CLASS_FREE} for t in texts
    ]
    repetition = _rows(kernel.gopher_repetition_counts(array, top_ngrams=[2, 3], dup_ngrams=[2, 5]))
    reference = [ref_repetition(t, (2, 3), (2, 5)) for t in texts]
    for row, expected in zip(repetition, reference, strict=True):
        del row["letters"], row["unspaced_letters"], expected["letters"], expected["unspaced_letters"]
    assert repetition == reference


def test_kernel_counts_by_hand() -> None:
    text = "The cat, and #tag...\n\n - item\u2026\n \u2014 42"
    (row,) = _rows(kernel.gopher_quality_counts(pa.array([text]), stop_words=STOP_WORDS, bullets=["-"]))
    # words: The cat, and #tag... - item… — 42 (8); counted (letter or digit): 6 of 3+4+3+7+5+2 = 24 chars;
    # alphabetic: The cat, and #tag... item… (5); lines: 3, "- item…" a bullet, two end with an ellipsis;
    # stop words: "and" ("The" is not "the").
    assert row == {
        "chars": 36, "words": 8, "counted_words": 6, "counted_word_chars": 24, "alpha_words": 5, "hashes": 1,
        "ellipses": 2, "lines": 3, "bullet_lines": 1, "ellipsis_lines": 2, "stop_words": 1, "letters": 16,
        "unspaced_letters": 0,
    }  # fmt: skip
    # "a a a b": the 2-gram "a a" occurs at words 0 and 1: the top 2-gram holds words 0-2 and the two spaces
    # between them (5, not 3 + 3); the duplicate one (at 1) holds words 1 and 2, spaces not counted (2).
    (row,) = _rows(kernel.gopher_repetition_counts(pa.array(["a a a b"]), top_ngrams=[2], dup_ngrams=[2]))
    assert (row["top_2gram_chars"], row["dup_2gram_chars"]) == (5, 2)
    # Ties: "x y" and "p q" both occur twice; "p q" occurs first.
    (row,) = _rows(kernel.gopher_repetition_counts(pa.array(["p q x y p q x y zz"]), top_ngrams=[2], dup_ngrams=[]))
    assert row["top_2gram_chars"] == 6


def test_kernel_rejects_bad_arguments() -> None:
    texts = pa.array(["a"])
    with pytest.raises(ValueError, match="n-gram"):
        kernel.gopher_repetition_counts(texts, top_ngrams=[0], dup_ngrams=[])
    with pytest.raises(ValueError, match="repeat"):
        kernel.gopher_repetition_counts(texts, top_ngrams=[2], dup_ngrams=[2, 2])
    with pytest.raises(ValueError, match="stop words"):
        kernel.gopher_quality_counts(texts, stop_words=[f"w{i}" for i in range(65)], bullets=[])
    with pytest.raises(ValueError, match="stop word"):
        kernel.gopher_quality_counts(texts, stop_words=["two words"], bullets=[])
    with pytest.raises(TypeError):
        kernel.gopher_quality_counts(["a"], stop_words=[], bullets=[])  # type: ignore[arg-type]
    bad = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(np.array([0, 2], np.int64)), pa.py_buffer(b"\xc3(")]
    )
    with pytest.raises(ValueError, match="row 0: invalid UTF-8"):
        kernel.gopher_repetition_counts(bad, top_ngrams=[2], dup_ngrams=[])


# -- gopher-quality: every rule at its threshold --------------------------------------------------------------


def words_doc(*words: str) -> str:
    return " ".join(words)


def prose(n: int) -> str:
    """n counted words: the, and, then house: mean length (6 + 5 (n - 2)) / n."""
    return words_doc("the", "and", *["house"] * (n - 2))


def lines_doc(lines: list[str]) -> str:
    return "\n".join(lines)


LINE = "the and house house house"  # 5 words
ELLIPSIS_LINE = "the and house house house house"  # 6 words

# rule -> [(case, text, kept)], each computed by hand in the comment.
QUALITY_CASES: dict[str, list[tuple[str, str, bool]]] = {
    "word_count": [
        ("49 words", prose(49), False),
        ("50 words", prose(50), True),
        ("51 words", prose(51), True),
        # symbol-only tokens are not words: still 49
        ("49 words + symbols", prose(49) + " - | \u2014 ...", False),
        ("100,000 words", prose(100_000), True),
        ("100,001 words", prose(100_001), False),
    ],
    "mean_word_length": [
        # 50 words of 3 letters: 150 / 50 = 3.0
        ("mean 3.0", words_doc("the", "and", *["cat"] * 48), True),
        # one 'cat' -> 'at': 149 / 50 = 2.98
        ("mean 2.98", words_doc("the", "and", "at", *["cat"] * 47), False),
        # one 'cat' -> 'cats': 151 / 50 = 3.02
        ("mean 3.02", words_doc("the", "and", "cats", *["cat"] * 47), True),
        # 3 + 3 + 47 * 10 + 24 = 500 -> 10.0; with 25: 10.02; with 23: 9.98
        ("mean 10.0", words_doc("the", "and", *["abcdefghij"] * 47, "x" * 24), True),
        ("mean 10.02", words_doc("the", "and", *["abcdefghij"] * 47, "x" * 25), False),
        ("mean 9.98", words_doc("the", "and", *["abcdefghij"] * 47, "x" * 23), True),
    ],
    "hash_ratio": [
        # k of 50 words start with '#': k / 50
        ("5 / 50 = 0.1", words_doc("the", "and", *["#house"] * 5, *["house"] * 43), True),
        ("6 / 50 = 0.12", words_doc("the", "and", *["#house"] * 6, *["house"] * 42), False),
        ("4 / 50 = 0.08", words_doc("the", "and", *["#house"] * 4, *["house"] * 44), True),
    ],
    "ellipsis_ratio": [
        # 3 '...' + 2 '…' = 5 of 50 words (none at the end of the line): 0.1
        ("5 / 50", words_doc("the", "and", *["house..."] * 3, *["house\u2026"] * 2, *["house"] * 43), True),
        # '......' counts twice: 2 * 3 = 6 / 50
        ("6 / 50", words_doc("the", "and", *["house......"] * 3, *["house"] * 45), False),
        ("4 / 50", words_doc("the", "and", *["house...."] * 4, *["house"] * 44), True),
    ],
    "bullet_lines": [
        # k of 20 lines start with a bullet: k / 20
        ("18 / 20 = 0.9", lines_doc(["- " + LINE] * 9 + ["\u2022 " + LINE] * 9 + [LINE] * 2), True),
        ("19 / 20 = 0.95", lines_doc(["  * " + LINE] * 19 + [LINE]), False),
        ("17 / 20 = 0.85", lines_doc(["- " + LINE] * 17 + [LINE] * 3), True),
    ],
    "ellipsis_lines": [
        # k of 10 lines end with '...' or '…' (after stripping): k / 10
        ("3 / 10", lines_doc([ELLIPSIS_LINE + "...  "] * 2 + [ELLIPSIS_LINE + "\u2026"] + [ELLIPSIS_LINE] * 7), True),
        ("4 / 10", lines_doc([ELLIPSIS_LINE + "..."] * 4 + [ELLIPSIS_LINE] * 6), False),
        ("2 / 10", lines_doc([ELLIPSIS_LINE + "..."] * 2 + [ELLIPSIS_LINE] * 8), True),
    ],
    "alpha_words": [
        # k of 50 words are numbers: (50 - k) / 50
        ("40 / 50 = 0.8", words_doc("the", "and", *["123"] * 10, *["house"] * 38), True),
        ("39 / 50 = 0.78", words_doc("the", "and", *["123"] * 11, *["house"] * 37), False),
        ("41 / 50 = 0.82", words_doc("the", "and", *["123"] * 9, *["house"] * 39), True),
    ],
    "stop_words": [
        ("one stop word", words_doc("the", *["house"] * 49), False),
        ("the same one twice", words_doc("the", "The", *["house"] * 48), False),
        ("two, punctuation stripped", words_doc("the", "(and),", *["house"] * 48), True),
        ("capitalised forms do not count", words_doc("The", "AND", "of", *["house"] * 47), False),
        ("three", words_doc("the", "of", "with", *["house"] * 47), True),
        ("not inside words", words_doc("the", "theory", "andes", *["house"] * 47), False),
    ],
}
QUALITY_PARAMS = [(rule, case, text, kept) for rule, cases in QUALITY_CASES.items() for case, text, kept in cases]


def _verdict(stage: GopherQuality | GopherRepetition, texts: list[str | None]) -> Verdict:
    array = pa.array(texts, pa.large_string())
    return stage.evaluate(array, pa.record_batch({"text": array}))


@pytest.mark.parametrize(
    ("rule", "case", "text", "kept"), QUALITY_PARAMS, ids=[f"{p[0]}: {p[1]}" for p in QUALITY_PARAMS]
)
def test_quality_rule_threshold(rule: str, case: str, text: str, kept: bool) -> None:
    verdict = _verdict(GopherQuality(), [text])
    assert bool(verdict.keep[0]) is kept
    assert verdict.reasons[0].as_py() == (None if kept else f"gopher_quality:{rule}")


def test_quality_statistics_by_hand() -> None:
    texts = [
        words_doc("the", "and", *["#house"] * 5, *["house"] * 43),
        lines_doc(["- " + LINE] * 17 + [LINE] * 3),
        words_doc("the", "(and),", *["123"] * 10, *["house"] * 38),
        None,
    ]
    stats = {k: v.to_pylist() for k, v in _verdict(GopherQuality(), texts).stats.items()}
    assert stats["gopher_word_count"] == [50, 100, 50, 0]
    # (3 + 3 + 5 * 6 + 43 * 5) / 50; each line (3 + 3 + 3 * 5) / 5; (3 + 6 + 10 * 3 + 38 * 5) / 50
    assert stats["gopher_mean_word_length"][:3] == pytest.approx([251 / 50, 21 / 5, 229 / 50])
    assert stats["gopher_mean_word_length"][3] is None
    assert stats["gopher_hash_ratio"] == [0.1, 0.0, 0.0, None]
    assert stats["gopher_bullet_lines_fraction"] == [0.0, 0.85, 0.0, None]
    # 100 alphabetic words of 117 tokens (17 '-')
    assert stats["gopher_alpha_words_fraction"] == [1.0, 100 / 117, 0.8, None]
    assert stats["gopher_stop_words"] == [2, 2, 2, 0]
    assert stats["gopher_unspaced_script"] == [False, False, False, False]


def test_quality_thresholds_are_options() -> None:
    # The same documents flip with the thresholds moved.
    assert _verdict(GopherQuality(min_words=10), [prose(10)]).keep.tolist() == [True]
    assert _verdict(GopherQuality(max_words=60), [prose(61)]).reasons.to_pylist() == ["gopher_quality:word_count"]
    doc = words_doc("the", "and", *["#house"] * 6, *["house"] * 42)
    assert _verdict(GopherQuality(max_hash_ratio=0.12), [doc]).keep.tolist() == [True]
    assert _verdict(GopherQuality(min_stop_words=0), [prose(50).replace("the and", "x y")]).keep.tolist() == [True]
    custom = GopherQuality(stop_words=("house",), min_stop_words=1)
    assert _verdict(custom, [words_doc("x", *["house"] * 49)]).keep.tolist() == [True]
    dashes = lines_doc(["\u2013 " + LINE] * 20)  # en dash: not a default bullet
    assert _verdict(GopherQuality(), [dashes]).keep.tolist() == [True]
    assert _verdict(GopherQuality(bullets=("\u2013",)), [dashes]).reasons.to_pylist() == ["gopher_quality:bullet_lines"]


def _cli(tmp_path: Path, name: str, rows: list[dict[str, object]], *options: str) -> tuple[dict, dict[str, str]]:
    """Run ``curate filter NAME`` on ``rows``; return the JSON summary and the reason of every dropped id."""
    write_shard(tmp_path / "in" / "a.parquet", rows)
    out = tmp_path / "out"
    result = invoke("filter", name, str(tmp_path / "in"), str(out), "--json", "--overwrite", *options)
    assert result.exit_code == 0, result.stderr
    rejects = read_dir(rejects_dir(out)).to_pylist() if rejects_dir(out).exists() else []
    return json.loads(result.stdout), {r["id"]: r["_reason"] for r in rejects}


def test_quality_rules_through_the_cli(tmp_path: Path) -> None:
    rows = [{"id": f"{rule}: {case}", "text": text} for rule, case, text, _ in QUALITY_PARAMS]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows)
    assert dropped == {
        f"{rule}: {case}": f"gopher_quality:{rule}" for rule, case, _, kept in QUALITY_PARAMS if not kept
    }
    assert summary["rows_kept"] == sum(kept for *_, kept in QUALITY_PARAMS)
    kept_ids = set(read_dir(tmp_path / "out").column("id").to_pylist())
    assert kept_ids == {f"{rule}: {case}" for rule, case, _, kept in QUALITY_PARAMS if kept}
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["config"]["config"]["min_words"] == 50
    assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_removed"] == len(rows)


def test_quality_options_through_the_cli_and_annotate(tmp_path: Path) -> None:
    rows = [
        {"id": "49", "text": prose(49)},
        {"id": "hash", "text": words_doc("the", "and", *["#aaa"] * 6, *["aaa"] * 42)},
    ]
    _, dropped = _cli(tmp_path, "gopher-quality", rows, "--min-words", "49", "--max-hash-ratio", "0.12")
    assert dropped == {}
    summary, dropped = _cli(tmp_path, "gopher-quality", rows, "--annotate")
    assert dropped == {} and summary["flagged"] == {"gopher_quality:word_count": 1, "gopher_quality:hash_ratio": 1}
    table = read_dir(tmp_path / "out")
    assert table.column("gopher_word_count").to_pylist() == [49, 50]
    assert table.column("gopher_hash_ratio").to_pylist() == [0.0, 0.12]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--scripts-without-spaces", "maybe"], "--scripts-without-spaces"),
        (["--min-words", "60", "--max-words", "50"], "--min-words"),
        (["--max-bullet-lines-fraction", "1.5"], "--max-bullet-lines-fraction"),
        (["--min-stop-words", "9"], "--min-stop-words"),
        (["--stop-words", "two words"], "--stop-words"),
    ],
)
def test_bad_quality_options_are_usage_errors(tmp_path: Path, options: list[str], message: str) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "1", "text": prose(50)}])
    result = invoke("filter", "gopher-quality", str(tmp_path / "in"), str(tmp_path / "out"), *options)
    assert result.exit_code == 2
    assert message in result.stderr


# -- gopher-repetition: every rule at its threshold ------------------------------------------------------------

REPETITION_RULES = [
    "dup_line_fraction", "dup_line_char_fraction", "dup_para_fraction", "dup_para_char_fraction",
    *[f"top_{n}gram_char_fraction" for n in TOP_NGRAMS], *[f"dup_{n}gram_char_fraction" for n in DUP_NGRAMS],
]  # fmt: skip


def only(rule: str) -> GopherRepetition:
    """The repetition filter with every rule but ``rule`` disabled (threshold 1)."""
    return GopherRepetition(**{f"max_{r}": 1.0 for r in REPETITION_RULES if r != rule})


def filler(length: int, tag: str = "f") -> str:
    """Exactly ``length`` characters of distinct words (no n-gram repeats)."""
    words, total, i = [], -1, 0
    while total + 1 + len(f"{tag}{i:03d}") <= length:
        words.append(f"{tag}{i:03d}")
        total += 1 + len(words[-1])
        i += 1
    text = " ".join(words)
    return text + "z" * (length - len(text))


def unique_lines(count: int, tag: str = "u") -> list[str]:
    return [f"{tag}{i:03d}a {tag}{i:03d}b" for i in range(count)]


def paragraphs_doc(ids: list[int]) -> str:
    return "\n\n".join(f"p{i:03d}a x{i:03d}\np{i:03d}b y{i:03d}" for i in ids)


def gram(n: int, length: int) -> str:
    """n words in ``length`` characters: n - 1 single letters, then one longer word."""
    letters = "abcdefghijklmnop"[: n - 1]
    return " ".join([*letters, "q" * (length - 2 * (n - 1))])


def twice(phrase: str, total: int) -> str:
    """``phrase``, distinct filler words, ``phrase`` again: ``total`` characters in all."""
    return f"{phrase} {filler(total - 2 * len(phrase) - 2)} {phrase}"


def _threshold_cases(text_at: callable, total: int) -> list[tuple[str, str, bool]]:  # type: ignore[valid-type]
    # Shorter text: the same repeated characters weigh more (just above); longer: just below.
    return [
        (f"{total} chars", text_at(total), True),
        (f"{total - 1} chars", text_at(total - 1), False),
        (f"{total + 1} chars", text_at(total + 1), True),
    ]


REPETITION_CASES: dict[str, list[tuple[str, str, bool]]] = {
    # 10 lines, k of them repeat an earlier line: k / 10
    "dup_line_fraction": [
        ("3 / 10 = 0.3", lines_doc(unique_lines(7) + unique_lines(3)), True),
        ("4 / 10 = 0.4", lines_doc(unique_lines(6) + unique_lines(4)), False),
        ("2 / 10 = 0.2", lines_doc(unique_lines(8) + unique_lines(2)), True),
    ],
    # a line of L characters, a filler line, the same line again; 100 characters in all: L / 100
    "dup_line_char_fraction": [
        ("20 / 100", lines_doc(["a" * 20, filler(58), "a" * 20]), True),
        ("21 / 100", lines_doc(["a" * 21, filler(56), "a" * 21]), False),
        ("19 / 100", lines_doc(["a" * 19, filler(60), "a" * 19]), True),
    ],
    # 10 paragraphs of two lines, k of them repeat an earlier paragraph: k / 10
    "dup_para_fraction": [
        ("3 / 10 = 0.3", paragraphs_doc([*range(7), 0, 1, 2]), True),
        ("4 / 10 = 0.4", paragraphs_doc([*range(6), 0, 1, 2, 3]), False),
        ("2 / 10 = 0.2", paragraphs_doc([*range(8), 4, 5]), True),
    ],
    # a paragraph of L characters, a filler paragraph, the same paragraph; 100 characters: L / 100
    "dup_para_char_fraction": [
        ("20 / 100", "\n\n".join(["a" * 20, filler(56), "a" * 20]), True),
        ("21 / 100", "\n\n".join(["a" * 21, filler(54), "a" * 21]), False),
        ("19 / 100", "\n\n".join(["a" * 19, filler(58), "a" * 19]), True),
    ],
    # an n-gram of L characters (W without its n - 1 spaces) twice in T characters: 2L / T for the top n-gram
    # (both occurrences, spaces included), W / T for the duplicate n-gram (the second one, words only); T
    # chosen so that the fraction is the threshold exactly.
    "top_2gram_char_fraction": _threshold_cases(lambda t: twice(gram(2, 3), t), 30),  # 6 / 30 = 0.2
    "top_3gram_char_fraction": _threshold_cases(lambda t: twice(gram(3, 9), t), 100),  # 18 / 100 = 0.18
    "top_4gram_char_fraction": _threshold_cases(lambda t: twice(gram(4, 10), t), 125),  # 20 / 125 = 0.16
    "dup_5gram_char_fraction": _threshold_cases(lambda t: twice(gram(5, 10), t), 40),  # (10 - 4) / 40 = 0.15
    "dup_6gram_char_fraction": _threshold_cases(lambda t: twice(gram(6, 12), t), 50),  # (12 - 5) / 50 = 0.14
    "dup_7gram_char_fraction": _threshold_cases(lambda t: twice(gram(7, 19), t), 100),  # (19 - 6) / 100 = 0.13
    "dup_8gram_char_fraction": _threshold_cases(lambda t: twice(gram(8, 16), t), 75),  # (16 - 7) / 75 = 0.12
    "dup_9gram_char_fraction": _threshold_cases(lambda t: twice(gram(9, 19), t), 100),  # (19 - 8) / 100 = 0.11
    "dup_10gram_char_fraction": _threshold_cases(lambda t: twice(gram(10, 19), t), 100),  # (19 - 9) / 100 = 0.1
}
REPETITION_PARAMS = [(r, case, text, kept) for r, cases in REPETITION_CASES.items() for case, text, kept in cases]


def test_repetition_cases_are_what_they_say() -> None:
    assert set(REPETITION_CASES) == set(REPETITION_RULES)
    assert len(twice(gram(9, 19), 100)) == 100 and len(gram(9, 19)) == 19 and len(gram(9, 19).split()) == 9
    assert len(lines_doc(["a" * 21, filler(56), "a" * 21])) == 100
    assert len("\n\n".join(["a" * 19, filler(58), "a" * 19])) == 100


@pytest.mark.parametrize(
    ("rule", "case", "text", "kept"), REPETITION_PARAMS, ids=[f"{p[0]}: {p[1]}" for p in REPETITION_PARAMS]
)
def test_repetition_rule_threshold(rule: str, case: str, text: str, kept: bool) -> None:
    verdict = _verdict(only(rule), [text])
    assert bool(verdict.keep[0]) is kept, verdict.stats[f"gopher_{rule}"].to_pylist()
    assert verdict.reasons[0].as_py() == (None if kept else f"gopher_repetition:{rule}")


@pytest.mark.parametrize("rule", REPETITION_RULES)
def test_repetition_rules_through_the_cli(tmp_path: Path, rule: str) -> None:
    options = [o for r in REPETITION_RULES if r != rule for o in (f"--max-{r.replace('_', '-')}", "1")]
    rows = [{"id": case, "text": text} for case, text, _ in REPETITION_CASES[rule]]
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows, *options)
    assert dropped == {case: f"gopher_repetition:{rule}" for case, _, kept in REPETITION_CASES[rule] if not kept}
    assert summary["rows_kept"] == sum(kept for *_, kept in REPETITION_CASES[rule])


def test_repetition_statistics_by_hand() -> None:
    texts = [
        lines_doc(["a" * 20, filler(58), "a" * 20]),
        twice(gram(2, 3), 30),
        paragraphs_doc([*range(7), 0, 1, 2]),
        "",
        None,
    ]
    stats = {k: v.to_pylist() for k, v in _verdict(GopherRepetition(), texts).stats.items()}
    assert stats["gopher_dup_line_fraction"] == [1 / 3, 0.0, 6 / 20, None, None]
    assert stats["gopher_dup_line_char_fraction"] == [0.2, 0.0, 3 * 2 * 10 / len(texts[2]), None, None]
    assert stats["gopher_dup_para_fraction"] == [0.0, 0.0, 0.3, None, None]
    # 'a b' twice in 30 characters; no 3-gram repeats
    assert stats["gopher_top_2gram_char_fraction"][1] == 0.2
    assert stats["gopher_top_3gram_char_fraction"][1] == 0.0
    # each repeated paragraph 'pNNNa xNNN\npNNNb yNNN' is 21 characters
    assert stats["gopher_dup_para_char_fraction"][2] == 3 * 21 / len(texts[2])
    assert stats["gopher_dup_5gram_char_fraction"][2] > 0.15
    assert _verdict(GopherRepetition(), texts).reasons.to_pylist()[3:] == ["gopher_repetition:empty"] * 2
    assert _verdict(GopherRepetition(), texts).keep.tolist() == [False, True, False, False, False]
    assert _verdict(GopherRepetition(drop_empty=False), texts).keep.tolist() == [False, True, False, True, True]


def test_repetition_defaults_drop_with_the_first_failing_rule(tmp_path: Path) -> None:
    rows = [
        {"id": "prose", "text": filler(2000)},
        {"id": "lines", "text": lines_doc(unique_lines(6) + unique_lines(4))},
        {"id": "spam", "text": "buy now " * 50},
        {"id": "empty", "text": ""},
        {"id": "null", "text": None},
    ]
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows)
    assert dropped == {
        "lines": "gopher_repetition:dup_line_fraction",
        "spam": "gopher_repetition:top_2gram_char_fraction",
        "empty": "gopher_repetition:empty",
        "null": "gopher_repetition:empty",
    }
    assert summary["dropped"] == {
        "gopher_repetition:empty": 2,
        "gopher_repetition:dup_line_fraction": 1,
        "gopher_repetition:top_2gram_char_fraction": 1,
    }


def test_bad_repetition_option_is_a_usage_error(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "1", "text": "x"}])
    result = invoke(
        "filter", "gopher-repetition", str(tmp_path / "in"), str(tmp_path / "out"), "--max-dup-5gram-char-fraction", "2"
    )
    assert result.exit_code == 2 and "--max-dup-5gram-char-fraction" in result.stderr


# -- scripts without spaces, and other scripts -----------------------------------------------------------------

CHINESE = "\n".join(
    ["我们的世界是一个美丽的地方，每个人都应该珍惜它，保护环境是我们共同的责任。"]
    + [f"第{i}段文字讲述了不同的故事和经历。" for i in range(8)]
)
JAPANESE = "\n".join(f"日本語の文章{i}はスペースを使わずに書かれています。とても読みやすいです。" for i in range(8))
THAI = " ".join(f"ภาษาไทยเป็นภาษาที่สวยงามมากและมีประวัติศาสตร์ยาวนาน{i}" for i in range(20))
ARABIC = "\n".join(
    ["هذا نص عربي طويل يحتوي على كلمات كثيرة ومتنوعة في كل سطر من سطوره"] * 3
    + ["وهذه جملة أخرى مختلفة قليلا عن الجمل السابقة في هذا النص الطويل جدا"] * 3
)
KOREAN = " ".join(["한국어는 띄어쓰기를 사용하는 언어입니다 그래서 단어를 셀 수 있습니다"] * 8)
MIXED = CHINESE + "\nThe title of this page is in English and so are a few words."


def test_scripts_without_spaces_skip_the_word_rules_by_default() -> None:
    texts = [CHINESE, JAPANESE, THAI, MIXED, ARABIC, KOREAN]
    skip = _verdict(GopherQuality(), texts)
    assert skip.stats["gopher_unspaced_script"].to_pylist() == [True, True, True, True, False, False]
    # Spaced scripts go through the word rules like English: the English stop words drop them.
    assert skip.reasons.to_pylist() == [
        None,
        None,
        None,
        None,
        "gopher_quality:stop_words",
        "gopher_quality:stop_words",
    ]
    apply = _verdict(GopherQuality(scripts_without_spaces="apply"), texts)
    # Chinese: 10 "words" (one per line or two); Thai: 20 words of ~40 letters.
    assert apply.reasons.to_pylist()[:4] == ["gopher_quality:word_count"] * 4
    assert _verdict(GopherQuality(min_stop_words=0), [ARABIC, KOREAN]).keep.tolist() == [True, True]
    # The line rules still apply to them.
    bullets = "\n".join("• " + line for line in CHINESE.splitlines())
    assert _verdict(GopherQuality(), [bullets]).reasons.to_pylist() == ["gopher_quality:bullet_lines"]


def test_scripts_without_spaces_skip_the_ngram_rules_only(tmp_path: Path) -> None:
    tokens = " ".join(["中文字"] * 30)  # the whitespace "words" repeat: a top 2-gram over 90% of the text
    repeated_lines = lines_doc(CHINESE.splitlines()[:3] * 3)
    rows = [{"id": "tokens", "text": tokens}, {"id": "lines", "text": repeated_lines}]
    _, dropped = _cli(tmp_path, "gopher-repetition", rows)
    assert dropped == {"lines": "gopher_repetition:dup_line_fraction"}
    _, dropped = _cli(tmp_path, "gopher-repetition", rows, "--scripts-without-spaces", "apply")
    assert dropped == {
        "tokens": "gopher_repetition:top_2gram_char_fraction",
        "lines": "gopher_repetition:dup_line_fraction",
    }


def test_scripts_without_spaces_through_the_cli(tmp_path: Path) -> None:
    rows = [{"id": "zh", "text": CHINESE}, {"id": "th", "text": THAI}, {"id": "ar", "text": ARABIC}]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows, "--annotate")
    assert summary["flagged"] == {"gopher_quality:stop_words": 1}
    assert read_dir(tmp_path / "out").column("gopher_unspaced_script").to_pylist() == [True, True, False]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows, "--scripts-without-spaces", "apply")
    assert dropped == {
        "zh": "gopher_quality:word_count",
        "th": "gopher_quality:word_count",
        "ar": "gopher_quality:stop_words",
    }


# -- real corpora ------------------------------------------------------------------------------------------------


def gutenberg_chapters(root: Path, every: int = 16) -> list[str]:
    """Chapters (at least 500 words) of every ``every``-th book, without Project Gutenberg's header and licence."""
    chapters = []
    for book in sorted(root.glob("*/*.txt"))[::every]:
        text = book.read_text("utf-8", errors="replace")
        start = re.search(r"\*\*\* ?START OF.*?\n", text)
        end = re.search(r"\*\*\* ?END OF", text)
        text = text[start.end() if start else 0 : end.start() if end else len(text)]
        parts = re.split(r"\n\s*(?:CHAPTER|Chapter|BOOK|Book)\s+[IVXLC\d]+\b[^\n]*\n", text)
        chapters += [p.strip() for p in parts if len(p.split()) >= 500]
    return chapters


def test_gutenberg_chapters_are_kept(shared_data: Path) -> None:
    chapters = gutenberg_chapters(shared_data / "gutenberg-top-authors-subset")
    assert len(chapters) > 200
    quality = _verdict(GopherQuality(), chapters)
    repetition = _verdict(GopherRepetition(), chapters)
    assert quality.keep.mean() > 0.97, collections.Counter(quality.reasons.drop_null().to_pylist())
    assert repetition.keep.mean() > 0.98, collections.Counter(repetition.reasons.drop_null().to_pylist())


def test_gold_article_bodies_are_mostly_kept(shared_data: Path) -> None:
    truth = json.loads((shared_data / "article-extraction-benchmark" / "ground-truth.json").read_text("utf-8"))
    bodies = [v["articleBody"] for v in truth.values()]
    quality = _verdict(GopherQuality(), bodies)
    reasons = collections.Counter(quality.reasons.drop_null().to_pylist())
    # Some of the 181 articles are Portuguese, Russian, Korean, Indonesian, German: the English stop words go.
    assert quality.keep.mean() > 0.85, reasons
    english = np.asarray(quality.stats["gopher_stop_words"].to_pylist()) >= 4
    assert quality.keep[english].mean() > 0.95
    assert _verdict(GopherRepetition(), bodies).keep.mean() > 0.95


def test_sms_messages_are_dropped_for_their_word_count(shared_data: Path) -> None:
    lines = (shared_data / "sms-spam-collection" / "SMSSpamCollection").read_text("utf-8", errors="replace")
    messages = [line.split("\t", 1)[1] for line in lines.splitlines() if "\t" in line]
    assert len(messages) > 5000
    verdict = _verdict(GopherQuality(), messages)
    counts = np.asarray(verdict.stats["gopher_word_count"].to_pylist())
    reasons = np.asarray(verdict.reasons.to_pylist(), dtype=object)
    assert (reasons[counts < 50] == "gopher_quality:word_count").all()
    assert (~verdict.keep).mean() > 0.98


# -- bad input ---------------------------------------------------------------------------------------------------


def test_null_empty_and_whitespace_only(tmp_path: Path) -> None:
    rows = [{"id": "null", "text": None}, {"id": "empty", "text": ""}, {"id": "blank", "text": " \n\t\u3000\r\n"}]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows)
    assert dropped == {k: "gopher_quality:word_count" for k in ("null", "empty", "blank")}
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows)
    assert dropped == {k: "gopher_repetition:empty" for k in ("null", "empty", "blank")}
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows, "--no-drop-empty")
    assert dropped == {} and summary["rows_kept"] == 3


def test_invalid_utf8_in_a_parquet_file(tmp_path: Path) -> None:
    good = "the and " + filler(400)  # no repetition
    raw = [good.encode() + b" \xff\xfe bad", b"\xc3(", None, good.encode()]
    path = tmp_path / "in" / "bad.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ["0", "1", "2", "3"], "text": pa.array(raw, pa.binary())}), path)
    for name, expected in (
        ("gopher-quality", {"1": "gopher_quality:word_count", "2": "gopher_quality:word_count"}),
        ("gopher-repetition", {"2": "gopher_repetition:empty"}),
    ):
        result = invoke("filter", name, str(tmp_path / "in"), str(tmp_path / name), "--json")
        assert result.exit_code == 0, result.stderr
        manifest = json.loads(manifest_path(tmp_path / name).read_text())
        assert manifest["counters"]["invalid_utf8_rows"] == 2
        rejects = read_dir(rejects_dir(tmp_path / name)).to_pylist()
        assert {r["id"]: r["_reason"] for r in rejects} == expected
    kept = read_dir(tmp_path / "gopher-quality").column("text").to_pylist()
    assert kept == [good + " \ufffd\ufffd bad", good]
    assert read_dir(tmp_path / "gopher-repetition").column("text").to_pylist() == [
        good + " \ufffd\ufffd bad",
        "\ufffd(",
        good,
    ]


def test_missing_text_column_is_a_usage_error(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "1", "body": prose(60)}])
    for name in ("gopher-quality", "gopher-repetition"):
        result = invoke("filter", name, str(tmp_path / "in"), str(tmp_path / name))
        assert result.exit_code == 2
        assert "text" in result.stderr


def test_one_megabyte_lines(tmp_path: Path) -> None:
    rows = [
        {"id": "words", "text": prose(200_000)},  # one line of 200,000 words
        {"id": "word", "text": "a" * 1_000_000},  # one word of 1,000,000 letters
        {"id": "dots", "text": "." * 1_000_000},  # one token without a letter or digit: no counted word
        {"id": "lines", "text": lines_doc([filler(1_000_000, "w"), filler(1_000_000, "v")])},
    ]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows, "--annotate")
    stats = read_dir(tmp_path / "out").select(["id", "gopher_word_count", "gopher_ellipsis_ratio"]).to_pylist()
    assert [(r["gopher_word_count"], r["gopher_ellipsis_ratio"]) for r in stats] == [
        (200_000, 0.0),
        (1, 0.0),
        (0, 333_333.0),
        (2 * len(filler(1_000_000, "w").split()), 0.0),
    ]
    assert summary["flagged"] == {"gopher_quality:word_count": 4}
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows)
    assert dropped == {"words": "gopher_repetition:top_2gram_char_fraction"}


@pytest.mark.slow
def test_a_50_mb_document_through_the_cli(tmp_path: Path) -> None:
    big = "\n".join(f"Sentence number {i} is right here, said the man with a hat." for i in range(800_000))
    assert len(big.encode()) > 50_000_000
    rows = [{"id": "big", "text": big}, {"id": "small", "text": filler(2000)}]
    summary, dropped = _cli(tmp_path, "gopher-quality", rows, "--annotate")
    assert read_dir(tmp_path / "out").column("gopher_word_count").to_pylist() == [
        12 * 800_000,
        len(filler(2000).split()),
    ]
    assert summary["flagged"] == {"gopher_quality:word_count": 1, "gopher_quality:stop_words": 1}
    summary, dropped = _cli(tmp_path, "gopher-repetition", rows)
    # every line repeats "is right here, said the man with a hat."
    assert dropped == {"big": "gopher_repetition:top_2gram_char_fraction"}


BOUNDED_MEMORY = r"""
import gc, resource, sys
import numpy as np, pyarrow as pa
from curate import kernel
data = b"Alpha beta, gamma. DELTA epsilon zeta-eta theta the of\n" * (50_000_000 // 55)
offsets = np.array([0, len(data)], dtype=np.int64)
array = pa.Array.from_buffers(pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
quality = kernel.gopher_quality_counts(array, stop_words=["the", "of"], bullets=["-"])
after_quality = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rep = kernel.gopher_repetition_counts(array, top_ngrams=[2, 3, 4], dup_ngrams=[5, 6, 7, 8, 9, 10])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
words, dup5 = int(quality["words"][0]), int(rep["dup_5gram_chars"][0])
print((after_quality - before) // 1024, (after - before) // 1024, words, dup5)
"""


@pytest.mark.slow
def test_a_50_mb_document_in_bounded_memory() -> None:
    """The quality counts stream (no memory per word); the repetition counts keep ~50 bytes per word."""
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED_MEMORY], capture_output=True, text=True, check=True, timeout=300
    )
    quality_mb, repetition_mb, words, dup5 = map(int, done.stdout.split())
    lines = 50_000_000 // 55  # lines of 55 characters
    assert words == 9 * lines
    # every 5-gram from the second line on repeats one 9 words earlier: the words of lines 2 to the end, 46
    # characters a line (55 less 8 spaces and the line break)
    assert dup5 == 46 * (lines - 1)
    assert quality_mb < 16, quality_mb
    assert repetition_mb < 600, repetition_mb  # 8.9 million words


def test_skipped_word_rules_are_counted_in_the_manifest(tmp_path: Path) -> None:
    chinese = "这是一个没有空格的中文句子。" * 40
    english = "the cat sat on the mat and it was happy with that. " * 20
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "zh", "text": chinese}, {"id": "en", "text": english}])
    result = invoke("filter", "gopher-quality", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["counters"]["counted:gopher_quality:unspaced_script_word_rules_skipped"] == 1
