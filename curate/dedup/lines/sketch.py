"""A count-min sketch over 64-bit line hashes, in numpy (whole arrays, no per-line Python).

Row d maps a hash h to counter ``(h * A_d mod 2^64) >> (64 - log2(width))`` with odd
multipliers A_d from a splitmix64 stream: multiply-shift hashing, which is universal enough
for the sketch's guarantee because h is already a good 64-bit hash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.dedup.lines.config import SketchShape
from curate.io.writers import temporary_path

_SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _multipliers(depth: int, seed: int = 0x5EED) -> np.ndarray:
    state = seed
    values = []
    for _ in range(depth):
        state = (state + _SPLITMIX_GAMMA) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        values.append((z ^ (z >> 31)) | 1)
    return np.array(values, dtype=np.uint64)


def _columns(hashes: np.ndarray, shape: SketchShape) -> np.ndarray:
    """(depth, n) counter indices of ``hashes``."""
    shift = np.uint64(64 - int(shape.width).bit_length() + 1)
    multipliers = _multipliers(shape.depth)[:, None]
    with np.errstate(over="ignore"):
        return (hashes[None, :].astype(np.uint64) * multipliers) >> shift


def add(sketch: np.ndarray, hashes: np.ndarray, shape: SketchShape) -> None:
    for row, columns in enumerate(_columns(hashes, shape)):
        sketch[row] += np.bincount(columns.astype(np.int64), minlength=shape.width).astype(np.uint32)


def estimate(sketch: np.ndarray, hashes: np.ndarray, shape: SketchShape) -> np.ndarray:
    """Estimated counts (never below the true count)."""
    columns = _columns(hashes, shape).astype(np.int64)
    estimates: np.ndarray = sketch[np.arange(shape.depth)[:, None], columns].min(axis=0)
    return estimates


def empty(shape: SketchShape) -> np.ndarray:
    return np.zeros((shape.depth, shape.width), dtype=np.uint32)


def save(root: Path, name: str, sketch: np.ndarray) -> Path:
    """Written as .npy without pickle, renamed into place."""
    final = root / name
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(root, name)
    with open(temporary, "wb") as handle:
        np.save(handle, sketch, allow_pickle=False)
    temporary.replace(final)
    return final


def load(path: Path) -> np.ndarray:
    loaded: np.ndarray = np.load(path, allow_pickle=False)
    return loaded
