"""A fastText model loaded once per worker, and prediction over whole Arrow arrays.

fastText is imported here only (the ``curate[classify]`` extra), when a model is loaded.
Its ``predict`` takes a list of lines and runs them in one C++ call; that call holds the
GIL (measured: two threads predicting at once run no faster than one), so two workers need
``--pool process``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classify.model_file import LABEL_PREFIX, ModelInfo, inspect_model
from curate.classify.text import EMPTY_LABEL, prepared_lines
from curate.errors import BadInputError, UsageError

_NEWLINE = pa.scalar("\n", pa.large_string())
_NOTHING = pa.scalar("", pa.large_string())
EXTRA = "classify"
EXTRA_MODULES = ("fasttext",)


def import_fasttext() -> Any:
    try:
        import fasttext
    except ImportError as exc:
        raise UsageError("curate classify needs fastText: pip install 'curate[classify]'") from exc
    # fastText's Python wrapper prints a warning on every load_model; nothing to warn about here.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any


def load_model(path: str, sha256: str) -> LoadedModel:
    """Check the file again (its digest must still be ``sha256``: the one the run's fingerprint
    was made with) and load it."""
    info = inspect_model(path)
    if info.sha256 != sha256:
        raise BadInputError(path, f"the model changed since the run started (SHA-256 {info.sha256}, not {sha256})")
    fasttext = import_fasttext()
    try:
        model = fasttext.load_model(path)
    except (ValueError, MemoryError, RuntimeError) as exc:
        raise BadInputError(path, f"fastText cannot load it ({exc})") from exc
    return LoadedModel(info, model)


@dataclass(frozen=True)
class Predictions:
    """Row-aligned: the top label and its probability, and the top-k lists (list arrays)."""

    label: pa.Array
    score: pa.Array
    labels: pa.Array
    scores: pa.Array


def predict(loaded: LoadedModel, texts: pa.Array, *, k: int, max_chars: int) -> Predictions:
    """Labels (without ``__label__``) and probabilities (float32, at most 1) of every text; an
    empty text gets ``unknown`` and 0 without reaching fastText."""
    lines, empty = prepared_lines(texts, max_chars)
    n = len(lines)
    present = np.flatnonzero(~empty)
    m = len(present)
    found_labels: list[list[str]] = []
    found_scores: list[np.ndarray] = []
    if m:
        # multilinePredict wants each line ending in "\n" (the check fastText's wrapper loops for;
        # prepared_lines already removed every "\n").
        strings = pc.binary_join_element_wise(lines.take(pa.array(present)), _NEWLINE, _NOTHING).to_pylist()
        found_labels, found_scores = loaded.model.f.multilinePredict(strings, k, 0.0, "replace")
    listed = pa.array(found_labels, pa.list_(pa.string()))
    flat = pc.replace_substring_regex(listed.flatten(), "^" + LABEL_PREFIX, "")
    values = np.minimum(np.concatenate(found_scores) if m else np.zeros(0), 1.0).astype(np.float32)
    offsets = listed.offsets
    # Rows of the present texts, then one more for every empty text: ["unknown"], [0.0].
    label_lists = pa.ListArray.from_arrays(
        pa.concat_arrays([offsets, pa.array([len(flat) + 1], pa.int32())]),
        pa.concat_arrays([flat.cast(pa.string()), pa.array([EMPTY_LABEL], pa.string())]),
    )
    score_lists = pa.ListArray.from_arrays(label_lists.offsets, pa.array(np.append(values, np.float32(0))))
    index = np.full(n, m, dtype=np.int64)
    index[present] = np.arange(m)
    take = pa.array(index)
    labels = label_lists.take(take)
    scores = score_lists.take(take)
    top_rows = pa.array(np.asarray(label_lists.offsets)[:-1])
    label = label_lists.flatten().take(top_rows).take(take)
    score = score_lists.flatten().take(top_rows).take(take)
    return Predictions(label, score, labels, scores)
