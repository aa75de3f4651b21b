"""The kernel facade: the only module the rest of curate imports for the Rust extension's operations.

It validates arguments, hands Arrow arrays to the Rust extension (``curate._native``) zero-copy through the
Arrow C data interface, and wraps the results in numpy / pyarrow. The heavy work runs in Rust with the GIL
released. One module per concern, all re-exported here (``from curate import kernel; kernel.minhash_batch``):

- :mod:`curate.kernel.text`: normalisation, shingling, exact Jaccard, MinHash and LSH band hashes (the
  definitions are in its docstring);
- :mod:`curate.kernel.graph`: leader clusters, cover survivors and connected components;
- :mod:`curate.kernel.segments`: exact dedup's content hashes and line / paragraph segments;
- :mod:`curate.kernel.quality`: the Gopher quality and repetition statistics;
- :mod:`curate.kernel.lines`: the C4 and FineWeb line rules;
- :mod:`curate.kernel._binding`: the argument checks, Arrow intake and chunk loop they share.

``curate/kernel_reference.py`` implements the same in plain Python; the tests check that both agree exactly.

Errors: bad arguments raise ``ValueError`` (``TypeError`` for wrong types); invalid UTF-8 in an array raises
``ValueError`` naming the row; a ``str`` with lone surrogates raises ``UnicodeEncodeError`` (a ``ValueError``).
"""

from __future__ import annotations

from curate.kernel._binding import Kind
from curate.kernel.graph import connected_components, cover_survivors, leader_clusters
from curate.kernel.lines import (
    C4_LINE_COLUMNS,
    FINEWEB_LINE_COLUMNS,
    PUNCT_OR_SYMBOL_RANGES,
    SENTENCE_TERMINALS,
    C4LineRules,
    c4_line_rules,
    fineweb_line_stats,
)
from curate.kernel.quality import (
    GOPHER_QUALITY_COUNTS,
    GOPHER_REPETITION_COUNTS,
    MAX_STAT_NGRAM,
    MAX_STOP_WORDS,
    gopher_quality_counts,
    gopher_repetition_counts,
)
from curate.kernel.segments import Level, SegmentRemoval, Unit, content_hashes, remove_segments, segment_hashes
from curate.kernel.text import (
    MAX_NGRAM,
    MAX_PERM,
    UNICODE_VERSION,
    MinHashBatch,
    exact_jaccard,
    minhash_batch,
    normalize_array,
    normalize_text,
    permutations,
    shingle_hashes,
    simd_backend,
)

__all__ = [
    "C4_LINE_COLUMNS",
    "FINEWEB_LINE_COLUMNS",
    "GOPHER_QUALITY_COUNTS",
    "GOPHER_REPETITION_COUNTS",
    "MAX_NGRAM",
    "MAX_PERM",
    "MAX_STAT_NGRAM",
    "MAX_STOP_WORDS",
    "PUNCT_OR_SYMBOL_RANGES",
    "SENTENCE_TERMINALS",
    "UNICODE_VERSION",
    "C4LineRules",
    "Kind",
    "Level",
    "MinHashBatch",
    "SegmentRemoval",
    "Unit",
    "c4_line_rules",
    "connected_components",
    "content_hashes",
    "cover_survivors",
    "exact_jaccard",
    "fineweb_line_stats",
    "gopher_quality_counts",
    "gopher_repetition_counts",
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
