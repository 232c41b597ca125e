"""MiniMax-M2 against a hand count of tests/end-to-end/configs/tiny-minimax-m2 (and its golden
case), closed forms over generated configs (hypothesis), and bad input.

The tiny model: h = 8, H = 2 query heads and H_kv = 1 KV head of d = 4, RoPE on 2 of the 4 dims,
2 layers, each a MoE of E = 4 SwiGLU experts of width I = 4 with top-2, V = 32, bfloat16.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import golden, run, tiny_config
from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import Category, OpKind
from transformer_roofline.parsers import MiniMaxM2ConfigParser

CONFIG: dict[str, Any] = tiny_config("tiny-minimax-m2")

# Parameters per layer:
#   attention: q 8x8 = 64, k 8x4 = 32, v 8x4 = 32, o 8x8 = 64                       -> 192
#   norms: q_norm over all q features (2*4 = 8), k_norm over all k features (4), and the
#          input / post-attention norms (8 + 8)                                          -> 28
#   router: 4 experts x 8 (its e_score_correction_bias is a buffer, not a parameter)     -> 32
#   experts: 4 x (gate_up 8x8 + down 4x8 = 96)                                           -> 384
# Model: 2 x 636 + embedding 32x8 = 256 + lm_head 256 (untied) + final norm 8           = 1792
PARAMETERS = {
    "total": 1792,
    "embedding": 256,
    "attention": 2 * 192,
    "mlp_routed_experts": 2 * 384,
    "router": 2 * 32,
    "norms": 2 * 28 + 8,
    "lm_head": 256,
}
# KV cache: 2 layers x 10 tokens x 1 KV head x (4 + 4) values x 2 bytes
KV_BYTES_10_TOKENS = 2 * 10 * 1 * 8 * 2
# Decode matmul FLOPs, 9 cached + 1 new, per layer:
#   QKV 2*8*(8+4+4) = 256; QK^T and PV 2*2 heads*(4+4)*10 keys = 320; O 2*8*8 = 128;
#   router 2*8*4 = 64; 2 experts x (2*8*8 + 2*4*8) = 384                          -> 1152
# Model: 2 x 1152 + LM head 2*8*32 = 512                                          = 2816
DECODE_MATMUL_FLOPS = 2 * 1152 + 512


def test_parameters_state_and_flops_are_the_hand_count() -> None:
    report = run(CONFIG, [(9, 1)])
    assert {k: v for k, v in report.parameters.items() if v} == PARAMETERS
    assert report.kv_cache_bytes == KV_BYTES_10_TOKENS
    assert report.total.matmul_flops == DECODE_MATMUL_FLOPS
    assert report.weight_bytes == 2 * 1792
    rows = {row.name: row for row in report.rows}
    # full-width q/k norms: 8 q features x 4 FLOPs + 3 per row, and 4 k features x 4 + 3
    assert rows["Attn - QK_Norm"].cost.flops == (8 * 4 + 3) + (4 * 4 + 3)
    assert rows["Attn - QK_Norm"].params == 8 + 4
    # partial RoPE: 3 heads (2 q + 1 k) x 2 rotated dims x 3 FLOPs
    assert rows["Attn - RoPE"].cost.flops == 3 * 2 * 3


def test_the_golden_case_is_the_hand_count() -> None:
    doc = golden("tiny_minimax_m2_decode_json")
    assert {k: v for k, v in doc["parameters"].items() if v} == PARAMETERS
    assert doc["storage"]["kv_cache_bytes"] == KV_BYTES_10_TOKENS
    assert doc["total"]["matmul_flops"] == DECODE_MATMUL_FLOPS


def test_fp8_quantization_config_as_minimax_spells_it() -> None:
    quantization = {
        "activation_scheme": "dynamic",
        "fmt": "float8_e4m3fn",
        "quant_method": "fp8",
        "weight_block_size": [128, 128],
        "modules_to_not_convert": ["gate", "e_score_correction_bias", "lm_head"],
    }
    precision = MiniMaxM2ConfigParser({**CONFIG, "quantization_config": quantization}).precision
    assert precision.weight_for(Category.MLP_ROUTED).name == "float8_e4m3_block128x128"
    assert precision.weight_for(Category.ATTN_PROJ).name == "float8_e4m3_block128x128"
    assert precision.weight_for(Category.ROUTER).name == "bfloat16"


@st.composite
def minimax_configs(draw: st.DrawFn) -> dict[str, Any]:
    kv_heads = draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([2, 4, 8]))
    experts = draw(st.integers(1, 8))
    layers = draw(st.integers(1, 3))
    return {
        **CONFIG,
        "attn_type_list": [1] * layers,
        "hidden_size": draw(st.sampled_from([8, 16])),
        "num_attention_heads": kv_heads * draw(st.integers(1, 3)),
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "rotary_dim": draw(st.sampled_from([r for r in (2, 4, 8) if r <= head_dim])),
        "intermediate_size": draw(st.integers(1, 12)),
        "num_local_experts": experts,
        "num_experts_per_tok": draw(st.integers(1, experts)),
        "num_hidden_layers": layers,
        "vocab_size": draw(st.integers(1, 64)),
    }


queries = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), min_size=1, max_size=3)


@given(minimax_configs(), queries)
def test_parameters_and_cache_closed_forms(config: dict[str, Any], qs) -> None:
    h, heads, kv = (
        config["hidden_size"],
        config["num_attention_heads"],
        config["num_key_value_heads"],
    )
    d, e, i = config["head_dim"], config["num_local_experts"], config["intermediate_size"]
    per_layer = (
        h * (heads + 2 * kv) * d  # q, k, v
        + heads * d * h  # o
        + (heads + kv) * d  # q_norm, k_norm over the full widths
        + 2 * h  # input and post-attention norms
        + e * h  # router
        + e * 3 * h * i  # experts: gate, up, down
    )
    total = config["num_hidden_layers"] * per_layer + 2 * config["vocab_size"] * h + h
    cached, new = zip(*qs, strict=True)
    report = analyze(MiniMaxM2ConfigParser(config), QueryConfig.from_lists(cached, new))
    assert report.parameters["total"] == total
    tokens = sum(c + n for c, n in qs)
    assert report.kv_cache_bytes == config["num_hidden_layers"] * tokens * kv * 2 * d * 2
    rope = next(row for row in report.rows if row.name == "Attn - RoPE")
    assert rope.cost.flops == 3 * sum(new) * (heads + kv) * config["rotary_dim"]


@given(minimax_configs(), st.sampled_from([2, 4]))
def test_tensor_parallel_ranks_share_the_split_gemms(config: dict[str, Any], tp: int) -> None:
    kv, i = config["num_key_value_heads"], config["intermediate_size"]
    config = {**config, "num_attention_heads": kv * tp, "num_key_value_heads": kv * tp}
    config["intermediate_size"] = i * tp
    parser = MiniMaxM2ConfigParser(config)
    qs = QueryConfig.from_lists([5, 0], [1, 3])

    def split_gemms(report: Report) -> tuple[int, int]:  # the decoder blocks' split GEMMs
        rows = [
            r for r in report.rows if r.kind is OpKind.GEMM and r.per_block and not r.replicated
        ]
        return sum(r.cost.flops * r.blocks for r in rows), sum(r.params * r.blocks for r in rows)

    single, split = analyze(parser, qs), analyze(parser, qs, Parallelism(tp))
    flops, params = split_gemms(split)
    assert (flops * tp, params * tp) == split_gemms(single)
    assert split.kv_cache_bytes * tp == single.kv_cache_bytes


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"attn_type_list": [1, 0]}, "attn_type_list"),
        ({"attn_type_list": [1]}, "attn_type_list"),
        ({"rotary_dim": 3}, "rotary_dim"),
        ({"rotary_dim": 8}, "rotary_dim"),
        ({"qk_norm_type": "per_head"}, "qk_norm_type"),
        ({"use_qk_norm": False}, "use_qk_norm"),
        ({"use_qk_norm": "yes"}, "use_qk_norm"),
        ({"shared_intermediate_size": 8}, "shared_intermediate_size"),
        ({"num_experts_per_tok": 5}, "num_experts_per_tok"),
        ({"num_local_experts": 0}, "num_local_experts"),
        ({"head_dim": "4"}, "head_dim"),
    ],
)
def test_bad_fields_are_one_line_naming_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MiniMaxM2ConfigParser({**CONFIG, **change})
    message = str(caught.value)
    assert key in message and "minimax_m2" in message and "\n" not in message
