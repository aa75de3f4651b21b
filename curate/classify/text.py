"""The one text preprocessing of curate's classifiers, the same at training and prediction time.

A document becomes one fastText input line: every line break (``\n``) becomes a space, and
the text is cut to its first ``max_chars`` characters (code points, never inside a
character). Nothing else changes (no lowercasing, no punctuation removal, no other
whitespace folded): fastText itself splits words on any ASCII whitespace and NUL, so only
``\n``, which would end the line (and the document) early, needs replacing. The published
models (lid.176, GlotLID, DCLM's) were trained on text as it comes, and so are curate's. A
document with nothing but whitespace (or null) is not given to fastText at all: it gets the
label :data:`EMPTY_LABEL` and score 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EMPTY_LABEL = "unknown"
# fastText reads a document word by word and only its first words decide the label (a model
# averages their vectors): beyond ~10,000 characters (~1,500 words) the prediction of a
# language-ID or quality model hardly moves, while the cost keeps growing with the length.
DEFAULT_MAX_CHARS = 10_000


def prepared_lines(texts: pa.Array, max_chars: int) -> tuple[pa.Array, np.ndarray]:
    """The fastText lines of ``texts`` (nulls become empty lines) and which of them are empty
    (nothing but fastText's word separators)."""
    flat = pc.replace_substring(pc.fill_null(texts.cast(pa.large_string()), ""), "\n", " ")
    # A character count above max_chars needs more bytes than that: most batches skip the cut.
    if max_chars > 0 and len(flat) and (pc.max(pc.binary_length(flat)).as_py() or 0) > max_chars:
        flat = pc.utf8_slice_codeunits(flat, 0, max_chars)
    has_word = pc.match_substring_regex(flat, r"[^\s\v\x00]")
    empty = ~np.asarray(has_word.to_numpy(zero_copy_only=False), dtype=bool)
    return flat, empty


def prepare_line(text: str, max_chars: int) -> str:
    """One document as a training line (the same rule as :func:`prepared_lines`)."""
    lines, _ = prepared_lines(pa.array([text], pa.large_string()), max_chars)
    return str(lines[0].as_py())
