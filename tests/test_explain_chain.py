"""``curate explain`` on the last output of a chain of commands follows the manifests back."""

from __future__ import annotations

import json
from pathlib import Path

from curate.io.layout import manifest_path
from tests.conftest import invoke, write_shard

ROWS = [
    {"id": "a", "text": "alpha", "url": "http://x/1"},
    {"id": "b", "text": "alpha", "url": "http://x/2"},  # text of a: dropped by stage 1
    {"id": "c", "text": "gamma", "url": "http://x/1"},  # url of a: dropped by stage 2
    {"id": "d", "text": "delta", "url": "http://x/4"},
]


def _chain(tmp_path: Path) -> tuple[Path, Path, Path]:
    write_shard(tmp_path / "in" / "p.parquet", ROWS)
    first, second, third = tmp_path / "s1", tmp_path / "s2", tmp_path / "s3"
    for args in (
        ("dedup", "exact", str(tmp_path / "in"), str(first)),
        ("dedup", "exact", str(first), str(second), "--on", "url"),
        ("dedup", "exact", str(second), str(third), "--on", "id"),
    ):
        result = invoke("-q", *args)
        assert result.exit_code == 0, result.output
    return first, second, third


def test_explain_names_the_stage_of_the_chain_that_dropped_a_document(tmp_path: Path) -> None:
    first, second, third = _chain(tmp_path)
    early = invoke("explain", str(third), "b")
    assert early.exit_code == 0, early.output
    assert f"in {first}" in early.stdout and "exact:duplicate_text" in early.stdout and "duplicate of a" in early.stdout
    answer = json.loads(invoke("explain", str(third), "c", "--json").stdout)
    assert answer["status"] == "removed" and answer["output"] == str(second)
    assert answer["_reason"] == "exact:duplicate_url" and answer["dup_of"] == "a"
    kept = invoke("explain", str(third), "d")
    assert kept.exit_code == 0 and "kept" in kept.stdout


def test_an_id_in_no_output_of_the_chain_stops_at_the_raw_input(tmp_path: Path) -> None:
    _, _, third = _chain(tmp_path)
    missing = invoke("explain", str(third), "zz", "--json")
    assert missing.exit_code == 1
    answer = json.loads(missing.stdout)
    assert answer["status"] == "unknown" and len(answer["searched"]) == 3
    assert "raw input" in answer["stopped"]


def test_explain_does_not_follow_an_input_rewritten_since(tmp_path: Path) -> None:
    first, _, third = _chain(tmp_path)
    # Stage 1 redone with another configuration: its manifest no longer is the one s2 read.
    assert invoke("-q", "dedup", "exact", str(tmp_path / "in"), str(first), "--on", "url", "--overwrite").exit_code == 0
    answer = invoke("explain", str(third), "b")
    assert answer.exit_code == 1
    assert "rewritten since" in answer.stdout


def test_an_old_manifest_without_its_input_says_so(tmp_path: Path) -> None:
    _, _, third = _chain(tmp_path)
    written = manifest_path(third)
    manifest = json.loads(written.read_text())
    del manifest["input_location"]  # as written before the field existed
    written.write_text(json.dumps(manifest))
    answer = invoke("explain", str(third), "b")
    assert answer.exit_code == 1
    assert "does not record its input" in answer.stdout
