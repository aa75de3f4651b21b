"""The example filter of docs/writing-a-stage.md works as the page says: as a command, with
--annotate, listed by `curate stages`, and in a pipeline equal to the shell chain."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pyarrow.parquet as pq

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard

PAGE = Path(__file__).resolve().parents[1] / "docs" / "writing-a-stage.md"
TEXTS = ["", "one two", "one two three four five", "   ", "a b c d e f g h"]


def _register_example() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)
    example = next(b for b in blocks if "@register" in b)
    from curate.filters.registry import load_all

    if "min-words" not in load_all():
        module = types.ModuleType("docs_writing_a_stage_example")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(example, str(PAGE), "exec"), module.__dict__)


def test_the_example_filter_as_a_command(tmp_path: Path) -> None:
    _register_example()
    write_shard(tmp_path / "in" / "a.parquet", [{"id": str(i), "text": t} for i, t in enumerate(TEXTS)])
    result = invoke("filter", "min-words", str(tmp_path / "in"), str(tmp_path / "out"), "--min-words", "5", "--json")
    assert result.exit_code == 0, result.stderr
    # Word counts by hand: 0, 2, 5, 0, 8.
    assert read_dir(tmp_path / "out").column("id").to_pylist() == ["2", "4"]
    assert json.loads(result.stdout)["dropped"] == {"min_words:empty": 2, "min_words:too_few_words": 1}
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["counters"]["counted:words"] == 15
    annotated = invoke("filter", "min-words", str(tmp_path / "in"), str(tmp_path / "ann"), "--annotate")
    assert annotated.exit_code == 0, annotated.stderr
    assert read_dir(tmp_path / "ann").column("min_words_count").to_pylist() == [0, 2, 5, 0, 8]
    assert "filter min-words" in invoke("stages").stdout


def test_the_example_filter_in_a_pipeline_equals_the_shell_chain(tmp_path: Path) -> None:
    _register_example()
    write_shard(tmp_path / "in" / "a.parquet", [{"id": str(i), "text": t} for i, t in enumerate(TEXTS * 3)])
    assert invoke("filter", "min-words", str(tmp_path / "in"), str(tmp_path / "c1"), "--min-words", "2").exit_code == 0
    assert invoke("dedup", "exact", str(tmp_path / "c1"), str(tmp_path / "c2")).exit_code == 0
    recipe = tmp_path / "p.yaml"
    recipe.write_text("stages:\n  - filter min-words: {min-words: 2}\n  - dedup exact: {}\n", encoding="utf-8")
    result = invoke("run", str(recipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p" / "part-00000.parquet").read_bytes() == (tmp_path / "c2" / "part-00000.parquet").read_bytes()
    for number, label in ((1, "01-filter_min_words"), (2, "02-dedup_exact")):
        ours = rejects_dir(tmp_path / "p") / label / "part-00000.parquet"
        assert ours.read_bytes() == (rejects_dir(tmp_path / f"c{number}") / "part-00000.parquet").read_bytes()
    assert pq.read_table(tmp_path / "p" / "part-00000.parquet").num_rows == 3
