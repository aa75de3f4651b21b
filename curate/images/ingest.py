"""``curate ingest images DIR OUT``: a folder tree of image files becomes an image dataset.

Every regular file below DIR (recursively, in sorted path order) becomes one row: ``id`` (its
path relative to DIR, ``/``-separated), ``image`` (the file's bytes), ``format`` (Pillow's name:
JPEG, PNG, WEBP, ...), ``width`` and ``height`` (as displayed, after EXIF rotation). Each file
is fully decoded once (JPEG at 1/8 scale, which still reads every coded block) so that a
row of the dataset is an image that decodes; the others go to ``OUT.curate/rejects/`` with their
bytes and ``_reason`` ``ingest_images:<why>``, counted in the manifest:

- the decode outcomes of :mod:`curate.images.decode`: ``empty``, ``unidentified`` (SVG, text,
  anything Pillow does not read as a raster image), ``too_large`` (pixels), ``corrupt``;
- ``file_too_large``: more than ``--max-file-bytes`` (not read);
- ``outside_root``: a symlink whose target is outside DIR (not read: a symlink must not pull
  ``/etc/shadow`` into a dataset);
- ``not_a_file``: a FIFO, socket or device (not opened: reading a FIFO blocks).

Symlinked directories are not descended (counted ``skipped:symlinked_directory``): a symlink
loop would never end and a link to a sibling folder would ingest it twice. Files and folders
whose names start with ``.`` are skipped (counted ``skipped:hidden``).

Shards of about ``--shard-bytes`` of image bytes are written atomically, the manifest last; a
re-run into a finished OUT needs ``--overwrite`` (ingest is not resumable: it is one pass).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import __version__
from curate.errors import UsageError
from curate.images.decode import DEFAULT_MAX_PIXELS, open_image, pillow
from curate.io import cleanup, layout
from curate.io.lock import OutputLock
from curate.io.manifest import fingerprint, write_manifest
from curate.io.shard_output import part_name, reject_name
from curate.io.writers import AtomicParquetWriter, PublishedShard
from curate.log_lines import current_run_id

STAGE = "ingest_images"
IMAGE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("image", pa.binary()),
        ("format", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
    ]
)
# WebDataset (img2dataset / DataComp layout): key.jpg + key.txt + key.json become one row.
WEBDATASET_SCHEMA = pa.schema([*IMAGE_SCHEMA, ("text", pa.large_string()), ("json", pa.large_string())])
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")
REJECT_SCHEMA = pa.schema(
    [("id", pa.string()), ("image", pa.binary()), ("_stage", pa.string()), ("_reason", pa.string())]
)
WEBDATASET_REJECT_SCHEMA = pa.schema(
    [*list(REJECT_SCHEMA)[:2], ("text", pa.large_string()), ("json", pa.large_string()), *list(REJECT_SCHEMA)[2:]]
)
DEFAULT_SHARD_BYTES = 256 << 20
DEFAULT_MAX_FILE_BYTES = 256 << 20
# The smallest JPEG draft (1/8 scale): every coded block is still read, so truncation shows.
VERIFY_DRAFT = (1, 1)


@dataclass(frozen=True)
class IngestOptions:
    shard_bytes: int = DEFAULT_SHARD_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    workers: int = 0
    overwrite: bool = False

    def fields(self) -> dict[str, Any]:
        return {"shard_bytes": self.shard_bytes, "max_file_bytes": self.max_file_bytes, "max_pixels": self.max_pixels}


@dataclass(frozen=True)
class Found:
    """One file of the walk: its id, its path, or why it is not read."""

    id: str
    path: str
    reason: str | None = None
    data: bytes | None = None  # already read (a tar member), else read from path
    extra: dict[str, Any] = field(default_factory=dict)  # WebDataset text / json


@dataclass
class Tally:
    rows_in: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)


def _relative_id(relative: str) -> str:
    # A file name that is not UTF-8 keeps its bytes visible (\xNN) instead of failing the run.
    return os.fsencode(relative).decode("utf-8", "backslashreplace").replace(os.sep, "/")


def walk_images(root: str, tally: Tally) -> Iterator[Found]:
    """Every file below ``root`` in sorted order, with symlinks resolved inside it only."""
    real_root = os.path.realpath(root)
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        kept_dirs = []
        for name in sorted(dirnames):
            full = os.path.join(directory, name)
            if name.startswith("."):
                tally.skipped["hidden"] = tally.skipped.get("hidden", 0) + 1
            elif os.path.islink(full):
                tally.skipped["symlinked_directory"] = tally.skipped.get("symlinked_directory", 0) + 1
            else:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if name.startswith("."):
                tally.skipped["hidden"] = tally.skipped.get("hidden", 0) + 1
                continue
            full = os.path.join(directory, name)
            found_id = _relative_id(os.path.relpath(full, root))
            target = os.path.realpath(full)
            if target != real_root and not target.startswith(real_root + os.sep):
                yield Found(found_id, full, "outside_root")
                continue
            try:
                info = os.stat(target)
            except OSError:
                yield Found(found_id, full, "outside_root" if os.path.islink(full) else "not_a_file")
                continue
            if not stat.S_ISREG(info.st_mode):
                yield Found(found_id, full, "not_a_file")
                continue
            yield Found(found_id, target)


def _load(found: Found, options: IngestOptions) -> tuple[Found, bytes | None, Any]:
    """Read and verify one file (on a worker thread: Pillow decodes without the GIL)."""
    if found.reason is not None:
        return found, found.data, None
    if found.data is not None:
        decoded = open_image(found.data, max_pixels=options.max_pixels, draft=VERIFY_DRAFT, mode=None)
        if decoded.reason is not None:
            return Found(found.id, found.path, decoded.reason, extra=found.extra), found.data, None
        return found, found.data, decoded
    try:
        if os.path.getsize(found.path) > options.max_file_bytes > 0:
            return Found(found.id, found.path, "file_too_large"), None, None
        with open(found.path, "rb") as handle:
            data = handle.read()
    except OSError:
        return Found(found.id, found.path, "not_a_file"), None, None
    decoded = open_image(data, max_pixels=options.max_pixels, draft=VERIFY_DRAFT, mode=None)
    if decoded.reason is not None:
        return Found(found.id, found.path, decoded.reason), data, None
    return found, data, decoded


def _prepare_output(output: Path, source: Path, overwrite: bool) -> None:
    """OUT and OUT.curate exist, and hold nothing of an earlier run (refused unless ``overwrite``;
    a file curate did not write is always refused). Called under the output's lock."""
    for target in (output, layout.state_dir(output)):
        real_out, real_in = os.path.realpath(target), os.path.realpath(source)
        if real_out == real_in or real_out.startswith(real_in + os.sep):
            raise UsageError(f"the output {target} is inside the input {source}; choose a directory outside it")
    if output.exists() and not output.is_dir():
        raise UsageError(f"the output {output} exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    state = layout.state_dir(output)
    earlier = any(output.iterdir()) or any(p.name != layout.LOCK for p in state.iterdir())
    if earlier and not overwrite:
        raise UsageError(f"{output} is not empty; pass --overwrite to replace it, or choose another directory")
    foreign = cleanup.foreign_entries(output)
    if foreign:
        raise UsageError(f"{output} holds {foreign[0]}, which curate did not write; choose another directory")
    cleanup.remove_curate_files(output)


class _ShardWriter:
    """Kept rows into part-NNNNN.parquet, a new shard after ``shard_bytes`` of image bytes."""

    def __init__(self, root: Path, shard_bytes: int, schema: pa.Schema, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        self.schema = schema
        self.shard_bytes = shard_bytes
        self.published: list[PublishedShard] = []
        self.rows: list[dict[str, Any]] = []
        self.pending_bytes = 0
        self.writer: AtomicParquetWriter | None = None
        self.writer_bytes = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.pending_bytes += len(row["image"])
        if self.pending_bytes >= 16 << 20:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        if self.writer is None:
            name = f"part-{len(self.published):05d}.parquet"
            self.writer = AtomicParquetWriter(self.root, name, self.schema, tmp_dir=self.tmp_dir)
        self.writer.write(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.writer_bytes += self.pending_bytes
        self.rows, self.pending_bytes = [], 0
        if self.writer_bytes >= self.shard_bytes:
            self._close()

    def _close(self) -> None:
        if self.writer is not None:
            self.published.append(self.writer.commit())
            self.writer, self.writer_bytes = None, 0

    def finish(self) -> list[PublishedShard]:
        self._flush()
        self._close()
        if not self.published:  # an empty folder is an empty dataset, with its schema
            with AtomicParquetWriter(self.root, part_name(0), self.schema, tmp_dir=self.tmp_dir) as empty:
                pass
            assert empty.published is not None
            self.published.append(empty.published)
        return self.published

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def ingest_images(source: Path, output: Path, options: IngestOptions, *, webdataset: bool = False) -> dict[str, Any]:
    """Walk ``source`` (a folder of images, or with ``webdataset`` a folder of / one ``.tar``),
    write ``output`` (shards, rejects, manifest last); return the manifest."""
    if not webdataset and not source.is_dir():
        raise UsageError(f"{source} is not a directory of images")
    pillow()
    stage = "ingest_webdataset" if webdataset else STAGE
    schema = WEBDATASET_SCHEMA if webdataset else IMAGE_SCHEMA
    reject_schema = WEBDATASET_REJECT_SCHEMA if webdataset else REJECT_SCHEMA
    started, started_at = time.monotonic(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = layout.state_dir(output)
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise UsageError(f"the output's state directory {state} is not a directory of curate's")
    state.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    listing = hashlib.sha256()
    with OutputLock(layout.lock_path(output), output):
        _prepare_output(output, source, options.overwrite)
        shards = _ShardWriter(output, options.shard_bytes, schema, layout.tmp_dir(output))
        walk = walk_webdataset(source, tally) if webdataset else walk_images(str(source), tally)
        rejects: list[dict[str, Any]] = []
        workers = options.workers or (os.cpu_count() or 1)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # map keeps the walk's order; at most ~4 files per worker are in flight.
                for found, data, decoded in _ordered(pool, walk, options, workers * 4):
                    tally.rows_in += 1
                    listing.update(f"{found.id}\0{len(data or b'')}\0".encode())
                    if found.reason is not None:
                        tally.rejected[found.reason] = tally.rejected.get(found.reason, 0) + 1
                        rejects.append(
                            {
                                "id": found.id,
                                "image": data,
                                **found.extra,
                                "_stage": stage,
                                "_reason": f"{stage}:{found.reason}",
                            }
                        )
                        continue
                    tally.kept += 1
                    shards.add(
                        {
                            "id": found.id,
                            "image": data,
                            "format": decoded.format,
                            "width": decoded.width,
                            "height": decoded.height,
                            **found.extra,
                        }
                    )
            published = shards.finish()
        except BaseException:
            shards.abort()
            raise
        reject_files = []
        if rejects:
            with AtomicParquetWriter(state, reject_name(0), reject_schema) as writer:
                writer.write(pa.Table.from_pylist(rejects, schema=reject_schema))
            assert writer.published is not None
            reject_files.append(writer.published)
        if tally.rows_in != tally.kept + len(rejects):
            raise AssertionError(f"rows in {tally.rows_in} != kept {tally.kept} + rejected {len(rejects)}")
        config = options.fields()
        manifest = {
            "curate_version": __version__,
            "stage": stage,
            "config": config,
            "fingerprint": fingerprint({"stage": stage, "config": config, "listing": listing.hexdigest()}),
            "inputs": [{"path": str(source), "files": tally.rows_in, "listing_sha256": listing.hexdigest()}],
            "input_manifest_fingerprint": None,
            "started_at": started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 3),
            "run_id": current_run_id(),
            "shards": [s.as_json() for s in published],
            "rejects": [s.as_json() for s in reject_files],
            "rows_in": tally.rows_in,
            "rows_kept": tally.kept,
            "rows_removed": len(rejects),
            "schema": [{"name": f.name, "type": str(f.type)} for f in schema],
            "counters": {
                **{f"removed:{stage}:{k}": v for k, v in sorted(tally.rejected.items())},
                **{f"skipped:{k}": v for k, v in sorted(tally.skipped.items())},
                **{f"counted:{k}": v for k, v in sorted(tally.counted.items())},
            },
            "quarantined": [],
            "layout": layout.LAYOUT_VERSION,
        }
        write_manifest(output, manifest)
        shutil.rmtree(layout.work_dir(output), ignore_errors=True)
    return manifest


def _tar_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise UsageError(f"{source} is neither a .tar file nor a directory of them")
    return sorted(p for p in source.rglob("*.tar") if p.is_file() and not p.name.startswith("."))


def walk_webdataset(source: Path, tally: Tally) -> Iterator[Found]:
    """One row per sample of every ``.tar`` (sorted): members named ``KEY.EXT`` that follow each
    other form a sample (WebDataset's rule: the key is the member path up to the first dot of its
    file name). The image is the first member with an image extension; ``KEY.txt`` is ``text``,
    ``KEY.json`` is ``json`` (as written). A sample without an image is a reject
    (``missing_image``); a sample without txt or json has nulls there (counted
    ``counted:missing_txt`` / ``missing_json``). Non-file members (links, folders) are skipped and
    counted; nothing is ever extracted to disk. A truncated or unreadable tar is bad input (exit 3)."""
    import tarfile

    from curate.errors import BadInputError

    for archive in _tar_files(source):
        name = archive.name if source.is_file() else str(archive.relative_to(source))
        sample_key: str | None = None
        members: dict[str, bytes] = {}
        try:
            with tarfile.open(archive, mode="r|*") as stream:
                for member in stream:
                    if not member.isfile():
                        tally.skipped["tar_non_file_member"] = tally.skipped.get("tar_non_file_member", 0) + 1
                        continue
                    directory, _, base = member.name.rpartition("/")
                    stem, dot, extension = base.partition(".")
                    key = f"{directory}/{stem}" if directory else stem
                    if not dot:
                        tally.skipped["tar_member_without_extension"] = (
                            tally.skipped.get("tar_member_without_extension", 0) + 1
                        )
                        continue
                    if key != sample_key and sample_key is not None:
                        yield _sample(name, sample_key, members, tally)
                        members = {}
                    sample_key = key
                    handle = stream.extractfile(member)
                    members[extension.lower()] = handle.read() if handle is not None else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BadInputError(str(archive), f"not a readable tar file ({exc})") from exc
        if sample_key is not None:
            yield _sample(name, sample_key, members, tally)


def _sample(archive: str, key: str, members: dict[str, bytes], tally: Tally) -> Found:
    sample_id = f"{archive}/{key}"
    text, meta = members.get("txt"), members.get("json")
    for part, value in (("txt", text), ("json", meta)):
        if value is None:
            tally.counted[f"missing_{part}"] = tally.counted.get(f"missing_{part}", 0) + 1
    for extension in set(members) - {"txt", "json", *IMAGE_EXTENSIONS}:
        tally.skipped[f"tar_member:{extension}"] = tally.skipped.get(f"tar_member:{extension}", 0) + 1
    extra = {
        "text": None if text is None else text.decode("utf-8", "replace"),
        "json": None if meta is None else meta.decode("utf-8", "replace"),
    }
    image = next((members[e] for e in IMAGE_EXTENSIONS if e in members), None)
    if image is None:
        return Found(sample_id, archive, "missing_image", extra=extra)
    return Found(sample_id, archive, data=image, extra=extra)


def _ordered(
    pool: ThreadPoolExecutor, items: Iterator[Found], options: IngestOptions, window: int
) -> Iterator[tuple[Found, bytes | None, Any]]:
    """``_load`` over ``items`` on ``pool`` in order, with at most ``window`` files in flight."""
    pending: list[Any] = []
    for item in items:
        pending.append(pool.submit(_load, item, options))
        if len(pending) >= window:
            yield pending.pop(0).result()
    for future in pending:
        yield future.result()
