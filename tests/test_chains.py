"""Every command feeds every other (issue 7, item 9): curate's own outputs hold zero-row shards
(an input shard whose rows were all removed), and the next stage must read them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path
from tests.conftest import invoke, read_dir, write_shard
from tests.corpus import random_document

COMMANDS = {
    "minhash": ["dedup", "minhash"],
    "exact": ["dedup", "exact"],
    "lines": ["dedup", "lines", "--min-count", "2"],
    "gopher-quality": ["filter", "gopher-quality"],
    "c4": ["filter", "c4"],
    "pii": ["filter", "pii"],
}
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("url", pa.string())])


def _corpus(directory: Path) -> Path:
    """Three shards: documents with copies, a zero-row shard, and a shard of copies only
    (every row of it goes in a dedup, which leaves a zero-row output shard)."""
    rng = random.Random(9)
    docs = []
    for i in range(40):
        body = random_document(rng, 80)
        docs.append({"id": f"d{i:02d}", "text": f"Menu | Home\nwrite to user{i}@example.org.\n{body}", "url": None})
    write_shard(directory / "a.parquet", docs, SCHEMA)
    write_shard(directory / "b.parquet", [], SCHEMA)
    copies = [{**d, "id": f"{d['id']}-copy"} for d in docs[:5]]
    write_shard(directory / "c.parquet", copies, SCHEMA)
    return directory


def _run(name: str, src: Path, out: Path) -> dict[str, object]:
    result = invoke("-q", *COMMANDS[name], str(src), str(out), "--workers", "1", "--json")
    assert result.exit_code == 0, f"{name} on {src.name}: {result.stderr}"
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.fixture(scope="module")
def first_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, object]]]:
    root = tmp_path_factory.mktemp("chains")
    src = _corpus(root / "in")
    outputs = {}
    for name in COMMANDS:
        out = root / f"first-{name}"
        outputs[name] = (out, _run(name, src, out))
    return outputs


def test_first_stages_read_a_zero_row_shard(first_outputs: dict[str, tuple[Path, dict[str, object]]]) -> None:
    for name, (out, summary) in first_outputs.items():
        assert summary["rows_in"] == 45, name
        manifest = json.loads(manifest_path(out).read_text())
        assert [s["rows"] for s in manifest["shards"]][1] == 0, name  # the zero-row input stays a shard
    exact_out = first_outputs["exact"][0]
    # The copies' shard lost every row: a zero-row shard with the full schema.
    assert pq.read_metadata(exact_out / "part-00002.parquet").num_rows == 0
    assert {"id", "text", "url"} <= set(pq.read_schema(exact_out / "part-00002.parquet").names)


@pytest.mark.parametrize("second", list(COMMANDS))
@pytest.mark.parametrize("first", list(COMMANDS))
def test_every_pair_of_commands_chains(
    first_outputs: dict[str, tuple[Path, dict[str, object]]], first: str, second: str, tmp_path: Path
) -> None:
    src, first_summary = first_outputs[first]
    summary = _run(second, src, tmp_path / "out")
    assert summary["rows_in"] == first_summary["rows_kept"]
    kept = read_dir(tmp_path / "out")
    assert set(kept.column("id").to_pylist()) <= set(read_dir(src).column("id").to_pylist())
    assert {"id", "text", "url"} <= set(kept.column_names)
