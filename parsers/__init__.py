"""Model-family parsers and the registry that picks one by a config's `model_type`.

`PARSER_REGISTRY` is one literal table: each key is a `model_type` string as HuggingFace configs
spell it, each value the parser class written for it, as `"module:Class"` in this package. Aliases
are explicit rows. There is no fallback: an unknown type is an error that lists the supported
ones. A class is imported the first time its row is looked up (core/lazy.py): a run loads only
its model's family. Vision towers have
their own table, `parsers.vision.VISION_REGISTRY` (imported only when images are analyzed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.base_parser import BaseModelConfigParser
from ..core.errors import ConfigError, UnsupportedModelError, shown
from ..core.lazy import LazyTable

if TYPE_CHECKING:
    from .deepseek import DeepseekV2ConfigParser, DeepseekV3ConfigParser
    from .deepseek_v4 import DeepseekV4ConfigParser
    from .deepseek_v32 import DeepseekV32ConfigParser
    from .gemma import GemmaConfigParser
    from .gemma2 import Gemma2ConfigParser
    from .gemma3 import Gemma3ConfigParser
    from .gemma4 import Gemma4ConfigParser
    from .glm_moe_dsa import GlmMoeDsaConfigParser
    from .gpt_oss import GptOssConfigParser
    from .llama import LlamaConfigParser
    from .llama4 import Llama4ConfigParser
    from .mimo_v2_flash import MiMoV2FlashConfigParser
    from .minimax_m2 import MiniMaxM2ConfigParser
    from .mistral import MistralConfigParser
    from .mixtral import MixtralConfigParser
    from .nemotron_h import NemotronHConfigParser
    from .olmo2 import Olmo2ConfigParser
    from .phi3 import Phi3ConfigParser
    from .qwen2 import Qwen2ConfigParser
    from .qwen3 import Qwen3ConfigParser
    from .qwen3_5 import Qwen3_5ConfigParser
    from .qwen3_5_moe import Qwen3_5MoeConfigParser
    from .qwen3_moe import Qwen3MoeConfigParser

PARSER_REGISTRY: LazyTable[type[BaseModelConfigParser]] = LazyTable(
    __name__,
    {
        "llama": "llama:LlamaConfigParser",
        "llama4": "llama4:Llama4ConfigParser",
        # alias: a bare Llama 4 text-decoder config
        "llama4_text": "llama4:Llama4ConfigParser",
        "mistral": "mistral:MistralConfigParser",
        "mixtral": "mixtral:MixtralConfigParser",
        "qwen2": "qwen2:Qwen2ConfigParser",
        "qwen3": "qwen3:Qwen3ConfigParser",
        "qwen3_moe": "qwen3_moe:Qwen3MoeConfigParser",
        # alias: Qwen3-VL; its text_config is a Qwen3 decoder
        "qwen3_vl": "qwen3:Qwen3ConfigParser",
        # alias: Qwen3-VL-MoE; its text_config is a Qwen3-MoE decoder
        "qwen3_vl_moe": "qwen3_moe:Qwen3MoeConfigParser",
        "qwen3_5": "qwen3_5:Qwen3_5ConfigParser",
        # alias: a bare Qwen3.5 text-decoder config
        "qwen3_5_text": "qwen3_5:Qwen3_5ConfigParser",
        "qwen3_5_moe": "qwen3_5_moe:Qwen3_5MoeConfigParser",
        # alias: a bare Qwen3.5-MoE text-decoder config
        "qwen3_5_moe_text": "qwen3_5_moe:Qwen3_5MoeConfigParser",
        "gemma": "gemma:GemmaConfigParser",
        "gemma2": "gemma2:Gemma2ConfigParser",
        "gemma3_text": "gemma3:Gemma3ConfigParser",
        # alias: a multimodal Gemma 3 config; its text_config is read
        "gemma3": "gemma3:Gemma3ConfigParser",
        "gemma4": "gemma4:Gemma4ConfigParser",
        # alias: a bare Gemma 4 text-decoder config
        "gemma4_text": "gemma4:Gemma4ConfigParser",
        "phi3": "phi3:Phi3ConfigParser",
        "olmo2": "olmo2:Olmo2ConfigParser",
        "deepseek_v2": "deepseek:DeepseekV2ConfigParser",
        "deepseek_v3": "deepseek:DeepseekV3ConfigParser",
        # alias: Kimi-K2's remote-code type, DeepSeek-V3's model
        "kimi_k2": "deepseek:DeepseekV3ConfigParser",
        # alias: Kimi-K2.5; its text_config is a Kimi-K2 decoder
        "kimi_k25": "deepseek:DeepseekV3ConfigParser",
        "deepseek_v32": "deepseek_v32:DeepseekV32ConfigParser",
        "glm_moe_dsa": "glm_moe_dsa:GlmMoeDsaConfigParser",
        "deepseek_v4": "deepseek_v4:DeepseekV4ConfigParser",
        "gpt_oss": "gpt_oss:GptOssConfigParser",
        "minimax_m2": "minimax_m2:MiniMaxM2ConfigParser",
        "mimo_v2_flash": "mimo_v2_flash:MiMoV2FlashConfigParser",
        "nemotron_h": "nemotron_h:NemotronHConfigParser",
    },
)


def __getattr__(name: str) -> Any:
    """A parser class by its name (`from transformer_roofline.parsers import LlamaConfigParser`),
    imported from the registry's row that names it."""
    for key in PARSER_REGISTRY:
        if PARSER_REGISTRY.row(key).endswith(f":{name}"):
            return PARSER_REGISTRY[key]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def supported_model_types() -> list[str]:
    return sorted(PARSER_REGISTRY)


def select_parser(config: Mapping[str, Any]) -> type[BaseModelConfigParser]:
    """The parser for `config`, dispatched on its `model_type` and checked against its
    `architectures`; an error naming what was found and what is supported otherwise."""
    supported = ", ".join(supported_model_types())
    model_type = config.get("model_type")
    if model_type is None:
        raise ConfigError(f"config has no 'model_type' field (supported: {supported})")
    if not isinstance(model_type, str):
        raise ConfigError(f"'model_type' must be a string, got {shown(model_type)}")
    parser = PARSER_REGISTRY.get(model_type)
    if parser is None:
        raise UnsupportedModelError(
            f"unsupported model_type {shown(model_type)} (supported: {supported})"
        )
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise ConfigError(
            f"{model_type} config: 'architectures' must be a list of class names, got "
            f"{shown(architectures)}"
        )
    if architectures and not parser.architectures.intersection(architectures):
        raise UnsupportedModelError(
            f"{model_type} config declares architectures {shown(architectures)}, none of which "
            f"is modelled (supported for {model_type}: {', '.join(sorted(parser.architectures))})"
        )
    return parser


__all__ = [
    "PARSER_REGISTRY",
    "DeepseekV2ConfigParser",
    "DeepseekV3ConfigParser",
    "DeepseekV4ConfigParser",
    "DeepseekV32ConfigParser",
    "Gemma2ConfigParser",
    "Gemma3ConfigParser",
    "Gemma4ConfigParser",
    "GemmaConfigParser",
    "GlmMoeDsaConfigParser",
    "GptOssConfigParser",
    "Llama4ConfigParser",
    "LlamaConfigParser",
    "MiMoV2FlashConfigParser",
    "MiniMaxM2ConfigParser",
    "MistralConfigParser",
    "MixtralConfigParser",
    "NemotronHConfigParser",
    "Olmo2ConfigParser",
    "Phi3ConfigParser",
    "Qwen2ConfigParser",
    "Qwen3ConfigParser",
    "Qwen3MoeConfigParser",
    "Qwen3_5ConfigParser",
    "Qwen3_5MoeConfigParser",
    "select_parser",
    "supported_model_types",
]
