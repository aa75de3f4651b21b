"""Checksums of published shards: a shard read from a curate dataset must still hold the
bytes its manifest recorded (xxh3-128), or it is bad input, never silently trusted.

Hashing costs a few percent of reading the same shard (xxh3 runs at several GB/s, Parquet
decoding at a few hundred MB/s: measured 1.6 % of a filter run), and the file is hashed right
before it is read, so the read then comes from the page cache.
"""

from __future__ import annotations

import threading

import pyarrow.fs as pafs
import xxhash

from curate.errors import BadInputError
from curate.io.discovery import InputShard

CHUNK_BYTES = 8 << 20

# Shards verified by this process, by identity and expected checksum: a stage reads a
# shard in two or three phases, and hashing it once per run is enough.
_verified: set[tuple[str, int, int, str]] = set()
_verified_lock = threading.Lock()


def stream_checksum(filesystem: pafs.FileSystem, path: str) -> str:
    """The xxh3-128 hex digest of a file on any pyarrow filesystem."""
    digest = xxhash.xxh3_128()
    with filesystem.open_input_stream(path, compression=None) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_shard(shard: InputShard) -> None:
    """Raise BadInputError if ``shard`` came with a manifest checksum it no longer matches.
    Shards that are not part of a curate dataset carry no checksum and pass."""
    if shard.checksum is None:
        return
    identity = (shard.path, shard.size, shard.mtime_ns, shard.checksum)
    with _verified_lock:
        if identity in _verified:
            return
    if shard.expected_bytes is not None and shard.size != shard.expected_bytes:
        raise BadInputError(
            shard.path, f"holds {shard.size} bytes but its manifest says {shard.expected_bytes}: the dataset is damaged"
        )
    try:
        actual = stream_checksum(shard.filesystem, shard.path)
    except OSError as exc:
        raise BadInputError(shard.path, f"cannot be read to check its checksum ({exc})") from exc
    if actual != shard.checksum:
        raise BadInputError(
            shard.path,
            f"checksum mismatch (xxh3-128 {actual}, its manifest says {shard.checksum}): the file changed after "
            "it was written; the dataset is damaged (re-run the stage that wrote it)",
        )
    with _verified_lock:
        _verified.add(identity)
