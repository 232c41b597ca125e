"""Mixtral (`model_type: mixtral`): Mistral's attention with a sparse MoE FFN on every layer.

Ground truth: transformers `models/mixtral/modeling_mixtral.py`. Each layer routes every token
to the top `num_experts_per_tok` (2) of `num_local_experts` (8) SwiGLU experts of width
`intermediate_size` through a bias-free linear router (softmax, top-k, renormalised); there is no
shared expert. `sliding_window` (null in the released configs) applies to all layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, Moe
from ..core.model.config import ConfigReader, top_k_of
from ..core.model.masks import AttentionPattern


@dataclass(frozen=True, kw_only=True)
class MixtralDims(DecoderDims):
    sliding_window: int | None  # `sliding_window`, default none
    num_experts: int  # `num_local_experts`, default 8
    top_k: int  # `num_experts_per_tok`, default 2


class MixtralConfigParser(BaseModelConfigParser):
    model_type = "mixtral"
    architectures = frozenset({"MixtralForCausalLM", "MixtralModel"})
    dims: MixtralDims

    def normalize_config(self, config: Mapping[str, Any]) -> MixtralDims:
        r = ConfigReader(config, self.model_type)
        experts = r.integer("num_local_experts", 8)
        return MixtralDims(
            **decoder_dims(r),
            sliding_window=r.optional_integer("sliding_window"),
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 2, experts),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads, d.num_kv_heads, d.head_dim, AttentionPattern.sliding(d.sliding_window)
        )
        moe = Moe(d.num_experts, d.top_k, d.intermediate_size, d.hidden_act)
        return [Block.decoder(attention, moe)] * d.num_layers
