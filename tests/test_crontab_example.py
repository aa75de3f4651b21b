"""examples/crontab.example works as cron runs it: its variables set, its PATH (no venv on
it), the command line through bash, with only the paths changed to a scratch directory."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_shard

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "crontab.example"


def _entries() -> tuple[dict[str, str], list[str]]:
    variables: dict[str, str] = {}
    commands = []
    for line in EXAMPLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if equals and name.isidentifier():
            variables[name] = value
        else:
            commands.append(line.split(None, 5)[5])  # after the five time fields
    return variables, commands


def test_the_crontab_line_runs_curate_from_a_venv(tmp_path: Path) -> None:
    variables, commands = _entries()
    assert len(commands) == 2 and "CURATE" in variables
    day = datetime.date.today().isoformat()
    write_shard(
        tmp_path / "crawl" / day / "p.parquet", [{"id": "a", "text": "a b c d e f"}, {"id": "b", "text": "a b c d e f"}]
    )
    (tmp_path / "log").mkdir()
    # The venv's curate, as the comment says to set it; cron's own PATH stays as written.
    variables["CURATE"] = str(Path(sys.executable).parent / "curate")
    line = (
        commands[0]
        .replace("\\%", "%")
        .replace("/data/", f"{tmp_path}/")
        .replace("/var/log/curate/", f"{tmp_path}/log/")
    )
    for attempt in range(2):  # the second try finds the work done: exit 0, nothing redone
        subprocess.run([variables["SHELL"], "-c", line], env=variables, check=True, timeout=300)
        summaries = (tmp_path / "log" / "dedup.jsonl").read_text().splitlines()
        assert len(summaries) == attempt + 1
    assert (tmp_path / "log" / "dedup.err").read_text() == ""
    assert json.loads(summaries[0])["rows_kept"] == 1 and json.loads(summaries[1])["already_done"] is True


def test_the_nightly_crontab_line_runs_examples_nightly_sh_against_an_index(tmp_path: Path) -> None:
    variables, commands = _entries()
    day = datetime.date.today().isoformat()
    text = "one two three four five six seven eight nine ten"
    write_shard(
        tmp_path / "crawl" / day / "p.parquet",
        [{"id": "a", "text": text, "night": 1}, {"id": "b", "text": text, "night": 1}],
    )
    (tmp_path / "log").mkdir()
    variables["CURATE"] = str(Path(sys.executable).parent / "curate")
    line = (
        commands[1]
        .replace("\\%", "%")
        .replace("/opt/curate/examples/", f"{EXAMPLE.parent}/")
        .replace("/data/", f"{tmp_path}/")
        .replace("/var/log/curate/", f"{tmp_path}/log/")
    )
    for attempt in range(2):
        subprocess.run([variables["SHELL"], "-c", line], env=variables, check=True, timeout=300)
        summaries = (tmp_path / "log" / "nightly.jsonl").read_text().splitlines()
        assert len(summaries) == attempt + 1
    assert (tmp_path / "log" / "nightly.err").read_text() == ""
    assert json.loads(summaries[0])["rows_kept"] == 1 and json.loads(summaries[1])["already_done"] is True
    assert (tmp_path / "dedup-index" / "_index.json").exists()
