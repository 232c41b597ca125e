"""The Python API: the same analysis as the CLI, for notebooks and scripts.

    from core import analyze_model, sweep

    analysis = analyze_model("meta-llama/Llama-3.1-8B", cached_tokens=[4096], input_tokens=[1],
                             batch_size=32, hardware=["H100-SXM5-80GB"])
    analysis.report.total.flops          # exact int
    analysis.hardware[0].step_time_s     # seconds
    print(analysis.render("table"))      # what the CLI prints

`model` is a config dict, a path to a config.json or its directory, or a hub name (bundled, or
fetched). Errors are `core.errors.AnalyzerError`s with one-line messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.base_parser import BaseModelConfigParser, TransformerMode
from core.errors import UsageError
from core.hardware.roofline import Execution, HardwareResult, default_efficiency, on_hardware
from core.hardware.sizing import Fit, smallest_fit
from core.hardware.specs import HardwareSpec, resolve_hardware
from core.layers.mla import MlaMode
from core.model.parallel import SINGLE_DEVICE, Parallelism
from core.model.queries import QueryConfig
from core.model.report import Report, analyze
from core.output.render import RENDERERS
from core.resolve import resolve_config

ModelSource = str | Path | Mapping[str, Any]
HardwareSource = str | Path | HardwareSpec


@dataclass(frozen=True)
class Analysis:
    """One analysed step: the report (rows, totals, storage, per device under parallelism) and,
    per hardware given, its times, bound, throughput and fit."""

    report: Report
    hardware: tuple[HardwareResult, ...] = ()
    fits: tuple[Fit | None, ...] = ()  # per hardware: the smallest split that holds the step

    def render(self, fmt: str = "table") -> str:
        """The CLI's output in `fmt` ("table", "json" or "csv")."""
        return RENDERERS[fmt](self.report, self.hardware, self.fits)


def load_model(
    model: ModelSource,
    *,
    weight_dtype: str | None = None,
    activation_dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    mla: str | MlaMode = MlaMode.AUTO,
    mode: str | TransformerMode = TransformerMode.Text,
) -> tuple[str, BaseModelConfigParser]:
    """(source label, parser): the config resolved, its parser picked from PARSER_REGISTRY by
    `model_type` and normalised once. Reuse the parser to analyse many batches fast."""
    from parsers import select_parser  # parsers import core: resolved at call time

    if isinstance(model, Mapping):
        source, config = "<config dict>", dict(model)
    else:
        resolved = resolve_config(str(model))
        source, config = resolved.source, resolved.config
    parser_cls = select_parser(config)
    parser = parser_cls(
        config,
        mode=TransformerMode(mode),
        weight_dtype=weight_dtype,
        activation_dtype=activation_dtype,
        kv_cache_dtype=kv_cache_dtype,
        mla=MlaMode(mla),
    )
    return source, parser


def resolve_devices(hardware: Iterable[HardwareSource]) -> list[HardwareSpec]:
    return [hw if isinstance(hw, HardwareSpec) else resolve_hardware(str(hw)) for hw in hardware]


def analyze_model(
    model: ModelSource,
    *,
    cached_tokens: Sequence[int] = (0,),
    input_tokens: Sequence[int] = (1,),
    batch_size: int | None = None,
    hardware: Iterable[HardwareSource] = (),
    execution: str | Execution = Execution.FUSED,
    find_smallest_fit: bool = False,
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
    expert_parallel: int = 1,
    weight_dtype: str | None = None,
    activation_dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    mla: str | MlaMode = MlaMode.AUTO,
    mode: str | TransformerMode = TransformerMode.Text,
    efficiency_profile: str | None = None,
    efficiency: Mapping[str, Any] | None = None,
) -> Analysis:
    """Analyse one step of a batch (per-query cached and input tokens, repeated to `batch_size`)
    of `model`, optionally on `hardware`, one device's share under the given parallelism. The
    formats, `mla` and `mode` are `load_model`'s; `efficiency_profile` and `efficiency` (parameter
    values) choose the expected estimate's parameters (core/hardware/efficiency.py)."""
    queries = QueryConfig.from_lists(cached_tokens, input_tokens, batch_size)
    parallel = Parallelism(tensor_parallel, pipeline_parallel, expert_parallel)
    devices = resolve_devices(hardware)
    source, parser = load_model(
        model,
        weight_dtype=weight_dtype,
        activation_dtype=activation_dtype,
        kv_cache_dtype=kv_cache_dtype,
        mla=mla,
        mode=mode,
    )
    report = analyze(parser, queries, parallel, source=source)
    execution = Execution(execution)
    results = tuple(
        on_hardware(report, hw, execution, default_efficiency(hw, efficiency_profile, efficiency))
        for hw in devices
    )
    fits: tuple[Fit | None, ...] = ()
    if find_smallest_fit:
        expert = parallel.ep > 1
        fits = tuple(
            smallest_fit(parser, queries, hw, execution=execution, expert_parallel=expert)
            for hw in devices
        )
    return Analysis(report, results, fits)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One point of a grid: a batch of identical queries on one device kind."""

    batch_size: int
    cached_tokens: int
    input_tokens: int
    flops: int
    memory_bytes: int | float  # the fullest device: weights + KV cache
    hardware: str | None = None
    step_time_s: float | None = None
    tokens_per_s: float | None = None
    bound: str | None = None
    fits: bool | None = None
    expected_step_time_s: float | None = None
    expected_tokens_per_s: float | None = None


def sweep(
    model: ModelSource | BaseModelConfigParser,
    *,
    batch_sizes: Sequence[int],
    cached_tokens: Sequence[int],
    input_tokens: int = 1,
    hardware: Iterable[HardwareSource] = (),
    execution: str | Execution = Execution.FUSED,
    parallel: Parallelism = SINGLE_DEVICE,
    efficiency_profile: str | None = None,
    efficiency: Mapping[str, Any] | None = None,
    **model_options: Any,
) -> list[Scenario]:
    """Every (batch size, cached tokens) pair: B queries of `cached` + `input_tokens` tokens,
    on each hardware (one Scenario per pair and device; one per pair without hardware). The
    figures are one `analyze` and `on_hardware` per pair's; core/hardware/grid.py gets them in
    closed form from a few analyses per context."""
    if not batch_sizes or not cached_tokens:
        raise UsageError("a sweep needs at least one batch size and one cached-token count")
    if isinstance(model, BaseModelConfigParser):
        parser = model
    else:
        parser = load_model(model, **model_options)[1]
    devices = resolve_devices(hardware)
    effs = [default_efficiency(hw, efficiency_profile, efficiency) for hw in devices]
    from core.hardware.grid import batch_curves  # numpy: loaded by grids only

    curves = batch_curves(
        parser,
        cached_tokens,
        input_tokens,
        batch_sizes,
        parallel,
        list(zip(devices, effs, strict=True)),
        Execution(execution),
    )
    scenarios = []
    for cached, curve in zip(cached_tokens, curves, strict=True):
        for i, batch in enumerate(batch_sizes):
            base = (batch, cached, input_tokens, curve.flops[i], float(curve.memory_bytes[i]))
            if not devices:
                scenarios.append(Scenario(*base))
            for hw, on in zip(devices, curve.devices, strict=True):
                scenarios.append(
                    Scenario(
                        *base,
                        hw.name,
                        on.step_time_s[i],
                        on.tokens_per_s[i],
                        on.bound[i],
                        on.fits[i],
                        on.expected_step_time_s[i],
                        on.expected_tokens_per_s[i],
                    )
                )
    return scenarios
