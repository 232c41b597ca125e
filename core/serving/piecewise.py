"""Exact sums of step times over a run of steps on which every row's cost is affine.

Within a run of `count` steps (index i = 0 .. count - 1), every row's compute time and memory
time are affine in i; the row takes the larger of the two (the ideal roofline), or that plus its
overhead (the expected estimate), so its time is piecewise affine with one kink where the two
cross; a step's time is the sum of its rows x blocks over every pipeline stage (a query's token
passes the stages one after another). The sum over the integers of such a function is exact: cut
the run at every kink, and sum each affine stretch as (first + last) / 2 per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..hardware.roofline import HardwareResult
from ..model.report import Report


@dataclass(frozen=True, slots=True)
class RowPoint:
    """One row at one step: blocks, and the parts of both estimates (per block)."""

    blocks: int
    compute: float  # ideal: FLOPs at the peak (or a collective's time)
    memory: float  # ideal: bytes at the bandwidth
    expected_compute: float
    expected_memory: float
    overhead: float  # expected: a launch or a collective's latency


StepPoint = tuple[tuple[RowPoint, ...], ...]  # per pipeline stage, per row


def step_lines(report: Report, result: HardwareResult) -> StepPoint:
    """Every row of every stage of one evaluated step."""
    return tuple(
        tuple(
            RowPoint(
                row.blocks,
                t.compute_s + t.comm_s,
                t.memory_s,
                t.expected_compute_s,
                t.expected_memory_s,
                t.expected_overhead_s,
            )
            for row, t in zip(stage.rows, timings, strict=True)
        )
        for stage, timings in zip(report.stages, result.stage_rows, strict=True)
    )


@dataclass(frozen=True, slots=True)
class Line:
    """a + b * i."""

    a: float
    b: float

    def at(self, i: float) -> float:
        return self.a + self.b * i


@dataclass(frozen=True)
class StepLines:
    """Per stage, per row: (blocks, compute line, memory line, overhead) of one estimate."""

    stages: tuple[tuple[tuple[int, Line, Line, float], ...], ...]

    @classmethod
    def between(cls, low: StepPoint, high: StepPoint, count: int, expected: bool) -> StepLines:
        """The lines through the run's first step (`low`, i = 0) and last (`high`)."""
        span = max(count - 1, 1)

        def line(a: float, b: float) -> Line:
            return Line(a, (b - a) / span)

        stages = []
        for lo_rows, hi_rows in zip(low, high, strict=True):
            rows = []
            for lo, hi in zip(lo_rows, hi_rows, strict=True):
                if expected:
                    parts = (lo.expected_compute, hi.expected_compute, lo.expected_memory,
                             hi.expected_memory, lo.overhead)  # fmt: skip
                else:
                    parts = (lo.compute, hi.compute, lo.memory, hi.memory, 0.0)
                rows.append(
                    (lo.blocks, line(parts[0], parts[1]), line(parts[2], parts[3]), parts[4])
                )
            stages.append(tuple(rows))
        return cls(tuple(stages))

    def time(self, i: float) -> float:
        """The step's time at i: every row of every stage."""
        return sum(
            blocks * (max(compute.at(i), memory.at(i)) + overhead)
            for rows in self.stages
            for blocks, compute, memory, overhead in rows
        )

    def kinks(self, count: int) -> set[int]:
        """floor of every point in [0, count - 1) where a row's compute and memory cross."""
        cuts = set()
        for rows in self.stages:
            for _, compute, memory, _ in rows:
                if compute.b != memory.b:
                    t = (memory.a - compute.a) / (compute.b - memory.b)
                    if 0 <= t < count - 1:
                        cuts.add(math.floor(t))
        return cuts


def sum_over_steps(lines: StepLines, count: int) -> float:
    """The exact sum over i = 0 .. count - 1 of the step's time."""
    return sum(
        (hi - lo + 1) * (lines.time(lo) + lines.time(hi)) / 2
        for lo, hi in _stretches(count, lines.kinks(count))
    )


def _stretches(count: int, cuts: set[int]) -> list[tuple[int, int]]:
    """[0, count - 1] cut after each member of `cuts`."""
    runs, start = [], 0
    for cut in sorted(cuts):
        if start <= cut < count - 1:
            runs.append((start, cut))
            start = cut + 1
    runs.append((start, count - 1))
    return runs


def sum_steps(low: StepPoint, high: StepPoint, count: int) -> tuple[float, float]:
    """(ideal, expected) sums of the `count` steps from `low` (the first) to `high` (the last),
    every row affine between them. The per-step overhead of the expected estimate is the
    caller's."""
    return (
        sum_over_steps(StepLines.between(low, high, count, expected=False), count),
        sum_over_steps(StepLines.between(low, high, count, expected=True), count),
    )
