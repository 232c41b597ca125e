"""A report on real hardware: time per row, the bound, latency, throughput and fit.

Per row (per block):  time = max(FLOPs / (peak x compute efficiency),
                                 bytes / (bandwidth x memory efficiency))
and the row is compute-bound when the first term is the larger. `peak` is the dense peak of the
row's compute format (see core/precision.py), with the device's fallback where it lacks one.

Execution model (`execution`):
- "fused" (default; what serving engines do): elementwise ops (norms, RoPE, activations,
  residual adds, the MoE combine) run fused into the neighbouring GEMM or attention kernels, so
  their operands never round-trip memory and only their FLOPs take time.
- "eager" (HuggingFace eager): every op is its own kernel and reads and writes memory.

The step time is the sum over rows of time x blocks: ops run one after another, each at its own
roofline (no overlap between ops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from core.hardware import HardwareSpec
from core.report import Report
from core.rows import OpKind, Row
from core.utils import Number


class Execution(Enum):
    FUSED = "fused"
    EAGER = "eager"


@dataclass(frozen=True, slots=True)
class RowTiming:
    name: str
    time_s: float  # per block
    compute_s: float  # FLOPs at peak, per block
    memory_s: float  # bytes at bandwidth, per block (0 for a fused elementwise op)
    bound: str  # "compute" or "memory"
    peak: str  # the compute format whose peak was used
    fused: bool  # an elementwise op fused into a neighbour: only its FLOPs take time


@dataclass(frozen=True)
class HardwareResult:
    hardware: HardwareSpec
    execution: Execution
    rows: tuple[RowTiming, ...]
    step_time_s: float
    phase: str  # "decode" (every query brings 1 token), "prefill" (none has a cache), "mixed"
    tokens_per_s: float  # decode: queries / step; prefill and mixed: input tokens / step
    bound: str  # the bound of the rows that take most of the step
    compute_utilization: float  # share of the device's peak compute achieved over the step
    bandwidth_utilization: float  # share of its peak memory bandwidth achieved over the step
    storage_bytes: Number
    fits: bool
    min_devices: int  # devices whose memory holds weights + KV (1 when it fits)
    max_batch: int  # largest batch of this query mix whose weights + KV fit on one device
    notes: tuple[str, ...]  # formats a device has no peak for, and what ran instead

    @property
    def latency_label(self) -> str:
        return {"decode": "time per output token", "prefill": "time to first token"}.get(
            self.phase, "step time"
        )


def time_row(row: Row, hw: HardwareSpec, execution: Execution) -> RowTiming:
    used, peak = hw.peak_for(row.peak)
    compute_s = row.cost.flops / (peak * hw.compute_efficiency)
    fused = execution is Execution.FUSED and row.kind is OpKind.ELEMENTWISE
    moved = 0 if fused else row.cost.total_bytes
    memory_s = float(moved) / (hw.memory_bandwidth * hw.memory_efficiency)
    bound = "compute" if compute_s >= memory_s else "memory"
    return RowTiming(row.name, max(compute_s, memory_s), compute_s, memory_s, bound, used, fused)


def on_hardware(
    report: Report, hw: HardwareSpec, execution: Execution = Execution.FUSED
) -> HardwareResult:
    timings = tuple(time_row(row, hw, execution) for row in report.rows)
    blocks = [row.blocks for row in report.rows]
    step = sum(t.time_s * n for t, n in zip(timings, blocks, strict=True))
    by_bound = {"compute": 0.0, "memory": 0.0}
    for t, n in zip(timings, blocks, strict=True):
        by_bound[t.bound] += t.time_s * n
    # Achieved shares: the time the step's FLOPs (bytes) need at the datasheet peak, over the step.
    at_peak = sum(
        row.cost.flops * n / hw.peak_for(row.peak)[1]
        for row, n in zip(report.rows, blocks, strict=True)
    )
    moved = sum(t.memory_s * n for t, n in zip(timings, blocks, strict=True))
    moved_at_peak = moved * hw.memory_efficiency

    queries = report.queries
    phase = "decode" if queries.is_decode else "prefill" if queries.is_prefill else "mixed"
    produced = queries.num_queries if phase == "decode" else queries.total_input_tokens
    storage = report.storage_bytes
    spare = hw.memory_bytes - report.weight_bytes
    per_query_kv = Fraction(report.kv_cache_bytes) / queries.num_queries
    max_batch = int(spare // per_query_kv) if spare > 0 else 0
    notes = tuple(
        sorted(
            {
                f"{hw.name} has no {row.peak} peak: counted at {t.peak}"
                for row, t in zip(report.rows, timings, strict=True)
                if t.peak != row.peak and row.cost.flops
            }
        )
    )
    return HardwareResult(
        hardware=hw,
        execution=execution,
        rows=timings,
        step_time_s=step,
        phase=phase,
        tokens_per_s=produced / step if step else math.inf,
        bound=max(by_bound, key=lambda b: by_bound[b]),
        compute_utilization=at_peak / step if step else 0.0,
        bandwidth_utilization=moved_at_peak / step if step else 0.0,
        storage_bytes=storage,
        fits=storage <= hw.memory_bytes,
        min_devices=max(1, math.ceil(Fraction(storage) / hw.memory_bytes)),
        max_batch=max_batch,
        notes=notes,
    )
