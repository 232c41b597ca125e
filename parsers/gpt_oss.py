"""gpt-oss (`model_type: gpt_oss`): alternating sliding / full attention with sinks, biases
everywhere in attention, and a MoE FFN on every layer.

Ground truth: transformers `models/gpt_oss/modeling_gpt_oss.py`:
- attention: q/k/v/o with biases (`attention_bias`, default true), head_dim 64, one learned sink
  logit per head (`sinks`, an extra softmax entry); `layer_types` alternate
  sliding_attention (`sliding_window` 128) and full_attention;
- MoE: a linear router with bias over `num_local_experts` (32 / 128), top `num_experts_per_tok`
  (4), softmax over the chosen; each expert's gate_up and down projections carry biases; no
  shared expert. The gated activation is the clamped SwiGLU of `GptOssExperts._apply_gate`
  (`gpt_oss_swiglu`), whatever `hidden_act` says.
- its `quantization_config` (mxfp4 experts) sets the experts' weight format (see the README's
  formats section); the config has no torch_dtype, so the rest is float16 (HF's default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, Moe, windowed
from ..core.model.config import ConfigReader, sliding_layers, top_k_of


@dataclass(frozen=True, kw_only=True)
class GptOssDims(DecoderDims):
    attention_bias: bool  # `attention_bias`, default true
    sliding_window: int  # `sliding_window`, default 128
    sliding: tuple[bool, ...]  # `layer_types`, default: even layers slide
    num_experts: int  # `num_local_experts`, default 128
    top_k: int  # `num_experts_per_tok`, default 4


class GptOssConfigParser(BaseModelConfigParser):
    model_type = "gpt_oss"
    architectures = frozenset({"GptOssForCausalLM", "GptOssModel"})
    dims: GptOssDims

    def normalize_config(self, config: Mapping[str, Any]) -> GptOssDims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(r, head_dim_default=64)
        fields["hidden_act"] = "gpt_oss_swiglu"  # the experts' own gate; hidden_act is unused
        layers = fields["num_layers"]
        experts = r.integer("num_local_experts", 128)
        return GptOssDims(
            **fields,
            attention_bias=r.flag("attention_bias", True),
            sliding_window=r.integer("sliding_window", 128),
            sliding=tuple(sliding_layers(r, layers, [i % 2 == 0 for i in range(layers)])),
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 4, experts),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        moe = Moe(
            d.num_experts,
            d.top_k,
            d.intermediate_size,
            d.hidden_act,
            expert_bias=True,
            router_bias=True,
        )
        attention = Attention(
            d.num_heads,
            d.num_kv_heads,
            d.head_dim,
            qkv_bias=d.attention_bias,
            o_bias=d.attention_bias,
            sink=True,
        )
        return [
            Block.decoder(layer, moe) for layer in windowed(attention, d.sliding_window, d.sliding)
        ]
