"""Finding the input shards of a run: a curate dataset, a directory, a glob or one file."""

from __future__ import annotations

import fnmatch
import glob
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.fs as pafs

from curate.errors import BadInputError, CurateError, UsageError
from curate.ingest.formats import WARC_SUFFIXES, is_web_archive
from curate.io import layout
from curate.io.locations import resolve_input

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (
    ".parquet",
    ".jsonl",
    ".json",
    ".ndjson",
    ".jsonl.gz",
    ".json.gz",
    ".ndjson.gz",
    ".jsonl.zst",
    ".json.zst",
    ".ndjson.zst",
)


@dataclass(frozen=True)
class InputShard:
    """One input file. ``index`` is its position in the sorted input list; ``name`` is its
    path relative to the input root, used in derived ids and messages."""

    index: int
    path: str
    name: str
    size: int
    mtime_ns: int
    filesystem: pafs.FileSystem
    # Set when the shard is listed by a curate manifest: what it must still hold.
    checksum: str | None = None
    expected_bytes: int | None = None

    @property
    def format(self) -> str:
        if is_web_archive(self.path):
            return "warc"
        return "parquet" if self.path.endswith(".parquet") else "jsonl"

    @property
    def compression(self) -> str | None:
        if self.path.endswith(".gz"):
            return "gzip"
        if self.path.endswith(".zst"):
            return "zstd"
        return None

    def fingerprint(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "mtime_ns": self.mtime_ns}


INGEST_HINT = "web archives are read by `curate ingest warc IN OUT` (then run this command on OUT)"


def _suffixes(source: str | None) -> tuple[str, ...]:
    """The file names a run reads: web archives for a ``warc`` source stage, else tables."""
    return WARC_SUFFIXES if source == "warc" else SUPPORTED_SUFFIXES


def _wanted(name: str, suffixes: tuple[str, ...]) -> bool:
    return name.lower().endswith(suffixes) if suffixes is WARC_SUFFIXES else name.endswith(suffixes)


def _hidden(part: str) -> bool:
    """A name discovery skips below a directory: ``_x``, ``.x``, and a curate output's state
    directory ``X.curate`` (its rejects and work are not data)."""
    return part.startswith(("_", ".")) or part.endswith(layout.STATE_SUFFIX)


def _is_data_file(name: str, suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES) -> bool:
    base = os.path.basename(name)
    return not base.startswith(("_", ".")) and _wanted(base, suffixes)


def _refuse_or_note_archives(archives: list[str], found: int, root: str) -> None:
    """Web archives in a table run's input are never skipped in silence: with no table beside
    them the run is refused, else the user is told at the default verbosity which were left out."""
    if not archives:
        return
    names = [os.path.relpath(p, root) for p in archives]
    shown = ", ".join(names[:3]) + (f", ... ({len(names) - 3} more)" if len(names) > 3 else "")
    if not found:
        raise UsageError(f"{root} holds {len(names)} WARC/ARC/WET file(s) ({shown}) and no table: {INGEST_HINT}")
    log.warning("skipped %d WARC/ARC/WET file(s) (%s): %s", len(names), shown, INGEST_HINT)


def _resolve_filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    return resolve_input(location)


def _is_glob(location: str) -> bool:
    return any(ch in location for ch in "*?[")


def _glob_root(path: str) -> str:
    return os.path.dirname(path.split("*")[0].split("?")[0].split("[")[0].rstrip("/")) or "/"


def is_directory_input(location: str) -> bool:
    """A local directory (not a glob, not a file)."""
    filesystem, path = _resolve_filesystem(location)
    return not _is_glob(location) and isinstance(filesystem, pafs.LocalFileSystem) and os.path.isdir(path)


def _segments_match(pattern: list[str], parts: list[str]) -> bool:
    """glob semantics per path segment: ``**`` spans any number of segments."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_segments_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _segments_match(pattern[1:], parts[1:])


def glob_could_read(location: str, output: str) -> bool:
    """Whether the glob ``location`` would match the shards curate writes for ``output``
    (``OUT/part-*.parquet``, ``OUT.curate/rejects/part-*.parquet``), were they there."""
    _, pattern = _resolve_filesystem(location)
    written = [
        os.path.join(output, "part-00000.parquet"),
        os.path.join(layout.rejects_dir(output), "part-00000.parquet"),
    ]
    split = [part for part in pattern.split(os.sep) if part]
    return any(_segments_match(split, [p for p in path.split(os.sep) if p]) for path in written)


def input_root(location: str) -> str | None:
    """The local directory below which a directory or glob input finds its files (None for
    one file or a remote location): an output below it would be read by the next run."""
    filesystem, path = _resolve_filesystem(location)
    if not isinstance(filesystem, pafs.LocalFileSystem):
        return None
    if _is_glob(location):
        return _glob_root(path)
    return path if os.path.isdir(path) else None


def discover_inputs(location: str, source: str | None = None) -> tuple[list[InputShard], dict[str, object] | None]:
    """List the input shards at ``location`` in a stable (sorted) order.

    A directory with a manifest (``OUT.curate/manifest.json`` beside it, or an older curate's
    ``OUT/_manifest.json``) is a curate dataset: only the shards its manifest lists are read,
    and the manifest is returned too. A directory with curate's workspace but no manifest is
    an unfinished run and is refused. Otherwise every supported file below the directory
    (files and folders whose name starts with ``_`` or ``.``, and ``X.curate`` folders, are
    skipped, and listed at -v),
    a glob, or a single file. Raises UsageError when nothing is found. ``source="warc"``
    (``curate ingest warc``) finds web archives instead of tables; any other run refuses
    web archives, or names those it left out, pointing to ``curate ingest warc``.
    """
    suffixes = _suffixes(source)
    filesystem, path = _resolve_filesystem(location)
    if _is_glob(location):
        if not isinstance(filesystem, pafs.LocalFileSystem):
            raise UsageError(f"globs are supported on local paths only: {location}")
        matched = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        found = [p for p in matched if _is_data_file(p, suffixes)]
        root = _glob_root(path)
        if source is None:
            _refuse_or_note_archives([p for p in matched if _is_data_file(p, WARC_SUFFIXES)], len(found), root)
        _note_skipped([p for p in matched if _wanted(p, suffixes) and not _is_data_file(p, suffixes)], root)
        return _shards(filesystem, found, root), None

    try:
        info = filesystem.get_file_info(path)
    except Exception as exc:  # any client's error (OSError, httpx, ...): the store cannot be asked
        if isinstance(filesystem, pafs.LocalFileSystem):
            raise
        message = " ".join(str(exc).split())[:300]
        raise CurateError(f"cannot reach {location}: {type(exc).__name__}: {message}") from exc
    if info.type == pafs.FileType.NotFound:
        raise UsageError(f"input not found: {location}")
    if info.type == pafs.FileType.File:
        if source is None and is_web_archive(path):
            raise UsageError(f"{location} is a web archive: {INGEST_HINT}")
        if not _wanted(path, suffixes):
            raise UsageError(f"unsupported input file type (want {', '.join(suffixes)}): {location}")
        return _shards(filesystem, [path], os.path.dirname(path)), None

    found_manifest = _manifest_of(filesystem, path)
    if source is None and found_manifest is not None:
        manifest_path = found_manifest
        with filesystem.open_input_stream(manifest_path) as stream:
            try:
                manifest = json.loads(stream.read())
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
                raise BadInputError(manifest_path, f"unreadable manifest: {exc}") from exc
        shards_listed = manifest.get("shards") if isinstance(manifest, dict) else None
        if not isinstance(shards_listed, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("name"), str) for entry in shards_listed
        ):
            raise BadInputError(manifest_path, "not a curate manifest (want a JSON object with a list of named shards)")
        names = [shard["name"] for shard in shards_listed]
        for name in names:
            if os.path.isabs(name) or ".." in Path(name).parts or "\x00" in name:
                raise BadInputError(manifest_path, f"refusing shard name {name!r} (escapes the dataset)")
        listed = _shards(filesystem, [f"{path.rstrip('/')}/{n}" for n in names], path)
        shards = [
            replace(shard, checksum=entry.get("xxh3_128"), expected_bytes=entry.get("bytes"))
            for shard, entry in zip(listed, shards_listed, strict=True)
        ]
        return shards, manifest
    for work in (str(layout.work_dir(path.rstrip("/"))), str(layout.legacy_work_dir(path.rstrip("/")))):
        if filesystem.get_file_info(work).type == pafs.FileType.Directory:
            raise UsageError(
                f"{location} is an unfinished curate output (it has {work} but no manifest); finish that run first"
            )

    selector = pafs.FileSelector(path, recursive=True)
    found = []
    skipped = []
    archives = []
    for entry in filesystem.get_file_info(selector):
        if entry.type != pafs.FileType.File:
            continue
        parts = Path(entry.path).relative_to(path).parts
        hidden = any(_hidden(part) for part in parts)
        if source is None and not hidden and is_web_archive(entry.path):
            archives.append(entry.path)
        if not _wanted(entry.path, suffixes):
            continue
        (found if not hidden else skipped).append(entry.path)
    found.sort()
    _refuse_or_note_archives(sorted(archives), len(found), path)
    _note_skipped(sorted(skipped), path)
    if not found:
        raise UsageError(f"no input files ({', '.join(suffixes)}) found in {location}")
    return _shards(filesystem, found, path), None


def _manifest_of(filesystem: pafs.FileSystem, path: str) -> str | None:
    """The manifest of the dataset at ``path`` (``path.curate/manifest.json``, else an older
    curate's ``path/_manifest.json``), or None."""
    root = path.rstrip("/")
    for candidate in (str(layout.manifest_path(root)), str(layout.legacy_manifest_path(root))):
        if filesystem.get_file_info(candidate).type == pafs.FileType.File:
            return candidate
    return None


def _note_skipped(skipped: list[str], root: str) -> None:
    """Say (at -v) which data files discovery left out because a name starts with _ or ."""
    if skipped:
        names = [os.path.relpath(p, root) for p in skipped]
        shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
        log.info(
            "skipped %d input file(s) whose name or folder starts with '_' or '.' (or is X.curate): %s",
            len(names),
            shown,
        )


def _shards(filesystem: pafs.FileSystem, paths: list[str], root: str) -> list[InputShard]:
    if not paths:
        raise UsageError("no input files matched")
    infos = filesystem.get_file_info(paths)
    shards = []
    for index, info in enumerate(infos):
        if info.type != pafs.FileType.File:
            raise BadInputError(info.path, "listed input file is missing")
        name = os.path.relpath(info.path, root) if root else info.base_name
        shards.append(
            InputShard(
                index=index,
                path=info.path,
                name=name,
                size=info.size or 0,
                mtime_ns=info.mtime_ns or 0,
                filesystem=filesystem,
            )
        )
    return shards
