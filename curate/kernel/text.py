"""Text: normalisation, shingling, exact Jaccard, MinHash signatures and LSH band hashes.

Definitions (``curate/kernel_reference.py`` implements the same in plain Python; both agree exactly):

- ``normalize``: NFKC, then ``str.casefold()``, then every punctuation character (Unicode category P*) becomes
  a space, then every run of ``str.isspace()`` characters becomes one space, trimmed at both ends. Case folding,
  punctuation and whitespace follow Python's ``unicodedata`` (Unicode 14); NFKC agrees for every character
  assigned in Unicode 14 (characters assigned later may normalise differently from Python 3.11).
- tokens: the normalised text split on ``" "``; token hash: xxh3_64 of its UTF-8 bytes (seed 0).
- word shingles (``ngram`` n): xxh3_64 of the concatenated little-endian token hashes of each window of n
  tokens; a text with 1 <= T < n tokens has exactly one shingle over all of them.
- char shingles: xxh3_64 of the UTF-8 bytes of each window of n code points of the normalised text; a text
  of fewer than n code points (but not empty) has one shingle, the whole text.
- permutations: ``a_i = next() | 1, b_i = next()`` from a splitmix64 stream seeded with ``seed``.
- signature value i: ``min over shingles h of ((a_i * h + b_i) mod 2**64) >> 32``; all ``0xFFFFFFFF`` for a
  document without shingles.
- band hash j: xxh3_64 of ``signature[j*rows:(j+1)*rows]`` as little-endian uint32, seed j; 0 for a document
  without shingles (callers must skip those rows: ``shingle_counts == 0``).
- exact Jaccard: ``|A & B| / |A | B|`` of the two shingle-hash sets; 0.0 if either is empty, so an empty or
  punctuation-only document is never a duplicate of anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native
from curate.kernel._binding import (
    U64_MAX,
    Kind,
    check_int,
    check_kind,
    check_str,
    concat,
    concat_strings,
    large_strings,
    numbers,
    over_chunks,
)

UNICODE_VERSION: str = _native.UNICODE_VERSION
"""Unicode version of the case-folding, punctuation and whitespace tables (Python's ``unicodedata``)."""
MAX_NGRAM: int = _native.MAX_NGRAM
MAX_PERM: int = _native.MAX_PERM


@dataclass(frozen=True)
class MinHashBatch:
    """MinHash results of a batch of documents, row-aligned with the input.

    ``signatures`` is uint32 ``(n, num_perm)``, ``band_hashes`` uint64 ``(n, bands)``, ``shingle_counts``
    uint32 ``(n,)`` (shingles counted with repetition; 0 for null, empty or punctuation-only text, whose band
    hashes are 0 and must be ignored).
    """

    signatures: NDArray[np.uint32]
    band_hashes: NDArray[np.uint64]
    shingle_counts: NDArray[np.uint32]

    def __len__(self) -> int:
        return int(self.shingle_counts.shape[0])


@dataclass(frozen=True)
class MinHashParams:
    """Checked MinHash / LSH parameters (shared by :func:`minhash_batch` and the cover survivors)."""

    kind: Kind
    ngram: int
    num_perm: int
    seed: int
    bands: int
    rows: int

    @classmethod
    def check(
        cls, kind: object, ngram: object, num_perm: object, seed: object, bands: object, rows: object
    ) -> MinHashParams:
        """The parameters, checked in argument order (the first bad one is named)."""
        checked_kind = check_kind(kind)
        checked_ngram = check_int("ngram", ngram, 1, MAX_NGRAM)
        checked_perm = check_int("num_perm", num_perm, 1, MAX_PERM)
        checked_seed = check_int("seed", seed, 0, U64_MAX)
        checked_bands = check_int("bands", bands, 1, checked_perm)
        checked_rows = check_int("rows", rows, 1, checked_perm)
        if checked_bands * checked_rows > checked_perm:
            raise ValueError(
                f"bands * rows must not exceed num_perm, got {checked_bands} * {checked_rows} > {checked_perm}"
            )
        return cls(checked_kind, checked_ngram, checked_perm, checked_seed, checked_bands, checked_rows)

    def native_args(self) -> tuple[Kind, int, int, int, int, int]:
        """``(kind, ngram, num_perm, seed, bands, rows)``, in the extension's argument order."""
        return self.kind, self.ngram, self.num_perm, self.seed, self.bands, self.rows


def simd_backend() -> str:
    """The MinHash kernel this CPU uses: ``"avx2"`` or ``"portable"``."""
    return _native.simd_backend()


# -- single texts --------------------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """The normalised form of ``text`` (see the module docstring).

    Raises ``TypeError`` for a non-str and ``UnicodeEncodeError`` (a ``ValueError``) for lone surrogates.
    """
    return _native.normalize_text(check_str("text", text))


def shingle_hashes(text: str, kind: Kind, ngram: int) -> list[int]:
    """The shingle hashes of ``text`` in order of occurrence, duplicates kept (empty if it has no token)."""
    return _native.shingle_hashes(check_str("text", text), check_kind(kind), check_int("ngram", ngram, 1, MAX_NGRAM))


def exact_jaccard(a: str, b: str, *, kind: Kind, ngram: int) -> float:
    """Jaccard similarity of the shingle-hash sets of ``a`` and ``b``; 0.0 if either has no shingle."""
    return _native.exact_jaccard(
        check_str("a", a), check_str("b", b), check_kind(kind), check_int("ngram", ngram, 1, MAX_NGRAM)
    )


def permutations(num_perm: int, seed: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The MinHash permutation parameters ``(a, b)``, two uint64 arrays of length ``num_perm``."""
    a, b = _native.permutations(check_int("num_perm", num_perm, 1, MAX_PERM), check_int("seed", seed, 0, U64_MAX))
    return numbers(a, np.uint64), numbers(b, np.uint64)


# -- arrays --------------------------------------------------------------------------------------------------


def normalize_array(texts: pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    """Normalise every row of a string array; nulls stay null.

    Raises ``ValueError`` naming the row if a value is not valid UTF-8.
    """
    chunks = over_chunks(texts, lambda arrays, row_base: _native.normalize_array(*arrays, row_base))
    return concat_strings([large_strings(n, buffers) for n, buffers in chunks])


def minhash_batch(
    texts: pa.Array | pa.ChunkedArray,
    *,
    kind: Kind,
    ngram: int,
    num_perm: int,
    seed: int,
    bands: int,
    rows: int,
) -> MinHashBatch:
    """MinHash signatures, LSH band hashes and shingle counts of every row (a null row has no shingles).

    Raises ``ValueError`` for bad arguments (``ngram`` or ``num_perm`` out of range, ``bands * rows >
    num_perm``) and, naming the row, for a value that is not valid UTF-8.
    """
    p = MinHashParams.check(kind, ngram, num_perm, seed, bands, rows)
    chunks = over_chunks(
        texts,
        lambda arrays, row_base: _native.minhash_batch(*arrays, *p.native_args(), row_base),
    )
    signatures = [numbers(sig, np.uint32, n, p.num_perm) for n, (sig, _, _) in chunks]
    band_hashes = [numbers(band, np.uint64, n, p.bands) for n, (_, band, _) in chunks]
    counts = [numbers(count, np.uint32) for _, (_, _, count) in chunks]
    if len(counts) == 1:
        return MinHashBatch(signatures[0], band_hashes[0], counts[0])
    return MinHashBatch(
        concat(signatures, np.empty((0, p.num_perm), np.uint32)),
        concat(band_hashes, np.empty((0, p.bands), np.uint64)),
        concat(counts, np.empty(0, np.uint32)),
    )
