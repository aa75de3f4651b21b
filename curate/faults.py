"""Named points where a test can kill curate with a real SIGKILL, deterministically.

``CURATE_TEST_KILL_AT=NAME`` (or ``NAME@N``: the N-th time the point is reached, from 1) makes the
process send itself SIGKILL there: no handler runs, no file is closed, exactly as the OOM killer or a
power cut would leave things. The fault-injection tests use it to stop at every phase boundary of a
run (``phase:signatures``, ..., ``published``, ``index:run``); unset, a point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "CURATE_TEST_KILL_AT"
_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """SIGKILL this process if ``CURATE_TEST_KILL_AT`` names this point (and its count)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, count = wanted.partition("@")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
