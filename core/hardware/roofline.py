"""A report on real hardware: time per row, the bound, latency, throughput and fit.

Per row (per block):  time = max(FLOPs / (peak x compute efficiency),
                                 bytes / (bandwidth x memory efficiency))
and the row is compute-bound when the first term is the larger. `peak` is the dense peak of the
row's compute format (see core/precision.py), with the device's fallback where it lacks one.
A communication row takes the time its bytes need on the interconnect (core/parallel.py).

Execution model (`execution`):
- "fused" (default; what serving engines do): elementwise ops (norms, RoPE, activations,
  residual adds, the MoE combine) run fused into the neighbouring GEMM or attention kernels, so
  their operands never round-trip memory and only their FLOPs take time.
- "eager" (HuggingFace eager): every op is its own kernel and reads and writes memory.

The step time of a device is the sum over its rows of time x blocks: ops run one after another,
each at its own roofline, communication not overlapped. With pipeline parallelism the busiest
stage decides the step time (steady-state pipelining).

Two estimates come out of every step: the **ideal** roofline above (a bound: no engine beats it)
and the **expected** time of a real engine, the same rows through the efficiency model of
core/hardware/efficiency.py (achievable bandwidth and GEMM efficiency, launch and per-step
overheads, collective latency), whose parameters were fitted on published measurements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import UsageError
from ..model.report import Report, Stage
from ..model.rows import OpKind, Row
from ..ops import Number
from .efficiency import Efficiency, default_profile, efficiency_for
from .execution import Execution as Execution  # where the enum lives: a small module
from .specs import HardwareSpec


@dataclass(frozen=True, slots=True)
class RowTiming:
    name: str
    time_s: float  # per block
    compute_s: float  # FLOPs at peak, per block
    memory_s: float  # bytes at bandwidth, per block (0 for a fused elementwise op)
    bound: str  # "compute", "memory" or "communication"
    peak: str  # the compute format whose peak was used
    fused: bool  # an elementwise op fused into a neighbour: only its FLOPs take time
    comm_s: float = 0.0  # interconnect time, per block
    expected_s: float = 0.0  # the expected time of a real engine, per block: max(the two
    expected_compute_s: float = 0.0  # parts below) + the overhead (a kernel launch, a
    expected_memory_s: float = 0.0  # collective's latency)
    expected_overhead_s: float = 0.0


@dataclass(frozen=True)
class HardwareResult:
    hardware: HardwareSpec
    execution: Execution
    stage: int  # the busiest pipeline stage, which decides the step time
    stage_rows: tuple[tuple[RowTiming, ...], ...]  # per stage, per row
    stage_times_s: tuple[float, ...]
    step_time_s: float
    phase: str  # "decode" (every query brings 1 token), "prefill" (none has a cache), "mixed",
    # "encode" (a vision encoder's pass)
    tokens_per_s: float  # decode: queries / step; prefill, mixed, encode: input tokens / step
    bound: str  # the bound of the rows that take most of the step
    compute_utilization: float  # share of the device's peak compute achieved over the step
    bandwidth_utilization: float  # share of its peak memory bandwidth achieved over the step
    storage_bytes: Number  # what the fullest device holds: weights + KV cache
    fits: bool
    min_devices: int  # devices whose memory holds the model's weights + KV (1 when it fits)
    max_batch: int  # largest batch of this query mix whose weights + KV fit on the devices
    notes: tuple[str, ...]  # formats a device has no peak for, what ran instead; untimed links
    efficiency: Efficiency  # the parameters of the expected estimate
    expected_stage_times_s: tuple[float, ...]
    expected_step_time_s: float  # the busiest stage's expected time + the per-step overhead
    expected_tokens_per_s: float

    @property
    def latency_s(self) -> float:
        """The ideal time of a query's token through every pipeline stage, one after another
        (the step time with one stage)."""
        return sum(self.stage_times_s)

    @property
    def expected_latency_s(self) -> float:
        return sum(self.expected_stage_times_s) + self.efficiency.step_overhead_s

    @property
    def rows(self) -> tuple[RowTiming, ...]:
        """Timings of the busiest stage's rows."""
        return self.stage_rows[self.stage]


def time_row(
    row: Row, hw: HardwareSpec, execution: Execution, eff: Efficiency | None = None
) -> RowTiming:
    """The ideal time of one row per block (and, with `eff`, its expected time)."""
    if row.comm is not None:
        link = hw.interconnect_bandwidth
        comm_s = row.comm.seconds(link) if link else 0.0
        parts = (0.0, 0.0, 0.0)
        if eff is not None:
            wire = row.comm.seconds(link * eff.interconnect) if link else 0.0
            parts = (0.0, wire, eff.collective_latency_s)
        return RowTiming(
            row.name, comm_s, 0.0, 0.0, "communication", row.peak, False, comm_s, *_with_sum(parts)
        )
    used, peak = hw.peak_for(row.peak)
    compute_s = row.cost.flops / (peak * hw.compute_efficiency)
    fused = execution is Execution.FUSED and row.kind is OpKind.ELEMENTWISE
    moved = 0 if fused else row.cost.total_bytes
    bandwidth = hw.memory_bandwidth * hw.memory_efficiency
    memory_s = float(moved) / bandwidth
    bound = "compute" if compute_s >= memory_s else "memory"
    parts = (0.0, 0.0, 0.0)
    if eff is not None:
        parts = _expected(row, eff, used, compute_s, bandwidth, fused)
    return RowTiming(
        row.name,
        max(compute_s, memory_s),
        compute_s,
        memory_s,
        bound,
        used,
        fused,
        0.0,
        *_with_sum(parts),
    )


def _with_sum(parts: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """(expected time, its compute, memory and overhead parts): max(compute, memory) + overhead."""
    compute, memory, overhead = parts
    return max(compute, memory) + overhead, compute, memory, overhead


def _expected(
    row: Row, eff: Efficiency, used: str, compute_s: float, bandwidth: float, fused: bool
) -> tuple[float, float, float]:
    """The expected (compute, memory, overhead) of a non-communication row per block: the
    efficiency model."""
    if fused:  # runs inside its neighbour's kernel: only its arithmetic, on the vector units
        return compute_s, 0.0, 0.0
    cost = row.cost
    weight_bytes = float(cost.weight_bytes)
    if row.kind is OpKind.GEMM:
        compute_s /= eff.gemm_efficiency(used, row.tokens / row.matrices)
        if row.weight_peak and row.weight_peak != row.peak:  # dequantized on the fly
            weight_bytes /= eff.dequant.get(row.weight_peak, 1.0)
    elif row.kind in (OpKind.ATTENTION, OpKind.SCAN):
        compute_s /= eff.attention
    moved = weight_bytes + float(cost.input_bytes + cost.output_bytes)
    memory_s = moved / (bandwidth * eff.bandwidth)
    return compute_s, memory_s, eff.kernel_launch_s


def _stage_time(stage: Stage, timings: tuple[RowTiming, ...]) -> float:
    return sum(t.time_s * row.blocks for t, row in zip(timings, stage.rows, strict=True))


def on_hardware(
    report: Report,
    hw: HardwareSpec,
    execution: Execution = Execution.FUSED,
    efficiency: Efficiency | None = None,
) -> HardwareResult:
    """The step on `hw`: ideal and expected times (with `efficiency`, default the default
    profile's parameters for the device's family and what its spec file sets)."""
    eff = efficiency if efficiency is not None else default_efficiency(hw)
    stage_rows = tuple(
        tuple(time_row(row, hw, execution, eff) for row in stage.rows) for stage in report.stages
    )
    stage_times = tuple(
        _stage_time(stage, timings)
        for stage, timings in zip(report.stages, stage_rows, strict=True)
    )
    expected_times = tuple(
        sum(t.expected_s * row.blocks for t, row in zip(timings, stage.rows, strict=True))
        for stage, timings in zip(report.stages, stage_rows, strict=True)
    )
    expected_step = max(expected_times) + eff.step_overhead_s
    busiest = max(range(len(stage_times)), key=lambda i: stage_times[i])
    stage, timings, step = report.stages[busiest], stage_rows[busiest], stage_times[busiest]

    by_bound: dict[str, float] = {}
    for t, row in zip(timings, stage.rows, strict=True):
        by_bound[t.bound] = by_bound.get(t.bound, 0.0) + t.time_s * row.blocks
    # Achieved shares: the time the step's FLOPs (bytes) need at the datasheet peak, over the step.
    at_peak = sum(
        row.cost.flops * row.blocks / hw.peak_for(row.peak)[1]
        for row in stage.rows
        if row.comm is None
    )
    moved = sum(t.memory_s * row.blocks for t, row in zip(timings, stage.rows, strict=True))

    queries = report.queries
    phase = "decode" if queries.is_decode else "prefill" if queries.is_prefill else "mixed"
    if report.tower == "vision":
        phase = "encode"  # a vision encoder's pass: its tokens are the images' patches
    produced = queries.num_queries if phase == "decode" else queries.total_input_tokens
    storage = report.device_memory_bytes
    untimed = any(row.comm is not None for row in stage.rows) and not hw.interconnect_bandwidth
    notes = {
        f"{hw.name} has no {row.peak} peak: counted at {t.peak}"
        for row, t in zip(stage.rows, timings, strict=True)
        if row.comm is None and t.peak != row.peak and row.cost.flops
    }
    if untimed:
        notes.add(f"{hw.name} has no interconnect bandwidth: communication not timed")
    return HardwareResult(
        hardware=hw,
        execution=execution,
        stage=busiest,
        stage_rows=stage_rows,
        stage_times_s=stage_times,
        step_time_s=step,
        phase=phase,
        tokens_per_s=produced / step if step else math.inf,
        bound=max(by_bound, key=lambda b: by_bound[b]),
        compute_utilization=at_peak / step if step else 0.0,
        bandwidth_utilization=moved * hw.memory_efficiency / step if step else 0.0,
        storage_bytes=storage,
        fits=storage <= hw.memory_bytes,
        min_devices=max(1, math.ceil(Fraction(report.model_storage_bytes) / hw.memory_bytes)),
        max_batch=_max_batch(report, hw),
        notes=tuple(sorted(notes)),
        efficiency=eff,
        expected_stage_times_s=expected_times,
        expected_step_time_s=expected_step,
        expected_tokens_per_s=produced / expected_step if expected_step else math.inf,
    )


def default_efficiency(
    hw: HardwareSpec, profile: str | None = None, overrides: Mapping[str, Any] | None = None
) -> Efficiency:
    """The efficiency parameters for `hw`: a profile's (default: the default one) for its
    family, then what its spec file sets, then `overrides` (the command line's)."""
    eff = efficiency_for(profile or default_profile(), hw.family or "")
    from_spec = getattr(hw, "efficiency", None)
    if from_spec:
        eff = eff.with_values(from_spec, hw.name)
    return eff.with_values(overrides, "--efficiency", UsageError) if overrides else eff


def _max_batch(report: Report, hw: HardwareSpec) -> int:
    """Queries of this mix whose KV cache fits beside the weights on every device."""
    batch = None
    for stage in report.stages:
        spare = hw.memory_bytes - stage.weight_bytes
        per_query = Fraction(stage.kv_cache_bytes) / report.queries.num_queries
        fits = 0 if spare <= 0 else int(spare // per_query) if per_query else 10**18
        batch = fits if batch is None else min(batch, fits)
    return batch or 0
