"""Markdown ("github") tables: the one table layout of the text output, fitted to a width.

Every cell is text, left-aligned; a column is as wide as its widest cell, and at least its header
plus two (the layout tabulate's "github" format uses, so tables read the same in a terminal and in
Markdown).

`table` fits a `Display`'s width, in this order, stopping at the first that fits:
1. the full table;
2. short headers (`Column.short`) and no padding beyond the widest cell;
3. then, one at a time, hide the columns of highest `rank` (the rightmost first among equals;
   rank 0 is never hidden) until the table fits; bring back those of the hidden, most useful
   first, that still fit in the room left; say below the table which stay hidden (by their
   short headers) and that `--wide` shows them;
4. when even the rank-0 columns do not fit: every row as a record, its first cell on a line of
   its own and `short header: value` pairs under it, packed into lines of the width (a pair
   longer than the width alone overflows it).
Without a width (pipes, files, `--wide`) the full table is printed whatever its width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .terminal import PLAIN, Display


@dataclass(frozen=True)
class Column:
    """A column: its header, the shorter one used when the table must shrink, how readily it is
    hidden (0: never; higher ranks first), and whether its cells name a bound (coloured)."""

    header: str
    short: str = ""  # "": the header itself
    rank: int = 0
    bound: bool = False

    @property
    def brief(self) -> str:
        return self.short or self.header


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """`headers` and `rows` (lists of cells) as a Markdown table, without a trailing newline."""
    return table([Column(h) for h in headers], rows)


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str]], pad: int) -> list[int]:
    widths = [len(header) + pad for header in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    return widths


def _line_width(widths: Sequence[int]) -> int:
    """'| a | b |': each column's width, three characters around each, one at the end."""
    return sum(widths) + 3 * len(widths) + 1


def _grid(
    columns: Sequence[Column],
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[int],
    display: Display,
) -> str:
    def line(cells: Sequence[str], paint: bool) -> str:
        padded = [
            display.paint(c.ljust(w), c) if paint and col.bound else c.ljust(w)
            for c, w, col in zip(cells, widths, columns, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers, False), separator, *(line(row, True) for row in rows)])


def _records(columns: Sequence[Column], rows: Sequence[Sequence[str]], display: Display) -> str:
    """Each row as its first cell, then `short header: value` pairs packed into lines of the
    width (a line keeps room for the ';' that continues it)."""
    width = display.width or 0
    out = []
    for row in rows:
        out.append(row[0])
        line, length = "", 0
        for col, cell in zip(columns[1:], row[1:], strict=True):
            item = f"{col.brief}: {cell}"
            painted = f"{col.brief}: {display.paint(cell, cell)}" if col.bound else item
            if line and length + 2 + len(item) >= width:
                out.append(line + ";")
                line, length = "", 0
            line = f"{line}; {painted}" if line else f"  {painted}"
            length += 2 + len(item)
        if line:
            out.append(line)
    return "\n".join(out)


def table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    display: Display = PLAIN,
    legend: str = "",
) -> str:
    """`rows` under `columns`, fitted to `display` (module docstring), without a trailing
    newline. `legend` explains the short headers; it is printed below the table when they are
    used."""
    rows = [list(row) for row in rows]
    full = _widths([c.header for c in columns], rows, pad=2)
    if display.width is None or _line_width(full) <= display.width:
        return _grid(columns, [c.header for c in columns], rows, full, display)
    width = display.width
    compact = _widths([c.brief for c in columns], rows, pad=0)
    shown = list(range(len(columns)))
    order = sorted(
        (i for i, c in enumerate(columns) if c.rank > 0), key=lambda i: (-columns[i].rank, -i)
    )
    hidden = []
    for i in order:
        if _line_width([compact[j] for j in shown]) <= width:
            break
        shown.remove(i)
        hidden.append(i)
    if _line_width([compact[j] for j in shown]) > width:
        text = _records(columns, rows, display)
        return "\n".join([text, *([display.fill(legend)] if legend else [])])
    for i in reversed(hidden):  # room left: the most useful of the hidden that fit come back
        if _line_width([compact[j] for j in [*shown, i]]) <= width:
            shown = sorted([*shown, i])
    kept = [columns[i] for i in shown]
    text = _grid(
        kept,
        [c.brief for c in kept],
        [[row[i] for i in shown] for row in rows],
        [compact[i] for i in shown],
        display,
    )
    notes = []
    if legend and any(c.short for c in kept):
        notes.append(legend)
    if len(shown) < len(columns):
        names = ", ".join(c.brief for i, c in enumerate(columns) if i not in shown)
        notes.append(f"Hidden to fit {width} columns: {names} (--wide shows every column).")
    return "\n".join([text, *(display.fill(note) for note in notes)])
