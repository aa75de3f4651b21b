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
    "cover_survivors",
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
    threshold = _check_threshold(threshold)
    array = _single_array(texts)
    offsets = _check_offsets(group_offsets)
    leaders, similarity = _native.leader_clusters(
        *array.__arrow_c_array__(),
        *pa.array(offsets, pa.int64()).__arrow_c_array__(),
        threshold,
        kind,
        ngram,
        max_leaders,
    )
    return np.frombuffer(leaders, dtype=np.int64), np.frombuffer(similarity, dtype=np.float64)


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
    kind = _check_kind(kind)
    ngram = _check_int("ngram", ngram, 1, MAX_NGRAM)
    num_perm = _check_int("num_perm", num_perm, 1, MAX_PERM)
    seed = _check_int("seed", seed, 0, _U64_MAX)
    bands = _check_int("bands", bands, 1, num_perm)
    rows = _check_int("rows", rows, 1, num_perm)
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows must not exceed num_perm, got {bands} * {rows} > {num_perm}")
    exact_pairs_max = _check_int("exact_pairs_max", exact_pairs_max, 1, _U64_MAX)
    threshold = _check_threshold(threshold)
    array = _single_array(texts)
    offsets = _check_offsets(group_offsets)
    survivor, similarity = _native.cover_survivors(
        *array.__arrow_c_array__(),
        *pa.array(offsets, pa.int64()).__arrow_c_array__(),
        threshold,
        kind,
        ngram,
        num_perm,
        seed,
        bands,
        rows,
        exact_pairs_max,
    )
    return np.frombuffer(survivor, dtype=np.int64), np.frombuffer(similarity, dtype=np.float64)


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating | np.integer):
        raise TypeError(f"threshold must be a float, got {type(threshold).__name__}")
    value = float(threshold)
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {value}")
    return value


def _check_offsets(group_offsets: object) -> NDArray[np.int64]:
    offsets = np.asarray(group_offsets)
    if offsets.ndim != 1 or (offsets.size and offsets.dtype.kind not in "iu"):
        raise TypeError("group_offsets must be a one-dimensional integer array")
    return np.ascontiguousarray(offsets, dtype=np.int64)


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
Unit: TypeAlias = Literal["line", "paragraph", "sentences3"]
_UNITS = ("line", "paragraph", "sentences3")


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
    """Every non-blank line (or paragraph: a run of non-blank lines; or window of three consecutive sentences)
    of every row, in order.

    Returns ``(rows, hashes)``: the row of each segment and the xxh3-64 of its key (the line with surrounding
    whitespace removed, NFC; a paragraph's lines joined by ``\\n``). Blank lines are never segments.
    """
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {', '.join(_UNITS)}, got {unit!r}")
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
    breaks that end them; for ``sentences3`` every sentence of a flagged window goes (and ``segments_removed``
    counts sentences). Raises ``ValueError`` if ``drop`` does not have one flag per segment."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {', '.join(_UNITS)}, got {unit!r}")
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


# -- Gopher rule statistics (curate/filters/rules/gopher_quality.py, gopher_repetition.py) --------------------
#
# Words, lines, paragraphs and characters as defined in ``curate/filters/text_stats.py`` (``str.split()``
# words; stripped non-blank lines; runs of lines). The exact definitions are in ``rust_ext/src/text_stats.rs``.

GOPHER_QUALITY_COUNTS: tuple[str, ...] = tuple(_native.QUALITY_COLUMNS)
"""Names of :func:`gopher_quality_counts`' arrays: ``chars``, ``words`` (all words), ``counted_words`` (words
holding an alphanumeric character), ``counted_word_chars`` (their characters), ``alpha_words`` (words holding an
alphabetic character), ``hashes`` (``#``), ``ellipses`` (non-overlapping ``...`` plus ``…``), ``lines``,
``bullet_lines``, ``ellipsis_lines`` (ending with ``...`` or ``…``), ``stop_words`` (distinct stop words present),
``letters`` (alphabetic characters), ``unspaced_letters`` (those of scripts written without spaces)."""
GOPHER_REPETITION_COUNTS: tuple[str, ...] = tuple(_native.REPETITION_COLUMNS)
"""Names of :func:`gopher_repetition_counts`' fixed arrays: ``chars``, ``words``, ``letters``,
``unspaced_letters``, ``lines``, ``dup_lines``, ``dup_line_chars``, ``paragraphs``, ``dup_paragraphs``,
``dup_paragraph_chars``; then ``top_<n>gram_chars`` and ``dup_<n>gram_chars`` for each n asked for."""
MAX_STAT_NGRAM: int = _native.MAX_STAT_NGRAM
MAX_STOP_WORDS: int = _native.MAX_STOP_WORDS
__all__ += [
    "GOPHER_QUALITY_COUNTS",
    "GOPHER_REPETITION_COUNTS",
    "MAX_STAT_NGRAM",
    "MAX_STOP_WORDS",
    "gopher_quality_counts",
    "gopher_repetition_counts",
]


def _count_matrix(
    texts: pa.Array | pa.ChunkedArray, width: int, kind: Literal["quality", "repetition"], args: tuple[object, ...]
) -> NDArray[np.int64]:
    """The ``(rows, width)`` counts of a Gopher statistics kernel over every chunk of ``texts``."""
    function = _native.gopher_quality_stats if kind == "quality" else _native.gopher_repetition_stats
    parts: list[NDArray[np.int64]] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        raw = function(*chunk.__arrow_c_array__(), *args, row_base)
        parts.append(np.frombuffer(raw, dtype=np.uint64).reshape(len(chunk), width).astype(np.int64))
        row_base += len(chunk)
    return np.concatenate(parts) if parts else np.zeros((0, width), np.int64)


def _str_list(name: str, values: list[str] | tuple[str, ...]) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a list or tuple of str")
    return list(values)


def gopher_quality_counts(
    texts: pa.Array | pa.ChunkedArray, *, stop_words: list[str] | tuple[str, ...], bullets: list[str] | tuple[str, ...]
) -> dict[str, NDArray[np.int64]]:
    """The counts behind the Gopher quality rules for every row, by the names in :data:`GOPHER_QUALITY_COUNTS`.

    ``stop_words`` are matched case-insensitively against words stripped of non-alphanumeric characters at both
    ends; ``bullets`` are the prefixes that make a (stripped) line a bullet line. Null rows count as empty.
    Raises ``ValueError`` for more than :data:`MAX_STOP_WORDS` stop words, an empty or multi-word stop word, an
    empty bullet, or (naming the row) a value that is not valid UTF-8.
    """
    args = (_str_list("stop_words", stop_words), _str_list("bullets", bullets))
    matrix = _count_matrix(texts, len(GOPHER_QUALITY_COUNTS), "quality", args)
    return {name: matrix[:, i] for i, name in enumerate(GOPHER_QUALITY_COUNTS)}


def gopher_repetition_counts(
    texts: pa.Array | pa.ChunkedArray,
    *,
    top_ngrams: list[int] | tuple[int, ...],
    dup_ngrams: list[int] | tuple[int, ...],
) -> dict[str, NDArray[np.int64]]:
    """The counts behind the Gopher repetition rules for every row (see :data:`GOPHER_REPETITION_COUNTS`).

    ``top_<n>gram_chars``: characters of the text covered by the occurrences of its most frequent word n-gram
    (0 if no n-gram occurs twice). ``dup_<n>gram_chars``: characters covered by the occurrences of n-grams that
    occurred earlier in the text. Overlapping occurrences count each character once. Null rows count as empty.
    Raises ``ValueError`` for an n outside 1..:data:`MAX_STAT_NGRAM` or a value that is not valid UTF-8.
    """
    top = [_check_int("top n-gram size", n, 1, MAX_STAT_NGRAM) for n in top_ngrams]
    dup = [_check_int("duplicate n-gram size", n, 1, MAX_STAT_NGRAM) for n in dup_ngrams]
    names = list(GOPHER_REPETITION_COUNTS) + [f"top_{n}gram_chars" for n in top] + [f"dup_{n}gram_chars" for n in dup]
    if len(set(names)) != len(names):
        raise ValueError("n-gram sizes must not repeat")
    matrix = _count_matrix(texts, len(names), "repetition", (top, dup))
    return {name: matrix[:, i] for i, name in enumerate(names)}


# -- line rules of the C4 and FineWeb filters (curate/filters/rules/c4.py, fineweb.py) ---------------------------
#
# Definitions are in rust_ext/src/line_rules.rs: lines split at \n, \r\n or a lone \r (blank ones skipped),
# words as str.split(), "punctuation or symbol" = general category P*/S*, sentence terminals = the Unicode
# Sentence_Terminal property.

C4_LINE_COLUMNS: tuple[str, ...] = tuple(_native.C4_COLUMNS)
"""Per-row counts of :func:`c4_line_rules`, in order: non-blank lines, lines kept, sentences in kept lines,
lines removed for a too long word / no terminal punctuation / too few words / ``javascript`` / a policy
phrase, and ``document_rule`` (0 none, 1 ``lorem ipsum``, 2 ``{``: the first met in line order)."""
FINEWEB_LINE_COLUMNS: tuple[str, ...] = tuple(_native.FINEWEB_COLUMNS)
"""Per-row counts of :func:`fineweb_line_stats`, in order: non-blank lines, lines ending with a stop
character, lines of at most ``short_line_length`` characters, characters of lines identical to an earlier
line, characters other than line breaks, line breaks, word tokens."""
_TERMINALS, _PUNCT_OR_SYMBOL = _native.line_rule_tables()
SENTENCE_TERMINALS: str = _TERMINALS
"""Every character with the Unicode ``Sentence_Terminal`` property (Unicode 14), in code point order."""
PUNCT_OR_SYMBOL_RANGES: tuple[tuple[int, int], ...] = tuple(_PUNCT_OR_SYMBOL)
"""Inclusive code point ranges of general categories P* and S* (Unicode 14)."""


@dataclass(frozen=True)
class C4LineRules:
    """Row-aligned outcome of :func:`c4_line_rules`: counts by :data:`C4_LINE_COLUMNS` name (uint64, zeros
    for null rows) and, if asked for, the texts rewritten to their kept lines (nulls stay null)."""

    counts: dict[str, NDArray[np.uint64]]
    texts: pa.LargeStringArray | None


def c4_line_rules(
    texts: pa.Array | pa.ChunkedArray,
    *,
    terminal_punctuation: str,
    filter_no_terminal_punct: bool,
    remove_citations: bool,
    max_word_length: int | None,
    min_words_per_line: int,
    filter_lorem_ipsum: bool,
    filter_javascript: bool,
    filter_curly_bracket: bool,
    filter_policy: bool,
    rewrite: bool,
) -> C4LineRules:
    """The C4 line rules over every row (Raffel et al. 2020, §2.2; see ``rust_ext/src/line_rules.rs``).

    ``terminal_punctuation``: the characters a kept line may end with (not empty when the rule is on);
    ``max_word_length`` None disables that rule. Raises ``ValueError`` for bad arguments and, naming the
    row, for a value that is not valid UTF-8.
    """
    terminal = _check_str("terminal_punctuation", terminal_punctuation)
    if filter_no_terminal_punct and not terminal:
        raise ValueError("terminal_punctuation must not be empty when filter_no_terminal_punct is on")
    max_length = None if max_word_length is None else _check_int("max_word_length", max_word_length, 0, _U64_MAX)
    min_words = _check_int("min_words_per_line", min_words_per_line, 0, _U64_MAX)
    chunks = _string_chunks(texts)
    counts: list[NDArray[np.uint64]] = []
    rewritten: list[pa.Array] = []
    row_base = 0
    for chunk in chunks:
        raw, text = _native.c4_lines(
            *chunk.__arrow_c_array__(),
            terminal=terminal,
            filter_no_terminal_punct=bool(filter_no_terminal_punct),
            remove_citations=bool(remove_citations),
            max_word_length=max_length,
            min_words_per_line=min_words,
            filter_lorem_ipsum=bool(filter_lorem_ipsum),
            filter_javascript=bool(filter_javascript),
            filter_curly_bracket=bool(filter_curly_bracket),
            filter_policy=bool(filter_policy),
            rewrite=bool(rewrite),
            row_base=row_base,
        )
        counts.append(np.frombuffer(raw, dtype=np.uint64).reshape(len(chunk), len(C4_LINE_COLUMNS)))
        if text is not None:
            offsets, data, validity = text
            buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
            rewritten.append(pa.Array.from_buffers(pa.large_string(), len(chunk), buffers))
        row_base += len(chunk)
    table = np.concatenate(counts) if counts else np.zeros((0, len(C4_LINE_COLUMNS)), np.uint64)
    out_texts: pa.LargeStringArray | None = None
    if rewrite:
        if not rewritten:
            out_texts = pa.array([], pa.large_string())
        else:
            out_texts = rewritten[0] if len(rewritten) == 1 else pa.concat_arrays(rewritten)
    return C4LineRules(
        counts={name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(C4_LINE_COLUMNS)},
        texts=out_texts,
    )


def fineweb_line_stats(
    texts: pa.Array | pa.ChunkedArray, *, stop_chars: str | None, short_line_length: int
) -> dict[str, NDArray[np.uint64]]:
    """The FineWeb line counts of every row by :data:`FINEWEB_LINE_COLUMNS` name (uint64, zeros for null rows;
    Penedo et al. 2024; see ``rust_ext/src/line_rules.rs``). Lines are measured as written, not stripped.

    ``stop_chars``: the characters a punctuated line ends with; None for :data:`SENTENCE_TERMINALS`.
    Raises ``ValueError`` for an empty ``stop_chars`` and, naming the row, for invalid UTF-8.
    """
    stops = None if stop_chars is None else _check_str("stop_chars", stop_chars)
    short = _check_int("short_line_length", short_line_length, 0, _U64_MAX)
    counts: list[NDArray[np.uint64]] = []
    row_base = 0
    for chunk in _string_chunks(texts):
        raw = _native.fineweb_lines(
            *chunk.__arrow_c_array__(), stop_chars=stops, short_line_length=short, row_base=row_base
        )
        counts.append(np.frombuffer(raw, dtype=np.uint64).reshape(len(chunk), len(FINEWEB_LINE_COLUMNS)))
        row_base += len(chunk)
    table = np.concatenate(counts) if counts else np.zeros((0, len(FINEWEB_LINE_COLUMNS)), np.uint64)
    return {name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(FINEWEB_LINE_COLUMNS)}


__all__ += [
    "C4_LINE_COLUMNS",
    "FINEWEB_LINE_COLUMNS",
    "PUNCT_OR_SYMBOL_RANGES",
    "SENTENCE_TERMINALS",
    "C4LineRules",
    "c4_line_rules",
    "fineweb_line_stats",
]
