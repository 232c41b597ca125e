"""Gemma 4 against hand counts: the tiny config of tests/end-to-end/configs/tiny-gemma4 (every
layer kind of the family), its golden case, the real configs' shapes, the invariants of its layer
kinds (hypothesis) and its config errors.

The tiny config: h = 8, V = 32, 4 layers [sliding, full, sliding, full], window 4; 2 query heads;
sliding layers 2 KV heads of d = 4, full layers 1 KV head of d = 8 (`num_global_key_value_heads`,
`global_head_dim`) with k_eq_v (no v_proj); full layers rotate 2 * int(0.5 * 8 // 2) = 4 dims;
the last 2 layers reuse layers 0 and 1's K and V (`num_kv_shared_layers`) and have a double-wide
MLP (2 x 6); every layer has 4 experts of width 2 (top 2) beside the dense MLP; per-layer inputs
of p = 2 from a 16-row table; tied, soft-capped logits; bfloat16.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ROOT
from helpers import golden, row_costs, run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.errors import AnalyzerError, ConfigError, UnsupportedModelError
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import Gemma4ConfigParser, select_parser

TINY = tiny_config("tiny-gemma4")
NEXT_DIR = ROOT.parent / "shared" / "reference" / "configs-next"


# --- parameters, by hand from HF's tensors ---------------------------------------------------
# every layer: 4 sandwich norms 4 x 8 = 32; per-layer input gate 8x2 + projection 2x8 + its norm
# 8 = 40; router scale 8 + per_expert_scale 4 + proj 8x4 = 44; experts 4 x (gate_up 4x8 + down
# 8x2) = 192; post_feedforward_layernorm_1/2 and pre_feedforward_layernorm_2 = 24. Sum 332.
COMMON = 32 + 40 + 44 + 192 + 24
LAYER_0 = 4 * 64 + 4 + 4 + 3 * 8 * 6 + COMMON  # q k v o 8x8, q/k norms of 4, MLP 8 -> 6: 740
LAYER_1 = 8 * 16 + 8 * 8 + 16 * 8 + 8 + 8 + 3 * 8 * 6 + COMMON  # q 8->16, k 8->8, o, norms: 812
LAYER_2 = 2 * 64 + 4 + 3 * 8 * 12 + COMMON  # q and o only, q norm; double-wide MLP: 752
LAYER_3 = 8 * 16 + 16 * 8 + 8 + 3 * 8 * 12 + COMMON  # 884
# embedding 32x8; per-layer table 16 x (4 x 2), projection 8 x 8, its norm 2; final norm 8
PARAMETERS = 256 + 128 + 64 + 2 + LAYER_0 + LAYER_1 + LAYER_2 + LAYER_3 + 8
# transformers 5.24's Gemma4ForCausalLM built from this config counts the same
HF_PARAMETERS = 3646


def test_tiny_parameters_by_hand() -> None:
    assert (LAYER_0, LAYER_1, LAYER_2, LAYER_3) == (740, 812, 752, 884)
    assert PARAMETERS == HF_PARAMETERS
    report = run(TINY, [(6, 1), (0, 3)])
    assert report.parameters["total"] == PARAMETERS
    assert report.parameters["router"] == 4 * 44
    assert report.parameters["mlp_dense"] == 2 * 3 * 8 * 6 + 2 * 3 * 8 * 12
    # attention: layers 0-3 projections (k_eq_v and KV-shared layers hold fewer)
    assert report.parameters["attention"] == 256 + 320 + 128 + 256


# --- state ------------------------------------------------------------------------------------
# A query with 6 cached + 1 new ends at L = 7, the prefill at L = 3. Sliding layer 0 keeps
# min(L, 4 - 1) tokens of K and V: 2 heads x (4 + 4) x 2 B = 32 B each; full layer 1 keeps L tokens
# of 1 head x (8 + 8) x 2 B = 32 B; layers 2 and 3 keep nothing (they read 0 and 1's).
STATE = (3 + 3) * 32 + (7 + 3) * 32


def test_tiny_state_by_hand() -> None:
    report = run(TINY, [(6, 1), (0, 3)])
    assert report.kv_cache_bytes == STATE == 512
    parts = {part.name: part for part in report.storage_parts}
    assert parts["KV cache"].bytes == 512
    assert parts["KV cache"].growth == "per_token/window"


# --- FLOPs --------------------------------------------------------------------------------------
# T = 4 new tokens. Matmul FLOPs (2 per multiply-add):
#   per-layer embedding projection 2*4*8*8 = 512
#   layer 0: qkv 2*4*8*24 = 1536, o 2*4*8*8 = 512; SDPA: the decode token attends keys 3..6 (4),
#            the prefill 1+2+3 = 6 pairs: 2 heads x (4+4) x 2 x 10 = 320
#   layer 1: qk 2*4*8*(16+8) = 1536, o 2*4*16*8 = 1024; SDPA: 7 + 6 = 13 pairs x 2 x 2 x 16 = 832
#   layer 2: q 2*4*8*8 = 512, o 512, SDPA 320;  layer 3: q 1024, o 1024, SDPA 832
#   dense MLP: layers 0-1 2*4*8*12 + 2*4*6*8 = 1152 each; layers 2-3 2*4*8*24 + 2*4*12*8 = 2304
#   every layer: router 2*4*8*4 = 256, experts (8 token rows) 2*8*8*4 + 2*8*2*8 = 768,
#                per-layer input 2*4*8*2 + 2*4*2*8 = 256
#   LM head: 2 queries x 2*8*32 = 1024
MATMUL = (
    512
    + (1536 + 512 + 320)
    + (1536 + 1024 + 832)
    + (512 + 512 + 320)
    + (1024 + 1024 + 832)
    + 2 * 1152
    + 2 * 2304
    + 4 * (256 + 768 + 256)
    + 1024
)


def test_tiny_flops_by_hand() -> None:
    report = run(TINY, [(6, 1), (0, 3)])
    rows = {row.name: row for row in report.rows}
    assert report.total.matmul_flops == MATMUL == 23552
    # softmax: 5 per score (2 heads x 10 pairs) + one divide per output (4 tokens x 2 x 4)
    assert rows["Attn - SDPA (window 4)"].cost.flops == 320 + 5 * 2 * 10 + 4 * 2 * 4
    assert rows["Attn - SDPA (window 4)"].blocks == 2  # layer 2 attends over layer 0's cache
    assert rows["Attn - Global_SDPA"].cost.flops == 832 + 5 * 2 * 13 + 4 * 2 * 8
    # q/k norms with gains: (4 + 2 heads... ) layer 0: 4 x (2 + 2) rows of 4, 4 FLOPs per
    # element + 3 per row; the gain-less v norm 3 per element
    assert rows["Attn - QK_Norm"].cost.flops == 4 * 64 + 3 * 16
    assert rows["Attn - V_Norm"].cost.flops == 3 * 32 + 3 * 8
    # RoPE: 3 FLOPs per rotated element; full layers rotate 4 of 8 dims of 2 + 1 heads
    assert rows["Attn - Global_RoPE"].cost.flops == 3 * 4 * 3 * 4
    assert rows["Attn - Global_Q_RoPE"].cost.flops == 3 * 4 * 2 * 4
    # the router's norm: RMSNorm with the scale vector as gain (4/element + 3/row) + h^-0.5
    assert rows["Ffn - Router_Norm"].cost.flops == 4 * 32 + 3 * 4 + 32
    assert rows["Ffn - Router_ExpertScale"].cost.flops == 4 * 2
    # logits of the 2 queries, soft-capped: 3 FLOPs each
    assert rows["LM Head"].cost.flops == 1024 + 3 * 2 * 32


def test_tiny_decode_matches_hf() -> None:
    """transformers 5.24, this config on the meta device (eager, batched experts): one token after
    511 cached costs 71,360 matmul FLOPs (FlopCounterMode) and the cache holds 16,488 B
    (16,480 of keys and values + the sliding layer's 8-byte window tensor)."""
    report = run(TINY, [(511, 1)])
    assert report.total.matmul_flops == 71_360
    assert report.kv_cache_bytes == 16_488 - 8
    # by hand: sliding 3 tokens x 32 B; full 512 x 32 B
    assert report.kv_cache_bytes == 3 * 32 + 512 * 32


def test_golden_case_agrees_with_the_hand_counts() -> None:
    doc = golden("tiny_gemma4_mixed_json")
    assert doc["model"]["model_type"] == "gemma4_text"
    assert doc["parameters"]["total"] == PARAMETERS
    assert doc["storage"]["kv_cache_bytes"] == STATE
    assert doc["total"]["matmul_flops"] == MATMUL
    assert doc["storage"]["weight_bytes"] == 2 * PARAMETERS


# --- the real configs ---------------------------------------------------------------------------


def _real(stem: str) -> dict[str, Any]:
    path = NEXT_DIR / f"{stem}.json"
    if not path.exists():
        pytest.skip(f"{NEXT_DIR} is absent: the 2026 configs are third-party and not committed")
    return json.loads(path.read_text())


def test_31b_parameters_and_state_from_the_modeling_code() -> None:
    # h = 5376, 60 layers (50 sliding, 10 full), 32 heads; sliding: 16 KV heads of 256; full: 4
    # KV heads of 512, k_eq_v; MLP 21504; V = 262144, tied.
    config = _real("nvidia__Gemma-4-31B-IT-NVFP4")
    h = 5376
    sliding = h * 32 * 256 * 2 + h * 16 * 256 * 2 + 256 * 2 + 4 * h + 3 * h * 21504
    full = h * 32 * 512 * 2 + h * 4 * 512 + 512 * 2 + 4 * h + 3 * h * 21504
    parameters = 262144 * h + 50 * sliding + 10 * full + h
    assert parameters == 30_697_345_280  # transformers 5.24 builds as many
    # the modelopt NVFP4 weight formats are another matter (see test_reference_next.OPTIONS)
    parser = Gemma4ConfigParser(config, weight_dtype="bfloat16")
    report = analyze(parser, QueryConfig.from_lists((511,), (1,)))
    assert report.parameters["total"] == parameters
    # at 512 tokens, bf16: sliding 2 x 16 x 256 x 512 x 2 B, full 2 x 4 x 512 x 512 x 2 B
    assert report.kv_cache_bytes == 50 * 8_388_608 + 10 * 4_194_304


def test_26b_layers_by_hand() -> None:
    config = _real("google__gemma-4-26B-A4B")
    report = analyze(Gemma4ConfigParser(config), QueryConfig.from_lists((511,), (1,)))
    rows = {row.name: row for row in report.rows}
    h = 2816
    assert rows["Attn - QKV_Proj"].params == h * (16 + 8 + 8) * 256
    assert rows["Attn - Global_QK_Proj"].params == h * (16 + 2) * 512  # no v_proj
    assert rows["Ffn - RoutedExp_GateUp_Proj"].params == 128 * h * 2 * 704
    assert rows["Ffn - GateUp_Proj"].params == h * 2 * 2112
    assert rows["Attn - Global_RoPE"].cost.flops == 3 * (16 + 2) * 128  # 0.25 x 512 rotated
    # decode: 8 of 128 experts read
    assert rows["Ffn - RoutedExp_GateUp_Proj"].cost.matmul_flops == 2 * 8 * h * 2 * 704


# --- invariants (hypothesis) --------------------------------------------------------------------

queries = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), min_size=1, max_size=3)


@st.composite
def gemma4_configs(draw: st.DrawFn, tp: int = 1) -> dict[str, Any]:
    kv = tp * draw(st.integers(1, 2))
    global_kv = tp * draw(st.integers(1, 2))
    heads = kv * global_kv * draw(st.integers(1, 2))
    layers = draw(st.integers(1, 6))
    types = draw(
        st.lists(st.sampled_from(["sliding_attention", "full_attention"]), min_size=layers,
                 max_size=layers)
    )  # fmt: skip
    types[-1] = "full_attention"
    producers = next(i for i in range(layers, 0, -1) if set(types[:i]) == set(types))
    moe = draw(st.booleans())
    experts = tp * draw(st.integers(1, 2))
    config = {
        "model_type": "gemma4_text",
        "hidden_size": 4 * draw(st.integers(1, 3)),
        "num_hidden_layers": layers,
        "layer_types": types,
        "sliding_window": draw(st.integers(1, 12)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "head_dim": draw(st.sampled_from([2, 4])),
        "global_head_dim": draw(st.sampled_from([4, 8])),
        "num_global_key_value_heads": global_kv,
        "attention_k_eq_v": draw(st.booleans()),
        "intermediate_size": tp * draw(st.integers(1, 4)),
        "use_double_wide_mlp": draw(st.booleans()),
        "num_kv_shared_layers": draw(st.integers(0, layers - producers)),
        "enable_moe_block": moe,
        "num_experts": experts,
        "top_k_experts": experts,  # every expert read: the traffic is exact under any split
        "moe_intermediate_size": tp * draw(st.integers(1, 3)),
        "hidden_size_per_layer_input": draw(st.integers(0, 3)),
        "vocab_size_per_layer_input": 16,
        "vocab_size": 8 * tp,
        "final_logit_softcapping": 30.0,
        "dtype": "bfloat16",
    }
    return config


@given(gemma4_configs(), queries, st.integers(1, 50), st.integers(1, 50))
def test_windows_longer_than_every_context_are_alike(config, qs, a: int, b: int) -> None:
    longest = max(c + n for c, n in qs)
    one = run({**config, "sliding_window": longest + a}, qs)
    other = run({**config, "sliding_window": longest + b}, qs)
    assert row_costs(one) == row_costs(other)
    assert one.kv_cache_bytes == other.kv_cache_bytes


@given(gemma4_configs(), queries, st.integers(1, 4))
def test_kv_shared_layers_keep_nothing(config, qs, extra: int) -> None:
    """Appending layers that reuse earlier K and V adds no state."""
    types = config["layer_types"] + ["full_attention"] * extra
    deeper = {
        **config,
        "num_hidden_layers": len(types),
        "layer_types": types,
        "num_kv_shared_layers": config["num_kv_shared_layers"] + extra,
    }
    assert run(deeper, qs).kv_cache_bytes == run(config, qs).kv_cache_bytes


@given(gemma4_configs(), st.integers(1, 40), st.integers(1, 10**6))
def test_only_the_full_layers_grow_past_the_window(config, length: int, more: int) -> None:
    window = config["sliding_window"]
    short = run(config, [(window + length - 1, 1)])
    long = run(config, [(window + length + more - 1, 1)])
    parser = Gemma4ConfigParser(config)
    d = parser.dims
    growing = sum(
        2 * d.kv_heads[i] * d.head_dims[i] * 2  # K and V, bf16
        for i, kind in enumerate(d.layer_types)
        if kind == "full_attention" and i < d.num_layers - d.kv_shared_layers
    )
    assert long.kv_cache_bytes - short.kv_cache_bytes == more * growing


@given(gemma4_configs(), queries, st.integers(1, 4), st.integers(1, 4))
def test_one_expert_of_top_1_costs_a_dense_mlp(config, qs, width: int, experts: int) -> None:
    moe = {**config, "enable_moe_block": True, "num_experts": 1, "top_k_experts": 1,
           "moe_intermediate_size": width, "use_double_wide_mlp": False}  # fmt: skip
    dense = {**config, "enable_moe_block": False, "intermediate_size": width,
             "use_double_wide_mlp": False}  # fmt: skip
    routed = {r.name.replace("RoutedExp_", ""): r for r in run(moe, qs).rows}
    plain = {r.name: r for r in run(dense, qs).rows}
    for name in ("Ffn - GateUp_Proj", "Ffn - ActMul", "Ffn - Down_Proj"):
        assert (routed[name].cost, routed[name].params) == (plain[name].cost, plain[name].params)


@settings(max_examples=60)
@given(st.sampled_from([2, 4]).flatmap(lambda tp: st.tuples(st.just(tp), gemma4_configs(tp))),
       queries)  # fmt: skip
def test_tensor_parallel_split_adds_up(case, qs) -> None:
    """Per device x TP, the split (not replicated) rows of the blocks cost what one device does."""
    tp, config = case
    single = run(config, qs)
    split = run(config, qs, Parallelism(tp))

    def split_ops(report: Report) -> tuple:
        kept = [r for r in report.rows if r.per_block and not r.replicated and r.comm is None]
        return (
            sum(r.cost.flops * r.blocks for r in kept),
            sum(r.cost.weight_bytes * r.blocks for r in kept),
            sum(r.param_bytes * r.blocks for r in kept),
        )

    assert tuple(tp * value for value in split_ops(split)) == split_ops(single)
    assert tp * split.kv_cache_bytes == single.kv_cache_bytes
    assert split.parameters == single.parameters


def test_expert_parallel_moves_the_routed_reduction() -> None:
    config = {**TINY, "num_experts": 4, "intermediate_size": 6}
    names = [r.name for r in run(config, [(6, 1)], Parallelism(2, 1, 2)).rows]
    assert "Ffn - Dispatch" in names and "Ffn - Combine" in names
    assert "Ffn - RoutedExp_AllReduce" not in names
    assert "Ffn - AllReduce" in names  # the dense MLP's partial sums
    names = [r.name for r in run(config, [(6, 1)], Parallelism(2)).rows]
    assert {"Ffn - AllReduce", "Ffn - RoutedExp_AllReduce"} <= set(names)


# --- config handling ----------------------------------------------------------------------------


def test_defaults_follow_gemma4_text_config() -> None:
    bare = {
        "model_type": "gemma4_text",
        "hidden_size": 8,
        "num_hidden_layers": 7,
        "num_attention_heads": 4,
        "intermediate_size": 8,
        "vocab_size": 16,
    }
    d = Gemma4ConfigParser(bare).dims
    # 5 sliding : 1 full, and the last layer forced to full
    assert d.layer_types == ("sliding_attention",) * 5 + ("full_attention",) * 2
    assert d.sliding_window == 512
    assert d.head_dims == (256,) * 5 + (512,) * 2  # head_dim 256, global_head_dim 512
    assert d.kv_heads == (4,) * 7  # no k_eq_v: full layers keep num_key_value_heads
    assert d.rot_dims == (256,) * 5 + (128,) * 2  # proportional RoPE, 0.25
    assert d.per_layer_width == 256 and d.per_layer_vocab == 262_144
    assert d.tie_word_embeddings and not d.final_logit_softcapping and not d.moe


def test_an_explicit_per_layer_config_sets_the_shapes() -> None:
    full = {"head_dim": 16, "num_key_value_heads": 2}
    config = {**TINY, "per_layer_config": {"1": full, "3": full}}
    d = Gemma4ConfigParser(config).dims
    assert d.head_dims == (4, 16, 4, 16) and d.kv_heads == (2, 2, 2, 2)


TOO_WIDE = {"rope_type": "proportional", "partial_rotary_factor": 2}


@pytest.mark.parametrize(
    ("change", "error", "names"),
    [
        ({"layer_types": ["sliding_attention"]}, ConfigError, "layer_types"),
        ({"num_kv_shared_layers": 5}, ConfigError, "num_kv_shared_layers"),
        ({"num_kv_shared_layers": 3}, ConfigError, "num_kv_shared_layers"),
        ({"top_k_experts": 5}, ConfigError, "top_k_experts"),
        ({"num_experts": None}, ConfigError, "num_experts"),
        ({"num_global_key_value_heads": 3}, ConfigError, "num_key_value_heads"),
        ({"sliding_window": 0}, ConfigError, "sliding_window"),
        ({"hidden_size_per_layer_input": -1}, ConfigError, "hidden_size_per_layer_input"),
        ({"attention_k_eq_v": "yes"}, ConfigError, "attention_k_eq_v"),
        ({"rope_parameters": {"full_attention": {}}}, ConfigError, "rope_parameters"),
        (
            {"rope_parameters": {**TINY["rope_parameters"], "full_attention": TOO_WIDE}},
            ConfigError,
            "partial_rotary_factor",
        ),
        ({"per_layer_config": {"9": {"head_dim": 8}}}, ConfigError, "per_layer_config"),
        ({"per_layer_config": {"1": {"head_dim": 0}}}, ConfigError, "head_dim"),
        ({"per_layer_config": {"1": {"head_dim": 16}}}, ConfigError, "per_layer_config"),
        (
            {"per_layer_config": {"1": {"sliding_window": 8}}},
            UnsupportedModelError,
            "sliding_window",
        ),
        (
            {"use_bidirectional_attention": "all"},
            UnsupportedModelError,
            "use_bidirectional_attention",
        ),
        ({"use_bidirectional_attention": 1}, ConfigError, "use_bidirectional_attention"),
        ({"hidden_activation": "swiglu2"}, ConfigError, "hidden_activation"),
    ],
)
def test_bad_fields_are_one_line_naming_the_key(change, error, names: str) -> None:
    config = {**TINY, **change}
    with pytest.raises(error) as caught:
        Gemma4ConfigParser(config)
    message = str(caught.value)
    assert names in message and "\n" not in message
    assert isinstance(caught.value, AnalyzerError)


def test_nested_text_config_and_its_architectures() -> None:
    nested = {
        "model_type": "gemma4",
        "architectures": ["Gemma4ForConditionalGeneration"],
        "text_config": {**TINY, "model_type": "gemma4_text"},
        "vision_config": {"model_type": "gemma4_vision"},
    }
    report = run(nested, [(6, 1), (0, 3)])
    assert report.parameters["total"] == PARAMETERS
    with pytest.raises(UnsupportedModelError, match="Gemma4ForConditionalGeneration"):
        select_parser({**TINY, "architectures": ["Gemma4AudioModel"]})


def test_categories_of_the_new_rows() -> None:
    rows = {r.name: r for r in run(TINY, [(0, 2)]).rows}
    assert rows["Ffn - Router_Norm"].category is Category.ROUTER
    assert rows["Ffn - Router_ExpertScale"].category is Category.ROUTER
    assert rows["PerLayer Embedding"].category is Category.EMBEDDING
    assert rows["PerLayer - Gate_Proj"].category is Category.OTHER
    assert rows["Ffn - Post_RMSNorm_2"].category is Category.NORM
