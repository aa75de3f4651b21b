"""``curate dedup minhash`` end to end through the real CLI, on real Parquet files, checked
against brute-force exact Jaccard."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir, state_dir, work_dir
from tests.conftest import invoke, read_dir, write_shard
from tests.corpus import expected_pairs, jaccard, near_duplicate_corpus, word_shingles


def write_corpus(directory: Path, docs: list[dict[str, object]], shards: int) -> Path:
    for s in range(shards):
        write_shard(directory / f"shard-{s:03d}.parquet", docs[s::shards])
    return directory


def run_ok(*args: str) -> dict[str, object]:
    result = invoke("-q", "dedup", "minhash", *args, "--json", "--workers", "1")
    assert result.exit_code == 0, result.stderr + result.stdout
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, object]]:
    return near_duplicate_corpus(seed=7, originals=120, copies=60)


def test_removals_match_brute_force_jaccard(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=3)
    summary = run_ok(str(src), str(tmp_path / "out"))
    kept = read_dir(tmp_path / "out")
    rejects = read_dir(rejects_dir(tmp_path / "out"))
    assert summary["rows_in"] == len(corpus) == kept.num_rows + rejects.num_rows
    truth = expected_pairs(corpus, 0.8)
    texts = {str(d["id"]): str(d["text"]) for d in corpus}
    kept_ids = set(kept.column("id").to_pylist())
    # Recall: no pair at or above the threshold survives with both members kept.
    both_kept = [pair for pair in truth if pair[0] in kept_ids and pair[1] in kept_ids]
    assert both_kept == []
    # Precision: every removal names a kept survivor it really is similar to.
    for row in rejects.to_pylist():
        assert row["dup_of"] in kept_ids
        exact = jaccard(word_shingles(texts[row["id"]]), word_shingles(texts[row["dup_of"]]))
        assert exact >= 0.8
        assert row["similarity"] == pytest.approx(exact, abs=1e-9)
        assert row["_stage"] == "dedup_minhash" and row["_reason"] == "minhash:near_duplicate"
        assert row["dup_cluster"] == row["dup_of"]
    # Rows are unchanged: kept rows equal their input rows column for column.
    by_id = {str(d["id"]): d for d in corpus}
    for row in kept.to_pylist():
        assert row == by_id[row["id"]]


def test_one_survivor_per_cluster_and_keep_rules(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=2)
    by_id = {str(d["id"]): d for d in corpus}
    for keep in ("longest", "shortest", "max:score", "min:score"):
        out = tmp_path / f"out-{keep.replace(':', '-')}"
        run_ok(str(src), str(out), "--keep", keep, "--cluster-columns")
        kept = read_dir(out)
        rejects = read_dir(rejects_dir(out))
        survivors: dict[str, list[str]] = {}
        for row in kept.to_pylist():
            if row["dup_cluster"] is not None:
                survivors.setdefault(row["dup_cluster"], []).append(row["id"])
        assert all(members == [cluster] for cluster, members in survivors.items())
        for row in rejects.to_pylist():
            survivor, removed = by_id[row["dup_of"]], by_id[row["id"]]
            if keep in ("longest", "shortest"):
                a, b = len(str(survivor["text"])), len(str(removed["text"]))
            else:
                a, b = int(survivor["score"]), int(removed["score"])  # type: ignore[call-overload]
            better = a > b if keep in ("longest", "max:score") else a < b
            assert better or (a == b and str(survivor["id"]) < str(removed["id"])), (keep, row)


@pytest.mark.parametrize(
    ("survivors", "kept", "removed"),
    [("keep-rule", ["a", "c"], [("b", "a")]), ("cover", ["b"], [("a", "b"), ("c", "b")])],
)
def test_chain_does_not_remove_far_end(
    tmp_path: Path, survivors: str, kept: list[str], removed: list[tuple[str, str]]
) -> None:
    """A~B and B~C above the threshold, A and C below: C is never removed for A (verify on).
    keep-rule keeps A (first) and so C; cover keeps only B, the centre, which covers both."""
    base = [f"w{i}" for i in range(100)]
    a = base
    b = base[:90] + [f"x{i}" for i in range(10)]
    c = base[:80] + [f"x{i}" for i in range(10)] + [f"y{i}" for i in range(10)]
    docs = [{"id": name, "text": " ".join(words)} for name, words in (("a", a), ("b", b), ("c", c))]
    sets = {d["id"]: word_shingles(d["text"]) for d in docs}
    assert jaccard(sets["a"], sets["b"]) >= 0.7 and jaccard(sets["b"], sets["c"]) >= 0.7
    assert jaccard(sets["a"], sets["c"]) < 0.7
    write_shard(tmp_path / "in" / "x.parquet", docs)
    flags = ("--threshold", "0.7", "--bands", "64", "--rows", "2", "--survivors", survivors)
    run_ok(str(tmp_path / "in"), str(tmp_path / "out"), *flags)
    assert sorted(read_dir(tmp_path / "out").column("id").to_pylist()) == kept
    reject = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert sorted((r["id"], r["dup_of"]) for r in reject) == removed


def test_empty_and_short_documents_are_not_all_duplicates(tmp_path: Path) -> None:
    docs = [{"id": f"e{i}", "text": t} for i, t in enumerate(["", "   ", "!!!", "...", None, "\n\t"])]
    docs += [{"id": f"s{i}", "text": w} for i, w in enumerate(["apple", "pear", "plum", "fig"])]
    docs += [{"id": "dup-a", "text": "Hello world"}, {"id": "dup-b", "text": "hello, WORLD!"}]
    write_shard(tmp_path / "in" / "x.parquet", docs, schema=pa.schema([("id", pa.string()), ("text", pa.string())]))
    summary = run_ok(str(tmp_path / "in"), str(tmp_path / "out"))
    assert summary["rows_removed"] == 1
    assert read_dir(rejects_dir(tmp_path / "out")).column("id").to_pylist() == ["dup-b"]


def test_plain_dedup_runs_minhash_and_rerun_does_no_work(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=2)
    out = tmp_path / "out"
    first = invoke("dedup", str(src), str(out))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("dedup minhash: 180 in, ")
    manifest = manifest_path(out).read_bytes()
    shards_before = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    again = invoke("dedup", str(src), str(out))
    assert again.exit_code == 0 and "(already done)" in again.stdout
    assert manifest_path(out).read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in out.glob("part-*.parquet")} == shards_before
    changed = invoke("dedup", str(src), str(out), "--threshold", "0.9")
    assert changed.exit_code == 2 and "--overwrite" in changed.stderr
    replaced = invoke("dedup", str(src), str(out), "--threshold", "0.9", "--overwrite")
    assert replaced.exit_code == 0


def test_manifest_accounts_for_every_row(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=3)
    out = tmp_path / "out"
    run_ok(str(src), str(out))
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_removed"] == len(corpus)
    assert [s["name"] for s in manifest["shards"]] == [f"part-{i:05d}.parquet" for i in range(3)]
    assert sum(s["rows"] for s in manifest["shards"]) == manifest["rows_kept"]
    assert sum(s["rows"] for s in manifest["rejects"]) == manifest["rows_removed"]
    assert manifest["stage"] == "dedup_minhash" and len(manifest["fingerprint"]) == 32
    assert not work_dir(out).exists()
    # The output is itself a dataset: a second dedup reads only the manifest's shards.
    (out / "part-99999.parquet").write_bytes(b"stray, not listed")
    summary = run_ok(str(out), str(tmp_path / "out2"))
    assert summary["rows_in"] == manifest["rows_kept"] and summary["rows_removed"] == 0


def test_derived_ids_and_jsonl_input(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    text = "the quick brown fox jumps over the lazy dog near the river bank today"
    (src / "a.jsonl").write_text(
        "\n".join(json.dumps({"body": t}) for t in [text, text + " again", "something else entirely here now"])
    )
    run_ok(str(src), str(tmp_path / "out"), "--text-column", "body", "--threshold", "0.5")
    kept = read_dir(tmp_path / "out")
    assert kept.column("id").to_pylist() == ["a.jsonl#0", "a.jsonl#2"]
    assert read_dir(rejects_dir(tmp_path / "out")).column("dup_of").to_pylist() == ["a.jsonl#0"]


def test_zero_row_shard_gives_zero_row_output_with_schema(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string())])
    write_shard(tmp_path / "in" / "a.parquet", [], schema=schema)
    write_shard(tmp_path / "in" / "b.parquet", [{"id": "1", "text": "one two three", "url": "u"}], schema=schema)
    run_ok(str(tmp_path / "in"), str(tmp_path / "out"))
    empty = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert empty.num_rows == 0 and empty.schema.names == ["id", "text", "url"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--text-column", "body"], 2, "no text column 'body'"),
        (["--keep", "biggest"], 2, "invalid --keep"),
        (["--bands", "200", "--rows", "2"], 2, "--bands"),
        (["--bands", "4"], 2, "both --bands and --rows"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "1", "text": "x"}])
    result = invoke("dedup", "minhash", str(tmp_path / "in"), str(tmp_path / "out"), *args)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_empty_input_directory_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    result = invoke("dedup", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "no input files" in result.stderr


def test_corrupt_shard_fails_or_is_quarantined(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=3)
    bad = src / "shard-001.parquet"
    bad.write_bytes(bad.read_bytes()[:100])
    failed = invoke("dedup", str(src), str(tmp_path / "out"))
    assert failed.exit_code == 3 and str(bad) in failed.stderr
    assert not manifest_path(tmp_path / "out").exists()
    skipped = invoke("dedup", str(src), str(tmp_path / "out2"), "--on-error", "skip")
    assert skipped.exit_code == 3, skipped.stderr
    manifest = json.loads(manifest_path(tmp_path / "out2").read_text())
    assert [q["path"] for q in manifest["quarantined"]] == [str(bad)]
    assert manifest["rows_in"] == len(corpus[0::3]) + len(corpus[2::3])
    assert sorted(p.name for p in (tmp_path / "out2").glob("part-*")) == ["part-00000.parquet", "part-00002.parquet"]


def test_truncated_gzip_among_good_shards_is_quarantined(tmp_path: Path) -> None:
    import gzip

    src = tmp_path / "in"
    src.mkdir()
    lines = "".join(json.dumps({"id": str(i), "text": f"document {i} " * 40}) + "\n" for i in range(500))
    (src / "a.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    (src / "b.jsonl.gz").write_bytes(gzip.compress(lines.replace('"id": "', '"id": "b').encode())[:300])
    (src / "c.jsonl").write_text("")
    result = invoke("dedup", str(src), str(tmp_path / "out"), "--on-error", "skip")
    assert result.exit_code == 3
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert sorted(Path(q["path"]).name for q in manifest["quarantined"]) == ["b.jsonl.gz", "c.jsonl"]
    assert manifest["rows_in"] == 500


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    values = pa.array([b"caf\xe9 au lait with some more words here", b"plain text document"], pa.binary())
    pq.write_table(pa.table({"id": ["1", "2"], "text": values.view(pa.string())}), tmp_path / "bad.parquet")
    (tmp_path / "in").mkdir()
    (tmp_path / "bad.parquet").rename(tmp_path / "in" / "bad.parquet")
    run_ok(str(tmp_path / "in"), str(tmp_path / "out"))
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["counters"]["invalid_utf8_rows"] == 1
    assert read_dir(tmp_path / "out").column("text").to_pylist()[0].startswith("caf\ufffd au lait")


def test_symlinked_output_subfolder_is_refused(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=1)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state_dir(out).mkdir()
    work_dir(out).symlink_to(elsewhere)
    result = invoke("dedup", str(src), str(out), "--overwrite")
    assert result.exit_code == 2
    assert list(elsewhere.iterdir()) == []


def test_environment_and_config_file_precedence(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=1)
    config = tmp_path / "curate.yaml"
    config.write_text("dedup:\n  minhash:\n    threshold: 0.95\n    num-perm: 64\n")
    from_file = invoke("--config", str(config), "dedup", "minhash", str(src), str(tmp_path / "a"), "--json")
    assert json.loads(from_file.stdout)["threshold"] == 0.95
    from click.testing import CliRunner

    from curate.cli import root

    env = CliRunner(env={"CURATE_DEDUP_MINHASH_THRESHOLD": "0.85"}).invoke(
        root, ["--config", str(config), "dedup", "minhash", str(src), str(tmp_path / "b"), "--json"]
    )
    assert json.loads(env.stdout)["threshold"] == 0.85
    flag = CliRunner(env={"CURATE_DEDUP_MINHASH_THRESHOLD": "0.85"}).invoke(
        root,
        ["--config", str(config), "dedup", "minhash", str(src), str(tmp_path / "c"), "--json", "--threshold", "0.7"],
    )
    assert json.loads(flag.stdout)["threshold"] == 0.7
    config.write_text("dedup:\n  minhash:\n    treshold: 0.9\n")
    typo = invoke("--config", str(config), "dedup", "minhash", str(src), str(tmp_path / "d"))
    assert typo.exit_code == 2 and "did you mean 'threshold'" in typo.stderr


@pytest.mark.parametrize("command", [[], ["dedup"], ["dedup", "minhash"], ["explain"]])
def test_help_of_every_command(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_no_verify_reports_estimated_similarity(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=2)
    summary = run_ok(str(src), str(tmp_path / "out"), "--no-verify")
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["similarity"] == "estimated_jaccard"
    texts = {str(d["id"]): str(d["text"]) for d in corpus}
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert len(rejects) == summary["rows_removed"] > 0
    for row in rejects:
        exact = jaccard(word_shingles(texts[row["id"]]), word_shingles(texts[row["dup_of"]]))
        # 128 permutations: the estimate's standard error is at most 0.045.
        assert abs(row["similarity"] - exact) < 0.2
        assert row["similarity"] == pytest.approx(round(row["similarity"] * 128) / 128)


def test_explain_says_why_a_document_is_gone(tmp_path: Path, corpus: list[dict[str, object]]) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=2)
    run_ok(str(src), str(tmp_path / "out"))
    rejected = read_dir(rejects_dir(tmp_path / "out")).to_pylist()[0]
    gone = invoke("explain", str(tmp_path / "out"), rejected["id"], "--json")
    assert gone.exit_code == 0
    answer = json.loads(gone.stdout)
    assert answer["status"] == "removed" and answer["dup_of"] == rejected["dup_of"]
    assert answer["_reason"] == "minhash:near_duplicate"
    kept = invoke("explain", str(tmp_path / "out"), rejected["dup_of"])
    assert kept.exit_code == 0 and "kept" in kept.stdout
    unknown = invoke("explain", str(tmp_path / "out"), "no-such-id")
    assert unknown.exit_code == 1 and "not found" in unknown.stdout


def test_deleted_output_shard_is_redone_and_stray_files_ignored(
    tmp_path: Path, corpus: list[dict[str, object]]
) -> None:
    src = write_corpus(tmp_path / "in", corpus, shards=3)
    out = tmp_path / "out"
    run_ok(str(src), str(out))
    original = (out / "part-00001.parquet").read_bytes()
    (out / "part-00001.parquet").unlink()
    (out / "part-00042.parquet").write_bytes(b"stray file, no marker, not in the manifest")
    again = invoke("dedup", str(src), str(out))
    assert again.exit_code == 0 and "(already done)" not in again.stdout
    assert (out / "part-00001.parquet").read_bytes() == original
    manifest = json.loads(manifest_path(out).read_text())
    assert "part-00042.parquet" not in {s["name"] for s in manifest["shards"]}


def test_id_type_conflict_across_shards_is_exit_3(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": 1, "text": "one"}])
    write_shard(tmp_path / "in" / "b.parquet", [{"id": "two", "text": "two"}])
    result = invoke("dedup", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3 and "column 'id'" in result.stderr and "b.parquet" in result.stderr
    assert not (tmp_path / "out" / "part-00000.parquet").exists()


def test_parquet_with_pickled_extension_payload_is_refused(tmp_path: Path) -> None:
    import os
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    payload = pa.field(
        "payload",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": pickle.dumps(Evil()),
        },
    )
    schema = pa.schema([pa.field("id", pa.string()), pa.field("text", pa.string()), payload])
    table = pa.table({"id": ["1"], "text": ["some words here"], "payload": [b"x"]}, schema=schema)
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "evil.parquet")
    write_shard(tmp_path / "in" / "good.parquet", [{"id": "2", "text": "other words"}])
    refused = invoke("dedup", str(tmp_path / "in"), str(tmp_path / "out"))
    assert refused.exit_code == 3 and "pickled Python extension type" in refused.stderr
    skipped = invoke("dedup", str(tmp_path / "in"), str(tmp_path / "out2"), "--on-error", "skip")
    assert skipped.exit_code == 3
    assert read_dir(tmp_path / "out2").column("id").to_pylist() == ["2"]
    assert not (tmp_path / "pwned").exists()
