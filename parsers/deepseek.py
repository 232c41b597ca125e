"""DeepSeek-V2 / V3 (`model_type: deepseek_v2`, `deepseek_v3`; Kimi-K2's remote-code `kimi_k2`
is DeepSeek-V3's architecture): Multi-head Latent Attention and a MoE FFN with shared experts.

Ground truth: transformers `models/deepseek_v3/modeling_deepseek_v3.py` (and `deepseek_v2`):
- MLA (see `MlaAttention` in core/blocks.py): q through `q_lora_rank` (q_a_proj, q_a_layernorm,
  q_b_proj) or a direct q_proj when it is null; kv_a_proj_with_mqa (h -> kv_lora_rank +
  qk_rope_head_dim), kv_a_layernorm, kv_b_proj (kv_lora_rank -> H x (qk_nope_head_dim +
  v_head_dim)), o_proj (H x v_head_dim -> h); biases on q_a, kv_a and o with `attention_bias`.
  The KV cache holds the latent: kv_lora_rank + qk_rope_head_dim values per token and layer.
- MoE: layers from `first_k_dense_replace` on (and, as in DeepSeek's own code, every
  `moe_layer_freq`-th; HF ignores the frequency, which is 1 in every released config) route each
  token to `num_experts_per_tok` of `n_routed_experts` experts of width `moe_intermediate_size`,
  plus `n_shared_experts` always-on experts (one MLP of n_shared x moe_intermediate_size); the
  router is a bias-free linear layer (its grouped top-k selection is not counted). The first
  layers are dense MLPs of `intermediate_size`.
- NB: DeepSeek-V3's multi-token-prediction module (`num_nextn_predict_layers`) is not part of the
  served model's step (HF does not build it): neither its weights nor its work are counted.
- Kimi-K2.5 (`model_type: kimi_k25`, transformers `models/kimi_k25/`): a vision-language wrapper
  whose `text_config` is a Kimi-K2 (`kimi_k2`, which HF maps to `deepseek_v3`) decoder, built by
  AutoModel as a DeepseekV3Model; only that decoder is modelled (no vision tower, no projector).
  The LM head belongs to the wrapper, so the wrapper's `tie_word_embeddings` (default true, as
  Kimi_K25Config) decides the tying; the dtype is the text_config's, else the wrapper's; the
  `quantization_config` sits in `text_config`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims, quantization_section
from ..core.errors import ConfigError
from ..core.layers import Block, DenseMlp, MlaAttention, MlaMode, Moe
from ..core.model.config import ConfigReader, top_k_of

# The text models a wrapper's `text_config` may name (Kimi_K25Config maps kimi_k2 to deepseek_v3).
_TEXT_TYPES = ("deepseek_v3", "kimi_k2")


@dataclass(frozen=True, kw_only=True)
class DeepseekDims(ModelDims):
    num_heads: int  # H: `num_attention_heads`
    q_lora_rank: int | None  # `q_lora_rank`; null: a direct q projection
    kv_lora_rank: int  # `kv_lora_rank`
    nope_dim: int  # `qk_nope_head_dim`
    rope_dim: int  # `qk_rope_head_dim`
    v_dim: int  # `v_head_dim`
    attention_bias: bool  # `attention_bias`, default false
    intermediate_size: int  # dense layers: `intermediate_size`
    hidden_act: str  # `hidden_act`, default "silu"
    num_experts: int  # `n_routed_experts`
    top_k: int  # `num_experts_per_tok`
    moe_intermediate: int  # `moe_intermediate_size`
    shared_experts: int  # `n_shared_experts`, default 0
    moe_layers: frozenset[int]  # i >= `first_k_dense_replace` and i % `moe_layer_freq` == 0


class DeepseekV2ConfigParser(BaseModelConfigParser):
    model_type = "deepseek_v2"
    architectures = frozenset({"DeepseekV2ForCausalLM", "DeepseekV2Model"})
    dims: DeepseekDims

    def normalize_config(self, config: Mapping[str, Any]) -> DeepseekDims:
        top = ConfigReader(config, self.model_type)
        wrapped = config.get("text_config") is not None  # Kimi-K2.5: the decoder is text_config
        r = top.section("text_config") if wrapped else top
        if wrapped and r.text("model_type", "deepseek_v3") not in _TEXT_TYPES:
            raise ConfigError(
                f"{r.where}: 'model_type' must be one of {', '.join(_TEXT_TYPES)}, "
                f"got {r.config['model_type']!r}"
            )
        fields = deepseek_dims(r)
        if wrapped:  # the wrapper decides tying (Kimi_K25Config: true) and may hold the dtype
            fields["tie_word_embeddings"] = top.flag("tie_word_embeddings", True)
            fields["dtype"] = r.dtype(fallback=top)
        return DeepseekDims(**fields)

    def quantization_config(self) -> Mapping[str, Any] | None:
        """Kimi-K2.5 keeps its `quantization_config` in `text_config`."""
        text = self.config.get("text_config")
        if isinstance(text, Mapping) and "quantization_config" in text:
            nested = quantization_section(text, "text_config.quantization_config")
            if nested is not None:
                return nested
        return super().quantization_config()

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = mla_attention(d, self.mla_mode)
        moe, dense = channel_mixers(d)
        return [
            Block.decoder(attention, moe if i in d.moe_layers else dense)
            for i in range(d.num_layers)
        ]


def mla_attention(d: DeepseekDims, mode: MlaMode) -> MlaAttention:
    """The MLA of every layer."""
    return MlaAttention(
        d.num_heads,
        d.q_lora_rank,
        d.kv_lora_rank,
        d.nope_dim,
        d.rope_dim,
        d.v_dim,
        mode=mode,
        bias=d.attention_bias,
    )


def channel_mixers(d: DeepseekDims) -> tuple[Moe, DenseMlp]:
    """The MoE of the `moe_layers` and the dense MLP of the others."""
    moe = Moe(
        d.num_experts,
        d.top_k,
        d.moe_intermediate,
        d.hidden_act,
        shared_intermediate=d.moe_intermediate * d.shared_experts,
    )
    return moe, DenseMlp(d.intermediate_size, d.hidden_act)


def deepseek_dims(r: ConfigReader) -> dict[str, Any]:
    """The `DeepseekDims` fields read from `r` (keyword arguments for a dims dataclass)."""
    layers = r.layers()
    experts = r.integer("n_routed_experts")
    first_dense = r.integer("first_k_dense_replace", 0, minimum=0)
    freq = r.integer("moe_layer_freq", 1)
    return {
        "hidden_size": r.integer("hidden_size"),
        "num_layers": layers,
        "vocab_size": r.integer("vocab_size"),
        "tie_word_embeddings": r.flag("tie_word_embeddings", False),
        "dtype": r.dtype(),
        "num_heads": r.integer("num_attention_heads"),
        "q_lora_rank": r.optional_integer("q_lora_rank"),
        "kv_lora_rank": r.integer("kv_lora_rank"),
        "nope_dim": r.integer("qk_nope_head_dim"),
        "rope_dim": r.integer("qk_rope_head_dim"),
        "v_dim": r.integer("v_head_dim"),
        "attention_bias": r.flag("attention_bias", False),
        "intermediate_size": r.integer("intermediate_size"),
        "hidden_act": r.activation(),
        "num_experts": experts,
        "top_k": top_k_of(r, "num_experts_per_tok", 1, experts),
        "moe_intermediate": r.integer("moe_intermediate_size"),
        "shared_experts": r.integer("n_shared_experts", 0, minimum=0),
        "moe_layers": frozenset(i for i in range(first_dense, layers) if i % freq == 0),
    }


class DeepseekV3ConfigParser(DeepseekV2ConfigParser):
    model_type = "deepseek_v3"
    architectures = frozenset(
        {
            "DeepseekV3ForCausalLM",
            "DeepseekV3Model",
            "KimiK25ForConditionalGeneration",  # Kimi-K2.5's remote-code class
            "Kimi_K25ForConditionalGeneration",  # its transformers class
        }
    )
