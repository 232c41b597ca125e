"""Scenario grids in closed form: one context, every batch size at once.

A grid (`core.api.sweep`) asks for B identical queries of (cached, input) tokens for many B. Its
definition is one `analyze` and one `on_hardware` per point (`per_point`, kept as the reference);
this module gets the same figures from three analyses per context:

- In a uniform batch, every row's FLOPs, input and output bytes, GEMM rows and collective
  messages, and every stage's storage (weights + query state), are affine in B: per-token and
  per-query work. Weights are read once whatever B, but for the embedding gather (one row per
  token: linear) and routed experts, whose expected distinct experts touched follow from the
  tokens (`Routing`: recomputed for every B, rounded as the analysis rounds them). Analyses at
  B = 1 and 2 give each row's figures and what one more query adds: a `Line`.
- An analysis at the grid's largest B must equal the lines there, row for row and stage for stage
  (and so must those at 1 and 2): a figure convex or concave in B (a min, a max) that is on its
  line at three points is on it in between. A context where it is not (an op that is not affine
  in the queries) is computed point by point.
- The ideal and expected times of every row (`time_row` in core/hardware/roofline.py) then follow
  for every B at once, as numpy arrays of rows x batches, summed per stage in row order; the
  busiest stage, the bound and the fit as `on_hardware` picks them. Exact figures are rounded to
  floats once and go through the same operations in the same order as there, so the times equal
  the per-point ones to the last bit while the figures stay below 2**53.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from ..base_parser import BaseModelConfigParser
from ..errors import UsageError
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.report import Report, analyze, shown_stage
from ..model.rows import OpKind, Routing, Row
from ..ops import Cost, Number
from .efficiency import Efficiency
from .roofline import Execution, HardwareResult, on_hardware
from .specs import HardwareSpec

Device = tuple[HardwareSpec, Efficiency]
BOUNDS = ("compute", "memory", "communication")  # a row's bound, by its index in the arrays
_EXACT = 2**53  # integers up to this are exact in a float


@dataclass(frozen=True)
class DeviceCurve:
    """One device at every batch size of a grid (the fields of `on_hardware`'s result)."""

    step_time_s: list[float]
    tokens_per_s: list[float]
    bound: list[str]
    fits: list[bool]
    expected_step_time_s: list[float]
    expected_tokens_per_s: list[float]


@dataclass(frozen=True)
class BatchCurve:
    """One context at every batch size of a grid."""

    flops: list[int]  # the shown stage's (`shown_stage`: the busiest on the first device)
    memory_bytes: list[Number]  # the fullest device's weights + query state
    devices: list[DeviceCurve]  # per device, in the order given


def batch_curves(
    parser: BaseModelConfigParser,
    contexts: Sequence[int],
    new: int,
    batches: Sequence[int],
    parallel: Parallelism,
    devices: Sequence[Device],
    execution: Execution,
    progress: Callable[[int, int], None] | None = None,
) -> list[BatchCurve]:
    """Per context (cached tokens), B queries of cached + `new` tokens for every B of
    `batches`, on each device. `progress(done, total)`, when given, hears how many contexts are
    done: before each, and once at the end."""
    try:  # QueryConfig checks each value on its own, so these points cover every point
        for batch in batches:
            QueryConfig.uniform(batch, contexts[0], new)
        for cached in contexts:
            QueryConfig.uniform(batches[0], cached, new)
    except UsageError:  # the definition raises its error where it meets it
        return [per_point(parser, c, new, batches, parallel, devices, execution) for c in contexts]
    curves = []
    for done, cached in enumerate(contexts):
        if progress is not None:
            progress(done, len(contexts))
        stages = fit_lines(parser, cached, new, batches, parallel)
        if stages is None:
            curves.append(per_point(parser, cached, new, batches, parallel, devices, execution))
        else:
            curves.append(closed_form(stages, batches, new, devices, execution))
    if progress is not None:
        progress(len(contexts), len(contexts))
    return curves


def per_point(
    parser: BaseModelConfigParser,
    cached: int,
    new: int,
    batches: Sequence[int],
    parallel: Parallelism,
    devices: Sequence[Device],
    execution: Execution,
) -> BatchCurve:
    """The definition: one analysis, and one timing per device, for every batch size."""
    flops: list[int] = []
    memory: list[Number] = []
    results: list[list[HardwareResult]] = [[] for _ in devices]
    for batch in batches:
        report = analyze(parser, QueryConfig.uniform(batch, cached, new), parallel)
        timed = [on_hardware(report, hw, execution, eff) for hw, eff in devices]
        flops.append(shown_stage(report, timed).total.flops)
        memory.append(report.device_memory_bytes)
        for out, result in zip(results, timed, strict=True):
            out.append(result)
    curves = [
        DeviceCurve(
            [r.step_time_s for r in rs],
            [r.tokens_per_s for r in rs],
            [r.bound for r in rs],
            [r.fits for r in rs],
            [r.expected_step_time_s for r in rs],
            [r.expected_tokens_per_s for r in rs],
        )
        for rs in results
    ]
    return BatchCurve(flops, memory, curves)


# --- the lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row at any batch size: the row at B = 1 and what each further query adds."""

    row: Row
    slope: Cost  # per query (a routed GEMM's weight bytes aside: its `Routing` gives them)
    tokens: int  # GEMM rows per query
    routed_tokens: int  # routed experts: the tokens of the routing per query
    message: Number  # collective bytes per query

    @classmethod
    def through(cls, one: Row, two: Row) -> Line:
        """The line through a row at B = 1 and at B = 2."""
        routed = message = 0
        if one.routing is not None and two.routing is not None:
            routed = two.routing.tokens - one.routing.tokens
        if one.comm is not None and two.comm is not None:
            message = two.comm.message - one.comm.message
        slope = Cost(
            two.cost.flops - one.cost.flops,
            two.cost.matmul_flops - one.cost.matmul_flops,
            two.cost.weight_bytes - one.cost.weight_bytes,
            two.cost.input_bytes - one.cost.input_bytes,
            two.cost.output_bytes - one.cost.output_bytes,
        )
        return cls(one, slope, two.tokens - one.tokens, routed, message)

    @property
    def expert_bytes(self) -> Number:
        """One routed expert's weight bytes (the row holds every expert)."""
        assert self.row.routing is not None
        one = Fraction(self.row.param_bytes) / self.row.routing.experts
        return one.numerator if one.denominator == 1 else one

    def routing_at(self, batch: int) -> Routing:
        """A routed GEMM's routing at `batch` queries."""
        assert self.row.routing is not None
        tokens = self.row.routing.tokens + self.routed_tokens * (batch - 1)
        return replace(self.row.routing, tokens=tokens)

    def at(self, batch: int) -> Row:
        """The row at `batch` queries."""
        more, row = batch - 1, self.row
        cost = row.cost + self.slope * more
        routing, matrices, comm = row.routing, row.matrices, row.comm
        if routing is not None:
            routing = self.routing_at(batch)
            cost = replace(cost, weight_bytes=routing.read_bytes(self.expert_bytes))
            matrices = routing.matrices
        if comm is not None:
            comm = replace(comm, message=comm.message + self.message * more)
        tokens = row.tokens + self.tokens * more
        return replace(row, cost=cost, tokens=tokens, matrices=matrices, routing=routing, comm=comm)


@dataclass(frozen=True)
class StageLines:
    """One device of a pipeline stage at any batch size."""

    lines: tuple[Line, ...]
    flops: tuple[int, int]  # its FLOPs at B = 1, and per further query
    storage: tuple[Number, Number]  # its weights + query state at B = 1, and per further query

    def on_lines(self, report: Report, stage: int, batch: int) -> bool:
        """Whether `report`'s stage (an analysis at `batch`) is what the lines give."""
        actual = report.stages[stage]
        storage = self.storage[0] + self.storage[1] * (batch - 1)
        rows = tuple(line.at(batch) for line in self.lines)
        return actual.storage_bytes == storage and actual.rows == rows


def fit_lines(
    parser: BaseModelConfigParser,
    cached: int,
    new: int,
    batches: Sequence[int],
    parallel: Parallelism,
) -> list[StageLines] | None:
    """Every stage's rows as lines through B = 1 and 2; None where the analysis at 1, 2 or the
    largest batch of `batches` is off them."""

    def at(batch: int) -> Report:
        return analyze(parser, QueryConfig.uniform(batch, cached, new), parallel)

    one, two = at(1), at(2)
    if [len(s.rows) for s in one.stages] != [len(s.rows) for s in two.stages]:
        return None
    stages = [
        StageLines(
            tuple(Line.through(a, b) for a, b in zip(s1.rows, s2.rows, strict=True)),
            (s1.total.flops, s2.total.flops - s1.total.flops),
            (s1.storage_bytes, s2.storage_bytes - s1.storage_bytes),
        )
        for s1, s2 in zip(one.stages, two.stages, strict=True)
    ]
    top = max(batches)
    checks = [(one, 1), (two, 2)] + ([(at(top), top)] if top > 2 else [])
    on_lines = all(
        stage.on_lines(report, index, batch)
        for report, batch in checks
        for index, stage in enumerate(stages)
    )
    return stages if on_lines else None


# --- every batch at once --------------------------------------------------------------------


def closed_form(
    stages: Sequence[StageLines],
    batches: Sequence[int],
    new: int,
    devices: Sequence[Device],
    execution: Execution,
) -> BatchCurve:
    """The curve of one context from its lines: exact FLOPs and storage per batch, and the
    times on each device."""
    more = [batch - 1 for batch in batches]
    stage_flops = [[s.flops[0] + s.flops[1] * m for m in more] for s in stages]
    stage_storage = [[s.storage[0] + s.storage[1] * m for m in more] for s in stages]
    # The fullest device holds the most; FLOPs are the shown stage's (`shown_stage`): the one
    # with the most without devices, else the first device's busiest (below).
    flops = [max(per_stage) for per_stage in zip(*stage_flops, strict=True)]
    memory = [max(per_stage) for per_stage in zip(*stage_storage, strict=True)]
    figures = [_Figures.of(stage, more) for stage in stages]
    curves = []
    for hw, eff in devices:
        times = [_stage_times(f, hw, eff, execution) for f in figures]
        ideal = np.array([t[0] for t in times])  # stages x batches
        expected = np.array([t[1] for t in times])
        by_bound = np.array([t[2] for t in times])  # stages x bounds x batches
        first = np.array([t[3] for t in times])
        columns = np.arange(len(batches))
        busiest = ideal.argmax(axis=0)  # the first of equals, as max() picks
        if not curves:
            flops = [stage_flops[stage][i] for i, stage in enumerate(busiest.tolist())]
        step = ideal[busiest, columns].tolist()
        bound = _bound(by_bound[busiest, :, columns], first[busiest, :, columns])
        expected_step = (expected.max(axis=0) + eff.step_overhead_s).tolist()
        produced = [batch * new for batch in batches]  # decode: the queries; else input tokens
        curves.append(
            DeviceCurve(
                step,
                [p / s if s else math.inf for p, s in zip(produced, step, strict=True)],
                bound,
                [held <= hw.memory_bytes for held in memory],
                expected_step,
                [p / s if s else math.inf for p, s in zip(produced, expected_step, strict=True)],
            )
        )
    return BatchCurve(flops, memory, curves)


@dataclass(frozen=True)
class _Figures:
    """A stage's rows' figures at every batch, as floats (rows x batches)."""

    rows: tuple[Row, ...]
    flops: np.ndarray
    weight_bytes: np.ndarray
    moved_bytes: np.ndarray  # weights + inputs + outputs
    activation_bytes: np.ndarray  # inputs + outputs
    tokens: np.ndarray
    matrices: np.ndarray
    sent_bytes: np.ndarray  # what a collective sends per device (0 for other rows)

    @classmethod
    def of(cls, stage: StageLines, more: Sequence[int]) -> _Figures:
        lines = stage.lines
        rows = tuple(line.row for line in lines)

        def floats(value: list[Number], slope: list[Number]) -> np.ndarray:
            return _floats(value, slope, more)

        io = [r.cost.input_bytes + r.cost.output_bytes for r in rows]
        io_slope = [line.slope.input_bytes + line.slope.output_bytes for line in lines]
        weight = [r.cost.weight_bytes for r in rows]
        weight_slope = [line.slope.weight_bytes for line in lines]
        sent = [0 if r.comm is None else r.comm.sent_bytes for r in rows]
        sent_slope = [
            0 if r.comm is None else replace(r.comm, message=line.message).sent_bytes
            for r, line in zip(rows, lines, strict=True)
        ]
        figures = cls(
            rows,
            floats([r.cost.flops for r in rows], [line.slope.flops for line in lines]),
            floats(weight, weight_slope),
            floats(
                [w + a for w, a in zip(weight, io, strict=True)],
                [w + a for w, a in zip(weight_slope, io_slope, strict=True)],
            ),
            floats(io, io_slope),
            floats([r.tokens for r in rows], [line.tokens for line in lines]),
            np.ones((len(rows), len(more))),
            floats(sent, sent_slope),
        )
        for i, line in enumerate(lines):  # routed experts: the weight bytes of their routing
            if line.row.routing is None:
                continue
            one = line.expert_bytes
            routings = [line.routing_at(m + 1) for m in more]
            read = [routing.read_bytes(one) for routing in routings]
            figures.weight_bytes[i] = [float(w) for w in read]
            figures.moved_bytes[i] = [
                float(w + io[i] + io_slope[i] * m) for w, m in zip(read, more, strict=True)
            ]
            figures.matrices[i] = [routing.matrices for routing in routings]
        return figures


def _floats(value: list[Number], slope: list[Number], more: Sequence[int]) -> np.ndarray:
    """float(value + slope * m) for every row's (value, slope) and every m (rows x batches),
    rounded once from the exact figure, as float() rounds it."""
    scale = math.lcm(*(x.denominator for x in (*value, *slope)))
    if scale > 1:
        value, slope = [int(v * scale) for v in value], [int(s * scale) for s in slope]
    most = max(more)
    top = max(abs(v) + abs(s) * most for v, s in zip(value, slope, strict=True))
    steps = np.array(more)
    if top < _EXACT and scale < _EXACT:  # every sum and product exact; one rounding dividing
        exact = np.array(value, float)[:, None] + np.array(slope, float)[:, None] * steps
        return exact / scale if scale > 1 else exact
    if top < 2**63 and scale == 1:  # exact in int64; one rounding converting
        return (np.array(value)[:, None] + np.array(slope)[:, None] * steps).astype(float)
    return np.array(
        [
            [float(Fraction(v + s * m, scale)) for m in more]
            for v, s in zip(value, slope, strict=True)
        ]
    )


def _stage_times(
    figures: _Figures, hw: HardwareSpec, eff: Efficiency, execution: Execution
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One device of a stage at every batch: its ideal time, its expected time, its ideal time
    by bound (BOUNDS) and the first row of each bound (-1 where none is). `time_row` and
    `_expected` of core/hardware/roofline.py, for every row and batch at once."""
    rows = figures.rows

    def per_row(values: list) -> np.ndarray:
        return np.array(values)[:, None]

    comm = per_row([r.comm is not None for r in rows])
    fused = per_row([execution is Execution.FUSED and r.kind is OpKind.ELEMENTWISE for r in rows])
    used = [None if r.comm is not None else hw.peak_for(r.peak) for r in rows]
    peak = per_row([1.0 if u is None else u[1] * hw.compute_efficiency for u in used])
    blocks = per_row([r.blocks for r in rows])

    # Ideal: max(FLOPs at peak, bytes at bandwidth); a fused op moves nothing; a collective
    # takes its bytes at the per-direction link rate.
    link = hw.interconnect_bandwidth
    link_s = figures.sent_bytes / (link / 2) if link else np.zeros_like(figures.sent_bytes)
    bandwidth = hw.memory_bandwidth * hw.memory_efficiency
    compute = figures.flops / peak
    memory = np.where(fused, 0.0, figures.moved_bytes) / bandwidth
    time = np.where(comm, link_s, np.maximum(compute, memory))
    bound = np.where(comm, 2, np.where(compute >= memory, 0, 1))

    # Expected: GEMMs at their efficiency over their rows per matrix, attention and scans at
    # theirs, dequantized weights slower, a launch per kernel; a fused op only its arithmetic.
    gemm = [r.kind is OpKind.GEMM for r in rows]
    ceiling = per_row([eff.gemm.get(u[0], 1.0) if u else 1.0 for u in used])
    if eff.gemm_half_rows > 0:
        per_matrix = figures.tokens / figures.matrices
        gemm_efficiency = ceiling * per_matrix / (per_matrix + eff.gemm_half_rows)
    else:
        gemm_efficiency = np.broadcast_to(ceiling, compute.shape)
    attention = per_row([r.kind in (OpKind.ATTENTION, OpKind.SCAN) for r in rows])
    divisor = np.where(per_row(gemm), gemm_efficiency, np.where(attention, eff.attention, 1.0))
    dequant = per_row(
        [
            eff.dequant.get(r.weight_peak, 1.0) if g and r.weight_peak not in ("", r.peak) else 1.0
            for r, g in zip(rows, gemm, strict=True)
        ]
    )
    moved = figures.weight_bytes / dequant + figures.activation_bytes
    kernel = np.maximum(compute / divisor, moved / (bandwidth * eff.bandwidth))
    collective = eff.collective_latency_s + (
        figures.sent_bytes / (link * eff.interconnect / 2) if link else 0.0
    )
    expected = np.where(comm, collective, np.where(fused, compute, kernel + eff.kernel_launch_s))

    # Sums over rows x blocks, first row to last as on_hardware adds them; per bound, also the
    # first row of that bound (the order on_hardware meets the bounds in).
    weighted = time * blocks
    by_bound, first = [], []
    for b in range(len(BOUNDS)):
        rows_of = bound == b
        by_bound.append(_in_row_order(np.where(rows_of, weighted, 0.0)))
        first.append(np.where(rows_of.any(axis=0), rows_of.argmax(axis=0), -1))
    ideal = _in_row_order(weighted)
    return ideal, _in_row_order(expected * blocks), np.array(by_bound), np.array(first)


def _in_row_order(terms: np.ndarray) -> np.ndarray:
    """The sum over rows (axis 0), first to last, with Python's sum()'s rounding."""
    return np.add.accumulate(terms, axis=0)[-1]


def _bound(totals: np.ndarray, first: np.ndarray) -> list[str]:
    """Per batch (rows: batches, columns: BOUNDS), the bound with the most time as max() over
    on_hardware's dict picks it: of the bounds some row has, the largest total, ties to the one
    met first."""
    held = first >= 0
    score = np.where(held, totals, -np.inf)
    largest = held & (score == score.max(axis=1, keepdims=True))
    met = np.where(largest, first, np.iinfo(first.dtype).max)
    return [BOUNDS[i] for i in met.argmin(axis=1).tolist()]
