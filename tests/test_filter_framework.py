"""The text-stage framework: registering one class gives a CLI command with its options,
rejects with reasons, --annotate, counters in the manifest, and rows in = kept + dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.filters.base import Modification, TextFilter, TextModifier, Verdict
from curate.filters.registry import register
from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard


@register
@dataclass(frozen=True)
class MinCharsForTest(TextFilter):
    """Drop texts shorter than --min-chars characters (a test of the framework)."""

    name = "test-min-chars"
    summary = "test filter"
    min_chars: int = field(default=5, metadata={"help": "Minimum characters."})

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        lengths = pc.fill_null(pc.utf8_length(texts), 0)
        too_short = np.asarray(pc.less(lengths, self.min_chars).to_numpy(zero_copy_only=False), dtype=bool)
        empty = np.asarray(pc.equal(lengths, 0).to_numpy(zero_copy_only=False), dtype=bool)
        rules = [(f"{self.reason_prefix}:empty", empty), (f"{self.reason_prefix}:too_short", too_short)]
        return Verdict.from_rules(rules, len(texts), {"test_chars": lengths})


@register
@dataclass(frozen=True)
class ShoutForTest(TextModifier):
    """Upper-case every text (a test of the framework)."""

    name = "test-shout"
    summary = "test modifier"

    def modify(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Modification:
        changed = np.asarray(
            pc.fill_null(pc.not_equal(pc.utf8_upper(texts), texts), False).to_numpy(zero_copy_only=False)
        )
        return Modification(
            texts=pc.utf8_upper(texts), counts={"shouted": changed}, columns={"shouted": pa.array(changed)}
        )


DOCS = [{"id": str(i), "text": t} for i, t in enumerate(["", "abc", "abcdef", "hello world", "x" * 10])]


def test_filter_drops_with_reasons_and_counts(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", DOCS)
    result = invoke(
        "filter", "test-min-chars", str(tmp_path / "in"), str(tmp_path / "out"), "--min-chars", "6", "--json"
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["dropped"] == {"test_min_chars:empty": 1, "test_min_chars:too_short": 1}
    assert read_dir(tmp_path / "out").column("id").to_pylist() == ["2", "3", "4"]
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert [(r["id"], r["_stage"], r["_reason"]) for r in rejects] == [
        ("0", "filter_test_min_chars", "test_min_chars:empty"),
        ("1", "filter_test_min_chars", "test_min_chars:too_short"),
    ]
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["rows_in"] == 5 == manifest["rows_kept"] + manifest["rows_removed"]
    assert manifest["config"]["config"] == {"min_chars": 6}


def test_annotate_keeps_everything_and_adds_statistics(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", DOCS)
    result = invoke("filter", "test-min-chars", str(tmp_path / "in"), str(tmp_path / "out"), "--annotate", "--json")
    assert result.exit_code == 0, result.stderr
    kept = read_dir(tmp_path / "out")
    assert kept.column("test_chars").to_pylist() == [0, 3, 6, 11, 10]
    assert not rejects_dir(tmp_path / "out").exists()
    assert json.loads(result.stdout)["flagged"] == {"test_min_chars:empty": 1, "test_min_chars:too_short": 1}


def test_modifier_rewrites_text_and_counts(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", DOCS)
    result = invoke("filter", "test-shout", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    kept = read_dir(tmp_path / "out")
    assert kept.column("text").to_pylist() == ["", "ABC", "ABCDEF", "HELLO WORLD", "X" * 10]
    assert json.loads(result.stdout)["changed"] == {"shouted": 4}


def test_option_comes_from_environment(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from curate.cli import root

    write_shard(tmp_path / "in" / "a.parquet", DOCS)
    result = CliRunner(env={"CURATE_FILTER_TEST_MIN_CHARS_MIN_CHARS": "11"}).invoke(
        root, ["filter", "test-min-chars", str(tmp_path / "in"), str(tmp_path / "out"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "out").column("id").to_pylist() == ["3"]


def test_every_document_filtered_out_is_success_with_a_warning(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", DOCS[:2])
    result = invoke("filter", "test-min-chars", str(tmp_path / "in"), str(tmp_path / "out"), "--min-chars", "100")
    assert result.exit_code == 0
    assert "every document was removed" in result.stderr
    assert read_dir(tmp_path / "out").num_rows == 0
    assert read_dir(rejects_dir(tmp_path / "out")).num_rows == 2


def test_help_of_every_registered_filter_and_dedup_command() -> None:
    from curate.filters.registry import load_all

    names = [n for n in load_all() if not n.startswith("test-")]
    assert {"gopher-quality", "gopher-repetition", "c4", "c4-lines", "fineweb", "url", "pii"} <= set(names)
    for command in [["filter", n] for n in names] + [["dedup", "exact"], ["dedup", "lines"]]:
        result = invoke(*command, "--help")
        assert result.exit_code == 0, (command, result.stderr)
        assert "Usage:" in result.stdout and "CURATE_" in result.stdout
