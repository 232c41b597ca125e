"""Mistral (`model_type: mistral`): Llama's block with an optional sliding window on every layer.

Ground truth: transformers `models/mistral/modeling_mistral.py`. No biases; `sliding_window`
(v0.1: 4096; null in later models such as Mistral-Nemo) applies to all layers; an explicit
`head_dim` wins (Mistral-Nemo: 128 where 5120 / 32 would give 160).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp
from ..core.model.config import ConfigReader
from ..core.model.masks import AttentionPattern


@dataclass(frozen=True, kw_only=True)
class MistralDims(DecoderDims):
    sliding_window: int | None  # `sliding_window`, default none


class MistralConfigParser(BaseModelConfigParser):
    model_type = "mistral"
    architectures = frozenset({"MistralForCausalLM", "MistralModel"})
    dims: MistralDims

    def normalize_config(self, config: Mapping[str, Any]) -> MistralDims:
        r = ConfigReader(config, self.model_type)
        return MistralDims(**decoder_dims(r), sliding_window=r.optional_integer("sliding_window"))

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads, d.num_kv_heads, d.head_dim, AttentionPattern.sliding(d.sliding_window)
        )
        return [
            Block.decoder(attention, DenseMlp(d.intermediate_size, d.hidden_act))
        ] * d.num_layers
