"""The charts (`--plot FILE`, png or svg): the roofline of one step, throughput against latency
for a scenario grid (a heatmap when it has too many lines to tell apart), and the plan's Pareto
front. matplotlib is imported here only, inside the functions, so the rest of the tool starts
fast.

Each chart is built by a `*_chart` function that returns the figure (tests read its artists) and
written by its `plot_*` function. The layout rules are the same for all: titles are wrapped to fit
the figure, the layout is fixed before any label is placed, and a label takes the first free spot
near its point inside the axes (over no other label, marker or legend) or is left out.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..hardware.roofline import HardwareResult, RowTiming
from ..model.report import shown_stage
from ..model.rows import Row
from ..serving.plan import Plan
from .render import describe_queries
from .units import format_seconds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..api import Scenario
    from ..model.report import Report

PLOT_SUFFIXES = (".png", ".svg")
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_ROOF_STYLES = ("-", "--", "-.", ":")  # one per compute format, the same on every device
_DEVICE_STYLES = ("-", "--", ":", "-.")  # grid chart: one per device
MAX_GRID_LINES = 12  # more (device, context) lines than this: the grid is drawn as a heatmap
MAX_MARKED_POINTS = 64  # more batches per line than this: a plain line, a few labelled
_LABELS_PER_LINE = 10  # grid chart: labelled batches per line, at most
_AIR_X = 5.0  # pixels kept free left and right of a label
_CELLS = 800  # heatmap: cells drawn along an axis, at most
_PALE = 0.55  # heatmap: how pale the cells whose batch does not fit are
_LABEL_SHARE = 0.005  # roofline: ops taking less of the time are not labelled
_MAX_LABELS = 20  # roofline: the largest shares are labelled, up to this many


def check_plot_path(path: str) -> Path:
    """`path` if a chart can be written there (checked before any work): a .png or .svg name in
    an existing directory, not an existing directory or special file."""
    target = Path(path)
    shown_path = path if len(path) <= 80 else path[:79] + "…"
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {shown_path}: the file name must end in .png or .svg")
    try:
        if not target.parent.is_dir():
            raise UsageError(f"--plot {shown_path}: directory {target.parent} does not exist")
        if target.exists() and not target.is_file():
            raise UsageError(f"--plot {shown_path}: exists and is not a regular file")
    except OSError as exc:  # a name too long for the file system, a loop of links
        raise UsageError(f"--plot {shown_path}: {exc.strerror or exc}") from None
    return target


# --- what every chart shares ---------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (no pyplot: nothing global, nothing to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _lay_out(fig: Figure) -> None:
    """Fit the axes, titles and tick labels in the figure, once (`fig.tight_layout()` would
    leave a layout engine behind, and saving would draw the figure twice)."""
    from matplotlib.layout_engine import TightLayoutEngine

    TightLayoutEngine().execute(fig)


def _plain_log_ticks(axis: Any, lo: float, hi: float) -> None:
    """Tick labels of a log axis from lo to hi as plain numbers ("10,000", not 10^4): the
    powers of ten, and 2 and 5 times them over a span of up to two decades."""
    from matplotlib.ticker import FuncFormatter

    keep = (1,) if hi > 100 * lo else (1, 2, 5)

    def label(value: float, _: Any) -> str:
        if value <= 0:
            return ""
        power = 10 ** math.floor(math.log10(value) + 1e-9)
        mantissa = value / power
        if abs(mantissa - round(mantissa)) > 1e-6 or round(mantissa) not in keep:
            return ""
        return f"{value:,.0f}" if value >= 1 else f"{value:g}"

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(label))


def _save(fig: Figure, path: Path) -> None:
    try:
        fig.savefig(path)
    except OSError as exc:  # not writable, the disk full, a name the file system refuses
        raise UsageError(f"--plot {path}: cannot write the chart ({exc.strerror or exc})") from None


def _wrapped(fig: Figure, lines: Iterable[str], fontsize: float, share: float = 0.86) -> str:
    """`lines` as one text, each wrapped at spaces so that no line is wider than `share` of the
    figure (a title is centred on its axes, which the layout keeps inside the figure)."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    font = FontProperties(size=fontsize)
    limit = share * fig.bbox.width

    def width(text: str) -> float:
        return renderer.get_text_width_height_descent(text, font, ismath=False)[0]

    out: list[str] = []
    for line in lines:
        chars = max(len(line), 1)
        parts = [line]
        while chars > 20 and any(width(part) > limit for part in parts):
            chars = int(chars * 0.9)
            parts = textwrap.wrap(line, chars)
        out += parts
    return "\n".join(out)


class _Labels:
    """Labels placed one at a time, each at the first of its spots that stays inside the axes and
    covers nothing placed before it (labels, and the obstacles given: markers, the legend); a
    label with no free spot is left out. Works in display pixels once the layout is final."""

    def __init__(self, fig: Figure, ax: Axes, obstacles: Iterable[Sequence[float]] = ()) -> None:
        import numpy as np

        self.np = np
        self.ax = ax
        self.renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        self.area = ax.get_window_extent(self.renderer)
        self.scale = fig.dpi / 72  # pixels per point
        self.taken = np.array([list(box) for box in obstacles], dtype=float).reshape(-1, 4)
        self.placed: list[Any] = []

    def block(self, box: Sequence[float]) -> None:
        self.taken = self.np.vstack([self.taken, self.np.array([box], dtype=float)])

    def size(self, text: str, fontsize: float) -> tuple[float, float]:
        from matplotlib.font_manager import FontProperties

        font = FontProperties(size=fontsize)
        w = self.renderer.get_text_width_height_descent(text, font, ismath=False)[0]
        h = self.renderer.get_text_width_height_descent("lp", font, ismath=False)[1]  # as Text
        return w, h

    def place(
        self,
        xy: tuple[float, float],
        text: str,
        spots: Iterable[tuple[float, float, str, str]],
        fontsize: float = 7,
        leader: bool = False,
    ) -> bool:
        """Label the data point `xy` at the first free spot: (dx, dy) in points from the point,
        and the label's horizontal ("left"/"right") and vertical ("bottom"/"top") anchor."""
        px, py = self.ax.transData.transform(xy)
        w, h = self.size(text, fontsize)
        a = self.area
        for dx, dy, ha, va in spots:
            x0 = px + dx * self.scale - (w if ha == "right" else 0)
            y0 = py + dy * self.scale - (h if va == "top" else 0)
            x1, y1 = x0 + w, y0 + h
            if x0 < a.x0 or x1 > a.x1 or y0 < a.y0 or y1 > a.y1:
                continue
            t = self.taken
            if len(t) and bool(
                ((t[:, 0] < x1) & (t[:, 2] > x0) & (t[:, 1] < y1) & (t[:, 3] > y0)).any()
            ):
                continue
            arrow = {"arrowstyle": "-", "lw": 0.5, "color": "0.5", "shrinkA": 0, "shrinkB": 1}
            self.placed.append(
                self.ax.annotate(
                    text,
                    xy=xy,
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha=ha,
                    va=va,
                    fontsize=fontsize,
                    arrowprops=arrow if leader else None,
                    zorder=4,
                )
            )
            # the air a label keeps: a space's width beside it ("8" beside "8" reads "88")
            self.block((x0 - _AIR_X, y0 - 1, x1 + _AIR_X, y1 + 1))
            return True
        return False

    def boxes_around(self, xs: Any, ys: Any, radius_pt: float) -> None:
        """Block the markers at data points (xs, ys), `radius_pt` around each."""
        np = self.np
        points = self.ax.transData.transform(np.column_stack([xs, ys]))
        r = radius_pt * self.scale
        boxes = np.column_stack([points - r, points + r])
        self.taken = np.vstack([self.taken, boxes])


def _around(dx: float, dy: float) -> list[tuple[float, float, str, str]]:
    """Right above, left above, right below, left below a point."""
    return [
        (dx, dy, "left", "bottom"),
        (-dx, dy, "right", "bottom"),
        (dx, -dy, "left", "top"),
        (-dx, -dy, "right", "top"),
    ]


def _legend_box(fig: Figure, ax: Axes) -> list[tuple[float, float, float, float]]:
    legend = ax.get_legend()
    if legend is None:
        return []
    box = legend.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    return [(box.x0, box.y0, box.x1, box.y1)]


# --- the roofline of one step ----------------------------------------------------------------


def _drawn(row: Row, timing: RowTiming) -> bool:
    """Rows with a point: they compute and move bytes, and are not fused away."""
    return row.cost.flops > 0 and row.cost.total_bytes > 0 and not timing.fused


def _rate(fmt: str, flops_per_s: float) -> str:
    return f"{fmt} {flops_per_s / 1e12:,.0f} T{'OP' if fmt.startswith('int') else 'FLOP'}/s"


def roofline_chart(report: Report, hardware: Sequence[HardwareResult]) -> Figure:
    """Operational intensity against attainable FLOP/s, log-log: per device its bandwidth slope
    and one compute roof per format its drawn ops run at (`RowTiming.peak`: the format whose peak
    timed them), and a point per op of the shown stage on that roof, sized by its share of the
    stage's time. Artists carry gids: "roof <device> <format>" and "points <device> <format>"."""
    stage = shown_stage(report, hardware)
    first = hardware[0]
    drawn = [
        (i, row)
        for i, row in enumerate(stage.rows)
        if _drawn(row, first.stage_rows[stage.index][i])
    ]
    # A line style per format drawn: the one taking the most time on the first device solid.
    weight: dict[str, float] = {}
    for result in hardware:
        for i, row in drawn:
            timing = result.stage_rows[stage.index][i]
            spent = timing.time_s * row.blocks if result is first else 0.0
            weight[timing.peak] = weight.get(timing.peak, 0.0) + spent
    order = sorted(weight, key=lambda fmt: -weight[fmt])  # stable: others as they come
    styles = {fmt: _ROOF_STYLES[k % len(_ROOF_STYLES)] for k, fmt in enumerate(order)}

    roofs = []  # (result, colour, format, compute roof, bandwidth)
    for color, result in zip(_COLORS, hardware, strict=False):
        hw = result.hardware
        bandwidth = hw.memory_bandwidth * hw.memory_efficiency
        timings = result.stage_rows[stage.index]
        used = sorted({timings[i].peak for i, _ in drawn}, key=order.index)
        if not used:  # nothing drawn: the activations' roof
            used = [hw.peak_for(report.precision.activation.peak)[0]]
        for fmt in used:
            roofs.append(
                (result, color, fmt, hw.peak_flops[fmt] * hw.compute_efficiency, bandwidth)
            )
    ridges = [roof / bandwidth for *_, roof, bandwidth in roofs]
    intensities = [row.cost.operational_intensity for _, row in drawn] or ridges
    x_lo = 10 ** math.floor(math.log10(min(*intensities, *ridges) / 3))
    x_hi = 10 ** math.ceil(math.log10(max(*intensities, *ridges) * 5))

    fig = _figure(11, 7)
    ax = fig.add_subplot()
    y_values: list[float] = []
    for result, color, fmt, roof, bandwidth in roofs:
        ridge = roof / bandwidth
        ax.plot(
            [x_lo, ridge, x_hi],
            [bandwidth * x_lo, roof, roof],
            color=color,
            ls=styles.get(fmt, "-"),
            lw=2.0,
            gid=f"roof {result.hardware.name} {fmt}",
            label=f"{result.hardware.name}: {_rate(fmt, roof)}, {bandwidth / 1e9:,.0f} GB/s "
            f"(ridge {ridge:,.0f} FLOPs/B)",
        )
        ax.plot([ridge], [roof], marker="D", color=color, ms=5)
        y_values += [roof, bandwidth * x_lo]

    several = len(weight) > 1  # name the format in the labels
    labels: list[tuple[float, float, float, str]] = []  # (share, x, y, text): the first device
    bubbles: list[tuple[list[float], list[float], list[float]]] = []  # (x, y, area in pt^2)
    for color, result in zip(_COLORS, hardware, strict=False):
        timings = result.stage_rows[stage.index]
        stage_time = result.stage_times_s[stage.index]
        by_format: dict[str, list[tuple[float, float, float]]] = {}
        for i, row in drawn:
            timing = timings[i]
            share = timing.time_s * row.blocks / stage_time
            attained = row.cost.flops / timing.time_s
            x = row.cost.operational_intensity
            by_format.setdefault(timing.peak, []).append((x, attained, share))
            y_values.append(attained)
            if result is first:
                text = f"{row.name} ({100 * share:.1f}%{', ' + timing.peak if several else ''})"
                labels.append((share, x, attained, text))
        for fmt, points in by_format.items():
            bubbles.append(
                ([p[0] for p in points], [p[1] for p in points], [20 + 1800 * p[2] for p in points])
            )
            ax.scatter(
                *bubbles[-1],
                color=color,
                alpha=0.45,
                linewidths=1,
                zorder=3,
                gid=f"points {result.hardware.name} {fmt}",
            )

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    y_lo = 10 ** math.floor(math.log10(min(y_values)))
    y_hi = 10 ** math.ceil(math.log10(max(y_values) * 2))
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("Operational intensity (FLOPs per byte moved)")
    ax.set_ylabel("Attainable performance (FLOP/s)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.1)
    labels = sorted(labels, key=lambda label: -label[0])
    shown = [label for label in labels if label[0] >= _LABEL_SHARE][:_MAX_LABELS]
    title = _roofline_title(report, hardware, len(labels) - len(shown))
    ax.set_title(_wrapped(fig, title, 9), fontsize=9)
    ax.scatter([], [], s=80, color="grey", alpha=0.45, label="op (area = share of the time)")
    timings = first.stage_rows[stage.index]
    fused = [(t, row.blocks) for t, row in zip(timings, stage.rows, strict=True) if t.fused]
    if fused:
        share = sum(t.time_s * blocks for t, blocks in fused) / first.stage_times_s[stage.index]
        ax.plot(
            [],
            [],
            ls="",
            label=f"{len(fused)} fused elementwise ops not drawn ({100 * share:.1f}% of the time)",
        )
    ax.legend(loc="lower right", fontsize=8, framealpha=0.92)
    _lay_out(fig)

    # Largest shares first; each label in a column below its point (under the roof, where
    # nothing else is drawn), to the right, else to the left, else above.
    placer = _Labels(fig, ax, _legend_box(fig, ax))
    for xs, ys, sizes in bubbles:
        for x, y, size in zip(xs, ys, sizes, strict=True):
            placer.boxes_around([x], [y], math.sqrt(size / math.pi))
    for share, x, y, text in shown:
        gap = math.sqrt((20 + 1800 * share) / math.pi) + 3  # the bubble's radius, in points
        spots = [
            (side * gap, sign * (3 + 10.5 * k), "left" if side > 0 else "right", va)
            for sign, va in ((-1, "top"), (1, "bottom"))
            for side in (1, -1)
            for k in range(30)
        ]
        placer.place((x, y), text, spots, fontsize=7, leader=True)
    return fig


def _roofline_title(
    report: Report, hardware: Sequence[HardwareResult], unlabelled: int
) -> list[str]:
    stage = shown_stage(report, hardware)
    first = hardware[0].hardware.name
    queries = textwrap.shorten(describe_queries(report), 160, placeholder=" ...")
    steps = ", ".join(f"{r.hardware.name} {format_seconds(r.step_time_s)}" for r in hardware)
    lines = [
        f"Roofline of one step: {report.source}, {queries}",
        f"{report.precision.describe()}; {hardware[0].execution.value} execution",
        f"step time {steps}",
    ]
    if report.parallel.devices > 1:
        where = f"one device of {report.parallel.label}"
        if len(report.stages) > 1:
            where += (
                f", stage {stage.index} of {len(report.stages)} (layers {stage.layers.start}-"
                f"{stage.layers.stop - 1}, the busiest on {first})"
            )
        lines.append(where)
    if len(hardware) > 1 or unlabelled:
        what = f"labels: share of the {first} time" if len(hardware) > 1 else "labels: share"
        if unlabelled:
            what += f" ({unlabelled} ops under {100 * _LABEL_SHARE:g}% unlabelled)"
        lines.append(what)
    return lines


def plot_roofline(report: Report, hardware: Sequence[HardwareResult], path: Path) -> None:
    _save(roofline_chart(report, hardware), path)


# --- throughput against latency for a grid -----------------------------------------------------


def grid_chart(scenarios: Sequence[Scenario], title: str) -> Figure:
    """Throughput against step time, one line per (device, context) through the batch sizes;
    with more than MAX_GRID_LINES lines, a heatmap per device of tokens/s over (batch, context)
    with lines of equal step time."""
    if not scenarios or any(s.step_time_s is None or s.tokens_per_s is None for s in scenarios):
        raise UsageError("the grid chart needs hardware: it draws times on devices")
    devices = list(dict.fromkeys(str(s.hardware) for s in scenarios))
    contexts = sorted({s.cached_tokens for s in scenarios})
    if len(devices) * len(contexts) > MAX_GRID_LINES:
        return _grid_heatmap(scenarios, title, devices, contexts)
    return _grid_lines(scenarios, title, devices, contexts)


def _grid_lines(
    scenarios: Sequence[Scenario], title: str, devices: list[str], contexts: list[int]
) -> Figure:
    import matplotlib
    import numpy as np

    lines: dict[tuple[str, int], list[Scenario]] = {}
    for s in scenarios:
        lines.setdefault((str(s.hardware), s.cached_tokens), []).append(s)
    fig = _figure(11, 7)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"]
    drawn = []  # (scenarios, xs, ys, marked, colour) per line, for the labels
    hollow = faded = False
    for d, device in enumerate(devices):
        for c, cached in enumerate(contexts):
            line = sorted(lines.get((device, cached), []), key=lambda s: s.batch_size)
            if not line:
                continue
            color = cmap(0.85 * c / max(1, len(contexts) - 1))  # the palest end is unreadable
            xs = np.array([1e3 * float(s.step_time_s or 0.0) for s in line])
            ys = np.array([float(s.tokens_per_s or 0.0) for s in line])
            fits = np.array([bool(s.fits) for s in line])
            style = _DEVICE_STYLES[d % len(_DEVICE_STYLES)]
            label = f"{device}, {cached:,} cached"
            marked = len(line) <= MAX_MARKED_POINTS
            if marked:
                ax.plot(xs, ys, ls=style, color=color, lw=1.6, label=label)
                ax.scatter(
                    xs,
                    ys,
                    s=36,
                    facecolors=[color if f else "white" for f in fits],
                    edgecolors=[color],
                    zorder=3,
                )
                hollow = hollow or not fits.all()
            else:  # faded where the batch does not fit
                ax.plot(xs, ys, ls=style, color=color, lw=1.6, alpha=0.3)
                ax.plot(xs, np.where(fits, ys, np.nan), ls=style, color=color, lw=1.6, label=label)
                faded = faded or not fits.all()
            drawn.append((line, xs, ys, marked, color))
    every_x = np.concatenate([line[1] for line in drawn])
    every_y = np.concatenate([line[2] for line in drawn])
    ax.set_xscale("log")
    ax.set_yscale("log")
    x_lo, x_hi = every_x.min() / 1.25, every_x.max() * 1.25
    y_lo, y_hi = every_y.min() / 1.35, every_y.max() * 1.35
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    _plain_log_ticks(ax.xaxis, x_lo, x_hi)
    _plain_log_ticks(ax.yaxis, y_lo, y_hi)
    ax.set_xlabel("Step time (ms): time per output token for decode")
    ax.set_ylabel("Throughput (tokens/s)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.1)
    if hollow:
        ax.scatter([], [], s=36, color="white", edgecolors="grey", label="does not fit in memory")
    if faded:
        ax.plot([], [], color="grey", alpha=0.3, lw=1.6, label="faded: does not fit in memory")
    ax.set_title(_wrapped(fig, [title, "numbers: batch size"], 9), fontsize=9)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.92)
    _lay_out(fig)

    placer = _Labels(fig, ax, _legend_box(fig, ax))
    for _, xs, ys, marked, _ in drawn:
        if marked:
            placer.boxes_around(xs, ys, 3.6)
    # Both ends of every line first, then a few batches in between, line after line.
    queue = [_roundest([s.batch_size for s in line], _LABELS_PER_LINE) for line, *_ in drawn]
    near: dict[str, list[Any]] = {}  # where each text went, in pixels
    dots = []  # labelled points of lines drawn without markers
    for rank in range(max(len(q) for q in queue)):
        for (line, xs, ys, marked, color), order in zip(drawn, queue, strict=True):
            if rank >= len(order):
                continue
            i = order[rank]
            text = str(line[i].batch_size)
            at = ax.transData.transform((xs[i], ys[i]))
            if any(np.abs(at - other).max() < 30 for other in near.get(text, ())):
                continue  # the same batch is labelled right next to it
            if placer.place((xs[i], ys[i]), text, _around(4, 3)):
                near.setdefault(text, []).append(at)
                if not marked:
                    dots.append((xs[i], ys[i], color))
    if dots:
        x, y, c = zip(*dots, strict=True)
        ax.scatter(x, y, s=9, c=list(c), zorder=3)
    return fig


def _roundest(values: Sequence[int], count: int) -> list[int]:
    """Indices of `count` of `values` spread along them, in order of importance: both ends, then
    one per equal stretch between them, the roundest value there (most trailing zeros, then a
    multiple of 5 there, then a power of two; the one nearest the stretch's middle of equals)."""
    import numpy as np

    n = len(values)
    if n <= count:
        return list(dict.fromkeys([0, n - 1, *range(1, n - 1)]))
    v = np.array(values, dtype=np.int64)
    zeros = sum((v % 10**k == 0).astype(np.int64) for k in range(1, 10))
    fives = (v // 10**zeros % 5 == 0).astype(np.int64)
    twos = ((v > 0) & ((v & (v - 1)) == 0)).astype(np.int64)
    score = (4 * zeros + 2 * fives + twos) * 4 * n
    edges = np.linspace(1, n - 1, count - 1).round().astype(int)
    inner = []
    for a, b in itertools.pairwise(edges.tolist()):
        at = np.arange(a, b)
        inner.append(int(at[np.argmax(score[a:b] - np.abs(2 * at - a - b + 1))]))
    return [0, n - 1, *inner]


def _grid_heatmap(
    scenarios: Sequence[Scenario], title: str, devices: list[str], contexts: list[int]
) -> Figure:
    import matplotlib
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch

    batches = sorted({s.batch_size for s in scenarios})
    d_at = {d: i for i, d in enumerate(devices)}
    c_at = {c: i for i, c in enumerate(contexts)}
    b_at = {b: i for i, b in enumerate(batches)}
    shape = (len(devices), len(contexts), len(batches))
    rate, step = np.full(shape, np.nan), np.full(shape, np.nan)
    fits = np.ones(shape, dtype=bool)
    for s in scenarios:
        at = (d_at[str(s.hardware)], c_at[s.cached_tokens], b_at[s.batch_size])
        rate[at], step[at], fits[at] = s.tokens_per_s, 1e3 * (s.step_time_s or 0.0), s.fits
    positive = rate[rate > 0]
    lo, hi = float(positive.min()), float(positive.max())
    norm = LogNorm(vmin=lo, vmax=max(hi, lo * 1.001))
    cmap = matplotlib.colormaps["viridis"]
    fig = _figure(min(16.0, 2.5 + 4.5 * len(devices)), 6.5)
    grid = fig.add_gridspec(1, len(devices) + 1, width_ratios=[1.0] * len(devices) + [0.05])
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[0, d], sharey=axes[0]) for d in range(1, len(devices))]
    ticks = 8 if len(devices) <= 2 else 5
    # Colours computed once, paled where the batch does not fit, at most _CELLS cells a side
    # (more than the axes have pixels): the image is drawn as it is, fast at any size.
    rows, columns = _cells(len(contexts)), _cells(len(batches))
    extent = (-0.5, len(batches) - 0.5, -0.5, len(contexts) - 0.5)
    for d, (ax, device) in enumerate(zip(axes, devices, strict=True)):
        colours = cmap(norm(rate[d][np.ix_(rows, columns)]))
        pale = ~fits[d][np.ix_(rows, columns)]
        colours[pale] = colours[pale] * (1 - _PALE) + _PALE
        ax.imshow(
            (colours * 255).round().astype(np.uint8),
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            extent=extent,
        )
        if min(fits[d].shape) >= 2:
            levels = _nice_levels(np.nanmin(step[d]), np.nanmax(step[d]))
            if levels:
                lines = ax.contour(step[d], levels=levels, colors="white", linewidths=0.8)
                ax.clabel(
                    lines, fmt=lambda v: f"{v:g} ms", fontsize=7, manual=_middles(lines.allsegs)
                )
            if fits[d].any() and not fits[d].all():
                ax.contour(fits[d].astype(float), levels=[0.5], colors="black", linewidths=1.2)
        _index_ticks(ax, "x", batches, ticks)
        _index_ticks(ax, "y", contexts, ticks)
        ax.tick_params(labelleft=d == 0)
        ax.set_title(device, fontsize=9)
        ax.set_xlabel("Batch size")
    axes[0].set_ylabel("Cached tokens (context)")
    scale = ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(scale, cax=fig.add_subplot(grid[0, -1]), label="Throughput (tokens/s)")
    _plain_log_ticks(bar.ax.yaxis, lo, hi)
    if not fits.all():
        axes[-1].legend(
            handles=[Patch(facecolor="white", alpha=_PALE, edgecolor="black")],
            labels=["does not fit in memory"],
            fontsize=8,
            loc="upper right",
        )
    fig.suptitle(
        _wrapped(
            fig,
            [
                title,
                f"{len(scenarios):,} scenarios; colour: tokens/s; white lines: step time (ms)",
            ],
            9,
        ),
        fontsize=9,
    )
    _lay_out(fig)
    return fig


def _middles(segments: Sequence[Sequence[Any]]) -> list[tuple[float, float]]:
    """Where to label each contour level: the middle vertex of its longest piece (clabel's own
    choice sits at the ends, where the axes cut the labels)."""
    out = []
    for pieces in segments:
        if len(pieces):
            longest = max(pieces, key=len)
            x, y = longest[len(longest) // 2]
            out.append((float(x), float(y)))
    return out


def _cells(n: int) -> Any:
    """The cells drawn along an axis of n: all, or _CELLS spread evenly."""
    import numpy as np

    return np.unique(np.linspace(0, n - 1, min(n, _CELLS)).round().astype(int))


def _nice_levels(lo: float, hi: float) -> list[float]:
    """1-2-5 values strictly between lo and hi, at most seven of them."""
    if not (lo > 0 and hi > lo):
        return []
    levels = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
        if lo < m * 10.0**e < hi
    ]
    while len(levels) > 7:
        levels = levels[::2]
    return levels


def _index_ticks(ax: Axes, axis: str, values: Sequence[int], count: int) -> None:
    """Cells at 0, 1, 2, ...; at most `count` ticks naming the values there, round ones."""
    at = sorted(_roundest(values, count))
    names = [f"{values[i]:,}" for i in at]
    if axis == "x":
        ax.set_xticks(at, names, fontsize=7)
    else:
        ax.set_yticks(at, names, fontsize=7)


def plot_grid(scenarios: Sequence[Scenario], title: str, path: Path) -> None:
    _save(grid_chart(scenarios, title), path)


# --- the plan's Pareto front -------------------------------------------------------------------


def plan_chart(plan: Plan, title: str) -> Figure:
    """The plan's feasible deployments: tokens/s per user against tokens/s per GPU, one colour per
    device, and the Pareto front through them, front points labelled with their split and
    concurrency where there is room."""
    fig = _figure(10, 6.5)
    ax = fig.add_subplot()
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
    if plan.front:
        ax.step(xs, ys, where="post", color="black", lw=1.4, label="Pareto front")
    ax.set_xlabel("Output tokens/s per user (1 / expected TPOT)")
    ax.set_ylabel("Output tokens/s per GPU (expected)")
    ax.set_yscale("log")
    ax.margins(y=0.08)
    every = [d.serving.expected_output_tokens_per_s_per_user for d in plan.feasible] or [0.0, 1.0]
    span = (max(every) - min(every)) or 1.0
    ax.set_xlim(min(every) - 0.04 * span, max(every) + 0.16 * span)  # room for labels on the right
    ax.grid(True, which="major", alpha=0.35)
    targets = [
        f"TTFT <= {format_seconds(plan.targets.ttft_s)}" if plan.targets.ttft_s else "",
        f"TPOT <= {format_seconds(plan.targets.tpot_s)}" if plan.targets.tpot_s else "",
    ]
    lines = [
        f"{title}: {plan.isl} in / {plan.osl} out, {', '.join(t for t in targets if t)}",
        "labels: device TP x PP x EP, concurrency",
    ]
    ax.set_title(_wrapped(fig, lines, 9), fontsize=9)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.92)
    ax.set_ylim(ax.get_ylim())  # fixed before the labels are placed
    _plain_log_ticks(ax.yaxis, *ax.get_ylim())
    _lay_out(fig)
    placer = _Labels(fig, ax, _legend_box(fig, ax))
    placer.boxes_around(xs, ys, 2.5)
    for d, x, y in zip(plan.front, xs, ys, strict=True):
        par = d.parallel
        text = f"{d.hardware.name.split('-')[0]} {par.tp}x{par.pp}x{par.ep} c{d.concurrency}"
        placer.place((x, y), text, _around(4, 3), fontsize=6.5)
    return fig


def plot_plan(plan: Plan, title: str, path: Path) -> None:
    _save(plan_chart(plan, title), path)
