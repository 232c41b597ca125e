"""OLMo 2 (`model_type: olmo2`): norms after each branch only, and q/k norms over the whole
projection width.

Ground truth: transformers `models/olmo2/modeling_olmo2.py`: x + post_attention_layernorm(attn(x)),
then x + post_feedforward_layernorm(mlp(x)); q_norm is an RMSNorm over H*d features, k_norm over
H_kv*d (gains of those widths). Biases on q, k, v, o only with `attention_bias` (default false).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp, NormLayout, QKNorm
from ..core.model.config import ConfigReader


@dataclass(frozen=True, kw_only=True)
class Olmo2Dims(DecoderDims):
    attention_bias: bool  # `attention_bias`, default false


class Olmo2ConfigParser(BaseModelConfigParser):
    model_type = "olmo2"
    architectures = frozenset({"Olmo2ForCausalLM", "Olmo2Model"})
    dims: Olmo2Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Olmo2Dims:
        r = ConfigReader(config, self.model_type)
        return Olmo2Dims(**decoder_dims(r), attention_bias=r.flag("attention_bias", False))

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads,
            d.num_kv_heads,
            d.head_dim,
            qk_norm=QKNorm.FULL_WIDTH,
            qkv_bias=d.attention_bias,
            o_bias=d.attention_bias,
        )
        ffn = DenseMlp(d.intermediate_size, d.hidden_act)
        return [Block.decoder(attention, ffn, NormLayout.POST)] * d.num_layers
