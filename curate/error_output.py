"""How an error reaches stderr: one line of text (``curate: error: ...``), or, with ``--json``,
one JSON object per error, for programs that run curate.

The object: ``code`` (a short machine-readable name, below), ``exit_status`` (the process's
exit code, see :mod:`curate.errors`), ``message`` (the text line's message), ``run_id``, ``time``
(UTC), and
where known ``file``, ``line`` (JSONL, from 1), ``row`` (from 0), ``column``, ``option``.

Codes: ``usage_error`` and ``unsafe_path`` (exit 2), ``bad_input`` and ``quarantined`` (3),
``write_failed``, ``failed`` and ``internal_error`` (1), ``busy`` (75), ``interrupted`` (130).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click

from curate.errors import BadInputError, BusyError, CurateError, ExitCode, UnsafePathError, UsageError, WriteFailedError
from curate.log_lines import current_run_id, echo_stderr

# Most specific first: UnsafePathError is a UsageError.
_CODES: tuple[tuple[type[CurateError], str], ...] = (
    (UnsafePathError, "unsafe_path"),
    (UsageError, "usage_error"),
    (BadInputError, "bad_input"),
    (WriteFailedError, "write_failed"),
    (BusyError, "busy"),
)


@dataclass(frozen=True)
class ErrorReport:
    code: str
    exit_status: int
    message: str
    file: str | None = None
    line: int | None = None
    row: int | None = None
    column: str | None = None
    option: str | None = None

    @staticmethod
    def from_curate_error(exc: CurateError) -> ErrorReport:
        code = next((name for kind, name in _CODES if isinstance(exc, kind)), "failed")
        file = getattr(exc, "path", None)
        return ErrorReport(
            code,
            int(exc.exit_code),
            str(exc),
            file=None if file is None else str(file),
            line=getattr(exc, "line", None),
            row=getattr(exc, "row", None),
            column=getattr(exc, "column", None),
        )

    @staticmethod
    def from_click_exception(exc: click.ClickException) -> ErrorReport:
        option = None
        if isinstance(exc, click.BadParameter) and exc.param is not None:
            option = exc.param.opts[0] if exc.param.opts else exc.param.name
        file = exc.filename if isinstance(exc, click.FileError) else None
        return ErrorReport("usage_error", exc.exit_code, exc.format_message(), file=file, option=option)

    @staticmethod
    def unexpected(exc: BaseException) -> ErrorReport:
        return ErrorReport(
            "internal_error", int(ExitCode.FAILED), f"{type(exc).__name__}: {exc} (run with -v for the traceback)"
        )

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "code": self.code,
            "exit_status": self.exit_status,
            "message": self.message,
            "run_id": current_run_id(),
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        for name in ("file", "line", "row", "column", "option"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value
        return found


def report_error(error: ErrorReport, *, as_json: bool) -> None:
    """Print ``error`` on stderr: one JSON object (not prefixed: it carries its time and run_id), or
    the text line ``curate: error: ...`` (stamped when stderr is not a terminal)."""
    if as_json:
        click.echo(json.dumps(error.as_json(), sort_keys=True), err=True)
    else:
        prefix = "curate: " if error.code == "interrupted" else "curate: error: "
        echo_stderr(prefix + error.message)
