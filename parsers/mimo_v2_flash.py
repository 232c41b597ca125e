"""MiMo-V2-Flash (`model_type: mimo_v2_flash`): sliding-window attention with sinks interleaved
with full attention, each with its own KV heads; q/k heads wider than v heads; a dense first
layer, then sparse MoE layers.

Ground truth: transformers `models/mimo_v2_flash/modeling_mimo_v2_flash.py` and
`configuration_mimo_v2_flash.py`:
- layer kinds: `layer_types`, else (as the checkpoint says) `hybrid_layer_pattern` (1 = sliding),
  else HF's default: full attention on layer 0 and every 6th layer (5, 11, ...), sliding on the
  rest. The released config's pattern is HF's default (9 full, 39 sliding layers).
- attention: q/k/v (biases with `attention_bias`), o without bias; q and k heads of `head_dim`
  (192), v heads of `v_head_dim` (128), so o_proj is H*v_head_dim -> h. Full layers have
  `num_key_value_heads` (4) KV heads; sliding layers `swa_num_key_value_heads`, default twice
  that (HF doubles them; the config says 8); `swa_num_attention_heads` / `swa_head_dim` /
  `swa_v_head_dim` default to the full layers' (HF uses those). One learned sink logit per head
  on sliding layers (`add_swa_attention_sink_bias`, default true) and none on full layers
  (`add_full_attention_sink_bias`, default false), as HF builds them. RoPE rotates
  int(head_dim * `partial_rotary_factor`) dims (0.334: 64 of 192; `rope_parameters` per layer
  type, else the top level: ConfigReader.rotary_factor); the two kinds differ in RoPE base only,
  which costs the same.
- window: HF attends to `sliding_window_size` previous tokens plus the query, i.e. a window of
  `sliding_window_size` + 1 keys (129; `sliding_window`, default 129, when no size is given); the
  cache keeps the last 128 tokens of a sliding layer.
- FFN: `mlp_layer_types` ("dense"/"sparse"), else `moe_layer_freq` as a list (1 = MoE), else
  HF's default: layer 0 dense (SwiGLU of `intermediate_size`), the rest MoE: a bias-free router
  (h -> `n_routed_experts`) kept in float32 (HF's `_keep_in_fp32_modules_strict`), sigmoid scores
  with an `e_score_correction_bias` (a buffer, not a parameter) for the choice of the top
  `num_experts_per_tok`, SwiGLU experts of width `moe_intermediate_size`, no shared expert. The
  (grouped) top-k selection and scoring arithmetic are not counted.
- NB: the value rescale (`attention_value_scale`, one multiply per new value element) is not
  counted. The multi-token-prediction layers (`model.mtp.*` in the checkpoint) are not part of
  the served model's step (HF does not build them): neither their weights nor their work are
  counted.
- `quantization_config`: fp8 e4m3 in 128 x 128 blocks on the projections and experts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.errors import ConfigError
from ..core.layers import Attention, Block, DenseMlp, Moe
from ..core.model.config import ConfigReader, top_k_of
from ..core.model.formats import lookup_format
from ..core.model.masks import AttentionPattern

_KINDS = frozenset({"full_attention", "sliding_attention"})
_ROTARY_DEFAULT = 0.334  # HF's partial_rotary_factor for both layer kinds


@dataclass(frozen=True, kw_only=True)
class AttentionKind:
    """One kind of attention layer's own dims."""

    heads: int  # `num_attention_heads` / `swa_num_attention_heads`
    kv_heads: int  # `num_key_value_heads` / `swa_num_key_value_heads`, default 2x the full's
    head_dim: int  # `head_dim` / `swa_head_dim`, default 192
    v_head_dim: int  # `v_head_dim` / `swa_v_head_dim`, default 128
    rot_dim: int  # int(head_dim * `partial_rotary_factor`), default factor 0.334
    sink: bool  # `add_full_attention_sink_bias` (false) / `add_swa_attention_sink_bias` (true)


@dataclass(frozen=True, kw_only=True)
class MiMoV2FlashDims(DecoderDims):
    # num_heads, num_kv_heads, head_dim: the full-attention layers'; intermediate_size: dense FFN
    full: AttentionKind  # the full-attention layers' (`num_attention_heads`, ...)
    swa: AttentionKind  # the sliding layers' (`swa_*`, defaults from the full layers')
    attention_bias: bool  # `attention_bias`, default false
    sliding_window: int  # `sliding_window_size` + 1, else `sliding_window`, default 129
    sliding: tuple[bool, ...]  # per layer: `layer_types`, else `hybrid_layer_pattern`, else HF's
    num_experts: int  # `n_routed_experts`, default 256
    top_k: int  # `num_experts_per_tok`, default 8
    moe_intermediate: int  # `moe_intermediate_size`, default 2048
    moe_layers: frozenset[int]  # `mlp_layer_types`, else `moe_layer_freq`, else all but layer 0


class MiMoV2FlashConfigParser(BaseModelConfigParser):
    model_type = "mimo_v2_flash"
    architectures = frozenset({"MiMoV2FlashForCausalLM", "MiMoV2FlashModel"})
    dims: MiMoV2FlashDims

    def normalize_config(self, config: Mapping[str, Any]) -> MiMoV2FlashDims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(r, head_dim_default=192)
        layers = fields["num_layers"]
        full = AttentionKind(
            heads=fields["num_heads"],
            kv_heads=fields["num_kv_heads"],
            head_dim=fields["head_dim"],
            v_head_dim=r.integer("v_head_dim", 128),
            rot_dim=int(fields["head_dim"] * r.rotary_factor(_ROTARY_DEFAULT, "full_attention")),
            sink=r.flag("add_full_attention_sink_bias", False),
        )
        swa_head_dim = r.integer("swa_head_dim", full.head_dim)
        swa = AttentionKind(
            heads=r.integer("swa_num_attention_heads", full.heads),
            kv_heads=r.integer("swa_num_key_value_heads", 2 * full.kv_heads),
            head_dim=swa_head_dim,
            v_head_dim=r.integer("swa_v_head_dim", full.v_head_dim),
            rot_dim=int(swa_head_dim * r.rotary_factor(_ROTARY_DEFAULT, "sliding_attention")),
            sink=r.flag("add_swa_attention_sink_bias", True),
        )
        if swa.heads % swa.kv_heads:  # the full layers' heads are checked by decoder_dims
            raise ConfigError(
                f"{r.where}: swa_num_attention_heads ({swa.heads}) is not a multiple of "
                f"swa_num_key_value_heads ({swa.kv_heads})"
            )
        size = r.optional_integer("sliding_window_size")
        window = size + 1 if size is not None else r.integer("sliding_window", 129)
        experts = r.integer("n_routed_experts", 256)
        if r.integer("n_shared_experts", 0, minimum=0):
            raise ConfigError(
                f"{r.where}: 'n_shared_experts' must be 0 or null: MiMo-V2-Flash has no shared "
                "expert"
            )
        return MiMoV2FlashDims(
            **fields,
            full=full,
            swa=swa,
            attention_bias=r.flag("attention_bias", False),
            sliding_window=window,
            sliding=_sliding(r, layers),
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 8, experts),
            moe_intermediate=r.integer("moe_intermediate_size", 2048),
            moe_layers=_moe_layers(r, layers),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        full, swa = (
            Attention(
                kind.heads,
                kind.kv_heads,
                kind.head_dim,
                pattern,
                rot_dim=kind.rot_dim,
                qkv_bias=d.attention_bias,
                sink=kind.sink,
                v_head_dim=kind.v_head_dim,
                prefix=prefix,
            )
            for kind, pattern, prefix in (
                (d.full, AttentionPattern(), "Global_"),
                (d.swa, AttentionPattern.sliding(d.sliding_window), ""),
            )
        )
        moe = Moe(
            d.num_experts,
            d.top_k,
            d.moe_intermediate,
            d.hidden_act,
            router_format=lookup_format("float32"),
        )
        dense = DenseMlp(d.intermediate_size, d.hidden_act)
        return [
            Block.decoder(swa if d.sliding[i] else full, moe if i in d.moe_layers else dense)
            for i in range(d.num_layers)
        ]


def _sliding(r: ConfigReader, layers: int) -> tuple[bool, ...]:
    kinds = r.layer_types(layers, _KINDS)
    if kinds is not None:
        return tuple(kind == "sliding_attention" for kind in kinds)
    pattern = _flags(r, "hybrid_layer_pattern", layers)
    if pattern is not None:
        return pattern
    return tuple(not (i == 0 or (i + 1) % 6 == 0) for i in range(layers))


def _moe_layers(r: ConfigReader, layers: int) -> frozenset[int]:
    kinds = r.layer_types(layers, frozenset({"dense", "sparse"}), key="mlp_layer_types")
    if kinds is not None:
        return frozenset(i for i, kind in enumerate(kinds) if kind == "sparse")
    freq = _flags(r, "moe_layer_freq", layers)
    if freq is not None:
        return frozenset(i for i, moe in enumerate(freq) if moe)
    return frozenset(range(1, layers))


def _flags(r: ConfigReader, key: str, layers: int) -> tuple[bool, ...] | None:
    """A per-layer list of 0/1 flags, or None when absent."""
    value = r.config.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != layers
        or not all(type(flag) is int and flag in (0, 1) for flag in value)
    ):
        raise ConfigError(f"{r.where}: '{key}' must list 0 or 1 for each of the {layers} layers")
    return tuple(bool(flag) for flag in value)
