"""The default worker count follows CPU affinity and the cgroup quota."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.pipelines.cpus import available_cpus, quota_cpus


@pytest.mark.parametrize(
    ("content", "expected"),
    [("max 100000", None), ("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1), ("garbage", None)],
)
def test_cgroup_v2_quota(tmp_path: Path, content: str, expected: int | None) -> None:
    (tmp_path / "cpu.max").write_text(content + "\n")
    assert quota_cpus(tmp_path) == expected


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert quota_cpus(tmp_path) == 3
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert quota_cpus(tmp_path) is None


def test_a_quota_caps_the_affinity(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert available_cpus(tmp_path) == 1
    assert available_cpus(tmp_path / "none") == len(os.sched_getaffinity(0))


def test_the_worker_default_follows_the_affinity_of_the_process() -> None:
    # A real process pinned to one CPU (as taskset or a cpuset would), asked what it defaults to.
    code = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]});"
        "from curate.pipelines.runner import RunOptions; print(RunOptions().worker_count)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "1"
