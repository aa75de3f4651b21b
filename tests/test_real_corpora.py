"""curate on the real third-party corpora in ../shared/data (skipped when absent, except CI)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir
from tests.corpus import jaccard, word_shingles


@pytest.fixture(scope="module")
def gutenberg_shards(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The 330 books as documents in 4 shards; ``sha_of`` maps id to the git blob sha1."""
    root = shared_data / "gutenberg-top-authors-subset"
    with open(root / "MANIFEST.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    sha_of = {row["local_path"]: row["git_blob_sha1"] for row in rows}
    docs = [
        {"id": path, "text": (root / path).read_text(encoding="utf-8", errors="replace")} for path in sorted(sha_of)
    ]
    out = tmp_path_factory.mktemp("gutenberg")
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string())])
    for s in range(4):
        pq.write_table(pa.Table.from_pylist(docs[s::4], schema=schema), out / f"books-{s}.parquet")
    return out, sha_of


@pytest.mark.slow
def test_gutenberg_exact_copies_leave_one_survivor(
    gutenberg_shards: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    src, sha_of = gutenberg_shards
    assert len(sha_of) == 330 and len(set(sha_of.values())) == 213
    result = invoke("-q", "dedup", "minhash", str(src), str(tmp_path / "out"), "--json", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    kept = read_dir(tmp_path / "out").column("id").to_pylist()
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert len(kept) + len(rejects) == 330
    # No two kept books are byte-identical, and every one of the 117 redundant copies went.
    kept_shas = [sha_of[i] for i in kept]
    assert len(kept_shas) == len(set(kept_shas))
    groups: dict[str, list[str]] = defaultdict(list)
    for doc_id, sha in sha_of.items():
        groups[sha].append(doc_id)
    removed_ids = {r["id"] for r in rejects}
    redundant = sum(len(members) - 1 for members in groups.values())
    assert redundant == 117
    for members in groups.values():
        assert sum(1 for m in members if m not in removed_ids) <= 1
    # Every removal beyond exact copies is a real near-duplicate edition (exact Jaccard).
    texts: dict[str, str] = {}
    for shard in sorted(src.glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            texts[row["id"]] = row["text"]
    for row in rejects:
        assert row["dup_of"] in kept
        if sha_of[row["id"]] == sha_of[row["dup_of"]]:
            assert row["similarity"] == 1.0
        else:
            exact = jaccard(word_shingles(texts[row["id"]]), word_shingles(texts[row["dup_of"]]))
            assert exact >= 0.8 and row["similarity"] == pytest.approx(exact, abs=1e-9)
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["rows_removed"] == len(rejects) >= 117
