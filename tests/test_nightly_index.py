"""Nightly incremental dedup against a persistent index (``dedup minhash --index``), on real Common
Crawl documents split into nights with planted near-copies across and within nights.

The reference is one run over every night with ``--keep min:night --survivors keep-rule``: earlier
nights' survivors rank first, so the incremental runs must keep exactly the same documents."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dedup.index.store import LOCK_NAME as INDEX_LOCK
from curate.io.layout import lock_path, manifest_path, rejects_dir
from tests.conftest import invoke, manifest_json, read_dir, small_tmpfs
from tests.corpus import jaccard, mutate, word_shingles

NIGHTS = 4
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("night", pa.int64())])
MODE = ["--keep", "min:night", "--survivors", "keep-rule"]


def _cc_docs(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [{"id": r["id"], "text": r["text"]} for r in rows if len(r["text"].split()) >= 40]


def _nights(shared_data: Path, seed: int = 3) -> list[list[dict[str, object]]]:
    """Real CC documents over NIGHTS nights, plus near-copies (1-2 % word substitutions, a banner line,
    an exact copy) of documents of the same or an earlier night."""
    rng = random.Random(seed)
    docs = _cc_docs(shared_data)
    nights: list[list[dict[str, object]]] = [[] for _ in range(NIGHTS)]
    for doc in docs:
        nights[rng.randrange(NIGHTS)].append(dict(doc))
    for night in range(NIGHTS):
        for j in range(25):
            source_night = rng.randrange(night + 1)
            source = rng.choice(nights[source_night])
            text = str(source["text"])
            kind = j % 3
            if kind == 0:
                text = mutate(rng, text, rng.uniform(0.005, 0.02))
            elif kind == 1:
                text = "Home | About | Contact\n" + text
            nights[night].append({"id": f"copy-{night}-{j:03d}-of-{source['id']}", "text": text})
    for night, rows in enumerate(nights, start=1):
        for row in rows:
            row["night"] = night
        rng.shuffle(rows)
    return nights


def _write_nights(nights: list[list[dict[str, object]]], root: Path) -> list[Path]:
    paths = []
    for night, rows in enumerate(nights, start=1):
        path = root / f"night{night}"
        path.mkdir(parents=True)
        half = len(rows) // 2
        pq.write_table(pa.Table.from_pylist(rows[:half], schema=SCHEMA), path / "a.parquet")
        pq.write_table(pa.Table.from_pylist(rows[half:], schema=SCHEMA), path / "b.parquet")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def nights(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    root = tmp_path_factory.mktemp("nights")
    parts = _nights(shared_data)
    paths = _write_nights(parts, root)
    everything = root / "all"
    everything.mkdir()
    pq.write_table(pa.Table.from_pylist([r for p in parts for r in p], schema=SCHEMA), everything / "all.parquet")
    return paths, everything


def rejects_of(out: Path) -> pa.Table:
    """The rows a run removed. The one place that knows where rejects and manifest lie (the output
    layout may move them out of OUT)."""
    return read_dir(rejects_dir(out))


def has_manifest(out: Path) -> bool:
    return manifest_path(out).exists()


def _ids(directory: Path) -> set[str]:
    return set(read_dir(directory).column("id").to_pylist())


def _run_nights(
    paths: list[Path], index: Path, out_root: Path, *extra: str, dedup: tuple[str, ...] = ("minhash", *MODE)
) -> list[Path]:
    """One ``curate dedup DEDUP --index INDEX`` run per night, into ``out_root/outN``."""
    outs = []
    for night, path in enumerate(paths, start=1):
        out = out_root / f"out{night}"
        result = invoke("-q", "dedup", dedup[0], "--index", str(index), *dedup[1:], *extra, str(path), str(out))
        assert result.exit_code == 0, result.stderr
        outs.append(out)
    return outs


def _index_bytes(index: Path) -> dict[str, bytes]:
    """Every file of an index, the state without the (path-dependent) output names."""
    found = {}
    for path in sorted(index.rglob("*")):
        if path.is_file() and path.name != INDEX_LOCK:
            found[str(path.relative_to(index))] = path.read_bytes()
    state = json.loads(found.pop("_index.json"))
    for applied in state["applied"]:
        applied.pop("output")
    found["_index.json"] = json.dumps(state, sort_keys=True).encode()
    return found


def test_incremental_nights_keep_what_one_run_over_all_nights_keeps(
    nights: tuple[list[Path], Path], tmp_path: Path
) -> None:
    paths, everything = nights
    outs = _run_nights(paths, tmp_path / "idx", tmp_path)
    full = invoke("-q", "dedup", "minhash", *MODE, str(everything), str(tmp_path / "full"))
    assert full.exit_code == 0, full.stderr
    incremental = set().union(*(_ids(o) for o in outs))
    assert incremental == _ids(tmp_path / "full")
    # Planted copies of earlier nights went as duplicates of the index, naming a survivor of an
    # earlier night at or above the threshold (exact Jaccard, computed here independently).
    texts = {r["id"]: r["text"] for p in paths for f in p.glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    kept_before: set[str] = set()
    of_index = 0
    for out in outs:
        rejects = rejects_of(out).to_pylist()
        for row in rejects:
            if row["_reason"] == "minhash:near_duplicate_of_index":
                of_index += 1
                assert row["dup_of"] in kept_before
                assert jaccard(word_shingles(texts[row["id"]]), word_shingles(texts[row["dup_of"]])) >= 0.8
        manifest: dict[str, Any] = manifest_json(out)
        assert manifest["counters"]["removed:minhash:near_duplicate_of_index"] == sum(
            r["_reason"] == "minhash:near_duplicate_of_index" for r in rejects
        )
        assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_removed"]
        kept_before |= _ids(out)
    assert of_index >= 30
    stats = invoke("index", "stats", str(tmp_path / "idx"), "--json")
    assert json.loads(stats.stdout)["documents"] == len(incremental)


def test_rerun_of_a_published_night_changes_nothing(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    paths, _ = nights
    _run_nights(paths[:2], tmp_path / "idx", tmp_path)
    before = _index_bytes(tmp_path / "idx")
    again = invoke(
        "-q", "dedup", "minhash", "--index", str(tmp_path / "idx"), *MODE, str(paths[1]), str(tmp_path / "out2")
    )
    assert again.exit_code == 0, again.stderr
    assert _index_bytes(tmp_path / "idx") == before


def test_another_configuration_is_refused_and_writes_nothing(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    paths, _ = nights
    _run_nights(paths[:1], tmp_path / "idx", tmp_path)
    before = _index_bytes(tmp_path / "idx")
    result = invoke(
        "-q", "dedup", "minhash", "--index", str(tmp_path / "idx"), "--ngram", "3", str(paths[1]), str(tmp_path / "o")
    )
    assert result.exit_code == 2
    assert "another configuration" in result.stderr and "ngram" in result.stderr
    assert _index_bytes(tmp_path / "idx") == before
    assert not (tmp_path / "o").exists()


def test_removed_document_no_longer_suppresses_later_copies(tmp_path: Path) -> None:
    rng = random.Random(5)
    from tests.corpus import random_document

    base = [{"id": f"d{i}", "text": random_document(rng, 200), "night": 1} for i in range(20)]
    n1, n2 = tmp_path / "n1", tmp_path / "n2"
    n1.mkdir()
    n2.mkdir()
    pq.write_table(pa.Table.from_pylist(base, schema=SCHEMA), n1 / "a.parquet")
    copies = [{"id": f"c{i}", "text": base[i]["text"], "night": 2} for i in range(3)]
    pq.write_table(pa.Table.from_pylist(copies, schema=SCHEMA), n2 / "a.parquet")
    idx = tmp_path / "idx"
    assert invoke("-q", "dedup", "minhash", "--index", str(idx), *MODE, str(n1), str(tmp_path / "o1")).exit_code == 0
    (tmp_path / "ids.txt").write_text("d0\nd2\n")
    removed = invoke("index", "remove", str(idx), "--ids", str(tmp_path / "ids.txt"), "--json")
    assert removed.exit_code == 0 and json.loads(removed.stdout)["newly_removed"] == 2
    # A copy of idx compacted first must decide the same.
    compacted = tmp_path / "idx-compacted"
    subprocess.run(["cp", "-a", str(idx), str(compacted)], check=True)
    assert invoke("index", "compact", str(compacted)).exit_code == 0
    assert json.loads(invoke("index", "stats", str(compacted), "--json").stdout)["documents"] == 18
    for name, index in (("o2", idx), ("o2c", compacted)):
        result = invoke("-q", "dedup", "minhash", "--index", str(index), *MODE, str(n2), str(tmp_path / name))
        assert result.exit_code == 0, result.stderr
        assert _ids(tmp_path / name) == {"c0", "c2"}
        assert {r["dup_of"] for r in rejects_of(tmp_path / name).to_pylist()} == {"d1"}
    # The copy kept on night 2 is a survivor now and suppresses night 3's copy again.
    n3 = tmp_path / "n3"
    n3.mkdir()
    pq.write_table(
        pa.Table.from_pylist([{"id": "e0", "text": base[0]["text"], "night": 3}], schema=SCHEMA), n3 / "a.parquet"
    )
    assert invoke("-q", "dedup", "minhash", "--index", str(idx), *MODE, str(n3), str(tmp_path / "o3")).exit_code == 0
    assert [r["dup_of"] for r in rejects_of(tmp_path / "o3").to_pylist()] == ["c0"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curate", "-q", *args]


def test_index_busy_exits_75_having_written_nothing(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    paths, _ = nights
    idx = tmp_path / "idx"
    _run_nights(paths[:1], idx, tmp_path)
    before = _index_bytes(idx)
    with open(idx / INDEX_LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        cmd = _cli("dedup", "minhash", "--index", str(idx), *MODE, str(paths[1]), str(tmp_path / "busy"))
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 75, result.stderr
    assert not (tmp_path / "busy").exists()
    assert _index_bytes(idx) == before


def _wait_until_locked(lock: Path, timeout: float = 60) -> None:
    """Until some process holds ``lock`` (read from /proc/locks, without taking it ourselves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists():
            inode = f":{lock.stat().st_ino} "
            if any(inode in line for line in Path("/proc/locks").read_text().splitlines()):
                return
        time.sleep(0.01)
    raise AssertionError(f"nobody locked {lock}")


def test_two_concurrent_runs_one_proceeds_the_other_exits_75(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks to see the first run holding the lock")
    paths, everything = nights
    idx = tmp_path / "idx"
    # A first run long enough (every night, 8 times over) for the second to start while it runs.
    table = pq.read_table(everything / "all.parquet")
    big = tmp_path / "big"
    big.mkdir()
    for copy in range(8):
        ids = pa.array([f"{copy}-{i}" for i in table.column("id").to_pylist()], pa.string())
        pq.write_table(table.set_column(0, "id", ids), big / f"{copy}.parquet")
    first = subprocess.Popen(
        _cli("dedup", "minhash", "--index", str(idx), *MODE, str(big), str(tmp_path / "o0")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_until_locked(idx / INDEX_LOCK)
    second = subprocess.run(
        _cli("dedup", "minhash", "--index", str(idx), *MODE, str(paths[0]), str(tmp_path / "o1")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    first.communicate(timeout=300)
    if first.returncode == 0 and second.returncode == 0:
        pytest.skip("the first run finished before the second started (a very fast machine)")
    assert (first.returncode, second.returncode) == (0, 75), second.stderr
    assert "try later" in second.stderr
    assert not (tmp_path / "o1").exists()
    assert json.loads(invoke("index", "stats", str(idx), "--json").stdout)["nights"] == 1


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_output_and_index(
    nights: tuple[list[Path], Path], tmp_path: Path
) -> None:
    paths, _ = nights
    reference = tmp_path / "ref"
    _run_nights(paths[:3], reference / "idx", reference)
    rng = random.Random(11)
    for trial in range(6):
        work = tmp_path / f"t{trial}"
        idx = work / "idx"
        _run_nights(paths[:2], idx, work)
        out = work / "out3"
        cmd = _cli("dedup", "minhash", "--index", str(idx), *MODE, "--workers", "2", str(paths[2]), str(out))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        for name in ("part-00000.parquet", "part-00001.parquet"):
            assert (out / name).read_bytes() == (reference / "out3" / name).read_bytes()
        assert _index_bytes(idx) == _index_bytes(reference / "idx")


def test_crash_between_publish_and_index_update_rolls_forward(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    """The state a kill leaves after OUT's manifest and before the index state: OUT published, the
    pending record written, the index as it was. The next open of the index applies the night."""
    paths, _ = nights
    idx = tmp_path / "idx"
    _run_nights(paths[:1], idx, tmp_path)
    saved = tmp_path / "saved"
    subprocess.run(["cp", "-a", str(idx), str(saved)], check=True)
    _run_nights(paths[:2], idx, tmp_path)  # night 1 again (a no-op), then night 2
    expected = _index_bytes(idx)
    state = json.loads((idx / "_index.json").read_text())
    pending = {"output": state["applied"][1]["output"], "generation": state["applied"][1]["generation"]}
    subprocess.run(["rm", "-rf", str(idx)], check=True)
    subprocess.run(["cp", "-a", str(saved), str(idx)], check=True)
    (idx / "_pending.json").write_text(json.dumps(pending))
    # Any run on the index recovers first: here a re-run of night 2 itself.
    again = invoke("-q", "dedup", "minhash", "--index", str(idx), *MODE, str(paths[1]), str(tmp_path / "out2"))
    assert again.exit_code == 0, again.stderr
    assert not (idx / "_pending.json").exists()
    assert _index_bytes(idx) == expected


def test_status_says_complete_interrupted_or_broken(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    paths, _ = nights
    idx = tmp_path / "idx"
    outs = _run_nights(paths[:1], idx, tmp_path)
    for target, state, code in ((idx, "complete", 0), (outs[0], "complete", 0), (tmp_path / "none", "missing", 2)):
        result = invoke("status", str(target), "--json")
        assert result.exit_code == code, result.stdout
        assert json.loads(result.stdout)["state"] == state
    (idx / "_pending.json").write_text(json.dumps({"output": str(tmp_path / "gone"), "generation": "x"}))
    result = invoke("status", str(idx), "--json")
    assert (result.exit_code, json.loads(result.stdout)["state"]) == (1, "interrupted")
    (idx / "_pending.json").unlink()
    next(iter((idx / "bands").iterdir())).unlink()
    result = invoke("status", str(idx))
    assert result.exit_code == 3 and "index files missing" in result.stdout
    # A killed run: a workspace, no manifest, no lock holder.
    proc = subprocess.Popen(_cli("dedup", "minhash", *MODE, str(paths[1]), str(tmp_path / "killed")))
    _wait_until_locked(lock_path(tmp_path / "killed"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = invoke("status", str(tmp_path / "killed"), "--json")
    if has_manifest(tmp_path / "killed"):
        assert result.exit_code == 0
    else:
        assert (result.exit_code, json.loads(result.stdout)["state"]) == (1, "interrupted")


def test_nightly_example_script_runs_nights_and_retries_are_no_ops(
    nights: tuple[list[Path], Path], tmp_path: Path
) -> None:
    paths, _ = nights
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    for night, path in enumerate(paths[:2], start=1):
        (crawl / f"2026-12-0{night}").symlink_to(path)
    script = Path(__file__).resolve().parents[1] / "examples" / "nightly.sh"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for night in ("2026-12-01", "2026-12-02", "2026-12-02"):
        args = [str(script), str(crawl), str(tmp_path / "dedup"), str(tmp_path / "idx"), night]
        result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["output"].endswith(night)
    assert json.loads(invoke("index", "stats", str(tmp_path / "idx"), "--json").stdout)["nights"] == 2


def test_full_disk_fails_cleanly_and_leaves_the_index_unchanged(
    nights: tuple[list[Path], Path], tmp_path: Path
) -> None:
    paths, everything = nights
    with small_tmpfs(tmp_path / "disk", "3m") as disk:
        idx = disk / "idx"
        first = invoke("-q", "dedup", "minhash", "--index", str(idx), *MODE, str(paths[0]), str(disk / "o1"))
        assert first.exit_code == 0, first.stderr
        before = _index_bytes(idx)
        # Every night (8 MB of text) does not fit in what is left.
        table = pq.read_table(everything / "all.parquet")
        big = tmp_path / "big"
        big.mkdir()
        for copy in range(3):
            ids = pa.array([f"{copy}-{i}" for i in table.column("id").to_pylist()], pa.string())
            pq.write_table(table.set_column(0, "id", ids), big / f"{copy}.parquet", compression="none")
        result = invoke("-q", "dedup", "minhash", "--index", str(idx), *MODE, str(big), str(disk / "o2"))
        assert result.exit_code == 1, result.stderr
        assert "No space left on device" in result.stderr
        assert not has_manifest(disk / "o2")
        assert not list((disk / "o2").glob("part-*.parquet"))
        assert _index_bytes(idx) == before
        assert not (idx / "_pending.json").exists()


# Every named boundary of a `dedup minhash --index` run, in the order a run reaches them (the
# CURATE_TEST_KILL_AT points of curate.faults): before the stage, after each phase, after OUT is
# published, after the first of the night's runs, after all of them, after the new index state.
MINHASH_KILL_POINTS = [
    "index:pending",
    "phase:signatures",
    "phase:index_probe",
    "phase:ids",
    "phase:candidates",
    "phase:components",
    "phase:gather",
    "phase:resolve",
    "phase:filter",
    "published",
    "index:run",
    "index:runs",
    "index:state",
]


@pytest.fixture(scope="module")
def two_nights_and_reference(
    nights: tuple[list[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """An index of nights 1-2 (to copy), and the reference: night 3 run uninterrupted on a copy."""
    paths, _ = nights
    root = tmp_path_factory.mktemp("kill-points")
    _run_nights(paths[:2], root / "base" / "idx", root / "base")
    subprocess.run(["cp", "-a", str(root / "base"), str(root / "ref")], check=True)
    cmd = _cli(
        "dedup", "minhash", "--index", str(root / "ref" / "idx"), *MODE, str(paths[2]), str(root / "ref" / "out3")
    )
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return root / "base", root / "ref"


def _out_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("part-*.parquet"))}


@pytest.mark.slow
@pytest.mark.parametrize("point", MINHASH_KILL_POINTS)
def test_sigkill_at_each_phase_boundary_then_rerun_gives_the_uninterrupted_output_and_index(
    nights: tuple[list[Path], Path], two_nights_and_reference: tuple[Path, Path], tmp_path: Path, point: str
) -> None:
    paths, _ = nights
    base, reference = two_nights_and_reference
    work = tmp_path / "work"
    subprocess.run(["cp", "-a", str(base), str(work)], check=True)
    out = work / "out3"
    cmd = _cli("dedup", "minhash", "--index", str(work / "idx"), *MODE, "--workers", "2", str(paths[2]), str(out))
    env = {**os.environ, "CURATE_TEST_KILL_AT": point}
    killed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert killed.returncode == -signal.SIGKILL, f"{point} not reached: {killed.returncode} {killed.stderr}"
    # Published before the kill exactly when the point comes after the manifest.
    assert has_manifest(out) == (MINHASH_KILL_POINTS.index(point) >= MINHASH_KILL_POINTS.index("published"))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert _out_bytes(out) == _out_bytes(reference / "out3")
    assert _index_bytes(work / "idx") == _index_bytes(reference / "idx")
    assert not (work / "idx" / "_pending.json").exists()


def test_full_disk_while_writing_the_index_fails_in_one_line_and_the_next_run_rolls_forward(
    nights: tuple[list[Path], Path], tmp_path: Path
) -> None:
    """The index on a small tmpfs, OUT elsewhere: the stage publishes OUT, then the index update runs
    out of space. One line, exit 1, the index exactly as it was but for the pending record; once there
    is space, the next run on the index applies the night: the index an uninterrupted run makes."""
    paths, everything = nights
    table = pq.read_table(everything / "all.parquet")
    big = tmp_path / "big"
    big.mkdir()
    for copy in range(3):
        ids = pa.array([f"{copy}-{i}" for i in table.column("id").to_pylist()], pa.string())
        pq.write_table(table.set_column(0, "id", ids), big / f"{copy}.parquet")
    reference = tmp_path / "ref"
    _run_nights(paths[:1], reference / "idx", reference)
    command = ("-q", "dedup", "minhash", *MODE, str(big))
    assert invoke(*command[:3], "--index", str(reference / "idx"), *command[3:], str(reference / "o2")).exit_code == 0
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        idx = disk / "idx"
        _run_nights(paths[:1], idx, tmp_path)
        before = _index_bytes(idx)
        cmd = _cli(*command[1:3], "--index", str(idx), *command[3:], str(tmp_path / "o2"))
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0] and str(idx) in lines[0], lines
        assert has_manifest(tmp_path / "o2")  # OUT was published; the index update is what failed
        after = _index_bytes(idx)
        assert json.loads(after.pop("_pending.json"))["output"] == str((tmp_path / "o2").resolve())
        assert after == before
        assert not [p for p in idx.rglob("*") if p.name.endswith(".tmp")]
        # Space again: the next run on the index (here the same command) rolls the update forward.
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert again.returncode == 0, again.stderr
        assert _index_bytes(idx) == _index_bytes(reference / "idx")
        assert not (idx / "_pending.json").exists()


# `--index` inside `curate run`: the dedup stage with its index in a pipeline. Stage lists with the
# indexed stage followed by map stages in its fused pass, alone before another barrier, and last.
PIPELINES = {
    "then-filters": [("filter gopher-quality", {}), ("dedup minhash", "index"), ("filter pii", {})],
    "then-a-barrier": [("dedup exact", "index"), ("dedup minhash", {})],
    "last": [("filter gopher-quality", {}), ("dedup exact", "index")],
}


def _chain_args(path: str, options: dict[str, str]) -> list[str]:
    args = path.split()
    for key, value in options.items():
        args += [f"--{key}", value]
    return args


def _pipeline_nights(name: str, paths: list[Path], idx: Path, root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    outs = []
    for night, path in enumerate(paths, start=1):
        stages = []
        for stage, options in PIPELINES[name]:
            if options == "index":
                options = {"index": str(idx), "keep": "min:night"}
                if stage == "dedup minhash":
                    options["survivors"] = "keep-rule"
            stages.append({stage: options})
        spec = root / f"p{night}.yaml"
        spec.write_text(json.dumps({"input": str(path), "output": str(root / f"out{night}"), "stages": stages}))
        result = invoke("-q", "run", str(spec))
        assert result.exit_code == 0, result.stderr
        outs.append(root / f"out{night}")
    return outs


def _chain_nights(name: str, paths: list[Path], idx: Path, root: Path) -> list[Path]:
    outs = []
    for night, path in enumerate(paths, start=1):
        source = path
        for position, (stage, options) in enumerate(PIPELINES[name], start=1):
            if options == "index":
                options = {"index": str(idx), "keep": "min:night"}
                if stage == "dedup minhash":
                    options["survivors"] = "keep-rule"
            target = root / f"n{night}-{position}"
            result = invoke("-q", *_chain_args(stage, options), str(source), str(target))
            assert result.exit_code == 0, result.stderr
            source = target
        outs.append(source)
    return outs


def _comparable_index(index: Path) -> dict[str, bytes]:
    """``_index_bytes`` without the applied outputs' manifest fingerprints (a pipeline's manifest is
    not a command's)."""
    found = _index_bytes(index)
    state = json.loads(found["_index.json"])
    for applied in state["applied"]:
        applied.pop("manifest")
    found["_index.json"] = json.dumps(state, sort_keys=True).encode()
    return found


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_index_inside_curate_run_gives_the_shell_chain_output_and_index(
    nights: tuple[list[Path], Path], tmp_path: Path, name: str
) -> None:
    paths, _ = nights
    piped = _pipeline_nights(name, paths[:3], tmp_path / "pidx", tmp_path / "pipeline")
    chained = _chain_nights(name, paths[:3], tmp_path / "cidx", tmp_path / "chain")
    for pipeline_out, chain_out in zip(piped, chained, strict=True):
        parts = sorted(p.name for p in chain_out.glob("part-*.parquet"))
        assert sorted(p.name for p in pipeline_out.glob("part-*.parquet")) == parts
        for part in parts:
            assert (pipeline_out / part).read_bytes() == (chain_out / part).read_bytes()
    assert _comparable_index(tmp_path / "pidx") == _comparable_index(tmp_path / "cidx")
    # The pipeline's dedup stage did remove copies of earlier nights' survivors.
    of_index = 0
    for out in piped[1:]:
        for stage in manifest_json(out)["stages"]:  # type: ignore[attr-defined]
            of_index += sum(v for k, v in stage["counters"].items() if k.endswith("_of_index"))
    assert of_index >= 2
    stats = json.loads(invoke("index", "stats", str(tmp_path / "pidx"), "--json").stdout)
    assert stats["nights"] == 3 and not stats["pending_update"]
    # A re-run of a published night is a no-op for the index, as for a command.
    before = _index_bytes(tmp_path / "pidx")
    assert invoke("-q", "run", str(tmp_path / "pipeline" / "p2.yaml")).exit_code == 0
    assert _index_bytes(tmp_path / "pidx") == before


PIPELINE_KILL_POINTS = [
    "index:pending",
    "phase:02-dedup_minhash.index_probe",
    "phase:02-dedup_minhash.resolve",
    "published",
    "index:run",
    "index:state",
]


@pytest.mark.slow
@pytest.mark.parametrize("point", PIPELINE_KILL_POINTS)
def test_sigkill_inside_an_indexed_pipeline_then_rerun_gives_the_uninterrupted_output_and_index(
    nights: tuple[list[Path], Path], tmp_path: Path, point: str
) -> None:
    paths, _ = nights
    reference = _pipeline_nights("then-filters", paths[:2], tmp_path / "ref-idx", tmp_path / "ref")
    _pipeline_nights("then-filters", paths[:1], tmp_path / "idx", tmp_path / "work")
    spec = tmp_path / "ref" / "p2.yaml"
    night2 = json.loads(spec.read_text())
    night2["output"] = str(tmp_path / "work" / "out2")
    night2["stages"][1]["dedup minhash"]["index"] = str(tmp_path / "idx")
    (tmp_path / "work" / "p2.yaml").write_text(json.dumps(night2))
    cmd = _cli("run", str(tmp_path / "work" / "p2.yaml"))
    env = {**os.environ, "CURATE_TEST_KILL_AT": point}
    killed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert killed.returncode == -signal.SIGKILL, f"{point} not reached: {killed.returncode} {killed.stderr}"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert _out_bytes(tmp_path / "work" / "out2") == _out_bytes(reference[1])
    assert _index_bytes(tmp_path / "idx") == _index_bytes(tmp_path / "ref-idx")


def test_two_indexed_stages_in_one_pipeline_are_refused(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    paths, _ = nights
    stages = [{"dedup exact": {"index": str(tmp_path / "a")}}, {"dedup minhash": {"index": str(tmp_path / "b")}}]
    spec = tmp_path / "p.yaml"
    spec.write_text(json.dumps({"input": str(paths[0]), "output": str(tmp_path / "out"), "stages": stages}))
    result = invoke("-q", "run", str(spec))
    assert result.exit_code == 2 and "one stage with --index per pipeline" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_compaction_in_key_ranges_gives_the_rows_of_one_piece(nights: tuple[list[Path], Path], tmp_path: Path) -> None:
    """`index compact` merges a range of keys (and of buckets) of every run at a time, so that memory
    is one range, not the whole index: many ranges give the same merged runs, row for row, as one,
    tombstones applied."""
    from curate.dedup.index.store import Index, run_name

    paths, _ = nights
    idx = tmp_path / "idx"
    _run_nights(paths, idx, tmp_path)
    some_id = read_dir(tmp_path / "out1").column("id")[0].as_py()
    (tmp_path / "ids.txt").write_text(f"{some_id}\n")
    assert invoke("index", "remove", str(idx), "--ids", str(tmp_path / "ids.txt")).exit_code == 0
    merged = {}
    for pieces in ("one", "many"):
        copy = tmp_path / f"idx-{pieces}"
        subprocess.run(["cp", "-a", str(idx), str(copy)], check=True)
        index = Index(copy)
        state = index.state()
        assert state is not None and len(state.runs) > 1
        size = sum((copy / run_name(k, r)).stat().st_size for r in state.runs for k in ("docs", "bands"))
        new = index.compact(state, piece_bytes=size + 1 if pieces == "one" else max(1, size // 9))
        (run,) = new.runs
        merged[pieces] = [pq.read_table(copy / run_name(kind, run)) for kind in ("docs", "bands")]
    for one, many in zip(merged["one"], merged["many"], strict=True):
        assert one.num_rows > 0 and one.equals(many)
    keys = merged["many"][0].column("key").to_numpy()
    assert (keys[1:] >= keys[:-1]).all()
    assert some_id not in merged["many"][0].column("id").to_pylist()
