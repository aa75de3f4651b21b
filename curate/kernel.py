"""The text kernel: normalisation, shingling, MinHash signatures, LSH band hashes and candidate verification.

This is the only module the rest of curate imports for these operations. It validates arguments, hands
Arrow arrays to the Rust extension (``curate._native``) zero-copy through the Arrow C data interface, and
wraps the results in numpy / pyarrow. The heavy work runs in Rust with the GIL released.

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

Errors: bad arguments raise ``ValueError`` (``TypeError`` for wrong types); invalid UTF-8 in an array raises
``ValueError`` naming the row; a ``str`` with lone surrogates raises ``UnicodeEncodeError`` (a ``ValueError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from curate import _native

__all__ = [
    "MAX_NGRAM",
    "MAX_PERM",
    "UNICODE_VERSION",
    "Kind",
    "MinHashBatch",
    "SegmentRemoval",
    "connected_components",
    "content_hashes",
    "exact_jaccard",
    "leader_clusters",
    "minhash_batch",
    "normalize_array",
    "normalize_text",
    "permutations",
    "remove_segments",
    "segment_hashes",
    "shingle_hashes",
    "simd_backend",
]

Kind: TypeAlias = Literal["word", "char"]
TextArray: TypeAlias = "pa.Array | pa.ChunkedArray"

UNICODE_VERSION: str = _native.UNICODE_VERSION
"""Unicode version of the case-folding, punctuation and whitespace tables (Python's ``unicodedata``)."""
MAX_NGRAM: int = _native.MAX_NGRAM
MAX_PERM: int = _native.MAX_PERM

_KINDS = ("word", "char")
_U64_MAX = (1 << 64) - 1


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


def simd_backend() -> str:
    """The MinHash kernel this CPU uses: ``"avx2"`` or ``"portable"``."""
    return _native.simd_backend()


# -- argument checking ---------------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {number}")
    return number


def _check_kind(kind: object) -> Kind:
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'word' or 'char', got {kind!r}")
    return "word" if kind == "word" else "char"


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _string_chunks(texts: object) -> list[pa.Array]:
    """The chunks of a string-like Arrow array, each of type string or large_string (zero-copy if possible)."""
    if isinstance(texts, pa.ChunkedArray):
        chunks = list(texts.chunks)
    elif isinstance(texts, pa.Array):
        chunks = [texts]
    else:
        raise TypeError(
            f"texts must be a pyarrow Array or ChunkedArray of strings, got {type(texts).__name__}"
            " (wrap Python strings with pyarrow.array(values, pyarrow.large_string()))"
        )
    out: list[pa.Array] = []
    for chunk in chunks:
        kind = chunk.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            out.append(chunk)
        elif (
            pa.types.is_string_view(kind)
            or pa.types.is_null(kind)
            or (pa.types.is_dictionary(kind) and _is_text(kind.value_type))
        ):
            out.append(chunk.cast(pa.large_string()))
        else:
            raise TypeError(f"texts must be a string or large_string array, got {kind}")
    return out


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def _single_array(texts: object) -> pa.Array:
    chunks = _string_chunks(texts)
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return pa.array([], pa.large_string())
    return pa.concat_arrays([c.cast(pa.large_string()) for c in chunks])


def _u64_array(name: str, values: object) -> NDArray[np.uint64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "i":
        if array.size and int(array.min()) < 0:
            raise ValueError(f"{name} must not contain negative node ids")
    elif array.dtype.kind != "u" and array.size:
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.uint64)


# -- single texts --------------------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """The normalised form of ``text`` (see the module docstring).

    Raises ``TypeError`` for a non-str and ``UnicodeEncodeError`` (a ``ValueError``) for lone surrogates.
    """
    return _native.normalize_text(_check_str("text", text))


def shingle_hashes(text: str, kind: Kind, ngram: int) -> list[int]:
    """The shingle hashes of ``text`` in order of occurrence, duplicates kept (empty if it has no token)."""
    return _native.shingle_hashes(_check_str("text", text), _check_kind(kind), _check_int("ngram", ngram, 1, MAX_NGRAM))


def exact_jaccard(a: str, b: str, *, kind: Kind, ngram: int) -> float:
    """Jaccard similarity of the shingle-hash sets of ``a`` and ``b``; 0.0 if either has no shingle."""
    return _native.exact_jaccard(
        _check_str("a", a), _check_str("b", b), _check_kind(kind), _check_int("ngram", ngram, 1, MAX_NGRAM)
    )


def permutations(num_perm: int, seed: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The MinHash permutation parameters ``(a, b)``, two uint64 arrays of length ``num_perm``."""
    a, b = _native.permutations(_check_int("num_perm", num_perm, 1, MAX_PERM), _check_int("seed", seed, 0, _U64_MAX))
    return np.frombuffer(a, dtype=np.uint64), np.frombuffer(b, dtype=np.uint64)


# -- arrays --------------------------------------------------------------------------------------------------


def normalize_array(texts: pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    """Normalise every row of a string array; nulls stay null.

    Raises ``ValueError`` naming the row if a value is not valid UTF-8.
    """
    results: list[pa.Array] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        offsets, data, validity = _native.normalize_array(*chunk.__arrow_c_array__(), row_base)
        buffers = [
            None if validity is None else pa.py_buffer(validity),
            pa.py_buffer(offsets),
            pa.py_buffer(data),
        ]
        results.append(pa.Array.from_buffers(pa.large_string(), len(chunk), buffers))
        row_base += len(chunk)
    if not results:
        return pa.array([], pa.large_string())
    if len(results) == 1:
        return results[0]
    return pa.concat_arrays(results)


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
    kind = _check_kind(kind)
    ngram = _check_int("ngram", ngram, 1, MAX_NGRAM)
    num_perm = _check_int("num_perm", num_perm, 1, MAX_PERM)
    seed = _check_int("seed", seed, 0, _U64_MAX)
    bands = _check_int("bands", bands, 1, num_perm)
    rows = _check_int("rows", rows, 1, num_perm)
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows must not exceed num_perm, got {bands} * {rows} > {num_perm}")
    signatures: list[NDArray[np.uint32]] = []
    band_hashes: list[NDArray[np.uint64]] = []
    counts: list[NDArray[np.uint32]] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        sig, band, count = _native.minhash_batch(
            *chunk.__arrow_c_array__(), kind, ngram, num_perm, seed, bands, rows, row_base
        )
        n = len(chunk)
        signatures.append(np.frombuffer(sig, dtype=np.uint32).reshape(n, num_perm))
        band_hashes.append(np.frombuffer(band, dtype=np.uint64).reshape(n, bands))
        counts.append(np.frombuffer(count, dtype=np.uint32))
        row_base += n
    if len(counts) == 1:
        return MinHashBatch(signatures[0], band_hashes[0], counts[0])
    return MinHashBatch(
        np.concatenate(signatures) if signatures else np.empty((0, num_perm), np.uint32),
        np.concatenate(band_hashes) if band_hashes else np.empty((0, bands), np.uint64),
        np.concatenate(counts) if counts else np.empty(0, np.uint32),
    )


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
    kind = _check_kind(kind)
    ngram = _check_int("ngram", ngram, 1, MAX_NGRAM)
    max_leaders = _check_int("max_leaders", max_leaders, 1, _U64_MAX)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating | np.integer):
        raise TypeError(f"threshold must be a float, got {type(threshold).__name__}")
    threshold = float(threshold)
    if math.isnan(threshold) or not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    array = _single_array(texts)
    offsets = np.asarray(group_offsets)
    if offsets.ndim != 1 or (offsets.size and offsets.dtype.kind not in "iu"):
        raise TypeError("group_offsets must be a one-dimensional integer array")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    leaders, similarity = _native.leader_clusters(
        *array.__arrow_c_array__(),
        *pa.array(offsets, pa.int64()).__arrow_c_array__(),
        threshold,
        kind,
        ngram,
        max_leaders,
    )
    return np.frombuffer(leaders, dtype=np.int64), np.frombuffer(similarity, dtype=np.float64)


def connected_components(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Connected components of the undirected graph with edges ``a[i] - b[i]``.

    Returns ``(nodes, roots)``: every distinct node sorted ascending, and the smallest node id of its
    component. Raises ``ValueError`` if the arrays differ in length.
    """
    left, right = _u64_array("a", a), _u64_array("b", b)
    if left.shape != right.shape:
        raise ValueError(f"edge arrays differ in length: {left.shape[0]} and {right.shape[0]}")
    nodes, roots = _native.connected_components(
        *pa.array(left, pa.uint64()).__arrow_c_array__(), *pa.array(right, pa.uint64()).__arrow_c_array__()
    )
    return np.frombuffer(nodes, dtype=np.uint64), np.frombuffer(roots, dtype=np.uint64)


# -- exact dedup: content hashes and repeated segments ---------------------------------------------------------

Level: TypeAlias = Literal["none", "basic", "aggressive"]
Unit: TypeAlias = Literal["line", "paragraph"]


def content_hashes(texts: pa.Array | pa.ChunkedArray, *, level: Level) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """xxh3-128 of every row under a normalisation ``level``, as ``(hi, lo)`` uint64 arrays.

    ``none`` hashes the UTF-8 bytes; ``basic`` applies NFC, turns CRLF / CR into LF and strips whitespace
    (``str.isspace``) at the end of every line and at both ends of the text; ``aggressive`` is
    :func:`normalize_text`. Null rows hash like the empty string: callers mask them.
    """
    if level not in ("none", "basic", "aggressive"):
        raise ValueError(f"level must be none, basic or aggressive, got {level!r}")
    his: list[NDArray[np.uint64]] = []
    los: list[NDArray[np.uint64]] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        hi, lo = _native.content_hashes(*chunk.__arrow_c_array__(), level, row_base)
        his.append(np.frombuffer(hi, dtype=np.uint64))
        los.append(np.frombuffer(lo, dtype=np.uint64))
        row_base += len(chunk)
    if not his:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    return np.concatenate(his), np.concatenate(los)


def segment_hashes(texts: pa.Array | pa.ChunkedArray, *, unit: Unit) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Every non-blank line (or paragraph: a run of non-blank lines) of every row, in order.

    Returns ``(rows, hashes)``: the row of each segment and the xxh3-64 of its key (the line with surrounding
    whitespace removed, NFC; a paragraph's lines joined by ``\\n``). Blank lines are never segments.
    """
    if unit not in ("line", "paragraph"):
        raise ValueError(f"unit must be line or paragraph, got {unit!r}")
    rows: list[NDArray[np.int64]] = []
    hashes: list[NDArray[np.uint64]] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        chunk_rows, chunk_hashes = _native.segment_hashes(*chunk.__arrow_c_array__(), unit, row_base)
        rows.append(np.frombuffer(chunk_rows, dtype=np.uint32).astype(np.int64) + row_base)
        hashes.append(np.frombuffer(chunk_hashes, dtype=np.uint64))
        row_base += len(chunk)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return np.concatenate(rows), np.concatenate(hashes)


@dataclass(frozen=True)
class SegmentRemoval:
    """The texts without the dropped segments (nulls stay null), and per row the number of segments and
    characters removed and the words left (``str.split()`` words)."""

    texts: pa.LargeStringArray
    segments_removed: NDArray[np.uint32]
    chars_removed: NDArray[np.uint64]
    words_left: NDArray[np.uint64]


def remove_segments(texts: pa.Array | pa.ChunkedArray, drop: NDArray[np.bool_], *, unit: Unit) -> SegmentRemoval:
    """Remove the segments flagged in ``drop`` (aligned with :func:`segment_hashes`' output) with the line
    breaks that end them. Raises ``ValueError`` if ``drop`` does not have one flag per segment."""
    if unit not in ("line", "paragraph"):
        raise ValueError(f"unit must be line or paragraph, got {unit!r}")
    flags = np.ascontiguousarray(drop, dtype=np.uint8)
    array = _single_array(texts)
    offsets, data, validity, removed, chars, words = _native.remove_segments(
        *array.__arrow_c_array__(), unit, flags.tobytes(), 0
    )
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    return SegmentRemoval(
        texts=pa.Array.from_buffers(pa.large_string(), len(array), buffers),
        segments_removed=np.frombuffer(removed, dtype=np.uint32),
        chars_removed=np.frombuffer(chars, dtype=np.uint64),
        words_left=np.frombuffer(words, dtype=np.uint64),
    )
