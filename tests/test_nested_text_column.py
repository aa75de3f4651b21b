"""``--text-column metadata.text``: the text in a struct field (dolma keeps ``metadata.*``), for
every command that reads text. The expectation of each command is the same command on the same
documents with the text as a top-level column (the established path): the same kept and
rejected ids and reasons, the same rewritten texts, the same added columns; and the user's
struct comes back with its type, its other fields and its place, rewritten only inside."""

from __future__ import annotations

import gzip
import html
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample"
META = pa.struct([("source", pa.string()), ("text", pa.string()), ("url", pa.string())])
NESTED = pa.schema([("id", pa.string()), ("metadata", META), ("n", pa.int64())])
FLAT = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("metadata", pa.struct([("source", pa.string()), ("url", pa.string())])),
    ]
)
PII = " Write to jane.doe@example.com or call +1 (555) 123-4567 from 192.168.10.20 today."


def _documents() -> list[dict[str, Any]]:
    """600 sample documents (near duplicates among them), one in seven with PII, one empty
    text and one null struct."""
    docs = []
    for shard in sorted(SAMPLE.glob("part-*.parquet"))[:2]:
        docs += pq.read_table(shard).slice(0, 300).to_pylist()
    for i, doc in enumerate(docs):
        if i % 7 == 0:
            doc["text"] += PII
    docs[5]["text"] = ""
    return docs


def _write(tmp_path: Path) -> tuple[Path, Path]:
    docs = _documents()
    nested, flat = [], []
    for i, doc in enumerate(docs):
        meta = None if i == 11 else {"source": "sample", "text": doc["text"], "url": doc["url"]}
        nested.append({"id": doc["id"], "metadata": meta, "n": i})
        flat.append(
            {
                "id": doc["id"],
                "text": None if meta is None else doc["text"],
                "metadata": None if meta is None else {"source": "sample", "url": doc["url"]},
            }
        )
    for name, rows, schema in (("nested", nested, NESTED), ("flat", flat, FLAT)):
        (tmp_path / name).mkdir()
        for part in range(2):
            chunk = rows[part * 300 : (part + 1) * 300]
            pq.write_table(pa.Table.from_pylist(chunk, schema=schema), tmp_path / name / f"part-{part}.parquet")
    return tmp_path / "nested", tmp_path / "flat"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write(tmp_path_factory.mktemp("nested_text"))


def _rows(path: Path, pattern: str) -> pa.Table:
    table = read_dir(path, pattern)
    return table.sort_by("id") if table.num_rows else table


def _same_as_flat(nested_out: Path, flat_out: Path, pattern: str) -> None:
    nested, flat = _rows(nested_out, pattern), _rows(flat_out, pattern)
    assert nested.column("id").to_pylist() == flat.column("id").to_pylist()
    # The user's struct: same type and place, its text the flat run's (rewritten) text.
    assert nested.schema.field("metadata").type == META
    assert "text" not in nested.column_names and "metadata.text" not in nested.column_names
    meta = nested.column("metadata").to_pylist()
    texts = flat.column("text").to_pylist()
    assert [None if m is None else m["text"] for m in meta] == texts
    assert [None if m is None else (m["source"], m["url"]) for m in meta] == [
        None if m is None else (m["source"], m["url"]) for m in flat.column("metadata").to_pylist()
    ]
    # The columns a stage adds (and nothing else) are the same.
    added_nested = [c for c in nested.column_names if c not in NESTED.names]
    added_flat = [c for c in flat.column_names if c not in FLAT.names]
    assert added_nested == added_flat
    for name in added_nested:
        assert nested.column(name).to_pylist() == flat.column(name).to_pylist(), name


COMMANDS = [
    ("filter", "gopher-quality"),
    ("filter", "gopher-repetition"),
    ("filter", "c4"),  # rewrites: drops lines
    ("filter", "c4-lines"),
    ("filter", "fineweb"),
    ("filter", "pii", "--column-name", "pii"),  # rewrites: redacts
    ("filter", "url", "--url-column", "metadata.url", "--banned-substring", "garnett-constance"),
    ("filter", "gopher-quality", "--annotate"),
    ("dedup", "exact", "--normalize", "aggressive"),
    ("dedup", "minhash", "--threshold", "0.7"),
    ("dedup", "lines", "--min-count", "2"),  # rewrites: removes repeated lines
]


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[" ".join(c[:2]) + (" " + c[2] if "annotate" in c[-1] else "") for c in COMMANDS]
)
def test_every_text_command_reads_and_rewrites_a_struct_field(
    inputs: tuple[Path, Path], tmp_path: Path, command: tuple[str, ...]
) -> None:
    nested_in, flat_in = inputs
    flat = invoke(*command[:2], str(flat_in), str(tmp_path / "flat"), *command[2:], "--json")
    assert flat.exit_code == 0, flat.output
    nested = invoke(
        *command[:2], str(nested_in), str(tmp_path / "nested"), *command[2:], "--text-column", "metadata.text", "--json"
    )
    assert nested.exit_code == 0, nested.output
    counts = [{k: json.loads(r.stdout)[k] for k in ("rows_in", "rows_kept", "rows_removed")} for r in (flat, nested)]
    assert counts[0] == counts[1] and counts[0]["rows_in"] == 600
    _same_as_flat(tmp_path / "nested", tmp_path / "flat", "part-*.parquet")
    if counts[0]["rows_removed"]:
        _same_as_flat(rejects_dir(tmp_path / "nested"), rejects_dir(tmp_path / "flat"), "*.parquet")
        rejects = _rows(rejects_dir(tmp_path / "nested"), "*.parquet")
        assert (
            rejects.column("_reason").to_pylist()
            == _rows(rejects_dir(tmp_path / "flat"), "*.parquet").column("_reason").to_pylist()
        )


def test_the_rewriting_stages_did_rewrite_inside_the_struct(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """Not only equal to the flat run: the PII really is gone from metadata.text."""
    nested_in, _ = inputs
    result = invoke("filter", "pii", str(nested_in), str(tmp_path / "out"), "--text-column", "metadata.text")
    assert result.exit_code == 0, result.output
    texts = [m["text"] for m in read_dir(tmp_path / "out").column("metadata").to_pylist() if m is not None]
    assert sum("<EMAIL>" in t for t in texts) == len([i for i in range(600) if i % 7 == 0 and i != 11])
    assert not any("jane.doe@example.com" in t for t in texts)


def test_a_pipeline_with_a_nested_text_column_equals_the_flat_one(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    nested_in, flat_in = inputs
    stages = (
        "stages:\n  - filter c4: {}\n  - dedup exact: {}\n  - filter pii: {}\n  - dedup minhash: {threshold: 0.7}\n"
    )
    for name, source, read in (("flat", flat_in, ""), ("nested", nested_in, "read: {text-column: metadata.text}\n")):
        (tmp_path / f"{name}.yaml").write_text(read + stages)
        result = invoke("run", str(tmp_path / f"{name}.yaml"), "--input", str(source), "--output", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    _same_as_flat(tmp_path / "nested", tmp_path / "flat", "part-*.parquet")
    _same_as_flat(rejects_dir(tmp_path / "nested"), rejects_dir(tmp_path / "flat"), "*/*.parquet")


def test_a_chain_and_the_nightly_index_read_the_field(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    nested_in, flat_in = inputs
    for name, source, extra in (("flat", flat_in, []), ("nested", nested_in, ["--text-column", "metadata.text"])):
        first = invoke("filter", "c4", str(source), str(tmp_path / name / "c4"), *extra)
        assert first.exit_code == 0, first.output
        night = invoke(
            "dedup", "minhash", "--index", str(tmp_path / name / "idx"), str(tmp_path / name / "c4"),
            str(tmp_path / name / "n1"), *extra,
        )  # fmt: skip
        assert night.exit_code == 0, night.output
        # The same documents a second night: every one is in the index already.
        again = invoke(
            "dedup", "minhash", "--index", str(tmp_path / name / "idx"), str(source), str(tmp_path / name / "n2"),
            "--json", *extra,
        )  # fmt: skip
        assert again.exit_code == 0, again.output
    _same_as_flat(tmp_path / "nested" / "n1", tmp_path / "flat" / "n1", "part-*.parquet")
    _same_as_flat(tmp_path / "nested" / "n2", tmp_path / "flat" / "n2", "part-*.parquet")
    assert read_dir(tmp_path / "nested" / "n2").num_rows < 600


def test_jsonl_repairs_invalid_text_inside_the_struct_only(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    lines = [
        {"id": "a", "metadata": {"text": "fine words here", "url": "http://a.example/"}},
        {"id": "b", "metadata": {"text": "broken \ud800 here", "url": "http://b.example/"}},
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--text-column", "metadata.text")
    assert result.exit_code == 0, result.output
    meta = read_dir(tmp_path / "out").column("metadata").to_pylist()
    assert [m["text"] for m in meta] == ["fine words here", "broken \ufffd here"]
    assert json.loads(manifest_path(tmp_path / "out").read_text())["counters"]["invalid_utf8_rows"] == 1
    # Outside the text field: refused, naming line and column.
    lines[0]["metadata"]["url"] = "http://\udc80.example/"
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    refused = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "o2"), "--text-column", "metadata.text")
    assert refused.exit_code == 3
    assert "line 1, column 'metadata.url'" in refused.stderr


def test_bad_text_paths_are_usage_errors_before_any_work(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    nested_in, _ = inputs
    for path, problem in (("metadata.body", "no text column 'metadata.body'"), ("metadata.text.x", "no text column")):
        result = invoke("filter", "pii", str(nested_in), str(tmp_path / "out"), "--text-column", path)
        assert result.exit_code == 2 and problem in result.stderr, result.output
    numbers = tmp_path / "numbers"
    numbers.mkdir()
    pq.write_table(pa.table({"metadata": [{"text": 1}]}), numbers / "a.parquet")
    result = invoke("dedup", "exact", str(numbers), str(tmp_path / "out"), "--text-column", "metadata.text")
    assert result.exit_code == 2 and "has type int64, not a string" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_dotted_top_level_text_column_wins_over_the_struct_field(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    rows = [
        {"metadata.text": "top level one", "metadata": {"text": "same"}},
        {"metadata.text": "top level two", "metadata": {"text": "same"}},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in" / "a.parquet")
    result = invoke("dedup", "exact", str(tmp_path / "in"), str(tmp_path / "out"), "--text-column", "metadata.text")
    assert result.exit_code == 0, result.output
    assert read_dir(tmp_path / "out").num_rows == 2  # the struct's texts are equal, the top-level ones not


def test_report_shows_removed_texts_from_the_struct(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    nested_in, _ = inputs
    out = tmp_path / "out"
    result = invoke(
        "dedup", "minhash", str(nested_in), str(out), "--text-column", "metadata.text", "--threshold", "0.7"
    )
    assert result.exit_code == 0, result.output
    assert invoke("report", str(out), "-o", str(tmp_path / "r.html")).exit_code == 0
    page = (tmp_path / "r.html").read_text()
    removed = read_dir(rejects_dir(out), "*.parquet").column("metadata").to_pylist()
    # The excerpts (the first 40 characters here) of removed texts, read from metadata.text.
    assert removed and all(html.escape(m["text"][:40], quote=False) in page for m in removed[:3])


def test_parquet_repairs_invalid_utf8_inside_the_struct(tmp_path: Path) -> None:
    texts = pa.array([b"fine words", b"bad \xff\xfe bytes", None], pa.binary()).view(pa.string())
    urls = pa.array(["u1", "u2", "u3"])
    meta = pa.StructArray.from_arrays([texts, urls], names=["text", "url"])
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c"], "metadata": meta}), tmp_path / "in" / "a.parquet")
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--text-column", "metadata.text")
    assert result.exit_code == 0, result.output
    kept = read_dir(tmp_path / "out")
    assert kept.schema.field("metadata").type == meta.type
    assert [m["url"] for m in kept.column("metadata").to_pylist()] == ["u1", "u2", "u3"]
    kept.validate(full=True)  # valid UTF-8 written back into the struct
    assert [m["text"] for m in kept.column("metadata").to_pylist()] == ["fine words", "bad \ufffd\ufffd bytes", None]
    assert json.loads(manifest_path(tmp_path / "out").read_text())["counters"]["invalid_utf8_rows"] == 1
