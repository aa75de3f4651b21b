"""Shared fixtures: hermetic HOME, the shared corpora (skip when absent, fail under CI=true),
helpers to write real shards and run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from curate.cli import root
from tests.corpus import shared_data_dir

SHARED_DATA = shared_data_dir()


@pytest.fixture(autouse=True)
def _hermetic_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in list(os.environ):
        if name.startswith("CURATE_") or name == "RAY_ADDRESS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$CURATE_SHARED_DATA``); tests needing it skip when it is absent,
    except under CI=true."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared corpora are missing at {SHARED_DATA}")
        pytest.skip(f"shared corpora not found at {SHARED_DATA}")
    return SHARED_DATA


def write_shard(path: Path, rows: list[dict[str, object]], schema: pa.Schema | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)
    return path


def read_dir(path: Path, pattern: str = "part-*.parquet") -> pa.Table:
    files = sorted(path.glob(pattern))
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})


def manifest_json(out: Path) -> dict[str, Any]:
    """The manifest of the dataset OUT (wherever the output layout keeps it)."""
    from curate.io.layout import manifest_path

    return dict(json.loads(manifest_path(out).read_text()))


def invoke(*args: str) -> Result:
    """The real CLI through click's runner (stdout and stderr kept apart)."""
    return CliRunner().invoke(root, list(args), catch_exceptions=False)


def run_process(*args: str, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a shell or cron would run it."""
    return subprocess.run(
        [sys.executable, "-m", "curate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One real local Ray instance for every Ray test (starting one per test is slow and, on a
    busy machine, flaky); curate's Ray executor joins an initialised Ray and leaves it running."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` (``1m``) mounted at ``path`` (created) for a full-disk test, unmounted
    whatever happens; the test is skipped where mounting is not permitted (needs root)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False, capture_output=True).returncode != 0:
            # Busy: a handle in this process still points into it (seen after the failed run of the
            # nightly full-disk test). Detach it lazily, so that no mount outlives the test.
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
