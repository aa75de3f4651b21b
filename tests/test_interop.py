"""What the readers people use get from a curate output, with the real libraries.

Each reader form is run on a real ``curate dedup exact`` output whose kept and rejected ids
are known by hand. The forms that return exactly the kept rows today must keep doing so; the
forms that do not (they also read the rejects, or fail on the lock or the manifest) are
``xfail(strict=True)``: the day the layout of docs/output-layout.md lands they pass, and the
strict marker makes that a failure to be noticed and removed.

The second half pins what each reader skips on its own (hidden ``.`` names, ``_`` names,
``__`` names, files of another extension), the facts the layout is designed from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import invoke, write_shard

KEPT = ["a", "b", "e"]
REJECTED = ["c", "d"]


@pytest.fixture(autouse=True)
def _offline_hf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.fixture
def curate_output(tmp_path: Path) -> Path:
    """Rows a..e; c repeats a's text, d repeats b's: exact dedup keeps a, b, e."""
    write_shard(tmp_path / "in" / "p0.parquet", [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}])
    write_shard(
        tmp_path / "in" / "p1.parquet",
        [{"id": "c", "text": "one"}, {"id": "d", "text": "two"}, {"id": "e", "text": "three"}],
    )
    out = tmp_path / "out"
    result = invoke("-q", "dedup", "exact", str(tmp_path / "in"), str(out), "--keep-work")
    assert result.exit_code == 0, result.output
    assert (out / "_rejects").is_dir() and (out / "_work").is_dir()  # what the readers must not take
    return out


def _hf_dir(out: Path) -> list[str]:
    datasets = pytest.importorskip("datasets")
    return list(
        datasets.load_dataset("parquet", data_dir=str(out), split="train", cache_dir=str(out.parent / "c"))["id"]
    )


def _hf_files(out: Path) -> list[str]:
    datasets = pytest.importorskip("datasets")
    files = str(out / "*.parquet")
    return list(
        datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(out.parent / "c"))["id"]
    )


def _polars(source: str) -> list[str]:
    import polars as pl

    return list(pl.scan_parquet(source).select("id").collect()["id"])


def _duckdb(pattern: str) -> list[str]:
    duckdb = pytest.importorskip("duckdb")
    return [row[0] for row in duckdb.sql(f"SELECT id FROM read_parquet('{pattern}')").fetchall()]


def _pyarrow(out: Path) -> list[str]:
    import pyarrow.dataset as ds

    return list(ds.dataset(str(out), format="parquet").to_table(columns=["id"])["id"].to_pylist())


LAYOUT_GAP = "curate's lock, manifest, _rejects and _work sit inside OUT (docs/output-layout.md)"

READERS: list[tuple[str, Callable[[Path], list[str]], bool]] = [
    ("pyarrow.dataset(OUT)", _pyarrow, True),
    ("polars scan_parquet(OUT/*.parquet)", lambda out: _polars(str(out / "*.parquet")), True),
    ("duckdb read_parquet('OUT/*.parquet')", lambda out: _duckdb(str(out / "*.parquet")), True),
    ("datasets data_files=OUT/*.parquet", _hf_files, True),
    ("datasets data_dir=OUT", _hf_dir, False),
    ("polars scan_parquet(OUT)", lambda out: _polars(str(out)), False),
    ("polars scan_parquet(OUT/**/*.parquet)", lambda out: _polars(str(out / "**" / "*.parquet")), False),
    ("duckdb read_parquet('OUT/**/*.parquet')", lambda out: _duckdb(str(out / "**" / "*.parquet")), False),
]


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(fn, id=name, marks=[] if works else [pytest.mark.xfail(strict=True, reason=LAYOUT_GAP)])
        for name, fn, works in READERS
    ],
)
def test_a_reader_gets_exactly_the_kept_rows(curate_output: Path, read: Callable[[Path], list[str]]) -> None:
    assert sorted(read(curate_output)) == KEPT


def test_hf_reads_text_as_large_string_and_the_documented_cast_concatenates(curate_output: Path) -> None:
    """``text`` stays large_string (docs/output-layout.md): HF sees ``large_string``, and
    concatenating with an ordinary string dataset needs the one cast the docs give."""
    datasets = pytest.importorskip("datasets")
    ours = datasets.load_dataset(
        "parquet", data_files=str(curate_output / "*.parquet"), split="train", cache_dir=str(curate_output.parent / "c")
    )
    assert ours.features["text"] == datasets.Value("large_string")
    plain = datasets.Dataset.from_dict({"id": ["z"], "text": ["plain"]})
    assert plain.features["text"] == datasets.Value("string")
    with pytest.raises(ValueError, match="features can't be aligned"):
        datasets.concatenate_datasets([ours.select_columns(["id", "text"]), plain])
    cast = ours.select_columns(["id", "text"]).cast_column("text", datasets.Value("string"))
    both = datasets.concatenate_datasets([cast, plain])
    assert sorted(both["id"]) == [*KEPT, "z"]


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


def _outcome(read: Callable[[], list[str]]) -> str:
    try:
        return "kept only" if sorted(read()) == ["kept"] else "reads it"
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
