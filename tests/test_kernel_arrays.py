"""The text kernel's array side: Arrow C data interface (offsets, slices, chunks, nulls, invalid UTF-8),
argument errors, very large documents, leader clustering and connected components."""

from __future__ import annotations

import ast
import gc
import random
import resource
from collections import deque
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import xxhash

from curate import _native, kernel
from curate import kernel_reference as ref

DOCS = [
    "The quick brown fox jumps over the lazy dog.",
    None,
    "Ünïcödé text, with “quotes” — and a ﬁnal ligature.",
    "",
    "?!…",
    "中文测试，一些文字。",
    "The quick brown fox jumps over the lazy cat.",
    "a b c d e f g h",
]

PARAMS = {"kind": "word", "ngram": 3, "num_perm": 32, "seed": 11, "bands": 8, "rows": 4}


def minhash(texts: pa.Array | pa.ChunkedArray) -> kernel.MinHashBatch:
    return kernel.minhash_batch(texts, **PARAMS)  # type: ignore[arg-type]


def assert_same(a: kernel.MinHashBatch, b: kernel.MinHashBatch) -> None:
    np.testing.assert_array_equal(a.signatures, b.signatures)
    np.testing.assert_array_equal(a.band_hashes, b.band_hashes)
    np.testing.assert_array_equal(a.shingle_counts, b.shingle_counts)


def test_stub_names_exist_in_the_extension() -> None:
    stub = ast.parse((Path(_native.__file__).parent / "_native.pyi").read_text(encoding="utf-8"))
    names = [node.name for node in stub.body if isinstance(node, ast.FunctionDef)]
    names += [
        node.target.id for node in stub.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    missing = [name for name in names if not hasattr(_native, name)]
    assert not missing, f"in curate/_native.pyi but not in the extension: {missing}"


# -- Arrow input ------------------------------------------------------------------------------------------------


def test_string_and_large_string_agree() -> None:
    assert_same(minhash(pa.array(DOCS, pa.string())), minhash(pa.array(DOCS, pa.large_string())))


@pytest.mark.parametrize("large", [False, True])
def test_sliced_arrays_use_the_offset(large: bool) -> None:
    full = pa.array(["padding row"] * 3 + DOCS + ["more padding"], pa.large_string() if large else pa.string())
    sliced = full.slice(3, len(DOCS))
    assert sliced.offset == 3
    assert_same(minhash(sliced), minhash(pa.array(DOCS, pa.large_string())))
    assert kernel.normalize_array(sliced).to_pylist() == [None if d is None else ref.normalize(d) for d in DOCS]


def test_sliced_validity_bitmap() -> None:
    values = [None if i % 3 == 0 else f"row {i} text here" for i in range(50)]
    full = pa.array(values, pa.large_string())
    for start in (1, 7, 8, 9, 13):
        part = full.slice(start, 20)
        counts = minhash(part).shingle_counts.tolist()
        assert [c == 0 for c in counts] == [v is None for v in values[start : start + 20]]


def test_chunked_arrays_match_one_array() -> None:
    chunked = pa.chunked_array([pa.array(DOCS[:3], pa.string()), pa.array(DOCS[3:5]), pa.array(DOCS[5:])])
    assert_same(minhash(chunked), minhash(pa.array(DOCS)))
    assert kernel.normalize_array(chunked).to_pylist() == kernel.normalize_array(pa.array(DOCS)).to_pylist()
    empty = minhash(pa.chunked_array([], pa.string()))
    assert empty.signatures.shape == (0, PARAMS["num_perm"]) and len(empty) == 0


def test_other_string_encodings_are_accepted() -> None:
    expected = minhash(pa.array(DOCS))
    assert_same(minhash(pa.array(DOCS).dictionary_encode()), expected)
    assert_same(minhash(pa.array(DOCS, pa.string_view())), expected)
    assert minhash(pa.nulls(3)).shingle_counts.tolist() == [0, 0, 0]


def test_normalize_array_keeps_nulls_and_returns_large_string() -> None:
    out = kernel.normalize_array(pa.array(DOCS))
    assert isinstance(out, pa.LargeStringArray)
    out.validate(full=True)
    assert out.to_pylist() == [None if d is None else ref.normalize(d) for d in DOCS]
    assert kernel.normalize_array(pa.array([], pa.string())).to_pylist() == []


def test_non_string_arrays_are_type_errors() -> None:
    with pytest.raises(TypeError):
        minhash(pa.array([1, 2, 3]))
    with pytest.raises(TypeError):
        minhash(pa.array([b"bytes"], pa.binary()))
    with pytest.raises(TypeError):
        kernel.minhash_batch(["a python list"], **PARAMS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kernel.normalize_text(b"bytes")  # type: ignore[arg-type]


# -- invalid input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("binary", "string"), [(pa.binary(), pa.string()), (pa.large_binary(), pa.large_string())])
def test_invalid_utf8_names_the_row(binary: pa.DataType, string: pa.DataType) -> None:
    bad = pa.array([b"fine", b"also fine", b"bad \xff byte"], binary).view(string)
    with pytest.raises(ValueError, match="row 2"):
        minhash(bad)
    with pytest.raises(ValueError, match="row 2"):
        kernel.normalize_array(bad)
    with pytest.raises(ValueError, match="row 2"):
        kernel.leader_clusters(bad, np.array([0, 3]), threshold=0.5, kind="word", ngram=2)


def test_invalid_utf8_from_buffers_and_in_a_later_chunk() -> None:
    data = b"ok" + b"\xc3\x28" + b"tail"  # 0xC3 0x28 is an invalid two-byte sequence
    offsets = np.array([0, 2, 4, 8], dtype=np.int64)
    bad = pa.Array.from_buffers(pa.large_string(), 3, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    with pytest.raises(ValueError, match="row 1"):
        minhash(bad)
    chunked = pa.chunked_array([pa.array(["a", "b", "c"], pa.large_string()), bad])
    with pytest.raises(ValueError, match="row 4"):
        minhash(chunked)
    # Sliced past the bad row: nothing wrong any more.
    assert minhash(bad.slice(2)).shingle_counts.tolist() == [1]


def test_lone_surrogates_are_value_errors() -> None:
    for call in (
        lambda: kernel.normalize_text("a\ud800b"),
        lambda: kernel.shingle_hashes("x\udfff", "word", 1),
        lambda: kernel.exact_jaccard("ok", "\ud83d", kind="char", ngram=2),
    ):
        with pytest.raises(ValueError):  # UnicodeEncodeError is a ValueError
            call()


@pytest.mark.parametrize(
    "overrides",
    [
        {"ngram": 0},
        {"num_perm": 0},
        {"bands": 0},
        {"rows": 0},
        {"bands": 9, "rows": 4},  # 36 > 32 permutations
        {"kind": "sentence"},
        {"seed": -1},
        {"seed": 2**64},
        {"ngram": kernel.MAX_NGRAM + 1},
    ],
)
def test_bad_minhash_arguments(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        kernel.minhash_batch(pa.array(DOCS), **{**PARAMS, **overrides})  # type: ignore[arg-type]


def test_bad_arguments_elsewhere() -> None:
    with pytest.raises(ValueError):
        kernel.shingle_hashes("text", "word", 0)
    with pytest.raises(ValueError):
        kernel.shingle_hashes("text", "bytes", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        kernel.permutations(0, 1)
    with pytest.raises(ValueError):
        kernel.exact_jaccard("a", "b", kind="word", ngram=0)
    with pytest.raises(ValueError):
        kernel.connected_components(np.array([1, 2], np.uint64), np.array([3], np.uint64))
    texts = pa.array(["a b", "a b", "c d"])
    for offsets in ([0, 2], [1, 3], [0, 2, 1, 3], [0, 4], [], [0, -1, 3]):
        with pytest.raises(ValueError):
            kernel.leader_clusters(texts, np.array(offsets, np.int64), threshold=0.5, kind="word", ngram=1)
    for threshold in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError):
            kernel.leader_clusters(texts, np.array([0, 3]), threshold=threshold, kind="word", ngram=1)
    with pytest.raises(ValueError):
        kernel.leader_clusters(texts, np.array([0, 3]), threshold=0.5, kind="word", ngram=1, max_leaders=0)


# -- large documents --------------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_fifty_megabyte_document_in_bounded_memory() -> None:
    # ~50 MB of words in one row, built straight into an Arrow buffer (no Python str copy).
    words = b"Alpha beta, gamma. DELTA epsilon zeta-eta theta\n"
    data = words * (50_000_000 // len(words))
    offsets = np.array([0, len(data)], dtype=np.int64)
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    gc.collect()
    before = _peak_rss_mb()
    result = kernel.minhash_batch(array, kind="word", ngram=5, num_perm=128, seed=1, bands=16, rows=8)
    chars = kernel.minhash_batch(array, kind="char", ngram=7, num_perm=16, seed=1, bands=2, rows=8)
    grown = _peak_rss_mb() - before
    assert grown < 32, f"peak RSS grew by {grown:.0f} MB while shingling a {len(data) >> 20} MB document"
    tokens = 8 * (len(data) // len(words))  # alpha beta gamma delta epsilon zeta eta theta
    assert result.shingle_counts.tolist() == [tokens - 4]
    assert chars.shingle_counts[0] > 0
    # The same text, cut to a size the reference can handle, repeats with the same period: so must the
    # signature of the large document equal that of a few repetitions (same shingle set).
    small = (words * 40).decode()
    assert result.signatures.tolist() == [
        ref.signature(sorted(set(ref.shingle_hashes(small, "word", 5))), num_perm=128, seed=1)
    ]


@pytest.mark.slow
def test_fifty_megabyte_single_token() -> None:
    token = "Ab" * 25_000_000
    folded = token.lower().encode()
    expected = xxhash.xxh3_64_intdigest(xxhash.xxh3_64_intdigest(folded).to_bytes(8, "little"))
    before = _peak_rss_mb()
    assert kernel.shingle_hashes(token, "word", 1) == [expected]
    assert _peak_rss_mb() - before < 32


# -- leader clustering and connected components ----------------------------------------------------------------


def test_leader_clusters_chain() -> None:
    # A ~ B and B ~ C, but C is far from A: C must not join A's cluster through B.
    a = " ".join(f"w{i}" for i in range(10))
    b = " ".join(f"w{i}" for i in range(2, 12))
    c = " ".join(f"w{i}" for i in range(4, 14))
    kw = {"kind": "word", "ngram": 1}
    assert kernel.exact_jaccard(a, b, **kw) == 8 / 12  # type: ignore[arg-type]
    assert kernel.exact_jaccard(b, c, **kw) == 8 / 12  # type: ignore[arg-type]
    assert kernel.exact_jaccard(a, c, **kw) == 6 / 14  # type: ignore[arg-type]
    texts = pa.array([a, b, c, "lonely doc", "lonely doc"])
    leader, similarity = kernel.leader_clusters(texts, np.array([0, 3, 5]), threshold=0.6, kind="word", ngram=1)
    assert leader.tolist() == [0, 0, 2, 3, 3]
    assert similarity.tolist() == [1.0, 8 / 12, 1.0, 1.0, 1.0]
    assert leader.dtype == np.int64 and similarity.dtype == np.float64 and leader.flags.writeable
    # With a lower threshold C joins A directly.
    leader, similarity = kernel.leader_clusters(texts, np.array([0, 3, 5]), threshold=0.4, kind="word", ngram=1)
    assert leader.tolist()[:3] == [0, 0, 0] and similarity[2] == 6 / 14


def test_leader_clusters_empty_docs_never_join() -> None:
    texts = pa.array(["", "...", None, "", "real words here"])
    leader, similarity = kernel.leader_clusters(texts, np.array([0, 5]), threshold=0.01, kind="word", ngram=1)
    assert leader.tolist() == [0, 1, 2, 3, 4]
    assert similarity.tolist() == [1.0] * 5


def test_leader_clusters_max_leaders() -> None:
    texts = pa.array(["x1 x2", "y1 y2", "z1 z2", "y1 y2 y3"])
    kw = {"threshold": 0.5, "kind": "word", "ngram": 1}
    leader, _ = kernel.leader_clusters(texts, np.array([0, 4]), **kw)  # type: ignore[arg-type]
    assert leader.tolist() == [0, 1, 2, 1]
    # Only the first leader is tried: the last row becomes a leader of its own.
    leader, _ = kernel.leader_clusters(texts, np.array([0, 4]), max_leaders=1, **kw)  # type: ignore[arg-type]
    assert leader.tolist() == [0, 1, 2, 3]


def test_leader_clusters_match_reference() -> None:
    rng = random.Random(4)
    vocab = [f"v{i}" for i in range(30)]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(120)]
    sizes = [rng.randint(1, 9) for _ in range(40)]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    offsets = [*offsets[offsets < len(texts)].tolist(), len(texts)]
    for threshold, max_leaders in ((0.3, 64), (0.5, 2), (0.8, 1)):
        leader, similarity = kernel.leader_clusters(
            pa.array(texts), np.array(offsets), threshold=threshold, kind="word", ngram=2, max_leaders=max_leaders
        )
        ref_leader, ref_similarity = ref.leader_clusters(
            texts, offsets, threshold=threshold, kind="word", ngram=2, max_leaders=max_leaders
        )
        assert leader.tolist() == ref_leader
        assert similarity.tolist() == ref_similarity


def bfs_components(a: list[int], b: list[int]) -> dict[int, int]:
    neighbours: dict[int, set[int]] = {}
    for x, y in zip(a, b, strict=True):
        neighbours.setdefault(x, set()).add(y)
        neighbours.setdefault(y, set()).add(x)
    root: dict[int, int] = {}
    for start in sorted(neighbours):
        if start in root:
            continue
        seen, queue = {start}, deque([start])
        while queue:
            for nxt in neighbours[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        for node in seen:
            root[node] = min(seen)
    return root


@pytest.mark.parametrize("seed", range(5))
def test_connected_components_vs_bfs(seed: int) -> None:
    rng = random.Random(seed)
    ids = [rng.getrandbits(64) for _ in range(300)] + [0, 2**64 - 1]
    a = [rng.choice(ids) for _ in range(400)]
    b = [rng.choice(ids) for _ in range(400)]
    nodes, roots = kernel.connected_components(np.array(a, np.uint64), np.array(b, np.uint64))
    expected = bfs_components(a, b)
    assert nodes.tolist() == sorted(expected)
    assert roots.tolist() == [expected[n] for n in sorted(expected)]
    assert nodes.dtype == np.uint64 and roots.dtype == np.uint64
    ref_nodes, ref_roots = ref.connected_components(a, b)
    assert (nodes.tolist(), roots.tolist()) == (ref_nodes, ref_roots)


def test_connected_components_edge_cases() -> None:
    nodes, roots = kernel.connected_components(np.array([], np.uint64), np.array([], np.uint64))
    assert nodes.size == 0 and roots.size == 0
    nodes, roots = kernel.connected_components(np.array([5, 7, 9]), np.array([5, 3, 7]))  # int64 accepted
    assert nodes.tolist() == [3, 5, 7, 9] and roots.tolist() == [3, 5, 3, 3]
    with pytest.raises(ValueError):
        kernel.connected_components(np.array([-1]), np.array([1]))
