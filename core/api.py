"""The Python API: the same analysis as the CLI, for notebooks and scripts.

    from . import analyze_model, sweep

    analysis = analyze_model("meta-llama/Llama-3.1-8B", cached_tokens=[4096], input_tokens=[1],
                             batch_size=32, hardware=["H100-SXM5-80GB"])
    analysis.report.total.flops          # exact int
    analysis.hardware[0].step_time_s     # seconds
    print(analysis.render("table"))      # what the CLI prints

    # a 2048-token prompt, then 512 tokens: the whole generation; and serving at concurrency 64
    analyze_model(..., input_tokens=[2048], output_tokens=[512], hardware=[...]).generation[0]
    analyze_model(..., input_tokens=[2048], output_tokens=[512], concurrency=64,
                  hardware=[...]).serving[0].expected_tpot_s
    # the best deployments under latency targets
    plan_model("meta-llama/Llama-3.1-70B", input_tokens=2048, output_tokens=512,
               ttft_slo=2.0, tpot_slo=0.05).best[0]
    # the vision encoder of a multimodal model over 2 images, and images in a text prompt
    analyze_model("path/to/Qwen3-VL-8B", mode="vision", images=2, image_size=(1080, 1920))
    analyze_model("path/to/Qwen3-VL-8B", input_tokens=[200], images=2, hardware=[...]).vision

`model` is a config dict, a path to a config.json or its directory, or a hub name (bundled, or
fetched). Errors are `core.errors.AnalyzerError`s with one-line messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .base_parser import BaseModelConfigParser, TransformerMode
from .errors import UsageError, shown
from .hardware.execution import Execution
from .layers.mla import MlaMode
from .model.parallel import SINGLE_DEVICE, Parallelism
from .model.queries import QueryConfig
from .model.report import Report, analyze
from .output.units import json_number
from .resolve import resolve_config
from .serving.defaults import (
    DEFAULT_MEMORY_UTILIZATION,
    DEFAULT_TOKEN_BUDGET,
    MAX_PLAN_CONCURRENCY,
)

E = TypeVar("E", bound=Enum)

# Hardware, serving, the plan and the vision modules are imported by the calls that use them:
# a step without hardware does not load them (benchmarks/bench.py measures a CLI run).
if TYPE_CHECKING:
    from .hardware.efficiency import Efficiency
    from .hardware.roofline import HardwareResult
    from .hardware.sizing import Fit
    from .hardware.specs import HardwareSpec
    from .output.terminal import Display
    from .serving.generation import Generation
    from .serving.plan import Plan
    from .serving.serving import Serving
    from .vision.prompt import VisionPass
    from .vision.tower import VisionTower

ModelSource: TypeAlias = "str | Path | Mapping[str, Any]"
HardwareSource: TypeAlias = "str | Path | HardwareSpec"


@dataclass(frozen=True)
class Analysis:
    """One analysed step: the report (rows, totals, storage, per device under parallelism) and,
    per hardware given, its times, bound, throughput and fit."""

    report: Report
    hardware: tuple[HardwareResult, ...] = ()
    fits: tuple[Fit | None, ...] = ()  # per hardware: the smallest split that holds the step
    generation: tuple[Generation, ...] = ()  # per hardware, with output tokens
    serving: tuple[Serving, ...] = ()  # per hardware, with a concurrency
    vision: VisionPass | None = None  # the encoder's pass over a text prompt's images

    def render(self, fmt: str = "table", display: Display | None = None) -> str:
        """The CLI's output in `fmt` ("table", "json" or "csv"); a table fits `display`
        (core/output/terminal.py; default: complete, uncoloured)."""
        if fmt not in ("table", "json", "csv"):
            raise UsageError(f"render: unknown format {shown(fmt)} (formats: table, json, csv)")
        from .output.planning import render_analysis
        from .output.terminal import PLAIN

        return render_analysis(self, fmt, display or PLAIN)


def _choice(kind: type[E], value: Any, option: str) -> E:
    """`kind(value)` for an enum option, or one UsageError naming the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        raise UsageError(f"{option}: unknown value {shown(value)} (choices: {choices})") from None


def _config(model: ModelSource) -> tuple[str, dict[str, Any]]:
    """(source label, raw config) of a config dict, path or hub name."""
    if isinstance(model, Mapping):
        return "<config dict>", dict(model)
    if not isinstance(model, str | Path):
        raise TypeError(f"model must be a config dict, a path or a hub name, got {shown(model)}")
    resolved = resolve_config(str(model))
    return resolved.source, resolved.config


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
    `model_type` and normalised once. Reuse the parser to analyse many batches fast. The parser
    models the text decoder: `load_vision` gives the vision tower."""
    from ..parsers import select_parser  # parsers import core: resolved at call time

    if _choice(TransformerMode, mode, "--mode") is not TransformerMode.Text:
        raise UsageError(
            "this analyzes text steps (sweeps, plans); the vision tower is --mode vision's "
            "single analysis (analyze_model(mode='vision'), load_vision)"
        )
    source, config = _config(model)
    parser = select_parser(config)(
        config,
        weight_dtype=weight_dtype,
        activation_dtype=activation_dtype,
        kv_cache_dtype=kv_cache_dtype,
        mla=_choice(MlaMode, mla, "--mla"),
    )
    return source, parser


def load_vision(
    model: ModelSource, *, weight_dtype: str | None = None, activation_dtype: str | None = None
) -> tuple[str, VisionTower]:
    """(source label, vision tower): the config resolved, its tower picked from VISION_REGISTRY
    by `model_type` (a one-line error for a model without one) and normalised once."""
    from ..parsers.vision import select_vision

    source, config = _config(model)
    tower = select_vision(config)(
        config, weight_dtype=weight_dtype, activation_dtype=activation_dtype
    )
    return source, tower


def resolve_devices(hardware: Iterable[HardwareSource]) -> list[HardwareSpec]:
    """Catalog names, spec-file paths or specs (one alone, or several) as specs."""
    hardware = [hardware] if isinstance(hardware, str | Path) else list(hardware)
    if not hardware:
        return []
    from .hardware.specs import HardwareSpec, resolve_hardware

    return [hw if isinstance(hw, HardwareSpec) else resolve_hardware(str(hw)) for hw in hardware]


def analyze_model(
    model: ModelSource,
    *,
    cached_tokens: Sequence[int] = (0,),
    input_tokens: Sequence[int] = (1,),
    batch_size: int | None = None,
    hardware: Iterable[HardwareSource] = (),
    execution: str | Execution = "fused",
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
    output_tokens: Sequence[int] | None = None,
    concurrency: int | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    gpu_memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
    images: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> Analysis:
    """Analyse one step of a batch (per-query cached and input tokens, repeated to `batch_size`)
    of `model`, optionally on `hardware`, one device's share under the given parallelism. The
    formats and `mla` are `load_model`'s; `efficiency_profile` and `efficiency` (parameter
    values) choose the expected estimate's parameters (core/hardware/efficiency.py).

    `mode="vision"`: the vision encoder's pass (and projector) over `images` images (default 1)
    of `image_size` (height, width px; default the tower's native size) instead of a text step
    (core/vision/). In text mode, `images`: every query also brings that many images, whose
    tokens join its input and whose encoder pass precedes the step (`Analysis.vision`; with
    hardware the generation's time to first token includes it; core/vision/prompt.py).

    With `output_tokens` (one for all queries, or one per query) and hardware: the whole
    generation of the batch on each device (core/serving/generation.py). With `concurrency` too:
    serving `concurrency` clients of one query's input and output tokens (no cached tokens) on
    one replica of the split, a KV pool of `gpu_memory_utilization` of each device's memory and
    `token_budget` tokens per step (core/serving/serving.py)."""
    vision_mode = _choice(TransformerMode, mode, "--mode") is TransformerMode.Vision
    if vision_mode or images is not None or image_size is not None:
        from .model.images import check_image_request  # modules loaded only with images

        check_image_request(images, image_size)
    parallel = Parallelism(tensor_parallel, pipeline_parallel, expert_parallel)
    devices = resolve_devices(hardware)
    formats = {"weight_dtype": weight_dtype, "activation_dtype": activation_dtype}
    effs: list[Efficiency] = []
    execution = _choice(Execution, execution, "--execution")
    if devices:  # a step without hardware loads no hardware module
        from .hardware.roofline import default_efficiency

        effs = [default_efficiency(hw, efficiency_profile, efficiency) for hw in devices]
    if vision_mode:
        from .hardware.roofline import on_hardware
        from .hardware.sizing import smallest_fit
        from .model.images import ImageBatch

        if (tuple(cached_tokens), tuple(input_tokens), batch_size) != ((0,), (1,), None):
            raise UsageError(
                "vision mode analyzes images: give --images and --image-size, not token lists "
                "or --batch-size"
            )
        if output_tokens is not None or concurrency is not None:
            raise UsageError(
                "vision mode analyzes one encoder pass: --output-tokens and --concurrency are "
                "for text (images in a text prompt: --images in text mode)"
            )
        source, tower = load_vision(model, **formats)
        batch = ImageBatch(images or 1, tower.grid(image_size))
        encoder, queries = tower.encoder(batch.grid), batch.queries()
        report = analyze(encoder, queries, parallel, source, batch)
        results = tuple(
            on_hardware(report, hw, execution, eff) for hw, eff in zip(devices, effs, strict=True)
        )
        fits = tuple(
            smallest_fit(encoder, queries, hw, execution=execution)
            for hw in (devices if find_smallest_fit else ())
        )
        return Analysis(report, results, fits)
    if image_size is not None and images is None:
        raise UsageError("--image-size needs --images (or --mode vision)")
    queries = QueryConfig.from_lists(cached_tokens, input_tokens, batch_size)
    source, parser = load_model(
        model,
        weight_dtype=weight_dtype,
        activation_dtype=activation_dtype,
        kv_cache_dtype=kv_cache_dtype,
        mla=mla,
    )
    vision = None
    if images is not None:
        if concurrency is not None:
            raise UsageError(
                "--images with --concurrency is not modelled: serving takes text requests"
            )
        from ..parsers.vision import select_vision
        from .model.images import ImageBatch
        from .vision.prompt import encoder_pass, with_image_tokens

        tower = select_vision(parser.config)(parser.config, **formats)
        per_query = ImageBatch(images, tower.grid(image_size))
        every = ImageBatch(images * queries.num_queries, per_query.grid)
        vision = encoder_pass(
            tower, every, parallel, list(zip(devices, effs, strict=True)), execution, source
        )
        queries = with_image_tokens(queries, per_query)
        report = analyze(parser, queries, parallel, source, per_query)
    else:
        report = analyze(parser, queries, parallel, source=source)
    if (output_tokens is not None or concurrency is not None) and not devices:
        raise UsageError("--output-tokens and --concurrency need --hardware: they report times")
    if not devices and vision is None:
        return Analysis(report)
    from .hardware.roofline import on_hardware
    from .hardware.sizing import smallest_fit

    results = tuple(
        on_hardware(report, hw, execution, eff) for hw, eff in zip(devices, effs, strict=True)
    )
    fits: tuple[Fit | None, ...] = ()
    if find_smallest_fit:
        expert = parallel.ep > 1
        fits = tuple(
            smallest_fit(parser, queries, hw, execution=execution, expert_parallel=expert)
            for hw in devices
        )
    generation: tuple[Generation, ...] = ()
    serving: tuple[Serving, ...] = ()
    if concurrency is not None:
        from .serving.serving import serve

        isl, osl = _one_request(queries, output_tokens)
        serving = tuple(
            serve(
                parser,
                hw,
                eff,
                concurrency=concurrency,
                isl=isl,
                osl=osl,
                parallel=parallel,
                token_budget=token_budget,
                memory_utilization=gpu_memory_utilization,
                execution=execution,
            )
            for hw, eff in zip(devices, effs, strict=True)
        )
    elif output_tokens is not None:
        from .serving.generation import generate, requests

        batch = requests(queries, output_tokens)
        encoders = vision.hardware if vision is not None else [None] * len(devices)
        generation = tuple(
            generate(
                parser,
                batch,
                hw,
                eff,
                parallel,
                execution,
                (0.0, 0.0) if enc is None else (enc.latency_s, enc.expected_latency_s),
                0 if vision is None else vision.weight_bytes,
            )
            for hw, eff, enc in zip(devices, effs, encoders, strict=True)
        )
    return Analysis(report, results, fits, generation, serving, vision)


def _one_request(queries: QueryConfig, output_tokens: Sequence[int] | None) -> tuple[int, int]:
    """(input, output tokens) of the one request shape serving repeats."""
    if len(queries.groups) != 1 or queries.groups[0][0][0] != 0 or output_tokens is None:
        raise UsageError(
            "--concurrency serves one request shape: one --input-tokens value, no "
            "--cached-tokens, and one --output-tokens value"
        )
    if len(output_tokens) != 1:
        raise UsageError("--concurrency takes one --output-tokens value")
    return queries.groups[0][0][1], output_tokens[0]


def plan_model(
    model: ModelSource,
    *,
    input_tokens: int,
    output_tokens: int,
    hardware: Iterable[HardwareSource] = (),
    ttft_slo: float | None = None,
    tpot_slo: float | None = None,
    request_rate: float | None = None,
    price_per_gpu_hour: float | None = None,
    max_devices: int = 8,
    max_concurrency: int = MAX_PLAN_CONCURRENCY,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    gpu_memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
    execution: str | Execution = "fused",
    weight_dtype: str | None = None,
    activation_dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    mla: str | MlaMode = MlaMode.AUTO,
    efficiency_profile: str | None = None,
    efficiency: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """The deployments of `model` serving `input_tokens` / `output_tokens` requests that meet the
    targets, over `hardware` (default: the whole catalog), every split of up to `max_devices`
    devices and concurrencies 1 to `max_concurrency`, best first (core/serving/plan.py).
    `progress(done, total)` hears how many (device, split) searches are done."""
    from .hardware.roofline import default_efficiency
    from .hardware.specs import CATALOG
    from .serving.plan import Targets, plan

    targets = Targets(ttft_slo, tpot_slo, request_rate, price_per_gpu_hour)
    devices = resolve_devices(hardware) or list(CATALOG)
    _, parser = load_model(
        model,
        weight_dtype=weight_dtype,
        activation_dtype=activation_dtype,
        kv_cache_dtype=kv_cache_dtype,
        mla=mla,
    )
    return plan(
        parser,
        [(hw, default_efficiency(hw, efficiency_profile, efficiency)) for hw in devices],
        targets,
        isl=input_tokens,
        osl=output_tokens,
        max_devices=max_devices,
        max_concurrency=max_concurrency,
        token_budget=token_budget,
        memory_utilization=gpu_memory_utilization,
        execution=_choice(Execution, execution, "--execution"),
        progress=progress,
    )


# A sweep's scenarios, and its distinct contexts: a grid costs a few analyses per context (its
# batch sizes are lines, core/hardware/grid.py), so contexts bound its time (1,000 of DeepSeek-V3
# take about 2 s); scenarios bound its output.
MAX_SWEEP_POINTS = 100_000
MAX_SWEEP_CONTEXTS = 1_000


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
    execution: str | Execution = "fused",
    parallel: Parallelism = SINGLE_DEVICE,
    efficiency_profile: str | None = None,
    efficiency: Mapping[str, Any] | None = None,
    weight_dtype: str | None = None,
    activation_dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    mla: str | MlaMode = MlaMode.AUTO,
    mode: str | TransformerMode = TransformerMode.Text,
    progress: Callable[[int, int], None] | None = None,
) -> list[Scenario]:
    """Every (batch size, cached tokens) pair: B queries of `cached` + `input_tokens` tokens,
    on each hardware (one Scenario per pair and device; one per pair without hardware). The
    figures are one `analyze` and `on_hardware` per pair's; core/hardware/grid.py gets them in
    closed form from a few analyses per context. The formats, `mla` and `mode` are
    `load_model`'s; a parser passed as `model` carries its own and takes none of them.
    `progress(done, total)` hears how many contexts are done."""
    if not batch_sizes or not cached_tokens:
        raise UsageError("a sweep needs at least one batch size and one cached-token count")
    if len(cached_tokens) > MAX_SWEEP_CONTEXTS:  # each context is analysed: the costly axis
        raise UsageError(
            f"a sweep takes at most {MAX_SWEEP_CONTEXTS:,} cached-token counts "
            f"(got {len(cached_tokens):,}); batch sizes are cheap (up to {MAX_SWEEP_POINTS:,} "
            "scenarios in all)"
        )
    if len(batch_sizes) * len(cached_tokens) > MAX_SWEEP_POINTS:
        raise UsageError(f"a sweep has at most {MAX_SWEEP_POINTS:,} scenarios")
    options = {
        "weight_dtype": weight_dtype,
        "activation_dtype": activation_dtype,
        "kv_cache_dtype": kv_cache_dtype,
        "mla": _choice(MlaMode, mla, "--mla"),
        "mode": _choice(TransformerMode, mode, "--mode"),
    }
    if isinstance(model, BaseModelConfigParser):
        defaults = {"mla": MlaMode.AUTO, "mode": TransformerMode.Text}
        given = [key for key, value in options.items() if value != defaults.get(key)]
        if given:
            raise UsageError(
                f"sweep: a parser carries its own formats and modes; give {', '.join(given)} "
                "to load_model instead"
            )
        parser = model
    else:
        parser = load_model(model, **options)[1]
    from .hardware.grid import batch_curves  # numpy: loaded by grids only
    from .hardware.roofline import default_efficiency

    devices = resolve_devices(hardware)
    effs = [default_efficiency(hw, efficiency_profile, efficiency) for hw in devices]

    curves = batch_curves(
        parser,
        cached_tokens,
        input_tokens,
        batch_sizes,
        parallel,
        list(zip(devices, effs, strict=True)),
        _choice(Execution, execution, "--execution"),
        progress,
    )
    scenarios = []
    for cached, curve in zip(cached_tokens, curves, strict=True):
        for i, batch in enumerate(batch_sizes):
            base = (batch, cached, input_tokens, curve.flops[i], json_number(curve.memory_bytes[i]))
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
