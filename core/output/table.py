"""Markdown ("github") tables: the one table layout of the text output.

Every cell is text, left-aligned; a column is as wide as its widest cell, and at least its header
plus two (the layout tabulate's "github" format uses, so tables read the same in a terminal and in
Markdown).
"""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """`headers` and `rows` (lists of cells) as a Markdown table, without a trailing newline."""
    widths = [len(header) + 2 for header in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])
