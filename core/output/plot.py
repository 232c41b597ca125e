"""The roofline chart (`--plot FILE`, png or svg): operational intensity vs attainable FLOP/s,
log-log, the roofs of each device, and one point per row sized by its share of the step time.
matplotlib is imported here only, so the rest of the tool starts fast."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from ..hardware.roofline import HardwareResult, RowTiming
from ..model.report import Report
from ..model.rows import Row
from ..serving.plan import Plan
from .render import describe_queries
from .units import format_seconds

PLOT_SUFFIXES = (".png", ".svg")
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_LABEL_GAP = 0.03  # vertical gap between labels, in axes fraction


def check_plot_path(path: str) -> Path:
    target = Path(path)
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")
    if not target.parent.exists():
        raise UsageError(f"--plot {path}: directory {target.parent} does not exist")
    return target


def _drawn(row: Row, timing: RowTiming) -> bool:
    """Rows with a point: they compute and move bytes, and are not fused away."""
    return row.cost.flops > 0 and row.cost.total_bytes > 0 and not timing.fused


def plot_roofline(report: Report, hardware: Sequence[HardwareResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = hardware[0]
    rows = [(i, row) for i, row in enumerate(report.rows) if _drawn(row, first.rows[i])]
    intensities = [row.cost.operational_intensity for _, row in rows] or [1.0]
    ridges = [
        max(r.hardware.peak_flops.values())
        / (r.hardware.memory_bandwidth * r.hardware.memory_efficiency)
        for r in hardware
    ]
    x_lo = 10 ** math.floor(math.log10(min(intensities) / 3))
    x_hi = 10 ** math.ceil(math.log10(max(max(intensities), *ridges) * 5))
    xs = [x_lo * (x_hi / x_lo) ** (k / 400) for k in range(401)]

    fig, ax = plt.subplots(figsize=(11, 7), dpi=150)
    points: list[tuple[float, float, str]] = []
    y_values: list[float] = []
    for color, result in zip(_COLORS, hardware, strict=False):
        hw = result.hardware
        bandwidth = hw.memory_bandwidth * hw.memory_efficiency
        gemm_format, gemm_peak = hw.peak_for(report.precision.activation.peak)
        roof = gemm_peak * hw.compute_efficiency
        ax.plot(
            xs,
            [min(roof, bandwidth * x) for x in xs],
            color=color,
            lw=2.2,
            label=f"{hw.name}: {gemm_format} {roof / 1e12:,.0f} TFLOP/s, "
            f"{bandwidth / 1e9:,.0f} GB/s (ridge {roof / bandwidth:,.0f} FLOPs/B)",
        )
        ax.plot([roof / bandwidth], [roof], marker="D", color=color, ms=5)
        y_values += [roof, bandwidth * x_lo]
        for i, row in rows:
            timing = result.rows[i]
            share = timing.time_s * row.blocks / result.step_time_s
            attained = row.cost.flops / timing.time_s
            y_values.append(attained)
            ax.scatter(
                [row.cost.operational_intensity],
                [attained],
                s=20 + 1800 * share,
                color=color,
                alpha=0.45,
                linewidths=1,
                zorder=3,
            )
            if result is first:
                points.append(
                    (row.cost.operational_intensity, attained, f"{row.name} ({100 * share:.1f}%)")
                )

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    y_lo, y_hi = 10 ** math.floor(math.log10(min(y_values))), 10 ** math.ceil(
        math.log10(max(y_values) * 2)
    )
    ax.set_ylim(y_lo, y_hi)
    _place_labels(ax, points, (x_lo, x_hi), (y_lo, y_hi))

    ax.set_xlabel("Operational intensity (FLOPs per byte moved)")
    ax.set_ylabel("Attainable performance (FLOP/s)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.1)
    steps = ", ".join(f"{r.hardware.name} {format_seconds(r.step_time_s)}" for r in hardware)
    ax.set_title(
        f"Roofline of one step: {report.source}, {describe_queries(report)}\n"
        f"{report.precision.describe()}; {first.execution.value} execution; step time {steps}"
        + (f"; labels: share of the {first.hardware.name} step" if len(hardware) > 1 else ""),
        fontsize=9,
    )
    ax.scatter([], [], s=80, color="grey", alpha=0.45, label="op (area = share of step time)")
    fused = [(t, row.blocks) for t, row in zip(first.rows, report.rows, strict=True) if t.fused]
    if fused:
        share = sum(t.time_s * blocks for t, blocks in fused) / first.step_time_s
        ax.plot(
            [],
            [],
            ls="",
            label=f"{len(fused)} fused elementwise ops not drawn "
            f"({100 * share:.1f}% of the step)",
        )
    ax.legend(loc="lower right", fontsize=8, framealpha=0.92)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _place_labels(ax, points, xlim, ylim) -> None:
    """Labels below their points (under the roof, where nothing else is drawn), to the right or,
    near the right edge, to the left; pushed apart vertically where they would overlap, with a
    thin leader line to the point."""

    def frac(value: float, lo: float, hi: float) -> float:
        return (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    placed: list[tuple[float, float]] = []
    for x, y, text in sorted(points, key=lambda p: -p[1]):
        fx, fy = frac(x, *xlim), frac(y, *ylim)
        left = fx > 0.6
        lx, ly = (fx - 0.04 if left else fx + 0.04), fy - 0.05
        for px, py in placed:
            if abs(px - lx) < 0.3 and ly > py - _LABEL_GAP:
                ly = py - _LABEL_GAP
        placed.append((lx, ly))
        ax.annotate(
            text,
            xy=(x, y),
            xytext=(lx, ly),
            textcoords="axes fraction",
            fontsize=7,
            va="center",
            ha="right" if left else "left",
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5"},
            zorder=4,
        )


def plot_plan(plan: Plan, title: str, path: Path) -> None:
    """The plan's feasible deployments: tokens/s per user against tokens/s per GPU, one colour per
    device, and the Pareto front through them, each front point labelled with its split and
    concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=150)
    devices = list(dict.fromkeys(d.hardware.name for d in plan.feasible))
    for i, device in enumerate(devices):
        points = [d for d in plan.feasible if d.hardware.name == device]
        ax.scatter(
            [d.serving.expected_output_tokens_per_s_per_user for d in points],
            [d.serving.expected_output_tokens_per_s_per_gpu for d in points],
            s=14,
            alpha=0.45,
            color=_COLORS[i % len(_COLORS)],
            label=device,
        )
    xs = [d.serving.expected_output_tokens_per_s_per_user for d in plan.front]
    ys = [d.serving.expected_output_tokens_per_s_per_gpu for d in plan.front]
    ax.step(xs, ys, where="post", color="black", lw=1.4, label="Pareto front")
    span = (max(xs) - min(xs)) or 1.0
    last: tuple[float, float] | None = None
    for d, x, y in zip(plan.front, xs, ys, strict=True):
        if last is not None and abs(x - last[0]) < 0.04 * span and abs(math.log(y / last[1])) < 0.3:
            continue  # too close to the last label to read
        last = (x, y)
        par = d.parallel
        ax.annotate(
            f"{d.hardware.name.split('-')[0]} {par.tp}x{par.pp}x{par.ep} c{d.concurrency}",
            (x, y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=6.5,
        )
    ax.set_xlabel("Output tokens/s per user (1 / expected TPOT)")
    ax.set_ylabel("Output tokens/s per GPU (expected)")
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.35)
    targets = [
        f"TTFT <= {format_seconds(plan.targets.ttft_s)}" if plan.targets.ttft_s else "",
        f"TPOT <= {format_seconds(plan.targets.tpot_s)}" if plan.targets.tpot_s else "",
    ]
    ax.set_title(
        f"{title}: {plan.isl} in / {plan.osl} out, {', '.join(t for t in targets if t)}\n"
        "labels: device TP x PP x EP, concurrency",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper right", framealpha=0.92)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
