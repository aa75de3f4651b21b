"""Type stubs of the private Rust extension; use ``curate.kernel`` instead of calling these directly.

Array arguments are the ``(schema, array)`` PyCapsule pairs of ``pyarrow.Array.__arrow_c_array__()``.
Array results are ``bytearray``s of native-endian numbers.
"""

from typing import Any, final

# The names the extension registers (PyO3 sets the module's __all__; mypy.stubtest compares the two).
__all__ = [
    "C4_COLUMNS",
    "FINEWEB_COLUMNS",
    "MAX_NGRAM",
    "MAX_PERM",
    "MAX_STAT_NGRAM",
    "MAX_STOP_WORDS",
    "QUALITY_COLUMNS",
    "REPETITION_COLUMNS",
    "TOKEN_SPILL",
    "UNICODE_VERSION",
    "FastTextModel",
    "__version__",
    "_set_portable_only",
    "c4_lines",
    "connected_components",
    "content_hashes",
    "cover_survivors",
    "exact_jaccard",
    "fineweb_lines",
    "gopher_quality_stats",
    "gopher_repetition_stats",
    "hamming_pairs_u64",
    "leader_clusters",
    "line_rule_tables",
    "minhash_batch",
    "normalize_array",
    "normalize_text",
    "permutations",
    "remove_segments",
    "segment_hashes",
    "shingle_hashes",
    "simd_backend",
]

__version__: str
UNICODE_VERSION: str
TOKEN_SPILL: int
MAX_NGRAM: int
MAX_PERM: int

def normalize_text(text: str) -> str: ...
def normalize_array(schema: Any, array: Any, row_base: int = 0) -> tuple[bytearray, bytearray, bytearray | None]: ...
def shingle_hashes(text: str, kind: str, ngram: int) -> list[int]: ...
def permutations(num_perm: int, seed: int) -> tuple[bytearray, bytearray]: ...
def minhash_batch(
    schema: Any,
    array: Any,
    kind: str,
    ngram: int,
    num_perm: int,
    seed: int,
    bands: int,
    rows: int,
    row_base: int = 0,
) -> tuple[bytearray, bytearray, bytearray]: ...
def exact_jaccard(a: str, b: str, kind: str, ngram: int) -> float: ...
def leader_clusters(
    schema: Any,
    array: Any,
    offsets_schema: Any,
    offsets_array: Any,
    threshold: float,
    kind: str,
    ngram: int,
    max_leaders: int,
) -> tuple[bytearray, bytearray]: ...
def cover_survivors(
    schema: Any,
    array: Any,
    offsets_schema: Any,
    offsets_array: Any,
    threshold: float,
    kind: str,
    ngram: int,
    num_perm: int,
    seed: int,
    bands: int,
    rows: int,
    exact_pairs_max: int,
) -> tuple[bytearray, bytearray]: ...
def connected_components(a_schema: Any, a_array: Any, b_schema: Any, b_array: Any) -> tuple[bytearray, bytearray]: ...
def hamming_pairs_u64(schema: Any, array: Any, max_distance: int, threads: int = 1) -> tuple[bytearray, bytearray]: ...
def simd_backend() -> str: ...
def _set_portable_only(portable: bool) -> None: ...

# Exact dedup: content hashes and repeated line / paragraph segments (rust_ext/src/py_exact.rs).
def content_hashes(schema: Any, array: Any, level: str, row_base: int = 0) -> tuple[bytearray, bytearray]: ...
def segment_hashes(schema: Any, array: Any, unit: str, row_base: int = 0) -> tuple[bytearray, bytearray]: ...
def remove_segments(
    schema: Any, array: Any, unit: str, drop: bytes, row_base: int = 0
) -> tuple[bytearray, bytearray, bytearray | None, bytearray, bytearray, bytearray]: ...

# Quality-filter statistics (rust_ext/src/text_stats.rs, rust_ext/src/line_rules.rs).
MAX_STAT_NGRAM: int
MAX_STOP_WORDS: int
QUALITY_COLUMNS: list[str]
REPETITION_COLUMNS: list[str]
C4_COLUMNS: list[str]
FINEWEB_COLUMNS: list[str]

def gopher_quality_stats(
    schema: Any, array: Any, stop_words: list[str], bullets: list[str], row_base: int = 0
) -> bytearray: ...
def gopher_repetition_stats(
    schema: Any, array: Any, top: list[int], dup: list[int], row_base: int = 0
) -> bytearray: ...
def c4_lines(
    schema: Any,
    array: Any,
    *,
    terminal: str,
    filter_no_terminal_punct: bool,
    remove_citations: bool,
    max_word_length: int | None,
    min_words_per_line: int,
    filter_lorem_ipsum: bool,
    filter_javascript: bool,
    filter_curly_bracket: bool,
    filter_policy: bool,
    rewrite: bool,
    row_base: int = 0,
) -> tuple[bytearray, tuple[bytearray, bytearray, bytearray | None] | None]: ...
def fineweb_lines(
    schema: Any, array: Any, *, stop_chars: str | None, short_line_length: int, row_base: int = 0
) -> bytearray: ...
def line_rule_tables() -> tuple[str, list[tuple[int, int]]]: ...

# -- fastText prediction (curate/classify/model.py) ----------------------------------------------------------

@final
class FastTextModel:
    def __new__(cls, path: str) -> FastTextModel: ...
    @property
    def labels(self) -> list[str]: ...
    def predict(
        self, schema: Any, array: Any, k: int, max_chars: int, row_base: int = 0
    ) -> tuple[bytearray, bytearray, bytearray]: ...
