"""What curate prints besides results: CURATE_QUIET / CURATE_VERBOSE, stderr lines stamped with
the time and the run id when stderr is not a terminal (cron), the run id in the manifest and the
--json summary, errors as JSON objects with --json, and one vocabulary of counts (rows_in,
rows_kept, rows_removed) in the summary, --json and the manifest, old manifests still read.

Every run is the real CLI in a subprocess (as cron runs it: stderr is a pipe) unless a test
needs the click runner."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from curate.io.layout import INTERMEDIATE, STATE_SUFFIX, lock_path, manifest_path, state_dir
from tests.conftest import invoke, read_dir, run_process, write_shard

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) run=([A-Za-z0-9._-]+) curate: ")
TEXTS = ["the same words in a row here today", "the same words in a row here today", "something else entirely now"]


def _input(tmp_path: Path) -> Path:
    rows = [{"id": f"d{i}", "text": text} for i, text in enumerate(TEXTS)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    return tmp_path / "in"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_")}
    return {**env, **values}


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


# --- CURATE_QUIET / CURATE_VERBOSE -------------------------------------------------------------


def test_curate_quiet_and_curate_verbose_environment_variables(tmp_path: Path) -> None:
    src = _input(tmp_path)

    def run(name: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = run_process("dedup", "minhash", str(src), str(tmp_path / name), env=_env(**env))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("dedup minhash: 3 in, 2 kept, 1 removed")  # results whatever the verbosity
        return done

    plain = run("plain")
    assert "LSH 18 bands x 7 rows" in plain.stderr and "phase signatures" not in plain.stderr
    assert run("quiet", CURATE_QUIET="1").stderr == ""
    assert "LSH 18 bands" in run("not-quiet", CURATE_QUIET="0").stderr
    verbose = run("verbose", CURATE_VERBOSE="1").stderr
    assert "LSH 18 bands" in verbose and "phase signatures: 1 task(s)" in verbose
    assert "phase signatures" in run("very", CURATE_VERBOSE="2").stderr
    shown = " ".join(invoke("--help").stdout.split())
    assert all(f"[env var: {name}]" in shown for name in ("CURATE_QUIET", "CURATE_VERBOSE", "CURATE_RUN_ID"))


# --- stamped stderr lines, the run id ----------------------------------------------------------


def test_stderr_lines_carry_time_and_run_id_matching_manifest_and_json(tmp_path: Path) -> None:
    src = _input(tmp_path)
    out = tmp_path / "out"
    done = run_process("-v", "dedup", "minhash", str(src), str(out), "--json", env=_env())
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) >= 3  # the LSH notice and one line per phase
    stamps = [STAMP.match(line) for line in lines]
    assert all(stamps), lines
    run_ids = {m.group(2) for m in stamps if m}
    summary = json.loads(done.stdout)
    manifest = json.loads(manifest_path(out).read_text())
    assert run_ids == {summary["run_id"]} == {manifest["run_id"]} == {summary["output_run_id"]}
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", summary["run_id"])

    again = run_process("dedup", "minhash", str(src), str(out), "--json", env=_env())
    repeat = json.loads(again.stdout)
    assert repeat["already_done"] and repeat["run_id"] != summary["run_id"]
    assert repeat["output_run_id"] == summary["run_id"]  # the run that wrote OUT


def test_run_id_from_the_command_line_or_environment(tmp_path: Path) -> None:
    src = _input(tmp_path)
    done = run_process("--run-id", "nightly-2026-12-07", "dedup", "exact", str(src), str(tmp_path / "a"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run_id"] == "nightly-2026-12-07"
    assert json.loads(manifest_path(tmp_path / "a").read_text())["run_id"] == "nightly-2026-12-07"
    env = run_process("filter", "pii", str(src), str(tmp_path / "b"), env=_env(CURATE_RUN_ID="from-env.1"))
    assert env.returncode == 0, env.stderr
    assert json.loads(manifest_path(tmp_path / "b").read_text())["run_id"] == "from-env.1"
    bad = run_process("--run-id", "no spaces/or slashes", "dedup", "exact", str(src), str(tmp_path / "c"))
    assert bad.returncode == 2 and "--run-id" in bad.stderr
    assert not (tmp_path / "c").exists()


def test_stderr_lines_are_left_plain_on_a_terminal(tmp_path: Path) -> None:
    src = _input(tmp_path)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "curate", "dedup", "minhash", str(src), str(tmp_path / "out")],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=300,
            check=False,
            env=_env(),
        )
        os.close(terminal)
        terminal = -1
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    lines = re.split(r"[\r\n]+", seen.decode("utf-8", "replace"))
    notice = next(line for line in lines if "LSH 18 bands" in line)
    assert notice.startswith("curate: LSH"), notice  # no time, no run id


# --- errors as JSON ----------------------------------------------------------------------------


def _one_error(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    errors = _json_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    error = errors[0]
    assert error["exit_status"] == done.returncode
    assert STAMP.match(f"{error['time'].replace('+00:00', 'Z')} run={error['run_id']} curate: ") is not None
    return error


def test_usage_errors_as_json(tmp_path: Path) -> None:
    src = _input(tmp_path)
    out = str(tmp_path / "out")
    bad_value = _one_error(run_process("dedup", "minhash", str(src), out, "--threshold", "5", "--json"))
    assert bad_value["code"] == "usage_error" and bad_value["exit_status"] == 2
    assert bad_value["option"] == "--threshold" and "0<x<1" in bad_value["message"]
    # An unknown option stops parsing before --json is processed: still JSON.
    unknown = _one_error(run_process("dedup", "exact", str(src), out, "--json", "--bogus"))
    assert unknown["code"] == "usage_error" and "--bogus" in unknown["message"]
    # --json from its environment variable.
    env = run_process("dedup", "exact", str(src), out, "--bogus", env=_env(CURATE_DEDUP_EXACT_JSON="1"))
    assert _one_error(env)["code"] == "usage_error"
    missing = _one_error(run_process("filter", "pii", str(tmp_path / "nowhere"), out, "--json"))
    assert missing["code"] == "usage_error" and "nowhere" in missing["message"]
    wrong_column = _one_error(run_process("filter", "pii", str(src), out, "--text-column", "body", "--json"))
    assert "no text column 'body'" in wrong_column["message"]
    assert (wrong_column["file"], wrong_column["column"]) == (str(src / "a.parquet"), "body")
    not_a_dataset = _one_error(run_process("explain", str(src), "d0", "--json"))
    assert not_a_dataset["code"] == "usage_error"
    assert not (tmp_path / "out").exists()
    # Without --json: the one text line, no JSON.
    text = run_process("dedup", "minhash", str(src), out, "--threshold", "5")
    assert text.returncode == 2 and _json_lines(text.stderr) == [] and "Invalid value" in text.stderr


def test_bad_input_errors_as_json_name_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    broken = tmp_path / "j" / "a.jsonl"
    broken.write_bytes(b'{"id":"a","text":"fine"}\n{"id":"b","text":"cut\n')
    error = _one_error(run_process("filter", "pii", str(tmp_path / "j"), str(tmp_path / "o1"), "--json"))
    assert error["code"] == "bad_input" and error["exit_status"] == 3
    assert error["file"] == str(broken) and error["line"] == 2 and "invalid JSON" in error["message"]

    broken.write_bytes(b'{"id":"a","text":"fine"}\n{"id":"b","text":"ok","tag":"\\ud800"}\n')
    error = _one_error(run_process("filter", "pii", str(tmp_path / "j"), str(tmp_path / "o2"), "--json"))
    assert (error["code"], error["line"], error["column"]) == ("bad_input", 2, "tag")

    write_shard(tmp_path / "s" / "a.parquet", [{"text": "x", "n": 1}])
    write_shard(tmp_path / "s" / "b.parquet", [{"text": "y", "n": "one"}])
    error = _one_error(run_process("filter", "pii", str(tmp_path / "s"), str(tmp_path / "o3"), "--json"))
    assert (error["code"], error["column"], error["file"]) == ("bad_input", "n", str(tmp_path / "s" / "b.parquet"))


def test_quarantined_shards_and_a_busy_output_as_json(tmp_path: Path) -> None:
    src = _input(tmp_path)
    (src / "b.parquet").write_bytes(b"not parquet at all")
    done = run_process("dedup", "exact", str(src), str(tmp_path / "out"), "--on-error", "skip", "--json")
    assert done.returncode == 3
    assert json.loads(done.stdout)["rows_in"] == 3
    [error] = _json_lines(done.stderr)
    assert error["code"] == "quarantined" and error["exit_status"] == 3
    assert error["file"] == str(src / "b.parquet")

    (src / "b.parquet").unlink()
    busy = tmp_path / "busy"
    busy.mkdir()
    lock_path(busy).parent.mkdir()
    with open(lock_path(busy), "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = run_process("filter", "pii", str(src), str(busy), "--json")
    assert _one_error(done)["code"] == "busy" and done.returncode == 75


# --- one vocabulary of counts ------------------------------------------------------------------

COUNTS = {"rows_in", "rows_kept", "rows_removed"}
OLD = {"rows_out", "rows_rejected", "kept", "removed", "rows", "bands"}


def test_summary_json_and_manifest_use_the_same_count_names(tmp_path: Path) -> None:
    src = _input(tmp_path)
    done = run_process("dedup", "minhash", str(src), str(tmp_path / "m"), "--json")
    summary = json.loads(done.stdout)
    manifest = json.loads(manifest_path(tmp_path / "m").read_text())
    assert set(summary) >= COUNTS and set(manifest) >= COUNTS
    assert not OLD & set(summary) and not OLD & set(manifest)
    assert [summary[k] for k in sorted(COUNTS)] == [manifest[k] for k in sorted(COUNTS)] == [3, 2, 1]
    assert (summary["lsh_bands"], summary["lsh_rows"]) == (18, 7)  # LSH rows are not document rows

    recipe = tmp_path / "p.yaml"
    recipe.write_text("stages:\n  - filter pii: {}\n  - dedup exact: {}\n")
    run = run_process("run", str(recipe), "--input", str(src), "--output", str(tmp_path / "r"), "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    manifest = json.loads(manifest_path(tmp_path / "r").read_text())
    for stage, listed in zip(summary["stages"], manifest["stages"], strict=True):
        assert set(stage) >= COUNTS and set(listed) >= COUNTS and not OLD & set(listed)
    assert [s["rows_removed"] for s in summary["stages"]] == [0, 1]


def _to_old_names(path: Path) -> None:
    """Rewrite a manifest as curate wrote it before the names were chosen."""
    manifest = json.loads(path.read_text())
    manifest["rows_out"] = manifest.pop("rows_kept")
    manifest["rows_rejected"] = manifest.pop("rows_removed")
    for stage in manifest.get("stages", []):
        stage["kept"] = stage.pop("rows_kept")
        stage["removed"] = stage.pop("rows_removed")
    path.write_text(json.dumps(manifest))


def test_old_manifests_are_still_read(tmp_path: Path) -> None:
    src = _input(tmp_path)
    first = tmp_path / "first"
    assert invoke("dedup", "exact", str(src), str(first)).exit_code == 0
    _to_old_names(manifest_path(first))
    # The same command again: already done, counted from the old manifest.
    again = json.loads(invoke("dedup", "exact", str(src), str(first), "--json").stdout)
    assert again["already_done"] and (again["rows_in"], again["rows_kept"], again["rows_removed"]) == (3, 2, 1)
    status = json.loads(invoke("status", str(first), "--json").stdout)
    assert status["state"] == "complete" and status["rows_kept"] == 2
    # A downstream stage and explain across the chain.
    second = tmp_path / "second"
    assert invoke("filter", "pii", str(first), str(second)).exit_code == 0
    assert read_dir(second).column("id").to_pylist() == ["d0", "d2"]
    answer = json.loads(invoke("explain", str(second), "d1", "--json").stdout)
    assert answer["status"] == "removed" and answer["output"] == str(first)
    assert answer["_reason"] == "exact:duplicate_text" and answer["dup_of"] == "d0"

    recipe = tmp_path / "p.yaml"
    recipe.write_text("stages:\n  - filter pii: {}\n  - dedup exact: {}\n")
    out = tmp_path / "r"
    assert invoke("run", str(recipe), "--input", str(src), "--output", str(out)).exit_code == 0
    _to_old_names(manifest_path(out))
    rerun = json.loads(invoke("run", str(recipe), "--input", str(src), "--output", str(out), "--json").stdout)
    assert rerun["already_done"] and [s["rows_removed"] for s in rerun["stages"]] == [0, 1]


def test_status_of_a_pipeline_intermediate_counts_its_rows(tmp_path: Path) -> None:
    src = _input(tmp_path)
    recipe = tmp_path / "p.yaml"
    recipe.write_text("stages:\n  - filter pii: {}\n  - dedup exact: {}\n")
    out = tmp_path / "r"
    done = invoke("run", str(recipe), "--input", str(src), "--output", str(out), "--keep-intermediate")
    assert done.exit_code == 0, done.output
    [kept] = sorted(p for p in (state_dir(out) / INTERMEDIATE).iterdir() if not p.name.endswith(STATE_SUFFIX))
    status = json.loads(invoke("status", str(kept), "--json").stdout)
    assert status["rows_kept"] == 3
