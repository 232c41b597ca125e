"""Gemma 2 (`model_type: gemma2`): Gemma with four norms per layer, alternating sliding / global
attention and logit soft-capping.

Ground truth: transformers `models/gemma2/modeling_gemma2.py` and `configuration_gemma2.py`:
- x + post_attention_layernorm(attn(input_layernorm(x))), then the same with
  pre_/post_feedforward_layernorm around the MLP (the sandwich layout), (1 + gain) norms;
- `layer_types`, default: even layers (0, 2, ...) slide over `sliding_window` (4096), odd layers
  attend globally;
- `attn_logit_softcapping` (50.0): cap * tanh(score / cap) on every score;
  `final_logit_softcapping` (30.0) on the logits;
- `hidden_activation` (gelu_pytorch_tanh), head_dim 256, scaled and tied embeddings.
The score scale (`query_pre_attn_scalar`) changes no count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.errors import ConfigError, shown
from ..core.layers import Attention, Block, DenseMlp, NormLayout, QKNorm, windowed
from ..core.model.config import ConfigReader, sliding_layers


@dataclass(frozen=True, kw_only=True)
class Gemma2Dims(DecoderDims):
    sliding_window: int  # `sliding_window`, default 4096
    sliding: tuple[bool, ...]  # `layer_types`, default even layers
    attn_softcap: bool  # `attn_logit_softcapping` set (default 50.0)


class Gemma2ConfigParser(BaseModelConfigParser):
    model_type = "gemma2"
    architectures = frozenset({"Gemma2ForCausalLM", "Gemma2Model"})
    rmsnorm_unit_offset = True
    embedding_scale = True
    qk_norm: ClassVar[QKNorm] = QKNorm.NONE
    dims: Gemma2Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Gemma2Dims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(
            r,
            tie_default=True,
            act_key="hidden_activation",
            act_default="gelu_pytorch_tanh",
            head_dim_default=256,
            hidden_divisible=True,
        )
        layers = fields["num_layers"]
        return Gemma2Dims(
            **fields,
            final_logit_softcapping=_softcap(config, "final_logit_softcapping", 30.0),
            sliding_window=r.integer("sliding_window", 4096),
            sliding=tuple(sliding_layers(r, layers, [i % 2 == 0 for i in range(layers)])),
            attn_softcap=_softcap(config, "attn_logit_softcapping", 50.0),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        ffn = DenseMlp(d.intermediate_size, d.hidden_act)
        attention = Attention(
            d.num_heads, d.num_kv_heads, d.head_dim, qk_norm=self.qk_norm, softcap=d.attn_softcap
        )
        return [
            Block.decoder(layer, ffn, NormLayout.SANDWICH)
            for layer in windowed(attention, d.sliding_window, d.sliding)
        ]


def _softcap(config: Mapping[str, Any], key: str, default: float | None) -> bool:
    """Whether a soft-capping value is set: absent means the family default, null means none; a
    value is a positive number (HF's config class types it `float | None`)."""
    value = config.get(key, default)
    if value is None:
        return False
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(
            f"{config.get('model_type')} config: '{key}' must be a positive number or null, "
            f"got {shown(value)}"
        )
    return True
