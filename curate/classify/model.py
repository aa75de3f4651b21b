"""A fastText model loaded once per process, and prediction over whole Arrow arrays.

Prediction runs in curate's Rust extension (``curate._native.FastTextModel``,
``rust_ext/src/fasttext_*.rs``: the ``fasttext`` crate reads the model's arguments and dictionary,
the rest is curate's and follows C++ fastText operation for operation), over a whole string array
per call and with the GIL released, so two worker threads use two cores. fastText's own Python
module holds the GIL in ``predict``, which is why it is not on this path; it trains
(``curate.classify.train``, the ``curate[classify]`` extra) and is the reference that
``tests/test_classify_native.py`` checks these predictions against.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curate import _native
from curate.classify.model_file import LABEL_PREFIX, ModelInfo, inspect_model
from curate.classify.text import EMPTY_LABEL
from curate.errors import BadInputError
from curate.kernel._binding import numbers, over_chunks


@dataclass
class LoadedModel:
    info: ModelInfo
    model: _native.FastTextModel
    names: pa.Array
    """The labels without ``__label__`` in the model's order, then :data:`EMPTY_LABEL`."""


# The models loaded in this process, by (path, SHA-256): the worker threads of one process share one
# copy (it is immutable; a GlotLID-sized model is ~2 GB), processes and Ray actors load their own.
_LOADED: weakref.WeakValueDictionary[tuple[str, str], LoadedModel] = weakref.WeakValueDictionary()
_LOADING = threading.Lock()


def load_model(path: str, sha256: str) -> LoadedModel:
    """Check the file again (its digest must still be ``sha256``: the one the run's fingerprint
    was made with) and load it, or return the copy another worker thread of this process loaded."""
    info = inspect_model(path)
    if info.sha256 != sha256:
        raise BadInputError(path, f"the model changed since the run started (SHA-256 {info.sha256}, not {sha256})")
    with _LOADING:
        loaded = _LOADED.get((path, sha256))
        if loaded is not None:
            return loaded
        try:
            model = _native.FastTextModel(path)
        except (ValueError, OSError, MemoryError) as exc:
            raise BadInputError(path, f"fastText cannot load it ({exc})") from exc
        names = [label.removeprefix(LABEL_PREFIX) for label in model.labels]
        loaded = LoadedModel(info, model, pa.array([*names, EMPTY_LABEL], pa.string()))
        _LOADED[(path, sha256)] = loaded
        return loaded


@dataclass(frozen=True)
class Predictions:
    """Row-aligned: the top label and its probability, and the top-k lists (list arrays)."""

    label: pa.Array
    score: pa.Array
    labels: pa.Array
    scores: pa.Array


def predict(loaded: LoadedModel, texts: pa.Array | pa.ChunkedArray, *, k: int, max_chars: int) -> Predictions:
    """Labels (without ``__label__``) and probabilities (float32, at most 1) of every text, by the
    preprocessing of :mod:`curate.classify.text`; an empty text gets ``unknown`` and 0."""
    chunks = over_chunks(texts, lambda arrays, base: loaded.model.predict(*arrays, k, max_chars, base))
    counts = np.concatenate([numbers(raw[0], np.uint32) for _, raw in chunks] or [np.zeros(0, np.uint32)])
    found = np.concatenate([numbers(raw[1], np.uint32) for _, raw in chunks] or [np.zeros(0, np.uint32)])
    probabilities = np.concatenate([numbers(raw[2], np.float32) for _, raw in chunks] or [np.zeros(0, np.float32)])
    n = len(counts)
    # An empty row has no prediction: it gets one, the extra name EMPTY_LABEL with probability 0.
    sizes = np.where(counts == 0, 1, counts).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat_labels = np.full(int(offsets[-1]), len(loaded.names) - 1, dtype=np.uint32)
    flat_scores = np.zeros(int(offsets[-1]), dtype=np.float32)
    rows = np.repeat(np.arange(n), counts)
    first_of_row = np.repeat(np.cumsum(counts, dtype=np.int64) - counts, counts)
    destination = offsets[rows] + (np.arange(len(found)) - first_of_row)
    flat_labels[destination] = found
    flat_scores[destination] = probabilities
    names = loaded.names.take(pa.array(flat_labels))
    list_offsets = pa.array(offsets.astype(np.int32))
    labels = pa.ListArray.from_arrays(list_offsets, names)
    scores = pa.ListArray.from_arrays(list_offsets, pa.array(flat_scores))
    top = pa.array(offsets[:-1])
    return Predictions(names.take(top), pa.array(flat_scores).take(top), labels, scores)
