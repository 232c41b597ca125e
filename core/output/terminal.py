"""Where text output goes: the width a table must fit and whether it may be coloured.

A `Display` is decided once, by the script, from its stdout (`detect`); renderers take it and
stay pure. The rules:

- stdout a terminal: fit its width (`$COLUMNS` when set, else the terminal's), wrap prose to it,
  colour the bound cells unless `$NO_COLOR` is set and not empty (https://no-color.org) or
  `$TERM` is `dumb`;
- stdout not a terminal (a pipe, a file, CI): complete and stable: every column, prose
  unwrapped, no colour, whatever the environment. `$COLUMNS` is ignored there: it leaks into
  child processes (pytest exports COLUMNS=80 to every subprocess, some CI runners set it), and
  a script's output must not change with it;
- `--wide`: every column, prose unwrapped, on a terminal too (colour as above).

JSON and CSV never see a `Display`: they are the same wherever they go.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

# ANSI colours of the bound a row or a step is held by (SGR codes).
BOUND_COLORS = {"compute": "33", "memory": "36", "communication": "35"}


class _Stream(Protocol):
    def isatty(self) -> bool: ...

    def fileno(self) -> int: ...


@dataclass(frozen=True)
class Display:
    """`width`: the columns text must fit (None: no limit, nothing hidden or wrapped);
    `color`: whether bound cells carry ANSI colours."""

    width: int | None = None
    color: bool = False

    def fill(self, text: str, indent: str = "") -> str:
        """`text` wrapped to the width (unchanged without one); later lines start with
        `indent`."""
        if self.width is None or len(text) <= self.width:
            return text
        return textwrap.fill(
            text,
            width=self.width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )

    def paint(self, text: str, bound: str) -> str:
        """`text` in the colour of `bound` when colouring (a cell's padding stays outside)."""
        code = BOUND_COLORS.get(bound)
        if not self.color or code is None:
            return text
        stripped = text.rstrip(" ")
        return f"\033[{code}m{stripped}\033[0m{text[len(stripped):]}"


PLAIN = Display()  # complete, uncoloured: files, pipes, the API's default


def _columns(environ: Mapping[str, str]) -> int | None:
    value = environ.get("COLUMNS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def detect(
    stream: _Stream, *, wide: bool = False, environ: Mapping[str, str] = os.environ
) -> Display:
    """The display of text written to `stream` (see the module docstring)."""
    tty = stream.isatty()
    color = tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"
    if wide:
        return Display(None, color)
    if not tty:
        return Display(None, False)
    width = _columns(environ)
    if width is None:
        try:
            width = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):
            width = shutil.get_terminal_size().columns
        width = width or 80  # a terminal that reports no size (0)
    return Display(width, color)
