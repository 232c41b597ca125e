"""Formats: overrides, quantization_config, exact sub-byte bytes, and the compute-peak rule."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hand_counts import CONFIG as TINY

from transformer_roofline.core.errors import UnsupportedModelError, UsageError
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import Llama4ConfigParser, LlamaConfigParser

Q = QueryConfig.from_lists((3,), (2,))


def _rows(parser):
    return {row.name: row for row in analyze(parser, Q).rows}


def test_defaults_are_the_config_dtype() -> None:
    p = LlamaConfigParser(TINY).precision
    assert (p.weight.name, p.activation.name, p.kv_cache.name) == ("float16",) * 3


def test_int4_weights_keep_exact_fractional_bytes() -> None:
    # int4, group 128 with an fp16 scale: 4 + 16/128 = 33/8 bits = 33/64 bytes per weight.
    parser = LlamaConfigParser(TINY, weight_dtype="int4")
    rows = _rows(parser)
    # QKV: 8 x 16 = 128 weights -> 128 * 33/64 = 66 B exactly; activations stay float16
    assert rows["Attn - QKV_Proj"].cost.weight_bytes == 66
    assert rows["Attn - QKV_Proj"].cost.input_bytes == 2 * 8 * 2
    report = analyze(parser, Q)
    assert report.weight_bytes == report.parameters["total"] * Fraction(33, 64)
    # weight-only int4 is dequantized to the activations' format: the fp16 peak
    assert rows["Attn - QKV_Proj"].peak == "fp16"


def test_kv_cache_dtype_only_changes_the_cache_and_attention_reads() -> None:
    base, fp8 = _rows(LlamaConfigParser(TINY)), _rows(LlamaConfigParser(TINY, kv_cache_dtype="fp8"))
    # K and V of 5 keys x 8 values: 80 B at fp16 -> 40 B at fp8; Q stays 32 B
    assert base["Attn - SDPA"].cost.input_bytes - fp8["Attn - SDPA"].cost.input_bytes == 40
    assert analyze(LlamaConfigParser(TINY, kv_cache_dtype="fp8"), Q).kv_cache_bytes == 80
    assert base["Ffn - Down_Proj"] == fp8["Ffn - Down_Proj"]


def test_compute_peak_is_the_format_both_operands_are_in() -> None:
    weight_only = _rows(LlamaConfigParser(TINY, weight_dtype="fp8"))
    assert weight_only["Ffn - Down_Proj"].peak == "fp16"  # fp8 weights x fp16 activations
    both = _rows(LlamaConfigParser(TINY, weight_dtype="fp8", activation_dtype="fp8"))
    assert both["Ffn - Down_Proj"].peak == "fp8"
    assert both["Attn - SDPA"].peak == "fp8"
    assert both["Attn - RMSNorm"].peak == "fp32"  # elementwise: vector units


def _formats(precision) -> dict[Category, str]:
    """Category -> the name of the format a quantization group stores it in."""
    return {c: g.fmt.name for g in precision.quantized for c in g.categories}


def test_fp8_block_quantization_config_like_deepseek_v3() -> None:
    config = {
        **TINY,
        "torch_dtype": "bfloat16",
        "quantization_config": {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "weight_block_size": [128, 128],
        },
    }
    parser = LlamaConfigParser(config)
    p = parser.precision
    # every linear layer of the blocks; the LM head is HF's default skip (no explicit list)
    block = "float8_e4m3_block128x128"
    assert _formats(p) == {
        Category.ATTN_PROJ: block,
        Category.MIXER: block,
        Category.MLP_DENSE: block,
        Category.MLP_ROUTED: block,
        Category.MLP_SHARED: block,
    }
    assert p.weight_for(Category.ATTN_PROJ).bits == 8 + Fraction(32, 16384)
    assert "fp8" in p.applied and "activations quantized" in p.applied
    rows = _rows(parser)
    # 8 -> 32 gate/up: 256 weights x (8 + 1/512) bits / 8 = 256 * 4097/4096 B = 256.0625 B
    assert rows["Ffn - GateUp_Proj"].cost.weight_bytes == Fraction(256 * 4097, 4096)
    assert rows["Ffn - GateUp_Proj"].peak == "fp8"  # dynamic activation quantization
    assert rows["LM Head"].peak == "bf16" and rows["LM Head"].cost.weight_bytes == 512
    assert rows["Attn - RMSNorm"].cost.weight_bytes == 16  # norms stay bfloat16
    # the report describes the categories the model has: a Llama has no mixers or experts
    described = analyze(parser, Q).precision
    assert _formats(described) == {Category.ATTN_PROJ: block, Category.MLP_DENSE: block}
    assert described.applied.startswith("attn_proj, mlp_dense weights float8_e4m3_block128x128")


def test_mxfp4_quantization_covers_experts_only() -> None:
    config = {
        "model_type": "llama4",
        "quantization_config": {
            "quant_method": "mxfp4",
            "modules_to_not_convert": ["model.layers.*.self_attn"],
        },
        "text_config": {
            "hidden_size": 64,
            "num_attention_heads": 4,
            "intermediate_size": 32,
            "intermediate_size_mlp": 64,
            "num_hidden_layers": 2,
            "vocab_size": 10,
            "num_local_experts": 4,
            "torch_dtype": "bfloat16",
        },
    }
    parser = Llama4ConfigParser(config)
    rows = _rows(parser)
    experts = rows["Ffn - RoutedExp_GateUp_Proj"]
    # 4 experts x 64 x 64 weights at 17/32 B = 8704 B exactly
    assert experts.param_bytes == 4 * 64 * 64 * Fraction(17, 32)
    assert experts.peak == "bf16"  # weight-only: dequantized to bf16
    assert rows["Ffn - SharedExp_GateUp_Proj"].param_bytes == 64 * 64 * 2
    assert rows["Attn - QKV_Proj"].param_bytes == 64 * 3 * 64 * 2


def test_weight_dtype_overrides_the_quantization_config() -> None:
    config = {**TINY, "quantization_config": {"quant_method": "hqq", "nbits": 4}}
    with pytest.raises(UnsupportedModelError, match="quant_method 'hqq' is not modelled"):
        LlamaConfigParser(config)
    p = LlamaConfigParser(config, weight_dtype="int4").precision
    assert p.weight.name == "int4" and "overridden by --weight-dtype" in p.applied
    assert p.quantized == () and p.weight_for(Category.MLP_ROUTED).name == "int4"


def test_unknown_format_names() -> None:
    with pytest.raises(UsageError, match="--kv-cache-dtype: unknown format 'fp7'"):
        LlamaConfigParser(TINY, kv_cache_dtype="fp7")
