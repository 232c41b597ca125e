"""DeepSeek-V4: the tiny config of tests/end-to-end/configs/deepseek_v4 counted by hand, figures
HF gave for it, the compressed-attention formulas against enumeration, invariants (hypothesis)
and the config errors.

The tiny model: h = 8, 2 heads of d = 8 (RoPE on 2 dims), q_lora 4, 2 output groups of o_lora 4,
window 4; layers [sliding, CSA (ratio 4; indexer: 2 heads of 4, top 8), HCA (ratio 128), CSA];
2 hyper-connection streams, 3 Sinkhorn iterations; MoE: 4 experts of 4, top 2, one shared
expert of 4; vocabulary 32; bfloat16.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from helpers import golden, rows_by_name, run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError, UsageError
from transformer_roofline.core.model.masks import CompressedKeys, compressed_entries_before
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.report import Report
from transformer_roofline.core.model.rows import Category
from transformer_roofline.core.model.state import Growth, State
from transformer_roofline.core.ops import Number, lightning_indexer
from transformer_roofline.parsers import DeepseekV4ConfigParser

TINY = tiny_config("deepseek_v4")


# --- the tiny model by hand ----------------------------------------------------------------------


def test_tiny_parameters_by_hand() -> None:
    # every layer, attention: q_a 8x4 = 32, q_b 4 x (2 x 8) = 64, kv 8x8 = 64, o_a 2 groups of
    # (2 x 8 / 2 = 8) x 4 = 64, o_b (2 x 4) x 8 = 64, sinks 2                       = 290
    # CSA compressor: kv and gate 8 x 16 each = 256, position bias 4 x 16 = 64     = 320
    # CSA indexer: kv and gate 8 x 8 each = 128, position bias 4 x 8 = 32, q_b 4 x 8 = 32,
    #   weights 8 x 2 = 16                                                         = 208
    # HCA compressor: kv and gate 8 x 8 each = 128, position bias 128 x 8 = 1024   = 1152
    attention = 4 * 290 + 2 * (320 + 208) + 1152
    # norms: q_a 4, kv 8, input 8, post-attention 8 per layer; compressor norms 8 (+ 4 for the
    # indexer's); the final norm 8
    norms = 4 * (4 + 8 + 8 + 8) + 2 * (8 + 4) + 8 + 8
    # hyper-connections: 2 per layer of fn (2+2)*2 x 2*8 = 128, base 8, scale 3; the head: hc_fn
    # 2 x 16, hc_base 2, hc_scale 1
    other = 4 * 2 * (128 + 8 + 3) + (32 + 2 + 1)
    expected = {
        "embedding": 32 * 8,
        "lm_head": 32 * 8,
        "attention": attention,
        "norms": norms,
        "other": other,
        "router": 4 * 4 * 8,
        "mlp_routed_experts": 4 * 4 * (8 * 8 + 4 * 8),  # 4 experts of gate/up 8x8 + down 4x8
        "mlp_shared_experts": 4 * 3 * 8 * 4,
        "mlp_dense": 0,
        "mixers": 0,
    }
    report = run(TINY, [(511, 1)])
    assert {k: report.parameters[k] for k in expected} == expected
    # transformers 5.24's DeepseekV4ForCausalLM built from this config has 7227 parameters
    assert report.parameters["total"] == sum(expected.values()) == 7227


def test_tiny_state_at_262_tokens_by_hand() -> None:
    parts = {p.name: p.bytes for p in run(TINY, [(250, 12)]).storage_parts if p.growth}
    assert parts == {
        # window 4: the last 3 tokens' K and V (8 each, 2 B), 4 layers
        "KV cache": 4 * 3 * 16 * 2,
        # CSA: floor(262 / 4) = 65 entries of 8, 2 layers; HCA: floor(262 / 128) = 2 entries
        "Compressed KV": 2 * 65 * 8 * 2 + 2 * 8 * 2,
        "Indexer keys": 2 * 65 * 4 * 2,
        # 262 mod 4 = 2 tokens of CSA kv + gate (16 + 16) and of the indexer's (8 + 8);
        # 262 mod 128 = 6 tokens of HCA kv + gate (8 + 8); bfloat16
        "Compressor buffer": 2 * 2 * (32 + 16) * 2 + 6 * 16 * 2,
        # per CSA layer: the last window's first series, kv 4 x 8 (2 B) and gate 4 x 8 (float32),
        # and the indexer's 4 x 4 of each
        "Compressor overlap": 2 * (4 * 8 * 2 + 4 * 8 * 4 + 4 * 4 * 2 + 4 * 4 * 4),
    }
    # HF's cache after 262 tokens holds 4720 B: these 4688 and one 8-byte window size per layer
    assert sum(parts.values()) == 4720 - 4 * 8


def test_tiny_golden_by_hand() -> None:
    doc = golden("tiny_deepseek_v4_json")
    layers = {layer["name"]: layer for layer in doc["layers"]}
    # 250 cached + 12 new tokens at positions 250..261. Window 4: 12 x 4 = 48 pairs.
    # CSA: each token sees floor((p+1)/4) >= 62 entries, top 8 kept: + 96 -> 144 pairs.
    # HCA: floor((p+1)/128) is 1 for p+1 = 251..255 and 2 for 256..262: + 5 + 14 -> 67 pairs.
    # QK^T + PV: 2 heads x 2 x (8 + 8) per pair = 64
    assert layers["Attn - SDPA (window 4)"]["matmul_flops"] == 64 * 48
    assert layers["Attn - SDPA (window 4 + 1/4 top 8)"]["matmul_flops"] == 64 * 144
    assert layers["Attn - SDPA (window 4 + 1/128)"]["matmul_flops"] == 64 * 67
    # softmax 5 per (head, pair), one divide per output value (12 x 2 x 8), sinks 3 per
    # (token, head)
    assert layers["Attn - SDPA (window 4 + 1/4 top 8)"]["flops"] == 64 * 144 + 5 * 2 * 144 + (
        192 + 3 * 24
    )
    # the indexer scores every entry: 62 + 4 x 63 + 4 x 64 + 3 x 65 = 765 (token, entry) pairs,
    # 2 heads x 2 x 4 FLOPs each (q.k), + 3 per (head, pair) for relu and the head-weighted sum's
    # multiply-add, + 1 per (token, head) for the folded scales (12 x 2)
    assert layers["Attn - Index_Score"]["matmul_flops"] == 765 * 16
    assert layers["Attn - Index_Score"]["flops"] == 765 * 16 + 765 * 6 + 24
    # it reads q and w, 12 tokens x 2 heads x (4 + 1) el, and the floor(262/4) = 65 entries of 4,
    # 2 B each; writes the top 8 of >= 62 entries per token: 12 x 8 int32 indices
    assert layers["Attn - Index_Score"]["input_bytes"] == (120 + 65 * 4) * 2
    assert layers["Attn - Index_Score"]["output_bytes"] == 12 * 8 * 4
    # windows closed: CSA floor(262/4) - floor(250/4) = 3, HCA 2 - 1 = 1. Per window and
    # channel 7 FLOPs per slot, + 1 divide; + RoPE of the entry (3 x 2 dims)
    assert layers["Attn - CSA_Pool"]["flops"] == 3 * (8 * (7 * 8 + 1) + 6)  # 8 slots, 8 wide
    assert layers["Attn - Index_Pool"]["flops"] == 3 * (4 * (7 * 8 + 1) + 6)  # 8 slots, 4 wide
    assert layers["Attn - HCA_Pool"]["flops"] == 1 * (8 * (7 * 128 + 1) + 6)  # 128 slots
    # Sinkhorn weights of 2 streams, 3 iterations: 2 x 8 logits + 10 x 2 + 6 x 4 + 5 x (8 + 2)
    assert layers["Attn - HC_Weights"]["flops"] == 12 * 110
    # matmul FLOPs: per token, the GEMMs of one decode (attention projections 4288, hyper-
    # connection projections and comb 2624, routers 256, routed experts 2 x 192 x 4 = 1536,
    # shared experts 768) = 9472, for 12 tokens; the LM head once, 2 x 8 x 32 = 512; attention
    # 64 x (48 + 2 x 144 + 67); the two indexers' scores 2 x 12240
    assert doc["total"]["matmul_flops"] == 12 * 9472 + 512 + 64 * (48 + 2 * 144 + 67) + 2 * 12240
    assert doc["parameters"]["total"] == 7227
    assert doc["storage"]["kv_cache_bytes"] == 4688


# Decode matmul FLOPs and cache bytes transformers 5.24 gives for the tiny config with index_topk
# 200 (FlopCounterMode, eager; HF scores every compressed entry, which top-k >= the entries makes
# identical to a sparse pick), and its cache less the 4 x 8-byte window sizes. Before the first
# CSA window closes (3 tokens), HF holds no overlap buffer yet; this counts it from the start.
HF_DECODE = {2: (10752, 1056), 7: (11328, 1312), 127: (16192, 2512), 255: (21376, 4064),
             400: (27200, 6544)}  # fmt: skip
OVERLAP = 2 * (4 * 8 * 2 + 4 * 8 * 4 + 4 * 4 * 2 + 4 * 4 * 4)


@pytest.mark.parametrize("cached", sorted(HF_DECODE))
def test_tiny_decode_matches_hf(cached: int) -> None:
    report = run({**TINY, "index_topk": 200}, [(cached, 1)])
    flops, cache = HF_DECODE[cached]
    assert report.total.matmul_flops == flops
    assert report.kv_cache_bytes == cache + (OVERLAP if cached + 1 < 4 else 0)


# --- formulas against enumeration ----------------------------------------------------------------


@given(st.integers(0, 300), st.integers(1, 40), st.integers(1, 9), st.sampled_from([None, 1, 3, 8]))
def test_compressed_keys_enumerated(cached: int, new: int, ratio: int, top_k) -> None:
    window = 5
    pattern = CompressedKeys(window, ratio, top_k)
    cap = 10**9 if top_k is None else top_k
    positions = range(cached, cached + new)
    pairs = sum(min(p + 1, window) + min(cap, (p + 1) // ratio) for p in positions)
    assert pattern.pairs(cached, new) == pairs
    entries = (cached + new) // ratio
    window_keys = cached + new - max(0, cached - window + 1)
    read = entries if top_k is None else min(entries, new * top_k)
    assert pattern.keys_read(cached, new) == window_keys + read


@given(st.integers(0, 500), st.integers(1, 9), st.sampled_from([None, 1, 2, 7]))
def test_compressed_entries_closed_form(x: int, ratio: int, cap) -> None:
    bound = 10**9 if cap is None else cap
    assert compressed_entries_before(x, ratio, cap) == sum(
        min(bound, (p + 1) // ratio) for p in range(x)
    )


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 20)), min_size=1, max_size=3))
def test_indexer_scores_every_earlier_entry(qs) -> None:
    groups = [(q, 1) for q in qs]
    cost = lightning_indexer(groups, ratio=4, heads=3, head_dim=5, top_k=7, w_act=2, w_key=1)
    scores = sum((p + 1) // 4 for c, n in qs for p in range(c, c + n))
    tokens = sum(n for _, n in qs)
    assert cost.matmul_flops == 2 * 3 * 5 * scores
    assert cost.flops == cost.matmul_flops + 3 * 3 * scores + 3 * tokens
    assert cost.output_bytes == 4 * sum(
        min((p + 1) // 4, 7) for c, n in qs for p in range(c, c + n)
    )


def test_remainder_growth() -> None:
    buffer = State("Compressor buffer", 3, Growth.REMAINDER, 4)
    assert [buffer.units(n) for n in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    with pytest.raises(ValueError):
        State("Compressor buffer", 3, Growth.REMAINDER, 0)


# --- invariants ----------------------------------------------------------------------------------

queries = st.lists(st.tuples(st.integers(0, 300), st.integers(1, 12)), min_size=1, max_size=3)


@given(st.sampled_from([1000, 5000]), st.integers(1, 4))
def test_bounded_states_stop_growing(length: int, times: int) -> None:
    def parts(n: int) -> dict[str, Any]:
        return {p.name: p.bytes for p in run(TINY, [(n - 1, 1)]).storage_parts if p.growth}

    short, long = parts(length), parts(length + times * 128 * 8000)  # ~1M tokens more
    for kind in ("KV cache", "Compressor overlap"):
        assert short[kind] == long[kind]
    # same residues mod 4 and 128: the buffers hold as many tokens
    assert short["Compressor buffer"] == long["Compressor buffer"]
    assert long["Compressed KV"] > short["Compressed KV"]


@given(queries, st.integers(0, 50))
def test_top_k_beyond_the_entries_changes_nothing(qs, extra: int) -> None:
    entries = max(c + n for c, n in qs) // 4
    a = run({**TINY, "index_topk": entries + 1}, qs)
    b = run({**TINY, "index_topk": entries + 1 + extra}, qs)
    assert [r.cost for r in a.rows] == [r.cost for r in b.rows]
    assert a.kv_cache_bytes == b.kv_cache_bytes


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 60)), min_size=1, max_size=3))
def test_hca_before_its_first_window_attends_like_sliding(qs) -> None:
    # no query reaches 128 tokens: the HCA layer has no entry to attend to
    qs = [(c, n) for c, n in qs if c + n < 128] or [(0, 1)]
    hca = {**TINY, "compress_ratios": [128] * 4}
    sliding = {**TINY, "compress_ratios": [0] * 4}
    a = rows_by_name(run(hca, qs))["Attn - SDPA (window 4 + 1/128)"]
    b = rows_by_name(run(sliding, qs))["Attn - SDPA (window 4)"]
    assert (a.cost.flops, a.cost.matmul_flops) == (b.cost.flops, b.cost.matmul_flops)


@given(st.lists(st.sampled_from([0, 4, 128]), min_size=1, max_size=5), queries)
def test_a_hybrid_is_the_sum_of_its_layers(kinds: list[int], qs) -> None:
    def body(config: dict[str, Any]) -> tuple[int, int, Number]:
        report = run(config, qs)
        per_block = [r for r in report.rows if r.per_block]
        return (
            sum(r.cost.flops * r.blocks for r in per_block),
            sum(r.params * r.blocks for r in per_block),
            report.kv_cache_bytes,
        )

    layers = len(kinds)
    whole = body({**TINY, "num_hidden_layers": layers, "compress_ratios": kinds})
    parts = [body({**TINY, "num_hidden_layers": 1, "compress_ratios": [k]}) for k in kinds]
    assert whole == tuple(sum(p[i] for p in parts) for i in range(3))


@settings(max_examples=30)
@given(st.sampled_from([2, 4]), st.integers(1, 2), queries)
def test_tensor_parallel_split_adds_up(tp: int, times: int, qs) -> None:
    config = {**TINY, "num_attention_heads": 4 * times, "o_groups": 4, "n_routed_experts": 4,
              "moe_intermediate_size": 4 * times}  # fmt: skip
    single = run(config, qs)
    split = run(config, qs, Parallelism(tp))

    def split_ops(report: Report) -> tuple[int, Fraction, Fraction]:
        kept = [r for r in report.rows if not r.replicated and r.comm is None]
        # routed experts' expected traffic is rounded to whole bytes on each device
        read = [r for r in kept if r.category is not Category.MLP_ROUTED]
        return (
            sum(r.cost.flops * r.blocks for r in kept),
            sum((Fraction(r.cost.weight_bytes) * r.blocks for r in read), Fraction(0)),
            sum((Fraction(r.param_bytes) * r.blocks for r in kept), Fraction(0)),
        )

    assert tuple(tp * v for v in split_ops(split)) == split_ops(single)
    # one KV head, compressors and indexers: every rank keeps the whole state
    assert split.kv_cache_bytes == single.kv_cache_bytes
    assert split.parameters == single.parameters
    assert any("replicated" in note for note in split.notes)


def test_tensor_parallel_needs_whole_groups() -> None:
    with pytest.raises(UsageError, match="o_groups"):
        run({**TINY, "num_attention_heads": 4}, [(0, 1)], Parallelism(4))


def test_fp8_keeps_the_compressor_in_the_config_dtype() -> None:
    quantized = {**TINY, "quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                 "activation_scheme": "dynamic", "weight_block_size": [128, 128]}}  # fmt: skip
    table = rows_by_name(run(quantized, [(7, 1)]))
    fp8 = Fraction(8) + Fraction(32, 128 * 128)
    # HF's fp8 quantizer skips the compressor and indexer kv/gate/weights projections
    for name in ("Attn - CSA_KV_Gate_Proj", "Attn - HCA_KV_Gate_Proj", "Attn - Index_Proj"):
        assert table[name].param_bytes == table[name].params * 2
    for name in ("Attn - Q_B_Proj", "Attn - Index_Q_Proj", "Attn - O_A_Proj"):
        assert table[name].param_bytes == table[name].params * fp8 / 8
    # hyper-connection weights are float32 whatever the checkpoint
    assert table["Attn - HC_Proj"].param_bytes == 4 * 128


# --- config errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"compress_ratios": [0, 4, 128]}, "compress_ratios"),  # 3 for 4 layers
        ({"compress_ratios": [0, 4, 128, 4, 0, 0]}, "compress_ratios"),  # 2 beyond 1 MTP layer
        ({"compress_ratios": [0, 4, 64, 4]}, "compress_ratios"),  # no such kind
        ({"compress_ratios": "0,4"}, "compress_ratios"),
        ({"layer_types": ["sliding_attention"] * 3}, "layer_types"),
        ({"compress_rates": {"compressed_sparse_attention": 0}}, "compressed_sparse_attention"),
        ({"compress_rates": {"csa": 4}}, "compress_rates"),
        ({"o_groups": 3}, "o_groups"),
        ({"qk_rope_head_dim": 3}, "qk_rope_head_dim"),
        ({"qk_rope_head_dim": None, "partial_rotary_factor": 2}, "partial_rotary_factor"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"scoring_func": "relu"}, "scoring_func"),
        ({"swiglu_limit": "ten"}, "swiglu_limit"),
        ({"mlp_layer_types": ["moe"]}, "mlp_layer_types"),
        ({"mlp_layer_types": [["moe"]] * 4}, "mlp_layer_types"),
        ({"num_hash_layers": -1}, "num_hash_layers"),
        ({"hc_mult": 0}, "hc_mult"),
        ({"index_topk": 0}, "index_topk"),
        ({"mlp_bias": True}, "mlp_bias"),
    ],
)
def test_bad_fields_are_one_line_naming_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DeepseekV4ConfigParser({**TINY, **change})
    message = str(caught.value)
    assert key in message and "\n" not in message


def test_layer_type_sources() -> None:
    explicit = ["heavily_compressed_attention"] * 4
    assert DeepseekV4ConfigParser({**TINY, "layer_types": explicit}).dims.layer_types == tuple(
        explicit
    )
    # neither: HF's default, two HCA layers then CSA and HCA alternating
    bare = {k: v for k, v in TINY.items() if k != "compress_ratios"}
    hca, csa = "heavily_compressed_attention", "compressed_sparse_attention"
    assert DeepseekV4ConfigParser(bare).dims.layer_types == (hca, hca, hca, csa)
