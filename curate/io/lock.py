"""One run per output directory: an OS advisory lock (``flock``), not a PID file, so a
run killed with SIGKILL releases it and the next run needs no manual cleanup. An output's
lock file is ``OUT.curate/lock`` (``curate.io.layout.lock_path``); a dedup index has its own.

The lock file is opened with ``O_NOFOLLOW``: a lock file that is a symlink (which
could point elsewhere) is refused like every other symlink curate would write through.
A holder may remove the lock file (a run that undoes itself); whoever locks checks that the
file it locked is still the one at the path, so two runs never hold two different files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from curate.errors import BusyError, UnsafePathError


class OutputLock:
    """The flock of the lock file ``path``; ``what`` is the directory it guards (for messages)."""

    def __init__(self, path: Path, what: Path | None = None) -> None:
        self.path = path
        self.what = what if what is not None else path.parent
        self._fd: int | None = None

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(f"refusing lock {self.path}: it is a symlink") from exc
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafePathError(f"refusing lock {self.path}: not a regular file")
        return fd

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                os.close(fd)
                raise BusyError(f"another curate run holds {self.what} (lock {self.path}); try later") from exc
            held = os.fstat(fd)
            try:
                current = os.lstat(self.path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                self._fd = fd
                return self
            os.close(fd)  # the file was removed by its previous holder: lock the new one

    def release(self, *, remove: bool = False) -> None:
        """Unlock; with ``remove``, delete the lock file first (while still holding it)."""
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
