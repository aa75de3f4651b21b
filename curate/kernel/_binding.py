"""The one binding helper of the kernel facade: argument checks, Arrow intake and the chunk loop.

Every facade module hands Arrow arrays to ``curate._native`` through the Arrow C data interface
(``__arrow_c_array__`` capsules, zero-copy) and wraps the ``bytearray`` results in numpy / pyarrow. The checks
and the loop over the chunks of a ``ChunkedArray`` (with the ``row_base`` that lets Rust name a bad row by
its index in the whole array) live here once, so a new kernel function is a few lines of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias, TypeVar

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

Kind: TypeAlias = Literal["word", "char"]
Capsules: TypeAlias = "tuple[object, object]"
"""The ``(schema, array)`` PyCapsule pair of ``pyarrow.Array.__arrow_c_array__()``."""
StringBuffers: TypeAlias = "tuple[bytearray, bytearray, bytearray | None]"
"""``(offsets, data, validity)`` of a large_string array as the extension returns it."""

_KINDS = ("word", "char")
U64_MAX = (1 << 64) - 1

Result = TypeVar("Result")

# -- argument checking ---------------------------------------------------------------------------------------


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {number}")
    return number


def check_kind(kind: object) -> Kind:
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'word' or 'char', got {kind!r}")
    return "word" if kind == "word" else "char"


def check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str], message: str) -> None:
    """Raise ``ValueError`` (``name must be MESSAGE, got VALUE``) unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be {message}, got {value!r}")


def check_str_list(name: str, values: list[str] | tuple[str, ...]) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a list or tuple of str")
    return list(values)


def check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating | np.integer):
        raise TypeError(f"threshold must be a float, got {type(threshold).__name__}")
    value = float(threshold)
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {value}")
    return value


def check_offsets(group_offsets: object) -> NDArray[np.int64]:
    offsets = np.asarray(group_offsets)
    if offsets.ndim != 1 or (offsets.size and offsets.dtype.kind not in "iu"):
        raise TypeError("group_offsets must be a one-dimensional integer array")
    return np.ascontiguousarray(offsets, dtype=np.int64)


def u64_array(name: str, values: object) -> NDArray[np.uint64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "i":
        if array.size and int(array.min()) < 0:
            raise ValueError(f"{name} must not contain negative node ids")
    elif array.dtype.kind != "u" and array.size:
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.uint64)


# -- Arrow intake --------------------------------------------------------------------------------------------


def string_chunks(texts: object) -> list[pa.Array]:
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


def single_array(texts: object) -> pa.Array:
    """``texts`` as one string or large_string array (for kernels that see all rows at once: groups)."""
    chunks = string_chunks(texts)
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return pa.array([], pa.large_string())
    return pa.concat_arrays([c.cast(pa.large_string()) for c in chunks])


def capsules(array: pa.Array) -> Capsules:
    """The Arrow C data interface capsules of ``array`` (zero-copy)."""
    schema, data = array.__arrow_c_array__()
    return schema, data


def numeric_capsules(values: NDArray[np.generic], kind: pa.DataType) -> Capsules:
    """The capsules of a numpy array viewed as an Arrow array of ``kind``."""
    return capsules(pa.array(values, kind))


# -- the chunk loop ------------------------------------------------------------------------------------------


def over_chunks(texts: object, call: Callable[[Capsules, int], Result]) -> list[tuple[int, Result]]:
    """``call(capsules, row_base)`` on every string chunk of ``texts``, in order: ``(rows, result)`` per chunk.

    ``row_base`` is the index of the chunk's first row in ``texts``, so that an error names the row of the
    whole array.
    """
    results: list[tuple[int, Result]] = []
    row_base = 0
    for chunk in string_chunks(texts):
        results.append((len(chunk), call(capsules(chunk), row_base)))
        row_base += len(chunk)
    return results


# -- results -------------------------------------------------------------------------------------------------


def numbers(raw: bytearray, dtype: type[np.generic], rows: int | None = None, width: int | None = None) -> NDArray:
    """A numpy view of a result ``bytearray`` (writeable, owned by the array), shaped ``(rows, width)`` if given."""
    values = np.frombuffer(raw, dtype=dtype)
    return values if width is None else values.reshape(rows if rows is not None else -1, width)


def concat(parts: list[NDArray], empty: NDArray) -> NDArray:
    """The parts of a chunked result joined, or ``empty`` (of the right dtype and width) if there are none."""
    return np.concatenate(parts) if parts else empty


def large_strings(rows: int, buffers: StringBuffers) -> pa.LargeStringArray:
    """A large_string array of ``rows`` rows from the extension's ``(offsets, data, validity)``."""
    offsets, data, validity = buffers
    arrow_buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.large_string(), rows, arrow_buffers)


def concat_strings(parts: list[pa.Array]) -> pa.LargeStringArray:
    """The chunks of a string result joined (no copy for one chunk)."""
    if not parts:
        return pa.array([], pa.large_string())
    if len(parts) == 1:
        return parts[0]
    return pa.concat_arrays(parts)
