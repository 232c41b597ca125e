"""Invariants that hold for any config and any batch (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.core.ops import Number
from transformer_roofline.parsers import Llama4ConfigParser, LlamaConfigParser


@st.composite
def llama_configs(draw: st.DrawFn) -> dict[str, Any]:
    kv_heads = draw(st.integers(1, 4))
    heads = kv_heads * draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([2, 4, 8]))
    return {
        "model_type": "llama",
        "hidden_size": draw(st.integers(1, 6)) * heads,  # head_dim is explicit
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "intermediate_size": draw(st.integers(1, 64)),
        "num_hidden_layers": draw(st.integers(1, 4)),
        "vocab_size": draw(st.integers(1, 100)),
        "tie_word_embeddings": draw(st.booleans()),
        "attention_bias": draw(st.booleans()),
        "mlp_bias": draw(st.booleans()),
        "torch_dtype": draw(st.sampled_from(["float16", "bfloat16", "float32"])),
    }


@st.composite
def llama4_configs(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(llama_configs())
    experts = draw(st.integers(1, 8))
    layers = base["num_hidden_layers"]
    return {
        "model_type": "llama4",
        "text_config": {
            **base,
            "model_type": "llama4_text",
            "num_local_experts": experts,
            "num_experts_per_tok": draw(st.integers(1, experts)),
            "intermediate_size_mlp": draw(st.integers(1, 64)),
            "interleave_moe_layer_step": draw(st.integers(1, layers)),
            "attention_chunk_size": draw(st.integers(2, 16)),
            "use_qk_norm": draw(st.booleans()),
        },
    }


queries = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12)), min_size=1, max_size=4)


def _analyze(config: dict[str, Any], qs: list[tuple[int, int]]) -> Report:
    parser = (Llama4ConfigParser if config["model_type"] == "llama4" else LlamaConfigParser)(config)
    cached, new = zip(*qs, strict=True)
    return analyze(parser, QueryConfig.from_lists(tuple(cached), tuple(new)))


any_config = st.one_of(llama_configs(), llama4_configs())


def _pairs(qs: list[tuple[int, int]], chunk: int | None = None) -> int:
    """(query token, key) pairs by enumeration: the token at position p sees keys 0..p, or with
    chunked attention the keys of its chunk up to p."""
    return sum(
        (p % chunk + 1) if chunk else (p + 1)
        for cached, new in qs
        for p in range(cached, cached + new)
    )


def _dims(text: dict[str, Any]) -> tuple[int, int, int, int, int, int, int]:
    return (
        text["hidden_size"],
        text["num_attention_heads"],
        text["num_key_value_heads"],
        text["head_dim"],
        text["intermediate_size"],
        text["num_hidden_layers"],
        text["vocab_size"],
    )


@given(llama_configs(), queries)
def test_dense_totals_are_the_closed_form(config: dict[str, Any], qs) -> None:
    """The whole model's parameters, matmul FLOPs and weight traffic from the config alone, layer
    by layer (not from the rows): q, k, v, o and gate, up, down per layer (biases where the config
    asks), two norms per layer and a final one, the embedding (a row gathered per input token),
    the LM head on each query's last token (reading the embedding when tied)."""
    h, heads, kv_heads, d, inter, layers, vocab = _dims(config)
    width = 4 if config["torch_dtype"] == "float32" else 2
    tokens = sum(n for _, n in qs)
    attention = 2 * h * heads * d + 2 * h * kv_heads * d
    mlp = 3 * h * inter
    biases = (heads * d + 2 * kv_heads * d + h) * config["attention_bias"]
    biases += (2 * inter + h) * config["mlp_bias"]
    layer = attention + mlp + biases + 2 * h
    report = _analyze(config, qs)
    tables = 1 if config["tie_word_embeddings"] else 2
    assert report.parameters["total"] == layers * layer + h + tables * vocab * h
    matmul = layers * (2 * tokens * (attention + mlp) + 2 * 2 * heads * d * _pairs(qs))
    assert report.total.matmul_flops == matmul + 2 * len(qs) * h * vocab
    reads = layers * layer + h + tokens * h + vocab * h
    assert report.total.weight_bytes == width * reads


@given(llama4_configs(), queries)
def test_llama4_totals_are_the_closed_form(config: dict[str, Any], qs) -> None:
    """Llama 4 layer by layer from the config: layer i attends globally without RoPE when i + 1
    is a multiple of 4, else within its chunk; it is a MoE layer (router, top-k routed experts
    and a shared expert, each a gated MLP of intermediate_size) when i + 1 is a multiple of
    interleave_moe_layer_step, else a dense MLP of intermediate_size_mlp."""
    text = config["text_config"]
    h, heads, kv_heads, d, inter, layers, vocab = _dims(text)
    experts, top_k = text["num_local_experts"], text["num_experts_per_tok"]
    step, chunk = text["interleave_moe_layer_step"], text["attention_chunk_size"]
    tokens = sum(n for _, n in qs)
    attention = 2 * h * heads * d + 2 * h * kv_heads * d
    bias = (heads * d + 2 * kv_heads * d + h) * text["attention_bias"]
    params = matmul = 0
    for i in range(layers):
        nope = (i + 1) % 4 == 0
        pairs = _pairs(qs) if nope else _pairs(qs, chunk)
        matmul += 2 * tokens * attention + 2 * 2 * heads * d * pairs
        if (i + 1) % step == 0:  # MoE
            params += experts * 3 * h * inter + h * experts + 3 * h * inter
            matmul += 2 * tokens * (h * experts + top_k * 3 * h * inter + 3 * h * inter)
        else:
            params += 3 * h * text["intermediate_size_mlp"]
            matmul += 2 * tokens * 3 * h * text["intermediate_size_mlp"]
        params += attention + bias + 2 * h
    tables = 1 if text["tie_word_embeddings"] else 2
    report = _analyze(config, qs)
    assert report.parameters["total"] == params + h + tables * vocab * h
    assert report.total.matmul_flops == matmul + 2 * len(qs) * h * vocab
    assert report.num_blocks == layers


@given(any_config, queries)
def test_storage_parts_sum_to_parameters_times_width_plus_kv(config, qs) -> None:
    report = _analyze(config, qs)
    width = 4 if "float32" in str(config) else 2
    assert report.weight_bytes == report.parameters["total"] * width
    assert sum(p.bytes for p in report.storage_parts) == report.weight_bytes + report.kv_cache_bytes


@given(llama_configs(), queries, queries)
def test_dense_weight_traffic_is_independent_of_tokens(config, qs1, qs2) -> None:
    def weights(qs):
        # every op but the embedding gather (which reads one row per token) reads its weights once
        return [
            r.cost.weight_bytes
            for r in _analyze(config, qs).rows
            if r.category is not Category.EMBEDDING
        ]

    assert weights(qs1) == weights(qs2)


@given(any_config, queries)
def test_a_batch_costs_the_sum_of_its_queries_bar_shared_weights(config, qs) -> None:
    batch = _analyze(config, qs)
    singles = [_analyze(config, [q]) for q in qs]
    for field in ("flops", "matmul_flops", "input_bytes", "output_bytes"):
        assert getattr(batch.total, field) == sum(getattr(s.total, field) for s in singles)
    assert batch.kv_cache_bytes == sum(s.kv_cache_bytes for s in singles)
    if config["model_type"] == "llama":
        dense = [r.cost.weight_bytes for r in batch.rows if r.category is not Category.EMBEDDING]
        assert dense == [
            r.cost.weight_bytes for r in singles[0].rows if r.category is not Category.EMBEDDING
        ]


@given(any_config, st.integers(0, 40), st.integers(1, 12))
def test_per_token_ops_are_linear_in_tokens(config, cached: int, new: int) -> None:
    """Every op but attention (pairs grow with context) and the logits (one per query) costs n
    times its one-token cost for n tokens, at any cached length."""
    one, many = _analyze(config, [(cached, 1)]), _analyze(config, [(cached, new)])
    for a, b in zip(one.rows, many.rows, strict=True):
        if a.category in (Category.ATTN_CORE, Category.LM_HEAD, Category.MLP_ROUTED):
            continue
        assert (b.cost.flops, b.cost.input_bytes, b.cost.output_bytes) == (
            new * a.cost.flops,
            new * a.cost.input_bytes,
            new * a.cost.output_bytes,
        ), a.name


@given(any_config, queries)
def test_doubling_dtype_width_doubles_bytes_keeps_flops(config, qs) -> None:
    def with_dtype(dtype: str) -> dict[str, Any]:
        if "text_config" in config:
            return {**config, "text_config": {**config["text_config"], "torch_dtype": dtype}}
        return {**config, "torch_dtype": dtype}

    half, full = _analyze(with_dtype("float16"), qs), _analyze(with_dtype("float32"), qs)
    for a, b in zip(half.rows, full.rows, strict=True):
        assert b.cost.flops == a.cost.flops
        # routed-expert traffic is rounded to whole bytes after scaling
        tolerance = 1 if a.category is Category.MLP_ROUTED else 0
        assert abs(b.cost.weight_bytes - 2 * a.cost.weight_bytes) <= tolerance
        assert (b.cost.input_bytes, b.cost.output_bytes) == (
            2 * a.cost.input_bytes,
            2 * a.cost.output_bytes,
        )
    assert full.kv_cache_bytes == 2 * half.kv_cache_bytes


@given(llama_configs(), queries)
def test_gqa_with_as_many_kv_heads_as_heads_is_mha(config, qs) -> None:
    mha = {k: v for k, v in config.items() if k != "num_key_value_heads"}
    gqa = {**mha, "num_key_value_heads": mha["num_attention_heads"]}
    assert _analyze(mha, qs).rows == _analyze(gqa, qs).rows


@given(llama_configs(), queries)
def test_kv_cache_closed_form(config, qs) -> None:
    width = 4 if config["torch_dtype"] == "float32" else 2
    per_token = 2 * config["num_key_value_heads"] * config["head_dim"] * width
    tokens = sum(c + n for c, n in qs)
    assert _analyze(config, qs).kv_cache_bytes == config["num_hidden_layers"] * tokens * per_token


@settings(max_examples=50)
@given(llama4_configs(), st.integers(1, 300))
def test_routed_expert_traffic_grows_with_tokens_up_to_all_experts(config, tokens: int) -> None:
    text = config["text_config"]
    experts, top_k = text["num_local_experts"], text["num_experts_per_tok"]
    width = 4 if text["torch_dtype"] == "float32" else 2
    per_expert = 3 * text["hidden_size"] * text["intermediate_size"] * width

    def routed(n: int) -> Number:
        report = _analyze(config, [(0, n)])
        return sum(r.cost.weight_bytes for r in report.rows if r.category is Category.MLP_ROUTED)

    one, many, more = routed(1), routed(tokens), routed(tokens + 1)
    assert abs(one - top_k * per_expert) <= 2  # one token reads exactly its top-k experts
    assert one - 2 <= many <= more + 2 <= experts * per_expert + 4
