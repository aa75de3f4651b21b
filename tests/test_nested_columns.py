"""Column paths into structs (``metadata.url``) for the options that read a column: --on,
--url-column, --id-column; on hand-made shards and on dolma's Common Crawl JSONL, which keeps
the URL in ``metadata.url``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa

from curate.io.layout import rejects_dir
from tests.conftest import invoke, read_dir, write_shard

ROWS = [
    {"text": "one", "metadata": {"url": "http://a.example/1", "key": "k1"}},
    {"text": "two", "metadata": {"url": "http://a.example/1", "key": "k2"}},  # url of k1
    {"text": "three", "metadata": {"url": "http://spam.example/x", "key": "k3"}},
    {"text": "four", "metadata": None, "metadata.url": "top-level wins"},  # a dotted top-level name
]
SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("metadata", pa.struct([("url", pa.string()), ("key", pa.string())])),
        ("metadata.url", pa.string()),
    ]
)


def _input(tmp_path: Path, rows: list[dict[str, object]] | None = None) -> Path:
    rows = rows if rows is not None else [{**r, "metadata.url": r.get("metadata.url")} for r in ROWS]
    write_shard(tmp_path / "in" / "p.parquet", rows, SCHEMA)
    return tmp_path / "in"


def test_dedup_exact_on_a_struct_field(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "p.parquet", [{k: v for k, v in r.items() if k != "metadata.url"} for r in ROWS])
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--on", "metadata.key")
    assert result.exit_code == 0, result.output
    assert read_dir(tmp_path / "out").num_rows == 4  # every key differs (a null struct is a null key)
    again = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "o2"), "--on", "metadata.url")
    assert again.exit_code == 0, again.output
    rejected = read_dir(rejects_dir(tmp_path / "o2"), "*.parquet")
    assert rejected.column("text").to_pylist() == ["two"]
    assert rejected.column("_reason").to_pylist() == ["exact:duplicate_metadata.url"]
    kept = read_dir(tmp_path / "o2")
    assert kept.column("text").to_pylist() == ["one", "three", "four"]
    assert kept.schema.field("metadata").type == SCHEMA.field("metadata").type  # passed through untouched


def test_a_dotted_top_level_column_wins_over_a_struct_field(tmp_path: Path) -> None:
    rows = [{**r, "metadata.url": "same"} for r in ROWS]
    result = invoke("dedup", "exact", str(_input(tmp_path, rows)), str(tmp_path / "out"), "--on", "metadata.url")
    assert result.exit_code == 0, result.output
    assert read_dir(tmp_path / "out").num_rows == 1  # the top-level column is "same" everywhere


def test_id_column_and_url_column_as_struct_fields(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "metadata.url"} for r in ROWS[:3]]
    write_shard(tmp_path / "in" / "p.parquet", rows)
    result = invoke(
        "filter",
        "url",
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        "--url-column",
        "metadata.url",
        "--banned-substring",
        "spam",
        "--id-column",
        "metadata.key",
    )
    assert result.exit_code == 0, result.output
    rejected = read_dir(rejects_dir(tmp_path / "out"), "*.parquet")
    assert rejected.column("text").to_pylist() == ["three"]
    explained = invoke("explain", str(tmp_path / "out"), "k3", "--id-column", "metadata.key")
    assert explained.exit_code == 0, explained.output
    assert "removed by filter_url: url:banned_substring" in explained.stdout
    assert "id" not in read_dir(tmp_path / "out").column_names  # the struct's key is the id: none derived
    assert read_dir(tmp_path / "out").column("text").to_pylist() == ["one", "two"]


def test_a_missing_field_path_is_a_usage_error(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "metadata.url"} for r in ROWS]
    write_shard(tmp_path / "in" / "p.parquet", rows)
    for args in (["dedup", "exact", "--on", "metadata.nope"], ["filter", "url", "--url-column", "metadata.url.x"]):
        result = invoke(*args[:2], str(tmp_path / "in"), str(tmp_path / "out"), *args[2:])
        assert result.exit_code == 2, result.output
        assert not (tmp_path / "out").exists()


def test_dolma_common_crawl_dedup_on_metadata_url(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    # Brute force: the first document of every distinct metadata.warc_url survives.
    seen: set[str] = set()
    expected = []
    for doc in docs:
        if doc["metadata"]["warc_url"] not in seen:
            seen.add(doc["metadata"]["warc_url"])
            expected.append(doc["id"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / source.name).write_bytes(
        source.read_bytes() + gzip.compress(b"".join(json.dumps(d).encode() + b"\n" for d in docs[:5]))
    )  # five repeats, as a second gzip member
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--on", "metadata.warc_url")
    assert result.exit_code == 0, result.output
    assert read_dir(tmp_path / "out").column("id").to_pylist() == expected
    assert read_dir(rejects_dir(tmp_path / "out"), "*.parquet").column("id").to_pylist() == [d["id"] for d in docs[:5]]
