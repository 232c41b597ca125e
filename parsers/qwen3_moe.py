"""Qwen3 MoE (`model_type: qwen3_moe`): Qwen3's attention; sparse MoE FFN layers.

Ground truth: transformers `models/qwen3_moe/modeling_qwen3_moe.py`. Layer i is a MoE layer when
it is not in `mlp_only_layers` and (i + 1) is a multiple of `decoder_sparse_step`; a MoE layer
routes each token to `num_experts_per_tok` of `num_experts` SwiGLU experts of width
`moe_intermediate_size` (bias-free router, no shared expert); other layers are dense MLPs of
`intermediate_size`. With `use_sliding_window`, every layer slides (`sliding_window`).

Also Qwen3-VL-MoE's text decoder (`model_type: qwen3_vl_moe`, read from `text_config`):
transformers `models/qwen3_vl_moe/modeling_qwen3_vl_moe.py` builds these layers (the same MoE
rule, router and experts; q/k norms) with MRoPE (what RoPE costs; see parsers/qwen3.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser
from ..core.layers import Block, DenseMlp, Moe
from ..core.model.config import top_k_of
from .qwen3 import Qwen3Dims, qwen3_attention, qwen3_fields


@dataclass(frozen=True, kw_only=True)
class Qwen3MoeDims(Qwen3Dims):
    num_experts: int  # `num_experts`, default 128
    top_k: int  # `num_experts_per_tok`, default 8
    moe_intermediate: int  # `moe_intermediate_size`, default 768
    moe_layers: frozenset[int]  # from `decoder_sparse_step` (default 1), `mlp_only_layers`


class Qwen3MoeConfigParser(BaseModelConfigParser):
    model_type = "qwen3_moe"
    architectures = frozenset(
        {
            "Qwen3MoeForCausalLM",
            "Qwen3MoeModel",
            "Qwen3VLMoeForConditionalGeneration",
            "Qwen3VLMoeModel",
        }
    )
    dims: Qwen3MoeDims

    def normalize_config(self, config: Mapping[str, Any]) -> Qwen3MoeDims:
        r, fields = qwen3_fields(config, self.model_type, head_dim_default=None)
        layers = fields["num_layers"]
        experts = r.integer("num_experts", 128)
        step = r.integer("decoder_sparse_step", 1)
        dense_only = set(r.int_list("mlp_only_layers") or [])
        window = r.integer("sliding_window", 4096) if r.flag("use_sliding_window", False) else None
        return Qwen3MoeDims(
            **fields,
            attention_bias=r.flag("attention_bias", False),
            sliding_window=window,
            sliding=(window is not None,) * layers,
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 8, experts),
            moe_intermediate=r.integer("moe_intermediate_size", 768),
            moe_layers=frozenset(
                i for i in range(layers) if i not in dense_only and (i + 1) % step == 0
            ),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        moe = Moe(d.num_experts, d.top_k, d.moe_intermediate, d.hidden_act)
        dense = DenseMlp(d.intermediate_size, d.hidden_act)
        return [
            Block.decoder(attention, moe if i in d.moe_layers else dense)
            for i, attention in enumerate(qwen3_attention(d))
        ]
