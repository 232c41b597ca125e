"""Whole generations: a batch's prefill, then every decode step until each query has its output,
summed exactly from a handful of step evaluations.

Each query q (c_q cached, n_q input, N_q output tokens) is prefilled in the first step (its time
to first token, and in the expected estimate the per-request and per-prompt-token overheads, the
latter on every prompt token of the step), then generates N_q - 1
more tokens, one per decode step, its context growing by one per step; a query that is done
leaves the batch. The decode step k (k = 1, 2, ...) holds every query still generating, each with
c_q + n_q + k - 1 tokens cached and 1 input token.

Exact, yet cheap: a step's rows cost FLOPs and bytes that are affine in the contexts within
*pieces* that the layer kinds declare (core/model/masks.py `ContextPieces`: a window or top-k
filling up, a chunk restarting, a compressor closing a window every r tokens; `pieces()` of every
mixer). Within a piece, with the same queries active, evaluating the step at its first and last
step gives every row's compute and memory time as an affine function of the step; a row takes the
larger of the two, so its time is piecewise affine with at most one kink, where they cross; a
step is its rows over every pipeline stage (the batch is one micro-batch: its tokens pass the
stages one after another, `HardwareResult.latency_s`). The sum over the piece's steps is then the
exact sum of those piecewise-affine functions over the integers (core/serving/piecewise.py).
Costs that depend on L mod r are summed along each residue class of the step index modulo r.
A chunk of C tokens restarting more often than C times in a run is folded the same way (along a
residue class modulo C its in-chunk length is constant), so a run costs about 2 min(C, number
of restarts) evaluations whatever its length; past `MAX_STEP_EVALUATIONS` the generation
is refused with the limit named (only a context far beyond any model's positions gets there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from ..base_parser import BaseModelConfigParser
from ..errors import UsageError
from ..hardware.efficiency import Efficiency
from ..hardware.roofline import Execution, on_hardware
from ..hardware.specs import HardwareSpec
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import SINGLE_DEVICE, Parallelism
from ..model.queries import QueryConfig
from ..model.report import analyze
from ..ops import Number
from .piecewise import StepPoint, step_lines, sum_steps

# (cached, input, output tokens) of a query, and how many queries are alike.
Request = tuple[tuple[int, int, int], int]

# Step evaluations a generation may take to sum its decode steps (one is ~1 ms here).
MAX_STEP_EVALUATIONS = 20_000


@dataclass(frozen=True)
class QueryTimes:
    """One group of identical queries through the generation (both estimates)."""

    cached_tokens: int
    input_tokens: int
    output_tokens: int
    count: int
    e2e_s: float  # from the start of the prefill to its last token
    expected_e2e_s: float

    @property
    def tpot_steps(self) -> int:
        return self.output_tokens - 1


@dataclass(frozen=True)
class Generation:
    """A batch's whole generation on one device kind: the ideal roofline and the expected
    estimate of each figure."""

    hardware: HardwareSpec
    efficiency: Efficiency
    ttft_s: float  # the prefill step
    expected_ttft_s: float  # the prefill step + the per-request and per-prompt-token overheads
    decode_s: float  # every decode step, until the last query is done
    expected_decode_s: float
    queries: tuple[QueryTimes, ...]
    peak_memory_bytes: Number  # the fullest device at the generation's fullest step
    fits: bool
    steps: int  # decode steps summed
    evaluated: int  # steps actually analyzed to sum them exactly

    @property
    def output_tokens(self) -> int:
        return sum(q.output_tokens * q.count for q in self.queries)

    @property
    def e2e_s(self) -> float:
        return self.ttft_s + self.decode_s

    @property
    def expected_e2e_s(self) -> float:
        return self.expected_ttft_s + self.expected_decode_s

    @property
    def tpot_s(self) -> float:
        """Mean time per output token after the first, over every query's own steps."""
        return _mean_tpot(self.queries, self.ttft_s, expected=False)

    @property
    def expected_tpot_s(self) -> float:
        return _mean_tpot(self.queries, self.expected_ttft_s, expected=True)

    @property
    def output_tokens_per_s(self) -> float:
        """Every query's output tokens over the whole generation's time."""
        return self.output_tokens / self.e2e_s if self.e2e_s else math.inf

    @property
    def expected_output_tokens_per_s(self) -> float:
        return self.output_tokens / self.expected_e2e_s if self.expected_e2e_s else math.inf

    @property
    def output_tokens_per_s_per_query(self) -> float:
        """A query's output tokens over its own end-to-end time, averaged over the queries."""
        return _per_query_rate(self.queries, expected=False)

    @property
    def expected_output_tokens_per_s_per_query(self) -> float:
        return _per_query_rate(self.queries, expected=True)


def _mean_tpot(queries: Sequence[QueryTimes], ttft: float, *, expected: bool) -> float:
    steps = sum(q.tpot_steps * q.count for q in queries)
    if not steps:
        return 0.0
    total = sum(((q.expected_e2e_s if expected else q.e2e_s) - ttft) * q.count for q in queries)
    return total / steps


def _per_query_rate(queries: Sequence[QueryTimes], *, expected: bool) -> float:
    count = sum(q.count for q in queries)
    rates = (q.output_tokens / (q.expected_e2e_s if expected else q.e2e_s) for q in queries)
    return sum(rate * q.count for rate, q in zip(rates, queries, strict=True)) / count


def requests(queries: QueryConfig, output_tokens: Sequence[int]) -> list[Request]:
    """The batch's queries with their output tokens: one value for all, or one per group."""
    if len(output_tokens) not in (1, len(queries.groups)):
        raise UsageError(
            f"--output-tokens has {len(output_tokens)} values: give one, or one per query"
        )
    outputs = list(output_tokens) * (len(queries.groups) if len(output_tokens) == 1 else 1)
    for n in outputs:
        if type(n) is not int or n < 1:
            raise UsageError(f"--output-tokens must be integers >= 1, got {n!r}")
    merged: dict[tuple[int, int, int], int] = {}
    for ((cached, new), count), out in zip(queries.groups, outputs, strict=True):
        merged[(cached, new, out)] = merged.get((cached, new, out), 0) + count
    return list(merged.items())


def model_pieces(parser: BaseModelConfigParser) -> ContextPieces:
    """Where any layer's decode step stops being affine in the context."""
    mixers = (mixer for block in parser.distinct_blocks for mixer in block.mixers)
    return reduce(lambda a, b: a | b, (mixer.pieces() for mixer in mixers), NO_PIECES)


def generate(
    parser: BaseModelConfigParser,
    batch: Sequence[Request],
    hw: HardwareSpec,
    eff: Efficiency,
    parallel: Parallelism = SINGLE_DEVICE,
    execution: Execution = Execution.FUSED,
    encoder_s: tuple[float, float] = (0.0, 0.0),
    encoder_bytes: Number = 0,
) -> Generation:
    """The whole generation of `batch` on `hw`: both estimates, summed exactly over its steps.
    `encoder_s`: the (ideal, expected) time of a vision encoder's pass over the prompts' images,
    before the prefill (core/vision/prompt.py); `encoder_bytes`: its weights, which the first
    pipeline stage's devices hold."""
    parser.check_context(max(c + n + out - 1 for (c, n, out), _ in batch))
    prefill = QueryConfig(tuple(((c, n), count) for (c, n, _), count in batch))
    first_report = analyze(parser, prefill, parallel)
    first = on_hardware(first_report, hw, execution, eff)
    decoder = _Decoder(parser, batch, hw, eff, parallel, execution, encoder_bytes)
    ends = sorted({out - 1 for (_, _, out), _ in batch if out > 1})  # last step of each group
    ideal_done, expected_done, start = 0.0, 0.0, 1
    until: dict[int, tuple[float, float]] = {0: (0.0, 0.0)}
    for end in ends:
        ideal, expected = decoder.sum(start, end)
        ideal_done, expected_done, start = ideal_done + ideal, expected_done + expected, end + 1
        until[end] = (ideal_done, expected_done)
    ttft = encoder_s[0] + first.latency_s
    expected_ttft = (
        encoder_s[1]
        + first.expected_latency_s
        + eff.request_overhead_s
        + eff.prompt_token_overhead_s * prefill.total_input_tokens
    )
    times = tuple(
        QueryTimes(
            c,
            n,
            out,
            count,
            ttft + until[out - 1][0],
            expected_ttft + until[out - 1][1],
        )
        for (c, n, out), count in batch
    )
    first_memory = first_report.device_memory_bytes_with(encoder_bytes)
    memory = max([first_memory, *(decoder.memory_at(end) for end in ends)])
    return Generation(
        hardware=hw,
        efficiency=eff,
        ttft_s=ttft,
        expected_ttft_s=expected_ttft,
        decode_s=ideal_done,
        expected_decode_s=expected_done,
        queries=times,
        peak_memory_bytes=memory,
        fits=memory <= hw.memory_bytes,
        steps=max(ends, default=0),
        evaluated=decoder.evaluated,
    )


class _Decoder:
    """The decode steps of one generation: evaluates steps and sums them piece by piece."""

    def __init__(
        self,
        parser: BaseModelConfigParser,
        batch: Sequence[Request],
        hw: HardwareSpec,
        eff: Efficiency,
        parallel: Parallelism,
        execution: Execution,
        encoder_bytes: Number = 0,
    ) -> None:
        self.parser, self.batch, self.hw, self.eff = parser, batch, hw, eff
        self.parallel, self.execution = parallel, execution
        self.encoder_bytes = encoder_bytes  # held beside the first stage's weights
        self.pieces = model_pieces(parser)
        self.modulus = reduce(math.lcm, self.pieces.periods, 1)
        self.evaluated = 0

    def queries_at(self, k: int) -> QueryConfig:
        """Decode step k: every query still generating, c + n + k - 1 cached, 1 input."""
        groups = [((c + n + k - 1, 1), count) for (c, n, out), count in self.batch if out - 1 >= k]
        return QueryConfig(tuple(groups))

    def evaluate(self, k: int) -> StepPoint:
        self.evaluated += 1
        report = analyze(self.parser, self.queries_at(k), self.parallel)
        return step_lines(report, on_hardware(report, self.hw, self.execution, self.eff))

    def memory_at(self, k: int) -> Number:
        report = analyze(self.parser, self.queries_at(k), self.parallel)
        return report.device_memory_bytes_with(self.encoder_bytes)

    def boundaries(self, lo: int, hi: int, starts: list[int], cycles: frozenset[int]) -> set[int]:
        """Steps k in [lo, hi) after which a new affine piece begins, for any active query (c + n
        of each in `starts`)."""
        cuts: set[int] = set()
        for start in starts:  # context after step k is start + k
            for point in self.pieces.points:  # kinks at L = point: affine up to and from it
                for k in (point - start - 1, point - start):
                    if lo <= k < hi:
                        cuts.add(k)
            for cycle in cycles:  # restarts at L = m * cycle + 1
                first = max(1, -(-(start + lo - 1) // cycle))
                for m in range(first, (start + hi) // cycle + 1):
                    k = m * cycle + 1 - start - 1  # the step before the restart
                    if lo <= k < hi:
                        cuts.add(k)
        return cuts

    def active_starts(self, lo: int) -> list[int]:
        """c + n of every query group still generating at step `lo`."""
        return [c + n for (c, n, out), _ in self.batch if out - 1 >= lo]

    def sum(self, lo: int, hi: int) -> tuple[float, float]:
        """(ideal, expected) sums of the decode steps lo..hi, the active queries fixed."""
        span = hi - lo + 1
        folded = frozenset(cycle for cycle in self.pieces.cycles if cycle * cycle <= span)
        modulus = reduce(math.lcm, folded, self.modulus)
        cycles = self.pieces.cycles - folded
        starts = self.active_starts(lo)
        pieces = len(starts) * (2 * len(self.pieces.points) + sum(span // c + 1 for c in cycles))
        planned = 2 * min(min(modulus, span) * (pieces + 1), span)  # each cut splits every class
        if self.evaluated + planned > MAX_STEP_EVALUATIONS:
            raise UsageError(
                f"this generation needs about {self.evaluated + planned:,} step evaluations to "
                f"sum its {hi:,} decode steps exactly (the limit is {MAX_STEP_EVALUATIONS:,}): "
                "ask for fewer output tokens"
            )
        cuts = self.boundaries(lo, hi, starts, cycles)
        ideal = expected = 0.0
        for first in range(lo, min(lo + modulus, hi + 1)):  # one residue class each
            ks = range(first, hi + 1, modulus)
            for a, b in _runs(ks, cuts):
                low = self.evaluate(a)
                high = low if a == b else self.evaluate(b)
                count = (b - a) // modulus + 1
                i, e = sum_steps(low, high, count)
                ideal += i
                expected += e + count * self.eff.step_overhead_s
        return ideal, expected


def _runs(ks: range, cuts: set[int]) -> list[tuple[int, int]]:
    """Consecutive members of `ks` not separated by a cut (a cut after step k separates k from
    k + 1): (first, last) of each run."""
    splits = sorted({(cut - ks.start) // ks.step for cut in cuts if ks[0] <= cut < ks[-1]})
    runs, start = [], 0
    for j in splits:  # a cut between ks[j] and ks[j + 1]
        runs.append((ks[start], ks[j]))
        start = j + 1
    runs.append((ks[start], ks[-1]))
    return runs
