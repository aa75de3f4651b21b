"""Cosine nearest neighbours of L2-normalised embeddings with faiss: edges at or above a threshold.

Up to ``exact_max`` vectors the search is exact (``IndexFlatIP``: every pair's inner product,
O(n^2 d) time, no extra memory). Beyond, an ``IndexIVFFlat`` with ``nlist = 4 sqrt(n)`` lists
(k-means trained on a seeded sample of ``64 nlist`` vectors) searches ``nprobe`` lists per query:
approximate (a neighbour in a list not probed is missed; bench/ measures the recall against exact
search), about ``nprobe / nlist`` of the exact cost. Memory: the caller's unit vectors (n x d x 4
bytes: 2 GiB for 1M 512-d, normalised in place), their copy in the index (as much again), and
``neighbours`` results per query of the block searched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from curate.errors import UsageError

SEARCH_BLOCK = 65_536
PAIR_BLOCK = 65_536  # pairs whose cosine is computed at once: 2 x 65,536 x d floats
ROW_BLOCK = 65_536  # rows normalised at once
TRAIN_PER_LIST = 64


def faiss_module() -> object:
    try:
        import faiss
    except ImportError as exc:
        raise UsageError("dedup images --by embedding needs faiss: pip install 'curate[images]'") from exc
    return faiss


def normalise_in_place(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale every row to unit length, block by block (a whole-matrix ``np.linalg.norm`` would
    allocate a temporary as large as the matrix); a zero row stays zero: it is nobody's duplicate."""
    for start in range(0, len(vectors), ROW_BLOCK):
        block = vectors[start : start + ROW_BLOCK]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
        np.divide(block, norms, out=block, where=norms > 0)
    return vectors


def normalised(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """A float32 copy of ``vectors`` with unit rows."""
    return normalise_in_place(np.array(vectors, dtype=np.float32, order="C"))


def copy_rows(out: NDArray[np.float32], values: pa.ChunkedArray) -> None:
    """A fixed-size-list column's rows into ``out`` (len(values) x d), chunk by chunk: no combined
    copy of the column on the way."""
    dimension = values.type.list_size
    row = 0
    for chunk in values.chunks:
        flat = pc.list_flatten(chunk).to_numpy(zero_copy_only=False)
        out[row : row + len(chunk)] = flat.reshape(-1, dimension)
        row += len(chunk)


def pair_cosines(vectors: NDArray[np.float32], i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float32]:
    """The inner product of rows ``i[k]`` and ``j[k]`` for every k, computed in blocks: gathering
    every pair's two rows at once would take 8 d bytes per pair (5.4 GB for 1.3M pairs of 512-d)."""
    out = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), PAIR_BLOCK):
        a, b = i[start : start + PAIR_BLOCK], j[start : start + PAIR_BLOCK]
        out[start : start + len(a)] = np.einsum("ij,ij->i", vectors[a], vectors[b])
    return out


def add_by_list(faiss: Any, index: Any, quantizer: Any, vectors: NDArray[np.float32]) -> None:
    """Add every row to the IVF index list by list: each inverted list is a vector that grows by
    doubling as rows are appended, so rows added in input order leave lists up to twice their
    size (measured: the index took 1.43 times the vectors); sorted by list, most lists are
    sized once (1.1 times). Each row keeps its position as its id, and within a list rows stay in
    input order, as ``index.add`` would leave them: the search's answer is the same."""
    _, assigned = quantizer.search(vectors, 1)
    assigned = assigned.ravel()
    order = np.argsort(assigned, kind="stable")
    for start in range(0, len(order), SEARCH_BLOCK):
        rows = order[start : start + SEARCH_BLOCK]
        block = np.ascontiguousarray(vectors[rows])
        ids = np.ascontiguousarray(rows, dtype=np.int64)
        lists = np.ascontiguousarray(assigned[rows], dtype=np.int64)
        index.add_core(len(rows), faiss.swig_ptr(block), faiss.swig_ptr(ids), faiss.swig_ptr(lists))


def cosine_pairs(
    vectors: NDArray[np.float32], threshold: float, *, neighbours: int, exact_max: int, nprobe: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row pairs (i < j), each once, whose cosine is at or above ``threshold`` among each row's
    ``neighbours`` nearest (exact below ``exact_max`` rows, IVF above). A C-contiguous float32
    ``vectors`` is normalised in place (no copy); any other is copied first."""
    faiss = faiss_module()
    vectors = normalise_in_place(np.ascontiguousarray(vectors, dtype=np.float32))
    n, dimension = vectors.shape
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n <= exact_max:
        index = faiss.IndexFlatIP(dimension)  # type: ignore[attr-defined]
        index.add(vectors)
    else:
        lists = max(1, int(4 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dimension)  # type: ignore[attr-defined]
        index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)  # type: ignore[attr-defined]
        sample = np.random.default_rng(0).choice(n, size=min(n, TRAIN_PER_LIST * lists), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = nprobe
        add_by_list(faiss, index, quantizer, vectors)
    k = min(neighbours + 1, n)
    found_i: list[NDArray[np.int64]] = []
    found_j: list[NDArray[np.int64]] = []
    for start in range(0, n, SEARCH_BLOCK):
        block = vectors[start : start + SEARCH_BLOCK]
        scores, ids = index.search(block, k)
        rows = np.repeat(np.arange(start, start + len(block), dtype=np.int64), k)
        ids = ids.reshape(-1).astype(np.int64)
        # faiss scores in float32; a pair of equal vectors may score 0.9999999.
        keep = (ids >= 0) & (ids != rows) & (scores.reshape(-1) >= np.float32(threshold) - np.float32(1e-6))
        i, j = np.minimum(rows[keep], ids[keep]), np.maximum(rows[keep], ids[keep])
        found_i.append(i)
        found_j.append(j)
    keys = np.unique(
        np.concatenate(found_i).astype(np.uint64) << np.uint64(32) | np.concatenate(found_j).astype(np.uint64)
    )
    i, j = (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
    # Verify on the exact cosine (IVF scores are exact too, but float32 ties are settled here once).
    exact = pair_cosines(vectors, i, j) >= threshold - 1e-6
    return i[exact], j[exact]
