"""The shared survivor choice: which members of a group of candidate duplicates are kept, and which
kept member every other one is a duplicate of.

Every dedup method calls this module, never a copy of it: minhash (``curate.dedup.minhash.clusters``)
with ``cover`` or ``keep-rule``, and exact dedup, whose groups are transitive (equal hashes), through
``group_leaders``. The coming image and semantic dedup must call ``choose_survivors`` too, with their
groups sorted best survivor first like the others; a similarity other than shingle Jaccard is a new
kernel graph builder feeding the same greedy cover, not a new survivor rule. ``dedup lines`` removes
repeated lines inside documents and never chooses between documents, so it has no survivors.

Two modes (``--survivors``):

- ``cover`` (the default): within each group, a greedy cover of the verified similarity graph. It
  repeatedly keeps the not yet covered member that covers the most not yet covered members (itself
  included); ``--keep`` (then id, then input position) only decides between equal coverage. Every removed
  member is at or above the threshold (exact Jaccard) to its ``dup_of`` survivor and no two survivors that
  were compared are. It keeps as few documents as a greedy cover finds, but the survivor of a cluster is
  its centre, not necessarily the member ``--keep`` ranks best.
- ``keep-rule``: leader clustering in ``--keep`` order (the behaviour before ``cover``): the best-ranked
  member always survives and every other member joins the first survivor it is similar enough to (at most
  ``max_leaders`` survivors are tried per member). It keeps more documents, but never drops a member
  ``--keep`` ranks above its survivor, which users ranking by ``max:quality_score`` may prefer.

Cost of ``cover`` per group of k members: a group of at most ``EXACT_PAIRS_MAX`` members compares all
k(k-1)/2 pairs on exact Jaccard with the shingle sets of the group in memory. A larger group (crawl
boilerplate) holds one MinHash signature (4·num_perm bytes) and band hashes (8·bands bytes) per member,
evaluates at most ``16 · bands`` candidate pairs per member on the signature estimate (pairs sharing an LSH
bucket, see ``curate.kernel.cover_survivors``), keeps the graph of estimated edges,
covers it in O(E log k), shingles each member twice (signature, then the exact check against its
survivor), gives members left without a verified survivor up to 8 exact second chances, and lets small
clusters move to a similar survivor found in the survivors' own buckets: O(k · (shingling + bands · 16 ·
num_perm)) time and O(k · (4·num_perm + 8·bands) + 24·E) memory. See docs/dedup-minhash.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import kernel
from curate.errors import UsageError

SURVIVOR_MODES = ("cover", "keep-rule")
# Groups up to this size compare all their pairs exactly (32k comparisons at most); larger ones are
# estimated on their LSH buckets.
EXACT_PAIRS_MAX = 256


def check_mode(mode: str) -> str:
    if mode not in SURVIVOR_MODES:
        raise UsageError(f"--survivors must be one of {', '.join(SURVIVOR_MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class TextSimilarity:
    """What makes two texts duplicates: exact Jaccard of their shingle sets at or above ``threshold``,
    and the MinHash banding that made the candidate groups (used to estimate large groups)."""

    threshold: float
    kind: kernel.Kind
    ngram: int
    num_perm: int
    seed: int
    bands: int
    rows: int

    def hashing(self) -> dict[str, Any]:
        """The shingling and MinHash parameters, as the kernel's functions take them."""
        return {
            "kind": self.kind,
            "ngram": self.ngram,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "bands": self.bands,
            "rows": self.rows,
        }


def choose_survivors(
    texts: pa.Array | pa.ChunkedArray,
    group_offsets: NDArray[np.int64],
    similarity: TextSimilarity,
    *,
    mode: str,
    max_leaders: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per row of groups sorted best survivor first (``group_offsets`` = ``[0, ..., len(texts)]``): the
    row index of its survivor (its own for survivors) and its exact similarity to it (1.0 for survivors).

    ``max_leaders`` bounds the survivors a member is compared with in ``keep-rule`` mode only.
    """
    if check_mode(mode) == "keep-rule":
        return kernel.leader_clusters(
            texts,
            group_offsets,
            threshold=similarity.threshold,
            kind=similarity.kind,
            ngram=similarity.ngram,
            max_leaders=max_leaders,
        )
    return kernel.cover_survivors(
        texts,
        group_offsets,
        threshold=similarity.threshold,
        **similarity.hashing(),
        exact_pairs_max=EXACT_PAIRS_MAX,
    )


def group_leaders(group_offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Every row's survivor when each whole group is one cluster (transitive duplicates, or minhash
    without verification): the group's first, best-ranked row."""
    offsets = np.asarray(group_offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    leaders: NDArray[np.int64] = np.repeat(offsets[:-1], sizes).astype(np.int64)
    return leaders
