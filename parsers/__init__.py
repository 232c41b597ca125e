"""Model-family parsers and the registry that picks one by a config's `model_type`.

`PARSER_REGISTRY` is one literal table: each key is a `model_type` string as HuggingFace configs
spell it, each value the parser class written for it. Aliases are explicit rows. There is no
fallback: an unknown type is an error that lists the supported ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.base_parser import BaseModelConfigParser
from core.errors import ConfigError, UnsupportedModelError
from parsers.llama import LlamaConfigParser
from parsers.llama4 import Llama4ConfigParser

PARSER_REGISTRY: dict[str, type[BaseModelConfigParser]] = {
    "llama": LlamaConfigParser,
    "llama4": Llama4ConfigParser,
    "llama4_text": Llama4ConfigParser,  # alias: a bare Llama 4 text-decoder config
}


def supported_model_types() -> list[str]:
    return sorted(PARSER_REGISTRY)


def select_parser(config: Mapping[str, Any]) -> type[BaseModelConfigParser]:
    """The parser for `config`, dispatched on its `model_type` and checked against its
    `architectures`; an error naming what was found and what is supported otherwise."""
    supported = ", ".join(supported_model_types())
    model_type = config.get("model_type")
    if model_type is None:
        raise ConfigError(f"config has no 'model_type' field (supported: {supported})")
    parser = PARSER_REGISTRY.get(model_type) if isinstance(model_type, str) else None
    if parser is None:
        raise UnsupportedModelError(
            f"unsupported model_type {model_type!r} (supported: {supported})"
        )
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list):
        raise ConfigError(f"{model_type} config: 'architectures' must be a list of class names")
    if architectures and not parser.architectures.intersection(architectures):
        raise UnsupportedModelError(
            f"{model_type} config declares architectures {architectures}, none of which is "
            f"modelled (supported for {model_type}: {', '.join(sorted(parser.architectures))})"
        )
    return parser


__all__ = [
    "PARSER_REGISTRY",
    "Llama4ConfigParser",
    "LlamaConfigParser",
    "select_parser",
    "supported_model_types",
]
