"""MiniMax-M2 (`model_type: minimax_m2`): full attention with full-width q/k norms and partial
RoPE, and a sparse MoE FFN on every layer.

Ground truth: transformers `models/minimax_m2/modeling_minimax_m2.py` and
`configuration_minimax_m2.py`:
- attention: q/k/v/o without biases (H x d, H_kv x d, H_kv x d, H x d -> h); `q_norm` and `k_norm`
  are RMSNorms over the whole projection (gains of H*d and H_kv*d: `qk_norm_type` "per_layer"),
  before RoPE; RoPE rotates the first `rotary_dim` of each head's dims (HF turns `rotary_dim`
  into `partial_rotary_factor`); every layer attends to every token (`attn_type_list` 1: the
  lightning-attention layers of MiniMax-01/M1 (0) are not part of this architecture).
- MoE: a bias-free router (h -> `num_local_experts`) with sigmoid scores plus an
  `e_score_correction_bias` for the choice of the top `num_experts_per_tok` (a buffer, not a
  parameter, as HF counts); SwiGLU experts of width `intermediate_size`; no shared expert
  (`shared_intermediate_size` 0) and no dense layer. The scoring arithmetic is not counted.
- `quantization_config`: fp8 e4m3 (`float8_e4m3fn`) in 128 x 128 blocks on the projections and
  experts; the router (`gate`) and lm_head stay in the dtype.
- NB: the multi-token-prediction modules (`use_mtp`, `num_mtp_modules`) are not part of the
  served model's step (HF does not build them): neither their weights nor their work are counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.errors import ConfigError
from ..core.layers import Attention, Block, Moe, QKNorm
from ..core.model.config import ConfigReader, top_k_of


@dataclass(frozen=True, kw_only=True)
class MiniMaxM2Dims(DecoderDims):
    # intermediate_size: each routed expert's width (`intermediate_size`)
    rot_dim: int  # `rotary_dim`, default head_dim
    num_experts: int  # `num_local_experts`, default 256
    top_k: int  # `num_experts_per_tok`, default 8


class MiniMaxM2ConfigParser(BaseModelConfigParser):
    model_type = "minimax_m2"
    architectures = frozenset({"MiniMaxM2ForCausalLM", "MiniMaxM2Model"})
    dims: MiniMaxM2Dims

    def normalize_config(self, config: Mapping[str, Any]) -> MiniMaxM2Dims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(r, head_dim_default=128)
        head_dim = fields["head_dim"]
        rot_dim = r.integer("rotary_dim", head_dim)
        if rot_dim > head_dim or rot_dim % 2:
            raise ConfigError(
                f"{r.where}: 'rotary_dim' must be even and at most head_dim ({head_dim}), "
                f"got {rot_dim}"
            )
        _check_modelled(r, fields["num_layers"])
        experts = r.integer("num_local_experts", 256)
        return MiniMaxM2Dims(
            **fields,
            rot_dim=rot_dim,
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 8, experts),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads,
            d.num_kv_heads,
            d.head_dim,
            rot_dim=d.rot_dim,
            qk_norm=QKNorm.FULL_WIDTH,
        )
        moe = Moe(d.num_experts, d.top_k, d.intermediate_size, d.hidden_act)
        return [Block.decoder(attention, moe)] * d.num_layers


def _check_modelled(r: ConfigReader, layers: int) -> None:
    """Fields HF's MiniMaxM2 does not read but whose other values would make another model: fail
    on them rather than count a different architecture."""
    kinds = r.int_list("attn_type_list")
    if kinds is not None and (len(kinds) != layers or set(kinds) - {1}):
        raise ConfigError(
            f"{r.where}: 'attn_type_list' must list 1 (full attention) for each of the {layers} "
            "layers; lightning-attention layers (0) are not part of MiniMax-M2"
        )
    if not r.flag("use_qk_norm", True) or r.text("qk_norm_type", "per_layer") != "per_layer":
        raise ConfigError(
            f"{r.where}: only full-width q/k norms are modelled ('use_qk_norm' true, "
            "'qk_norm_type' \"per_layer\"), as HF's MiniMaxM2 builds them"
        )
    if r.integer("shared_intermediate_size", 0, minimum=0):
        raise ConfigError(
            f"{r.where}: 'shared_intermediate_size' must be 0: MiniMax-M2 has no shared expert"
        )
