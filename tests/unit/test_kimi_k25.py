"""Kimi-K2.5: DeepSeek-V3's parser reading the `text_config` of the multimodal wrapper, against a
hand count of tests/end-to-end/configs/tiny-kimi-k25 (and its golden case), the bare text config
(hypothesis), and bad input.

The tiny text model: h = 8, H = 2, q_lora_rank 4, kv_lora_rank 4, qk_nope 2, qk_rope 2, v 2;
layer 0 a dense MLP of 16, layer 1 a MoE of 4 experts of 4 (top-2) and one shared expert of 4;
V = 32, bfloat16. The wrapper unties the LM head (its text_config says tied: the wrapper's flag
decides) and the text_config carries an fp8 (e4m3, per-tensor) quantization_config.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from helpers import deepseek_configs, golden, run, tiny_config
from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError, UnsupportedModelError
from transformer_roofline.core.layers import MlaMode
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import DeepseekV3ConfigParser, select_parser

CONFIG: dict[str, Any] = tiny_config("tiny-kimi-k25")

# Parameters per layer:
#   MLA: q_a 8x4 = 32, q_b 4 x 2*(2+2) = 32, kv_a 8 x (4+2) = 48, kv_b 4 x 2*(2+2) = 32,
#        o 2*2 x 8 = 32                                                       -> 176
#   norms: q_a 4, kv_a 4, input and post-attention 8 + 8                      -> 24
#   layer 0: dense MLP 3 x 8x16 = 384; layer 1: router 4x8 = 32 (the correction bias is a
#   buffer), 4 experts x 3 x 8x4 = 384, one shared expert 3 x 8x4 = 96
# Model: 2 x (176 + 24) + 384 + 32 + 384 + 96 + embedding 256 + lm_head 256 + final norm 8
PARAMETERS = {
    "total": 1816,
    "embedding": 256,
    "attention": 2 * 176,
    "mlp_dense": 384,
    "mlp_routed_experts": 384,
    "mlp_shared_experts": 96,
    "router": 32,
    "norms": 2 * 24 + 8,
    "lm_head": 256,
}
# Weights: the fp8 quantization_config (one byte) covers the projections and the MLPs; the
# router, norms, embedding and LM head stay bfloat16:
#   1 x (352 + 384 + 384 + 96) + 2 x (32 + 56 + 256 + 256)
WEIGHT_BYTES = 1216 + 1200
# Query state: the latent, 2 layers x 10 tokens x (4 + 2) values x 2 bytes
KV_BYTES_10_TOKENS = 2 * 10 * 6 * 2
# Decode matmul FLOPs, 9 cached + 1 new, with HF's expanded MLA (kv_b re-expands every key):
#   q_a 2*8*4 = 64, q_b 2*4*8 = 64, kv_a 2*8*6 = 96, kv_b 2*10*4*8 = 640,
#   QK^T + PV 2*2 heads*((2+2) + 2)*10 keys = 240, o 2*4*8 = 64                   -> 1168
#   dense MLP 2*8*32 + 2*16*8 = 768; MoE: router 2*8*4 = 64, 2 experts x (2*8*8 + 2*4*8) =
#   384, shared 192                                                                  -> 640
# Model: 2 x 1168 + 768 + 640 + LM head 2*8*32 = 512
DECODE_MATMUL_FLOPS_EXPANDED = 2 * 1168 + 768 + 640 + 512


def test_parameters_state_and_flops_are_the_hand_count() -> None:
    report = run(CONFIG, [(9, 1)], mla=MlaMode.EXPANDED)
    assert {k: v for k, v in report.parameters.items() if v} == PARAMETERS
    assert report.weight_bytes == WEIGHT_BYTES
    assert report.kv_cache_bytes == KV_BYTES_10_TOKENS
    assert report.total.matmul_flops == DECODE_MATMUL_FLOPS_EXPANDED


def test_the_golden_case_is_the_hand_count() -> None:
    doc = golden("tiny_kimi_k25_decode_json")
    assert {k: v for k, v in doc["parameters"].items() if v} == PARAMETERS
    assert doc["storage"]["weight_bytes"] == WEIGHT_BYTES
    assert doc["storage"]["kv_cache_bytes"] == KV_BYTES_10_TOKENS


def test_the_nested_quantization_config_sets_the_formats() -> None:
    precision = DeepseekV3ConfigParser(CONFIG).precision
    assert precision.weight_for(Category.MLP_ROUTED).name == "float8_e4m3"
    assert precision.weight_for(Category.ROUTER).name == "bfloat16"
    # the real model's compressed-tensors int4 experts, group 32, scales in bfloat16: 4 + 16/32
    int4_experts = {
        "quant_method": "compressed-tensors",
        "format": "pack-quantized",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "int", "symmetric": True, "group_size": 32},
            }
        },
        "ignore": [
            "lm_head",
            "re:.*self_attn.*",
            "re:.*shared_experts.*",
            "re:.*mlp\\.(gate|up|down)_proj.*",
        ],
    }
    text = {**CONFIG["text_config"], "quantization_config": int4_experts}
    precision = DeepseekV3ConfigParser({**CONFIG, "text_config": text}).precision
    assert precision.weight_for(Category.MLP_ROUTED).bits == Fraction(9, 2)
    assert precision.weight_for(Category.ATTN_PROJ).name == "bfloat16"


def test_the_wrapper_decides_the_tying_default_true() -> None:
    untied = {k: v for k, v in CONFIG.items() if k != "tie_word_embeddings"}
    text = {**CONFIG["text_config"], "tie_word_embeddings": False}
    report = run({**untied, "text_config": text}, [(0, 1)])
    assert report.parameters["lm_head"] == 0  # Kimi_K25Config ties unless told otherwise
    assert report.parameters["total"] == PARAMETERS["total"] - 256


# Kimi-K2.5's text decoder is DeepSeek-V3's (model_type kimi_k2), its tying any way
kimi_text_configs = st.builds(
    lambda config, tie: {**config, "model_type": "kimi_k2", "tie_word_embeddings": tie},
    deepseek_configs(),
    st.booleans(),
)


queries = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), min_size=1, max_size=3)


@given(kimi_text_configs, queries, st.sampled_from(list(MlaMode)))
def test_the_wrapper_is_its_text_model(text: dict[str, Any], qs, mode: MlaMode) -> None:
    tie = text["tie_word_embeddings"]
    wrapped = run(
        {"model_type": "kimi_k25", "tie_word_embeddings": tie, "text_config": text}, qs, mla=mode
    )
    bare = run({**text, "model_type": "deepseek_v3"}, qs, mla=mode)
    assert wrapped.rows == bare.rows
    assert wrapped.parameters == bare.parameters
    assert wrapped.kv_cache_bytes == bare.kv_cache_bytes


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({**CONFIG, "text_config": [1]}, "text_config"),
        ({**CONFIG, "text_config": {**CONFIG["text_config"], "model_type": "qwen3"}}, "model_type"),
        ({**CONFIG, "tie_word_embeddings": "no"}, "tie_word_embeddings"),
        ({**CONFIG, "text_config": {**CONFIG["text_config"], "kv_lora_rank": 0}}, "kv_lora_rank"),
    ],
)
def test_bad_fields_are_one_line_naming_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DeepseekV3ConfigParser(config)
    message = str(caught.value)
    assert key in message and "\n" not in message


def test_only_kimi_classes_are_accepted_as_the_wrapper() -> None:
    assert select_parser(CONFIG) is DeepseekV3ConfigParser
    hf_name = {**CONFIG, "architectures": ["Kimi_K25ForConditionalGeneration"]}
    assert select_parser(hf_name) is DeepseekV3ConfigParser
    with pytest.raises(UnsupportedModelError, match="LlavaForConditionalGeneration"):
        select_parser({**CONFIG, "architectures": ["LlavaForConditionalGeneration"]})
