"""The expected estimate (core/hardware/efficiency.py): its properties, its parameters' validation,
and the calibration script on the committed measurements."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.api import analyze_model, load_model
from transformer_roofline.core.errors import HardwareSpecError, UsageError
from transformer_roofline.core.hardware.efficiency import (
    IDEAL,
    Efficiency,
    efficiency_for,
    parse_overrides,
    profile_names,
)
from transformer_roofline.core.hardware.roofline import Execution, on_hardware
from transformer_roofline.core.hardware.specs import resolve_hardware, spec_from_dict
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze

MODELS = ["meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1", "deepseek-ai/DeepSeek-V3"]
DEVICES = ["H100-SXM5-80GB", "A100-SXM4-80GB", "B200-180GB", "MI300X-192GB"]
PARSERS = {name: load_model(name)[1] for name in MODELS}


def _expected(model: str, device: str, profile: str, batch: int, cached: int, new: int, tp=1):
    report = analyze(PARSERS[model], QueryConfig.uniform(batch, cached, new), Parallelism(tp))
    hw = resolve_hardware(device)
    return on_hardware(report, hw, Execution.FUSED, efficiency_for(profile, hw.family))


cases = st.tuples(
    st.sampled_from(MODELS),
    st.sampled_from(DEVICES),
    st.sampled_from(profile_names()),
    st.integers(1, 256),
    st.integers(0, 20_000),
    st.sampled_from([1, 1, 7, 512]),
    st.sampled_from([1, 2, 8]),
)


@settings(max_examples=40, deadline=None)
@given(cases)
def test_expected_is_never_below_the_ideal_roofline(case) -> None:
    result = _expected(*case)
    assert result.expected_step_time_s >= result.step_time_s
    for timing in result.rows:
        assert timing.expected_s >= timing.time_s * (1 - 1e-12)


@settings(max_examples=30, deadline=None)
@given(cases, st.integers(1, 64), st.integers(1, 5000))
def test_expected_grows_with_batch_and_context(case, more_batch: int, more_context: int) -> None:
    model, device, profile, batch, cached, new, tp = case
    base = _expected(model, device, profile, batch, cached, new, tp).expected_step_time_s
    wider = _expected(model, device, profile, batch + more_batch, cached, new, tp)
    longer = _expected(model, device, profile, batch, cached + more_context, new, tp)
    assert wider.expected_step_time_s >= base
    assert longer.expected_step_time_s >= base


@settings(max_examples=20, deadline=None)
@given(cases)
def test_efficiency_one_and_no_overheads_is_the_ideal_exactly(case) -> None:
    model, device, _, batch, cached, new, tp = case
    report = analyze(PARSERS[model], QueryConfig.uniform(batch, cached, new), Parallelism(tp))
    result = on_hardware(report, resolve_hardware(device), Execution.FUSED, IDEAL)
    assert result.expected_step_time_s == result.step_time_s
    assert result.expected_stage_times_s == result.stage_times_s


def test_a_memory_bound_gemm_by_hand() -> None:
    # Llama-3.1-8B decode, batch 1, on an A100 (2039 GB/s): the LM head reads 128256 x 4096 bf16
    # weights = 1,050,673,152 B. At 80% of the bandwidth and 2 us of launch that is
    # 1,050,673,152 / (2039e9 * 0.8) + 2e-6 = 646.1 us (+ its tiny input and output).
    eff = Efficiency(bandwidth=0.8, kernel_launch_s=2e-6)
    report = analyze(PARSERS[MODELS[0]], QueryConfig.uniform(1, 100, 1))
    result = on_hardware(report, resolve_hardware("A100-SXM4-80GB"), Execution.FUSED, eff)
    head = next(t for t in result.rows if t.name == "LM Head")
    moved = 128256 * 4096 * 2 + 4096 * 2 + 128256 * 2
    assert head.expected_s == pytest.approx(moved / (2039e9 * 0.8) + 2e-6)


def test_a_compute_bound_gemm_follows_the_efficiency_curve() -> None:
    # a 4096-token prefill's GateUp projection at bf16: 2 * 4096 * 4096 * 28672 FLOPs at
    # 989.4 TFLOP/s x 0.7 x 4096 / (4096 + 64)
    eff = Efficiency(gemm={"bf16": 0.7}, gemm_half_rows=64)
    report = analyze(PARSERS[MODELS[0]], QueryConfig.uniform(1, 0, 4096))
    result = on_hardware(report, resolve_hardware("H100-SXM5-80GB"), Execution.FUSED, eff)
    row = next(t for t in result.rows if t.name == "Ffn - GateUp_Proj")
    flops = 2 * 4096 * 4096 * 28672
    assert row.expected_s == pytest.approx(flops / (989.4e12 * 0.7 * 4096 / 4160))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bandwidth": 0}, "'bandwidth' must be in \\(0, 1\\]"),
        ({"bandwidth": 1.2}, "must be in \\(0, 1\\]"),
        ({"gemm": {"fp7": 0.5}}, "unknown format 'fp7'"),
        ({"gemm": 0.5}, "must map formats to numbers"),
        ({"step_overhead_s": -1}, "must be >= 0"),
        ({"step_overhead_s": "slow"}, "must be a number"),
        ({"prompt_token_overhead_s": -1e-6}, "'prompt_token_overhead_s' must be >= 0"),
        ({"speed": 1}, "unknown efficiency parameter 'speed'"),
    ],
)
def test_bad_parameters_are_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HardwareSpecError, match=message):
        IDEAL.with_values(values, "spec.yaml")
    with pytest.raises(UsageError, match=message):
        IDEAL.with_values(values, "--efficiency", UsageError)


def test_command_line_overrides() -> None:
    assert parse_overrides(["bandwidth=0.7", "gemm.fp8=0.5"]) == {
        "bandwidth": 0.7,
        "gemm": {"fp8": 0.5},
    }
    with pytest.raises(UsageError, match="KEY=NUMBER"):
        parse_overrides(["bandwidth"])
    with pytest.raises(UsageError, match="unknown profile"):
        efficiency_for("engines-1999", "hopper")
    slow = analyze_model(
        "meta-llama/Llama-3.1-8B", hardware=["H100-SXM5-80GB"], efficiency={"bandwidth": 0.5}
    )
    fast = analyze_model(
        "meta-llama/Llama-3.1-8B", hardware=["H100-SXM5-80GB"], efficiency={"bandwidth": 1.0}
    )
    assert slow.hardware[0].expected_step_time_s > fast.hardware[0].expected_step_time_s
    assert slow.hardware[0].step_time_s == fast.hardware[0].step_time_s  # the ideal is unchanged


def _calibrate_module():
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "tools" / "calibrate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_parameters_meet_the_targets_on_the_committed_measurements() -> None:
    """The calibration script on tools/calibration/*.csv with core/hardware/efficiency.json:
    median error of the expected time at most 15% on each file and on both; no point worse than
    2x; and far better than the ideal roofline (which only bounds)."""
    cal = _calibrate_module()
    points = [p for p in cal.load_points() if not p.excluded]
    assert len(points) >= 250  # steps, static batches and serving at a concurrency
    errs = cal.errors(points, cal.efficiencies(points))
    median, worst = cal.summary(errs)
    assert median <= 0.15 and worst <= 2.0
    for profile in {p.profile for p in points}:
        mine = [e for p, e in zip(points, errs, strict=True) if p.profile == profile]
        assert cal.summary(mine)[0] <= 0.15, profile
    ideal = cal.summary([p.ideal() / p.measured_s - 1 for p in points])[0]
    assert ideal > 2 * median
    assert all(p.ideal() <= p.measured_s for p in points)  # no engine beats the roofline


def test_a_spec_file_sets_its_own_parameters(tmp_path) -> None:
    base = {
        "name": "Mine",
        "memory_gb": 80,
        "memory_bandwidth_gb_s": 3000,
        "peak_tflops": {"bf16": 900, "fp32": 60},
        "family": "hopper",
    }
    tuned = spec_from_dict({**base, "efficiency": {"bandwidth": 0.5}}, "mine.yaml")
    plain = spec_from_dict(base, "mine.yaml")
    report = analyze(PARSERS[MODELS[0]], QueryConfig.uniform(8, 1000, 1))
    slow, fast = on_hardware(report, tuned), on_hardware(report, plain)
    assert slow.expected_step_time_s > fast.expected_step_time_s
    assert slow.step_time_s == fast.step_time_s
    for bad, message in (
        ({"bandwidth": 2}, "mine.yaml: efficiency 'bandwidth' must be in"),
        ({"gemm": {"fp9": 1}}, "unknown format 'fp9'"),
        ([1, 2], "'efficiency' must map parameters to values"),
    ):
        with pytest.raises(HardwareSpecError, match=message):
            spec_from_dict({**base, "efficiency": bad}, "mine.yaml")
    path = tmp_path / "mine.yaml"
    path.write_text("name: Mine\nmemory_gb: 80\nmemory_bandwidth_gb_s: 3000\n"
                    "peak_tflops: {bf16: 900}\nefficiency: {kernel_launch_s: -1}\n")  # fmt: skip
    with pytest.raises(HardwareSpecError, match="'kernel_launch_s' must be >= 0"):
        resolve_hardware(str(path))
