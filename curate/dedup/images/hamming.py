"""Every pair of 64-bit hashes within Hamming distance ``d``: multi-index hashing, exact.

The 64 bits are cut into 4 chunks of 16. Two hashes within distance ``d`` differ in at most
``floor(d / 4)`` bits of at least one chunk (pigeonhole), so probing, for each hash and chunk,
every 16-bit value within radius ``r = floor(d / 4)`` of its own chunk finds every such pair
(Norouzi, Punjani & Fleet, "Fast exact search in Hamming space with multi-index hashing", 2012).
Each candidate is then verified on all 64 bits. Nothing is approximate: the result equals a
brute-force comparison of every pair (the tests check it).

Cost: ``4 * sum(C(16, i) for i <= r)`` probes per hash (4 for d <= 3, 68 for d <= 7, 548 for
d <= 11), each one bucket of an index of 65,536 buckets per chunk, so about ``probes * n / 65536``
candidates per hash on uniform hashes; memory is the index (4 x (n x 8 + 65,536 x 8) bytes) plus
at most ``BLOCK_CANDIDATES`` candidate pairs at a time, whatever ``n`` (the reference); the Rust
kernel holds the index (4 x (4 n + 8 x 65,537) bytes) and the pairs it returns.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

CHUNKS = 4
CHUNK_BITS = 16
BUCKETS = 1 << CHUNK_BITS
# Candidate pairs expanded and verified at once (x 16 bytes): bounds the memory of a search.
BLOCK_CANDIDATES = 1 << 22

_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(values: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Set bits of every uint64."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.int64)
    return _BYTE_POPCOUNT[values.view(np.uint8).reshape(-1, 8)].sum(axis=1).astype(np.int64)


def probe_masks(radius: int) -> NDArray[np.int64]:
    """Every 16-bit mask with at most ``radius`` bits set (0 first)."""
    masks = [0]
    for count in range(1, radius + 1):
        for bits in itertools.combinations(range(CHUNK_BITS), count):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def _expand(starts: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenation of ``arange(starts[i], starts[i] + counts[i])`` for every i."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(starts - (ends - counts), counts)
    return np.arange(total, dtype=np.int64) + offsets


def hamming_pairs(
    hashes: NDArray[np.uint64], max_distance: int, threads: int = 1
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row pairs ``(i, j)``, ``i < j``, whose hashes differ in at most ``max_distance`` bits,
    sorted by (i, j), each pair once: the Rust kernel (``rust_ext/src/hamming.rs``, the GIL
    released; its probes on ``threads`` threads, the same result whatever their number), the same
    algorithm as :func:`hamming_pairs_reference`."""
    import pyarrow as pa

    from curate import _native

    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2 or max_distance < 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arrays = pa.array(hashes, pa.uint64()).__arrow_c_array__()
    left, right = _native.hamming_pairs_u64(*arrays, int(max_distance), max(1, int(threads)))
    return np.frombuffer(left, dtype=np.uint64).astype(np.int64), np.frombuffer(right, dtype=np.uint64).astype(np.int64)


def hamming_pairs_reference(
    hashes: NDArray[np.uint64], max_distance: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The numpy reference of :func:`hamming_pairs` (same pairs, same order)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(hashes)
    if n < 2 or max_distance < 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    masks = probe_masks(min(max_distance // CHUNKS, CHUNK_BITS))
    found_i: list[NDArray[np.int64]] = []
    found_j: list[NDArray[np.int64]] = []
    for chunk in range(CHUNKS):
        values = ((hashes >> np.uint64(chunk * CHUNK_BITS)) & np.uint64(BUCKETS - 1)).astype(np.int64)
        order = np.argsort(values, kind="stable").astype(np.int64)
        counts = np.bincount(values, minlength=BUCKETS).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        # Per hash, how many candidates its probes reach: blocks of hashes stay under the cap.
        reach = counts[values[:, None] ^ masks[None, :]].sum(axis=1)
        cumulative = np.cumsum(reach)
        block_start = 0
        while block_start < n:
            limit = (cumulative[block_start - 1] if block_start else 0) + BLOCK_CANDIDATES
            block_end = max(block_start + 1, int(np.searchsorted(cumulative, limit, side="right")))
            block_end = min(block_end, n)
            rows = np.arange(block_start, block_end, dtype=np.int64)
            probes = (values[rows, None] ^ masks[None, :]).reshape(-1)
            queries = np.repeat(rows, len(masks))
            per_probe = counts[probes]
            candidates = order[_expand(starts[probes], per_probe)]
            queries = np.repeat(queries, per_probe)
            upper = candidates > queries
            queries, candidates = queries[upper], candidates[upper]
            close = popcount64(hashes[queries] ^ hashes[candidates]) <= max_distance
            found_i.append(queries[close])
            found_j.append(candidates[close])
            block_start = block_end
    if not found_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # A pair close in several chunks was found once per chunk: keep it once.
    # (Rows fit in 32 bits: the single resolve task holds every hash, far fewer than 2^32.)
    high = np.concatenate(found_i).astype(np.uint64) << np.uint64(32)
    keys = np.unique(high | np.concatenate(found_j).astype(np.uint64))
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
