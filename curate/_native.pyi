"""Type stubs of the private Rust extension; use ``curate.kernel`` instead of calling these directly.

Array arguments are the ``(schema, array)`` PyCapsule pairs of ``pyarrow.Array.__arrow_c_array__()``.
Array results are ``bytearray``s of native-endian numbers.
"""

from typing import Any

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
def connected_components(a_schema: Any, a_array: Any, b_schema: Any, b_array: Any) -> tuple[bytearray, bytearray]: ...
def simd_backend() -> str: ...
def _set_portable_only(portable: bool) -> None: ...

# Exact dedup: content hashes and repeated line / paragraph segments (rust_ext/src/py_exact.rs).
def content_hashes(schema: Any, array: Any, level: str, row_base: int = 0) -> tuple[bytearray, bytearray]: ...
def segment_hashes(schema: Any, array: Any, unit: str, row_base: int = 0) -> tuple[bytearray, bytearray]: ...
def remove_segments(
    schema: Any, array: Any, unit: str, drop: bytes, row_base: int = 0
) -> tuple[bytearray, bytearray, bytearray | None, bytearray, bytearray, bytearray]: ...
