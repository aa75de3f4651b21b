"""Progress: one bar per phase on stderr, only on a terminal, silenced by -q; a phase that reads the input
shards counts their bytes. The real CLI runs with its stderr on a pseudo-terminal (what a person sees)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipelines.progress import PhaseProgress


def write_shards(root: Path) -> int:
    root.mkdir()
    for shard in range(3):
        texts = [f"document {shard}-{i} " + "words " * (i % 17) for i in range(400)]
        texts += texts[:50]  # exact duplicates inside the shard
        pq.write_table(pa.table({"text": texts}), root / f"part-{shard}.parquet")
    return sum(path.stat().st_size for path in root.iterdir())


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stdin and stdout on pipes and stderr on a pseudo-terminal; what the terminal got."""
    master, slave = pty.openpty()
    # A terminal of 40 rows and 120 columns (a new pseudo-terminal has none, and tqdm draws nothing in 0 columns).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "curate", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        received = bytearray()
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            received += chunk
        process.communicate(timeout=120)
    finally:
        os.close(master)
    return process.returncode, received.decode("utf-8", "replace")


@pytest.mark.slow
def test_a_shard_phase_counts_bytes_on_a_terminal(tmp_path: Path) -> None:
    write_shards(tmp_path / "in")
    code, terminal = run_on_a_terminal("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert code == 0, terminal
    assert "B/s" in terminal or "B [" in terminal, terminal  # bytes, not tasks, for the phases over shards
    assert "task" in terminal, terminal  # the reduce phase counts its partitions


@pytest.mark.slow
def test_quiet_prints_no_bar(tmp_path: Path) -> None:
    write_shards(tmp_path / "in")
    code, terminal = run_on_a_terminal("-q", "dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert code == 0, terminal
    assert "B/s" not in terminal and "task" not in terminal and "%|" not in terminal, terminal


def test_no_bar_without_a_terminal(tmp_path: Path) -> None:
    write_shards(tmp_path / "in")
    result = subprocess.run(
        [sys.executable, "-m", "curate", "dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "%|" not in result.stderr


def test_weights_must_match_the_tasks() -> None:
    with pytest.raises(ValueError, match="2 weights for 3 tasks"):
        PhaseProgress("phase", 3, [1, 2], quiet=True)
