"""An OUT on an object store (``s3://BUCKET/PREFIX`` or ``gs://BUCKET/PREFIX``): the run is made in a local staging copy
(an ordinary local OUT, with its lock, markers, resume and atomic writes), then published to
the store object by object, the manifest last. Same layout as a local OUT: ``PREFIX/part-*``
holds the kept shards and nothing else, ``PREFIX.curate/`` the manifest and the rejects.

Publishing (``publish``):

1. ``PREFIX.curate/work/publishing.json`` is put first: curate's input discovery refuses an OUT
   with a workspace and no manifest as unfinished, on a store as on a disk.
2. The previous manifest, if any, is deleted: from here the old dataset is not committed.
3. Every kept-shard object (``part-*.parquet``) under ``PREFIX/`` and every object under
   ``PREFIX.curate/`` that the new manifest does not list is deleted, so that once committed
   ``PREFIX/part-*.parquet`` is exactly the listed shards. Other objects under ``PREFIX/`` are the
   user's and stay, as files in a local OUT do; a prefix holding objects but no curate output is
   refused before the run without ``--overwrite`` (``check_writable``), as a local OUT is.
4. Each kept shard and rejects file is uploaded as one object (one PUT, or a multipart upload,
   which the store shows only once complete: never a partial object), then its size checked.
5. The manifest is put last: the commit point. Then ``publishing.json`` is deleted.

A publish killed anywhere leaves no manifest (or the old one, before step 2) and the same
command resumes: the local run is already done, so publishing starts over (same bytes).

What replaces the lock: nothing on the store. S3 has no advisory lock and pyarrow exposes no
conditional PUT, so **one writer per OUT prefix** is the rule. Within a machine, runs on one OUT
share its staging directory and so its flock (exit 75 for the second). Across machines, two
writers of one prefix are not prevented; the manifest's checksums make the damage visible
(a reader checks every shard it reads against them: exit 3), never silent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from curate.errors import UsageError
from curate.io import layout
from curate.io.locations import bucket_parts, gcs_filesystem, s3_filesystem, s3_parts, scheme_of


def _store(location: str) -> tuple[str, str, str]:
    """(scheme, bucket, key) of an object-store OUT."""
    scheme = scheme_of(location) or ""
    if scheme not in ("s3", "gs", "gcs"):
        raise UsageError(f"the output {location!r}: object-store outputs are s3:// or gs:// only")
    bucket, key = s3_parts(location) if scheme == "s3" else bucket_parts(location, scheme)
    return scheme, bucket, key


def store_filesystem(location: str) -> pafs.FileSystem:
    return s3_filesystem() if _store(location)[0] == "s3" else gcs_filesystem()


PUBLISHING = "publishing.json"


def staging_dir(location: str) -> Path:
    """The local OUT a run on ``s3://BUCKET/PREFIX`` is made in: ``$CURATE_STAGING_DIR/BUCKET/PREFIX``
    (default ``~/.cache/curate/staging``; ``gs/BUCKET/PREFIX`` there for ``gs://``). It stays after
    publishing: a re-run finds it done."""
    scheme, bucket, key = _store(location)
    if not key:
        raise UsageError(f"the output {location!r} needs a prefix below the bucket ({scheme}://BUCKET/PREFIX)")
    parts = key.split("/")
    if any(part in ("", ".", "..") or part.endswith(layout.STATE_SUFFIX) for part in parts):
        raise UsageError(f"the output {location!r} has an empty, '.', '..' or '*.curate' path segment")
    root = os.environ.get("CURATE_STAGING_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "curate", "staging")
    return Path(root, bucket, *parts) if scheme == "s3" else Path(root, "gs", bucket, *parts)


def _remote(location: str) -> tuple[str, str]:
    """(OUT, OUT.curate) as paths on the store's filesystem (``bucket/prefix``)."""
    _, bucket, key = _store(location)
    out = f"{bucket}/{key}"
    return out, out + layout.STATE_SUFFIX


def _read_json(filesystem: pafs.FileSystem, path: str) -> dict[str, Any] | None:
    if filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        try:
            loaded = json.loads(stream.read())
        except ValueError:
            return None
    return loaded if isinstance(loaded, dict) else None


def _put(filesystem: pafs.FileSystem, path: str, data: bytes) -> None:
    with filesystem.open_output_stream(path) as stream:
        stream.write(data)


def _upload(filesystem: pafs.FileSystem, local: Path, path: str) -> None:
    with open(local, "rb") as source, filesystem.open_output_stream(path) as stream:
        while chunk := source.read(8 << 20):
            stream.write(chunk)
    size = filesystem.get_file_info(path).size
    if size != local.stat().st_size:
        raise OSError(f"{path}: uploaded {local.stat().st_size} bytes, the store holds {size}")


def _listed(staging: Path, manifest: dict[str, Any], out: str, state: str) -> list[tuple[Path, str, int]]:
    """(local file, object path, bytes) of every file the manifest lists."""
    files = []
    for kind, base in (("shards", out), ("rejects", state)):
        for entry in manifest.get(kind, []):
            files.append(
                (layout.listed_path(staging, manifest, entry, kind), f"{base}/{entry['name']}", entry["bytes"])
            )
    return files


def published(location: str, manifest: dict[str, Any], filesystem: pafs.FileSystem | None = None) -> bool:
    """Whether the store already holds this run: its manifest (same fingerprint) and every
    listed object with its size."""
    filesystem = filesystem or store_filesystem(location)
    out, state = _remote(location)
    remote = _read_json(filesystem, f"{state}/{layout.MANIFEST}")
    if remote is None or remote.get("fingerprint") != manifest.get("fingerprint"):
        return False
    names = [f"{out}/{e['name']}" for e in remote.get("shards", [])]
    names += [f"{state}/{e['name']}" for e in remote.get("rejects", [])]
    sizes = [e.get("bytes") for e in (*remote.get("shards", []), *remote.get("rejects", []))]
    infos = filesystem.get_file_info(names) if names else []
    return all(i.type == pafs.FileType.File and i.size == s for i, s in zip(infos, sizes, strict=True))


def _files_below(filesystem: pafs.FileSystem, base: str) -> list[str]:
    if filesystem.get_file_info(base).type != pafs.FileType.Directory:
        return []
    selector = pafs.FileSelector(base, recursive=True)
    return [info.path for info in filesystem.get_file_info(selector) if info.type == pafs.FileType.File]


def _is_shard_name(path: str) -> bool:
    """A name curate gives a kept shard (``part-NNNNN.parquet``): the only objects under PREFIX/ a
    publish may delete; anything else there is the user's, as in a local OUT."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith("part-") and name.endswith(".parquet")


def check_fresh(location: str, overwrite: bool) -> None:
    """Before a one-pass command (``ingest``, not resumable): the prefix holds nothing, or
    ``overwrite`` says to replace what it holds (a curate output, never the user's other objects)."""
    check_writable(location, overwrite)
    _, state = _remote(location)
    manifest = store_filesystem(location).get_file_info(f"{state}/{layout.MANIFEST}")
    if not overwrite and manifest.type == pafs.FileType.File:
        raise UsageError(f"{location} holds a curate output; pass --overwrite to replace it, or choose another")


def check_writable(location: str, overwrite: bool) -> None:
    """Before the run, as for a local OUT: a prefix holding objects but no curate output (no manifest,
    no publish in progress) is refused without ``overwrite``."""
    filesystem = store_filesystem(location)
    out, state = _remote(location)
    if overwrite or filesystem.get_file_info(f"{state}/{layout.MANIFEST}").type == pafs.FileType.File:
        return
    if filesystem.get_file_info(f"{state}/{layout.WORK}/{PUBLISHING}").type == pafs.FileType.File:
        return
    if _files_below(filesystem, out) or _files_below(filesystem, state):
        raise UsageError(f"{location} is not empty and not a curate output; pass --overwrite or choose another")


def check_remote(location: str, fingerprint: str, overwrite: bool) -> None:
    """Refuse (before any upload) to replace a finished dataset of another run without ``overwrite``."""
    _, state = _remote(location)
    remote = _read_json(store_filesystem(location), f"{state}/{layout.MANIFEST}")
    if remote is not None and remote.get("fingerprint") != fingerprint and not overwrite:
        raise UsageError(
            f"{location} holds a finished {remote.get('stage')} run with another configuration or input; "
            "pass --overwrite to replace it, or choose another output"
        )


def publish(location: str, staging: Path, overwrite: bool) -> bool:
    """Publish the finished local OUT ``staging`` to ``location``; False when it already was."""
    manifest = json.loads(layout.manifest_path(staging).read_text(encoding="utf-8"))
    filesystem = store_filesystem(location)
    if published(location, manifest, filesystem):
        return False
    check_remote(location, str(manifest.get("fingerprint")), overwrite)
    out, state = _remote(location)
    marker = f"{state}/{layout.WORK}/{PUBLISHING}"
    _put(filesystem, marker, json.dumps({"fingerprint": manifest.get("fingerprint")}).encode())
    manifest_object = f"{state}/{layout.MANIFEST}"
    if filesystem.get_file_info(manifest_object).type == pafs.FileType.File:
        filesystem.delete_file(manifest_object)
    files = _listed(staging, manifest, out, state)
    keep = {path for _, path, _ in files} | {marker}
    # Stale shards of an earlier run under PREFIX/ and anything under PREFIX.curate/ (curate's own).
    stale = [p for p in _files_below(filesystem, out) if _is_shard_name(p)] + _files_below(filesystem, state)
    for path in stale:
        if path not in keep:
            filesystem.delete_file(path)
    for local, path, size in files:
        if local.stat().st_size != size:
            raise OSError(f"{local}: {local.stat().st_size} bytes, the manifest says {size}; re-run with --overwrite")
        _upload(filesystem, local, path)
    _upload(filesystem, layout.manifest_path(staging), manifest_object)
    filesystem.delete_file(marker)
    return True
