#!/usr/bin/env python3
"""Fit and check the efficiency model (core/hardware/efficiency.py) on published measurements.

The measurements (tools/calibration/*.csv, copied with their sources from the team's calibration
data; tools/calibration/README.md says what each column means) are turned into the tool's own
scenarios: a time to first token is a prefill step; a time per output token of a static batch
is a decode step at the middle of the generation; a generate call's tokens/s is its prefill and
its decode steps; a static batch's throughput is the batch's total latency. Each is predicted
with the expected estimate (the same `time_row` the CLI uses) and compared with the measurement.

    .venv/bin/python tools/calibrate.py                 # the error of the committed parameters
    .venv/bin/python tools/calibrate.py --fit --write   # refit and rewrite efficiency.json
    .venv/bin/python tools/calibrate.py --cv            # leave-one-source-out cross-validation
    .venv/bin/python tools/calibrate.py --plot docs/calibration.png

Points a step model cannot represent are listed as excluded with the reason (serving at a
concurrency and throughput ceilings need the serving model; speculative decoding and attention
data parallelism are not modelled).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformer_roofline.core.api import load_model  # noqa: E402
from transformer_roofline.core.base_parser import BaseModelConfigParser  # noqa: E402
from transformer_roofline.core.errors import AnalyzerError  # noqa: E402
from transformer_roofline.core.hardware.efficiency import (  # noqa: E402
    DATA,
    IDEAL,
    Efficiency,
    efficiency_for,
)
from transformer_roofline.core.hardware.roofline import Execution, time_row  # noqa: E402
from transformer_roofline.core.hardware.specs import HardwareSpec, resolve_hardware  # noqa: E402
from transformer_roofline.core.model.parallel import Parallelism  # noqa: E402
from transformer_roofline.core.model.queries import QueryConfig  # noqa: E402
from transformer_roofline.core.model.report import analyze  # noqa: E402
from transformer_roofline.core.serving.serving import Serving, SteadyState  # noqa: E402

DATA_DIR = ROOT / "tools" / "calibration"
OLD, NEW = "engines-2023", "serving-2025"
# Decode steps of a generation are sampled at this many contexts and averaged: a decode step's
# cost is linear in the context within each piece, so a few samples give the mean closely.
SAMPLES = 5


@dataclass
class Step:
    """One step of a scenario, its rows ready to time."""

    rows: tuple[Any, ...]
    hw: HardwareSpec

    def expected(self, eff: Efficiency) -> float:
        busy = sum(
            time_row(row, self.hw, Execution.FUSED, eff).expected_s * row.blocks
            for row in self.rows
        )
        return busy + eff.step_overhead_s

    def ideal(self) -> float:
        return sum(time_row(row, self.hw, Execution.FUSED).time_s * row.blocks for row in self.rows)


@dataclass
class Point:
    id: str
    source: str
    engine: str
    profile: str
    family: str
    metric: str
    measured_s: float  # the measurement as a time (s, or s per token for a slope)
    terms: list[tuple[float, Step]] = field(default_factory=list)  # prediction = sum w * t
    requests: float = 0.0  # requests whose admission the measured time includes
    prompt_tokens: float = 0.0  # the prompt tokens those requests bring
    steady: SteadyState | None = None  # serving at a concurrency: the quantity below of it
    quantity: str = ""
    excluded: str = ""

    def predict(self, eff: Efficiency) -> float:
        if self.steady is not None:
            return _serving_quantity(self.steady.on(eff), self.quantity, expected=True)
        steps = sum(w * step.expected(eff) for w, step in self.terms)
        admission = self.requests * eff.request_overhead_s
        return steps + admission + self.prompt_tokens * eff.prompt_token_overhead_s

    def ideal(self) -> float:
        if self.steady is not None:
            return _serving_quantity(self.steady.on(IDEAL), self.quantity, expected=False)
        return sum(w * step.ideal() for w, step in self.terms)


def _serving_quantity(s: Serving, quantity: str, *, expected: bool) -> float:
    """A serving figure as a time: TTFT, TPOT, or seconds per output (or total) token."""
    if quantity == "ttft":
        return s.expected_ttft_s if expected else s.ttft_s
    if quantity == "tpot":
        return s.expected_tpot_s if expected else s.tpot_s
    rate = s.expected_requests_per_s if expected else s.requests_per_s
    tokens = s.osl if quantity == "output" else s.isl + s.osl
    return 1 / (rate * tokens)


_PARSERS: dict[tuple[str, tuple[tuple[str, str], ...]], BaseModelConfigParser] = {}


def _parser(model: str, formats: dict[str, str]) -> BaseModelConfigParser:
    key = (model, tuple(sorted(formats.items())))
    if key not in _PARSERS:
        _PARSERS[key] = load_model(model, **formats)[1]
    return _PARSERS[key]


def _step(parser, hw, tp: int, ep: int, batch: int, cached: int, new: int) -> Step:
    report = analyze(parser, QueryConfig.uniform(batch, cached, new), Parallelism(tp, 1, ep))
    return Step(report.stages[0].rows, hw)


def _generation(parser, hw, tp, ep, batch, isl, osl) -> list[tuple[float, Step]]:
    """The prefill of `batch` prompts and the osl - 1 decode steps after it (sampled)."""
    terms = [(1.0, _step(parser, hw, tp, ep, batch, 0, isl))]
    if osl > 1:
        for i in range(SAMPLES):
            context = isl + round((i + 0.5) * (osl - 1) / SAMPLES)
            terms.append(((osl - 1) / SAMPLES, _step(parser, hw, tp, ep, batch, context - 1, 1)))
    return terms


_FORMAT = {
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp8": "fp8",
    "int8": "int8",
    "int4": "int4",
    "fp4": "nvfp4",
}


def _formats(r: dict[str, str]) -> dict[str, str]:
    """The run's formats as analyze_model options. "config" (and a checkpoint's own quantization
    such as gpt-oss's mxfp4 experts) keeps the config's. Where the source does not state the
    activation format of an fp8 or fp4 checkpoint, the GEMMs run fp8 activations (W8A8 / W4A8:
    how TensorRT-LLM and vLLM serve them); where it does not state the KV-cache format of such a
    checkpoint on a TensorRT-LLM engine (NIM included), the cache is fp8, as TensorRT-LLM's fp8
    quantization sets it (its perf-overview says so)."""
    weight, activation, kv = r["weight_dtype"], r["activation_dtype"], r["kv_cache_dtype"]
    words = {k: v.split()[0].strip("(),") for k, v in (("w", weight), ("a", activation), ("k", kv))}
    out = {}
    if words["w"] in _FORMAT and "experts" not in weight:
        out["weight_dtype"] = _FORMAT[words["w"]]
    if words["a"] in ("fp8", "bf16", "fp16") and "experts" not in weight:
        out["activation_dtype"] = _FORMAT[words["a"]]
    elif words["w"] in ("fp8", "fp4"):
        out["activation_dtype"] = "fp8"
    if words["k"] in ("fp8", "bf16", "fp16"):
        out["kv_cache_dtype"] = _FORMAT[words["k"]]
    elif words["w"] in ("fp8", "fp4") and any(e in r["engine"] for e in ("tensorrt", "NIM")):
        out["kv_cache_dtype"] = "fp8"
    return out


def load_points() -> list[Point]:
    return [*_measurements(), *_serving()]


def _measurements() -> Iterable[Point]:
    """measurements.csv: 2023 engines; every point is a step or a static generation."""
    for r in csv.DictReader((DATA_DIR / "measurements.csv").open()):
        hw = resolve_hardware(r["hardware"])
        parser = _parser(r["model"], _formats(r))
        tp, b = int(r["tensor_parallel"]), int(r["batch_size"])
        isl, osl, value = int(r["input_len"]), int(r["output_len"]), float(r["value"])
        point = Point(r["id"], r["source"], r["engine"], OLD, hw.family or "", r["metric"], 0.0)
        metric = r["metric"]
        if metric in ("ttft_s", "ttft_mean_s"):
            point.measured_s, point.terms = value, [(1.0, _step(parser, hw, tp, 1, b, 0, isl))]
            point.requests, point.prompt_tokens = 1, b * isl
        elif metric == "tpot_p50_s":  # the median step of a static batch: the middle context
            step = _step(parser, hw, tp, 1, b, isl + osl // 2 - 1, 1)
            point.measured_s, point.terms = value, [(1.0, step)]
        elif metric == "output_tokens_per_s":  # one generate call: its time per output token
            point.measured_s = 1 / value
            point.terms = [(w / osl, s) for w, s in _generation(parser, hw, tp, 1, b, isl, osl)]
            point.requests, point.prompt_tokens = 1 / osl, b * isl / osl
        elif metric == "output_tokens_per_s_per_gpu":  # a static batch's total latency
            point.measured_s = b * osl / (value * tp)
            point.terms = _generation(parser, hw, tp, 1, b, isl, osl)
            point.requests, point.prompt_tokens = 1, b * isl
        else:
            point.excluded = f"metric {metric} not mapped"
        yield point


def _serving() -> Iterable[Point]:
    """serving-measurements.csv: 2025-26 engines. Steps at concurrency 1 and static batches are
    steps; so is LLMPerf's "batch size": its clients start at once with equal lengths and stay in
    step, a static batch. Serving at a concurrency and throughput ceilings go through the serving
    model (core/serving/serving.py)."""
    for r in csv.DictReader((DATA_DIR / "serving-measurements.csv").open()):
        point = Point(r["id"], r["source"], r["engine"], NEW, "", r["metric"], 0.0)
        concurrency = r["concurrency_or_batch"]
        notes, metric = r["notes"], r["metric"]
        if "SPECULATIVE DECODING ON" in notes.upper() or "MTP with" in notes:
            point.excluded = "speculative decoding (MTP) is not modelled"
        elif r["data_parallel"] not in ("1",):
            point.excluded = "attention data parallelism is not modelled"
        if point.excluded:
            yield point
            continue
        lockstep = "LLMPerf" in r["batch_kind"]  # its clients start at once, equal lengths
        if not concurrency.isdigit() or (int(concurrency) != 1 and not lockstep):
            yield _served(point, r)
            continue
        batch = int(concurrency)
        hw = resolve_hardware(r["hardware"])
        point.family = hw.family or ""
        ep = r["expert_parallel"]
        ep_n = int(ep) if ep.isdigit() else 1
        parser = _parser(r["model"], _formats(r))
        tp = int(r["tensor_parallel"])
        isl = int(r["input_len"]) if r["input_len"].isdigit() else 0
        osl = int(r["output_len"]) if r["output_len"].isdigit() else 1
        value = float(r["value"])
        if metric == "ttft_s":
            point.measured_s, point.terms = value, [
                (1.0, _step(parser, hw, tp, ep_n, batch, 0, isl))
            ]
            point.requests, point.prompt_tokens = 1, batch * isl
        elif metric == "itl_s" and "sweep" in r["batch_kind"]:  # the fit's intercept: no context
            point.measured_s, point.terms = value, [(1.0, _step(parser, hw, tp, ep_n, batch, 0, 1))]
        elif metric == "itl_s":  # a step at the middle of the generation
            step = _step(parser, hw, tp, ep_n, batch, isl + osl // 2 - 1, 1)
            point.measured_s, point.terms = value, [(1.0, step)]
        elif metric == "itl_slope_s_per_token":  # seconds per token of context, per step
            a = _step(parser, hw, tp, ep_n, batch, 1_000, 1)
            b = _step(parser, hw, tp, ep_n, batch, 101_000, 1)
            point.measured_s, point.terms = value, [(-1e-5, a), (1e-5, b)]
        elif metric == "output_tokens_per_s_per_user":  # a static batch of 1: mean decode step
            point.measured_s = 1 / value
            point.terms = [
                (w / (osl - 1), s)
                for w, s in _generation(parser, hw, tp, ep_n, batch, isl, osl)[1:]
            ]
        else:
            point.excluded = f"metric {metric} not mapped"
        yield point


_SERVED = {
    "ttft_s": "ttft",
    "itl_s": "tpot",
    "tpot_s": "tpot",
    "output_tokens_per_s": "output",
    "total_tokens_per_s": "total",
}


def _served(point: Point, r: dict[str, str]) -> Point:
    """A point of serving at a concurrency (closed-loop clients), or an offline throughput
    ceiling (every request queued at once: as many as the KV pool holds run, at TensorRT-LLM's
    kv_cache_free_gpu_mem_fraction 0.95)."""
    if r["metric"] not in _SERVED:
        point.excluded = f"serving metric {r['metric']} not mapped"
        return point
    offline = "offline" in r["batch_kind"]
    concurrency = 100_000 if offline else int(r["concurrency_or_batch"])
    hw = resolve_hardware(r["hardware"])
    point.family = hw.family or ""
    parser = _parser(r["model"], _formats(r))
    ep = r["expert_parallel"]
    parallel = Parallelism(int(r["tensor_parallel"]), 1, int(ep) if ep.isdigit() else 1)
    try:
        point.steady = SteadyState(
            parser,
            hw,
            concurrency,
            int(r["input_len"]),
            int(r["output_len"]),
            parallel,
            memory_utilization=0.95 if offline else 0.9,
        )
    except AnalyzerError as exc:
        point.excluded = f"the scenario does not run: {exc}"
        return point
    point.quantity = _SERVED[r["metric"]]
    value = float(r["value"])
    if point.quantity in ("ttft", "tpot"):
        point.measured_s = value
    else:
        point.measured_s = 1 / value  # seconds per (output or total) token of the system
    return point


# --- errors -------------------------------------------------------------------------------------


def errors(points: Sequence[Point], effs: dict[tuple[str, str], Efficiency]) -> list[float]:
    """pred / measured - 1 per point."""
    return [p.predict(effs[(p.profile, p.family)]) / p.measured_s - 1 for p in points]


def summary(errs: Sequence[float]) -> tuple[float, float]:
    """(median |error|, worst factor max(pred/meas, meas/pred))."""
    med = statistics.median(abs(e) for e in errs)
    worst = max(max(1 + e, 1 / (1 + e)) for e in errs)
    return med, worst


def efficiencies(points: Sequence[Point], data: dict[str, Any] | None = None):
    keys = {(p.profile, p.family) for p in points}
    if data is None:
        return {key: efficiency_for(*key) for key in keys}
    return {key: _from_data(data, *key) for key in keys}


def _from_data(data: dict[str, Any], profile: str, family: str) -> Efficiency:
    entry = data["profiles"][profile]
    eff = replace(Efficiency(), profile=profile).with_values(entry["parameters"], profile)
    fam = entry.get("families", {}).get(family)
    return eff.with_values(fam, profile) if fam else eff


# --- fitting ------------------------------------------------------------------------------------

# The fitted parameters: (path in a profile's entry, prior value, physical range). Each is fitted
# on a logistic scale inside its range (a log scale for times), with a weak prior pulling it
# toward the physical default: parameters stay meaningful, not just whatever fits best.
Range = tuple[float, float]

# The starting point of every fit, and the value of what the data cannot pin down (a format no
# point of a profile uses keeps its prior): typical figures of current engines.
PRIORS: dict[str, Any] = {
    "bandwidth": 0.8,
    "dequant": {"int8": 0.8, "int4": 0.7, "fp4": 0.8, "fp8": 0.9},
    "gemm": {"bf16": 0.7, "fp16": 0.7, "fp8": 0.55, "fp4": 0.5, "int8": 0.6},
    "gemm_half_rows": 32,
    "attention": 0.5,
    "kernel_launch_s": 3e-06,
    "step_overhead_s": 0.001,
    "request_overhead_s": 0.005,
    "prompt_token_overhead_s": 1e-06,
    "collective_latency_s": 1.5e-05,
    "interconnect": 0.8,
}


def _parameters(
    points: Sequence[Point], profile: str
) -> list[tuple[tuple[str, ...], float, Range]]:
    families = sorted({p.family for p in points if p.profile == profile})
    params: list[tuple[tuple[str, ...], float, Range]] = [
        (("parameters", "gemm", "bf16"), PRIORS["gemm"]["bf16"], (0.35, 0.95)),  # = fp16 rate
        (("parameters", "gemm", "fp8"), PRIORS["gemm"]["fp8"], (0.25, 0.95)),
        (("parameters", "gemm_half_rows"), PRIORS["gemm_half_rows"], (8.0, 64.0)),  # MMA tile
        (("parameters", "attention"), PRIORS["attention"], (0.2, 0.9)),
        (("parameters", "kernel_launch_s"), PRIORS["kernel_launch_s"], (5e-7, 3e-5)),
        (("parameters", "step_overhead_s"), PRIORS["step_overhead_s"], (1e-5, 2e-2)),
        (("parameters", "request_overhead_s"), PRIORS["request_overhead_s"], (1e-4, 2e-1)),
        (
            ("parameters", "prompt_token_overhead_s"),
            PRIORS["prompt_token_overhead_s"],
            (1e-8, 2e-5),
        ),
        (("parameters", "collective_latency_s"), PRIORS["collective_latency_s"], (2e-6, 1e-4)),
    ]
    params += [(("families", f, "bandwidth"), PRIORS["bandwidth"], (0.5, 0.95)) for f in families]
    formats = _dequant_classes(points, profile)
    params += [(("parameters", "dequant", c), PRIORS["dequant"][c], (0.3, 1.0)) for c in formats]
    return params


def _dequant_classes(points: Sequence[Point], profile: str) -> list[str]:
    classes = set()
    for p in points:
        if p.profile != profile:
            continue
        for _, step in p.terms:
            for row in step.rows:
                if row.weight_peak and row.weight_peak != row.peak:
                    classes.add(row.weight_peak)
    return sorted(classes)


def _encode(value: float, bounds: Range) -> float:
    """The unbounded coordinate of `value` in (lo, hi): logistic on a log scale."""
    lo, hi = (math.log(b) for b in bounds)
    t = (math.log(value) - lo) / (hi - lo)
    t = min(max(t, 1e-6), 1 - 1e-6)
    return math.log(t / (1 - t))


def _decode(x: float, bounds: Range) -> float:
    lo, hi = (math.log(b) for b in bounds)
    return math.exp(lo + (hi - lo) / (1 + math.exp(-x)))


def _set(data: dict[str, Any], profile: str, path: tuple[str, ...], value: float) -> None:
    node = data["profiles"][profile]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    if path[-2:] == ("gemm", "bf16"):
        node["fp16"] = value  # one 16-bit tensor-core rate


def _get(data: dict[str, Any], profile: str, path: tuple[str, ...], default: float) -> float:
    node = data["profiles"][profile]
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return float(node)


def fit(points: Sequence[Point], data: dict[str, Any], profile: str, sweeps: int = 4) -> None:
    """Fit `profile`'s parameters in `data` on `points`: coordinate descent of a robust loss
    (Huber on log(predicted / measured), each source weighing as the square root of its points)
    plus a weak prior toward each parameter's physical default."""
    mine = [p for p in points if p.profile == profile]
    params = _parameters(mine, profile)
    entry = data["profiles"][profile]
    entry["parameters"] = json.loads(json.dumps(PRIORS))  # every fit starts from the priors
    entry["families"] = {}
    xs = [_encode(_get(data, profile, path, prior), bounds) for path, prior, bounds in params]
    priors = [_encode(prior, bounds) for _, prior, bounds in params]

    per_source: dict[str, int] = {}
    for p in mine:
        per_source[p.source] = per_source.get(p.source, 0) + 1
    weights = [1 / math.sqrt(per_source[p.source]) for p in mine]  # no source dominates

    def loss(values: list[float]) -> float:
        for (path, _, bounds), x in zip(params, values, strict=True):
            _set(data, profile, path, float(f"{_decode(x, bounds):.4g}"))
        effs = {(profile, p.family): _from_data(data, profile, p.family) for p in mine}
        total = 0.0
        for p, weight in zip(mine, weights, strict=True):
            r = abs(math.log(p.predict(effs[(profile, p.family)]) / p.measured_s))
            total += weight * (r * r / 2 if r < 0.2 else 0.2 * (r - 0.1))
        return total + 0.01 * sum((x - m) ** 2 for x, m in zip(values, priors, strict=True))

    best = loss(xs)
    for _ in range(sweeps):
        for i in range(len(xs)):
            xs[i], best = _line_search(lambda v, i=i: loss([*xs[:i], v, *xs[i + 1 :]]), xs[i], best)
    loss(xs)  # leave the best values in `data`


def _line_search(f: Callable[[float], float], x: float, fx: float) -> tuple[float, float]:
    """A 1-D minimum near `x`: probe steps of shrinking size, keep what improves."""
    step = 1.0
    while step > 0.02:
        improved = False
        for candidate in (x - step, x + step):
            fc = f(candidate)
            if fc < fx:
                x, fx, improved = candidate, fc, True
                break
        if not improved:
            step /= 2
    return x, fx


# --- the script ---------------------------------------------------------------------------------


def _table(points: Sequence[Point], errs: Sequence[float]) -> str:
    lines = [
        f"{'id':<11} {'engine':<22} {'metric':<28} {'measured':>11} {'expected':>11} "
        f"{'ideal':>11} {'error':>7}"
    ]
    for p, e in zip(points, errs, strict=True):
        pred = p.measured_s * (1 + e)
        lines.append(
            f"{p.id:<11} {p.engine[:22]:<22} {p.metric[:28]:<28} {p.measured_s:>11.4g} "
            f"{pred:>11.4g} {p.ideal():>11.4g} {e:>+7.1%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--fit", action="store_true", help="refit the parameters")
    args.add_argument("--write", action="store_true", help="with --fit: rewrite efficiency.json")
    args.add_argument("--cv", action="store_true", help="leave-one-source-out cross-validation")
    args.add_argument("--plot", type=Path, help="predicted vs measured chart (png/svg)")
    opts = args.parse_args(argv)
    everything = load_points()
    points = [p for p in everything if not p.excluded]
    data = json.loads(DATA.read_text())
    if opts.fit:
        for profile in (OLD, NEW):
            fit(points, data, profile)
    errs = errors(points, efficiencies(points, data))
    print(_table(points, errs))
    for profile in (OLD, NEW, None):
        chosen = [e for p, e in zip(points, errs, strict=True) if profile in (None, p.profile)]
        ideal = [p.ideal() / p.measured_s - 1 for p in points if profile in (None, p.profile)]
        med, worst = summary(chosen)
        print(
            f"{profile or 'all':<13} {len(chosen):3} points: expected median error {med:.1%}, "
            f"worst {worst:.2f}x; ideal roofline median error {summary(ideal)[0]:.1%}"
        )
    excluded = [p for p in everything if p.excluded]
    reasons: dict[str, int] = {}
    for p in excluded:
        reasons[p.excluded] = reasons.get(p.excluded, 0) + 1
    for reason, n in sorted(reasons.items()):
        print(f"excluded {n:3}: {reason}")
    held_out: dict[str, tuple[float, float]] = {}
    if opts.cv:
        text, held_out = cross_validate(points, data)
        print(text)
    if opts.fit and opts.write:
        for profile in (OLD, NEW):
            record_fit(data, profile, points, errs, held_out.get(profile))
        DATA.write_text(json.dumps(data, indent=2) + "\n")
    if opts.plot:
        plot(points, errs, opts.plot)
    return 0


def cross_validate(
    points: Sequence[Point], data: dict[str, Any]
) -> tuple[str, dict[str, tuple[float, float]]]:
    """Leave one source out: refit on the other sources, predict the held-out source's points.
    Returns the report and, per profile, (median, worst) of the held-out errors."""
    lines: list[str] = []
    held: list[tuple[Point, float]] = []
    for source in sorted({p.source for p in points}):
        train = [p for p in points if p.source != source]
        test = [p for p in points if p.source == source]
        trial = json.loads(json.dumps(data))
        for profile in {p.profile for p in test}:
            fit(train, trial, profile, sweeps=2)
        errs = errors(test, efficiencies(test, trial))
        held += list(zip(test, errs, strict=True))
        lines.append(f"  {source[:70]:<70} {len(test):3} points, median {summary(errs)[0]:.1%}")
    by_profile = {
        profile: summary([e for p, e in held if p.profile == profile])
        for profile in {p.profile for p, _ in held}
    }
    med, worst = summary([e for _, e in held])
    lines.append(f"  all held out: median {med:.1%}, worst {worst:.2f}x")
    for profile, (pmed, pworst) in sorted(by_profile.items()):
        lines.append(f"  {profile}: median {pmed:.1%}, worst {pworst:.2f}x")
    return "\n".join(["leave-one-source-out:", *lines]), by_profile


def record_fit(
    data: dict[str, Any],
    profile: str,
    points: Sequence[Point],
    errs: Sequence[float],
    held_out: tuple[float, float] | None,
) -> None:
    """What `profile` was fitted on and how far off it is, beside its parameters."""
    mine = [(p, e) for p, e in zip(points, errs, strict=True) if p.profile == profile]
    med, worst = summary([e for _, e in mine])
    fitted = _parameters([p for p, _ in mine], profile)
    data["profiles"][profile]["fit"] = {
        "points": len(mine),
        "sources": sorted({p.source for p, _ in mine}),
        "fitted": [".".join(path[1:]) for path, _, _ in fitted],
        "median_error": round(med, 4),
        "worst_factor": round(worst, 3),
        **({"leave_one_source_out_median_error": round(held_out[0], 4)} if held_out else {}),
    }


def plot(points: Sequence[Point], errs: Sequence[float], path: Path) -> None:
    """Predicted / measured against the measured time, for both estimates (the context slopes,
    seconds per token, are left out of the chart's time axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=150)
    timed = [(p, e) for p, e in zip(points, errs, strict=True) if "slope" not in p.metric]
    for profile, marker, color in ((OLD, "o", "#1f77b4"), (NEW, "s", "#d62728")):
        chosen = [(p, e) for p, e in timed if p.profile == profile]
        meas = [p.measured_s for p, _ in chosen]
        ax.scatter(
            meas,
            [1 + e for _, e in chosen],
            marker=marker,
            color=color,
            zorder=3,
            label=f"expected, {profile} profile",
        )
        ax.scatter(
            meas,
            [p.ideal() / p.measured_s for p, _ in chosen],
            marker=marker,
            facecolors="none",
            edgecolors=color,
            alpha=0.6,
            zorder=2,
            label=f"ideal roofline, {profile} points",
        )
    ax.axhline(1, color="black", lw=1)
    for level in (0.5, 2):
        ax.axhline(level, color="black", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.04, 3)
    ax.set_xlabel(
        "measured time (s): TTFT, TPOT, a generation's total, a server's time per output token"
    )
    ax.set_ylabel("predicted / measured")
    ax.set_title("Both estimates against published measurements (dotted: 2x off)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
