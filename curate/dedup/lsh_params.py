"""Choosing LSH bands × rows for a Jaccard threshold.

A pair with Jaccard similarity s becomes a candidate with probability
P(s) = 1 - (1 - s^r)^b. We pick (b, r) with b·r <= num_perm minimising
w_fp · mean(P over [0, t]) + w_fn · mean(1 - P over [t, 1]): the weighted false-positive
and false-negative areas under the S-curve, each normalised by its interval's length so
that the weights read as "how much a miss costs against a wasted comparison". When
candidates are verified afterwards a false positive costs only a comparison, so misses
are weighted far more heavily.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

VERIFIED_WEIGHTS = (0.05, 0.95)
UNVERIFIED_WEIGHTS = (0.5, 0.5)


@dataclass(frozen=True)
class BandChoice:
    bands: int
    rows: int
    false_positive_area: float
    false_negative_area: float

    def candidate_probability(self, similarity: float) -> float:
        return float(1.0 - (1.0 - similarity**self.rows) ** self.bands)


def candidate_probability(similarity: np.ndarray, bands: int, rows: int) -> np.ndarray:
    result: np.ndarray = 1.0 - (1.0 - similarity**rows) ** bands
    return result


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> BandChoice:
    """The (bands, rows) minimising the weighted error areas; ties go to fewer bands."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    below = np.linspace(0.0, threshold, 512)
    above = np.linspace(threshold, 1.0, 512)
    best: tuple[float, BandChoice] | None = None
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = float(np.trapezoid(candidate_probability(below, bands, rows), below)) / threshold
            fn = float(np.trapezoid(1.0 - candidate_probability(above, bands, rows), above)) / (1.0 - threshold)
            cost = fp_weight * fp + fn_weight * fn
            if best is None or cost < best[0] - 1e-12:
                best = (cost, BandChoice(bands, rows, fp, fn))
    assert best is not None
    return best[1]
