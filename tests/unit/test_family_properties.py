"""Invariants across families: MoE, sliding windows and MLA (hypothesis)."""

from __future__ import annotations

from typing import Any

from helpers import deepseek_configs, row_costs, step
from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.layers import MlaMode
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import (
    DeepseekV3ConfigParser,
    MistralConfigParser,
    MixtralConfigParser,
)

queries = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12)), min_size=1, max_size=4)


@st.composite
def mistral_configs(draw: st.DrawFn) -> dict[str, Any]:
    kv_heads = draw(st.integers(1, 4))
    heads = kv_heads * draw(st.integers(1, 3))
    return {
        "model_type": "mistral",
        "hidden_size": heads * draw(st.sampled_from([2, 4, 8])),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "intermediate_size": draw(st.integers(1, 48)),
        "num_hidden_layers": draw(st.integers(1, 3)),
        "vocab_size": draw(st.integers(1, 64)),
        "torch_dtype": "bfloat16",
    }


@given(mistral_configs(), queries, st.integers(1, 100))
def test_a_window_longer_than_the_context_changes_nothing(config, qs, extra: int) -> None:
    longest = max(c + n for c, n in qs)
    full = step(MistralConfigParser(config), qs)
    windowed = step(MistralConfigParser({**config, "sliding_window": longest + extra}), qs)
    assert row_costs(full) == row_costs(windowed)
    assert full.kv_cache_bytes == windowed.kv_cache_bytes


@given(mistral_configs(), queries, st.integers(1, 8))
def test_a_short_window_never_costs_more(config, qs, window: int) -> None:
    full = step(MistralConfigParser(config), qs)
    windowed = step(MistralConfigParser({**config, "sliding_window": window}), qs)
    assert windowed.total.flops <= full.total.flops
    assert windowed.kv_cache_bytes <= full.kv_cache_bytes


@given(mistral_configs(), queries)
def test_one_expert_top_1_is_a_dense_mlp(config, qs) -> None:
    dense = step(MistralConfigParser(config), qs)
    moe_config = {**config, "model_type": "mixtral", "num_local_experts": 1,
                  "num_experts_per_tok": 1}  # fmt: skip
    moe = step(MixtralConfigParser(moe_config), qs)
    dense_ffn = [r.cost for r in dense.rows if r.category is Category.MLP_DENSE]
    routed = [r.cost for r in moe.rows if r.category is Category.MLP_ROUTED]
    assert dense_ffn == routed
    assert moe.parameters["mlp_routed_experts"] == dense.parameters["mlp_dense"]
    assert moe.parameters["total"] == dense.parameters["total"] + moe.parameters["router"]


@given(mistral_configs(), queries, st.integers(2, 8))
def test_routing_every_token_to_every_expert_reads_them_all(config, qs, experts: int) -> None:
    moe_config = {**config, "model_type": "mixtral", "num_local_experts": experts,
                  "num_experts_per_tok": experts}  # fmt: skip
    report = step(MixtralConfigParser(moe_config), qs)
    for row in report.rows:
        if row.category is Category.MLP_ROUTED and row.params:
            # all experts read exactly once, whatever the token count
            assert row.cost.weight_bytes == row.param_bytes


@given(deepseek_configs(), queries)
def test_mla_cost_models_share_parameters_and_cache(config, qs) -> None:
    reports = {mode: step(DeepseekV3ConfigParser(config, mla=mode), qs) for mode in MlaMode}
    first = reports[MlaMode.AUTO]
    for report in reports.values():
        assert report.parameters == first.parameters
        assert report.kv_cache_bytes == first.kv_cache_bytes
        assert report.weight_bytes == first.weight_bytes
    # the cache holds the latent: kv_lora_rank + qk_rope_head_dim values per token and layer
    tokens = sum(c + n for c, n in qs)
    latent = config["kv_lora_rank"] + config["qk_rope_head_dim"]
    assert first.kv_cache_bytes == config["num_hidden_layers"] * tokens * latent * 2


@given(deepseek_configs(), st.lists(st.integers(0, 40), min_size=1, max_size=4))
def test_mla_auto_absorbs_decode_and_expands_prefill(config, cached) -> None:
    decode = [(c, 1) for c in cached]
    prefill = [(0, n + 2) for n in cached]

    def run(mode: MlaMode, qs) -> list[tuple]:
        return row_costs(step(DeepseekV3ConfigParser(config, mla=mode), qs))

    assert run(MlaMode.AUTO, decode) == run(MlaMode.ABSORBED, decode)
    assert run(MlaMode.AUTO, prefill) == run(MlaMode.EXPANDED, prefill)
