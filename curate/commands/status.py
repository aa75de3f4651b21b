"""``curate status DIR``: is a dataset (a stage's OUT) or a dedup index complete, in progress, or broken?"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from curate.commands.options import json_flag
from curate.errors import ExitCode

# state -> exit code: scripts and cron can branch on it without parsing.
EXIT = {
    "complete": ExitCode.OK,
    "in_progress": ExitCode.BUSY,
    "interrupted": ExitCode.FAILED,
    "broken": ExitCode.BAD_INPUT,
    "missing": ExitCode.USAGE,
}


def _held(lock: Path) -> bool:
    """Does a process hold ``lock``? /proc/locks when there is one (nothing taken, so a run starting
    now is never refused because of us); elsewhere a non-blocking shared lock, released at once."""
    if not lock.exists():
        return False
    locks = Path("/proc/locks")
    if locks.exists():
        needle = f":{lock.stat().st_ino} "
        return any(needle in line for line in locks.read_text().splitlines())
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def index_status(root: Path) -> dict[str, Any]:
    from curate.dedup.index.store import LOCK_NAME, PENDING_NAME, Index, run_name

    index = Index(root)
    try:
        state = index.state()
    except Exception as exc:
        return {"kind": "index", "state": "broken", "why": str(exc)}
    assert state is not None
    missing = [run_name(k, r) for r in state.runs for k in ("docs", "bands") if not (root / run_name(k, r)).is_file()]
    base = {"kind": "index", "nights": state.next_night - 1, "documents": sum(r["docs"] for r in state.runs)}
    if missing:
        return {**base, "state": "broken", "why": f"index files missing: {', '.join(missing)}"}
    if _held(root / LOCK_NAME):
        return {**base, "state": "in_progress", "why": "a run holds the index lock"}
    if (root / PENDING_NAME).exists():
        return {
            **base,
            "state": "interrupted",
            "why": "a run was killed during its update; the next run on this index completes or drops it",
        }
    return {**base, "state": "complete", "why": f"{base['nights']} nights applied, no update pending"}


def dataset_status(root: Path) -> dict[str, Any]:
    from curate.io import layout
    from curate.io.manifest import read_manifest
    from curate.pipelines.workspace import RUN_FILE

    lock = layout.lock_path(root)
    locked = _held(lock) or _held(layout.legacy_lock_path(root))
    if layout.find_manifest(root) is not None:
        try:
            manifest = read_manifest(root)
            assert manifest is not None
            listed = layout.listed_files(root, manifest)
        except Exception as exc:
            return {"kind": "dataset", "state": "broken", "why": str(exc)}
        bad = [e["name"] for e, path in listed if not path.is_file() or path.stat().st_size != e.get("bytes")]
        base = {"kind": "dataset", "stage": manifest.get("stage"), "rows_kept": manifest.get("rows_kept")}
        if bad:
            return {**base, "state": "broken", "why": f"missing or resized: {', '.join(bad)} (curate verify DIR)"}
        if locked:
            return {**base, "state": "in_progress", "why": "complete, and a run holds the lock (e.g. --overwrite)"}
        return {**base, "state": "complete", "why": f"manifest lists {len(listed)} intact files (sizes checked)"}
    for work in (layout.work_dir(root), layout.legacy_work_dir(root)):
        if (work / RUN_FILE).exists():
            markers = list((work / "markers").rglob("*.json")) if (work / "markers").is_dir() else []
            if locked:
                return {
                    "kind": "dataset",
                    "state": "in_progress",
                    "why": f"a run holds the lock; {len(markers)} tasks done",
                }
            resumes = (
                "the same command resumes"
                if work == layout.work_dir(root)
                else "written by an older curate: --overwrite starts over"
            )
            return {
                "kind": "dataset",
                "state": "interrupted",
                "why": f"no manifest and no run: killed or failed; {resumes} ({len(markers)} tasks done)",
            }
    if locked:
        return {"kind": "dataset", "state": "in_progress", "why": "a run holds the lock; no task done yet"}
    if lock.exists() or layout.legacy_lock_path(root).exists():
        return {"kind": "dataset", "state": "interrupted", "why": "a run stopped before any work; re-run it"}
    return {"kind": "unknown", "state": "missing", "why": "neither a curate output nor a curate index"}


@click.command()
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@json_flag("Print the result as one JSON object.")
def status(directory: Path, as_json: bool) -> None:
    """Say whether DIR (a stage's output or a dedup index) is complete, in progress, interrupted or
    broken, and why. Exit 0 complete, 75 in progress, 1 interrupted (re-run the command), 3 broken,
    2 not a curate directory."""
    from curate.io import layout

    if (directory / "_index.json").exists():
        found = index_status(directory)
    elif directory.is_dir() or layout.state_dir(directory).is_dir():
        found = dataset_status(directory)
    else:
        found = {"kind": "unknown", "state": "missing", "why": "no such directory"}
    found = {"dir": str(directory), **found}
    if as_json:
        click.echo(json.dumps(found, sort_keys=True))
    else:
        click.echo(f"{directory}: {found['kind']} {found['state'].replace('_', ' ')}: {found['why']}")
    sys.exit(int(EXIT[found["state"]]))
