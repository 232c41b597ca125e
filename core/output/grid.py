"""Scenario grids: parse sweep values and render scenarios (the chart: `plot_grid` in plot.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict

from ..api import Scenario
from ..errors import UsageError
from .plot import plot_grid as plot_grid  # the chart lives with the others
from .table import markdown_table
from .units import format_bytes, format_flops, format_rate, format_seconds

_RANGE = re.compile(r"^(\d+):(\d+):([x+])(\d+)$")
MAX_POINTS = 100_000


def parse_sweep(values: Sequence[str], option: str) -> list[int]:
    """Integers and ranges: "8", "1:256:x2" (1, 2, 4, ... 256: geometric), "0:8192:+1024"
    (arithmetic). Ends are inclusive; duplicates are dropped, order kept."""
    out: list[int] = []
    for value in values:
        match = _RANGE.match(value)
        if value.isdigit():
            out.append(int(value))
        elif match:
            start, stop, kind, step = match.groups()
            lo, hi, by = int(start), int(stop), int(step)
            if by < (2 if kind == "x" else 1) or (kind == "x" and lo < 1) or lo > hi:
                raise UsageError(
                    f"{option} {value}: a range is START:STOP:xFACTOR (factor >= 2, "
                    "start >= 1) or START:STOP:+STEP (step >= 1), START <= STOP"
                )
            current = lo
            while current <= hi and len(out) <= MAX_POINTS:
                out.append(current)
                current = current * by if kind == "x" else current + by
        else:
            raise UsageError(
                f"{option} {value!r}: expected integers or ranges such as 1:256:x2 or "
                "0:8192:+1024"
            )
    if len(out) > MAX_POINTS:
        raise UsageError(f"{option}: more than {MAX_POINTS} values")
    return list(dict.fromkeys(out))


def render_grid_table(scenarios: Sequence[Scenario], header: str) -> str:
    devices = list(dict.fromkeys(s.hardware for s in scenarios if s.hardware))
    points = list(dict.fromkeys((s.batch_size, s.cached_tokens) for s in scenarios))
    by_key = {(s.batch_size, s.cached_tokens, s.hardware): s for s in scenarios}
    headers = ["Batch", "Cached", "Input", "FLOPs", "Memory per device"]
    for device in devices:
        headers += [f"Step ({device})", f"Tokens/s ({device})", "Bound", "Fits"]
    body = []
    for batch, cached in points:
        first = by_key[(batch, cached, devices[0] if devices else None)]
        row = [
            str(batch),
            str(cached),
            str(first.input_tokens),
            format_flops(first.flops),
            format_bytes(first.memory_bytes),
        ]
        for device in devices:
            s = by_key[(batch, cached, device)]
            row += [
                format_seconds(s.step_time_s or 0.0),
                format_rate(s.tokens_per_s or 0.0),
                str(s.bound),
                "yes" if s.fits else "no",
            ]
        body.append(row)
    table = markdown_table(headers, body)
    return f"{header}\n\n{table}\n"


def render_grid_json(scenarios: Sequence[Scenario]) -> str:
    return json.dumps({"scenarios": [asdict(s) for s in scenarios]}, indent=2) + "\n"


def render_grid_csv(scenarios: Sequence[Scenario]) -> str:
    out = io.StringIO()
    fields = list(Scenario.__dataclass_fields__)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for s in scenarios:
        writer.writerow(["" if v is None else v for v in (getattr(s, f) for f in fields)])
    return out.getvalue()
