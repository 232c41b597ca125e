"""Scenario grids: render scenarios (`GRID_RENDERERS`, by output format) and chart throughput
against latency. The sweep values' syntax is core/options.py's."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from ..api import Scenario
from .table import markdown_table
from .units import format_bytes, format_flops, format_rate, format_seconds


def render_grid_table(scenarios: Sequence[Scenario], title: str) -> str:
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
    return f"Sweep of {title}\n\n{table}\n"


def render_grid_json(scenarios: Sequence[Scenario], title: str = "") -> str:
    """Every scenario's fields (the title is the table's: JSON carries none)."""
    return json.dumps({"scenarios": [asdict(s) for s in scenarios]}, indent=2) + "\n"


def render_grid_csv(scenarios: Sequence[Scenario], title: str = "") -> str:
    """One row per scenario, the fields as columns (no title line)."""
    out = io.StringIO()
    fields = list(Scenario.__dataclass_fields__)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for s in scenarios:
        writer.writerow(["" if v is None else v for v in (getattr(s, f) for f in fields)])
    return out.getvalue()


# format -> renderer of (scenarios, title)
GRID_RENDERERS: dict[str, Callable[[Sequence[Scenario], str], str]] = {
    "table": render_grid_table,
    "json": render_grid_json,
    "csv": render_grid_csv,
}


def plot_grid(scenarios: Sequence[Scenario], title: str, path: Path) -> None:
    """Throughput against latency: one line per (device, context length) through the batch
    sizes, each point labelled with its batch; hollow points do not fit in memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 7), dpi=150)
    devices = list(dict.fromkeys(s.hardware for s in scenarios))
    contexts = list(dict.fromkeys(s.cached_tokens for s in scenarios))
    cmap = plt.get_cmap("viridis")
    styles = ["-", "--", ":", "-."]
    for d, device in enumerate(devices):
        for c, cached in enumerate(contexts):
            line = [s for s in scenarios if s.hardware == device and s.cached_tokens == cached]
            line.sort(key=lambda s: s.batch_size)
            color = cmap(0.85 * c / max(1, len(contexts) - 1))  # the palest end is unreadable
            xs = [1e3 * (s.step_time_s or 0.0) for s in line]
            ys = [s.tokens_per_s or 0.0 for s in line]
            ax.plot(
                xs,
                ys,
                ls=styles[d % len(styles)],
                color=color,
                lw=1.6,
                label=f"{device}, {cached} cached",
            )
            for s, x, y in zip(line, xs, ys, strict=True):
                ax.scatter(
                    [x], [y], s=36, color=color if s.fits else "white", edgecolors=color, zorder=3
                )
                ax.annotate(
                    str(s.batch_size), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Step time (ms): time per output token for decode")
    ax.set_ylabel("Throughput (tokens/s)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.1)
    ax.scatter([], [], s=36, color="white", edgecolors="grey", label="does not fit in memory")
    ax.set_title(title + "\nnumbers: batch size", fontsize=9)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.92)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
