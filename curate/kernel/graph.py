"""Graph: verification of LSH candidate groups (leader clusters, cover survivors) and connected components."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native
from curate.kernel._binding import (
    U64_MAX,
    Kind,
    capsules,
    check_int,
    check_kind,
    check_offsets,
    check_threshold,
    numbers,
    numeric_capsules,
    single_array,
    u64_array,
)
from curate.kernel.text import MAX_NGRAM, MinHashParams


def leader_clusters(
    texts: pa.Array | pa.ChunkedArray,
    group_offsets: NDArray[np.int64],
    *,
    threshold: float,
    kind: Kind,
    ngram: int,
    max_leaders: int = 64,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Verify LSH clusters by greedy leader clustering on exact Jaccard similarity.

    ``texts`` are sorted by group, then by priority; ``group_offsets`` are the int64 group boundaries
    ``[0, ..., len(texts)]``. Within each group the first row is a leader; each following row joins the first
    of the group's leaders (in order of creation, at most ``max_leaders`` of them are tried) whose similarity
    is >= ``threshold``, else it becomes a leader itself. Returns, per row, the row index of its leader (its
    own index for leaders) and the similarity to it (1.0 for leaders).

    Raises ``ValueError`` for malformed offsets, ``threshold`` outside (0, 1], ``max_leaders < 1``, or invalid
    UTF-8.
    """
    kind = check_kind(kind)
    ngram = check_int("ngram", ngram, 1, MAX_NGRAM)
    max_leaders = check_int("max_leaders", max_leaders, 1, U64_MAX)
    threshold = check_threshold(threshold)
    array = single_array(texts)
    offsets = check_offsets(group_offsets)
    leaders, similarity = _native.leader_clusters(
        *capsules(array), *numeric_capsules(offsets, pa.int64()), threshold, kind, ngram, max_leaders
    )
    return numbers(leaders, np.int64), numbers(similarity, np.float64)


def cover_survivors(
    texts: pa.Array | pa.ChunkedArray,
    group_offsets: NDArray[np.int64],
    *,
    threshold: float,
    kind: Kind,
    ngram: int,
    num_perm: int,
    seed: int,
    bands: int,
    rows: int,
    exact_pairs_max: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Survivors that cover each group: a greedy cover of the group's similarity graph.

    ``texts`` are sorted by group, then by rank (best survivor first); ``group_offsets`` are the int64 group
    boundaries ``[0, ..., len(texts)]``. Within a group, rows are joined by an edge when their similarity is
    >= ``threshold``; the cover repeatedly takes the not yet covered row that covers the most not yet covered
    rows (itself and its neighbours), ties to the best rank; it survives and the rows it covers name it.
    Survivors are never joined by an edge.

    A group of at most ``exact_pairs_max`` rows compares all its pairs on exact Jaccard. A larger one takes
    as candidates the pairs sharing a bucket of its own LSH banding (``num_perm``, ``seed``, ``bands``,
    ``rows``: those of the LSH phase): all pairs of a bucket of at most 16 rows, else each row with the
    bucket's first 8 rows and its next 8; edges are the candidates whose MinHash estimate is >= ``threshold``.
    Candidates estimated down to ``threshold - 0.1`` are kept as second chances. After the cover, every
    removed row's exact Jaccard to its survivor is computed; a row below the threshold, and a survivor that
    covers nobody, try at most 8 adjacent survivors exactly (highest estimate first, then rank), or else
    survive. Last, the survivors alone are banded the same way, and a survivor with at most 8 members
    moves with all of them to the first of at most 8 adjacent survivors every one of them is exactly >=
    ``threshold`` to. ``curate/kernel_reference.py`` spells out every step.

    Returns, per row, the row index of its survivor (its own for survivors) and its exact Jaccard
    similarity to it (1.0 for survivors). Raises ``ValueError`` for malformed offsets, ``threshold`` outside
    (0, 1], bad MinHash parameters, ``exact_pairs_max < 1`` or invalid UTF-8.
    """
    p = MinHashParams.check(kind, ngram, num_perm, seed, bands, rows)
    exact_pairs_max = check_int("exact_pairs_max", exact_pairs_max, 1, U64_MAX)
    threshold = check_threshold(threshold)
    array = single_array(texts)
    offsets = check_offsets(group_offsets)
    survivor, similarity = _native.cover_survivors(
        *capsules(array),
        *numeric_capsules(offsets, pa.int64()),
        threshold,
        *p.native_args(),
        exact_pairs_max,
    )
    return numbers(survivor, np.int64), numbers(similarity, np.float64)


def connected_components(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Connected components of the undirected graph with edges ``a[i] - b[i]``.

    Returns ``(nodes, roots)``: every distinct node sorted ascending, and the smallest node id of its
    component. Raises ``ValueError`` if the arrays differ in length.
    """
    left, right = u64_array("a", a), u64_array("b", b)
    if left.shape != right.shape:
        raise ValueError(f"edge arrays differ in length: {left.shape[0]} and {right.shape[0]}")
    nodes, roots = _native.connected_components(
        *numeric_capsules(left, pa.uint64()), *numeric_capsules(right, pa.uint64())
    )
    return numbers(nodes, np.uint64), numbers(roots, np.uint64)
