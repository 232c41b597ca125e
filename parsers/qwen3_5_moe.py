"""Qwen3.5 / Qwen3.6 MoE (`model_type: qwen3_5_moe`, the text decoder in `text_config`; or a bare
`qwen3_5_moe_text` config): Qwen3.5's hybrid of Gated DeltaNet and gated full attention
(parsers/qwen3_5.py) with a sparse MoE block on every layer.

Ground truth: transformers `models/qwen3_5_moe/modeling_qwen3_5_moe.py`. The MoE block: a
bias-free router (h -> `num_experts`, default 256; softmax, top `num_experts_per_tok`, default
8, renormalised), SwiGLU experts of `moe_intermediate_size` (512), and one shared SwiGLU expert
of `shared_expert_intermediate_size` (512) scaled by sigmoid(shared_expert_gate(x)) (h -> 1).
Every layer is a MoE layer: HF reads no `mlp_only_layers` / `decoder_sparse_step` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser
from ..core.layers import Block, Moe
from ..core.model.config import top_k_of
from .qwen3_5 import Qwen3_5Dims, qwen3_5_fields, qwen3_5_layers


@dataclass(frozen=True, kw_only=True)
class Qwen3_5MoeDims(Qwen3_5Dims):
    num_experts: int  # E: `num_experts`, default 256
    top_k: int  # `num_experts_per_tok`, default 8
    moe_intermediate: int  # `moe_intermediate_size`, default 512
    shared_intermediate: int  # `shared_expert_intermediate_size`, default 512


class Qwen3_5MoeConfigParser(BaseModelConfigParser):
    model_type = "qwen3_5_moe"
    architectures = frozenset(
        {"Qwen3_5MoeForConditionalGeneration", "Qwen3_5MoeForCausalLM", "Qwen3_5MoeModel"}
    )
    rmsnorm_unit_offset = True  # Qwen3_5MoeRMSNorm: x * (1 + g)
    dims: Qwen3_5MoeDims

    def normalize_config(self, config: Mapping[str, Any]) -> Qwen3_5MoeDims:
        r, fields = qwen3_5_fields(config, self.model_type, kv_heads_default=2)
        experts = r.integer("num_experts", 256)
        return Qwen3_5MoeDims(
            **fields,
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 8, experts),
            moe_intermediate=r.integer("moe_intermediate_size", 512),
            shared_intermediate=r.integer("shared_expert_intermediate_size", 512),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        moe = Moe(
            d.num_experts,
            d.top_k,
            d.moe_intermediate,
            d.hidden_act,
            shared_intermediate=d.shared_intermediate,
            shared_gate=True,
        )
        return qwen3_5_layers(d, moe)
