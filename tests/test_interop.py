"""What the readers people use get from a curate output, with the real libraries.

Each reader form of issue 11 is run on real curate outputs whose kept and rejected ids are
known by hand: a ``curate dedup exact`` output and a ``curate run`` output (whose rejects are
per stage), each plain and with ``--keep-work``. OUT holds the kept shards and nothing else
(docs/output-layout.md: the rest is in ``OUT.curate``), so every form returns exactly the kept
rows, with the columns the manifest documents.

The second half pins what each reader skips on its own (hidden ``.`` names, ``_`` names,
``__`` names, files of another extension), the facts the layout is designed from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io import layout
from tests.conftest import invoke, write_shard

# p0: a, b, f; p1: c (a's text), d (b's text), e. f holds a curly bracket, which C4 drops.
DEDUP_KEPT = ["a", "b", "e", "f"]
RUN_KEPT = ["a", "b", "e"]
PIPELINE = "stages:\n  - dedup exact: {}\n  - filter c4: {remove-lines: false, min-sentences: 0}\n"


@pytest.fixture(autouse=True)
def _offline_hf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def _input(tmp_path: Path) -> Path:
    write_shard(
        tmp_path / "in" / "p0.parquet",
        [{"id": "a", "text": "one."}, {"id": "b", "text": "two."}, {"id": "f", "text": "a { brace."}],
    )
    write_shard(
        tmp_path / "in" / "p1.parquet",
        [{"id": "c", "text": "one."}, {"id": "d", "text": "two."}, {"id": "e", "text": "three."}],
    )
    return tmp_path / "in"


OUTPUTS = ["dedup exact", "dedup exact --keep-work", "run", "run --keep-work"]


@pytest.fixture(params=OUTPUTS)
def curate_output(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[str]]:
    """A finished output and its kept ids; its rejects and (with --keep-work) work files are
    there, beside OUT, for the readers not to take."""
    source, out = _input(tmp_path), tmp_path / "out"
    keep_work = ["--keep-work"] if request.param.endswith("--keep-work") else []
    if request.param.startswith("run"):
        recipe = tmp_path / "p.yaml"
        recipe.write_text(PIPELINE, encoding="utf-8")
        args = ["run", str(recipe), "--input", str(source), "--output", str(out)]
        kept, rejects = RUN_KEPT, ["01-dedup_exact", "02-filter_c4"]
    else:
        args = ["dedup", "exact", str(source), str(out)]
        kept, rejects = DEDUP_KEPT, []
    result = invoke("-q", *args, *keep_work)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert list(layout.rejects_dir(out).rglob("part-*.parquet"))  # what the readers must not take
    assert sorted(p.name for p in layout.rejects_dir(out).iterdir() if p.is_dir()) == rejects
    assert layout.work_dir(out).is_dir() == bool(keep_work)
    return out, kept


def _documented(out: Path) -> list[str]:
    """The columns the manifest says OUT holds."""
    manifest = json.loads(layout.manifest_path(out).read_text())
    return [field["name"] for field in manifest["schema"]]


def _hf_load(out: Path, **where: str) -> tuple[list[str], list[str]]:
    """``datasets.load_dataset("parquet", ...)`` in a fresh interpreter: by this point the test
    process holds torch, onnxruntime, faiss and a Ray driver, and one full run of the suite
    aborted (SIGABRT) inside this call; a user's reader runs in a process of its own anyway."""
    pytest.importorskip("datasets")
    script = (
        "import json, sys, datasets\n"
        "where = json.loads(sys.argv[1])\n"
        "found = datasets.load_dataset('parquet', split='train', cache_dir=sys.argv[2], **where)\n"
        "print(json.dumps([list(found['id']), list(found.column_names)]))\n"
    )
    command = [sys.executable, "-c", script, json.dumps(where), str(out.parent / "c")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids, columns = json.loads(done.stdout.strip().splitlines()[-1])
    return ids, columns


def _hf_dir(out: Path) -> tuple[list[str], list[str]]:
    return _hf_load(out, data_dir=str(out))


def _hf_files(out: Path) -> tuple[list[str], list[str]]:
    return _hf_load(out, data_files=str(out / "*.parquet"))


def _polars(source: str) -> tuple[list[str], list[str]]:
    import polars as pl

    frame = pl.scan_parquet(source).collect()
    return list(frame["id"]), list(frame.columns)


def _duckdb(pattern: str) -> tuple[list[str], list[str]]:
    duckdb = pytest.importorskip("duckdb")
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{pattern}')")
    position = relation.columns.index("id")
    return [row[position] for row in relation.fetchall()], list(relation.columns)


def _pyarrow(out: Path) -> tuple[list[str], list[str]]:
    import pyarrow.dataset as ds

    table = ds.dataset(str(out), format="parquet").to_table()
    if "text" in table.column_names:  # docs/output-layout.md: text stays large_string
        assert table.schema.field("text").type == pa.large_string()
    return table["id"].to_pylist(), table.column_names


READERS: list[tuple[str, Callable[[Path], tuple[list[str], list[str]]]]] = [
    ("pyarrow.dataset(OUT)", _pyarrow),
    ("polars scan_parquet(OUT/*.parquet)", lambda out: _polars(str(out / "*.parquet"))),
    ("duckdb read_parquet('OUT/*.parquet')", lambda out: _duckdb(str(out / "*.parquet"))),
    ("datasets data_files=OUT/*.parquet", _hf_files),
    ("datasets data_dir=OUT", _hf_dir),
    ("polars scan_parquet(OUT)", lambda out: _polars(str(out))),
    ("polars scan_parquet(OUT/**/*.parquet)", lambda out: _polars(str(out / "**" / "*.parquet"))),
    ("duckdb read_parquet('OUT/**/*.parquet')", lambda out: _duckdb(str(out / "**" / "*.parquet"))),
]


@pytest.mark.parametrize("read", [pytest.param(fn, id=name) for name, fn in READERS])
def test_a_reader_gets_exactly_the_kept_rows(
    curate_output: tuple[Path, list[str]], read: Callable[[Path], tuple[list[str], list[str]]]
) -> None:
    out, kept = curate_output
    ids, columns = read(out)
    assert sorted(ids) == kept
    assert columns == _documented(out)


@pytest.fixture
def exact_output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = invoke("-q", "dedup", "exact", str(_input(tmp_path)), str(out))
    assert result.exit_code == 0, result.output
    return out


def test_hf_reads_text_as_large_string_and_the_documented_cast_concatenates(exact_output: Path) -> None:
    """``text`` stays large_string (docs/output-layout.md): HF sees ``large_string``, and
    concatenating with an ordinary string dataset needs the one cast the docs give."""
    datasets = pytest.importorskip("datasets")
    ours = datasets.load_dataset(
        "parquet", data_files=str(exact_output / "*.parquet"), split="train", cache_dir=str(exact_output.parent / "c")
    )
    assert ours.features["text"] == datasets.Value("large_string")
    plain = datasets.Dataset.from_dict({"id": ["z"], "text": ["plain"]})
    assert plain.features["text"] == datasets.Value("string")
    with pytest.raises(ValueError, match="features can't be aligned"):
        datasets.concatenate_datasets([ours.select_columns(["id", "text"]), plain])
    cast = ours.select_columns(["id", "text"]).cast_column("text", datasets.Value("string"))
    both = datasets.concatenate_datasets([cast, plain])
    assert sorted(both["id"]) == [*DEDUP_KEPT, "z"]


# What each reader skips by itself, on a directory holding one kept shard and one extra file.
def _layout(root: Path, extra: str) -> Path:
    root.mkdir()
    pq.write_table(pa.table({"id": ["kept"]}), root / "part-00000.parquet")
    path = root / extra
    path.parent.mkdir(parents=True, exist_ok=True)
    if extra.endswith(".parquet"):
        pq.write_table(pa.table({"id": ["extra"]}), path)
    else:
        path.write_text("{}\n")  # not empty: polars skips empty files
    return root


def _outcome(read: Callable[[], tuple[list[str], list[str]]]) -> str:
    try:
        return "kept only" if sorted(read()[0]) == ["kept"] else "reads it"
    except Exception:
        return "fails"


SKIP_RULES = [
    # extra file, pyarrow.dataset(dir), HF data_dir, polars dir, polars **, duckdb **
    ("_rejects/part-0.parquet", "kept only", "reads it", "reads it", "reads it", "reads it"),
    (".rejects/part-0.parquet", "kept only", "kept only", "reads it", "reads it", "reads it"),
    ("__rejects/part-0.parquet", "kept only", "kept only", "reads it", "reads it", "reads it"),
    ("_manifest.json", "kept only", "fails", "fails", "kept only", "kept only"),
    (".curate/manifest.json", "kept only", "kept only", "fails", "kept only", "kept only"),
]


@pytest.mark.parametrize(("extra", *(f"r{i}" for i in range(5))), SKIP_RULES, ids=[r[0] for r in SKIP_RULES])
def test_what_each_reader_skips_by_itself(
    tmp_path: Path, extra: str, r0: str, r1: str, r2: str, r3: str, r4: str
) -> None:
    root = _layout(tmp_path / "d", extra)
    observed = (
        _outcome(lambda: _pyarrow(root)),
        _outcome(lambda: _hf_dir(root)),
        _outcome(lambda: _polars(str(root))),
        _outcome(lambda: _polars(str(root / "**" / "*.parquet"))),
        _outcome(lambda: _duckdb(str(root / "**" / "*.parquet"))),
    )
    assert observed == (r0, r1, r2, r3, r4)
