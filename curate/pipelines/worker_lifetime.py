"""Worker processes die with the curate process that started them.

A ``kill -9`` of curate must not leave its pool workers running (writing into OUT while
the next run takes the lock). On Linux the kernel sends each worker SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and as a fallback, a watchdog thread exits
the worker once its parent process is gone. Workers ignore SIGINT: Ctrl-C is the parent's
to handle (exit 130), and the workers then die with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
WATCHDOG_SECONDS = 0.5


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    stopped = threading.Event()
    while not stopped.wait(WATCHDOG_SECONDS):
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(parent: int) -> None:
    """Pool initializer: arrange for this worker to die when process ``parent`` does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    # The parent may have died before prctl took effect (no signal then): check once now,
    # and keep checking, since the death signal follows the parent *thread* that spawned us.
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="curate-parent-watchdog", daemon=True).start()
