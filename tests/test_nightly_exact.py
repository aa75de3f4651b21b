"""Nightly incremental exact dedup against a persistent index (``dedup exact --index``), on real Common
Crawl documents split into nights, with exact copies, whitespace variants (equal after ``basic``
normalisation) and URL variants (equal after URL normalisation) planted within and across nights.

Two references: one run over every night with ``--keep min:night`` (earlier nights' survivors rank
first), and, for ``--on text``, a brute-force model written here (group by the normalised text, the
earliest night then the smallest id survives)."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.dedup.index.store import LOCK_NAME as INDEX_LOCK
from tests.conftest import invoke, manifest_json, read_dir
from tests.test_nightly_index import _run_nights as run_nights
from tests.test_nightly_index import rejects_of

NIGHTS = 4
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string()), ("night", pa.int64())])
KEEP = ["--keep", "min:night"]


def _cc_docs(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [{"id": r["id"], "text": r["text"], "url": r["metadata"]["warc_url"]} for r in rows]


def _url_variant(rng: random.Random, url: str) -> str:
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    choice = rng.randrange(3)
    if choice == 0:
        return f"{'https' if scheme == 'http' else 'http'}://{host}{slash}{path}"
    if choice == 1:
        return f"{scheme}://{host.upper()}{slash}{path}#top"
    return f"{scheme}://{host}/{path}/" if not path.endswith("/") else url


def _nights(shared_data: Path, seed: int = 7) -> list[list[dict[str, object]]]:
    rng = random.Random(seed)
    nights: list[list[dict[str, object]]] = [[] for _ in range(NIGHTS)]
    for doc in _cc_docs(shared_data):
        nights[rng.randrange(NIGHTS)].append(dict(doc))
    for night in range(NIGHTS):
        for j in range(30):
            source = rng.choice(nights[rng.randrange(night + 1)])
            text = str(source["text"])
            kind = j % 3
            if kind == 1:
                text = text.replace("\n", " \r\n") + "  "  # equal to the source after basic normalisation
            elif kind == 2:
                text = text + " (copy)"  # another text, the same page
            url = _url_variant(rng, str(source["url"]))
            nights[night].append({"id": f"copy-{night}-{j:03d}-of-{source['id']}", "text": text, "url": url})
    for night, rows in enumerate(nights, start=1):
        for row in rows:
            row["night"] = night
        rng.shuffle(rows)
    return nights


@pytest.fixture(scope="module")
def exact_nights(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, list[dict]]:
    root = tmp_path_factory.mktemp("exact-nights")
    parts = _nights(shared_data)
    paths = []
    for night, rows in enumerate(parts, start=1):
        path = root / f"night{night}"
        path.mkdir()
        half = len(rows) // 2
        pq.write_table(pa.Table.from_pylist(rows[:half], schema=SCHEMA), path / "a.parquet")
        pq.write_table(pa.Table.from_pylist(rows[half:], schema=SCHEMA), path / "b.parquet")
        paths.append(path)
    everything = root / "all"
    everything.mkdir()
    rows = [r for p in parts for r in p]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), everything / "all.parquet")
    return paths, everything, rows


def _run_nights(paths: list[Path], index: Path, out_root: Path, *extra: str) -> list[Path]:
    return run_nights(paths, index, out_root, *extra, dedup=("exact", *KEEP))


def _dup_of(outs: list[Path]) -> dict[str, str]:
    return {r["id"]: r["dup_of"] for out in outs for r in rejects_of(out).to_pylist()}


def _basic(text: str) -> str:
    """``--normalize basic`` written independently: NFC, CR LF / CR -> LF, trailing whitespace of every
    line and whitespace at both ends dropped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


@pytest.mark.parametrize("on", ["text", "url"])
def test_incremental_exact_nights_keep_what_one_run_over_all_nights_keeps(
    exact_nights: tuple[list[Path], Path, list[dict]], tmp_path: Path, on: str
) -> None:
    paths, everything, rows = exact_nights
    outs = _run_nights(paths, tmp_path / "idx", tmp_path, "--on", on)
    full = invoke("-q", "dedup", "exact", *KEEP, "--on", on, str(everything), str(tmp_path / "full"))
    assert full.exit_code == 0, full.stderr
    kept = [r["id"] for out in outs for r in read_dir(out).select(["id"]).to_pylist()]
    assert len(kept) == len(set(kept))
    assert set(kept) == set(read_dir(tmp_path / "full").column("id").to_pylist())
    # Every removed row names the same survivor as the single run: for a copy of an earlier night,
    # that night's survivor (the index's), found by the probe.
    incremental = _dup_of(outs)
    assert incremental == _dup_of([tmp_path / "full"])
    night_of = {str(r["id"]): int(str(r["night"])) for r in rows}
    reason = f"exact:duplicate_{on}_of_index"
    of_index = [r for out in outs for r in rejects_of(out).to_pylist() if r["_reason"] == reason]
    assert len(of_index) >= 20
    for row in of_index:
        assert night_of[row["dup_of"]] < row["night"]
    for out in outs:
        manifest = manifest_json(out)
        counters = manifest["counters"]
        assert isinstance(counters, dict)
        assert counters[f"removed:{reason}"] == sum(r["_reason"] == reason for r in rejects_of(out).to_pylist())
        assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_removed"]  # type: ignore[operator]
    if on == "text":
        # The brute-force model: per normalised text, the earliest night then the smallest id survives.
        best: dict[str, tuple[int, str]] = {}
        for row in rows:
            key = _basic(str(row["text"]))
            best[key] = min(best.get(key, (99, "~")), (int(str(row["night"])), str(row["id"])))
        assert set(kept) == {doc_id for _, doc_id in best.values()}
        for doc_id, survivor in incremental.items():
            text = next(str(r["text"]) for r in rows if r["id"] == doc_id)
            assert best[_basic(text)][1] == survivor
    stats = json.loads(invoke("index", "stats", str(tmp_path / "idx"), "--json").stdout)
    assert (stats["documents"], stats["nights"]) == (len(kept), NIGHTS)


def test_exact_index_refuses_another_column_or_normalisation(
    exact_nights: tuple[list[Path], Path, list[dict]], tmp_path: Path
) -> None:
    paths, _, _ = exact_nights
    idx = tmp_path / "idx"
    _run_nights(paths[:1], idx, tmp_path)
    before = {p.name: p.read_bytes() for p in idx.rglob("*") if p.is_file()}
    for extra, named in ((["--on", "url"], "on"), (["--normalize", "aggressive"], "normalize")):
        result = invoke("-q", "dedup", "exact", "--index", str(idx), *extra, str(paths[1]), str(tmp_path / "o"))
        assert result.exit_code == 2, result.stderr
        assert "another configuration" in result.stderr and named in result.stderr
        assert not (tmp_path / "o").exists()
    # Nor can a MinHash run probe an exact index.
    result = invoke("-q", "dedup", "minhash", "--index", str(idx), str(paths[1]), str(tmp_path / "o"))
    assert result.exit_code == 2 and "stage" in result.stderr
    assert {p.name: p.read_bytes() for p in idx.rglob("*") if p.is_file()} == before


def test_exact_index_remove_and_compact(tmp_path: Path) -> None:
    rows = [{"id": f"d{i}", "text": f"document number {i}", "url": None, "night": 1} for i in range(10)]
    nights = [
        rows,
        [
            *({"id": f"c{i}", "text": f"document number {i}\n", "url": None, "night": 2} for i in range(3)),
            # Two copies of one survivor in one night: both go as its duplicates, not one of the other.
            {"id": "c1b", "text": "document number 1", "url": None, "night": 2},
        ],
        [{"id": "e0", "text": "document number 0", "url": None, "night": 3}],
    ]
    paths = []
    for night, night_rows in enumerate(nights, start=1):
        path = tmp_path / f"n{night}"
        path.mkdir()
        pq.write_table(pa.Table.from_pylist(night_rows, schema=SCHEMA), path / "a.parquet")
        paths.append(path)
    idx = tmp_path / "idx"
    _run_nights(paths[:1], idx, tmp_path)
    (tmp_path / "ids.txt").write_text("d0\nd2\n")
    assert json.loads(invoke("index", "remove", str(idx), "--ids", str(tmp_path / "ids.txt"), "--json").stdout) == {
        "index": str(idx),
        "ids": 2,
        "newly_removed": 2,
    }
    compacted = tmp_path / "idx-compacted"
    subprocess.run(["cp", "-a", str(idx), str(compacted)], check=True)
    assert invoke("index", "compact", str(compacted)).exit_code == 0
    assert json.loads(invoke("index", "stats", str(compacted), "--json").stdout)["documents"] == 8
    for name, index in (("o2", idx), ("o2c", compacted)):
        out = tmp_path / name
        result = invoke("-q", "dedup", "exact", "--index", str(index), *KEEP, str(paths[1]), str(out))
        assert result.exit_code == 0, result.stderr
        assert set(read_dir(out).column("id").to_pylist()) == {"c0", "c2"}
        assert {r["id"]: r["dup_of"] for r in rejects_of(out).to_pylist()} == {"c1": "d1", "c1b": "d1"}
        counters = manifest_json(out)["counters"]
        assert isinstance(counters, dict)
        # The copies of the index left the night's own dedup: no cluster among tonight's documents.
        assert (counters["removed:exact:duplicate_text_of_index"], counters["clusters"]) == (2, 0)
    # c0, kept on night 2, is indexed now: night 3's copy goes as its duplicate.
    out = tmp_path / "o3"
    assert invoke("-q", "dedup", "exact", "--index", str(idx), *KEEP, str(paths[2]), str(out)).exit_code == 0
    assert [(r["id"], r["dup_of"]) for r in rejects_of(out).to_pylist()] == [("e0", "c0")]


EXACT_KILL_POINTS = [
    "index:pending",
    "phase:hashes",
    "phase:index_probe",
    "phase:ids",
    "phase:resolve",
    "phase:filter",
    "published",
    "index:run",
    "index:runs",
    "index:state",
]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curate", "-q", *args]


def _tree_bytes(index: Path) -> dict[str, bytes]:
    """Every file of an index but its lock, the state without the (path-dependent) output names."""
    found = {str(p.relative_to(index)): p.read_bytes() for p in sorted(index.rglob("*")) if p.is_file()}
    found.pop(INDEX_LOCK, None)
    state = json.loads(found.pop("_index.json"))
    for applied in state["applied"]:
        applied.pop("output")
    found["_index.json"] = json.dumps(state, sort_keys=True).encode()
    return found


@pytest.fixture(scope="module")
def exact_reference(
    exact_nights: tuple[list[Path], Path, list[dict]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """An index of nights 1-2 (to copy), and night 3 run uninterrupted on a copy of it."""
    paths, _, _ = exact_nights
    root = tmp_path_factory.mktemp("exact-kill")
    _run_nights(paths[:2], root / "base" / "idx", root / "base")
    subprocess.run(["cp", "-a", str(root / "base"), str(root / "ref")], check=True)
    cmd = _cli("dedup", "exact", "--index", str(root / "ref" / "idx"), *KEEP, str(paths[2]), str(root / "ref" / "out3"))
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return root / "base", root / "ref"


@pytest.mark.slow
@pytest.mark.parametrize("point", EXACT_KILL_POINTS)
def test_exact_sigkill_at_each_phase_boundary_then_rerun_gives_the_uninterrupted_output_and_index(
    exact_nights: tuple[list[Path], Path, list[dict]], exact_reference: tuple[Path, Path], tmp_path: Path, point: str
) -> None:
    paths, _, _ = exact_nights
    base, reference = exact_reference
    work = tmp_path / "work"
    subprocess.run(["cp", "-a", str(base), str(work)], check=True)
    out = work / "out3"
    cmd = _cli("dedup", "exact", "--index", str(work / "idx"), *KEEP, "--workers", "2", str(paths[2]), str(out))
    killed = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "CURATE_TEST_KILL_AT": point}
    )
    assert killed.returncode == -signal.SIGKILL, f"{point} not reached: {killed.returncode} {killed.stderr}"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    for part in sorted((reference / "out3").glob("part-*.parquet")):
        assert (out / part.name).read_bytes() == part.read_bytes()
    assert _tree_bytes(work / "idx") == _tree_bytes(reference / "idx")
