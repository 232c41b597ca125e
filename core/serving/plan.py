"""The plan: the deployments of a model that meet latency targets, best first.

For every device kind, every split (TP x PP x EP, powers of two, at most `max_devices` devices;
EP dividing TP, for models with experts) and every concurrency from 1 to `max_concurrency`, one
replica serves `isl` / `osl` requests at that concurrency (core/serving/serving.py). A deployment
is feasible when its expected TTFT and TPOT meet the targets and its requests fit the KV pool.

Ranked by expected output tokens/s per GPU. Per split, TTFT and TPOT grow with the concurrency
and so does throughput (until the pool is full; past it, requests only queue), so a split's best
concurrency is the largest feasible one: a binary search finds it in about ten evaluations; the
powers of two below it are evaluated too, for the Pareto front of tokens/s per user (1 / TPOT)
against tokens/s per GPU over every feasible deployment evaluated.

A target request rate gives the replicas (and GPUs) a deployment needs: ceil(rate / its
requests/s). A price per GPU-hour gives the cost per million output tokens: price x devices /
3600 / output tokens/s x 10^6.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..base_parser import BaseModelConfigParser
from ..errors import AnalyzerError, UsageError
from ..hardware.efficiency import Efficiency
from ..hardware.roofline import Execution
from ..hardware.specs import HardwareSpec
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.report import analyze
from .defaults import DEFAULT_MEMORY_UTILIZATION, DEFAULT_TOKEN_BUDGET, MAX_PLAN_CONCURRENCY
from .serving import Analyses, Serving, SteadyState, check_serving


@dataclass(frozen=True)
class Targets:
    """What a deployment must meet (None: no target)."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    request_rate: float | None = None  # requests/s to serve in all, over replicas
    price_per_gpu_hour: float | None = None  # over a spec file's `price_per_gpu_hour`

    def __post_init__(self) -> None:
        for name, value in (
            ("--ttft-slo", self.ttft_s),
            ("--tpot-slo", self.tpot_s),
            ("--request-rate", self.request_rate),
            ("--price-per-gpu-hour", self.price_per_gpu_hour),
        ):
            if value is not None and not (isinstance(value, int | float) and 0 < value < math.inf):
                raise UsageError(f"{name} must be a number > 0, got {value!r}")

    def met_by(self, s: Serving) -> bool:
        return (
            s.fits
            and (self.ttft_s is None or s.expected_ttft_s <= self.ttft_s)
            and (self.tpot_s is None or s.expected_tpot_s <= self.tpot_s)
        )


@dataclass(frozen=True)
class Deployment:
    """One replica: a device kind, a split, a concurrency, and how it serves."""

    serving: Serving
    parallel: Parallelism
    price_per_gpu_hour: float | None
    request_rate: float | None

    @property
    def hardware(self) -> HardwareSpec:
        return self.serving.hardware

    @property
    def devices(self) -> int:
        return self.parallel.devices

    @property
    def concurrency(self) -> int:
        return self.serving.concurrency

    @property
    def replicas(self) -> int | None:
        """Replicas for the target request rate (None without one)."""
        if self.request_rate is None:
            return None
        return max(1, math.ceil(self.request_rate / self.serving.expected_requests_per_s))

    @property
    def gpus(self) -> int | None:
        return None if self.replicas is None else self.replicas * self.devices

    @property
    def cost_per_million_output_tokens(self) -> float | None:
        if self.price_per_gpu_hour is None:
            return None
        per_s = self.price_per_gpu_hour * self.devices / 3600
        return per_s / self.serving.expected_output_tokens_per_s * 1e6


@dataclass(frozen=True)
class Plan:
    """The best deployment of every feasible (device, split), best first; the Pareto front;
    why nothing fits, if nothing does."""

    targets: Targets
    isl: int
    osl: int
    best: tuple[Deployment, ...]  # every feasible (device, split) at its best concurrency
    front: tuple[Deployment, ...]  # by tokens/s per user, descending
    feasible: tuple[Deployment, ...]  # every feasible deployment at a power-of-two concurrency
    # or a split's best
    evaluated: int  # steady states evaluated
    binding: str  # "" when a deployment is feasible, else which constraint binds


def splits(max_devices: int, experts: bool) -> list[Parallelism]:
    """TP x PP x EP, powers of two, TP x PP <= max_devices, EP dividing TP (1 without
    experts)."""
    if type(max_devices) is not int or max_devices < 1:
        raise UsageError(f"--max-devices must be an integer >= 1, got {max_devices!r}")
    powers = [2**i for i in range(max_devices.bit_length()) if 2**i <= max_devices]
    out = []
    for tp in powers:
        for pp in powers:
            if tp * pp > max_devices:
                continue
            for ep in [e for e in powers if e <= tp and tp % e == 0] if experts else [1]:
                out.append(Parallelism(tp, pp, ep))
    return out


def plan(
    parser: BaseModelConfigParser,
    devices: Sequence[tuple[HardwareSpec, Efficiency]],
    targets: Targets,
    *,
    isl: int,
    osl: int,
    max_devices: int = 8,
    max_concurrency: int = MAX_PLAN_CONCURRENCY,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
    execution: Execution = Execution.FUSED,
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """The plan over `devices` (each with its efficiency parameters); see the module
    docstring. `progress(done, total)`, when given, hears how many of the (device, split)
    searches are done: before each, and once at the end."""
    if type(max_concurrency) is not int or max_concurrency < 1:
        raise UsageError(f"the plan's largest concurrency must be >= 1, got {max_concurrency!r}")
    check_serving(1, isl, osl, token_budget, memory_utilization)
    parser.check_context(isl + osl - 1)
    experts = _has_experts(parser)
    analyses = Analyses(parser)
    feasible: list[Deployment] = []
    best: list[Deployment] = []
    slowest = _Closest()
    evaluated = 0
    candidates = splits(max_devices, experts)
    done, total = 0, len(devices) * len(candidates)
    for hw, eff in devices:
        price = targets.price_per_gpu_hour or hw.price_per_gpu_hour
        for split in candidates:
            if progress is not None:
                progress(done, total)
            done += 1
            serve = _Server(
                parser,
                hw,
                eff,
                split,
                isl,
                osl,
                token_budget,
                memory_utilization,
                execution,
                analyses,
            )
            try:
                first = serve(1)
            except AnalyzerError:  # the split does not divide the model, or nothing fits
                continue
            evaluated += 1
            slowest.saw(first)
            if not targets.met_by(first):
                continue
            top = min(max_concurrency, first.max_concurrency)
            seen = {1: first}
            low, high = 1, top  # the largest feasible concurrency: feasible at low
            while low < high:
                mid = (low + high + 1) // 2
                seen[mid] = serve(mid)
                evaluated += 1
                low, high = (mid, high) if targets.met_by(seen[mid]) else (low, mid - 1)
            for c in (2**i for i in range(1, low.bit_length())):
                if c not in seen:
                    seen[c] = serve(c)
                    evaluated += 1
            for c, s in sorted(seen.items()):
                if (c == low or c & (c - 1) == 0) and c <= low and targets.met_by(s):
                    feasible.append(Deployment(s, split, price, targets.request_rate))
            best.append(Deployment(seen[low], split, price, targets.request_rate))
    if progress is not None:
        progress(total, total)
    best.sort(key=_rank)
    return Plan(
        targets,
        isl,
        osl,
        tuple(best),
        _pareto(feasible),
        tuple(feasible),
        evaluated,
        "" if best else slowest.binding(targets, max_devices),
    )


def _rank(d: Deployment) -> tuple[float, int, str]:
    """Best first: the most expected output tokens/s per GPU, then fewer devices, then name."""
    return (-d.serving.expected_output_tokens_per_s_per_gpu, d.devices, d.hardware.name)


def _pareto(deployments: Sequence[Deployment]) -> tuple[Deployment, ...]:
    """Those no other beats on both tokens/s per user and per GPU, fastest per user first."""
    ordered = sorted(
        deployments,
        key=lambda d: (
            -d.serving.expected_output_tokens_per_s_per_user,
            -d.serving.expected_output_tokens_per_s_per_gpu,
        ),
    )
    front: list[Deployment] = []
    for d in ordered:
        if not front or (
            d.serving.expected_output_tokens_per_s_per_gpu
            > front[-1].serving.expected_output_tokens_per_s_per_gpu
        ):
            front.append(d)
    return tuple(front)


@dataclass
class _Server:
    """Serving at concurrency c on one device kind and split."""

    parser: BaseModelConfigParser
    hw: HardwareSpec
    eff: Efficiency
    split: Parallelism
    isl: int
    osl: int
    token_budget: int
    memory_utilization: float
    execution: Execution
    analyses: Analyses

    def __call__(self, c: int) -> Serving:
        steady = SteadyState(
            self.parser,
            self.hw,
            c,
            self.isl,
            self.osl,
            self.split,
            self.token_budget,
            self.memory_utilization,
            self.analyses,
        )
        return steady.on(self.eff, self.execution)


class _Closest:
    """The best TTFT and TPOT any split reached at concurrency 1: which target binds."""

    def __init__(self) -> None:
        self.ttft: Serving | None = None
        self.tpot: Serving | None = None

    def saw(self, s: Serving) -> None:
        if self.ttft is None or s.expected_ttft_s < self.ttft.expected_ttft_s:
            self.ttft = s
        if self.tpot is None or s.expected_tpot_s < self.tpot.expected_tpot_s:
            self.tpot = s

    def binding(self, targets: Targets, max_devices: int) -> str:
        if self.ttft is None or self.tpot is None:
            return (
                f"memory: no split of up to {max_devices} devices holds the weights and one "
                "request's cache (raise --max-devices or use a smaller format)"
            )
        reasons = []
        if targets.ttft_s is not None and self.ttft.expected_ttft_s > targets.ttft_s:
            reasons.append(
                f"the TTFT target {targets.ttft_s:g} s (the fastest is "
                f"{self.ttft.expected_ttft_s:.3g} s, {_where(self.ttft)})"
            )
        if targets.tpot_s is not None and self.tpot.expected_tpot_s > targets.tpot_s:
            reasons.append(
                f"the TPOT target {targets.tpot_s:g} s (the fastest is "
                f"{self.tpot.expected_tpot_s:.3g} s, {_where(self.tpot)})"
            )
        if not reasons:
            reasons.append("the TTFT and TPOT targets together: no one split meets both")
        return " and ".join(reasons)


def _where(s: Serving) -> str:
    return f"{s.hardware.name} x {s.devices} at concurrency 1"


def _has_experts(parser: BaseModelConfigParser) -> bool:
    report = analyze(parser, QueryConfig.uniform(1, 0, 1))
    return any(row.routing is not None for stage in report.stages for row in stage.rows)
