"""``curate dedup exact`` through the real CLI, checked against Python-set brute force and the
labelled exact duplicates of the shared corpora."""

from __future__ import annotations

import csv
import gzip
import json
import random
import unicodedata
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard


def run(*args: str) -> dict[str, object]:
    result = invoke("-q", "dedup", "exact", *args, "--json")
    assert result.exit_code == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_keeps_one_per_identical_group_by_brute_force(tmp_path: Path) -> None:
    rng = random.Random(3)
    bodies = [" ".join(rng.choice("abcdefgh") * rng.randint(1, 4) for _ in range(30)) for _ in range(40)]
    docs = [{"id": f"d{i:03d}", "text": rng.choice(bodies), "n": rng.randint(0, 5)} for i in range(200)]
    for s in range(3):
        write_shard(tmp_path / "in" / f"s{s}.parquet", docs[s::3])
    run(str(tmp_path / "in"), str(tmp_path / "out"), "--keep", "max:n")
    kept = read_dir(tmp_path / "out").to_pylist()
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for doc in docs:
        groups[str(doc["text"])].append(doc)
    assert len(kept) == len(groups)
    by_id = {d["id"]: d for d in docs}
    for row in rejects:
        survivor = by_id[row["dup_of"]]
        assert survivor["text"] == row["text"] and row["similarity"] == 1.0
        assert row["_reason"] == "exact:duplicate_text"
        # max:n, ties broken by id
        best = max(groups[row["text"]], key=lambda d: (d["n"], [-ord(c) for c in str(d["id"])]))
        assert survivor["id"] == best["id"]


def test_basic_normalisation_equates_line_endings_trailing_space_and_nfd(tmp_path: Path) -> None:
    text = "Caf\u00e9 au lait\nsecond line"
    variants = {
        "lf": text,
        "crlf": text.replace("\n", "\r\n"),
        "trailing": text.replace("\n", "   \n") + " \t",
        "nfd": unicodedata.normalize("NFD", text),
        "other": "Cafe au lait\nsecond line",
    }
    write_shard(tmp_path / "in" / "a.parquet", [{"id": k, "text": v} for k, v in variants.items()])
    basic = run(str(tmp_path / "in"), str(tmp_path / "basic"))
    assert basic["rows_removed"] == 3
    assert sorted(read_dir(tmp_path / "basic").column("id").to_pylist()) == ["lf", "other"]
    none = run(str(tmp_path / "in"), str(tmp_path / "none"), "--normalize", "none")
    assert none["rows_removed"] == 0
    aggressive = run(str(tmp_path / "in"), str(tmp_path / "aggr"), "--normalize", "aggressive")
    assert aggressive["rows_removed"] == 3  # é (NFKC) stays distinct from e


def test_urls_normalised_and_nulls_never_duplicates(tmp_path: Path) -> None:
    docs = [
        {"id": "a", "text": "1", "url": "https://www.example.com/page/"},
        {"id": "b", "text": "2", "url": "HTTP://EXAMPLE.com:80/page#top"},
        {"id": "c", "text": "3", "url": "https://example.com/page?x=1"},
        {"id": "d", "text": "4", "url": None},
        {"id": "e", "text": "5", "url": None},
        {"id": "f", "text": "6", "url": "https://example.com:8443/page"},
    ]
    write_shard(tmp_path / "in" / "a.parquet", docs)
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--on", "url")
    assert summary["rows_removed"] == 1
    reject = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert [(r["id"], r["dup_of"], r["_reason"]) for r in reject] == [("b", "a", "exact:duplicate_url")]
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["counters"]["null_values"] == 2


def test_empty_documents_are_identical_to_each_other(tmp_path: Path) -> None:
    docs = [{"id": str(i), "text": t} for i, t in enumerate(["", "", " \n ", "x", None, None])]
    write_shard(tmp_path / "in" / "a.parquet", docs, schema=pa.schema([("id", pa.string()), ("text", pa.string())]))
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"))
    # "", "" and " \n " are equal under basic; nulls are never duplicates.
    assert summary["rows_removed"] == 2
    assert sorted(read_dir(tmp_path / "out").column("id").to_pylist()) == ["0", "3", "4", "5"]


def test_missing_on_column_is_exit_2(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "1", "text": "x"}])
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--on", "url")
    assert result.exit_code == 2 and "no column 'url'" in result.stderr


@pytest.mark.slow
def test_gutenberg_exact_dedup_keeps_the_213_distinct_books(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "gutenberg-top-authors-subset"
    with open(root / "MANIFEST.tsv", encoding="utf-8", newline="") as handle:
        sha_of = {row["local_path"]: row["git_blob_sha1"] for row in csv.DictReader(handle, delimiter="\t")}
    docs = [{"id": path, "text": (root / path).read_text(encoding="utf-8")} for path in sorted(sha_of)]
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string())])
    for s in range(3):
        write_shard(tmp_path / "in" / f"b{s}.parquet", docs[s::3], schema=schema)
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--normalize", "none")
    assert summary["rows_kept"] == 213 and summary["rows_removed"] == 117
    kept = read_dir(tmp_path / "out").column("id").to_pylist()
    assert len({sha_of[i] for i in kept}) == 213
    for row in read_dir(rejects_dir(tmp_path / "out")).select(["id", "dup_of"]).to_pylist():
        assert sha_of[row["id"]] == sha_of[row["dup_of"]]


def test_common_crawl_natural_duplicates(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    expected_removed = len(texts) - len(set(texts))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / source.name).symlink_to(source)
    summary = run(str(tmp_path / "in"), str(tmp_path / "out"), "--normalize", "none")
    assert summary["rows_in"] == len(texts) == 697
    assert summary["rows_removed"] == expected_removed
    assert expected_removed > 0
