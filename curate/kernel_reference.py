"""Pure-Python reference of the text kernel, written to be obviously correct rather than fast.

Every function here states the specification that the Rust kernel (``curate._native``, used through
``curate.kernel``) implements; the tests check that both give identical answers. Python's ``unicodedata``
(Unicode 14 for Python 3.11) is the source of truth for case folding, punctuation and whitespace.

Nothing in curate's hot paths imports this module.
"""

from __future__ import annotations

import itertools
import struct
import unicodedata
from collections.abc import Sequence
from typing import Literal

import xxhash

Kind = Literal["word", "char"]

MASK64 = (1 << 64) - 1
EMPTY_VALUE = 0xFFFFFFFF


def normalize(text: str) -> str:
    """NFKC, then ``str.casefold()``, then every P* character to a space, then whitespace runs to one space, trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = "".join(" " if unicodedata.category(c).startswith("P") else c for c in folded)
    out: list[str] = []
    pending = False
    for c in spaced:
        if c.isspace():
            pending = bool(out)
        else:
            if pending:
                out.append(" ")
                pending = False
            out.append(c)
    return "".join(out)


def tokens(text: str) -> list[str]:
    """The tokens of the normalised text (none if it is empty)."""
    normalized = normalize(text)
    return normalized.split(" ") if normalized else []


def xxh3_64(data: bytes, seed: int = 0) -> int:
    return xxhash.xxh3_64_intdigest(data, seed=seed)


def token_hash(token: str) -> int:
    return xxh3_64(token.encode("utf-8"))


def word_shingles(text: str, ngram: int) -> list[int]:
    """xxh3_64 of the little-endian token hashes of each window of ``ngram`` tokens."""
    hashes = [token_hash(t) for t in tokens(text)]
    if not hashes:
        return []
    packed = [h.to_bytes(8, "little") for h in hashes]
    if len(packed) < ngram:
        return [xxh3_64(b"".join(packed))]
    return [xxh3_64(b"".join(packed[i : i + ngram])) for i in range(len(packed) - ngram + 1)]


def char_shingles(text: str, ngram: int) -> list[int]:
    """xxh3_64 of the UTF-8 bytes of each window of ``ngram`` code points of the normalised text."""
    normalized = normalize(text)
    if not normalized:
        return []
    if len(normalized) < ngram:
        return [xxh3_64(normalized.encode("utf-8"))]
    return [xxh3_64(normalized[i : i + ngram].encode("utf-8")) for i in range(len(normalized) - ngram + 1)]


def shingle_hashes(text: str, kind: Kind, ngram: int) -> list[int]:
    if ngram < 1:
        raise ValueError("ngram must be at least 1")
    if kind == "word":
        return word_shingles(text, ngram)
    if kind == "char":
        return char_shingles(text, ngram)
    raise ValueError(f"kind must be 'word' or 'char', got {kind!r}")


def permutations(num_perm: int, seed: int) -> tuple[list[int], list[int]]:
    """``a_i = next() | 1, b_i = next()`` from a standard splitmix64 stream seeded with ``seed``."""
    state = seed & MASK64

    def next_u64() -> int:
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    a: list[int] = []
    b: list[int] = []
    for _ in range(num_perm):
        a.append(next_u64() | 1)
        b.append(next_u64())
    return a, b


def signature(shingles: Sequence[int], num_perm: int, seed: int) -> list[int]:
    """``min over h of (((a_i * h + b_i) mod 2^64) >> 32)``; all 0xFFFFFFFF without shingles."""
    a, b = permutations(num_perm, seed)
    return [
        min((((ai * h + bi) & MASK64) >> 32 for h in shingles), default=EMPTY_VALUE)
        for ai, bi in zip(a, b, strict=True)
    ]


def band_hashes(sig: Sequence[int], bands: int, rows: int, shingle_count: int) -> list[int]:
    """Band ``j`` = xxh3_64 of ``sig[j*rows:(j+1)*rows]`` as little-endian u32, seed ``j``; 0 without shingles."""
    if shingle_count == 0:
        return [0] * bands
    return [xxh3_64(struct.pack(f"<{rows}I", *sig[j * rows : (j + 1) * rows]), seed=j) for j in range(bands)]


def minhash(
    text: str | None, *, kind: Kind, ngram: int, num_perm: int, seed: int, bands: int, rows: int
) -> tuple[list[int], list[int], int]:
    """``(signature, band hashes, shingle count)`` of one document (``None`` has no shingles)."""
    shingles = [] if text is None else shingle_hashes(text, kind, ngram)
    sig = signature(shingles, num_perm, seed)
    return sig, band_hashes(sig, bands, rows, len(shingles)), len(shingles)


def jaccard(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def exact_jaccard(a: str, b: str, *, kind: Kind, ngram: int) -> float:
    return jaccard(set(shingle_hashes(a, kind, ngram)), set(shingle_hashes(b, kind, ngram)))


def leader_clusters(
    texts: Sequence[str | None],
    group_offsets: Sequence[int],
    *,
    threshold: float,
    kind: Kind,
    ngram: int,
    max_leaders: int = 64,
) -> tuple[list[int], list[float]]:
    """Greedy leader clustering within each group of consecutive rows (first row of a group leads)."""
    sets = [set() if t is None else set(shingle_hashes(t, kind, ngram)) for t in texts]
    leader = list(range(len(texts)))
    similarity = [1.0] * len(texts)
    for start, end in itertools.pairwise(group_offsets):
        leaders: list[int] = []
        for row in range(start, end):
            for candidate in leaders[:max_leaders]:
                sim = jaccard(sets[row], sets[candidate])
                if sim >= threshold:
                    leader[row], similarity[row] = candidate, sim
                    break
            else:
                leaders.append(row)
    return leader, similarity


# Candidate pairs of a large group's LSH buckets (rust_ext/src/survivors.rs): all pairs of a bucket of at
# most BUCKET_ALL_PAIRS members, else each member with the bucket's first BUCKET_HUBS and its next BUCKET_WINDOW.
BUCKET_ALL_PAIRS = 16
BUCKET_HUBS = 8
BUCKET_WINDOW = 8
# Estimated pairs down to threshold - ESTIMATE_MARGIN are second chances for a member left without a verified
# survivor (a failed exact check, or a survivor covering nobody); it tries at most ATTACH_TRIES of them.
ESTIMATE_MARGIN = 0.1
ATTACH_TRIES = 8
MERGE_MEMBERS = 8


def greedy_cover(size: int, edges: dict[tuple[int, int], float]) -> tuple[list[int], list[float]]:
    """Repeatedly pick the uncovered node covering the most uncovered nodes (itself and its uncovered
    neighbours), ties to the lowest index; the nodes it covers point at it with their edge's similarity."""
    neighbours: dict[int, dict[int, float]] = {v: {} for v in range(size)}
    for (a, b), sim in edges.items():
        neighbours[a][b] = sim
        neighbours[b][a] = sim
    owner: list[int | None] = [None] * size
    similarity = [1.0] * size
    while None in owner:
        uncovered = [v for v in range(size) if owner[v] is None]
        best = max(uncovered, key=lambda v: (1 + sum(owner[u] is None for u in neighbours[v]), -v))
        owner[best] = best
        for u, sim in neighbours[best].items():
            if owner[u] is None:
                owner[u], similarity[u] = best, sim
    return [v for v in owner if v is not None], similarity


def bucket_pairs(bucket: Sequence[int]) -> set[tuple[int, int]]:
    """Candidate pairs of one LSH bucket (members in rank order)."""
    pairs: set[tuple[int, int]] = set()
    for pos, x in enumerate(bucket):
        if len(bucket) <= BUCKET_ALL_PAIRS:
            later = bucket[pos + 1 :]
        else:
            pairs.update((hub, x) for hub in bucket[: min(pos, BUCKET_HUBS)])
            later = bucket[pos + 1 : pos + 1 + BUCKET_WINDOW]
        pairs.update((x, y) for y in later)
    return pairs


def cover_survivors(
    texts: Sequence[str | None],
    group_offsets: Sequence[int],
    *,
    threshold: float,
    kind: Kind,
    ngram: int,
    num_perm: int,
    seed: int,
    bands: int,
    rows: int,
    exact_pairs_max: int,
) -> tuple[list[int], list[float]]:
    """Survivors covering each group of consecutive rows (rank order): see ``curate.kernel.cover_survivors``."""
    sets = [set() if t is None else set(shingle_hashes(t, kind, ngram)) for t in texts]
    survivor = list(range(len(texts)))
    similarity = [1.0] * len(texts)
    for start, end in itertools.pairwise(group_offsets):
        size = end - start
        if size < 2:
            continue
        group = sets[start:end]
        if size <= exact_pairs_max:
            edges = {}
            for a, b in itertools.combinations(range(size), 2):
                sim = jaccard(group[a], group[b])
                if sim >= threshold:
                    edges[(a, b)] = sim
            owner, sims = greedy_cover(size, edges)
        else:
            owner, sims = _estimated_cover(group, threshold, num_perm, seed, bands, rows)
        for i in range(size):
            survivor[start + i], similarity[start + i] = start + owner[i], sims[i]
    return survivor, similarity


def _estimated_cover(
    group: list[set[int]], threshold: float, num_perm: int, seed: int, bands: int, rows: int
) -> tuple[list[int], list[float]]:
    size = len(group)
    sigs = [signature(sorted(s), num_perm, seed) for s in group]
    keys = [band_hashes(sig, bands, rows, len(s)) for sig, s in zip(sigs, group, strict=True)]

    def estimate(a: int, b: int) -> float:
        return sum(x == y for x, y in zip(sigs[a], sigs[b], strict=True)) / num_perm

    def candidates(members: list[int]) -> dict[tuple[int, int], float]:
        """Pairs of ``members`` sharing a bucket, with their estimate, when >= threshold - ESTIMATE_MARGIN."""
        pairs: set[tuple[int, int]] = set()
        for band in range(bands):
            buckets: dict[int, list[int]] = {}
            for i in members:
                buckets.setdefault(keys[i][band], []).append(i)
            for bucket in buckets.values():
                pairs |= bucket_pairs(bucket)
        estimated = {pair: estimate(*pair) for pair in sorted(pairs)}
        return {pair: sim for pair, sim in estimated.items() if sim >= threshold - ESTIMATE_MARGIN}

    with_shingles = [i for i in range(size) if group[i]]
    wide = candidates(with_shingles)
    owner, sims = greedy_cover(size, {pair: sim for pair, sim in wide.items() if sim >= threshold})
    failed_from: list[int | None] = [None] * size
    members = [0] * size
    for i in range(size):
        if owner[i] != i:
            exact = jaccard(group[i], group[owner[i]])
            if exact >= threshold:
                sims[i] = exact
                members[owner[i]] += 1
            else:
                failed_from[i], owner[i], sims[i] = owner[i], i, 1.0

    def targets(edges: dict[tuple[int, int], float], v: int) -> list[int]:
        found = []
        for (a, b), est in edges.items():
            other = b if a == v else a if b == v else None
            if other is not None and other != failed_from[v] and owner[other] == other:
                found.append((-est, other))
        return [other for _, other in sorted(found)[:ATTACH_TRIES]]

    for i in range(size):
        if owner[i] != i or members[i] > 0:
            continue
        for other in targets(wide, i):
            exact = jaccard(group[i], group[other])
            if exact >= threshold:
                owner[i], sims[i] = other, exact
                members[other] += 1
                break
    # Second round over the survivors' own buckets: a survivor with at most MERGE_MEMBERS members moves with
    # all of them to the first adjacent survivor every one of them is exactly >= threshold to.
    graph = candidates([i for i in with_shingles if owner[i] == i])
    cluster: dict[int, list[int]] = {v: [] for v in range(size)}
    for i in range(size):
        if owner[i] != i and members[owner[i]] <= MERGE_MEMBERS:
            cluster[owner[i]].append(i)
    for v in range(size):
        if owner[v] != v or members[v] > MERGE_MEMBERS:
            continue
        for other in targets(graph, v):
            moving = [v, *cluster[v]]
            exact = [jaccard(group[m], group[other]) for m in moving]
            if all(x >= threshold for x in exact):
                for m, x in zip(moving, exact, strict=True):
                    owner[m], sims[m] = other, x
                members[other] += len(moving)
                members[v] = 0
                cluster[other].extend(moving)
                cluster[v] = []
                break
    return owner, sims


def connected_components(a: Sequence[int], b: Sequence[int]) -> tuple[list[int], list[int]]:
    """Nodes sorted ascending and the smallest node of each one's component."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a, b, strict=True):
        parent.setdefault(x, x)
        parent.setdefault(y, y)
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    nodes = sorted(parent)
    return nodes, [find(n) for n in nodes]
