"""Llama 4 text decoder (`model_type: llama4`, text in `text_config`; or a bare `llama4_text`).

Ground truth: transformers `models/llama4/modeling_llama4.py` and `configuration_llama4.py`.
- MoE layers: `moe_layers`, default every `interleave_moe_layer_step`-th layer (indices step-1,
  2*step-1, ...). A MoE layer has a router (h -> E, no bias), E routed SwiGLU experts of width
  `intermediate_size` (top-k = `num_experts_per_tok`) and one shared expert of the same width.
  The other layers are dense SwiGLU MLPs of width `intermediate_size_mlp` (`NonMoE_` rows).
- RoPE: `no_rope_layers[i]` is 1 where layer i uses RoPE; default (also for an empty list): every
  4th layer (3, 7, 11, ...) has no RoPE. RoPE layers attend within chunks of
  `attention_chunk_size` tokens (`layer_types` "chunked_attention"); NoPE layers attend globally.
- `use_qk_norm` adds a gain-less L2 norm of q and k on RoPE layers.
- NB: NoPE layers' attention-temperature tuning (one multiply per query element) is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims
from ..core.errors import ConfigError
from ..core.layers import Attention, Block, DenseMlp, Moe, QKNorm
from ..core.model.config import ConfigReader, attention_heads
from ..core.model.masks import AttentionPattern


@dataclass(frozen=True, kw_only=True)
class Llama4Dims(ModelDims):
    num_heads: int  # H: `num_attention_heads`
    num_kv_heads: int  # H_kv: `num_key_value_heads`, default H
    head_dim: int  # d: `head_dim`, default hidden_size // H
    hidden_act: str  # `hidden_act`, default "silu"
    attention_bias: bool  # `attention_bias`, default false
    num_experts: int  # E: `num_local_experts`, default 16
    top_k: int  # `num_experts_per_tok`, default 1
    expert_intermediate: int  # `intermediate_size`: each routed expert and the shared expert
    dense_intermediate: int  # `intermediate_size_mlp`: the non-MoE layers
    moe_layers: frozenset[int]  # `moe_layers`, default range(step-1, L, step)
    rope_layers: tuple[bool, ...]  # `no_rope_layers` (1 = RoPE), default: NoPE every 4th layer
    chunk_size: int | None  # `attention_chunk_size`, default 8192; None: no chunking
    chunked_layers: tuple[bool, ...]  # `layer_types`, default: the RoPE layers
    use_qk_norm: bool  # `use_qk_norm`, default true


class Llama4ConfigParser(BaseModelConfigParser):
    model_type = "llama4"
    architectures = frozenset({"Llama4ForConditionalGeneration", "Llama4ForCausalLM"})
    dims: Llama4Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Llama4Dims:
        top = ConfigReader(config, self.model_type)
        r = top.section("text_config") if "text_config" in config else top
        hidden = r.integer("hidden_size")
        layers = r.layers()
        heads, kv_heads, head_dim = attention_heads(r, hidden)
        num_experts = r.integer("num_local_experts", 16)
        top_k = r.integer("num_experts_per_tok", 1)
        if top_k > num_experts:
            raise ConfigError(
                f"{r.where}: num_experts_per_tok ({top_k}) exceeds num_local_experts "
                f"({num_experts})"
            )
        moe_layers = r.int_list("moe_layers")
        if moe_layers is None:
            step = r.integer("interleave_moe_layer_step", 1)
            moe_layers = list(range(step - 1, layers, step))
        # An absent or empty no_rope_layers means HF's default, as in Llama4TextConfig.
        interval = r.integer("no_rope_layer_interval", 4)
        rope_flags = r.int_list("no_rope_layers") or [
            int((i + 1) % interval != 0) for i in range(layers)
        ]
        if len(rope_flags) != layers or max(moe_layers, default=0) >= layers:
            raise ConfigError(
                f"{r.where}: no_rope_layers must have one entry per layer ({layers}) and "
                f"moe_layers must index layers below {layers}"
            )
        layer_types = r.config.get("layer_types")
        if layer_types is None:
            chunked = tuple(bool(flag) for flag in rope_flags)
        elif (
            isinstance(layer_types, list)
            and len(layer_types) == layers
            and set(layer_types) <= {"chunked_attention", "full_attention"}
        ):
            chunked = tuple(kind == "chunked_attention" for kind in layer_types)
        else:
            raise ConfigError(
                f"{r.where}: 'layer_types' must list 'chunked_attention' or 'full_attention' "
                f"for each of the {layers} layers"
            )
        return Llama4Dims(
            hidden_size=hidden,
            num_layers=layers,
            vocab_size=r.integer("vocab_size"),
            tie_word_embeddings=r.flag(
                "tie_word_embeddings", top.flag("tie_word_embeddings", False)
            ),
            dtype=r.dtype(fallback=top),
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            hidden_act=r.activation(),
            attention_bias=r.flag("attention_bias", False),
            num_experts=num_experts,
            top_k=top_k,
            expert_intermediate=r.integer("intermediate_size"),
            dense_intermediate=r.integer("intermediate_size_mlp"),
            moe_layers=frozenset(moe_layers),
            rope_layers=tuple(bool(flag) for flag in rope_flags),
            chunk_size=(
                r.optional_integer("attention_chunk_size")
                if "attention_chunk_size" in r.config
                else 8192
            ),
            chunked_layers=chunked,
            use_qk_norm=r.flag("use_qk_norm", True),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        moe = Moe(
            d.num_experts,
            d.top_k,
            d.expert_intermediate,
            d.hidden_act,
            shared_intermediate=d.expert_intermediate,
        )
        dense = DenseMlp(d.dense_intermediate, d.hidden_act, prefix="NonMoE_")
        blocks = []
        for i in range(d.num_layers):
            rope = d.rope_layers[i]
            chunk = d.chunk_size if d.chunked_layers[i] else None
            attention = Attention(
                heads=d.num_heads,
                kv_heads=d.num_kv_heads,
                head_dim=d.head_dim,
                pattern=AttentionPattern.chunked(chunk),
                rope=rope,
                qk_norm=QKNorm.PER_HEAD_L2 if d.use_qk_norm and rope else QKNorm.NONE,
                qkv_bias=d.attention_bias,
                o_bias=d.attention_bias,
            )
            blocks.append(Block.decoder(attention, moe if i in d.moe_layers else dense))
        return blocks
