"""Qwen3.5 (Gated DeltaNet + gated attention, dense and MoE) and the Qwen3-VL aliases: hand counts
of the tiny configs' goldens, the chunked recurrence against HF's counter, and the invariants of
the new layer kind (hypothesis)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from helpers import golden, step, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core import ops
from transformer_roofline.core.errors import ConfigError, UsageError
from transformer_roofline.core.layers import GatedDeltaNet
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.report import Report
from transformer_roofline.core.model.rows import Row
from transformer_roofline.parsers import (
    Qwen3_5ConfigParser,
    Qwen3_5MoeConfigParser,
    Qwen3ConfigParser,
    Qwen3MoeConfigParser,
    select_parser,
)

DENSE = tiny_config("qwen3_5")
MOE = tiny_config("qwen3_5_moe")


# --- the tiny dense config: h=16, 4 layers (DeltaNet, attention, DeltaNet, attention), V=32,
# attention H=2, H_kv=1, d=8 (rotary 4), I=24; DeltaNet Hk=1, Hv=2, dk=4, dv=8, kernel 3; bf16.
# Step: one query 5 cached + 1 new, one 0 + 10: T=11 tokens.


def test_tiny_dense_parameters_by_hand() -> None:
    doc = golden("tiny_qwen3_5_mixed_json")
    # DeltaNet layer: in_proj 16 x (q 4 + k 4 + v 16 + z 16 + b 2 + a 2 = 44) = 704, conv 24 x 3
    # = 72, A_log + dt_bias 4, out_proj 16 x 16 = 256 -> 1036 mixer; gated norm gain 8.
    # Attention layer: q (with gate) 16 x 32 + k 16 x 8 + v 16 x 8 = 768, o 16 x 16 -> 1024;
    # q/k norms 8 + 8. MLP 3 x 16 x 24 = 1152 per layer; two layer norms 32 per layer.
    assert doc["parameters"] == {
        "total": 512 + 512 + 2 * (1036 + 8) + 2 * (1024 + 16) + 4 * 1152 + 4 * 32 + 16,
        "embedding": 32 * 16,
        "attention": 2 * 1024,
        "mixers": 2 * 1036,
        "mlp_dense": 4 * 1152,
        "mlp_routed_experts": 0,
        "mlp_shared_experts": 0,
        "router": 0,
        "norms": 4 * 32 + 16 + 2 * 16 + 2 * 8,
        "lm_head": 32 * 16,
        "other": 0,
    }
    assert doc["parameters"]["total"] == 9944


def test_tiny_dense_state_by_hand() -> None:
    doc = golden("tiny_qwen3_5_mixed_json")
    parts = {p["name"]: (p["bytes"], p.get("growth")) for p in doc["storage"]["parts"]}
    # 2 DeltaNet layers x 2 queries: conv 24 channels x 3 columns x 2 B; state 2 x 4 x 8 x 4 B
    assert parts["Conv state"] == (2 * 2 * 24 * 3 * 2, "fixed")
    assert parts["Recurrent state"] == (2 * 2 * 2 * 4 * 8 * 4, "fixed")
    # 2 attention layers, 6 + 10 tokens, K and V of 1 head x 8 at 2 B
    assert parts["KV cache"] == (2 * 16 * 16 * 2, "per_token")
    assert doc["storage"]["kv_cache_bytes"] == 576 + 1024 + 1024


def test_tiny_dense_deltanet_rows_by_hand() -> None:
    doc = golden("tiny_qwen3_5_mixed_json")
    rows = {r["name"]: r for r in doc["layers"]}
    assert rows["DeltaNet - In_Proj"]["flops"] == 2 * 11 * 16 * 44
    # 11 tokens x 24 channels x (3 multiply-adds + silu 4); reads the inputs and 2 queries'
    # (3 - 1) x 24 conv inputs at 2 B
    assert rows["DeltaNet - Conv1d"]["flops"] == 11 * 24 * (2 * 3 + 4)
    assert rows["DeltaNet - Conv1d"]["input_bytes"] == (11 * 24 + 2 * 2 * 24) * 2
    # q and k: 22 rows of 4 (3 per element, 3 per row) + the 1/sqrt(dk) scale of 11 x 4
    assert rows["DeltaNet - QK_L2Norm"]["flops"] == 3 * 88 + 3 * 22 + 44
    # sigmoid 4 + softplus gate 7 per (token, value head)
    assert rows["DeltaNet - Gates"]["flops"] == 11 * 11 * 2
    assert rows["DeltaNet - Gates"]["params"] == 4
    # decode step: 2 heads x (7 x 4 x 8 + 2 x 8 + 1) = 482. The 10-token prefill is one chunk
    # of 64 per head: matmul 4 x 64^2 x 4 + 2 x 64^2 x 8 + 6 x 64 x 4 x 8 + 64 x 63 x 12
    # = 191744; elementwise 4 x 64^2 + 4 x 64 x 4 + 3 x 64 x 8 + 5 x 64 + 2 x 32 + 1 = 19329
    rule = rows["DeltaNet - DeltaRule"]
    assert rule["matmul_flops"] == 2 * 191744
    assert rule["flops"] == 482 + 2 * (191744 + 19329)
    # reads q, k (4 each), v (16), g and beta (2 + 2) of 11 tokens at 2 B and the decode
    # query's float32 state (2 x 4 x 8 x 4 B); writes 11 x 16 outputs and both states
    assert rule["input_bytes"] == 11 * 28 * 2 + 256
    assert rule["output_bytes"] == 11 * 16 * 2 + 2 * 256
    # RMSNorm of 22 rows of 8 (4 per element, 3 per row) then silu(z) x over 11 x 16
    assert rows["DeltaNet - GatedNorm"]["flops"] == 4 * 176 + 3 * 22 + 5 * 176
    assert rows["DeltaNet - GatedNorm"]["category"] == "norms"
    assert rows["DeltaNet - Out_Proj"]["flops"] == 2 * 11 * 16 * 16
    # gated attention: q doubled; q/k norms with (1 + g): 5 per element; rotary 4 of 8
    assert rows["Attn - QKV_Proj"]["flops"] == 2 * 11 * 16 * 48
    assert rows["Attn - QK_Norm"]["flops"] == 5 * 33 * 8 + 3 * 33
    assert rows["Attn - RoPE"]["flops"] == 3 * 11 * 3 * 4
    assert rows["Attn - Gate"]["flops"] == 5 * 11 * 16
    # the step's matmuls: DeltaNet 2 x (15488 + 383488 + 5632), attention 2 x (16896 + 2 x 2 x
    # 16 x 61 pairs + 5632), MLP 4 x (16896 + 8448), LM head 2 x 2 x 16 x 32
    assert doc["total"]["matmul_flops"] == 809216 + 52864 + 101376 + 2048


# --- the tiny MoE config: h=16, layers 3 DeltaNet : 1 attention, V=32 tied; attention H=4,
# H_kv=2 (the family's default), d=8, rotary 0.25 x 8 = 2 (default); DeltaNet Hk=2, Hv=4,
# dk=dv=4, kernel 4 (default); 4 experts of 8, top 2, shared expert 12 with its gate.
# Step: 4 queries of 20 cached + 1 new on TP 2.


def test_tiny_moe_parameters_by_hand() -> None:
    doc = golden("tiny_qwen3_5_moe_tp2_json")
    # DeltaNet: in_proj 16 x (8 + 8 + 16 + 16 + 4 + 4 = 56) = 896, conv 32 x 4 = 128, A_log +
    # dt_bias 8, out 256 -> 1288; attention: 16 x (64 + 16 + 16) + 32 x 16 = 2048;
    # MoE: router 64, experts 4 x 3 x 16 x 8 = 1536, shared 3 x 16 x 12 + gate 16 = 592
    assert doc["parameters"] == {
        "total": 15364,
        "embedding": 512,
        "attention": 2048,
        "mixers": 3 * 1288,
        "mlp_dense": 0,
        "mlp_routed_experts": 4 * 1536,
        "mlp_shared_experts": 4 * 592,
        "router": 4 * 64,
        "norms": 4 * 32 + 16 + 2 * 8 + 3 * 4,
        "lm_head": 0,
        "other": 0,
    }


def test_tiny_moe_tp2_by_hand() -> None:
    doc = golden("tiny_qwen3_5_moe_tp2_json")
    rows = {r["name"]: r for r in doc["layers"]}
    # per rank: 1 key head, 2 value heads: in_proj 16 -> 28
    assert rows["DeltaNet - In_Proj"]["flops"] == 2 * 4 * 16 * 28
    assert rows["DeltaNet - Conv1d"]["flops"] == 4 * 16 * (2 * 4 + 4)
    # 4 decode steps x 2 heads x (7 x 16 + 2 x 4 + 1); each reads and writes a 2 x 4 x 4 x 4 B
    # state
    rule = rows["DeltaNet - DeltaRule"]
    assert (rule["flops"], rule["matmul_flops"]) == (4 * 2 * 121, 0)
    assert rule["input_bytes"] == 4 * 20 * 2 + 4 * 128
    assert rule["output_bytes"] == 4 * 8 * 2 + 4 * 128
    assert rows["DeltaNet - AllReduce"]["blocks"] == 3
    parts = {p["name"]: p["bytes"] for p in doc["storage"]["parts"]}
    # per rank, 3 layers x 4 queries: conv 16 x 4 x 2 B; state 2 x 4 x 4 x 4 B; KV: 1 of 2
    # heads x 16 x 2 B x 21 tokens
    assert parts["Conv state"] == 12 * 128
    assert parts["Recurrent state"] == 12 * 128
    assert parts["KV cache"] == 4 * 21 * 32
    assert doc["model_storage"]["kv_cache_bytes"] == 2 * (1536 + 1536 + 2688)


# --- against HuggingFace ---------------------------------------------------------------------


def test_chunked_matmuls_are_what_hf_counts_plus_the_solves() -> None:
    # Qwen3.5-27B's DeltaNet (Hk 16, Hv 48, dk = dv = 128), a 512-token prefill: HF's
    # FlopCounterMode sees 173,946,175,488 bmm FLOPs in its 48 DeltaNet layers
    # (torch_chunk_gated_delta_rule; /work/scratch/MEASURED-NEXT), 3,623,878,656 per layer.
    # It does not see torch.linalg.solve_triangular: 64 x 63 x (128 + 128) per chunk and head.
    cost = ops.gated_delta_rule(
        [((0, 512), 1)],
        key_heads=16,
        value_heads=48,
        key_dim=128,
        value_dim=128,
        chunk=64,
        w_act=2,
        w_state=4,
    )
    assert cost.matmul_flops == 3_623_878_656 + 48 * 8 * 64 * 63 * 256


def test_qwen3_5_moe_layer_state_is_hfs_cache_tensors() -> None:
    # Qwen3.5-35B-A3B's DeltaNet layer: HF's cache holds conv_states [1, 8192, 4] in bf16 and
    # recurrent_states [1, 32, 128, 128] in float32: 2,162,688 B (expected-next.json)
    layer = GatedDeltaNet(16, 32, 128, 128, 4)
    conv, recurrent = layer.states(1)
    assert conv.values * 2 + recurrent.values * 4 == 2_162_688


def test_qwen3_vl_aliases_read_the_text_config() -> None:
    text = {
        "hidden_size": 32,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "vocab_size": 64,
        "dtype": "bfloat16",
        "rope_parameters": {"mrope_section": [2, 1, 1], "rope_theta": 5e6},
        "tie_word_embeddings": True,  # HF's ConditionalGeneration reads the top level only
    }
    vl = {"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"]}
    report = step(select_parser(vl)({**vl, "text_config": text}), [(7, 1)])
    bare = step(Qwen3ConfigParser({**text, "model_type": "qwen3"}), [(7, 1)])
    assert report.parameters["lm_head"] == 64 * 32  # not tied: the top level says nothing
    assert report.parameters["total"] == bare.parameters["total"] + 64 * 32
    assert [r.cost for r in report.rows] == [r.cost for r in bare.rows]
    moe = {"model_type": "qwen3_vl_moe", "architectures": ["Qwen3VLMoeForConditionalGeneration"]}
    moe_text = {**text, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 8}
    parser = select_parser(moe)({**moe, "text_config": moe_text})
    assert isinstance(parser, Qwen3MoeConfigParser)
    assert step(parser, [(7, 1)]).parameters["mlp_routed_experts"] == 2 * 4 * 3 * 32 * 8


def test_layer_types_default_to_the_interval() -> None:
    dims = Qwen3_5ConfigParser(DENSE).dims
    assert dims.linear == (True, False, True, False)  # full_attention_interval 2
    assert (dims.rot_dim, dims.num_kv_heads) == (4, 1)
    text = {k: v for k, v in MOE["text_config"].items() if k != "layer_types"}
    moe = Qwen3_5MoeConfigParser({**MOE, "text_config": text}).dims
    assert moe.linear == (True, True, True, False)  # HF's default interval, 4
    assert (moe.rot_dim, moe.num_kv_heads, moe.deltanet.conv_kernel) == (2, 2, 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"linear_num_value_heads": 3}, "linear_num_value_heads (3) is not a multiple of"),
        ({"linear_num_key_heads": 0}, "'linear_num_key_heads' must be an integer >= 1"),
        ({"linear_conv_kernel_dim": "4"}, "'linear_conv_kernel_dim' must be an integer"),
        ({"layer_types": ["linear_attention"] * 3}, "'layer_types' must list one of"),
        (
            {"layer_types": None, "full_attention_interval": 0},
            "'full_attention_interval' must be an integer >= 1",
        ),
        ({"rope_parameters": {"partial_rotary_factor": 2}}, "partial_rotary_factor' must be"),
        ({"rope_parameters": [0.25]}, "'rope_parameters' must be an object"),
        ({"attn_output_gate": "yes"}, "'attn_output_gate' must be true or false"),
        ({"num_experts_per_tok": 8}, "'num_experts_per_tok' (8) exceeds the number of experts"),
    ],
)
def test_bad_fields_name_the_key(change: dict[str, Any], message: str) -> None:
    config = {**MOE, "text_config": {**MOE["text_config"], **change}}
    with pytest.raises(ConfigError) as caught:
        Qwen3_5MoeConfigParser(config)
    assert message in str(caught.value)
    assert "qwen3_5_moe config (text_config)" in str(caught.value)


def test_text_config_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="'text_config' must be an object"):
        Qwen3_5ConfigParser({**DENSE, "text_config": [1]})


def test_tensor_parallel_must_divide_the_linear_heads() -> None:
    parser = Qwen3_5ConfigParser(DENSE)  # 1 key head, 2 value heads
    with pytest.raises(UsageError, match=r"linear_num_key_heads \(1\) is not a multiple of it"):
        step(parser, [(0, 1)], Parallelism(2))


# --- invariants (hypothesis) -----------------------------------------------------------------


@st.composite
def qwen3_5_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Tiny Qwen3.5 configs, dense or MoE, whose heads split over TP 1, 2 and 4."""
    layers = draw(st.integers(1, 5))
    key_heads = 4 * draw(st.integers(1, 2))
    text = {
        "hidden_size": draw(st.sampled_from([8, 16])),
        "num_hidden_layers": layers,
        "vocab_size": draw(st.integers(1, 40)),
        "num_attention_heads": 4 * draw(st.integers(1, 2)),
        "num_key_value_heads": 4,
        "head_dim": draw(st.sampled_from([4, 8])),
        "layer_types": draw(
            st.lists(
                st.sampled_from(["linear_attention", "full_attention"]),
                min_size=layers,
                max_size=layers,
            )
        ),
        "linear_num_key_heads": key_heads,
        "linear_num_value_heads": key_heads * draw(st.integers(1, 2)),
        "linear_key_head_dim": draw(st.sampled_from([2, 4])),
        "linear_value_head_dim": draw(st.sampled_from([2, 4, 8])),
        "linear_conv_kernel_dim": draw(st.integers(2, 4)),
        "dtype": "bfloat16",
    }
    if draw(st.booleans()):
        return {"model_type": "qwen3_5", "text_config": {**text, "intermediate_size": 8}}
    moe = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 4}
    return {"model_type": "qwen3_5_moe", "text_config": {**text, **moe}}


queries = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 70)), min_size=1, max_size=3)


def _parser(config: dict[str, Any]) -> Qwen3_5ConfigParser | Qwen3_5MoeConfigParser:
    parser = select_parser(config)(config)
    assert isinstance(parser, Qwen3_5ConfigParser | Qwen3_5MoeConfigParser)
    return parser


def _fixed(report: Report) -> dict[str, Any]:
    return {p.name: p.bytes for p in report.storage_parts if p.growth == "fixed"}


@given(qwen3_5_configs(), st.integers(1, 8))
def test_the_deltanet_state_is_the_same_at_1k_and_1m_tokens(config, new: int) -> None:
    parser = _parser(config)
    short, long = step(parser, [(1_000, new)]), step(parser, [(1_000_000, new)])
    assert _fixed(short) == _fixed(long)
    if any(parser.dims.linear):
        assert set(_fixed(short)) == {"Conv state", "Recurrent state"}


@given(qwen3_5_configs(), st.integers(1, 1_000), st.integers(1, 3))
def test_a_decode_step_costs_the_same_at_any_context(config, cached: int, more: int) -> None:
    parser = _parser(config)
    near, far = step(parser, [(cached, 1)]), step(parser, [(cached * more + 1, 1)])

    def deltanet(report: Report) -> list[Any]:
        return [r.cost for r in report.rows if r.name.startswith("DeltaNet")]

    assert deltanet(near) == deltanet(far)


@given(qwen3_5_configs(), st.integers(2, 200))
def test_the_chunked_form_costs_whole_chunks(config, new: int) -> None:
    parser = _parser(config)
    padded = -(-new // 64) * 64

    def rule(report: Report) -> int:
        rows = [r.cost.matmul_flops for r in report.rows if r.name == "DeltaNet - DeltaRule"]
        return sum(rows)

    assert rule(step(parser, [(0, new)])) == rule(step(parser, [(0, padded)]))


@settings(max_examples=60)
@given(qwen3_5_configs(), queries, st.sampled_from([2, 4]))
def test_tensor_parallel_ranks_add_up_to_one_device(config, qs, tp: int) -> None:
    parser = _parser(config)
    single, split = step(parser, qs), step(parser, qs, Parallelism(tp))

    def split_ops(rows: tuple[Row, ...]) -> tuple[int, int, Fraction]:
        kept = [r for r in rows if not r.replicated and r.comm is None and r.per_block]
        return (
            sum(r.cost.flops * r.blocks for r in kept),
            sum(r.cost.matmul_flops * r.blocks for r in kept),
            sum((Fraction(r.param_bytes) * r.blocks for r in kept), Fraction(0)),
        )

    assert tuple(tp * v for v in split_ops(split.rows)) == split_ops(single.rows)
    # heads divide TP: every state splits exactly
    single_parts = {p.name: p.bytes for p in single.storage_parts if p.growth}
    split_parts = {p.name: p.bytes for p in split.storage_parts if p.growth}
    assert {k: tp * v for k, v in split_parts.items()} == single_parts
    assert split.parameters == single.parameters


@given(qwen3_5_configs(), queries)
def test_a_hybrid_is_the_sum_of_its_layer_kinds(config, qs) -> None:
    """L x (a hybrid's block rows) = (its DeltaNet layers) x (an all-DeltaNet stack's) + (its
    attention layers) x (an all-attention stack's), for FLOPs, bytes, parameters and state."""
    text = config["text_config"]
    layers, kinds = text["num_hidden_layers"], text["layer_types"]

    def body(layer_types: list[str]) -> tuple[Any, ...]:
        report = step(_parser({**config, "text_config": {**text, "layer_types": layer_types}}), qs)
        rows = [r for r in report.rows if r.per_block]
        return (
            sum(r.cost.flops * r.blocks for r in rows),
            sum(r.cost.total_bytes * r.blocks for r in rows),
            sum(r.params * r.blocks for r in rows),
            report.kv_cache_bytes,
        )

    hybrid = body(kinds)
    linear, full = body(["linear_attention"] * layers), body(["full_attention"] * layers)
    n_linear = kinds.count("linear_attention")
    expected = tuple(
        n_linear * a + (layers - n_linear) * b for a, b in zip(linear, full, strict=True)
    )
    assert tuple(layers * v for v in hybrid) == expected
