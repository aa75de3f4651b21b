"""gs:// inputs read from a real GCS emulator on localhost (the gcp-storage-emulator package's
server, started here), and hf:// inputs: what can be checked without the Hub (no network here):
malformed URIs, an unreachable endpoint failing fast and clearly, nothing created."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from tests.conftest import read_dir, run_process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("gcp_storage_emulator")
    port = _free_port()
    log = tmp_path_factory.mktemp("gcs") / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port),
             "--in-memory", "--default-bucket", "corpus"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the GCS emulator did not start: {log.read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _gcs(endpoint: str) -> pafs.GcsFileSystem:
    return pafs.GcsFileSystem(
        anonymous=True,
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        retry_time_limit=timedelta(seconds=5),
    )


def _env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no Google or Hugging Face configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCE_", "CLOUDSDK_", "HF_", "STORAGE"))}
    return {**env, "HOME": str(home), **extra}


def _upload(filesystem: pafs.FileSystem, local: Path, remote: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            with filesystem.open_output_stream(f"{remote}/{path.relative_to(local).as_posix()}") as stream:
                stream.write(path.read_bytes())


def test_a_gs_input_is_read_from_a_real_gcs_emulator(gcs_endpoint: str, tmp_path: Path) -> None:
    filesystem = _gcs(gcs_endpoint)
    first = pa.table({"id": ["a", "b"], "text": ["same text", "other"]})
    second = pa.table({"id": ["c", "d"], "text": ["same text", "other"]})
    for name, table in (("in/part-0.parquet", first), ("in/sub/part-1.parquet", second), ("in/_skip.parquet", first)):
        with filesystem.open_output_stream(f"corpus/{name}") as stream:
            pq.write_table(table, stream)
    out = tmp_path / "out"
    env = _env(tmp_path, STORAGE_EMULATOR_HOST=gcs_endpoint)
    result = run_process("dedup", "exact", "gs://corpus/in/", str(out), "--on", "text", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(read_dir(out).column("id").to_pylist()) == ["a", "b"]
    assert result.stdout.startswith("dedup exact: 4 in, 2 kept")


def test_a_curate_dataset_on_gcs_is_read_through_its_manifest(gcs_endpoint: str, tmp_path: Path) -> None:
    """A finished output copied to GCS (the dataset and whatever curate wrote beside it) is an
    input like a local one: only the shards its manifest lists, each checked against its checksum."""
    (tmp_path / "in").mkdir()
    rows = {"id": [f"d{i}" for i in range(6)], "text": ["one two three four five six seven"] * 3 + ["x y"] * 3}
    pq.write_table(pa.table(rows), tmp_path / "in" / "p.parquet")
    local = tmp_path / "stage" / "ds"
    assert run_process("dedup", "exact", str(tmp_path / "in"), str(local)).returncode == 0
    filesystem = _gcs(gcs_endpoint)
    for path in sorted((tmp_path / "stage").iterdir()):
        _upload(filesystem, path, f"corpus/copied/{path.name}")
    with filesystem.open_output_stream("corpus/copied/ds/stray.parquet") as stream:  # not in the manifest
        pq.write_table(pa.table(rows), stream)
    out = tmp_path / "out"
    env = _env(tmp_path, STORAGE_EMULATOR_HOST=gcs_endpoint)
    result = run_process("filter", "c4", "gs://corpus/copied/ds", str(out), "--annotate", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(read_dir(out).column("id").to_pylist()) == sorted(read_dir(local).column("id").to_pylist())


def test_a_gs_output_is_published_with_its_manifest_last(gcs_endpoint: str, tmp_path: Path) -> None:
    """gs:// as OUT, as s3:// is: made in a local staging copy, then the kept shards under the
    prefix, the manifest and the rejects beside it; a later stage reads it; the same command
    again is done."""
    filesystem = _gcs(gcs_endpoint)
    first = pa.table({"id": ["a", "b", "c"], "text": ["same text", "other", "same text"]})
    with filesystem.open_output_stream("corpus/src/part-0.parquet") as stream:
        pq.write_table(first, stream)
    env = _env(tmp_path, STORAGE_EMULATOR_HOST=gcs_endpoint, CURATE_STAGING_DIR=str(tmp_path / "staging"))
    command = ["dedup", "exact", "gs://corpus/src", "gs://corpus/published/out", "--on", "text", "--json"]
    result = run_process(*command, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == "gs://corpus/published/out"
    names = {
        info.path.removeprefix("corpus/published/")
        for info in filesystem.get_file_info(pafs.FileSelector("corpus/published", recursive=True))
        if info.type == pafs.FileType.File
    }
    assert names == {"out/part-00000.parquet", "out.curate/manifest.json", "out.curate/rejects/part-00000.parquet"}
    later = run_process("filter", "c4", "gs://corpus/published/out", str(tmp_path / "later"), "--annotate", env=env)
    assert later.returncode == 0, later.stderr
    assert sorted(read_dir(tmp_path / "later").column("id").to_pylist()) == ["a", "b"]
    again = run_process(*command, env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["already_done"] is True


def test_gs_without_credentials_is_a_usage_error_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    result = run_process("dedup", "exact", "gs://bucket/in", str(tmp_path / "out"), env=_env(tmp_path), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "GOOGLE_APPLICATION_CREDENTIALS" in result.stderr
    assert time.monotonic() - began < 20
    assert not (tmp_path / "out").exists()
    # As an output: refused before the run, not after it at publishing.
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    env = _env(tmp_path, CURATE_STAGING_DIR=str(tmp_path / "staging"))
    result = run_process("dedup", "exact", str(tmp_path / "in"), "gs://bucket/out", env=env, timeout=60)
    assert result.returncode == 2 and "GOOGLE_APPLICATION_CREDENTIALS" in result.stderr
    assert not (tmp_path / "staging").exists()


def test_an_unreachable_gcs_endpoint_ends_in_seconds(tmp_path: Path) -> None:
    env = _env(tmp_path, STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{_free_port()}", CURATE_GCS_RETRY_TIMEOUT="2")
    began = time.monotonic()
    result = run_process("dedup", "exact", "gs://corpus/in", str(tmp_path / "out"), env=env, timeout=120)
    assert result.returncode != 0
    assert time.monotonic() - began < 60
    assert "Traceback" not in result.stderr and result.stderr.strip()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "location", ["gs://", "gs:///in", "hf://", "hf://datasets/onlyowner", "hf://nothing/owner/name"]
)
def test_malformed_gs_and_hf_uris_are_usage_errors(tmp_path: Path, location: str) -> None:
    result = run_process("dedup", "exact", location, str(tmp_path / "out"), env=_env(tmp_path), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "malformed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unreachable_hub_fails_fast_and_clearly(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    env = _env(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{_free_port()}")
    began = time.monotonic()
    result = run_process("dedup", "exact", "hf://datasets/owner/name/data", str(tmp_path / "out"), env=env)
    assert result.returncode != 0
    assert time.monotonic() - began < 60
    assert "Traceback" not in result.stderr and result.stderr.strip()
    assert not (tmp_path / "out").exists()
