"""Shard I/O against real files: discovery, readers (corrupt, truncated, bombs, bad UTF-8),
atomic writers, schema checks and path safety."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.errors import BadInputError, BusyError, UnsafePathError, UsageError
from curate.io.discovery import discover_inputs
from curate.io.layout import (
    REJECTS,
    TMP,
    WORK,
    legacy_manifest_path,
    legacy_work_dir,
    lock_path,
    manifest_path,
    rejects_dir,
    work_dir,
)
from curate.io.lock import OutputLock
from curate.io.paths import safe_join
from curate.io.readers import ReadCounters, ReadOptions, batch_ids, read_batches
from curate.io.schema import check_input_schemas, conform
from curate.io.shard_output import reject_name
from curate.io.writers import AtomicParquetWriter
from tests.conftest import write_shard

OPTIONS = ReadOptions()


def read_all(path: Path, options: ReadOptions = OPTIONS) -> tuple[pa.Table, ReadCounters]:
    shards, _ = discover_inputs(str(path))
    counters = ReadCounters()
    batches = [b for shard in shards for b in read_batches(shard, options, counters)]
    return pa.Table.from_batches(batches), counters


def test_discovery_sorts_skips_underscored_and_hidden(tmp_path: Path) -> None:
    for name in ["b.parquet", "a.parquet", "_rejects/x.parquet", ".hidden.parquet", "notes.txt", "sub/c.jsonl"]:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    shards, manifest = discover_inputs(str(tmp_path))
    assert [s.name for s in shards] == ["a.parquet", "b.parquet", "sub/c.jsonl"]
    assert [s.index for s in shards] == [0, 1, 2]
    assert manifest is None


def test_discovery_of_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no input files"):
        discover_inputs(str(tmp_path))


# A dataset's manifest where this curate writes it, and where curate wrote it before layout 2.
MANIFEST_AT = [manifest_path, legacy_manifest_path]


def _write_manifest_at(where: Callable[[Path], Path], dataset: Path, manifest: object) -> None:
    path = where(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("where", MANIFEST_AT)
def test_discovery_reads_only_manifest_listed_shards(tmp_path: Path, where: Callable[[Path], Path]) -> None:
    dataset = tmp_path / "ds"
    write_shard(dataset / "part-00000.parquet", [{"text": "a"}])
    write_shard(dataset / "part-00001.parquet", [{"text": "stray"}])
    _write_manifest_at(where, dataset, {"shards": [{"name": "part-00000.parquet"}]})
    shards, manifest = discover_inputs(str(dataset))
    assert [s.name for s in shards] == ["part-00000.parquet"]
    assert manifest is not None


@pytest.mark.parametrize("where", MANIFEST_AT)
def test_discovery_refuses_manifest_escaping_the_dataset(tmp_path: Path, where: Callable[[Path], Path]) -> None:
    dataset = tmp_path / "ds"
    dataset.mkdir()
    _write_manifest_at(where, dataset, {"shards": [{"name": "../../etc/passwd"}]})
    with pytest.raises(BadInputError, match="escapes"):
        discover_inputs(str(dataset))


@pytest.mark.parametrize("where", [work_dir, legacy_work_dir])
def test_unfinished_curate_output_is_refused_as_input(tmp_path: Path, where: Callable[[Path], Path]) -> None:
    dataset = tmp_path / "ds"
    write_shard(dataset / "part-00000.parquet", [{"text": "a"}])
    where(dataset).mkdir(parents=True)
    with pytest.raises(UsageError, match="unfinished"):
        discover_inputs(str(dataset))


def test_discovery_below_a_directory_skips_curate_state_directories(tmp_path: Path) -> None:
    """A directory holding finished outputs: their ``X.curate`` (rejects, work) is not data."""
    write_shard(tmp_path / "runs" / "a" / "part-00000.parquet", [{"text": "kept"}])
    write_shard(rejects_dir(tmp_path / "runs" / "a") / "part-00000.parquet", [{"text": "dropped"}])
    shards, _ = discover_inputs(str(tmp_path / "runs"))
    assert [s.name for s in shards] == ["a/part-00000.parquet"]


def test_jsonl_gz_and_zst_read_with_derived_ids(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"text": f"doc {i}", "n": i}) + "\n" for i in range(5)).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    shards, _ = discover_inputs(str(tmp_path))
    texts, ids = [], []
    for shard in shards:
        row = 0
        for batch in read_batches(shard, OPTIONS):
            texts += batch.column("text").to_pylist()
            ids += batch_ids(batch, shard, row, OPTIONS).to_pylist()
            row += batch.num_rows
            assert batch.schema.field("text").type == pa.large_string()
    assert texts == [f"doc {i}" for i in range(5)] * 2
    assert ids[:2] == ["a.jsonl.gz#0", "a.jsonl.gz#1"] and ids[5] == "b.jsonl.zst#0"


def test_integer_ids_are_cast_to_strings(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.parquet", [{"id": 7, "text": "x"}, {"id": 9, "text": "y"}])
    shards, _ = discover_inputs(str(tmp_path))
    batch = next(read_batches(shards[0], OPTIONS))
    assert batch_ids(batch, shards[0], 0, OPTIONS).to_pylist() == ["7", "9"]


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress])
def test_truncated_compressed_shard_names_the_file(tmp_path: Path, compress: object) -> None:
    data = compress("".join(json.dumps({"text": "word " * 50}) + "\n" for _ in range(2000)).encode())  # type: ignore[operator]
    suffix = ".jsonl.gz" if data[:2] == b"\x1f\x8b" else ".jsonl.zst"
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError) as info:
        read_all(bad)
    assert str(bad) in str(info.value)


def test_zero_byte_shard_is_corrupt(tmp_path: Path) -> None:
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(BadInputError, match="0 bytes"):
        read_all(tmp_path / "empty.parquet")


@pytest.mark.parametrize("damage", ["garbage", "no_footer", "flipped"])
def test_corrupt_parquet_is_a_clean_error(tmp_path: Path, damage: str) -> None:
    good = write_shard(tmp_path / "good.parquet", [{"text": f"document number {i} " * 20} for i in range(3000)])
    raw = bytearray(good.read_bytes())
    if damage == "garbage":
        raw = bytearray(b"0123456789")
    elif damage == "no_footer":
        raw = raw[: len(raw) - 200]
    else:
        middle = len(raw) // 2
        for offset in range(middle, middle + 64):
            raw[offset] ^= 0xFF
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(raw))
    with pytest.raises(BadInputError) as info:
        read_all(bad)
    assert str(bad) in str(info.value)


def test_decompression_bomb_is_stopped_at_the_cap(tmp_path: Path) -> None:
    line = (json.dumps({"text": "a" * 1000}) + "\n").encode()
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb") as handle:
        for _ in range(20_000):  # ~20 MB of text, compresses to ~60 KB
            handle.write(line)
    shards, _ = discover_inputs(str(bomb))
    capped = ReadOptions(max_decompressed_bytes=5 << 20)
    with pytest.raises(BadInputError, match="cap"):
        for _ in read_batches(shards[0], capped):
            pass


def test_invalid_utf8_in_parquet_is_replaced_and_counted(tmp_path: Path) -> None:
    values = pa.array([b"fine", b"bad \xff\xfe bytes", None], pa.binary()).view(pa.string())
    path = tmp_path / "bad_utf8.parquet"
    pq.write_table(pa.table({"text": values}), path)
    table, counters = read_all(path)
    assert table.column("text").to_pylist() == ["fine", "bad \ufffd\ufffd bytes", None]
    assert counters.invalid_utf8_rows == 1


def test_invalid_utf8_and_lone_surrogates_in_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "bad \xff"}\n{"text": "lone \\ud800 surrogate"}\n')
    table, counters = read_all(path)
    assert table.column("text").to_pylist() == ["ok", "bad \ufffd", "lone \ufffd surrogate"]
    assert counters.invalid_utf8_rows == 2


def test_missing_text_column_is_a_usage_error(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.parquet", [{"body": "x"}])
    shards, _ = discover_inputs(str(tmp_path))
    with pytest.raises(UsageError, match="no text column 'text'"):
        check_input_schemas(shards, OPTIONS, skip_bad=False)


def test_schema_drift_id_type_conflict_fails_up_front(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.parquet", [{"id": 1, "text": "x"}])
    write_shard(tmp_path / "b.parquet", [{"id": "one", "text": "y"}])
    shards, _ = discover_inputs(str(tmp_path))
    with pytest.raises(BadInputError, match="column 'id'"):
        check_input_schemas(shards, OPTIONS, skip_bad=False)


def test_schema_drift_added_column_unifies_and_conforms(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.parquet", [{"id": "1", "text": "x"}])
    write_shard(tmp_path / "b.parquet", [{"id": "2", "text": "y", "lang": "en"}])
    shards, _ = discover_inputs(str(tmp_path))
    report = check_input_schemas(shards, OPTIONS, skip_bad=False)
    assert report.unified is not None and report.unified.names == ["id", "text", "lang"]
    batch = next(read_batches(shards[0], OPTIONS))
    conformed = conform(batch, report.unified)
    assert conformed.column("lang").to_pylist() == [None]


def test_unreadable_footer_is_listed_when_skipping(tmp_path: Path) -> None:
    write_shard(tmp_path / "a.parquet", [{"text": "x"}])
    (tmp_path / "b.parquet").write_bytes(b"0123456789")
    shards, _ = discover_inputs(str(tmp_path))
    report = check_input_schemas(shards, OPTIONS, skip_bad=True)
    assert list(report.unreadable) == [1] and "b.parquet" in report.unreadable[1]


def test_atomic_writer_publishes_only_on_success(tmp_path: Path) -> None:
    schema = pa.schema([("text", pa.large_string())])
    batch = pa.record_batch([pa.array(["a", "b"], pa.large_string())], schema=schema)
    with pytest.raises(RuntimeError), AtomicParquetWriter(tmp_path, "part-00000.parquet", schema=schema) as writer:
        writer.write(batch)
        writer._flush()  # a row group is on disk in the temporary file
        raise RuntimeError("writer failed midway")
    assert not (tmp_path / "part-00000.parquet").exists()
    assert list((tmp_path / WORK / TMP).iterdir()) == []
    with AtomicParquetWriter(tmp_path, "part-00000.parquet", schema=schema) as writer:
        writer.write(batch)
    assert pq.read_table(tmp_path / "part-00000.parquet").num_rows == 2


def test_zero_row_shard_keeps_its_schema(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string())])
    with AtomicParquetWriter(tmp_path, "part-00000.parquet", schema=schema):
        pass
    assert pq.read_schema(tmp_path / "part-00000.parquet").names == ["id", "text"]
    assert pq.read_metadata(tmp_path / "part-00000.parquet").num_rows == 0


@pytest.mark.parametrize("name", ["../escape.parquet", "/etc/passwd", "a\x00b.parquet", "x/../../y.parquet"])
def test_hostile_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path, name)


def test_symlinked_subfolder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    os.symlink(outside, root / REJECTS)
    with pytest.raises(UnsafePathError, match="resolves outside"):
        AtomicParquetWriter(root, reject_name(0))
    assert list(outside.iterdir()) == []


def test_lock_is_exclusive_across_processes_and_freed_by_sigkill(tmp_path: Path) -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from curate.io.lock import OutputLock
                from curate.io.layout import lock_path
                with OutputLock(lock_path(Path({str(tmp_path / "out")!r}))):
                    print("held", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(BusyError), OutputLock(lock_path(tmp_path / "out")):
                pass
        finally:
            holder.kill()
            holder.wait()
    with OutputLock(lock_path(tmp_path / "out")):  # no manual cleanup needed after SIGKILL
        pass
