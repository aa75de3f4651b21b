"""--help on any terminal width: environment variable names are never cut in two, and the
--json flag's variable is ..._JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_process, write_shard

COMMANDS = [["filter", "gopher-repetition"], ["dedup", "minhash"], ["dedup", "exact"], ["explain"], ["run"]]
NAME = re.compile(r"CURATE_[A-Z0-9_]*")


def _names(command: list[str], columns: int) -> list[str]:
    result = run_process(*command, "--help", env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    for match in NAME.finditer(result.stdout):
        assert result.stdout[match.end()] in "];", f"{match.group()} is cut at {columns} columns"
    return sorted(NAME.findall(result.stdout))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_env_var_names_are_whole_at_every_width(command: list[str]) -> None:
    wide = _names(command, 300)
    assert wide
    for columns in (40, 80):
        assert _names(command, columns) == wide


def test_the_json_flag_variable_is_named_json() -> None:
    assert "CURATE_DEDUP_EXACT_JSON" in _names(["dedup", "exact"], 300)
    assert "CURATE_EXPLAIN_JSON" in _names(["explain"], 300)
    assert not any(name.endswith("_AS_JSON") for name in _names(["dedup", "exact"], 300))


def test_the_json_variable_turns_on_json_output(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "p.parquet", [{"id": "a", "text": "x"}, {"id": "b", "text": "x"}])
    env = {**os.environ, "CURATE_DEDUP_EXACT_JSON": "1"}
    result = run_process("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_kept"] == 1
