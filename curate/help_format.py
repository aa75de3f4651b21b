"""Help text whose environment variable names are never cut in two.

click wraps option help with ``break_long_words``: on a narrow terminal a name such as
``CURATE_FILTER_GOPHER_REPETITION_DROP_EMPTY`` was split over two lines, so it could not be
copied. This formatter wraps the second column of definition lists (options, commands) at
spaces only; a word longer than the column overflows it instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import click
from click.formatting import iter_rows, measure_table, term_len


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for number, paragraph in enumerate(text.split("\n\n")):
        if number:
            lines.append("")
        flat = " ".join(paragraph.split())
        lines.extend(textwrap.wrap(flat, width, break_long_words=False, break_on_hyphens=False) or [""])
    return lines


class UnbrokenHelpFormatter(click.HelpFormatter):
    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        widths = measure_table(rows)
        if len(widths) != 2:
            raise TypeError("Expected two columns for definition list")
        first_col = min(widths[0], col_max) + col_spacing
        for first, second in iter_rows(rows, 2):
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if term_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - term_len(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = _wrap(second, max(self.width - first_col - 2, 10))
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")
