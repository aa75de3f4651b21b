"""The output layout (docs/output-layout.md): OUT holds the kept shards and nothing else, the
rest is in ``OUT.curate``; an output written by an older curate (``OUT/_manifest.json``,
``OUT/_rejects/``) is still read by every reader of a dataset, and replaced by ``--overwrite``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from curate.io import layout
from tests.conftest import invoke, read_dir, write_shard

ROWS = [
    {"id": "a", "text": "one."},
    {"id": "b", "text": "two."},
    {"id": "c", "text": "one."},  # a's text
    {"id": "d", "text": "three."},
]


def _input(tmp_path: Path) -> Path:
    write_shard(tmp_path / "in" / "p0.parquet", ROWS[:2])
    write_shard(tmp_path / "in" / "p1.parquet", ROWS[2:])
    return tmp_path / "in"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


COMMANDS = [
    ["filter", "c4", "--min-sentences", "0", "--no-remove-lines"],
    ["dedup", "exact"],
    ["dedup", "minhash", "--threshold", "0.5"],
    ["dedup", "lines", "--min-count", "2"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
@pytest.mark.parametrize("keep_work", [False, True], ids=["plain", "keep-work"])
def test_out_holds_the_kept_shards_and_nothing_else(tmp_path: Path, command: list[str], keep_work: bool) -> None:
    out = tmp_path / "out"
    flags = ["--keep-work"] if keep_work else []
    result = invoke("-q", *command[:2], str(_input(tmp_path)), str(out), *command[2:], *flags)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(layout.manifest_path(out).read_text())
    assert manifest["layout"] == layout.LAYOUT_VERSION
    assert _files(out) == sorted(entry["name"] for entry in manifest["shards"])
    state = _files(layout.state_dir(out))
    assert [n for n in state if not n.startswith(f"{layout.WORK}/")] == sorted(
        [layout.MANIFEST, layout.LOCK, *(entry["name"] for entry in manifest["rejects"])]
    )
    assert any(n.startswith(f"{layout.WORK}/") for n in state) == keep_work
    assert manifest["rows_in"] == 4 == manifest["rows_kept"] + manifest["rows_removed"]
    assert read_dir(out).num_rows == manifest["rows_kept"]


def test_a_pipeline_output_keeps_its_intermediate_datasets_beside_out(tmp_path: Path) -> None:
    recipe = tmp_path / "p.yaml"
    recipe.write_text(
        "stages:\n  - filter c4: {min-sentences: 0, remove-lines: false}\n  - dedup exact: {}\n"
        "  - filter pii: {column-name: pii}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["run", str(recipe), "--input", str(_input(tmp_path)), "--output", str(out)]
    result = invoke("-q", *args, "--keep-intermediate", "--keep-work")
    assert result.exit_code == 0, result.stderr
    assert _files(out) == ["part-00000.parquet", "part-00001.parquet"]
    kept = layout.state_dir(out) / layout.INTERMEDIATE
    # Each intermediate dataset is laid out like any output: a later command reads it.
    for dataset in sorted(p for p in kept.iterdir() if not p.name.endswith(layout.STATE_SUFFIX)):
        assert _files(dataset) == ["part-00000.parquet", "part-00001.parquet"]
        assert layout.manifest_path(dataset).is_file()
        again = invoke("-q", "dedup", "exact", str(dataset), str(tmp_path / f"re-{dataset.name}"))
        assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in kept.iterdir()) == [
        "01-filter_c4",
        "01-filter_c4.curate",
        "02-dedup_exact",
        "02-dedup_exact.curate",
    ]
    assert (layout.rejects_dir(out) / "02-dedup_exact" / "part-00001.parquet").is_file()


def test_out_given_as_the_working_directory_gets_a_named_sibling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _input(tmp_path)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    result = invoke("-q", "dedup", "exact", str(source), ".")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "here.curate" / layout.MANIFEST).is_file()
    assert _files(tmp_path / "here") == ["part-00000.parquet", "part-00001.parquet"]


@pytest.mark.parametrize("kind", ["symlink", "file", "dangling"])
def test_a_state_directory_that_is_not_curates_is_refused(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "out"
    state = layout.state_dir(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind == "symlink":
        state.symlink_to(elsewhere)
    elif kind == "file":
        state.write_text("mine")
    else:
        state.symlink_to(tmp_path / "missing")
    result = invoke("dedup", "exact", str(_input(tmp_path)), str(out))
    assert result.exit_code == 2, result.stderr
    assert str(state) in result.stderr and result.stderr.count("\n") == 1
    assert list(elsewhere.iterdir()) == []
    assert not out.exists()


def test_a_second_run_on_the_same_output_is_busy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = layout.lock_path(out)
    lock.parent.mkdir(parents=True)
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, time
                handle = open({str(lock)!r}, "a")
                fcntl.flock(handle, fcntl.LOCK_EX)
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            result = invoke("dedup", "exact", str(_input(tmp_path)), str(out))
            assert result.exit_code == 75, result.stderr
        finally:
            holder.kill()


def test_an_output_beside_its_input_directory_is_not_read_back(tmp_path: Path) -> None:
    """A directory holding finished outputs as input: their OUT.curate (rejects) is not data."""
    runs = tmp_path / "runs"
    first = invoke("-q", "dedup", "exact", str(_input(tmp_path)), str(runs / "night1"))
    assert first.exit_code == 0, first.stderr
    second = invoke("-q", "dedup", "exact", str(runs), str(tmp_path / "all"), "--json")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["rows_in"] == 3  # night1's kept a, b, d; not its rejected c


# --- An output written by an older curate (layout 1) -------------------------------------------


def _entry(root: Path, name: str) -> dict[str, object]:
    path = root / name
    return {
        "name": name,
        "rows": pq.read_metadata(path).num_rows,
        "bytes": path.stat().st_size,
        "xxh3_128": xxhash.xxh3_128(path.read_bytes()).hexdigest(),
    }


def old_layout_dataset(out: Path, input_location: Path | None = None) -> Path:
    """A dataset as curate wrote it before layout 2, by hand: kept a, b in OUT/part-00000.parquet,
    c (a duplicate of a) in OUT/_rejects/part-00000.parquet, the manifest in OUT/_manifest.json."""
    out.mkdir(parents=True)
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string())])
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one.", "two."]}, schema=schema), out / "part-00000.parquet")
    (out / "_rejects").mkdir()
    rejects = pa.table(
        {
            "id": ["c"],
            "text": ["one."],
            "dup_of": ["a"],
            "_stage": ["dedup_exact"],
            "_reason": ["exact:duplicate_text"],
        }
    )
    pq.write_table(rejects, out / "_rejects" / "part-00000.parquet")
    manifest = {
        "curate_version": "0.1.0",
        "stage": "dedup_exact",
        "config": {},
        "fingerprint": "0123456789abcdef0123456789abcdef",
        "input_location": str(input_location) if input_location else "/nowhere",
        "input_manifest_fingerprint": None,
        "shards": [_entry(out, "part-00000.parquet")],
        "rejects": [_entry(out, "_rejects/part-00000.parquet")],
        "rows_in": 3,
        "rows_out": 2,
        "rows_rejected": 1,
        "schema": [{"name": "id", "type": "string"}, {"name": "text", "type": "large_string"}],
        "counters": {"removed:exact:duplicate_text": 1},
    }
    (out / "_manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def test_every_reader_of_a_dataset_reads_an_old_layout_output(tmp_path: Path) -> None:
    old = old_layout_dataset(tmp_path / "old")
    # A downstream stage reads the kept rows its manifest lists, not the rejects.
    later = tmp_path / "later"
    result = invoke("-q", "dedup", "exact", str(old), str(later), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["rows_in"] == 2
    assert sorted(read_dir(later).column("id").to_pylist()) == ["a", "b"]
    # explain, in the old output and across the chain from the new one.
    for where in (old, later):
        gone = invoke("explain", str(where), "c", "--json")
        assert gone.exit_code == 0, gone.stderr
        answer = json.loads(gone.stdout)
        assert (answer["status"], answer["_reason"], answer["dup_of"], answer["output"]) == (
            "removed",
            "exact:duplicate_text",
            "a",
            str(old),
        )
    kept = invoke("explain", str(old), "a", "--json")
    assert json.loads(kept.stdout)["status"] == "kept"
    status = invoke("status", str(old), "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["state"] == "complete"
    assert invoke("verify", str(old)).exit_code == 0
    with open(old / "_rejects" / "part-00000.parquet", "r+b") as handle:  # flip one byte of the rejects
        handle.seek(8)
        byte = handle.read(1)
        handle.seek(8)
        handle.write(bytes([byte[0] ^ 0xFF]))
    damaged = invoke("verify", str(old), "--json")
    assert damaged.exit_code == 3
    assert [d["name"] for d in json.loads(damaged.stdout)["damaged"]] == ["_rejects/part-00000.parquet"]
    assert json.loads(invoke("status", str(old), "--json").stdout)["state"] == "complete"  # sizes only


def test_report_reads_an_old_layout_output(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    old = old_layout_dataset(tmp_path / "old")
    result = invoke("report", str(old), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.stderr
    page = (tmp_path / "r.html").read_text()
    assert "exact:duplicate_text" in page


def _as_old_layout(out: Path) -> None:
    """Rewrite a finished output as the curate before layout 2 left it (the same files, the old
    names): the rejects into OUT/_rejects, the manifest into OUT/_manifest.json."""
    state = layout.state_dir(out)
    manifest = json.loads((state / layout.MANIFEST).read_text())
    del manifest["layout"]
    for entry in manifest["rejects"]:
        entry["name"] = "_rejects/" + entry["name"].removeprefix(f"{layout.REJECTS}/")
    shutil.move(state / layout.REJECTS, out / "_rejects")
    (out / "_manifest.json").write_text(json.dumps(manifest))
    (out / "_curate.lock").touch()
    shutil.rmtree(state)


def test_a_rerun_on_an_old_layout_output_is_done_and_overwrite_moves_it(tmp_path: Path) -> None:
    source, out = _input(tmp_path), tmp_path / "out"
    command = ["dedup", "exact", str(source), str(out), "--json"]
    assert invoke(*command).exit_code == 0
    _as_old_layout(out)
    before = {name: (out / name).read_bytes() for name in _files(out)}
    again = invoke(*command)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["already_done"] is True
    assert {name: (out / name).read_bytes() for name in _files(out)} == before
    other = invoke("dedup", "exact", str(source), str(out), "--keep", "longest")
    assert other.exit_code == 2 and "--overwrite" in other.stderr
    replaced = invoke(*command, "--overwrite")
    assert replaced.exit_code == 0, replaced.stderr
    assert _files(out) == ["part-00000.parquet", "part-00001.parquet"]
    assert {n: (out / n).read_bytes() for n in _files(out)} == {n: before[n] for n in _files(out)}
    assert (layout.rejects_dir(out) / "part-00001.parquet").read_bytes() == before["_rejects/part-00001.parquet"]
    assert not any(os.path.lexists(out / name) for name in ("_manifest.json", "_rejects", "_curate.lock"))


def test_an_unfinished_old_layout_run_needs_overwrite(tmp_path: Path) -> None:
    source, out = _input(tmp_path), tmp_path / "out"
    (out / "_work" / "markers").mkdir(parents=True)
    (out / "_work" / "run.json").write_text("{}")
    (out / "_curate.lock").touch()
    refused = invoke("dedup", "exact", str(source), str(out))
    assert refused.exit_code == 2 and "older curate" in refused.stderr
    status = invoke("status", str(out), "--json")
    assert json.loads(status.stdout)["state"] == "interrupted"
    assert invoke("dedup", "exact", str(source), str(out), "--overwrite").exit_code == 0
    assert _files(out) == ["part-00000.parquet", "part-00001.parquet"]


def test_an_old_layout_output_whose_old_lock_is_held_is_busy(tmp_path: Path) -> None:
    """An older curate still running on OUT locks OUT/_curate.lock: this one waits its turn."""
    old = old_layout_dataset(tmp_path / "old")
    (old / "_curate.lock").touch()
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, time\n"
            f"handle = open({str(old / '_curate.lock')!r}, 'a')\n"
            "fcntl.flock(handle, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            result = invoke("dedup", "exact", str(_input(tmp_path)), str(old), "--overwrite")
            assert result.exit_code == 75, result.stderr
            assert (old / "_manifest.json").is_file()  # untouched
        finally:
            holder.kill()
