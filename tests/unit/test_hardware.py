"""Hardware specs and the roofline time rule: hand numbers, properties, the catalog, spec files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.errors import HardwareSpecError
from transformer_roofline.core.hardware.roofline import Execution, time_row
from transformer_roofline.core.hardware.specs import (
    HardwareSpec,
    load_spec,
    resolve_hardware,
    spec_from_dict,
)
from transformer_roofline.core.model.rows import Category, OpKind, Row
from transformer_roofline.core.ops import Cost

ROOT = Path(__file__).resolve().parent.parent.parent


def _spec(peak: float = 1e15, bandwidth: float = 1e12, ce: float = 1.0, me: float = 1.0):
    return HardwareSpec("test", 10**11, bandwidth, {"bf16": peak, "fp32": peak / 10}, ce, me)


def _row(flops: int, moved: int, kind: OpKind = OpKind.GEMM, peak: str = "bf16") -> Row:
    return Row("op", Cost(flops, flops, moved, 0, 0), kind, peak, category=Category.OTHER)


def test_time_is_the_larger_of_compute_and_memory() -> None:
    # 2e12 FLOPs at 1e15 FLOP/s = 2 ms; 1e9 bytes at 1e12 B/s = 1 ms -> 2 ms, compute-bound
    t = time_row(_row(2 * 10**12, 10**9), _spec(), Execution.EAGER)
    assert (t.time_s, t.compute_s, t.memory_s, t.bound) == (2e-3, 2e-3, 1e-3, "compute")
    # 3e9 bytes = 3 ms > 2 ms -> memory-bound
    t = time_row(_row(2 * 10**12, 3 * 10**9), _spec(), Execution.EAGER)
    assert (t.time_s, t.bound) == (3e-3, "memory")


def test_efficiency_factors_scale_the_roofs() -> None:
    # compute at 50%: 2e12 / 5e14 = 4 ms; memory at 80%: 1e9 / 8e11 = 1.25 ms
    t = time_row(_row(2 * 10**12, 10**9), _spec(ce=0.5, me=0.8), Execution.EAGER)
    assert t.time_s == pytest.approx(4e-3) and t.memory_s == pytest.approx(1.25e-3)


def test_fused_elementwise_ops_cost_only_their_flops() -> None:
    row = _row(10**9, 10**9, OpKind.ELEMENTWISE, "fp32")
    # eager: 1e9 B at 1e12 B/s = 1 ms (memory); fused: 1e9 FLOPs at the 1e14 vector peak = 10 us
    assert time_row(row, _spec(), Execution.EAGER).time_s == pytest.approx(1e-3)
    fused = time_row(row, _spec(), Execution.FUSED)
    assert fused.time_s == pytest.approx(1e-5) and fused.fused and fused.memory_s == 0
    # GEMMs are never fused away
    assert time_row(_row(10**9, 10**9), _spec(), Execution.FUSED).memory_s == pytest.approx(1e-3)


def test_missing_peak_falls_back_to_a_wider_format() -> None:
    a100 = resolve_hardware("A100-SXM4-80GB")
    assert a100.peak_for("fp8") == ("bf16", 312e12)
    assert resolve_hardware("TPU-v5e").peak_for("fp16") == ("bf16", 197e12)
    assert resolve_hardware("B200-180GB").peak_for("fp4") == ("fp4", 9000e12)


@given(
    st.integers(1, 10**15),
    st.integers(1, 10**13),
    st.floats(1e9, 1e13),
    st.floats(1.0, 100.0),
    st.sampled_from(list(Execution)),
)
def test_raising_bandwidth_never_raises_time(flops, moved, bandwidth, factor, execution) -> None:
    row = _row(flops, moved)
    slow = time_row(row, _spec(bandwidth=bandwidth), execution)
    fast = time_row(row, _spec(bandwidth=bandwidth * factor), execution)
    assert fast.time_s <= slow.time_s
    faster_compute = time_row(row, _spec(peak=1e15 * factor, bandwidth=bandwidth), execution)
    assert faster_compute.time_s <= slow.time_s


def test_example_spec_files_load() -> None:
    yaml_spec = resolve_hardware(str(ROOT / "examples/hardware/my-gpu.yaml"))
    assert yaml_spec.compute_efficiency == 0.7 and yaml_spec.memory_bytes == 85_500_000_000
    assert yaml_spec.family == "hopper"
    json_spec = resolve_hardware(str(ROOT / "examples/hardware/my-gpu.json"))
    assert json_spec.peak_flops["fp8"] == pytest.approx(733e12)
    assert json_spec.compute_efficiency == 1.0 and json_spec.family == "ada"
    # the examples copy their catalog devices' figures
    for example, device in ((yaml_spec, "H100-SXM5-80GB"), (json_spec, "L40S-48GB")):
        catalog = resolve_hardware(device)
        assert example.peak_flops == catalog.peak_flops
        assert example.memory_bytes == catalog.memory_bytes


GOOD = {"name": "x", "memory_gb": 1, "memory_bandwidth_gb_s": 1, "peak_tflops": {"bf16": 1}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"memory_gb": None}, "missing required field 'memory_gb'"),
        ({"memory_bandwidth_gb_s": -5}, "'memory_bandwidth_gb_s' must be a number from 1e-6"),
        ({"peak_tflops": {"bf17": 3}}, "unknown compute format 'bf17'"),
        ({"peak_tflops": {"bf16": 0}}, "'bf16' must be a number from 1e-6 to 1e+12, got 0"),
        ({"peak_tflops": {}}, "'peak_tflops' must map formats to TFLOP/s"),
        ({"compute_efficiency": 1.5}, "'compute_efficiency' must be at most 1.0"),
        ({"memory_gb": "lots"}, "'memory_gb' must be a number from 1e-6 to 1e+12, got 'lots'"),
        ({"bandwidth": 3}, "unknown field(s) bandwidth"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"family": "hoper"}, "unknown family 'hoper' (families: ampere, hopper,"),
        ({"family": 7}, "unknown family 7"),
        ({"family": ["hopper"]}, "unknown family ['hopper']"),
    ],
)
def test_spec_errors_are_one_clear_line(change, message: str) -> None:
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(HardwareSpecError) as caught:
        spec_from_dict(data, "spec.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_spec_file_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n")
    with pytest.raises(HardwareSpecError, match="malformed YAML at line"):
        load_spec(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(json.dumps([1, 2]))
    with pytest.raises(HardwareSpecError, match="must be a mapping"):
        load_spec(bad_json)
    with pytest.raises(HardwareSpecError, match="cannot read hardware spec"):
        resolve_hardware(str(tmp_path / "missing.yaml"))
    with pytest.raises(HardwareSpecError, match="see --list-hardware"):
        resolve_hardware("H1000")
