"""Phi-3 (`model_type: phi3`): Llama's block with fused projections and a sliding window.

Ground truth: transformers `models/phi3/modeling_phi3.py`. One `qkv_proj` (h -> (H + 2 H_kv) d)
and one `gate_up_proj` (h -> 2I), which cost exactly what the separate projections of the shared
builders cost (the rows are already fused). No biases. `sliding_window` (Phi-3-mini-4k: 2047) on
every layer. RoPE may rotate only `partial_rotary_factor` of each head (`rope_scaling` /
`rope_parameters` or top level; default 1.0).
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
class Phi3Dims(DecoderDims):
    sliding_window: int | None  # `sliding_window`, default none
    rot_dim: int  # head_dim * `partial_rotary_factor` (default 1.0)


class Phi3ConfigParser(BaseModelConfigParser):
    model_type = "phi3"
    architectures = frozenset({"Phi3ForCausalLM", "Phi3Model"})
    dims: Phi3Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Phi3Dims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(r)
        return Phi3Dims(
            **fields,
            sliding_window=r.optional_integer("sliding_window"),
            rot_dim=int(fields["head_dim"] * r.rotary_factor(1.0)),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads,
            d.num_kv_heads,
            d.head_dim,
            AttentionPattern.sliding(d.sliding_window),
            rot_dim=d.rot_dim,
        )
        return [
            Block.decoder(attention, DenseMlp(d.intermediate_size, d.hidden_act))
        ] * d.num_layers
