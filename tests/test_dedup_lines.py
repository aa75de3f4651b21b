"""``curate dedup lines`` through the real CLI, checked against counts made independently with
``collections.Counter`` over the raw lines."""

from __future__ import annotations

import gzip
import json
import random
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from curate.io.layout import rejects_dir
from tests.conftest import invoke, read_dir, write_shard

BOILERPLATE = ["Home | News | Contact", "Accept all cookies", "Share this article", "(c) 2024 Example Corp"]


def line_key(line: str) -> str:
    return unicodedata.normalize("NFC", line.strip())


def brute_force(texts: list[str], min_count: int) -> tuple[list[str], list[int]]:
    """Each text without its lines seen at least ``min_count`` times, and lines removed per text."""
    counts = Counter(line_key(line) for text in texts for line in re.split(r"\r\n|\r|\n", text) if line.strip())
    out, removed = [], []
    for text in texts:
        pieces = re.split(r"(\r\n|\r|\n)", text)
        kept, gone = [], 0
        for i in range(0, len(pieces), 2):
            line, end = pieces[i], pieces[i + 1] if i + 1 < len(pieces) else ""
            if line.strip() and counts[line_key(line)] >= min_count:
                gone += 1
            else:
                kept.append(line + end)
        out.append("".join(kept))
        removed.append(gone)
    return out, removed


def corpus(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        body = [f"Sentence {rng.randint(0, 10**9)} about topic {rng.randint(0, 50)}." for _ in range(rng.randint(1, 6))]
        lines = rng.sample(BOILERPLATE, rng.randint(0, 3)) + body + rng.sample(BOILERPLATE, rng.randint(0, 1))
        if i % 17 == 0:
            lines = [rng.choice(BOILERPLATE)]  # only boilerplate: left empty, so too short
        text = "\n".join(lines)
        if i % 5 == 0:
            text = text.replace("\n", "\r\n")
        if i % 7 == 0:
            text = text.replace("Accept all cookies", "Accept all cookies   ")
        docs.append({"id": f"d{i:04d}", "text": text})
    return docs


def run(*args: str) -> dict[str, object]:
    result = invoke("-q", "dedup", "lines", *args, "--json")
    assert result.exit_code == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.mark.parametrize("approx", [False, True])
def test_frequent_lines_removed_exactly_as_counted(tmp_path: Path, approx: bool) -> None:
    docs = corpus(1, 300)
    for s in range(3):
        write_shard(tmp_path / "in" / f"s{s}.parquet", docs[s::3])
    extra = ["--approx", "--sketch-width", str(1 << 20)] if approx else []
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--min-count", "5", *extra)
    expected, removed = brute_force([str(d["text"]) for d in docs], 5)
    expected_by_id = {str(d["id"]): (t, r) for d, t, r in zip(docs, expected, removed, strict=True)}
    kept = read_dir(tmp_path / "out").to_pylist()
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert len(kept) + len(rejects) == len(docs) == summary["rows_in"]
    for row in kept:
        text, gone = expected_by_id[row["id"]]
        assert row["text"] == text
        assert row["lines_removed"] == gone
        assert row["chars_removed"] == len(next(str(d["text"]) for d in docs if d["id"] == row["id"])) - len(text)
    for row in rejects:
        text, gone = expected_by_id[row["id"]]
        assert not text.split() and gone > 0
        assert row["_reason"] == "lines:too_short"
        assert row["text"] == next(d["text"] for d in docs if d["id"] == row["id"])  # rejected as it was
    assert {r["id"] for r in rejects} == {i for i, (t, g) in expected_by_id.items() if g and not t.split()}


def test_keep_first_keeps_each_first_occurrence(tmp_path: Path) -> None:
    docs = [{"id": f"d{i}", "text": f"unique line {i}\nShared footer"} for i in range(4)]
    write_shard(tmp_path / "in" / "a.parquet", docs)
    run(str(tmp_path / "in"), str(tmp_path / "out"), "--min-count", "2", "--keep-first")
    texts = read_dir(tmp_path / "out").column("text").to_pylist()
    assert texts == ["unique line 0\nShared footer"] + [f"unique line {i}\n" for i in range(1, 4)]


def test_paragraph_unit(tmp_path: Path) -> None:
    para = "Subscribe to our newsletter\nfor weekly updates"
    docs = [{"id": f"d{i}", "text": f"Story {i} begins.\nIt goes on.\n\n{para}\n\nThe end {i}."} for i in range(3)]
    docs.append({"id": "x", "text": "Subscribe to our newsletter\nalone"})
    write_shard(tmp_path / "in" / "a.parquet", docs)
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--unit", "paragraph", "--min-count", "3")
    rows = {r["id"]: r for r in read_dir(tmp_path / "out").to_pylist()}
    assert rows["d1"]["text"] == "Story 1 begins.\nIt goes on.\n\nThe end 1."
    assert rows["d1"]["paragraphs_removed"] == 1
    assert rows["x"]["paragraphs_removed"] == 0
    assert summary["paragraphs_removed"] == 3


def test_min_words_and_approx_with_keep_first_is_usage_error(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": str(i), "text": "nav\nshort"} for i in range(3)])
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--min-count", "3", "--min-words", "2")
    assert summary["rows_removed"] == 3
    both = invoke("dedup", "lines", str(tmp_path / "in"), str(tmp_path / "o2"), "--approx", "--keep-first")
    assert both.exit_code == 2 and "--keep-first" in both.stderr


def test_empty_and_null_texts_pass_through(tmp_path: Path) -> None:
    docs = [{"id": "a", "text": ""}, {"id": "b", "text": None}, {"id": "c", "text": "x\nx\nx"}]
    write_shard(tmp_path / "in" / "a.parquet", docs, schema=pa.schema([("id", pa.string()), ("text", pa.string())]))
    run(str(tmp_path / "in"), str(tmp_path / "out"), "--min-count", "3")
    kept = {r["id"]: r for r in read_dir(tmp_path / "out").to_pylist()}
    assert kept["a"]["text"] == "" and kept["b"]["text"] is None
    assert [r["id"] for r in read_dir(rejects_dir(tmp_path / "out")).to_pylist()] == ["c"]


def test_common_crawl_boilerplate_lines(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / source.name).symlink_to(source)
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--min-count", "10", "--min-words", "0")
    expected, removed = brute_force([r["text"] for r in records], 10)
    assert summary["lines_removed"] == sum(removed) > 0
    kept = {r["id"]: r["text"] for r in read_dir(tmp_path / "out").select(["id", "text"]).to_pylist()}
    for record, text in zip(records, expected, strict=True):
        assert kept[record["id"]] == text


def test_sentences3_keeps_one_copy_of_each_repeated_span(tmp_path: Path) -> None:
    """C4's rule: all but one occurrence of any three-sentence span seen more than once go."""
    rng = random.Random(9)
    pool = [f"Statement {i} is true." for i in range(6)]
    docs = [{"id": f"d{i}", "text": " ".join(rng.choice(pool) for _ in range(rng.randint(2, 7)))} for i in range(60)]
    write_shard(tmp_path / "in" / "a.parquet", docs)
    run(
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        "--unit",
        "sentences3",
        "--min-count",
        "2",
        "--keep-first",
        "--min-words",
        "0",
    )
    # Independent brute force: sentences with their trailing space, windows of three.
    split = [re.findall(r"[^.!?]*[.!?](?:\s+|$)", str(d["text"])) for d in docs]
    first_seen: dict[tuple[str, ...], tuple[int, int]] = {}
    counts: Counter[tuple[str, ...]] = Counter()
    for d, pieces in enumerate(split):
        for w in range(len(pieces) - 2):
            key = tuple(p.strip() for p in pieces[w : w + 3])
            counts[key] += 1
            first_seen.setdefault(key, (d, w))
    expected = {}
    for d, pieces in enumerate(split):
        gone = set()
        for w in range(len(pieces) - 2):
            key = tuple(p.strip() for p in pieces[w : w + 3])
            if counts[key] >= 2 and first_seen[key] != (d, w):
                gone.update(range(w, w + 3))
        expected[docs[d]["id"]] = ("".join(p for i, p in enumerate(pieces) if i not in gone), len(gone))
    rows = read_dir(tmp_path / "out").to_pylist()
    assert len(rows) == len(docs)
    assert sum(1 for r in rows if r["sentences_removed"]) > 5
    for row in rows:
        assert (row["text"], row["sentences_removed"]) == expected[row["id"]]
