"""Serving at a concurrency: closed-loop clients, continuous batching, chunked prefill.

C clients each keep one request in flight (`vllm bench serve --max-concurrency C`): a request of
`isl` prompt tokens and `osl` output tokens, and a new one as soon as it ends. The engine batches
continuously: every step carries the decoding requests (one token each) and prefill chunks, at
most `token_budget` tokens in all (vLLM's `max_num_batched_tokens`, 8192 by default for its
server). The steady state, per request:

- a request spends s_p steps prefilling and osl - 1 steps decoding; the budget caps the tokens of
  all C requests per step, C (isl + osl - 1) / s <= budget for s = s_p + osl - 1 steps, and a
  prompt cannot take more than the budget per step: s_p = max(ceil(isl / budget),
  C (isl + osl - 1) / budget - (osl - 1));
- the other C - 1 requests are spread evenly over their own cycles: a step holds on average
  (C - 1)(osl - 1) / s other decoding requests, and their prompts arrive one after another, each
  in ceil(isl / budget) chunks, so m = min(s, (C - 1) ceil(isl / budget)) of the s steps carry
  the others' prefill, (C - 1) isl / m tokens each (a chunk at the middle of a prompt); the
  other s - m steps only decode. Averaging the prompts over every step instead would be wrong
  for a MoE: a step's experts touched are not linear in its tokens;
- the time per output token (TPOT) of a request is the mean of its decode steps: it and the
  decoding requests, with the others' prefill in m / s of them;
- a prefill step: its own chunk of isl / s_p tokens beside the decoding requests and the
  others' prefill tokens of an average step ((C - 1) isl / s); s_p of them (and, in the
  expected estimate, the per-request overhead and the per-prompt-token one on its isl tokens)
  are the time to first token (TTFT);
- with pipeline parallelism, pp micro-batches are in flight, one per stage: a request's step
  holds it and 1 / pp of the others' tokens, and takes every stage's time, one after another
  (`HardwareResult.latency_s`);
- end to end: TTFT + (osl - 1) TPOT; requests/s = C / end-to-end (Little's law); output
  tokens/s = requests/s x osl, per GPU over the devices of one replica, and per user 1 / TPOT.
Fractional request counts are interpolated between the two whole counts around them (a step's
cost is affine in its decoding requests but for the experts a MoE touches).

Memory is real: the KV-cache pool of a device is its memory x `gpu_memory_utilization` (vLLM's
default 0.9) minus its weights minus an activation and workspace reserve (1 GiB + 8 activation
vectors of hidden width per token of the budget: a documented estimate, not a measurement). A
request needs the state of its full context (isl + osl tokens: engines reserve as they grow and
preempt when the pool runs out; counting the full context keeps every running request
admitted). At most `max_concurrency` requests fit; above that the rest wait in a queue: they add
(C - max) / (requests/s) to TTFT and end-to-end, and throughput stays at the capped level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..base_parser import BaseModelConfigParser
from ..errors import UsageError
from ..hardware.efficiency import Efficiency
from ..hardware.roofline import Execution, on_hardware
from ..hardware.specs import HardwareSpec
from ..model.parallel import SINGLE_DEVICE, Parallelism
from ..model.queries import QueryConfig
from ..model.report import Report, analyze
from ..ops import Number
from .defaults import DEFAULT_MEMORY_UTILIZATION, DEFAULT_TOKEN_BUDGET

_RESERVE_BYTES = 2**30  # workspace, CUDA graphs, the sampler: the fixed part of the reserve
_RESERVE_VECTORS = 8  # activation vectors of hidden width kept per token of the budget


@dataclass(frozen=True)
class Serving:
    """The steady state of closed-loop serving on one replica of `devices` devices."""

    hardware: HardwareSpec
    efficiency: Efficiency
    concurrency: int  # clients
    running: int  # requests the KV pool holds at once (min(concurrency, max_concurrency))
    max_concurrency: int  # the most requests whose full context fits the pool
    devices: int
    isl: int
    osl: int
    token_budget: int
    prefill_steps: float  # s_p
    ttft_s: float
    tpot_s: float
    expected_ttft_s: float
    expected_tpot_s: float
    kv_pool_bytes: Number  # per device
    request_state_bytes: Number  # per device, one request at its full context
    queue_s: float  # ideal: the wait in the queue when concurrency exceeds the pool
    expected_queue_s: float

    @property
    def e2e_s(self) -> float:
        return self.ttft_s + (self.osl - 1) * self.tpot_s

    @property
    def expected_e2e_s(self) -> float:
        return self.expected_ttft_s + (self.osl - 1) * self.expected_tpot_s

    @property
    def requests_per_s(self) -> float:
        """Little's law: the clients over a request's whole latency (its wait included)."""
        return self.concurrency / self.e2e_s

    @property
    def expected_requests_per_s(self) -> float:
        return self.concurrency / self.expected_e2e_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests_per_s * self.osl

    @property
    def expected_output_tokens_per_s(self) -> float:
        return self.expected_requests_per_s * self.osl

    @property
    def output_tokens_per_s_per_gpu(self) -> float:
        return self.output_tokens_per_s / self.devices

    @property
    def expected_output_tokens_per_s_per_gpu(self) -> float:
        return self.expected_output_tokens_per_s / self.devices

    @property
    def output_tokens_per_s_per_user(self) -> float:
        """What one client sees while its request decodes: 1 / TPOT."""
        return 1 / self.tpot_s

    @property
    def expected_output_tokens_per_s_per_user(self) -> float:
        return 1 / self.expected_tpot_s

    @property
    def fits(self) -> bool:
        return self.concurrency <= self.max_concurrency


def serve(
    parser: BaseModelConfigParser,
    hw: HardwareSpec,
    eff: Efficiency,
    *,
    concurrency: int,
    isl: int,
    osl: int,
    parallel: Parallelism = SINGLE_DEVICE,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
    execution: Execution = Execution.FUSED,
) -> Serving:
    """The steady state of `concurrency` clients on one replica (see the module docstring)."""
    steady = SteadyState(
        parser, hw, concurrency, isl, osl, parallel, token_budget, memory_utilization
    )
    return steady.on(eff, execution)


class Analyses:
    """One parser's step reports, each analyzed once: a plan asks for the same steps of a split
    on every device kind."""

    def __init__(self, parser: BaseModelConfigParser) -> None:
        self.parser = parser
        self._memo: dict[tuple[QueryConfig, Parallelism], Report] = {}

    def __call__(self, queries: QueryConfig, parallel: Parallelism) -> Report:
        key = (queries, parallel)
        if key not in self._memo:
            self._memo[key] = analyze(self.parser, queries, parallel)
        return self._memo[key]


class SteadyState:
    """The steps of the steady state, analyzed once; `on(eff)` times them (both estimates)."""

    def __init__(
        self,
        parser: BaseModelConfigParser,
        hw: HardwareSpec,
        concurrency: int,
        isl: int,
        osl: int,
        parallel: Parallelism = SINGLE_DEVICE,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
        analyses: Analyses | None = None,
    ) -> None:
        check_serving(concurrency, isl, osl, token_budget, memory_utilization)
        steps = analyses if analyses is not None else Analyses(parser)
        parser.check_context(isl + osl - 1)
        self.hw, self.concurrency, self.isl, self.osl = hw, concurrency, isl, osl
        self.parallel, self.token_budget = parallel, token_budget
        pool, per_request = kv_pool(
            steps, hw, parallel, isl + osl, token_budget, memory_utilization
        )
        fit = 0 if pool <= 0 else 10**9 if per_request == 0 else int(Fraction(pool) // per_request)
        self.pool, self.per_request, self.max_concurrency = pool, per_request, fit
        self.running = min(concurrency, fit)
        if self.running == 0:
            raise UsageError(
                f"not one request of {isl + osl} tokens fits {hw.name} at TP {parallel.tp} x PP "
                f"{parallel.pp}: its KV-cache pool is {float(pool) / 1e9:.1f} GB per device "
                "after the weights and the activation reserve"
            )
        self.cycle = _cycle(self.running, isl, osl, token_budget)
        others = self.running - 1
        decoding = others * (osl - 1) / self.cycle.steps
        prefilling = others * isl / self.cycle.steps
        context = isl + (osl - 1) // 2
        own_chunk = isl / self.cycle.prefill_steps
        carrying = min(self.cycle.steps, others * math.ceil(isl / token_budget))
        self.carrying_share = carrying / self.cycle.steps  # m / s
        chunk = others * isl / carrying if carrying else 0.0
        pp = parallel.pp  # pp micro-batches in flight: a request shares its own with 1 / pp
        decoding, prefilling, chunk = decoding / pp, prefilling / pp, chunk / pp  # of the others
        self.decode = _MixedStep(steps, parallel, 1 + decoding, 0.0, context, isl)
        self.decode_beside_prefill = _MixedStep(steps, parallel, 1 + decoding, chunk, context, isl)
        self.prefill = _MixedStep(steps, parallel, decoding, prefilling + own_chunk, context, isl)

    def on(self, eff: Efficiency, execution: Execution = Execution.FUSED) -> Serving:
        ttft, expected_ttft = (
            self.cycle.prefill_steps * t for t in self.prefill.times(self.hw, eff, execution)
        )
        expected_ttft += eff.request_overhead_s + eff.prompt_token_overhead_s * self.isl
        share = self.carrying_share
        tpot, expected_tpot = (
            (1 - share) * alone + share * beside
            for alone, beside in zip(
                self.decode.times(self.hw, eff, execution),
                self.decode_beside_prefill.times(self.hw, eff, execution),
                strict=True,
            )
        )
        osl, running = self.osl, self.running
        queue = expected_queue = 0.0
        if self.concurrency > running:  # the rest wait for a slot: Little's law on the loop
            waiting = self.concurrency - running
            queue = waiting * (ttft + (osl - 1) * tpot) / running
            expected_queue = waiting * (expected_ttft + (osl - 1) * expected_tpot) / running
        return Serving(
            hardware=self.hw,
            efficiency=eff,
            concurrency=self.concurrency,
            running=running,
            max_concurrency=self.max_concurrency,
            devices=self.parallel.devices,
            isl=self.isl,
            osl=osl,
            token_budget=self.token_budget,
            prefill_steps=self.cycle.prefill_steps,
            ttft_s=ttft + queue,
            tpot_s=tpot,
            expected_ttft_s=expected_ttft + expected_queue,
            expected_tpot_s=expected_tpot,
            kv_pool_bytes=self.pool,
            request_state_bytes=self.per_request,
            queue_s=queue,
            expected_queue_s=expected_queue,
        )


def check_serving(concurrency: int, isl: int, osl: int, budget: int, utilization: float) -> None:
    """One UsageError line, naming the option, for a value serving cannot take."""
    for name, value in (
        ("--concurrency", concurrency),
        ("--input-tokens", isl),
        ("--output-tokens", osl),
        ("--token-budget", budget),
    ):
        if type(value) is not int or value < 1:
            raise UsageError(f"{name} must be an integer >= 1, got {value!r}")
    if not 0 < utilization <= 1:
        raise UsageError(f"--gpu-memory-utilization must be in (0, 1], got {utilization!r}")


def kv_pool(
    steps: Analyses,
    hw: HardwareSpec,
    parallel: Parallelism,
    context: int,
    token_budget: int,
    memory_utilization: float,
) -> tuple[Number, Number]:
    """(KV-cache pool, one request's state at `context` tokens) on the fullest device."""
    report = steps(QueryConfig.uniform(1, context - 1, 1), parallel)
    act = steps.parser.precision.activation.bytes
    hidden = steps.parser.dims.hidden_size
    reserve = _RESERVE_BYTES + _RESERVE_VECTORS * token_budget * hidden * act
    budget = Fraction(hw.memory_bytes) * Fraction(memory_utilization).limit_denominator(10**6)
    pool = min(budget - stage.weight_bytes - reserve for stage in report.stages)
    state = max(stage.kv_cache_bytes for stage in report.stages)
    return pool, state


@dataclass(frozen=True)
class _Cycle:
    prefill_steps: float  # s_p
    steps: float  # s = s_p + osl - 1


def _cycle(running: int, isl: int, osl: int, budget: int) -> _Cycle:
    shortest = math.ceil(isl / budget)
    crowded = running * (isl + osl - 1) / budget - (osl - 1)
    prefill = max(shortest, crowded)
    return _Cycle(prefill, prefill + osl - 1)


class _MixedStep:
    """A step of `decoders` requests at `context` and `prefill_tokens` prompt tokens (chunks at
    the middle of a prompt), fractional counts interpolated between the two whole ones."""

    def __init__(
        self, steps: Analyses, parallel, decoders: float, prefill_tokens: float, context, isl
    ):
        tokens = max(0, round(prefill_tokens))
        low = math.floor(decoders)
        self.fraction = decoders - low
        counts = (low, low + 1) if self.fraction else (low,)
        self.reports = [
            steps(queries, parallel)
            for queries in (_queries(n, tokens, context, isl) for n in counts)
            if queries is not None
        ]

    def times(self, hw, eff, execution) -> tuple[float, float]:
        """(ideal, expected) time of the step."""
        if not self.reports:
            return 0.0, 0.0
        results = [on_hardware(report, hw, execution, eff) for report in self.reports]
        low = (results[0].latency_s, results[0].expected_latency_s)
        if len(results) == 1:
            return low
        high = (results[1].latency_s, results[1].expected_latency_s)
        return tuple(a + self.fraction * (b - a) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]


def _queries(decoders: int, prefill_tokens: int, context: int, isl: int) -> QueryConfig | None:
    groups = []
    if decoders:
        groups.append(((context - 1, 1), decoders))
    if prefill_tokens:
        chunk = min(prefill_tokens, isl)
        start = max(0, (isl - chunk) // 2)  # a chunk at the middle of a prompt
        whole, rest = divmod(prefill_tokens, chunk)
        groups.append(((start, chunk), whole))
        if rest:
            groups.append(((start, rest), 1))
    return QueryConfig(tuple(groups)) if groups else None
