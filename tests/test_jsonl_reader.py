"""The JSONL input path on real files: truncated streams, invalid text, one schema per
dataset, long lines, late or changing columns, the decompression cap (issue 7)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.errors import BadInputError
from curate.io.discovery import discover_inputs
from curate.io.jsonl import JSON_BLOCK_BYTES
from curate.io.layout import manifest_path, work_dir
from curate.io.readers import ReadCounters, ReadOptions, read_batches
from curate.io.schema import SchemaCache, check_input_schemas
from tests.conftest import invoke, write_shard


def read_all(path: Path, options: ReadOptions | None = None) -> tuple[pa.Table, ReadCounters]:
    options = options or ReadOptions()
    shards, _ = discover_inputs(str(path))
    counters = ReadCounters()
    batches = [b for shard in shards for b in read_batches(shard, options, counters)]
    return pa.Table.from_batches(batches), counters


def lorem_lines(count: int = 2000) -> bytes:
    """The issue's reproduction: 2,000 documents of ~1 KB."""
    rows = []
    for i in range(count):
        text = f"lorem ipsum {i:05d} " * 55 + "x" * 9
        rows.append(json.dumps({"id": f"{i:05d}", "text": text}, separators=(",", ":")) + "\n")
    return "".join(rows).encode()


def manifest(out: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(manifest_path(out).read_text())
    return loaded


# 1. A compressed stream cut short is truncated, wherever the cut falls.


def test_zst_cut_at_a_block_boundary_is_truncated_through_the_cli(tmp_path: Path) -> None:
    data = zstandard.ZstdCompressor(level=3).compress(lorem_lines())
    cut = data[:1213]
    # The zstandard module agrees: the frame did not end.
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    decompressor.decompress(cut)
    assert not decompressor.eof
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.jsonl.zst").write_bytes(cut)
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "cut.jsonl.zst" in result.stderr and "truncated" in result.stderr
    (tmp_path / "in" / "good.jsonl").write_bytes(lorem_lines(10))
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "skip"), "--on-error", "skip")
    assert result.exit_code == 3
    listed = manifest(tmp_path / "skip")
    assert listed["rows_in"] == 10
    quarantined = listed["quarantined"]
    assert isinstance(quarantined, list) and len(quarantined) == 1
    assert "cut.jsonl.zst" in quarantined[0]["path"] and "truncated" in quarantined[0]["error"]


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_every_cut_of_a_multi_frame_stream_is_truncated(tmp_path: Path, codec: str) -> None:
    """Two frames (zstd) or members (gzip); every cut except at the end of a frame is a
    truncated stream, mid-line cuts included; a cut at a frame's end is a complete file."""
    first, second = lorem_lines(300), lorem_lines(200)
    if codec == "zstd":
        frames = [zstandard.ZstdCompressor(level=3).compress(part) for part in (first, second)]
        suffix = ".jsonl.zst"
    else:
        frames = [gzip.compress(part, mtime=0) for part in (first, second)]
        suffix = ".jsonl.gz"
    whole = b"".join(frames)
    path = tmp_path / f"shard{suffix}"
    path.write_bytes(whole)
    table, _ = read_all(path)
    assert table.num_rows == 500
    step = max(1, len(whole) // 60)
    cuts = sorted({*range(1, len(whole), step), len(frames[0]) - 1, len(frames[0]) + 5, len(whole) - 1})
    for cut in cuts:
        path.write_bytes(whole[:cut])
        if cut == len(frames[0]):
            continue
        with pytest.raises(BadInputError, match="truncated") as info:
            read_all(path)
        assert str(path) in str(info.value), cut
    path.write_bytes(whole[: len(frames[0])])
    assert read_all(path)[0].num_rows == 300


def test_plain_jsonl_cut_mid_line_says_it_may_be_truncated(tmp_path: Path) -> None:
    data = lorem_lines(50)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[: len(data) - 300])
    with pytest.raises(BadInputError, match=r"line 50: invalid JSON .*truncated\?"):
        read_all(path)


def test_a_bad_line_deep_in_a_big_file_is_named_by_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.zst"
    lines = [json.dumps({"text": f"row {i} " + "filler words here " * 200}) for i in range(9000)]
    lines[7776] = lines[7776][:-5]  # line 7777, in the second 16 MiB block
    path.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(BadInputError, match=r"big.jsonl.zst: line 7777: invalid JSON"):
        read_all(path)


# 2. Invalid text: the text column is repaired and counted; other columns are never rewritten.


def test_lone_surrogate_keeps_every_column_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_bytes(
        b'{"id":"a","text":"lone \\ud800 x"}\n{"id":"b","text":"y","url":"http://e.com/","n":3}\n'
    )
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert table.schema.names == ["id", "text", "url", "n"]
    assert table.schema.field("n").type == pa.int64()
    assert table.to_pylist() == [
        {"id": "a", "text": "lone \ufffd x", "url": None, "n": None},
        {"id": "b", "text": "y", "url": "http://e.com/", "n": 3},
    ]
    counters = manifest(tmp_path / "out")["counters"]
    assert isinstance(counters, dict) and counters["invalid_utf8_rows"] == 1


def test_invalid_text_count_is_exact_and_matches_the_parquet_policy(tmp_path: Path) -> None:
    raw_texts = [
        b"fine",
        b"pair \\ud83d\\ude00 is valid",
        b"bad \xff\xfe bytes",
        b"lone \\udc00 and cut \xe2\x82",
        b"escaped backslash \\\\ud800 is text",
        b"also fine",
    ]
    lines = [b'{"text":"' + raw + b'","k":' + str(i).encode() + b"}\n" for i, raw in enumerate(raw_texts)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(lines))
    table, counters = read_all(path)
    # Independently: invalid bytes as Python's errors="replace", each lone escape one U+FFFD.
    assert table.column("text").to_pylist() == [
        "fine",
        "pair \U0001f600 is valid",
        b"bad \xff\xfe bytes".decode("utf-8", "replace"),
        "lone \ufffd and cut " + b"\xe2\x82".decode("utf-8", "replace"),
        "escaped backslash \\ud800 is text",
        "also fine",
    ]
    assert counters.invalid_utf8_rows == 2 + 0  # rows 2 and 3; the valid pair is not invalid
    assert table.column("k").to_pylist() == list(range(6))
    assert table.schema.field("k").type == pa.int64()


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (b'{"id":"bad\xfeid","text":"x"}', "id"),
        (b'{"id":"a","text":"x","meta":{"title":"lone \\ud800"}}', "meta.title"),
        (b'{"id":"a","text":"x","tags":["ok","\\udfff"]}', "tags[1]"),
    ],
)
def test_invalid_text_outside_the_text_column_is_refused_naming_line_and_column(
    tmp_path: Path, line: bytes, column: str
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_bytes(b'{"id":"z","text":"fine"}\n' + line + b"\n")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "a.jsonl: line 2, column " + repr(column) in result.stderr


# 4. A wrong --text-column on JSONL is a usage error found before any work.


@pytest.mark.parametrize(
    "command", [["filter", "c4"], ["filter", "pii"], ["dedup", "exact"], ["dedup", "minhash"], ["dedup", "lines"]]
)
def test_wrong_text_column_on_jsonl_is_a_usage_error(shared_data: Path, tmp_path: Path, command: list[str]) -> None:
    source = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / source.name)
    result = invoke(*command, str(tmp_path / "in"), str(tmp_path / "out"), "--text-column", "body")
    assert result.exit_code == 2, result.output
    assert "no text column 'body'" in result.stderr
    assert not list((tmp_path / "out").glob("part-*"))


# 6. Every shard of a dataset has the one schema its manifest states.


def test_dolma_jsonl_files_give_one_schema(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for path in sorted((shared_data / "dolma-cc-samples").glob("*.json*.gz")):
        shutil.copy(path, tmp_path / "in" / path.name)
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) == 4
    schemas = {pq.read_schema(p).remove_metadata() for p in parts}
    assert len(schemas) == 1
    schema = schemas.pop()
    stated = manifest(tmp_path / "out")["schema"]
    assert stated == [{"name": f.name, "type": str(f.type)} for f in schema]
    assert schema.field("created").type == pa.string()
    frame = pl.scan_parquet(str(tmp_path / "out" / "part-*.parquet")).collect()
    assert frame.height == manifest(tmp_path / "out")["rows_kept"]
    # JSON strings stay the user's strings (no timestamp round trip).
    created = {}
    for path in sorted((tmp_path / "in").iterdir()):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                created[record["id"]] = record.get("created")
    for row in frame.select("id", "created").iter_rows():
        assert row[1] == created[row[0]]


def test_parquet_and_jsonl_unify_with_the_documented_promotion(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "a", "text": "x", "n": 1, "extra": None}])
    (tmp_path / "in" / "b.jsonl").write_text(json.dumps({"id": "b", "text": "y", "n": 2.5, "extra": "e"}) + "\n")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert {pq.read_schema(p).remove_metadata() for p in parts} == {
        pa.schema([("id", pa.string()), ("text", pa.large_string()), ("n", pa.float64()), ("extra", pa.string())])
    }
    frame = pl.read_parquet(parts)
    assert sorted(frame.rows()) == [("a", "x", 1.0, None), ("b", "y", 2.5, "e")]


def test_a_parquet_type_the_json_reader_cannot_produce_is_cast_on_write(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_shard(
        tmp_path / "in" / "a.parquet",
        [{"text": "x", "tags": ["p"], "ranks": [1, 2]}],
        schema=pa.schema(
            [("text", pa.string()), ("tags", pa.list_(pa.string())), ("ranks", pa.large_list(pa.int64()))]
        ),
    )
    (tmp_path / "in" / "b.jsonl").write_text(json.dumps({"text": "y", "tags": ["j"], "ranks": [3]}) + "\n")
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(sorted((tmp_path / "out").glob("part-*.parquet")))
    assert frame.sort("text").rows() == [("x", ["p"], [1, 2], "a.parquet#0"), ("y", ["j"], [3], "b.jsonl#0")]


def test_a_timestamp_against_a_string_is_a_conflict_naming_the_column(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_shard(
        tmp_path / "in" / "a.parquet",
        [{"text": "x", "created": 0}],
        schema=pa.schema([("text", pa.string()), ("created", pa.timestamp("ms"))]),
    )
    (tmp_path / "in" / "b.jsonl").write_text(json.dumps({"text": "y", "created": "2020-03-29T09:04:10Z"}) + "\n")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "b.jsonl: column 'created' is string here but timestamp[ms]" in result.stderr


def test_a_resumed_run_reuses_the_schema_pass_kept_in_work(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    shard = tmp_path / "in" / "a.jsonl"
    shard.write_text(json.dumps({"text": "x", "n": 100}) + "\n")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--keep-work")
    assert result.exit_code == 0, result.output
    kept = list((work_dir(tmp_path / "out") / "schemas").glob("*.arrow"))
    assert len(kept) == 1
    # Same size and mtime, other content: only the kept schema can say "n" is an integer.
    stat = shard.stat()
    shard.write_text(json.dumps({"text": "x", "n": 9.5}) + "\n")
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    shards, _ = discover_inputs(str(tmp_path / "in"))
    fresh = check_input_schemas(shards, ReadOptions(), skip_bad=False)
    cached = check_input_schemas(shards, ReadOptions(), skip_bad=False, cache=SchemaCache(kept[0].parent))
    assert fresh.unified is not None and fresh.unified.field("n").type == pa.float64()
    assert cached.unified is not None and cached.unified.field("n").type == pa.int64()


# 7. Long lines.


def test_forty_gutenberg_books_in_one_jsonl_gz(shared_data: Path, tmp_path: Path) -> None:
    books = sorted((shared_data / "gutenberg-top-authors-subset").glob("*/*.txt"))[:40]
    texts = {path.name: path.read_text(encoding="utf-8") for path in books}
    assert max(len(text.encode()) for text in texts.values()) > 2 << 20
    (tmp_path / "in").mkdir()
    with gzip.open(tmp_path / "in" / "books.jsonl.gz", "wt", encoding="utf-8") as handle:
        for name, text in texts.items():
            handle.write(json.dumps({"id": name, "text": text}) + "\n")
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--kinds", "ip")
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert table.num_rows == 40
    rewritten = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    assert rewritten.keys() == texts.keys()
    for name, text in texts.items():
        assert len(rewritten[name]) >= len(text) - 64 * rewritten[name].count("<IP_ADDRESS>")


def test_a_line_longer_than_a_read_block_is_read(tmp_path: Path) -> None:
    long_text = "abcdefghij" * (3 << 20)  # 30 MiB, longer than the 16 MiB read block
    path = tmp_path / "long.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "short"}) + "\n")
        handle.write(json.dumps({"text": long_text}) + "\n")
        handle.write(json.dumps({"text": "after"}) + "\n")
    table, _ = read_all(path)
    assert table.column("text").to_pylist() == ["short", long_text, "after"]


# 8. Types over the whole file.


def write_late_columns(path: Path) -> None:
    """36 MB: ``score`` null for 7,000 rows, ``when`` timestamp-like for 8,000 rows then
    not, ``late`` only from row 8,500 (past the first 16 MiB read blocks)."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(9000):
            row: dict[str, object] = {
                "id": f"d{i:05d}",
                "text": f"document {i} " + "filler words here " * 220,
                "score": None if i < 7000 else i / 7.0,
                "when": "2020-03-29T09:04:10Z" if i < 8000 else "sometime in spring",
            }
            if i >= 8500:
                row["late"] = {"k": i}
            handle.write(json.dumps(row) + "\n")


def test_late_and_null_first_columns_of_a_big_jsonl(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_late_columns(tmp_path / "in" / "late.jsonl")
    assert (tmp_path / "in" / "late.jsonl").stat().st_size > 2 * (16 << 20)
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert table.schema.remove_metadata() == pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.large_string()),
            ("score", pa.float64()),
            ("when", pa.string()),
            ("late", pa.struct([("k", pa.int64())])),
        ]
    )
    rows = table.select(["id", "score", "when", "late"]).to_pylist()
    assert len(rows) == 9000
    for i, row in enumerate(rows):
        assert row["id"] == f"d{i:05d}"
        assert row["score"] == (None if i < 7000 else i / 7.0)
        assert row["when"] == ("2020-03-29T09:04:10Z" if i < 8000 else "sometime in spring")
        assert row["late"] == (None if i < 8500 else {"k": i})


def test_a_column_changing_type_late_in_a_file_is_a_conflict_naming_file_and_column(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "drift.jsonl"
    written = 0
    with path.open("wb") as handle:
        for i in range(8000):
            # Integers in the first read block, strings from the first line of the second.
            line = (json.dumps({"text": "filler words here " * 200, "n": i}) + "\n").encode()
            if written + len(line) > JSON_BLOCK_BYTES:
                line = (json.dumps({"text": "filler words here " * 200, "n": f"n{i}"}) + "\n").encode()
            handle.write(line)
            written += len(line)
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "drift.jsonl: column 'n' is string in lines" in result.stderr
    assert "but int64 in earlier lines" in result.stderr


def test_a_column_changing_type_within_a_block_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "drift.jsonl"
    path.write_text('{"text":"a","n":1}\n{"text":"b","n":"two"}\n')
    shards, _ = discover_inputs(str(path))
    with pytest.raises(BadInputError, match=r"drift.jsonl: lines 1-2: .*column 'n' changed from number to string"):
        check_input_schemas(shards, ReadOptions(), skip_bad=False)


# 16. The decompression cap is an option.


def test_decompression_cap_is_an_option_with_an_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in").mkdir()
    bomb = tmp_path / "in" / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        for _ in range(5):
            handle.write(b"\n" * (64 << 20))  # 320 MiB of blank lines in ~300 KB
    ratio = (320 << 20) // bomb.stat().st_size
    assert ratio > 500
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "bomb.jsonl.gz" in result.stderr and "--max-expansion" in result.stderr
    monkeypatch.setenv("CURATE_DEDUP_EXACT_MAX_EXPANSION", str(ratio + 10))
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out2"))
    assert result.exit_code == 0, result.output
    assert manifest(tmp_path / "out2")["rows_in"] == 0
    monkeypatch.delenv("CURATE_DEDUP_EXACT_MAX_EXPANSION")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out3"), "--max-expansion", "0")
    assert result.exit_code == 0, result.output
    help_text = invoke("filter", "c4", "--help").output
    assert "--max-expansion" in help_text and "CURATE_FILTER_C4_MAX_EXPANSION" in help_text


def test_the_cap_never_applies_below_its_floor(tmp_path: Path) -> None:
    options = ReadOptions(max_expansion=2)
    assert options.decompressed_cap(1000) == 256 << 20
    assert options.decompressed_cap(1 << 30) == 2 << 30
    assert ReadOptions(max_expansion=0).decompressed_cap(10) is None
