"""Lines on stderr and the run id that ties them to a dataset.

On a terminal a line is printed as it is (``curate: warning: ...``). When stderr is not a
terminal (cron appending to a log, a pipe), every line starts with a UTC timestamp and the
run id: ``2026-12-07T11:26:00.123Z run=20261207T112600-3fa9c1 curate: warning: ...``. The same
run id is written to the manifest of the dataset the run made (``run_id``) and to the
``--json`` summary, so a log line, a summary and a dataset can be matched.

The run id is process-wide: one invocation of ``curate`` is one run.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from datetime import datetime, timezone
from typing import TextIO

import click

# Letters, digits and ``._-``: it goes into log lines and JSON unquoted, and may name files.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_run_id: str | None = None


def new_run_id() -> str:
    """A sortable id, unique in practice: the UTC start second and 24 random bits."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def set_run_id(run_id: str) -> None:
    global _run_id
    _run_id = run_id


def current_run_id() -> str:
    """This process's run id (made on first use when the command line set none)."""
    global _run_id
    if _run_id is None:
        _run_id = new_run_id()
    return _run_id


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: treat as a log
        return False


def stamped(line: str, stream: TextIO | None = None) -> str:
    """``line`` as it goes to ``stream`` (stderr): unchanged on a terminal, else prefixed with
    the UTC time (milliseconds) and the run id, on each of its lines."""
    if _is_terminal(stream if stream is not None else sys.stderr):
        return line
    now = datetime.now(timezone.utc)
    prefix = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z run={current_run_id()} "
    return "\n".join(prefix + part for part in line.split("\n"))


def echo_stderr(line: str) -> None:
    """One line (or several) on stderr, stamped when stderr is not a terminal."""
    click.echo(stamped(line), err=True)


class StampedFormatter(logging.Formatter):
    """``curate: message``, stamped like every other stderr line when stderr is not a terminal.

    The stream is looked up when a record is formatted (not when logging is configured), so
    a test runner's replaced stderr is the one checked."""

    def __init__(self) -> None:
        super().__init__("curate: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return stamped(super().format(record))


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass
