"""Whole steps on real hardware, against independent hand counts."""

from __future__ import annotations

import pytest
from conftest import catalog_config

from transformer_roofline.core.hardware.roofline import Execution, on_hardware
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.parsers import select_parser


def _on(stem: str, cached, new, hardware: str, execution=Execution.FUSED, **formats):
    config = catalog_config(stem)
    report = analyze(select_parser(config)(config, **formats), QueryConfig.from_lists(cached, new))
    return on_hardware(report, resolve_hardware(hardware), execution)


def test_llama2_7b_decode_on_a100_is_memory_bound_at_6_61_ms() -> None:
    # Hand count: a decode step reads every weight once (6,738,415,616 params x 2 B = 13.48 GB,
    # less the embedding table of which one row is gathered, plus the 512-token KV cache of
    # 32 layers x 512 x 2 x 4096 x 2 B = 0.27 GB) ~ 13.48 GB; at 2039 GB/s: 6.61 ms.
    expected = 13.48e9 / 2039e9
    for execution in Execution:
        result = _on("meta-llama__Llama-2-7b-hf", (511,), (1,), "A100-SXM4-80GB", execution)
        assert result.bound == "memory" and result.phase == "decode"
        assert result.step_time_s == pytest.approx(expected, rel=0.03)
        assert result.tokens_per_s == pytest.approx(1 / result.step_time_s)


def test_llama2_7b_prefill_2048_on_a100_is_compute_bound_by_its_gemms() -> None:
    # Hand count from the config (h 4096, ffn 11008, 32 layers, 32 heads of 128, vocab 32000):
    # every block GEMM for 2048 tokens, 2 x 2048 x (4 h^2 + 3 h ffn) x 32 = 26.48 TFLOP; causal
    # attention QK^T + PV, 4 x h x (2048 x 2049 / 2 pairs) x 32 = 1.10 TFLOP; logits for the last
    # token only, 2 x h x 32000.
    gemms = 2 * 2048 * (4 * 4096**2 + 3 * 4096 * 11008) * 32
    attention = 4 * 4096 * (2048 * 2049 // 2) * 32
    config = catalog_config("meta-llama__Llama-2-7b-hf")
    report = analyze(select_parser(config)(config), QueryConfig.from_lists((0,), (2048,)))
    assert report.total.matmul_flops == gemms + attention + 2 * 4096 * 32000
    # At the A100's dense 312 TFLOP/s, 88.54 ms; the LM head streams its 4096 x 32000 x 2 B and
    # the embedding gathers (reads and writes) 2048 rows of 4096 x 2 B at 2039 GB/s: 0.15 ms.
    # What remains is the elementwise ops and softmax (~0.4 ms at the fp32 vector rate): < 0.6%.
    floor = (gemms + attention) / 312e12 + (4096 * 32000 * 2 + 2 * 2048 * 4096 * 2) / 2039e9
    result = on_hardware(report, resolve_hardware("A100-SXM4-80GB"), Execution.FUSED)
    assert result.bound == "compute" and result.phase == "prefill"
    assert floor <= result.step_time_s <= floor * 1.006
    assert result.tokens_per_s == pytest.approx(2048 / result.step_time_s)
    # eager execution also pays the norms', RoPE's, adds' and activation's memory traffic
    eager = _on("meta-llama__Llama-2-7b-hf", (0,), (2048,), "A100-SXM4-80GB", Execution.EAGER)
    assert eager.step_time_s > result.step_time_s * 1.03


def test_fit_min_devices_and_max_batch() -> None:
    # Llama-3.1-70B bf16: 70,553,706,496 x 2 B = 141.1 GB of weights: not on one 80 GB H100
    big = _on("meta-llama__Llama-3.1-70B", (1024,), (1,), "H100-SXM5-80GB")
    assert not big.fits and big.min_devices == 2 and big.max_batch == 0
    # Llama-2-7B fp16 decode at 512 tokens on an A100 "80GB" (81,920 MiB = 85.9 GB usable):
    # (85.9e9 - 13,476,831,232) / 268,435,456 B of KV per query = 269.8 -> 269 queries
    small = _on("meta-llama__Llama-2-7b-hf", (511,), (1,), "A100-SXM4-80GB")
    assert small.fits and small.min_devices == 1
    assert small.max_batch == (85_900_000_000 - 6_738_415_616 * 2) // (32 * 512 * 2 * 4096 * 2)


def test_shares_of_peak_are_fractions_and_phase_of_mixed_batch() -> None:
    mixed = _on("meta-llama__Llama-3.1-8B", (0, 4096), (512, 1), "H100-SXM5-80GB")
    assert mixed.phase == "mixed"
    assert mixed.tokens_per_s == pytest.approx(513 / mixed.step_time_s)
    for result in (mixed, _on("meta-llama__Llama-3.1-8B", (4096,), (1,), "H100-SXM5-80GB")):
        assert 0 < result.compute_utilization <= 1 and 0 < result.bandwidth_utilization <= 1


def test_fp8_on_a_device_without_fp8_is_noted() -> None:
    result = _on(
        "meta-llama__Llama-3.1-8B",
        (0,),
        (1,),
        "A100-SXM4-80GB",
        weight_dtype="fp8",
        activation_dtype="fp8",
    )
    assert "A100-SXM4-80GB has no fp8 peak: counted at bf16" in result.notes
    h100 = _on(
        "meta-llama__Llama-3.1-8B",
        (0,),
        (1,),
        "H100-SXM5-80GB",
        weight_dtype="fp8",
        activation_dtype="fp8",
    )
    assert h100.notes == ()
