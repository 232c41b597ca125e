"""Scenario grids in closed form (core/hardware/grid.py) equal one analysis and one timing per
point: exact ints, floats within 1e-9, the same bound and fit, for every kind of model, split,
format and efficiency source."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

import transformer_roofline.core.hardware.grid as grid
from transformer_roofline.core import ops
from transformer_roofline.core.api import Scenario, load_model, resolve_devices, sweep
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import Execution, default_efficiency, on_hardware
from transformer_roofline.core.model.parallel import SINGLE_DEVICE, Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze

CONFIGS = ROOT / "tests" / "end-to-end" / "configs"
BATCHES = (1, 2, 3, 7, 64, 1000)
CONTEXTS = (0, 1, 100, 4095, 4096, 70_000)  # across the 4096-token windows of Gemma 2


def reference(
    parser: Any,
    batches: Sequence[int],
    contexts: Sequence[int],
    hardware: Sequence[Any],
    *,
    new: int = 1,
    parallel: Parallelism = SINGLE_DEVICE,
    execution: Execution = Execution.FUSED,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[tuple]:
    """The definition of a grid, written out: every point analysed and timed on its own."""
    devices = resolve_devices(hardware)
    points = []
    for cached in contexts:
        for batch in batches:
            report = analyze(parser, QueryConfig.uniform(batch, cached, new), parallel)
            timed = [
                on_hardware(report, hw, execution, default_efficiency(hw, profile, overrides))
                for hw in devices
            ]
            # FLOPs of the stage every view shows: the first device's busiest, else the most
            shown = (
                report.stages[timed[0].stage]
                if timed
                else max(report.stages, key=lambda stage: stage.total.flops)
            )
            held = report.device_memory_bytes  # an int when whole, as JSON and CSV print it
            base = (
                batch,
                cached,
                new,
                shown.total.flops,
                int(held) if held == int(held) else float(held),
            )
            for hw, r in zip(devices, timed, strict=True):
                points.append(
                    (
                        *base,
                        hw.name,
                        r.step_time_s,
                        r.tokens_per_s,
                        r.bound,
                        r.fits,
                        r.expected_step_time_s,
                        r.expected_tokens_per_s,
                    )
                )
    return points


def assert_same(scenarios: list[Scenario], points: list[tuple]) -> None:
    assert len(scenarios) == len(points)
    for scenario, point in zip(scenarios, points, strict=True):
        for name, expected in zip(Scenario.__slots__, point, strict=True):
            actual = getattr(scenario, name)
            where = f"{name} at {point[:3]} on {point[5]}: {actual!r} != {expected!r}"
            assert type(actual) is type(expected), where
            if isinstance(expected, float):
                assert math.isclose(actual, expected, rel_tol=1e-9), where
            else:
                assert actual == expected, where


@pytest.fixture
def closed_form_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail where a context would be computed point by point: the closed form must hold."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the grid fell back to one analysis per point")

    monkeypatch.setattr(grid, "per_point", refuse)


@dataclass(frozen=True)
class Case:
    model: str
    new: int = 1
    parallel: Parallelism = SINGLE_DEVICE
    execution: Execution = Execution.FUSED
    hardware: tuple[str, ...] = ("H100-SXM5-80GB",)
    options: dict[str, str] = field(default_factory=dict)  # load_model's formats
    profile: str | None = None
    overrides: dict[str, float] | None = None
    batches: tuple[int, ...] = BATCHES
    contexts: tuple[int, ...] = CONTEXTS


TINY_NEMOTRON_H, QWEN3_5_MOE = str(CONFIGS / "tiny-nemotron-h"), str(CONFIGS / "qwen3_5_moe")
CASES = {
    "llama, two devices, fits and not": Case(
        "meta-llama/Llama-3.1-8B", hardware=("H100-SXM5-80GB", "L4-24GB")
    ),
    "llama, eager, 300 new tokens per query": Case(
        "meta-llama/Llama-3.1-8B", new=300, execution=Execution.EAGER
    ),
    "mixtral, TP 4 x EP 4 (all-to-all)": Case(
        "mistralai/Mixtral-8x7B-v0.1", parallel=Parallelism(4, 1, 4)
    ),
    "qwen3-moe, TP 2 x PP 2, mixed step": Case(
        "Qwen/Qwen3-30B-A3B", new=7, parallel=Parallelism(2, 2)
    ),
    "gemma-2, sliding windows, eager": Case("google/gemma-2-9b-it", execution=Execution.EAGER),
    "gpt-oss, sliding windows, sinks, MoE": Case("openai/gpt-oss-20b"),
    "deepseek-v3, MLA absorbed (auto, decode)": Case(
        "deepseek-ai/DeepSeek-V3", parallel=Parallelism(8, 2, 8)
    ),
    "deepseek-v3, MLA expanded (auto, 5 new)": Case(
        "deepseek-ai/DeepSeek-V3", new=5, parallel=Parallelism(8)
    ),
    "nemotron-h, fixed state, PP 2": Case(TINY_NEMOTRON_H, new=3, parallel=Parallelism(1, 2)),
    "qwen3.5-moe, linear attention hybrid, TP 2": Case(QWEN3_5_MOE, parallel=Parallelism(2)),
    "llama 70B int4 weights and KV (sub-byte, dequantized)": Case(
        "meta-llama/Llama-3.1-70B",
        options={"weight_dtype": "int4", "kv_cache_dtype": "int4"},
        parallel=Parallelism(2),
    ),
    "mixtral fp8, another profile and overrides": Case(
        "mistralai/Mixtral-8x7B-v0.1",
        options={"weight_dtype": "fp8"},
        profile="engines-2023",
        overrides={"gemm_half_rows": 0.0, "kernel_launch_s": 1e-5},
    ),
    "figures past 2**53 and 2**63": Case(
        "mistralai/Mixtral-8x7B-v0.1",
        new=10_000,
        parallel=Parallelism(4, 2, 2),
        options={"weight_dtype": "int4"},
        batches=(1, 2, 999, 10**6),
        contexts=(10**6, 10**7),
    ),
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_closed_form_equals_one_analysis_per_point(name: str, closed_form_only: None) -> None:
    case = CASES[name]
    _, parser = load_model(case.model, **case.options)
    batches, contexts, hardware = list(case.batches), list(case.contexts), list(case.hardware)
    scenarios = sweep(
        parser,
        batch_sizes=batches,
        cached_tokens=contexts,
        input_tokens=case.new,
        hardware=hardware,
        execution=case.execution,
        parallel=case.parallel,
        efficiency_profile=case.profile,
        efficiency=case.overrides,
    )
    expected = reference(
        parser,
        batches,
        contexts,
        hardware,
        new=case.new,
        parallel=case.parallel,
        execution=case.execution,
        profile=case.profile,
        overrides=case.overrides,
    )
    assert_same(scenarios, expected)


def test_the_cases_reach_every_outcome(closed_form_only: None) -> None:
    """The grids above meet both bounds and both fits (else equal outcomes prove little)."""
    _, parser = load_model("meta-llama/Llama-3.1-8B")
    scenarios = sweep(
        parser,
        batch_sizes=BATCHES,
        cached_tokens=CONTEXTS,
        hardware=["H100-SXM5-80GB", "L4-24GB"],
    )
    assert {s.bound for s in scenarios} == {"compute", "memory"}
    assert {s.fits for s in scenarios} == {True, False}
    prefill = sweep(
        parser,
        batch_sizes=BATCHES,
        cached_tokens=[0],
        input_tokens=512,
        hardware=["L4-24GB"],
        parallel=Parallelism(8),
    )
    assert "communication" in {s.bound for s in prefill}  # PCIe all-reduces of long prefills


def test_a_spec_file_with_efficiency_and_no_interconnect(
    tmp_path: Path, closed_form_only: None
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: Mine\nmemory_gb: 40\nmemory_bandwidth_gb_s: 2000\n"
        "peak_tflops: {bf16: 500, fp8: 1000}\ncompute_efficiency: 0.9\nmemory_efficiency: 0.8\n"
        "family: hopper\n"
        "efficiency: {bandwidth: 0.6, attention: 0.5, gemm: {bf16: 0.55}, gemm_half_rows: 12,\n"
        "             kernel_launch_s: 0.00002, step_overhead_s: 0.003, dequant: {fp8: 0.7}}\n"
    )
    for model, options, parallel in (
        ("Qwen/Qwen3-30B-A3B", {}, Parallelism(2)),  # untimed all-reduces: no interconnect
        ("meta-llama/Llama-3.1-8B", {"weight_dtype": "fp8"}, SINGLE_DEVICE),
    ):
        _, parser = load_model(model, **options)
        scenarios = sweep(
            parser,
            batch_sizes=BATCHES,
            cached_tokens=CONTEXTS,
            hardware=[str(path)],
            parallel=parallel,
        )
        expected = reference(parser, BATCHES, CONTEXTS, [str(path)], parallel=parallel)
        assert_same(scenarios, expected)


def test_grids_without_hardware(closed_form_only: None) -> None:
    _, parser = load_model("openai/gpt-oss-20b")
    scenarios = sweep(parser, batch_sizes=[4, 1, 4], cached_tokens=[5000, 0])
    assert [(s.batch_size, s.cached_tokens, s.hardware) for s in scenarios] == [
        (b, c, None) for c in (5000, 0) for b in (4, 1, 4)
    ]
    for s in scenarios:
        report = analyze(parser, QueryConfig.uniform(s.batch_size, s.cached_tokens, 1))
        assert s.flops == report.total.flops
        assert s.memory_bytes == float(report.device_memory_bytes)


def test_a_figure_off_its_line_is_computed_point_by_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An embedding gather reading each distinct vocabulary row once (at most 5 here) is not
    affine in the batch: the check at the largest batch sees it, and that context is analysed
    point by point, with the same results as the definition."""
    embedding = ops.embedding

    def distinct_rows(tokens: int, h: int, *, w: Any) -> ops.Cost:
        cost = embedding(tokens, h, w=w)
        return replace(cost, weight_bytes=min(tokens, 5) * h * w)

    monkeypatch.setattr(ops, "embedding", distinct_rows)
    fallbacks = []
    per_point = grid.per_point

    def counted(*args: Any, **kwargs: Any) -> grid.BatchCurve:
        fallbacks.append(args[1])
        return per_point(*args, **kwargs)

    monkeypatch.setattr(grid, "per_point", counted)
    _, parser = load_model("meta-llama/Llama-3.2-1B")
    scenarios = sweep(parser, batch_sizes=BATCHES, cached_tokens=[0, 100], hardware=["L4-24GB"])
    assert fallbacks == [0, 100]
    assert_same(scenarios, reference(parser, BATCHES, [0, 100], ["L4-24GB"]))
    fallbacks.clear()
    sweep(parser, batch_sizes=[1, 2, 4], cached_tokens=[0], input_tokens=3)
    assert fallbacks == [0]  # 3, 6 and 12 tokens read 3, 5 and 5 rows: off the line at 12


def test_bad_points_fail_as_the_definition_does() -> None:
    _, parser = load_model("meta-llama/Llama-3.2-1B")
    for batches, contexts, message in (
        ([1, 0], [0], "query 0: a query group needs at least one query, got 0"),
        ([1], [5, -1], "query 0: cached tokens must be >= 0, got -1"),
        ([2.5], [5], "query 0: a query group's size (a batch size) must be an integer, got 2.5"),
    ):
        with pytest.raises(UsageError) as raised:
            sweep(parser, batch_sizes=batches, cached_tokens=contexts)  # type: ignore[arg-type]
        assert str(raised.value) == message


def test_the_bound_is_picked_as_on_hardware_picks_it() -> None:
    """The largest total among the bounds some row has; ties to the bound met first."""
    totals = np.array([[1.0, 2.0, 0.0], [2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    first = np.array([[0, 1, -1], [3, 1, -1], [0, 1, 2], [-1, -1, 0]])
    assert grid._bound(totals, first) == ["memory", "memory", "compute", "communication"]
