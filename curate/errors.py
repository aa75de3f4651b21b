"""The exit-code contract and the exceptions that carry it.

Every command maps its outcome onto these codes, and nowhere else defines one:

    0   done
    1   failed (a bug, an I/O failure, anything unexpected)
    2   usage error (bad option, missing column, empty input, config mismatch)
    3   bad input data (corrupt shard, schema conflict); also a run that finished
        with ``--on-error skip`` but quarantined at least one shard
    75  another run holds the output directory's lock (EX_TEMPFAIL: try later)
    130 interrupted (SIGINT, Ctrl-C: 128 + 2, the shell's convention); a re-run resumes
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    BAD_INPUT = 3
    BUSY = 75
    INTERRUPTED = 130


class CurateError(Exception):
    """An error curate reports as one line, without a traceback."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(CurateError):
    """A usage error; ``path`` and ``column`` say which file and column, when one is at fault
    (the message says it too; ``--json`` errors carry them as fields)."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, path: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.column = column

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_usage, (type(self), str(self), self.path, self.column))


def _rebuild_usage(kind: type[UsageError], message: str, path: str | None, column: str | None) -> UsageError:
    return kind(message, path=path, column=column)


class BadInputError(CurateError):
    """Input data that cannot be read as promised; the message names the file. ``line`` (a
    JSONL line, from 1), ``row`` (a row of the file, from 0) and ``column`` say where, when
    known (the message says it too; ``--json`` errors carry them as fields)."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self, path: str, problem: str, *, line: int | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.line = line
        self.row = row
        self.column = column

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries (executors), so it must rebuild from its own fields.
        return (_rebuild_bad_input, (type(self), self.path, self.problem, self.line, self.row, self.column))


def _rebuild_bad_input(
    kind: type[BadInputError], path: str, problem: str, line: int | None, row: int | None, column: str | None
) -> BadInputError:
    return kind(path, problem, line=line, row=row, column=column)


class WriteFailedError(CurateError):
    """Writing a file under OUT failed (a full disk, a quota, a read-only mount): exit 1, in
    one line naming the file."""

    exit_code = ExitCode.FAILED

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: cannot write ({problem})")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[WriteFailedError], tuple[str, str]]:
        return (type(self), (self.path, self.problem))


class BusyError(CurateError):
    exit_code = ExitCode.BUSY


class UnsafePathError(UsageError):
    """A path that would escape the output root (``..``, absolute, NUL, symlink)."""
