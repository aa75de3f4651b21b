"""Object-store locations: s3:// inputs read from a real S3-compatible server (moto's server
mode, on localhost), timeouts that end a silent endpoint, and usage errors (exit 2) for URIs
curate does not handle, never a local directory named ``s3:``."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import xxhash

from curate.io.layout import MANIFEST, WORK, rejects_dir
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


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("s3:/bucket/out", "malformed S3 URI"),
        ("s3://bucket", "needs a prefix"),
        ("s3://bucket/a/../b", "'..'"),
        ("gs://bucket", "needs a prefix"),
        ("hf://datasets/x", "local paths, s3:// and gs://"),
    ],
)
def test_a_uri_output_is_a_usage_error_and_creates_no_local_directory(
    tmp_path: Path, output: str, message: str
) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    env = {**os.environ, "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    result = run_process("dedup", "exact", "in", output, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


# --- s3:// as OUT: staged locally, published object by object, the manifest last ------------


def _objects(filesystem: pafs.S3FileSystem, prefix: str) -> dict[str, bytes]:
    """Every object below ``prefix`` (a bucket/key path) by its name relative to it."""
    if filesystem.get_file_info(prefix).type != pafs.FileType.Directory:
        return {}
    found = {}
    for info in filesystem.get_file_info(pafs.FileSelector(prefix, recursive=True)):
        if info.type == pafs.FileType.File:
            with filesystem.open_input_stream(info.path) as stream:
                found[info.path.removeprefix(prefix + "/")] = stream.read()
    return found


def _corpus(filesystem: pafs.S3FileSystem, bucket: str) -> str:
    first = pa.table({"id": ["a", "b", "c"], "text": ["same text", "other", "same text"]})
    second = pa.table({"id": ["d", "e"], "text": ["other", "third"]})
    for name, table in (("in/part-0.parquet", first), ("in/part-1.parquet", second)):
        with filesystem.open_output_stream(f"{bucket}/{name}") as stream:
            pq.write_table(table, stream)
    return f"s3://{bucket}/in/"


def test_an_s3_output_holds_the_kept_shards_and_its_manifest_commits_it(s3_endpoint: str, tmp_path: Path) -> None:
    filesystem = _bucket(s3_endpoint, "night")
    source = _corpus(filesystem, "night")
    env = {**_s3_env(s3_endpoint), "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    command = ["dedup", "exact", source, "s3://night/runs/out", "--json"]
    result = run_process(*command, env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["output"], summary["rows_in"], summary["rows_kept"]) == ("s3://night/runs/out", 5, 3)
    out, state = _objects(filesystem, "night/runs/out"), _objects(filesystem, "night/runs/out.curate")
    manifest = json.loads(state.pop(MANIFEST))
    # OUT holds the listed kept shards and nothing else; OUT.curate the manifest and the rejects.
    assert sorted(out) == sorted(e["name"] for e in manifest["shards"]) == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(state) == sorted(e["name"] for e in manifest["rejects"])
    for entry in manifest["shards"]:
        assert xxhash.xxh3_128(out[entry["name"]]).hexdigest() == entry["xxh3_128"]
    for entry in manifest["rejects"]:
        assert xxhash.xxh3_128(state[entry["name"]]).hexdigest() == entry["xxh3_128"]
    kept = ds.dataset("night/runs/out", filesystem=filesystem, format="parquet").to_table()
    assert sorted(kept.column("id").to_pylist()) == ["a", "b", "e"]
    # A later stage reads it through its manifest on the store.
    later = run_process("dedup", "exact", "s3://night/runs/out", str(tmp_path / "later"), "--json", env=env)
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["rows_in"] == 3
    # The same command again: done, nothing uploaded again.
    again = run_process(*command, env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["already_done"] is True
    # Another configuration is refused without --overwrite, and the store is left as it was.
    other = ["dedup", "exact", source, "s3://night/runs/out", "--on", "id", "--json"]
    refused = run_process(*other, env=env)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert json.loads(_objects(filesystem, "night/runs/out.curate")[MANIFEST]) == manifest
    replaced = run_process(*other, "--overwrite", env=env)
    assert replaced.returncode == 0, replaced.stderr
    state = _objects(filesystem, "night/runs/out.curate")
    assert sorted(state) == [MANIFEST]  # no duplicate ids: the old rejects are gone
    kept = ds.dataset("night/runs/out", filesystem=filesystem, format="parquet").to_table()
    assert sorted(kept.column("id").to_pylist()) == ["a", "b", "c", "d", "e"]


def test_an_s3_output_without_its_manifest_is_not_a_dataset(s3_endpoint: str, tmp_path: Path) -> None:
    """A publish killed before its manifest: shards are there, the dataset is not (nothing outside
    the manifest counts), and a reader says so instead of reading them."""
    filesystem = _bucket(s3_endpoint, "half")
    with filesystem.open_output_stream("half/out/part-00000.parquet") as stream:
        pq.write_table(pa.table({"id": ["x"], "text": ["partial"]}), stream)
    with filesystem.open_output_stream(f"half/out.curate/{WORK}/publishing.json") as stream:
        stream.write(b"{}")
    result = run_process("dedup", "exact", "s3://half/out", str(tmp_path / "o"), env=_s3_env(s3_endpoint))
    assert result.returncode == 2 and "unfinished" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("gs://", "malformed gs:// URI"),
        ("hf://datasets/org", "malformed hf:// URI"),
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


def test_an_index_run_needs_a_local_output(tmp_path: Path) -> None:
    """The nightly index is updated once OUT is published: with an s3:// OUT that is refused."""
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    env = {**os.environ, "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    result = run_process("dedup", "minhash", "--index", "idx", "in", "s3://bucket/out", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "--index needs a local OUT" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("output", ["s3:/bucket/out", "hf://datasets/o/n", "s3://bucket"])
def test_a_malformed_or_unsupported_uri_output_of_ingest_is_a_usage_error(tmp_path: Path, output: str) -> None:
    (tmp_path / "photos").mkdir()
    result = run_process("ingest", "images", "photos", output, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def _jpeg(seed: int) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (40 + seed, 30), (seed * 40 % 256, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


def test_ingest_publishes_to_s3_and_a_later_stage_reads_it_there(s3_endpoint: str, tmp_path: Path) -> None:
    """``ingest images`` and ``ingest webdataset`` into s3://: the kept images and the rejects on
    the store, the manifest last; ``hash images`` reads them from there; a second ingest into a
    finished prefix needs --overwrite, as into a local OUT."""
    import io
    import tarfile

    pytest.importorskip("PIL")
    filesystem = _bucket(s3_endpoint, "pictures")
    env = {**_s3_env(s3_endpoint), "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in range(3):
        (photos / f"p{n}.jpg").write_bytes(_jpeg(n))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not a picture")
    result = run_process("ingest", "images", str(photos), "s3://pictures/ds", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert (json.loads(result.stdout)["rows_kept"], json.loads(result.stdout)["rows_removed"]) == (3, 1)
    out, state = _objects(filesystem, "pictures/ds"), _objects(filesystem, "pictures/ds.curate")
    manifest = json.loads(state.pop(MANIFEST))
    assert sorted(out) == sorted(e["name"] for e in manifest["shards"])
    assert sorted(state) == sorted(e["name"] for e in manifest["rejects"])
    remote = ds.dataset("pictures/ds", filesystem=filesystem, format="parquet").to_table()
    assert sorted(remote.column("id").to_pylist()) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert remote.column("image").to_pylist()[0] in {_jpeg(n) for n in range(3)}
    hashed = run_process("hash", "images", "s3://pictures/ds", str(tmp_path / "hashed"), "--json", env=env)
    assert hashed.returncode == 0 and json.loads(hashed.stdout)["rows_kept"] == 3, hashed.stderr
    again = run_process("ingest", "images", str(photos), "s3://pictures/ds", env=env)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    # A WebDataset shard replaces it with --overwrite: only its rows remain.
    with tarfile.open(tmp_path / "shard.tar", "w") as tar:
        for name, data in (("k1.jpg", _jpeg(5)), ("k1.txt", b"a caption"), ("k2.txt", b"no image")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    replaced = run_process(
        "ingest", "webdataset", str(tmp_path / "shard.tar"), "s3://pictures/ds", "--overwrite", "--json", env=env
    )
    assert replaced.returncode == 0, replaced.stderr
    remote = ds.dataset("pictures/ds", filesystem=filesystem, format="parquet").to_table()
    assert remote.column("id").to_pylist() == ["shard.tar/k1"] and remote.column("text").to_pylist() == ["a caption"]
    rejects = _objects(filesystem, "pictures/ds.curate")
    assert len([name for name in rejects if name != MANIFEST]) == 1  # k2, without its image


def test_a_pipeline_publishes_to_s3_as_its_stage_commands_do(s3_endpoint: str, tmp_path: Path) -> None:
    """``curate run`` with an s3:// output: the pipeline's OUT and its per-stage rejects, the
    manifest last; the same kept rows as the pipeline into a local OUT."""
    filesystem = _bucket(s3_endpoint, "piped")
    source = _corpus(filesystem, "piped")
    (tmp_path / "p.yaml").write_text(f"input: {source}\nstages:\n  - filter c4: {{}}\n  - dedup exact: {{on: text}}\n")
    env = {**_s3_env(s3_endpoint), "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    result = run_process("run", "p.yaml", "--output", "s3://piped/out", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == "s3://piped/out"
    local = run_process("run", "p.yaml", "--output", "local", cwd=tmp_path, env=env)
    assert local.returncode == 0, local.stderr
    out, state = _objects(filesystem, "piped/out"), _objects(filesystem, "piped/out.curate")
    manifest = json.loads(state.pop(MANIFEST))
    assert sorted(out) == sorted(e["name"] for e in manifest["shards"])
    assert sorted(state) == sorted(e["name"] for e in manifest["rejects"])
    remote = ds.dataset("piped/out", filesystem=filesystem, format="parquet").to_table()
    assert sorted(remote.column("id").to_pylist()) == sorted(read_dir(tmp_path / "local").column("id").to_pylist())
    again = run_process("run", "p.yaml", "--output", "s3://piped/out", "--json", cwd=tmp_path, env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["already_done"] is True


def test_an_unsupported_uri_output_in_a_pipeline_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "in" / "p.parquet")
    (tmp_path / "p.yaml").write_text("input: in\noutput: hf://datasets/o/n\nstages:\n  - dedup exact: {}\n")
    result = run_process("run", "p.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "p.yaml"]


def test_a_prefix_holding_the_users_objects_is_refused_and_never_emptied(s3_endpoint: str, tmp_path: Path) -> None:
    """As a local OUT: a prefix with objects but no curate output is refused before the run; with
    --overwrite the run publishes beside them and deletes none of them (only curate's own names)."""
    filesystem = _bucket(s3_endpoint, "mixed")
    source = _corpus(filesystem, "mixed")
    with filesystem.open_output_stream("mixed/out/notes.txt") as stream:
        stream.write(b"the user's")
    with filesystem.open_output_stream("mixed/out/theirs.parquet") as stream:
        pq.write_table(pa.table({"x": [1]}), stream)
    env = {**_s3_env(s3_endpoint), "CURATE_STAGING_DIR": str(tmp_path / "staging")}
    refused = run_process("dedup", "exact", source, "s3://mixed/out", env=env)
    assert refused.returncode == 2 and "not empty and not a curate output" in refused.stderr
    assert sorted(_objects(filesystem, "mixed/out")) == ["notes.txt", "theirs.parquet"]
    assert not (tmp_path / "staging").exists()
    done = run_process("dedup", "exact", source, "s3://mixed/out", "--overwrite", env=env)
    assert done.returncode == 0, done.stderr
    objects = _objects(filesystem, "mixed/out")
    assert objects["notes.txt"] == b"the user's" and "theirs.parquet" in objects
    manifest = json.loads(_objects(filesystem, "mixed/out.curate")[MANIFEST])
    assert sorted(n for n in objects if n.startswith("part-")) == sorted(e["name"] for e in manifest["shards"])
