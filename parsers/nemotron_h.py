"""NVIDIA Nemotron-H / Nemotron 3 (`model_type: nemotron_h`): a hybrid of Mamba-2, attention,
MoE and MLP layers, each layer ONE residual branch (pre RMSNorm, mixer, residual add).

Ground truth: transformers `models/nemotron_h/modeling_nemotron_h.py` and
`configuration_nemotron_h.py`:
- The layer stack: `layers_block_type` (alias `layer_types`; "linear_attention", "full_attention",
  "moe", "mlp"; the legacy "mamba" and "attention" are remapped), else `hybrid_override_pattern`,
  one letter per layer (`M` Mamba-2, `*` attention, `E` MoE, `-` MLP). HF takes the depth from
  the list and only warns when `num_hidden_layers` disagrees; here that is an error.
- Mamba-2 (core/layers/mamba2.py): `mamba_num_heads` x `mamba_head_dim` (the inner width;
  `expand` is not used), `ssm_state_size`, `n_groups`, `conv_kernel`, `use_conv_bias`,
  `mamba_hidden_act` (after the conv), `chunk_size`; in_proj and out_proj biases follow
  `use_bias` (`mamba_proj_bias` is not read by HF). The legacy keys `mamba_n_groups`,
  `mamba_d_conv`, `mamba_conv_bias`, `mamba_chunk_size` win when present, as in HF.
- Attention: `num_attention_heads`, `num_key_value_heads`, `head_dim` (default 128); q/k/v/o
  without biases whatever `attention_bias` says, and no rotary embedding (NemotronHAttention
  applies none: position comes from the Mamba layers); `sliding_window` is not used.
- MoE: `n_routed_experts` non-gated experts (up, `mlp_hidden_act` = relu2, down; no biases) of
  `moe_intermediate_size`, `num_experts_per_tok` per token by a sigmoid top-k router whose weight
  is kept in float32 (its `e_score_correction_bias` is a buffer, not a parameter; the grouped
  selection is not counted); one shared expert MLP of `moe_shared_expert_intermediate_size`
  (HF builds exactly one whatever `n_shared_experts` says); with `moe_latent_size`, the routed
  experts work at that width between fc1_latent_proj and fc2_latent_proj (biases: `mlp_bias`).
- MLP layers: non-gated, `intermediate_size`, `mlp_hidden_act`, biases `mlp_bias`.
- NB: MTP layers (`num_nextn_predict_layers`) are not built by HF and not counted.
- NB: NemotronHForCausalLM declares no tied weights (`_tied_weights_keys = {}`): its lm_head is a
  matrix of its own whatever `tie_word_embeddings` says, and is counted so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims
from ..core.errors import ConfigError
from ..core.layers import Attention, Block, DenseMlp, Mamba2, Moe
from ..core.layers.mixer import Mixer
from ..core.model.config import MAX_LAYERS, ConfigReader, top_k_of
from ..core.model.formats import lookup_format

# One letter of `hybrid_override_pattern` -> the layer type HF names it.
PATTERN_LETTERS = {
    "M": "linear_attention",
    "*": "full_attention",
    "E": "moe",
    "-": "mlp",
}
_LEGACY_TYPES = {"mamba": "linear_attention", "attention": "full_attention"}
_LAYER_TYPES = frozenset(PATTERN_LETTERS.values())
# Older configs name some Mamba fields with a `mamba_` prefix; HF lets those win.
_LEGACY_KEYS = {
    "n_groups": "mamba_n_groups",
    "conv_kernel": "mamba_d_conv",
    "use_conv_bias": "mamba_conv_bias",
    "chunk_size": "mamba_chunk_size",
}


@dataclass(frozen=True, kw_only=True)
class NemotronHDims(ModelDims):
    layer_types: tuple[str, ...]  # `layers_block_type` / `layer_types` / `hybrid_override_pattern`
    # Mamba-2
    mamba_heads: int  # `mamba_num_heads`, default 128
    mamba_head_dim: int  # `mamba_head_dim`, default 64
    ssm_state_size: int  # `ssm_state_size`, default 128
    n_groups: int  # `n_groups` (legacy `mamba_n_groups`), default 8
    conv_kernel: int  # `conv_kernel` (legacy `mamba_d_conv`), default 4
    use_conv_bias: bool  # `use_conv_bias` (legacy `mamba_conv_bias`), default true
    chunk_size: int  # `chunk_size` (legacy `mamba_chunk_size`), default 128
    mamba_act: str  # `mamba_hidden_act`, default "silu"
    use_bias: bool  # `use_bias` (Mamba in_proj / out_proj), default false
    # attention
    num_heads: int  # `num_attention_heads`, default 32
    num_kv_heads: int  # `num_key_value_heads`, default 8 (null: num_attention_heads)
    head_dim: int  # `head_dim`, default 128
    # MLP and MoE
    mlp_act: str  # `mlp_hidden_act`, default "relu2"
    mlp_bias: bool  # `mlp_bias`, default false
    intermediate_size: int  # `intermediate_size` (MLP layers), default 21504
    num_experts: int  # `n_routed_experts`, default 8
    top_k: int  # `num_experts_per_tok`, default 2
    moe_intermediate: int  # `moe_intermediate_size`, default 7688
    shared_intermediate: int  # `moe_shared_expert_intermediate_size`, default 7688
    moe_latent: int | None  # `moe_latent_size`, default null (the experts work at hidden_size)


def _mamba_key(config: Mapping[str, Any], key: str) -> str:
    legacy = _LEGACY_KEYS[key]
    return legacy if config.get(legacy) is not None else key


def layer_types(r: ConfigReader) -> tuple[str, ...]:
    """The type of each layer, from the list (`layers_block_type`, alias `layer_types`) or else
    the pattern string, as HF's NemotronHConfig reads them."""
    for key in ("layers_block_type", "layer_types"):
        listed = r.config.get(key)
        if listed is None:
            continue
        kinds: list[str] = []
        if isinstance(listed, list) and all(isinstance(kind, str) for kind in listed):
            kinds = [_LEGACY_TYPES.get(kind) or kind for kind in listed]
        if not kinds or not set(kinds) <= _LAYER_TYPES:
            raise ConfigError(
                f"{r.where}: '{key}' must be a non-empty list of "
                f"{', '.join(sorted(_LAYER_TYPES))}, got {listed!r}"
            )
        return tuple(kinds)
    pattern = r.text("hybrid_override_pattern")
    if not pattern:
        raise ConfigError(f"{r.where}: 'hybrid_override_pattern' is empty")
    unknown = sorted(set(pattern) - set(PATTERN_LETTERS))
    if unknown:
        raise ConfigError(
            f"{r.where}: 'hybrid_override_pattern' has unknown layer letter(s) "
            f"{', '.join(map(repr, unknown))} (known: M Mamba-2, * attention, E MoE, - MLP)"
        )
    return tuple(PATTERN_LETTERS[letter] for letter in pattern)


class NemotronHConfigParser(BaseModelConfigParser):
    model_type = "nemotron_h"
    architectures = frozenset({"NemotronHForCausalLM", "NemotronHModel"})
    dims: NemotronHDims

    def normalize_config(self, config: Mapping[str, Any]) -> NemotronHDims:
        r = ConfigReader(config, self.model_type)
        kinds = layer_types(r)
        if len(kinds) > MAX_LAYERS:
            raise ConfigError(f"{r.where}: {len(kinds)} layers exceed the limit of {MAX_LAYERS}")
        declared = r.optional_integer("num_hidden_layers")
        if declared is not None and declared != len(kinds):
            raise ConfigError(
                f"{r.where}: 'num_hidden_layers' ({declared}) disagrees with the "
                f"{len(kinds)} layers of the layer pattern"
            )
        heads = r.integer("num_attention_heads", 32)
        kv_heads = (
            heads
            if "num_key_value_heads" in config and config["num_key_value_heads"] is None
            else r.integer("num_key_value_heads", 8)
        )
        if heads % kv_heads:
            raise ConfigError(
                f"{r.where}: num_attention_heads ({heads}) is not a multiple of "
                f"num_key_value_heads ({kv_heads})"
            )
        mamba_heads = r.integer("mamba_num_heads", 128)
        groups_key = _mamba_key(config, "n_groups")
        groups = r.integer(groups_key, 8)
        if mamba_heads % groups:
            raise ConfigError(
                f"{r.where}: mamba_num_heads ({mamba_heads}) is not a multiple of "
                f"'{groups_key}' ({groups})"
            )
        experts = r.integer("n_routed_experts", 8)
        return NemotronHDims(
            hidden_size=r.integer("hidden_size"),
            num_layers=len(kinds),
            vocab_size=r.integer("vocab_size"),
            tie_word_embeddings=False,  # HF ties nothing (see the module docstring)
            dtype=r.dtype(),
            layer_types=kinds,
            mamba_heads=mamba_heads,
            mamba_head_dim=r.integer("mamba_head_dim", 64),
            ssm_state_size=r.integer("ssm_state_size", 128),
            n_groups=groups,
            conv_kernel=r.integer(_mamba_key(config, "conv_kernel"), 4),
            use_conv_bias=r.flag(_mamba_key(config, "use_conv_bias"), True),
            chunk_size=r.integer(_mamba_key(config, "chunk_size"), 128),
            mamba_act=r.activation("mamba_hidden_act", "silu"),
            use_bias=r.flag("use_bias", False),
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=r.integer("head_dim", 128),
            mlp_act=r.activation("mlp_hidden_act", "relu2"),
            mlp_bias=r.flag("mlp_bias", False),
            intermediate_size=r.integer("intermediate_size", 21504),
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 2, experts),
            moe_intermediate=r.integer("moe_intermediate_size", 7688),
            shared_intermediate=r.integer("moe_shared_expert_intermediate_size", 7688),
            moe_latent=r.optional_integer("moe_latent_size"),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        mixers: dict[str, Mixer] = {
            "linear_attention": Mamba2(
                d.mamba_heads,
                d.mamba_head_dim,
                d.ssm_state_size,
                d.n_groups,
                d.conv_kernel,
                d.chunk_size,
                act=d.mamba_act,
                conv_bias=d.use_conv_bias,
                bias=d.use_bias,
            ),
            "full_attention": Attention(d.num_heads, d.num_kv_heads, d.head_dim, rope=False),
            "moe": Moe(
                d.num_experts,
                d.top_k,
                d.moe_intermediate,
                d.mlp_act,
                shared_intermediate=d.shared_intermediate,
                gated=False,
                shared_bias=d.mlp_bias,
                latent=d.moe_latent or 0,
                latent_bias=d.mlp_bias,
                router_format=lookup_format("float32"),
            ),
            "mlp": DenseMlp(d.intermediate_size, d.mlp_act, bias=d.mlp_bias, gated=False),
        }
        return [Block.single(mixers[kind]) for kind in d.layer_types]
