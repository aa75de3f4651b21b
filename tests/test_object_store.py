"""Object-store locations: s3:// inputs read from a real S3-compatible server (moto's server
mode, on localhost), timeouts that end a silent endpoint, and usage errors (exit 2) for URIs
curate does not handle, never a local directory named ``s3:``."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from curate.io.layout import rejects_dir
from tests.conftest import read_dir, run_process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _s3_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CURATE_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
    )
    return env


def _bucket(endpoint: str, name: str) -> pafs.S3FileSystem:
    host = endpoint.removeprefix("http://")
    filesystem = pafs.S3FileSystem(
        endpoint_override=host,
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    filesystem.create_dir(name)
    return filesystem


def test_an_s3_input_is_read_from_a_real_s3_server(s3_endpoint: str, tmp_path: Path) -> None:
    filesystem = _bucket(s3_endpoint, "corpus")
    first = pa.table({"id": ["a", "b", "c"], "text": ["same text", "other", "same text"]})
    second = pa.table({"id": ["d"], "text": ["other"]})
    for name, table in (("in/part-0.parquet", first), ("in/sub/part-1.parquet", second)):
        with filesystem.open_output_stream(f"corpus/{name}") as stream:
            pq.write_table(table, stream)
    with filesystem.open_output_stream("corpus/in/_ignored.parquet") as stream:
        pq.write_table(first, stream)  # discovery skips '_' names on S3 too

    out = tmp_path / "out"
    result = run_process("dedup", "exact", "s3://corpus/in/", str(out), "--on", "text", env=_s3_env(s3_endpoint))
    assert result.returncode == 0, result.stderr
    # Exact duplicates of "same text" (a, c) and "other" (b, d): the first of each survives.
    assert sorted(read_dir(out).column("id").to_pylist()) == ["a", "b"]
    assert sorted(read_dir(rejects_dir(out), "*.parquet").column("id").to_pylist()) == ["c", "d"]


def test_a_missing_s3_prefix_is_a_usage_error(s3_endpoint: str, tmp_path: Path) -> None:
    _bucket(s3_endpoint, "empty")
    result = run_process("dedup", "exact", "s3://empty/nothing", str(tmp_path / "out"), env=_s3_env(s3_endpoint))
    assert result.returncode == 2, result.stderr
    assert "not found" in result.stderr


def test_a_silent_s3_endpoint_ends_in_seconds_not_a_hang(tmp_path: Path) -> None:
    # A server that accepts connections and never answers: only a request timeout ends it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    env = _s3_env(f"http://127.0.0.1:{listener.getsockname()[1]}")
    env.update(CURATE_S3_CONNECT_TIMEOUT="1", CURATE_S3_REQUEST_TIMEOUT="1")
    began = time.monotonic()
    try:
        result = run_process("dedup", "exact", "s3://silent/in", str(tmp_path / "out"), env=env, timeout=120)
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert result.returncode != 0
    assert time.monotonic() - began < 60, "a silent endpoint must not hang the run"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("output", ["s3://bucket/out", "s3:/bucket/out", "gs://bucket/out", "hf://datasets/x"])
def test_a_uri_output_is_a_usage_error_and_creates_no_local_directory(tmp_path: Path, output: str) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    result = run_process("dedup", "exact", "in", output, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "local paths only" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("gs://bucket/in", "gs:// inputs are not supported"),
        ("hf://datasets/org/name", "hf:// inputs are not supported"),
        ("s3://", "malformed S3 URI"),
        ("ftp://host/in", "unsupported location"),
    ],
)
def test_an_unsupported_or_malformed_input_uri_fails_fast_with_exit_2(
    tmp_path: Path, location: str, message: str
) -> None:
    began = time.monotonic()
    result = run_process("dedup", "exact", location, str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert time.monotonic() - began < 30
    assert not (tmp_path / "out").exists()


def test_a_uri_output_in_a_pipeline_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    (tmp_path / "p.yaml").write_text("input: in\noutput: s3://bucket/out\nstages:\n  - dedup exact: {}\n")
    result = run_process("run", "p.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "p.yaml"]
