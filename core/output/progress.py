"""A progress bar on a terminal's stderr, for the runs that take a while (a plan over the
catalog, a large grid).

The core reports progress through a plain callback, `progress(done, total)` (core/serving/plan.py,
core/hardware/grid.py); `Progress` is one such callback. It writes nothing at all unless its
stream is a terminal, and nothing before the run has taken `delay` seconds (a run shorter than
that shows no bar); it redraws at most every `interval` seconds, on one line, and erases it when
closed, so that stdout's output starts on a clean line.

    with Progress("plan") as bar:
        plan_model(..., progress=bar)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

_BAR = 30  # cells of the bar itself


class Progress:
    """`progress(done, total)` callback drawing `label [#####.....] done/total` on `stream`."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        delay: float = 1.0,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.delay, self.interval, self.clock = delay, interval, clock
        self.start = clock()
        self.last = -1.0  # when the bar was last drawn; < 0: never
        self.calls = 0

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < self.delay or (self.last >= 0 and now - self.last < self.interval):
            return
        self.last = now
        share = done / total if total else 1.0
        filled = round(_BAR * share)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total} "
            f"{now - self.start:.0f} s"
        )
        self.stream.write("\r" + line[: self._width() - 1] + "\033[K")
        self.stream.flush()

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError):
            return 80

    def close(self) -> None:
        """Erase the bar, if one was drawn."""
        if self.enabled and self.last >= 0:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.last = -1.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
