"""Llama 1/2/3.x (`model_type: llama`): pre-norm blocks of GQA attention with RoPE and a SwiGLU MLP.

Ground truth: transformers `models/llama/modeling_llama.py` and `configuration_llama.py`.
Parameters per block: q/k/v/o projections (+ biases with `attention_bias`), gate/up/down
(+ biases with `mlp_bias`), two RMSNorm gains; plus the embedding, the final norm and an lm_head
that is untied unless `tie_word_embeddings` (default false).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp
from ..core.model.config import ConfigReader


@dataclass(frozen=True, kw_only=True)
class LlamaDims(DecoderDims):
    attention_bias: bool  # `attention_bias`, default false: biases on q, k, v and o
    mlp_bias: bool  # `mlp_bias`, default false: biases on gate, up and down


class LlamaConfigParser(BaseModelConfigParser):
    model_type = "llama"
    architectures = frozenset({"LlamaForCausalLM", "LLaMAForCausalLM", "LlamaModel"})
    dims: LlamaDims

    def normalize_config(self, config: Mapping[str, Any]) -> LlamaDims:
        r = ConfigReader(config, self.model_type)
        return LlamaDims(
            **decoder_dims(r, hidden_divisible=True),
            attention_bias=r.flag("attention_bias", False),
            mlp_bias=r.flag("mlp_bias", False),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        block = Block.decoder(
            Attention(
                heads=d.num_heads,
                kv_heads=d.num_kv_heads,
                head_dim=d.head_dim,
                qkv_bias=d.attention_bias,
                o_bias=d.attention_bias,
            ),
            DenseMlp(d.intermediate_size, d.hidden_act, bias=d.mlp_bias),
        )
        return [block] * d.num_layers
