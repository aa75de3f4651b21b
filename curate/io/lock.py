"""One run per output directory: an OS advisory lock (``flock``), not a PID file, so a
run killed with SIGKILL releases it and the next run needs no manual cleanup."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from curate.errors import BusyError

LOCK_NAME = "_curate.lock"


class OutputLock:
    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise BusyError(f"another curate run holds {self.path.parent} (lock {self.path}); try later") from exc
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
