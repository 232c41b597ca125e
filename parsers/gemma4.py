"""Gemma 4 text decoder (`model_type: gemma4`, text in `text_config`; or a bare `gemma4_text`).

Ground truth: transformers `models/gemma4/modeling_gemma4.py` (Gemma4TextAttention, Gemma4TextMLP,
Gemma4TextRouter, Gemma4TextExperts, Gemma4TextDecoderLayer, Gemma4TextModel) and
`configuration_gemma4.py` (Gemma4TextConfig: defaults, `per_layer_config`, `kv_sharing_modes`).

- Layers: `layer_types`, default five sliding (`sliding_window`, 512) then one full; HF forces the
  last layer to full attention. Per layer type its own head_dim and KV heads: full layers take
  `global_head_dim` (512) and, when `attention_k_eq_v`, `num_global_key_value_heads` (else
  `num_key_value_heads`), unless the config spells them out in `per_layer_config`
  ({layer: {head_dim, num_key_value_heads}}, uniform within a layer type, as HF requires).
- Attention: q/k per-head RMSNorms with gains, a gain-less v norm, score scale 1.0 (no FLOP
  difference), no soft-capping. `attention_k_eq_v`: full layers have no v_proj, the values are
  the key projection's output (HF's cache still holds keys and values apart). RoPE on all of
  head_dim for rope_type "default", else on 2*floor(`partial_rotary_factor` * head_dim / 2) dims
  (`rope_parameters.full_attention`: proportional, 0.25 -> 128 of 512).
- KV sharing: the last `num_kv_shared_layers` layers reuse the K and V of the last earlier layer
  of their type: q projection and norm only, no cache of their own. `use_double_wide_mlp` doubles
  their MLP width.
- Channel mixing: a gated MLP (`intermediate_size`, `hidden_activation` gelu_pytorch_tanh); with
  `enable_moe_block`, also `num_experts` routed experts of `moe_intermediate_size` (top
  `top_k_experts`) beside it, each part between its own norms (core/layers/moe_dense.py), the
  router with a gain-less norm, a scale vector and `per_expert_scale`.
- Sandwich norms around both branches; Gemma 4's RMSNorm multiplies by the gain itself (not
  1 + gain as Gemma 2/3). Tied embeddings scaled by sqrt(h); `final_logit_softcapping` (30.0 in
  the released configs, none by default).
- Per-layer input embeddings when `hidden_size_per_layer_input` (default 256) is nonzero
  (core/layers/per_layer_inputs.py): a `vocab_size_per_layer_input` x (L p) table and an
  h -> L p projection once per step, and in each layer a gated h -> p -> h branch.
- NB: each layer's output times `layer_scalar` (a 1-element buffer, not a parameter; 1 FLOP per
  element per layer) is not counted; nor are the 8-byte window tensors HF's sliding cache layers
  keep (200 bytes for the 26B: 115,343,560 B held at 512 tokens, 115,343,360 B counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims
from ..core.errors import ConfigError, UnsupportedModelError
from ..core.layers import (
    Attention,
    Block,
    Branch,
    DenseMlp,
    Moe,
    MoeWithDense,
    NormLayout,
    PerLayerEmbedding,
    PerLayerInput,
    QKNorm,
)
from ..core.layers.ends import ModelEnds
from ..core.layers.mixer import Mixer
from ..core.model.config import ConfigReader, top_k_of
from ..core.model.masks import AttentionPattern
from .gemma2 import _softcap

SLIDING, FULL = "sliding_attention", "full_attention"
_DEFAULT_ROPE: Mapping[str, Mapping[str, Any]] = {  # read-only (shared by every parser)
    SLIDING: {"rope_type": "default", "rope_theta": 10_000.0},
    FULL: {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1_000_000.0},
}


@dataclass(frozen=True, kw_only=True)
class Gemma4Dims(ModelDims):
    num_heads: int  # H: `num_attention_heads`
    intermediate_size: int  # I: `intermediate_size`
    hidden_act: str  # `hidden_activation`, default gelu_pytorch_tanh
    attention_bias: bool  # `attention_bias`, default false
    layer_types: tuple[str, ...]  # `layer_types`, default 5 sliding : 1 full; the last one full
    sliding_window: int  # W: `sliding_window`, default 512
    kv_heads: tuple[int, ...]  # per layer: `num_key_value_heads` (4) or the full layers' override
    head_dims: tuple[int, ...]  # per layer: `head_dim` (256) or `global_head_dim` (512)
    rot_dims: tuple[int, ...]  # per layer: rotated dims from `rope_parameters[layer type]`
    k_eq_v: bool  # `attention_k_eq_v`, default false: full layers' values are their keys
    kv_shared_layers: int  # `num_kv_shared_layers`, default 0: the last ones reuse K and V
    double_wide_mlp: bool  # `use_double_wide_mlp`, default false: 2 I on KV-shared layers
    moe: bool  # `enable_moe_block`, default false
    num_experts: int  # E: `num_experts` (0 without MoE)
    top_k: int  # `top_k_experts` (0 without MoE)
    moe_intermediate_size: int  # `moe_intermediate_size` (0 without MoE)
    per_layer_width: int  # p: `hidden_size_per_layer_input`, default 256; 0: no PLE
    per_layer_vocab: int  # V_p: `vocab_size_per_layer_input`, default 262144


class Gemma4ConfigParser(BaseModelConfigParser):
    model_type = "gemma4"
    architectures = frozenset(
        {"Gemma4ForConditionalGeneration", "Gemma4ForCausalLM", "Gemma4Model", "Gemma4TextModel"}
    )
    embedding_scale = True
    dims: Gemma4Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Gemma4Dims:
        top = ConfigReader(config, self.model_type)
        nested = config.get("text_config") is not None
        r = top.section("text_config") if nested else top
        hidden = r.integer("hidden_size")
        layers = r.layers()
        heads = r.integer("num_attention_heads")
        layer_types = list(
            r.layer_types(layers, frozenset({SLIDING, FULL})) or _default_types(layers)
        )
        layer_types[-1] = FULL  # as Gemma4TextConfig forces it
        head_dims, kv_heads = _head_shapes(r, layer_types, heads)
        rope = _rope_parameters(r, set(layer_types))
        bidirectional = r.config.get("use_bidirectional_attention")
        if bidirectional == "all":
            raise UnsupportedModelError(
                f"{r.where}: use_bidirectional_attention 'all' (non-causal, an encoder) is not "
                "modelled"
            )
        if bidirectional not in (None, "vision"):
            raise ConfigError(
                f"{r.where}: 'use_bidirectional_attention' must be null, 'vision' or 'all', got "
                f"{bidirectional!r}"
            )
        shared = r.integer("num_kv_shared_layers", 0, minimum=0)
        if shared > layers:
            raise ConfigError(
                f"{r.where}: 'num_kv_shared_layers' ({shared}) exceeds the {layers} layers"
            )
        if 0 < shared < layers and set(layer_types[: layers - shared]) != set(layer_types):
            raise ConfigError(
                f"{r.where}: 'num_kv_shared_layers' ({shared}) leaves a layer type with no "
                "earlier layer to share keys and values from"
            )
        moe = r.flag("enable_moe_block", False)
        num_experts = r.integer("num_experts") if moe else 0
        top_k = top_k_of(r, "top_k_experts", None, num_experts) if moe else 0
        return Gemma4Dims(
            hidden_size=hidden,
            num_layers=layers,
            vocab_size=r.integer("vocab_size"),
            tie_word_embeddings=r.flag(
                "tie_word_embeddings", top.flag("tie_word_embeddings", True)
            ),
            dtype=r.dtype(fallback=top if nested else None),
            final_logit_softcapping=_softcap(r.config, "final_logit_softcapping", None),
            num_heads=heads,
            intermediate_size=r.integer("intermediate_size"),
            hidden_act=r.activation("hidden_activation", "gelu_pytorch_tanh"),
            attention_bias=r.flag("attention_bias", False),
            layer_types=tuple(layer_types),
            sliding_window=r.integer("sliding_window", 512),
            kv_heads=tuple(kv_heads),
            head_dims=tuple(head_dims),
            rot_dims=tuple(
                _rot_dim(r, rope[kind], kind, dim)
                for kind, dim in zip(layer_types, head_dims, strict=True)
            ),
            k_eq_v=r.flag("attention_k_eq_v", False),
            kv_shared_layers=shared,
            double_wide_mlp=r.flag("use_double_wide_mlp", False),
            moe=moe,
            num_experts=num_experts,
            top_k=top_k,
            moe_intermediate_size=r.integer("moe_intermediate_size") if moe else 0,
            per_layer_width=r.integer("hidden_size_per_layer_input", 256, minimum=0),
            per_layer_vocab=r.integer("vocab_size_per_layer_input", 262_144),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        first_shared = d.num_layers - d.kv_shared_layers
        blocks = []
        for i, kind in enumerate(d.layer_types):
            sliding, shared = kind == SLIDING, i >= first_shared
            attention = Attention(
                heads=d.num_heads,
                kv_heads=d.kv_heads[i],
                head_dim=d.head_dims[i],
                pattern=AttentionPattern.sliding(d.sliding_window if sliding else None),
                rot_dim=d.rot_dims[i],
                qk_norm=QKNorm.PER_HEAD,
                qkv_bias=d.attention_bias,
                o_bias=d.attention_bias,
                k_eq_v=d.k_eq_v and not sliding,
                v_norm=True,
                kv_shared=shared,
                prefix="" if sliding else "Global_",
            )
            wide = d.double_wide_mlp and shared
            dense = DenseMlp(
                d.intermediate_size * (2 if wide else 1),
                d.hidden_act,
                prefix="DoubleWide_" if wide else "",
            )
            channel: Mixer = dense
            if d.moe:
                experts = Moe(d.num_experts, d.top_k, d.moe_intermediate_size, d.hidden_act)
                channel = MoeWithDense(dense, experts, router_norm=True, expert_scale=True)
            branches = [
                Branch(attention, NormLayout.SANDWICH),
                Branch(channel, NormLayout.SANDWICH),
            ]
            if d.per_layer_width:
                branches.append(
                    Branch(PerLayerInput(d.per_layer_width, d.hidden_act), NormLayout.POST)
                )
            blocks.append(Block(tuple(branches)))
        return blocks

    def ends(self) -> ModelEnds:
        d = self.dims
        per_layer = (
            PerLayerEmbedding(d.per_layer_vocab, d.num_layers, d.per_layer_width)
            if d.per_layer_width
            else None
        )
        return ModelEnds(
            vocab_size=d.vocab_size,
            hidden_size=d.hidden_size,
            tied=d.tie_word_embeddings,
            embedding_scale=True,
            final_softcap=d.final_logit_softcapping,
            per_layer=per_layer,
        )


def _default_types(layers: int) -> list[str]:
    """Gemma4TextConfig's default: five sliding layers, then one full, repeated."""
    return [SLIDING if (i + 1) % 6 else FULL for i in range(layers)]


def _head_shapes(
    r: ConfigReader, layer_types: list[str], heads: int
) -> tuple[list[int], list[int]]:
    """(head_dim, KV heads) of each layer: the config's, overridden on full layers by
    `global_head_dim` / `num_global_key_value_heads` or by an explicit `per_layer_config`."""
    head_dim = r.integer("head_dim", 256)
    kv = r.integer("num_key_value_heads", 4)
    layers = len(layer_types)
    explicit = r.config.get("per_layer_config")
    if explicit is None:
        override: dict[str, int] = {"head_dim": r.integer("global_head_dim", 512)}
        global_kv = r.optional_integer("num_global_key_value_heads")
        if r.flag("attention_k_eq_v", False) and global_kv is not None:
            override["num_key_value_heads"] = global_kv
        overrides = {i: override for i, kind in enumerate(layer_types) if kind == FULL}
    else:
        overrides = _per_layer_config(r, explicit, layers)
    shapes = [
        (
            overrides.get(i, {}).get("head_dim", head_dim),
            overrides.get(i, {}).get("num_key_value_heads", kv),
        )
        for i in range(layers)
    ]
    for kind in set(layer_types):
        if len({shape for shape, k in zip(shapes, layer_types, strict=True) if k == kind}) > 1:
            raise ConfigError(
                f"{r.where}: 'per_layer_config' gives the {kind} layers different shapes (HF "
                "requires one per layer type)"
            )
    for i, (_, kv_heads) in enumerate(shapes):
        if heads % kv_heads:
            raise ConfigError(
                f"{r.where}: num_attention_heads ({heads}) is not a multiple of layer {i}'s "
                f"num_key_value_heads ({kv_heads})"
            )
    return [dim for dim, _ in shapes], [kv_heads for _, kv_heads in shapes]


_PER_LAYER_KEYS = ("head_dim", "num_key_value_heads")


def _per_layer_config(r: ConfigReader, value: Any, layers: int) -> dict[int, dict[str, int]]:
    """An explicit `per_layer_config` ({"05": {"head_dim": 512, ...}}): the overrides modelled."""
    where = f"{r.where}: 'per_layer_config'"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be an object of layer index -> overrides")
    overrides: dict[int, dict[str, int]] = {}
    for key, fields in value.items():
        index = int(key) if isinstance(key, str) and key.isdigit() else key
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < layers:
            raise ConfigError(f"{where}: {key!r} is not a layer index below {layers}")
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{where}[{key!r}] must be an object, got {fields!r}")
        unknown = sorted(set(fields) - set(_PER_LAYER_KEYS))
        if unknown:
            raise UnsupportedModelError(
                f"{where}[{key!r}]: overrides of {', '.join(unknown)} are not modelled "
                f"(modelled: {', '.join(_PER_LAYER_KEYS)})"
            )
        layer = ConfigReader(fields, r.model_type, f"per_layer_config[{key!r}]")
        overrides[index] = {
            name: number
            for name in _PER_LAYER_KEYS
            if (number := layer.optional_integer(name)) is not None
        }
    return overrides


def _rope_parameters(r: ConfigReader, kinds: set[str]) -> dict[str, Mapping[str, Any]]:
    """`rope_parameters` by layer type (Gemma4TextConfig's defaults when absent)."""
    value = r.config.get("rope_parameters")
    if value is None:
        return dict(_DEFAULT_ROPE)
    if not isinstance(value, Mapping) or not all(isinstance(value.get(k), Mapping) for k in kinds):
        raise ConfigError(
            f"{r.where}: 'rope_parameters' must hold an object for each layer type "
            f"({', '.join(sorted(kinds))}), got {value!r}"
        )
    return {kind: value[kind] for kind in kinds}


def _rot_dim(r: ConfigReader, rope: Mapping[str, Any], kind: str, head_dim: int) -> int:
    """Rotated dims per head: all of them for rope_type "default" (Gemma 4's own default RoPE
    ignores the factor); else as proportional RoPE rotates them, 2 * int(factor * head_dim // 2)."""
    if rope.get("rope_type", "default") == "default":
        return head_dim
    factor = rope.get("partial_rotary_factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 <= factor <= 1:
        raise ConfigError(
            f"{r.where}: 'rope_parameters.{kind}.partial_rotary_factor' must be a number in "
            f"[0, 1], got {factor!r}"
        )
    return 2 * int(factor * head_dim // 2)
