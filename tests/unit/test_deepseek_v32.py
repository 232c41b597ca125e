"""DeepSeek-V3.2 (MLA + the DSA lightning indexer): the tiny config of the golden case counted by
hand, the invariants of top-k selection (hypothesis), the tensor-parallel split, and bad input.

Tiny model (tests/end-to-end/configs/deepseek_v32/config.json): h=8, H=2, q_lora_rank 4,
kv_lora_rank 4, nope 2, rope 2, v 2; indexer 2 heads x 4 dims, top 3; layer 0 a dense MLP of 8,
layer 1 a MoE of 4 experts of 4 (top 2) + 1 shared; V=16, bfloat16 (w=2).
HF's DeepseekV32ForCausalLM built from it (transformers 5.24, meta device) has 1,544 parameters
(attention 512, norms 72, ...) and its cache holds 20,480 B after 512 tokens, the figures below.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import golden, run, tiny_config
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError
from transformer_roofline.core.layers import MlaMode
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.report import Report
from transformer_roofline.core.ops import Cost, Number
from transformer_roofline.parsers import DeepseekV32ConfigParser

CONFIG = tiny_config("deepseek_v32")
INDEXER_ROWS = {
    "Attn - Indexer_Q_Proj",
    "Attn - Indexer_K_Proj",
    "Attn - Indexer_K_Norm",
    "Attn - Indexer_Weights_Proj",
    "Attn - Indexer_RoPE",
    "Attn - Indexer_Score",
}


def _counts(cost: Cost) -> tuple[int, int, Number, Number]:
    return cost.flops, cost.matmul_flops, cost.input_bytes, cost.output_bytes


def _rows(report: Report) -> dict[str, tuple]:
    return {r.name: (r.blocks, r.params, *_counts(r.cost)) for r in report.rows}


# --- the tiny model by hand ------------------------------------------------------------------


def test_parameters_by_hand() -> None:
    # per layer: q_a 8*4 = 32, q_b 4*(2*(2+2)) = 32, kv_a 8*(4+2) = 48, kv_b 4*(2*(2+2)) = 32,
    # o (2*2)*8 = 32; indexer wq_b 4*(2*4) = 32, wk 8*4 = 32, weights_proj 8*2 = 16
    attention = 2 * (32 + 32 + 48 + 32 + 32 + 32 + 32 + 16)
    # per layer: 2 block norms of 8, q_a_norm 4, kv_a_norm 4, the indexer's LayerNorm 4 + 4 bias;
    # + the final norm of 8
    norms = 2 * (8 + 8 + 4 + 4 + 8) + 8
    dense = 3 * 8 * 8  # layer 0
    routed, shared, router = 4 * 3 * 8 * 4, 3 * 8 * 4, 4 * 8  # layer 1
    report = run(CONFIG, [(5, 1)])
    assert report.parameters == {
        "total": 1544,
        "embedding": 128,
        "attention": attention,
        "mixers": 0,
        "mlp_dense": dense,
        "mlp_routed_experts": routed,
        "mlp_shared_experts": shared,
        "router": router,
        "norms": norms,
        "lm_head": 128,
        "other": 0,
    }
    assert attention + norms + dense + routed + shared + router + 2 * 128 == 1544


def test_state_by_hand() -> None:
    # after the step the context is 6 tokens; per token and layer: the latent 4 + 2 values and the
    # indexer key 4 values, 2 B each; 2 layers
    report = run(CONFIG, [(5, 1)])
    parts = {p.name: p.bytes for p in report.storage_parts}
    assert parts["KV cache"] == 2 * 6 * 6 * 2 == 144
    assert parts["Indexer keys"] == 2 * 6 * 4 * 2 == 96
    assert report.kv_cache_bytes == 240
    # HF's cache at 512 tokens: 2 layers x 512 x (4 + 2 + 4) x 2 B
    assert run(CONFIG, [(511, 1)]).kv_cache_bytes == 20480


def _golden_rows() -> dict[str, tuple]:
    """The golden case's rows (tests/end-to-end/cases/tiny_deepseek_v32_decode_past_top_k), as
    `_rows` gives them."""
    keys = ("blocks", "params", "flops", "matmul_flops", "input_bytes", "output_bytes")
    doc = golden("tiny_deepseek_v32_decode_past_top_k")
    return {layer["name"]: tuple(layer[key] for key in keys) for layer in doc["layers"]}


@pytest.mark.parametrize("source", ["analysis", "golden"])
def test_decode_past_top_k_by_hand(source: str) -> None:
    """The golden case: 5 cached + 1 input, MLA absorbed (auto in decode); the new token at
    position 5 scores 6 keys and attends to 3 of them."""
    rows = _rows(run(CONFIG, [(5, 1)])) if source == "analysis" else _golden_rows()
    # name: (blocks, params, FLOPs, matmul FLOPs, input B, output B)
    assert {name: rows[name] for name in INDEXER_ROWS} == {
        # 1 token, 4 -> 2*4: 2*4*8 = 64; reads 4 el, writes 8
        "Attn - Indexer_Q_Proj": (2, 32, 64, 64, 8, 16),
        # 8 -> 4: 2*8*4 = 64; writes the new indexer key (4 el)
        "Attn - Indexer_K_Proj": (2, 32, 64, 64, 16, 8),
        # LayerNorm of 4: 7 per element (with the bias) + 4 per row = 32; gain and bias 8 params
        "Attn - Indexer_K_Norm": (2, 8, 32, 0, 8, 8),
        # 8 -> 2: 2*8*2 = 32
        "Attn - Indexer_Weights_Proj": (2, 16, 32, 32, 16, 4),
        # (2 q heads + 1 k) x 2 rotated dims = 6 el x 3 FLOPs; reads them + cos, sin (2 x 2)
        "Attn - Indexer_RoPE": (2, 0, 18, 0, 20, 12),
        # 6 (token, key) pairs x 2 heads: q.k 4 MACs -> 2*2*4*6 = 96 matmul; relu 1 + the
        # weighted sum's MAC 2 -> 3*2*6 = 36; the folded scale 2 -> 134. Reads q 8 + w 2 el
        # (20 B) and 6 keys of 4 (48 B); writes 3 int32 indices (12 B)
        "Attn - Indexer_Score": (2, 0, 134, 96, 68, 12),
    }
    # latent attention over the 3 selected keys: 2 heads x (qk 6 + v 4) x 3 pairs x 2 = 120;
    # softmax 5*2*3 = 30, the divide 2*4 = 8; reads Q 2*6 el + 3 latents of 6 el; writes 2*4 el
    assert rows["Attn - SDPA (latent, top 3)"] == (2, 0, 158, 120, 24 + 36, 16)


# --- invariants of top-k selection -----------------------------------------------------------


@st.composite
def dsa_configs(draw: st.DrawFn) -> dict[str, Any]:
    experts = draw(st.integers(2, 6))
    layers = draw(st.integers(1, 3))
    rope = draw(st.sampled_from([2, 4]))
    return {
        "model_type": "deepseek_v32",
        "hidden_size": draw(st.sampled_from([16, 32])),
        "num_attention_heads": draw(st.sampled_from([2, 4])),
        "q_lora_rank": draw(st.sampled_from([8, 12])),
        "kv_lora_rank": draw(st.sampled_from([4, 8])),
        "qk_nope_head_dim": draw(st.sampled_from([2, 4])),
        "qk_rope_head_dim": rope,
        "v_head_dim": draw(st.sampled_from([2, 4, 8])),
        "index_n_heads": draw(st.sampled_from([1, 2, 4])),
        "index_head_dim": rope + draw(st.sampled_from([0, 4])),
        "index_topk": draw(st.integers(1, 60)),
        "intermediate_size": draw(st.sampled_from([8, 16])),
        "moe_intermediate_size": draw(st.sampled_from([4, 8])),
        "n_routed_experts": experts,
        "num_experts_per_tok": draw(st.integers(1, experts)),
        "n_shared_experts": draw(st.integers(0, 1)),
        "first_k_dense_replace": draw(st.integers(0, layers)),
        "num_hidden_layers": layers,
        "vocab_size": 32,
        "torch_dtype": "bfloat16",
    }


queries = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 8)), min_size=1, max_size=3)
modes = st.sampled_from(list(MlaMode))


@given(dsa_configs(), queries, modes, st.integers(0, 50))
def test_within_top_k_dsa_is_mla_plus_the_indexer(config, qs, mode, extra: int) -> None:
    longest = max(c + n for c, n in qs)
    dsa = run({**config, "index_topk": longest + extra}, qs, mla=mode)
    mla = run({**config, "model_type": "deepseek_v3"}, qs, mla=mode)
    kept = [(r.cost, r.params, r.blocks) for r in dsa.rows if r.name not in INDEXER_ROWS]
    assert kept == [(r.cost, r.params, r.blocks) for r in mla.rows]
    assert len([r for r in dsa.rows if r.name in INDEXER_ROWS]) == len(INDEXER_ROWS)
    # the indexer's own parameters: wq_b, wk, k_norm (weight and bias), weights_proj
    heads, dim, hidden = config["index_n_heads"], config["index_head_dim"], config["hidden_size"]
    own = config["q_lora_rank"] * heads * dim + hidden * dim + 2 * dim + hidden * heads
    layers = config["num_hidden_layers"]
    assert dsa.parameters["total"] == mla.parameters["total"] + layers * own
    held = sum(c + n for c, n in qs)  # tokens every query holds after the step
    assert dsa.kv_cache_bytes == mla.kv_cache_bytes + layers * held * dim * 2


@given(dsa_configs(), queries, modes, st.integers(0, 30), st.integers(0, 30))
def test_a_top_k_larger_than_the_context_changes_nothing(config, qs, mode, a, b) -> None:
    longest = max(c + n for c, n in qs)
    first = run({**config, "index_topk": longest + a}, qs, mla=mode)
    second = run({**config, "index_topk": longest + b}, qs, mla=mode)
    assert [(r.cost, r.params) for r in first.rows] == [(r.cost, r.params) for r in second.rows]


@given(dsa_configs(), st.integers(1, 40), st.integers(0, 60), modes)
def test_past_top_k_attention_reads_k_keys_per_token(config, k: int, cached: int, mode) -> None:
    """Decode: the new token at position `cached` attends to min(cached + 1, k) keys, in latent
    space (absorbed) or through KV_B_Proj decompressing only those keys (expanded)."""
    report = run({**config, "index_topk": k}, [(cached, 1)], mla=mode)
    read = min(cached + 1, k)
    sdpa = next(r for r in report.rows if r.name.startswith("Attn - SDPA"))
    heads = config["num_attention_heads"]
    if mode is MlaMode.EXPANDED:
        qk_v = config["qk_nope_head_dim"] + config["qk_rope_head_dim"] + config["v_head_dim"]
        kv_b = next(r for r in report.rows if r.name == "Attn - KV_B_Proj")
        assert kv_b.tokens == read
    else:
        qk_v = 2 * config["kv_lora_rank"] + config["qk_rope_head_dim"]
    assert sdpa.cost.matmul_flops == 2 * heads * qk_v * read
    score = next(r for r in report.rows if r.name == "Attn - Indexer_Score")
    # every cached key is scored, whatever k
    dim = config["index_head_dim"]
    assert score.cost.matmul_flops == 2 * config["index_n_heads"] * dim * (cached + 1)


@settings(max_examples=40)
@given(dsa_configs(), queries, st.sampled_from([2]))
def test_the_indexer_is_replicated_under_tensor_parallelism(config, qs, tp: int) -> None:
    single = run(config, qs)
    split = run(config, qs, Parallelism(tp))
    one = {r.name: r for r in single.rows}
    for row in split.rows:
        if row.name in INDEXER_ROWS:
            assert row.replicated and row.cost == one[row.name].cost
        elif row.name.startswith(("Attn - SDPA", "Attn - O_Proj", "Attn - Q_B_Proj")):
            # the main attention is split by heads: each rank does 1/TP of it
            assert row.cost.flops * tp == one[row.name].cost.flops, row.name
    # every rank holds the whole latent and the whole indexer key cache
    assert split.kv_cache_bytes == single.kv_cache_bytes
    assert any("Indexer keys of MlaAttention layers is replicated" in n for n in split.notes)


# --- which layers are what -------------------------------------------------------------------


def test_every_layer_of_deepseek_v32_runs_an_indexer() -> None:
    parser = DeepseekV32ConfigParser(CONFIG)
    assert parser.dims.indexer_layers == frozenset({0, 1})
    assert parser.dims.moe_layers == frozenset({1})
    # HF's default: 3 dense layers; mlp_layer_types wins over first_k_dense_replace
    five = {**CONFIG, "num_hidden_layers": 5, "first_k_dense_replace": None}
    assert DeepseekV32ConfigParser(five).dims.moe_layers == frozenset({3, 4})
    typed = {**CONFIG, "mlp_layer_types": ["sparse", "dense"]}
    assert DeepseekV32ConfigParser(typed).dims.moe_layers == frozenset({0})


# --- bad input: one line naming the key ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"index_topk": 0}, "'index_topk'"),
        ({"index_topk": -3}, "'index_topk'"),
        ({"index_topk": 2.5}, "'index_topk'"),
        ({"index_topk": "2048"}, "'index_topk'"),
        ({"index_topk": True}, "'index_topk'"),
        ({"index_n_heads": 0}, "'index_n_heads'"),
        ({"index_head_dim": 1}, "'index_head_dim'"),  # fewer than the 2 rotated dims
        ({"q_lora_rank": None}, "'q_lora_rank'"),
        ({"mlp_layer_types": ["dense"]}, "'mlp_layer_types'"),
        ({"mlp_layer_types": [["dense"], "sparse"]}, "'mlp_layer_types'"),
    ],
)
def test_bad_indexer_fields_are_one_config_error(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        DeepseekV32ConfigParser({**CONFIG, **changes})
    message = str(error.value)
    assert key in message and "deepseek_v32" in message and "\n" not in message
