"""PARSER_REGISTRY: one literal table, consistent with its classes, and no catch-all."""

from __future__ import annotations

import json

import pytest
from conftest import CATALOG

from transformer_roofline.core.errors import AnalyzerError, ConfigError, UnsupportedModelError
from transformer_roofline.parsers import PARSER_REGISTRY, select_parser

# Rows whose key is not their class's own model_type: explicit aliases, each justified.
ALIASES = {
    "llama4_text": "llama4",  # a bare Llama 4 text-decoder config
    "gemma3": "gemma3_text",  # a multimodal Gemma 3 config: its text_config is read
    "gemma4_text": "gemma4",  # a bare Gemma 4 text-decoder config
    "kimi_k2": "deepseek_v3",  # Kimi-K2's remote-code type, DeepSeek-V3's architecture
    "kimi_k25": "deepseek_v3",  # Kimi-K2.5: its text_config is a Kimi-K2 decoder
    "qwen3_vl": "qwen3",  # Qwen3-VL: its text_config is a Qwen3 decoder (MRoPE costs as RoPE)
    "qwen3_vl_moe": "qwen3_moe",  # Qwen3-VL-MoE: its text_config is a Qwen3-MoE decoder
    "qwen3_5_text": "qwen3_5",  # a bare Qwen3.5 text-decoder config (Qwen3_5ForCausalLM)
    "qwen3_5_moe_text": "qwen3_5_moe",  # a bare Qwen3.5-MoE text-decoder config
}


@pytest.mark.parametrize(("key", "parser"), sorted(PARSER_REGISTRY.items()))
def test_every_row_matches_its_class(key: str, parser) -> None:
    assert parser.model_type == ALIASES.get(key, key)
    assert parser.architectures, f"{parser.__name__} declares no architectures"


@pytest.mark.parametrize("path", sorted(CATALOG.glob("*.json")), ids=lambda p: p.stem)
def test_every_bundled_config_resolves_to_its_parser(path) -> None:
    config = json.loads(path.read_text())
    parser = select_parser(config)(config)
    assert PARSER_REGISTRY[config["model_type"]] is type(parser)


def test_unknown_type_lists_the_supported_ones() -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        select_parser({"model_type": "gpt2"})
    message = str(caught.value)
    assert "'gpt2'" in message
    assert all(key in message for key in PARSER_REGISTRY)


def test_missing_model_type() -> None:
    with pytest.raises(ConfigError, match="no 'model_type'"):
        select_parser({"hidden_size": 8})


def test_architecture_mismatch_names_found_and_supported() -> None:
    with pytest.raises(UnsupportedModelError) as caught:
        select_parser({"model_type": "llama", "architectures": ["LlavaForConditionalGeneration"]})
    assert "LlavaForConditionalGeneration" in str(caught.value)
    assert "LlamaForCausalLM" in str(caught.value)


def test_errors_carry_distinct_exit_codes() -> None:
    codes = {cls.exit_code for cls in AnalyzerError.__subclasses__()}
    assert len(codes) == len(AnalyzerError.__subclasses__())
