"""MiMo-V2-Flash against a hand count of tests/end-to-end/configs/tiny-mimo-v2-flash (and its golden
case), invariants over generated configs (hypothesis), and bad input.

The tiny model: h = 8, 4 layers: full attention on layers 0 and 3 (H = 2 query heads, 1 KV head),
a window of 3 + 1 = 4 keys with a sink per head on layers 1 and 2 (H = 2, 2 KV heads); q/k heads
of 6 dims (RoPE on int(6 * 0.334) = 2), v heads of 4; layer 0's FFN dense (I = 16), the others MoE
(E = 4 experts of width 4, top-2, float32 router); V = 32, bfloat16.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import golden, run, tiny_config
from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.report import Report
from transformer_roofline.core.model.rows import Category, OpKind
from transformer_roofline.parsers import MiMoV2FlashConfigParser

CONFIG: dict[str, Any] = tiny_config("tiny-mimo-v2-flash")

# Parameters:
#   full attention:    q 8x12 = 96, k 8x6 = 48, v 8x4 = 32, o 8x8 = 64           -> 240 (x2)
#   sliding attention: q 96, k 8x12 = 96, v 8x8 = 64, o 64, 2 sinks              -> 322 (x2)
#   dense FFN (layer 0): 3 x 8x16                                                -> 384
#   MoE (layers 1-3): router 4x8 = 32 (its correction bias is a buffer), experts
#                     4 x (gate_up 8x8 + down 4x8 = 96) = 384                    -> 416 (x3)
#   norms: 2 x 8 per layer, final 8                                              -> 72
# Model: 2*240 + 2*322 + 384 + 3*416 + 72 + embedding 256 + lm_head 256         = 3340
PARAMETERS = {
    "total": 3340,
    "embedding": 256,
    "attention": 2 * 240 + 2 * 322,
    "mlp_dense": 384,
    "mlp_routed_experts": 3 * 384,
    "router": 3 * 32,
    "norms": 4 * 16 + 8,
    "lm_head": 256,
}
# Weights: bfloat16 but the float32 router: 2 * (3340 - 96) + 4 * 96
WEIGHT_BYTES = 6872
# Query state at 10 tokens: full layers keep every token, 1 KV head x (6 + 4) values x 2 bytes;
# sliding layers the last 3 tokens, 2 KV heads x 10 values x 2 bytes
KV_BYTES_10_TOKENS = 2 * 10 * 1 * 10 * 2 + 2 * 3 * 2 * 10 * 2
# Decode matmul FLOPs, 9 cached + 1 new:
#   full attention:    QKV 2*8*(12+6+4) = 352, QK^T+PV 2*2*(6+4)*10 keys = 400, O 2*8*8 = 128 -> 880
#   sliding attention: QKV 2*8*(12+12+8) = 512, QK^T+PV 2*2*10*4 keys = 160, O 128            -> 800
#   dense FFN: 2*8*32 + 2*16*8 = 768; MoE: router 2*8*4 = 64 + 2 x (2*8*8 + 2*4*8) = 448
# Layers: (880 + 768) + 2 x (800 + 448) + (880 + 448) = 5472; + LM head 2*8*32 = 512
DECODE_MATMUL_FLOPS = 5472 + 512


def test_parameters_state_and_flops_are_the_hand_count() -> None:
    report = run(CONFIG, [(9, 1)])
    assert {k: v for k, v in report.parameters.items() if v} == PARAMETERS
    assert report.weight_bytes == WEIGHT_BYTES
    assert report.kv_cache_bytes == KV_BYTES_10_TOKENS
    assert report.total.matmul_flops == DECODE_MATMUL_FLOPS
    rows = {row.name: row for row in report.rows}
    # the new token attends to the 3 cached tokens of its window and itself
    assert rows["Attn - SDPA (window 4)"].cost.matmul_flops == 2 * 2 * 10 * 4
    assert rows["Attn - SDPA (window 4)"].params == 2  # one sink per head
    assert rows["Attn - Global_SDPA"].params == 0  # none on full layers
    # RoPE: 64 of 192 dims in the real model, here int(6 * 0.334) = 2: (2 + 2) heads x 2 x 3
    assert rows["Attn - RoPE"].cost.flops == 4 * 2 * 3


def test_the_golden_case_is_the_hand_count() -> None:
    doc = golden("tiny_mimo_v2_flash_decode_json")
    assert {k: v for k, v in doc["parameters"].items() if v} == PARAMETERS
    assert doc["storage"]["weight_bytes"] == WEIGHT_BYTES
    assert doc["storage"]["kv_cache_bytes"] == KV_BYTES_10_TOKENS
    assert doc["total"]["matmul_flops"] == DECODE_MATMUL_FLOPS


def test_the_router_stays_float32_whatever_the_weight_format() -> None:
    report = run(CONFIG, [(9, 1)], weight_dtype="float8_e4m3")
    router = next(row for row in report.rows if row.category is Category.ROUTER)
    assert router.param_bytes == 4 * 32 and router.cost.weight_bytes == 4 * 32
    assert router.peak == "fp32"
    experts = next(row for row in report.rows if row.name == "Ffn - RoutedExp_GateUp_Proj")
    assert experts.param_bytes == 4 * 64  # 4 experts x 64 weights, one byte each


def test_hf_defaults_without_the_checkpoint_fields() -> None:
    """Without hybrid_layer_pattern / moe_layer_freq / sliding_window_size / swa_* fields, HF's
    rules: full attention on layer 0 and every 6th, the rest slide over `sliding_window` keys
    with twice the KV heads; layer 0 dense."""
    keep = {"hybrid_layer_pattern", "moe_layer_freq", "sliding_window_size"}
    config = {k: v for k, v in CONFIG.items() if k not in keep and not k.startswith("swa_")}
    parser = MiMoV2FlashConfigParser({**config, "num_hidden_layers": 12})
    d = parser.dims
    assert [i for i, s in enumerate(d.sliding) if not s] == [0, 5, 11]
    assert d.moe_layers == frozenset(range(1, 12))
    assert d.sliding_window == 3 and d.swa.kv_heads == 2 * d.full.kv_heads
    assert (d.full.sink, d.swa.sink) == (False, True)


@st.composite
def mimo_configs(draw: st.DrawFn) -> dict[str, Any]:
    layers = draw(st.integers(1, 4))
    kv = draw(st.integers(1, 2))
    return {
        **CONFIG,
        "num_hidden_layers": layers,
        "num_attention_heads": 2 * kv,
        "num_key_value_heads": kv,
        "swa_num_attention_heads": 2 * kv,
        "swa_num_key_value_heads": draw(st.sampled_from([kv, 2 * kv])),
        "head_dim": draw(st.sampled_from([3, 6])),
        "swa_head_dim": draw(st.sampled_from([3, 6])),
        "v_head_dim": draw(st.sampled_from([2, 4])),
        "swa_v_head_dim": draw(st.sampled_from([2, 4])),
        "sliding_window_size": draw(st.integers(1, 12)),
        "hybrid_layer_pattern": draw(
            st.lists(st.sampled_from([0, 1]), min_size=layers, max_size=layers)
        ),
        "moe_layer_freq": draw(st.lists(st.sampled_from([0, 1]), min_size=layers, max_size=layers)),
        "add_swa_attention_sink_bias": draw(st.booleans()),
    }


queries = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), min_size=1, max_size=3)


def _blocks(report: Report) -> tuple[int, int, int]:
    """FLOPs, matmul FLOPs and parameters of the decoder blocks (not the ends)."""
    rows = [row for row in report.rows if row.per_block]
    return (
        sum(row.cost.flops * row.blocks for row in rows),
        sum(row.cost.matmul_flops * row.blocks for row in rows),
        sum(row.params * row.blocks for row in rows),
    )


@given(mimo_configs(), queries)
def test_the_hybrid_is_the_sum_of_its_layers(config: dict[str, Any], qs) -> None:
    whole = run(config, qs)
    layers = [
        run(
            {
                **config,
                "num_hidden_layers": 1,
                "hybrid_layer_pattern": [config["hybrid_layer_pattern"][i]],
                "moe_layer_freq": [config["moe_layer_freq"][i]],
            },
            qs,
        )
        for i in range(config["num_hidden_layers"])
    ]
    sums = [sum(column) for column in zip(*map(_blocks, layers), strict=True)]
    assert list(_blocks(whole)) == sums
    assert whole.kv_cache_bytes == sum(layer.kv_cache_bytes for layer in layers)


@given(mimo_configs(), queries, st.integers(0, 5))
def test_a_window_longer_than_the_context_changes_nothing(config, qs, extra: int) -> None:
    alike = {  # sliding layers with the full layers' dims and no sinks
        **config,
        "swa_num_key_value_heads": config["num_key_value_heads"],
        "swa_head_dim": config["head_dim"],
        "swa_v_head_dim": config["v_head_dim"],
        "add_swa_attention_sink_bias": False,
        "sliding_window_size": max(c + n for c, n in qs) + extra,
    }
    windowed = run(alike, qs)
    full = run({**alike, "hybrid_layer_pattern": [0] * config["num_hidden_layers"]}, qs)
    assert windowed.total == full.total
    assert windowed.parameters == full.parameters
    assert windowed.kv_cache_bytes == full.kv_cache_bytes


@given(mimo_configs())
def test_sliding_layers_keep_the_same_state_at_1k_and_1m_tokens(config: dict[str, Any]) -> None:
    short, long = run(config, [(999, 1)]), run(config, [(999_999, 1)])
    full_layers = config["hybrid_layer_pattern"].count(0)
    per_token = config["num_key_value_heads"] * (config["head_dim"] + config["v_head_dim"]) * 2
    assert long.kv_cache_bytes - short.kv_cache_bytes == full_layers * 999_000 * per_token


@given(mimo_configs())
def test_tensor_parallel_ranks_share_the_split_gemms(config: dict[str, Any]) -> None:
    heads = {"num_attention_heads": 4, "swa_num_attention_heads": 4}
    config = {**config, **heads, "num_key_value_heads": 2, "swa_num_key_value_heads": 2}
    qs = [(7, 1), (0, 3)]

    def split(report: Report) -> tuple[int, int]:
        rows = [
            r for r in report.rows if r.kind is OpKind.GEMM and r.per_block and not r.replicated
        ]
        return sum(r.cost.flops * r.blocks for r in rows), sum(r.params * r.blocks for r in rows)

    single, two = run(config, qs), run(config, qs, Parallelism(2))
    flops, params = split(two)
    assert (2 * flops, 2 * params) == split(single)
    assert 2 * two.kv_cache_bytes == single.kv_cache_bytes


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"hybrid_layer_pattern": [0, 1, 2, 0]}, "hybrid_layer_pattern"),
        ({"hybrid_layer_pattern": [0, 1, 1]}, "hybrid_layer_pattern"),
        ({"hybrid_layer_pattern": [0, True, 1, 0]}, "hybrid_layer_pattern"),
        ({"moe_layer_freq": [0, 1, 1]}, "moe_layer_freq"),
        ({"mlp_layer_types": ["dense", "moe", "sparse", "sparse"]}, "mlp_layer_types"),
        ({"mlp_layer_types": [["dense"], "sparse", "sparse", "sparse"]}, "mlp_layer_types"),
        ({"layer_types": ["full_attention"] * 3}, "layer_types"),
        ({"n_shared_experts": 1}, "n_shared_experts"),
        ({"partial_rotary_factor": 0}, "partial_rotary_factor"),
        ({"partial_rotary_factor": "third"}, "partial_rotary_factor"),
        ({"swa_num_key_value_heads": 3}, "swa_num_key_value_heads"),
        ({"sliding_window_size": 0}, "sliding_window_size"),
        ({"add_swa_attention_sink_bias": 1}, "add_swa_attention_sink_bias"),
        ({"v_head_dim": -4}, "v_head_dim"),
        ({"num_experts_per_tok": 9}, "num_experts_per_tok"),
    ],
)
def test_bad_fields_are_one_line_naming_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MiMoV2FlashConfigParser({**CONFIG, **change})
    message = str(caught.value)
    assert key in message and "mimo_v2_flash" in message and "\n" not in message
