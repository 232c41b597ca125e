"""Parallelism: one device's share, communication, stages, and the invariants of the split."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import on_hardware
from transformer_roofline.core.hardware.sizing import smallest_fit
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.model.parallel import SINGLE_DEVICE, Comm, CommKind, Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import (
    DeepseekV3ConfigParser,
    LlamaConfigParser,
    MixtralConfigParser,
)

queries = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), min_size=1, max_size=3)


@st.composite
def split_llama(draw: st.DrawFn) -> tuple[dict[str, Any], Parallelism]:
    tp = draw(st.sampled_from([1, 2, 4]))
    pp = draw(st.integers(1, 3))
    kv_heads = tp * draw(st.integers(1, 2))
    heads = kv_heads * draw(st.integers(1, 2))
    config = {
        "model_type": "llama",
        "hidden_size": heads * 4,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": 4,
        "intermediate_size": tp * draw(st.integers(1, 8)),
        "num_hidden_layers": pp * draw(st.integers(1, 3)),
        "vocab_size": tp * draw(st.integers(1, 16)),
        "tie_word_embeddings": draw(st.booleans()),
        "torch_dtype": "bfloat16",
    }
    return config, Parallelism(tp, pp)


def _run(parser, qs, parallel: Parallelism = SINGLE_DEVICE) -> Report:
    cached, new = zip(*qs, strict=True)
    return analyze(parser, QueryConfig.from_lists(tuple(cached), tuple(new)), parallel)


@given(split_llama(), queries)
def test_degrees_of_one_are_the_single_device_analysis(case, qs) -> None:
    config, _ = case
    plain = _run(LlamaConfigParser(config), qs)
    explicit = _run(LlamaConfigParser(config), qs, Parallelism(1, 1, 1))
    assert plain == explicit and len(plain.stages) == 1
    assert all(row.comm is None for row in plain.rows)


@settings(max_examples=60)
@given(split_llama(), queries)
def test_devices_add_up_to_the_single_device_flops_and_weights(case, qs) -> None:
    """Summed over every device (TP ranks of every stage), FLOPs, weight traffic and weight
    storage of the ops that are split (not replicated) equal the single-device totals."""
    config, parallel = case
    single = _run(LlamaConfigParser(config), qs)
    split = _run(LlamaConfigParser(config), qs, parallel)

    def split_ops(rows) -> tuple[int, Fraction, Fraction]:
        kept = [r for r in rows if not r.replicated and r.comm is None]
        return (
            sum(r.cost.flops * r.blocks for r in kept),
            sum((Fraction(r.cost.weight_bytes) * r.blocks for r in kept), Fraction(0)),
            sum((Fraction(r.param_bytes) * r.blocks for r in kept), Fraction(0)),
        )

    per_stage = [split_ops(stage.rows) for stage in split.stages]
    summed = tuple(parallel.tp * sum(values[i] for values in per_stage) for i in range(3))
    assert summed == split_ops(single.rows)
    # KV heads divide TP here: the caches add up too
    assert parallel.tp * sum(s.kv_cache_bytes for s in split.stages) == single.kv_cache_bytes
    assert split.parameters == single.parameters


def test_tensor_parallel_hand_counts() -> None:
    # Llama-style, h = 64, 8 heads of 8, 4 KV heads, I = 128, 2 layers, V = 64, bf16; TP 4
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "vocab_size": 64,
        "torch_dtype": "bfloat16",
    }
    report = _run(LlamaConfigParser(config), [(7, 3)], Parallelism(4))
    rows = {r.name: r for r in report.rows}
    # QKV: 2 heads + 2 x 1 KV head of 8 = 32 outputs: 2 * 3 tokens * 64 * 32 FLOPs
    assert rows["Attn - QKV_Proj"].cost.flops == 2 * 3 * 64 * 32
    # O: row-parallel, 16 -> 64; Down: 32 -> 64
    assert rows["Attn - O_Proj"].params == 16 * 64
    assert rows["Ffn - Down_Proj"].params == 32 * 64
    # all-reduce of 3 x 64 x 2 B: a ring sends 2 * 3/4 of it
    comm = rows["Attn - AllReduce"].comm
    assert comm is not None and comm == Comm(CommKind.ALL_REDUCE, 3 * 64 * 2, 4)
    assert comm.sent_bytes == Fraction(3, 2) * 384
    # 900 GB/s bidirectional = 450 GB/s per direction
    assert comm.seconds(900e9) == pytest.approx(576 / 450e9)
    # KV: 1 head per rank, 10 tokens, 2 layers, K and V of 8 at 2 B
    assert report.kv_cache_bytes == 2 * 10 * 2 * 8 * 2
    # the LM head's logits are gathered: 1 query x 64 x 2 B among 4 ranks
    assert rows["LM Head - AllGather"].comm == Comm(CommKind.ALL_GATHER, 128, 4)


def test_kv_heads_replicated_when_fewer_than_ranks() -> None:
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "vocab_size": 64,
    }
    report = _run(LlamaConfigParser(config), [(0, 4)], Parallelism(8))
    # 2 KV heads over 8 ranks: each rank holds 1 head, half of the cache instead of an eighth
    assert report.notes == (
        "TP 8: the KV cache of Attention layers is replicated 4x: each rank holds 1/2 of it, "
        "not 1/8",
    )
    # one KV head per rank: 4 tokens x (K, V) x 8 dims x 2 B
    assert report.kv_cache_bytes == 4 * 2 * 8 * 2


def test_pipeline_stages_split_layers_and_pick_the_busiest() -> None:
    assert [list(r) for r in Parallelism(pp=3).stages(8)] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "intermediate_size": 64,
        "num_hidden_layers": 5,
        "vocab_size": 32000,
    }
    report = _run(LlamaConfigParser(config), [(100, 1)], Parallelism(pp=2))
    first, last = report.stages
    assert len(first.layers) == 3 and len(last.layers) == 2
    first_names, last_names = [r.name for r in first.rows], [r.name for r in last.rows]
    assert first_names[0] == "Embedding" and "LM Head" not in first_names
    assert first_names[-1] == "Pipeline - Send" and last_names[-1] == "LM Head"
    # the large LM head (64 x 32000) makes the last stage the busiest despite fewer layers
    result = on_hardware(report, resolve_hardware("H100-SXM5-80GB"))
    assert result.stage == 1 and result.step_time_s == max(result.stage_times_s)


def test_expert_parallel_all_to_all_hand_count() -> None:
    config = {
        "model_type": "mixtral",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "num_key_value_heads": 8,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "vocab_size": 64,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
        "torch_dtype": "bfloat16",
    }
    tp4 = _run(MixtralConfigParser(config), [(0, 8)], Parallelism(4))
    ep4 = _run(MixtralConfigParser(config), [(0, 8)], Parallelism(4, 1, 4))
    rows = {r.name: r for r in ep4.rows}
    # a rank owns 8/4 tokens, sends 2 copies of each (64 x 2 B), 3/4 of them remote
    dispatch = rows["Ffn - Dispatch"].comm
    assert dispatch is not None
    assert dispatch == Comm(CommKind.ALL_TO_ALL, Fraction(8 * 2, 4) * 64 * 2, 4)
    assert dispatch.sent_bytes == 2 * 2 * 64 * 2 * Fraction(3, 4)
    # whole experts: no partial sums to reduce, but each rank owns 2 finished tokens of 8 and
    # every rank needs all 8 (64 x 2 B each) for the next attention: an all-gather, 3/4 remote
    assert "Ffn - AllReduce" not in rows
    gather = rows["Ffn - AllGather"].comm
    assert gather is not None and gather == Comm(CommKind.ALL_GATHER, 8 * 64 * 2, 4)
    assert gather.sent_bytes == 8 * 64 * 2 * Fraction(3, 4)
    # experts cut in two (TP 4, EP 2): partial sums again, the all-reduce returns
    ep2 = {
        r.name: r for r in _run(MixtralConfigParser(config), [(0, 8)], Parallelism(4, 1, 2)).rows
    }
    assert "Ffn - AllGather" not in ep2
    assert ep2["Ffn - AllReduce"].comm == Comm(CommKind.ALL_REDUCE, 8 * 64 * 2, 4)

    # FLOPs, weights and intermediate activations per rank as TP slicing; the token copies in
    # and out at the model width are the rank's own: 8 tokens x 2 copies / 4 ranks x 64 x 2 B
    def experts(r: Report):
        return {row.name: row.cost for row in r.rows if row.category is Category.MLP_ROUTED}

    tp_cost, ep_cost = experts(tp4), experts(ep4)
    assert tp_cost.keys() == ep_cost.keys() and len(ep_cost) == 3
    for name, cost in ep_cost.items():
        assert (cost.flops, cost.weight_bytes) == (tp_cost[name].flops, tp_cost[name].weight_bytes)
    gate_up, act, down = (
        ep_cost[f"Ffn - RoutedExp_{n}"] for n in ("GateUp_Proj", "ActMul", "Down_Proj")
    )
    assert gate_up.input_bytes == down.output_bytes == 8 * 2 // 4 * 64 * 2
    assert tp_cost["Ffn - RoutedExp_GateUp_Proj"].input_bytes == 8 * 2 * 64 * 2  # every copy
    one = experts(_run(MixtralConfigParser(config), [(0, 8)]))  # the 4 ranks add up to it
    assert 4 * gate_up.input_bytes == one["Ffn - RoutedExp_GateUp_Proj"].input_bytes
    # the intermediate, gate and up: TP 16 copies x 64/4 features = EP 4 copies x 64 features
    assert gate_up.output_bytes == down.input_bytes * 2 == 8 * 2 * (64 // 4) * 2 * 2
    assert act == tp_cost["Ffn - RoutedExp_ActMul"]


def test_mla_under_tensor_parallelism_replicates_the_latent_cache() -> None:
    config = {
        "model_type": "deepseek_v3",
        "hidden_size": 32,
        "num_attention_heads": 4,
        "q_lora_rank": 8,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 4,
        "qk_rope_head_dim": 4,
        "v_head_dim": 4,
        "intermediate_size": 16,
        "moe_intermediate_size": 8,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
        "num_hidden_layers": 2,
        "vocab_size": 32,
        "first_k_dense_replace": 1,
    }
    single = _run(DeepseekV3ConfigParser(config), [(10, 1)])
    split = _run(DeepseekV3ConfigParser(config), [(10, 1)], Parallelism(2))
    assert split.kv_cache_bytes == single.kv_cache_bytes  # every rank reads the whole latent
    assert split.notes == (
        "TP 2: the KV cache of MlaAttention layers is replicated 2x: each rank holds all of it, "
        "not 1/2",
    )
    assert {r.name for r in split.rows if r.replicated} >= {"Attn - Q_A_Proj", "Attn - KV_A_Proj"}


@pytest.mark.parametrize(
    ("parallel", "message"),
    [
        (Parallelism(3), "not a multiple of it"),
        (Parallelism(pp=9), "exceeds the 2 layers"),
    ],
)
def test_impossible_splits_are_usage_errors(parallel: Parallelism, message: str) -> None:
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "vocab_size": 64,
    }
    with pytest.raises(UsageError, match=message):
        _run(LlamaConfigParser(config), [(0, 1)], parallel)
    with pytest.raises(UsageError, match="must divide --tensor-parallel"):
        Parallelism(2, 1, 4)
    with pytest.raises(UsageError, match="positive integer"):
        Parallelism(0)


def test_smallest_fit_hand_count() -> None:
    # Llama-3.1-70B bf16: 141.1 GB of weights. With 32 x 4097 tokens of KV (40 GiB) the step
    # needs ~184 GB: not 2 x 80 GB; 3 devices only as PP 3 (TP must be a power of two), whose
    # fullest stage (27 layers ~ 46 GB + KV 13.7 GB + the embedding) fits.
    from transformer_roofline.core.api import load_model

    _, parser = load_model("meta-llama/Llama-3.1-70B")
    fit = smallest_fit(
        parser, QueryConfig.from_lists([4096], [1], 32), resolve_hardware("H100-SXM5-80GB")
    )
    assert fit is not None and fit.parallel == Parallelism(1, 3)


def test_a_tied_head_on_another_stage_holds_a_copy_of_the_table() -> None:
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 8,
        "intermediate_size": 64,
        "num_hidden_layers": 4,
        "vocab_size": 1000,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
    }
    single = _run(LlamaConfigParser(config), [(0, 1)])
    assert [p.name for p in single.stages[0].weight_parts if p.name == "LM head"] == []
    first, last = _run(LlamaConfigParser(config), [(0, 1)], Parallelism(pp=2)).stages
    parts = {p.name: p.bytes for p in last.weight_parts}
    assert parts["LM head"] == 1000 * 64 * 2  # the copy the last stage's head reads
    assert {p.name: p.bytes for p in first.weight_parts}["Embedding"] == 1000 * 64 * 2
