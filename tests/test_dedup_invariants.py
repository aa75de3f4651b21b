"""Dedup invariants (RELIABILITY 12) and fault tolerance (1, 5, 9): real processes, real kills."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir, work_dir
from tests.conftest import invoke, read_dir, write_shard
from tests.corpus import near_duplicate_corpus, random_document


def dedup(src: Path, out: Path, *extra: str) -> set[str]:
    result = invoke("-q", "dedup", "minhash", str(src), str(out), "--keep", "longest", *extra)
    assert result.exit_code == 0, result.stderr
    return set(read_dir(out).column("id").to_pylist())


def shard_out(docs: list[dict[str, object]], directory: Path, shards: int) -> Path:
    for s in range(shards):
        write_shard(directory / f"s{s:02d}.parquet", docs[s::shards])
    return directory


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_set_independent_of_order_split_and_workers(tmp_path: Path, seed: int) -> None:
    docs = near_duplicate_corpus(seed=seed, originals=80, copies=50)
    baseline = dedup(shard_out(docs, tmp_path / "a", 1), tmp_path / "oa", "--workers", "1")
    shuffled = list(docs)
    random.Random(seed).shuffle(shuffled)
    assert dedup(shard_out(shuffled, tmp_path / "b", 4), tmp_path / "ob", "--workers", "2") == baseline
    assert dedup(shard_out(shuffled, tmp_path / "c", 7), tmp_path / "oc", "--workers", "1") == baseline
    # output ⊆ input, and dedup is idempotent
    assert baseline <= {str(d["id"]) for d in docs}
    assert dedup(tmp_path / "oa", tmp_path / "oaa") == baseline


def test_workers_and_pools_give_byte_identical_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = near_duplicate_corpus(seed=3, originals=60, copies=40)
    src = shard_out(docs, tmp_path / "in", 3)
    dedup(src, tmp_path / "one", "--workers", "1")
    dedup(src, tmp_path / "two", "--workers", "2")
    dedup(src, tmp_path / "procs", "--workers", "2", "--pool", "process")
    kept = sorted(p.name for p in (tmp_path / "one").glob("part-*.parquet"))
    rejects = sorted(p.name for p in rejects_dir(tmp_path / "one").glob("part-*.parquet"))
    assert len(kept) == 3 and rejects  # three kept shards and at least one rejects shard
    for out in ("two", "procs"):
        for name in kept:
            assert (tmp_path / out / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
        for name in rejects:
            assert (rejects_dir(tmp_path / out) / name).read_bytes() == (
                rejects_dir(tmp_path / "one") / name
            ).read_bytes()


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
def test_ray_and_local_give_identical_output(tmp_path: Path) -> None:
    docs = near_duplicate_corpus(seed=4, originals=60, copies=40)
    src = shard_out(docs, tmp_path / "in", 3)
    dedup(src, tmp_path / "local", "--workers", "2")
    dedup(src, tmp_path / "ray", "--executor", "ray", "--workers", "2")
    for path in sorted((tmp_path / "local").rglob("part-*.parquet")):
        twin = tmp_path / "ray" / path.relative_to(tmp_path / "local")
        assert twin.read_bytes() == path.read_bytes(), path.name


def big_corpus(directory: Path, shards: int, docs_per_shard: int) -> Path:
    rng = random.Random(11)
    for s in range(shards):
        rows = []
        for i in range(docs_per_shard):
            text = random_document(rng, 400)
            rows.append({"id": f"{s}-{i}", "text": text})
            if i % 10 == 0:
                rows.append({"id": f"{s}-{i}-dup", "text": text + " extra words at the very end"})
        write_shard(directory / f"s{s:02d}.parquet", rows)
    return directory


def curate_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "curate", "-q", "dedup", "minhash", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_is_byte_identical(tmp_path: Path) -> None:
    src = big_corpus(tmp_path / "in", shards=12, docs_per_shard=1500)
    clean = subprocess.run(
        [sys.executable, "-m", "curate", "-q", "dedup", str(src), str(tmp_path / "clean"), "--workers", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "out"
    with curate_process(str(src), str(out), "--workers", "1") as victim:
        markers = work_dir(out) / "markers" / "filter"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (markers.is_dir() and any(markers.iterdir())):
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert not manifest_path(out).exists()
    for part in out.glob("part-*.parquet"):  # whatever was published is complete and valid
        assert pq.read_metadata(part).num_rows > 0
    resumed = subprocess.run(
        [sys.executable, "-m", "curate", "-q", "dedup", str(src), str(out), "--workers", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    clean_files = sorted(p.relative_to(tmp_path / "clean") for p in (tmp_path / "clean").rglob("*.parquet"))
    assert clean_files == sorted(p.relative_to(out) for p in out.rglob("*.parquet"))
    for name in clean_files:
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name


@pytest.mark.slow
def test_concurrent_run_exits_busy_and_writes_nothing(tmp_path: Path) -> None:
    src = big_corpus(tmp_path / "in", shards=6, docs_per_shard=1500)
    out = tmp_path / "out"
    with curate_process(str(src), str(out), "--workers", "1") as first:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (work_dir(out) / "run.json").exists():
            time.sleep(0.005)
        before = sorted(str(p) for p in out.rglob("*"))
        second = subprocess.run(
            [sys.executable, "-m", "curate", "dedup", str(src), str(out)], capture_output=True, text=True, check=False
        )
        assert second.returncode == 75, second.stderr
        assert "another curate run" in second.stderr
        assert set(before) <= {str(p) for p in out.rglob("*")}
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The lock died with its holder: the next run proceeds with no manual cleanup.
    third = subprocess.run(
        [sys.executable, "-m", "curate", "-q", "dedup", str(src), str(out)], capture_output=True, text=True, check=False
    )
    assert third.returncode == 0, third.stderr


@pytest.mark.slow
def test_giant_document_in_bounded_memory(tmp_path: Path) -> None:
    rng = random.Random(5)
    paragraph = random_document(rng, 2000)
    giant = " ".join(paragraph for _ in range(50_000 // 2000 * 1000))[: 60 << 20]
    small = [{"id": f"d{i}", "text": random_document(rng, 200)} for i in range(50)]
    table = pa.Table.from_pylist(
        [{"id": "giant", "text": giant}, *small], schema=pa.schema([("id", pa.string()), ("text", pa.large_string())])
    )
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "a.parquet")
    del giant, table
    script = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'curate', '-q', 'dedup', sys.argv[1], sys.argv[2], '--json',"
        " '--workers', '1'])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    peak_kib, code = done.stdout.strip().splitlines()[-1].split()
    assert int(code) == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[0])
    assert summary["rows_in"] == 51
    # 60 MB of text: the budget is a small multiple of the document, not of its shingles.
    assert int(peak_kib) < 1_200_000, f"peak RSS {int(peak_kib) // 1024} MiB"


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize(
    "command", [["dedup", "exact"], ["dedup", "lines", "--min-count", "2"], ["filter", "pii"]], ids=lambda c: c[-1]
)
def test_other_stages_identical_on_ray_and_local(tmp_path: Path, command: list[str]) -> None:
    rng = random.Random(8)
    docs = []
    for i in range(120):
        body = random_document(rng, 60)
        docs.append({"id": f"d{i}", "text": f"Menu | Home\nmail me at user{i % 7}@example.org\n{body}"})
        if i % 4 == 0:
            docs.append({"id": f"d{i}-copy", "text": docs[-1]["text"]})
    src = shard_out(docs, tmp_path / "in", 3)
    for executor, out in (("local", "local"), ("ray", "ray")):
        result = invoke("-q", *command, str(src), str(tmp_path / out), "--executor", executor, "--workers", "2")
        assert result.exit_code == 0, result.stderr
    local_files = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("part-*.parquet"))
    assert local_files
    for name in local_files:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


@pytest.mark.ray
@pytest.mark.slow
def test_ray_executor_starts_and_stops_its_own_local_instance(tmp_path: Path) -> None:
    docs = near_duplicate_corpus(seed=6, originals=30, copies=20)
    src = shard_out(docs, tmp_path / "in", 2)
    dedup(src, tmp_path / "local", "--workers", "1")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "curate",
            "-q",
            "dedup",
            str(src),
            str(tmp_path / "ray"),
            "--keep",
            "longest",
            "--executor",
            "ray",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for path in sorted((tmp_path / "local").rglob("part-*.parquet")):
        assert (tmp_path / "ray" / path.relative_to(tmp_path / "local")).read_bytes() == path.read_bytes()
