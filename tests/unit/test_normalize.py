"""Config normalisation: defaults, both dtype keys, llama4's text_config, and clear errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from transformer_roofline.core.errors import ConfigError
from transformer_roofline.core.model.config import ConfigReader
from transformer_roofline.parsers import Gemma3ConfigParser, Llama4ConfigParser, LlamaConfigParser

LLAMA: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_attention_heads": 8,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "vocab_size": 100,
}


def test_llama_defaults() -> None:
    dims = LlamaConfigParser(LLAMA).dims
    assert dims.num_kv_heads == 8  # defaults to num_attention_heads
    assert dims.head_dim == 8  # hidden_size // num_attention_heads
    assert dims.dtype.name == "float16"  # HF default when the config names none
    assert dims.tie_word_embeddings is False
    assert dims.hidden_act == "silu"
    assert not dims.attention_bias and not dims.mlp_bias


@pytest.mark.parametrize("key", ["torch_dtype", "dtype"])
@pytest.mark.parametrize("value", ["bfloat16", "torch.bfloat16"])
def test_both_dtype_keys(key: str, value: str) -> None:
    assert LlamaConfigParser({**LLAMA, key: value}).dims.dtype.name == "bfloat16"


def test_explicit_head_dim_wins() -> None:
    # Mistral-Nemo style: 5120 / 32 = 160, but head_dim says 128
    dims = LlamaConfigParser(
        {**LLAMA, "hidden_size": 5120, "num_attention_heads": 32, "head_dim": 128}
    ).dims
    assert dims.head_dim == 128


def test_config_is_not_mutated() -> None:
    config = dict(LLAMA)
    LlamaConfigParser(config)
    assert config == LLAMA


def test_null_kv_heads_means_mha() -> None:
    assert LlamaConfigParser({**LLAMA, "num_key_value_heads": None}).dims.num_kv_heads == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": None}, "llama config: missing required field 'hidden_size'"),
        ({"vocab_size": -1}, "'vocab_size' must be an integer >= 1, got -1"),
        ({"num_hidden_layers": "32"}, "'num_hidden_layers' must be an integer >= 1, got '32'"),
        ({"num_key_value_heads": 3}, "num_attention_heads (8) is not a multiple of"),
        ({"hidden_size": 60}, "hidden_size (60) is not a multiple of num_attention_heads (8)"),
        ({"torch_dtype": "float13"}, "unknown dtype 'float13' in 'torch_dtype'"),
        ({"hidden_act": "swoosh"}, "unknown activation 'swoosh' in 'hidden_act'"),
        ({"tie_word_embeddings": "yes"}, "'tie_word_embeddings' must be true or false"),
    ],
)
def test_invalid_fields_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LlamaConfigParser({**LLAMA, **change})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


LLAMA4_TEXT: dict[str, Any] = {
    "hidden_size": 64,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 32,
    "intermediate_size_mlp": 96,
    "num_hidden_layers": 8,
    "vocab_size": 100,
    "num_local_experts": 4,
    "num_experts_per_tok": 1,
    "torch_dtype": "bfloat16",
}


def test_llama4_reads_text_config_and_hf_layer_defaults() -> None:
    parser = Llama4ConfigParser(
        {"model_type": "llama4", "text_config": LLAMA4_TEXT, "interleave_moe_layer_step": 99}
    )
    d = parser.dims
    assert d.dtype.name == "bfloat16" and d.hidden_size == 64
    assert d.moe_layers == frozenset(range(8))  # interleave_moe_layer_step defaults to 1
    # no_rope_layers default: every 4th layer (3, 7) has no RoPE; RoPE layers are chunked
    assert d.rope_layers == (True, True, True, False, True, True, True, False)
    assert d.chunked_layers == d.rope_layers
    assert d.chunk_size == 8192 and d.use_qk_norm


def test_llama4_interleaving_and_empty_no_rope_list() -> None:
    text = {**LLAMA4_TEXT, "interleave_moe_layer_step": 2, "no_rope_layers": []}
    d = Llama4ConfigParser({"model_type": "llama4", "text_config": text}).dims
    assert d.moe_layers == frozenset({1, 3, 5, 7})  # HF: step-1, 2*step-1, ...
    assert d.rope_layers.count(False) == 2  # an empty list means the default


def test_llama4_dtype_falls_back_to_the_top_level() -> None:
    text = {k: v for k, v in LLAMA4_TEXT.items() if k != "torch_dtype"}
    parser = Llama4ConfigParser({"model_type": "llama4", "text_config": text, "dtype": "float32"})
    assert parser.dims.dtype.name == "float32"


def test_llama4_bare_text_config() -> None:
    parser = Llama4ConfigParser({**LLAMA4_TEXT, "model_type": "llama4_text"})
    assert parser.dims.num_experts == 4


def test_llama4_errors() -> None:
    with pytest.raises(ConfigError, match=r"llama4 config \(text_config\): missing required"):
        Llama4ConfigParser({"model_type": "llama4", "text_config": {}})
    with pytest.raises(ConfigError, match="'text_config' must be an object"):
        Llama4ConfigParser({"model_type": "llama4", "text_config": 3})
    with pytest.raises(ConfigError, match="exceeds num_local_experts"):
        Llama4ConfigParser(
            {"model_type": "llama4", "text_config": {**LLAMA4_TEXT, "num_experts_per_tok": 5}}
        )


def test_multimodal_gemma3_reads_its_text_config() -> None:
    text = {
        "model_type": "gemma3_text",
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "intermediate_size": 128,
        "num_hidden_layers": 12,
        "vocab_size": 100,
        "sliding_window": 1024,
    }
    bare = Gemma3ConfigParser({**text, "torch_dtype": "bfloat16"})
    nested = Gemma3ConfigParser(
        {
            "model_type": "gemma3",
            "torch_dtype": "bfloat16",
            "text_config": text,
            "vision_config": {"hidden_size": 1152},
        }
    )
    assert bare.dims == nested.dims
    # sliding_window_pattern 6: layers 5 and 11 are global
    assert [i for i, slides in enumerate(nested.dims.sliding) if not slides] == [5, 11]
    assert nested.dims.tie_word_embeddings and nested.dims.dtype.name == "bfloat16"


@pytest.mark.parametrize(
    ("config", "kind", "factor"),
    [
        ({}, None, 0.5),  # the family's default
        ({"partial_rotary_factor": 0.25}, None, 0.25),  # the top level
        ({"partial_rotary_factor": 0.25, "rope_parameters": {"rope_theta": 1e4}}, None, 0.25),
        ({"partial_rotary_factor": 0.25, "rope_parameters": {"partial_rotary_factor": 1}}, None, 1),
        # `rope_scaling`, when given, replaces `rope_parameters` (as in transformers 5)
        (
            {"rope_scaling": {"type": "longrope"}, "rope_parameters": {"partial_rotary_factor": 1}},
            None,
            0.5,
        ),
        ({"rope_scaling": {"partial_rotary_factor": 0.75}}, None, 0.75),
        # per layer type
        (
            {"rope_parameters": {"full": {"partial_rotary_factor": 0.75}, "sliding": {}}},
            "full",
            0.75,
        ),
        ({"rope_parameters": {"full": {}}, "partial_rotary_factor": 0.25}, "full", 0.25),
    ],
)
def test_rotary_factor_is_read_where_transformers_reads_it(
    config: dict[str, Any], kind: str | None, factor: float
) -> None:
    assert ConfigReader(config, "x").rotary_factor(0.5, kind) == factor


@pytest.mark.parametrize(
    ("config", "kind", "message"),
    [
        ({"partial_rotary_factor": 0}, None, "'partial_rotary_factor' must be a number in (0, 1]"),
        ({"partial_rotary_factor": True}, None, "'partial_rotary_factor' must be a number"),
        ({"rope_parameters": {"partial_rotary_factor": "1/4"}}, None,
         "'rope_parameters.partial_rotary_factor' must be a number"),
        ({"rope_parameters": [0.25]}, None, "'rope_parameters' must be an object"),
        ({"rope_parameters": {"full": 0.25}}, "full", "'rope_parameters.full' must be an object"),
        ({"rope_parameters": {"full": {"partial_rotary_factor": 2}}}, "full",
         "'rope_parameters.full.partial_rotary_factor' must be a number in (0, 1], got 2"),
    ],
)  # fmt: skip
def test_bad_rotary_factor_is_one_error_naming_the_key(
    config: dict[str, Any], kind: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        ConfigReader(config, "x").rotary_factor(0.5, kind)
