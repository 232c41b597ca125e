"""Nemotron-H: the tiny hand-written config (tests/end-to-end/configs/tiny-nemotron-h: Mamba-2,
attention, latent MoE and MLP layers) counted by hand and against what HuggingFace's own
NemotronHForCausalLM gives for it, the layer pattern and its errors, and the invariants of the
Mamba-2 layer (hypothesis).

HF's figures for the tiny config were measured with transformers 5.24 / torch 2.13 on the meta
device (the method of tests/reference: eager attention, FlopCounterMode, decode = 511 cached
tokens then 1): 2,296 parameters; a cache of 8,736 B at 512 tokens (each Mamba layer
conv_states [1, 24, 3] bf16 + recurrent_states [1, 4, 2, 4] fp32 = 272 B, the attention layer
keys and values [1, 1, 512, 4] bf16 = 8,192 B); decode matmul FLOPs 20,480, of which 576 are
the Mamba convolutions (HF convolves its 3 cached columns and the new one: 2 outputs x 24
channels x 3 taps x 2 FLOPs x 2 layers); 512-token prefill: 2,457,728 bmm FLOPs in the Mamba
layers.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import golden, rows_by_name, run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core import ops
from transformer_roofline.core.errors import ConfigError, UsageError
from transformer_roofline.core.layers import Mamba2
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.report import Report
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import NemotronHConfigParser, select_parser

TINY: dict[str, Any] = tiny_config("tiny-nemotron-h")


# --- the tiny config by hand -------------------------------------------------------------------
# h = 8, V = 32, pattern "M*E-M". Mamba: H = 4 heads of P = 2 (inner I = 8), N = 4, G = 2 groups,
# K = 3 taps, chunks of 4; conv_dim = I + 2 G N = 8 + 16 = 24; in_proj 8 -> 8 (z) + 24 + 4 (dt).
# Attention: 2 heads, 1 KV head, d = 4. MoE: 4 experts of 4, top-2, latent 4, shared expert 8.
# MLP: 16. bf16 (2 B).
MAMBA_PARAMS = 8 + 8 * 36 + (24 * 3 + 24) + 3 * 4 + 8 + 8 * 8  # norm, in, conv, A/D/dt, gnorm, out
ATTN_PARAMS = 8 + 8 * 8 + 8 * 4 + 8 * 4 + 8 * 8  # norm, q, k, v, o = 200
MOE_PARAMS = 8 + 4 * 8 + 8 * 4 + 4 * (4 * 4 + 4 * 4) + 4 * 8 + (8 * 8 + 8 * 8)  # = 360
MLP_PARAMS = 8 + 8 * 16 + 16 * 8  # = 264
ENDS_PARAMS = 32 * 8 + 8 + 8 * 32  # embedding, final norm, untied LM head
TINY_PARAMETERS = 2 * MAMBA_PARAMS + ATTN_PARAMS + MOE_PARAMS + MLP_PARAMS + ENDS_PARAMS
HF_TINY_PARAMETERS = 2296  # HF's NemotronHForCausalLM built from the tiny config


def test_tiny_parameters_by_hand_are_hf_s() -> None:
    assert MAMBA_PARAMS == 476 and TINY_PARAMETERS == HF_TINY_PARAMETERS
    report = run(TINY, [(3, 10)])
    assert report.parameters["total"] == TINY_PARAMETERS
    # HF's reference split counts the gated norm of each Mamba layer among the norms: 6 RMSNorms
    # of the residual stream + 2 group norms, 8 each
    assert report.parameters["norms"] == 8 * 8
    assert report.parameters["mixers"] == 2 * (MAMBA_PARAMS - 8 - 8)
    # the router is float32: 4 x 8 x 4 B
    assert rows_by_name(report)["Ffn - Router"].param_bytes == 128


# Variants of the tiny config and the parameters HF's NemotronHForCausalLM holds for each (built
# on the meta device, transformers 5.24).
HF_VARIANT_PARAMETERS = [
    ({"use_bias": True, "mlp_bias": True, "use_conv_bias": False}, 2388),
    ({"moe_latent_size": None}, 2360),
    ({"mamba_n_groups": 4, "mamba_d_conv": 2, "mamba_conv_bias": False}, 2520),
    (
        {
            "hybrid_override_pattern": None,
            "layers_block_type": ["mamba", "moe", "mlp", "attention", "mamba", "mamba"],
            "num_hidden_layers": 6,
        },
        2772,
    ),
    ({"n_shared_experts": 0}, 2296),  # HF builds its one shared expert regardless
    ({"tie_word_embeddings": True}, 2296),  # and ties nothing
]


@pytest.mark.parametrize(("change", "parameters"), HF_VARIANT_PARAMETERS)
def test_variants_hold_hf_s_parameters(change: dict[str, Any], parameters: int) -> None:
    assert run({**TINY, **change}, [(0, 1)]).parameters["total"] == parameters


def test_tiny_state_by_hand_is_hf_s_cache() -> None:
    conv = 2 * 24 * 3 * 2  # two Mamba layers x conv_dim x K columns x 2 B (HF keeps K columns)
    recurrent = 2 * 4 * 2 * 4 * 4  # two layers x H x P x N x 4 B (float32)
    # 3 cached + 10 input = 13 tokens of K and V (1 KV head x (4 + 4)) at 2 B, one layer
    report = run(TINY, [(3, 10)])
    parts = {part.name: part.bytes for part in report.storage_parts if part.growth}
    assert parts == {"Conv state": 288, "Recurrent state": 256, "KV cache": 13 * 8 * 2}
    assert conv == 288 and recurrent == 256
    # at 512 tokens, decode or prefill: HF's cache for this config holds 8,736 B
    for qs in ([(511, 1)], [(0, 512)]):
        assert run(TINY, qs).kv_cache_bytes == conv + recurrent + 512 * 8 * 2 == 8736


def test_tiny_flops_by_hand() -> None:
    rows = rows_by_name(run(TINY, [(3, 10)]))
    assert rows["Mamba - In_Proj"].cost.flops == 2 * 10 * 8 * 36
    # 10 tokens x 24 channels x (3 multiply-adds + bias + silu 4)
    assert rows["Mamba - Conv1d"].cost.flops == 10 * 24 * (6 + 1 + 4)
    # the scan, 10 tokens in chunks of 4, 4, 2: 10 + 10 + 3 = 23 causal in-chunk pairs.
    # matmul: scores 2 N G pairs = 368, weighted sums 2 P H pairs = 368, chunk states and
    # readouts 2 x 2 x 10 tokens x 32 state elements = 1280 -> 2016
    # other: 23 pairs x 4 heads x 3 = 276; B * decay 10 x 4 x 4 = 160; passing 3 chunks x 32 x 2
    # = 192; decay scale + add 2 x 10 x 8 = 160; dt and decays 8 x 10 x 4 = 320; dt x, D x:
    # 3 x 10 x 8 = 240 -> 1348
    ssm = rows["Mamba - SSM"].cost
    assert (ssm.matmul_flops, ssm.flops) == (2016, 2016 + 1348)
    # no rotary embedding in NemotronHAttention
    assert not any("RoPE" in name for name in rows)
    # 10 new tokens after 3 cached: 10 x 3 + 55 = 85 pairs x 2 heads x 2 x (4 + 4)
    assert rows["Attn - SDPA"].cost.matmul_flops == 85 * 2 * 2 * 8
    # routed experts at the latent width: 20 token-expert rows x 4 -> 4
    assert rows["Ffn - RoutedExp_Up_Proj"].cost.flops == 2 * 20 * 4 * 4
    assert rows["Ffn - Latent_In_Proj"].cost.flops == 2 * 10 * 8 * 4
    assert rows["Ffn - RoutedExp_Act"].cost.flops == 20 * 4 * 2  # relu2
    assert rows["Ffn - Up_Proj"].cost.flops == 2 * 10 * 8 * 16  # the MLP layer, ungated


def test_tiny_golden_is_the_hand_count() -> None:
    doc = golden("tiny_nemotron_h_prefill_json")
    layers = {layer["name"]: layer for layer in doc["layers"]}
    assert doc["parameters"]["total"] == TINY_PARAMETERS
    assert doc["storage"]["kv_cache_bytes"] == 288 + 256 + 13 * 8 * 2
    assert layers["Mamba - SSM"]["flops"] == 3364 and layers["Mamba - SSM"]["blocks"] == 2
    # reads 10 x (x 8 + B, C 16 + dt 4) x 2 B = 560, the cached state 32 x 4 B = 128 and the 3
    # chunk states 3 x 32 x 4 B = 384; writes y 10 x 8 x 2 B = 160, the state and the chunk
    # states (1 + 3) x 32 x 4 B = 512
    assert (layers["Mamba - SSM"]["input_bytes"], layers["Mamba - SSM"]["output_bytes"]) == (
        560 + 128 + 384,
        160 + 512,
    )
    assert layers["Ffn - RMSNorm"]["blocks"] == 2  # the MoE and the MLP layer
    assert layers["Mamba - In_Proj"]["flops"] == 5760


def test_decode_matmul_flops_are_hf_s_but_the_convolution() -> None:
    report = run(TINY, [(511, 1)])
    matmul = sum(row.cost.matmul_flops * row.blocks for row in report.rows)
    # HF: 20,480, of which its decode convolution (not a matmul here) is 576
    assert matmul == 20480 - 576


def hf_chunked_scan_bmm(n: int, chunk: int, heads: int, head_dim: int, state: int) -> int:
    """The bmm FLOPs of HF's `mamba2_chunk_scan` for n tokens (its five einsums)."""
    c = -(-n // chunk)
    return (
        2 * c * chunk * chunk * heads * state  # C B^T, per head, whole square
        + 2 * c * chunk * chunk * heads * head_dim  # M x
        + 2 * 2 * c * chunk * heads * head_dim * state  # chunk states, readout
        + 2 * (c + 1) ** 2 * heads * head_dim * state  # state passing over all chunk pairs
    )


def test_what_flop_counter_sees_of_the_chunked_scan() -> None:
    # the closed form of core/ops.py's ssd_scan docstring reproduces HF's measured bmm FLOPs:
    # tiny, 2 layers, 512 tokens; the real Nemotron-3-Nano, 23 layers (measured-next.json)
    assert 2 * hf_chunked_scan_bmm(512, 4, 4, 2, 4) == 2_457_728
    assert 23 * hf_chunked_scan_bmm(512, 128, 64, 64, 128) == 62_343_086_080
    # ours counts causal pairs, scores per group and a linear passing of states: for the tiny
    # prefill, per layer, 128 chunks x 10 pairs: 2 x 4 x 2 x 1280 + 2 x 2 x 4 x 1280 + 4 x 512 x 32
    ssm = rows_by_name(run(TINY, [(0, 512)]))["Mamba - SSM"]
    assert ssm.cost.matmul_flops == 20480 + 20480 + 65536


# --- the layer pattern and bad input -----------------------------------------------------------


def test_pattern_list_and_legacy_names_agree() -> None:
    by_pattern = run(TINY, [(3, 10)])
    listed = {k: v for k, v in TINY.items() if k != "hybrid_override_pattern"}
    types = ["mamba", "attention", "moe", "mlp", "linear_attention"]  # legacy names remapped
    for key in ("layers_block_type", "layer_types"):
        assert run({**listed, key: types}, [(3, 10)]).rows == by_pattern.rows
    # the list wins over the pattern, as in HF
    both = {**TINY, "layers_block_type": ["mlp"] * 5}
    assert NemotronHConfigParser(both).dims.layer_types == ("mlp",) * 5


def test_legacy_mamba_keys_win() -> None:
    legacy = {**TINY, "mamba_n_groups": 4, "mamba_d_conv": 2, "mamba_chunk_size": 8}
    d = NemotronHConfigParser(legacy).dims
    assert (d.n_groups, d.conv_kernel, d.chunk_size) == (4, 2, 8)


def test_the_lm_head_is_never_tied() -> None:
    # HF's NemotronHForCausalLM ties nothing: the same 2,296 parameters with tie_word_embeddings
    report = run({**TINY, "tie_word_embeddings": True}, [(0, 1)])
    assert report.parameters["total"] == HF_TINY_PARAMETERS
    assert report.parameters["lm_head"] == 32 * 8


def test_num_key_value_heads_default_and_null() -> None:
    without = {k: v for k, v in TINY.items() if k != "num_key_value_heads"}
    assert NemotronHConfigParser({**without, "num_attention_heads": 8}).dims.num_kv_heads == 8
    null = {**TINY, "num_key_value_heads": None}
    assert NemotronHConfigParser(null).dims.num_kv_heads == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hybrid_override_pattern": "M*X-M"}, "'hybrid_override_pattern' has unknown layer"),
        ({"num_hidden_layers": 4}, "'num_hidden_layers' (4) disagrees with the 5 layers"),
        ({"hybrid_override_pattern": ""}, "'hybrid_override_pattern' is empty"),
        ({"hybrid_override_pattern": None}, "missing required field 'hybrid_override_pattern'"),
        ({"layers_block_type": ["mamba", "ssm"]}, "'layers_block_type' must be a non-empty list"),
        ({"layer_types": "M*E"}, "'layer_types' must be a non-empty list"),
        ({"layer_types": [["moe"]]}, "'layer_types' must be a non-empty list"),
        ({"n_groups": 3}, "mamba_num_heads (4) is not a multiple of 'n_groups' (3)"),
        ({"mamba_n_groups": 3}, "is not a multiple of 'mamba_n_groups' (3)"),
        ({"num_key_value_heads": 3}, "num_attention_heads (2) is not a multiple"),
        ({"mlp_hidden_act": "relu3"}, "unknown activation 'relu3' in 'mlp_hidden_act'"),
        ({"num_experts_per_tok": 5}, "'num_experts_per_tok' (5) exceeds the number of experts"),
        ({"ssm_state_size": 0}, "'ssm_state_size' must be an integer >= 1"),
        ({"use_conv_bias": "yes"}, "'use_conv_bias' must be true or false"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        NemotronHConfigParser({**TINY, **change})
    text = str(error.value)
    assert message in text and "\n" not in text and text.startswith("nemotron_h config")


def test_registered_with_its_architecture() -> None:
    assert select_parser(TINY) is NemotronHConfigParser


# --- tensor parallelism ------------------------------------------------------------------------


def test_tensor_parallel_splits_heads_and_groups() -> None:
    single, split = run(TINY, [(3, 10)]), run(TINY, [(3, 10)], Parallelism(2))
    rows = rows_by_name(split)
    # 2 heads and 1 group per rank: in_proj 8 -> 4 (z) + 4 + 2 x 4 (x, B, C) + 2 (dt)
    assert rows["Mamba - In_Proj"].params == 8 * 18
    assert rows["Mamba - Conv1d"].params == 12 * 3 + 12
    states = {part.name: part.bytes for part in split.storage_parts if part.growth}
    assert states["Recurrent state"] * 2 == 256
    assert states["Conv state"] == 2 * 12 * 3 * 2  # 12 channels per rank
    assert rows["Mamba - AllReduce"].comm is not None
    assert split.parameters == single.parameters


def test_groups_are_replicated_when_fewer_than_ranks() -> None:
    config = {**TINY, "n_groups": 1, "num_attention_heads": 4, "num_key_value_heads": 4}
    report = run(config, [(0, 4)], Parallelism(4))
    rows = rows_by_name(report)
    # 1 head per rank and the one group's B and C: in_proj 8 -> 2 + (2 + 2 x 4) + 1
    assert rows["Mamba - In_Proj"].params == 8 * 13
    # the group norm: each rank normalises its 2 features of the one group
    assert rows["Mamba - GroupNorm"].params == 2
    assert any("Conv state of Mamba2 layers is replicated" in note for note in report.notes)
    with pytest.raises(UsageError, match="n_groups \\(2\\) neither divides it"):
        run({**TINY, "mamba_num_heads": 6}, [(0, 4)], Parallelism(3))


# --- invariants (hypothesis) -------------------------------------------------------------------


@st.composite
def nemotron_configs(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 2, 4]))
    return {
        **TINY,
        "hybrid_override_pattern": draw(st.text("M*E-", min_size=1, max_size=6)),
        "num_hidden_layers": None,
        "mamba_num_heads": groups * draw(st.integers(1, 3)),
        "mamba_head_dim": draw(st.integers(1, 4)),
        "ssm_state_size": draw(st.integers(1, 8)),
        "n_groups": groups,
        "conv_kernel": draw(st.integers(2, 4)),
        "chunk_size": draw(st.integers(1, 8)),
        "use_bias": draw(st.booleans()),
        "moe_latent_size": draw(st.sampled_from([None, 4])),
    }


queries = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12)), min_size=1, max_size=3)


@given(nemotron_configs())
def test_mamba_state_is_the_same_at_1k_and_1m_tokens(config) -> None:
    only_mamba = {**config, "hybrid_override_pattern": "MM"}
    assert (
        run(only_mamba, [(999, 1)]).kv_cache_bytes
        == run(only_mamba, [(999_999, 1)]).kv_cache_bytes
        == run(only_mamba, [(0, 7)]).kv_cache_bytes
    )


@given(nemotron_configs(), queries)
def test_a_hybrid_is_the_sum_of_its_layer_kinds(config, qs) -> None:
    """Block rows of the hybrid = those of one-kind models of the same layers; so are the
    parameters of the blocks and the state."""

    def blocks(report: Report) -> tuple[int, int, Any]:
        kept = [row for row in report.rows if row.per_block]
        return (
            sum(row.cost.flops * row.blocks for row in kept),
            sum(row.params * row.blocks for row in kept),
            report.kv_cache_bytes,
        )

    pattern = config["hybrid_override_pattern"]
    whole = blocks(run(config, qs))
    parts = [
        blocks(run({**config, "hybrid_override_pattern": letter * pattern.count(letter)}, qs))
        for letter in set(pattern)
    ]
    assert whole == tuple(sum(part[i] for part in parts) for i in range(3))


@settings(max_examples=60)
@given(nemotron_configs(), queries, st.sampled_from([1, 2, 4]))
def test_mamba_split_rows_add_up_over_ranks(config, qs, tp: int) -> None:
    """Heads and groups divide TP here: per-device FLOPs, weights and state of the Mamba rows
    x TP are the single device's. (Without biases: every rank holds out_proj's bias of h, as
    for any row-parallel projection here.)"""
    config = {**config, "hybrid_override_pattern": "M", "mamba_num_heads": 4 * tp}
    config["use_bias"] = False
    config["n_groups"] = min(config["n_groups"] * tp, 4 * tp)

    def mamba(report: Report) -> tuple[int, int, int, Any]:
        kept = [r for r in report.rows if r.name.startswith("Mamba") and not r.replicated]
        kept = [r for r in kept if r.comm is None]
        return (
            sum(r.cost.flops for r in kept),
            sum(r.cost.matmul_flops for r in kept),
            sum(r.params for r in kept),
            sum(r.cost.weight_bytes for r in kept),
        )

    single, split = run(config, qs), run(config, qs, Parallelism(tp))
    assert tuple(tp * value for value in mamba(split)) == mamba(single)
    assert tp * split.kv_cache_bytes == single.kv_cache_bytes


@given(
    st.integers(1, 6),
    st.integers(2, 16),
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(1, 3),
    st.integers(0, 99),
)
def test_chunked_scan_is_linear_in_chunks(chunks, chunk, heads, state, groups, cached) -> None:
    """Unlike HF's einsum over all chunk pairs, a prefill of k full chunks costs k times one
    chunk's FLOPs (the state read, once per query, aside)."""

    def scan(new: int) -> ops.Cost:
        return ops.ssd_scan(
            [((cached, new), 1)],
            heads=heads * groups,
            head_dim=2,
            state_size=state,
            groups=groups,
            chunk=chunk,
            w_act=2,
            w_state=4,
            w_weight=2,
        )

    one, many = scan(chunk), scan(chunks * chunk)
    assert (many.flops, many.matmul_flops) == (chunks * one.flops, chunks * one.matmul_flops)


@given(nemotron_configs(), st.integers(1, 50))
def test_mamba_weights_read_do_not_depend_on_tokens(config, tokens: int) -> None:
    config = {**config, "hybrid_override_pattern": "M"}
    a, b = rows_by_name(run(config, [(0, tokens)])), rows_by_name(run(config, [(3, 1)]))
    for name in ("Mamba - In_Proj", "Mamba - Conv1d", "Mamba - SSM", "Mamba - Out_Proj"):
        assert a[name].cost.weight_bytes == b[name].cost.weight_bytes
        assert a[name].category is b[name].category is Category.MIXER


def test_mamba2_is_registered() -> None:
    from transformer_roofline.core.layers import MIXERS

    assert MIXERS["mamba2"] is Mamba2
