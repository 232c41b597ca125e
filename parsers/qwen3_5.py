"""Qwen3.5 dense (`model_type: qwen3_5`, the text decoder in `text_config`; or a bare
`qwen3_5_text` config): a hybrid of Gated DeltaNet and gated full attention.

Ground truth: transformers `models/qwen3_5/modeling_qwen3_5.py` and `configuration_qwen3_5.py`.
- `layer_types` ("linear_attention" / "full_attention"), default: full attention on every
  `full_attention_interval`-th layer (4), Gated DeltaNet on the others (core/layers/
  gated_deltanet.py: `linear_num_key_heads` 16, `linear_num_value_heads` 32,
  `linear_key_head_dim` / `linear_value_head_dim` 128, `linear_conv_kernel_dim` 4).
- Full attention: q_proj doubled for a per-head output gate (out * sigmoid(gate); HF builds it
  whatever `attn_output_gate` says; we honour an explicit false, as vLLM does), q/k RMSNorm per
  head, partial rotary: head_dim * `partial_rotary_factor` (in `rope_parameters`, default 0.25)
  dimensions rotated. MRoPE (`mrope_section`) costs what RoPE costs: on text every section gets
  the same position.
- Every RMSNorm is zero-centred, x * (1 + g) (Qwen3_5RMSNorm), except the DeltaNet's gated norm.
- Every layer has a SwiGLU MLP of `intermediate_size`.
- A multimodal config's top-level `tie_word_embeddings` (default false) decides the tying, as
  for HF's Qwen3_5ForConditionalGeneration; MTP layers (`mtp_num_hidden_layers`) are not built
  by HF and not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims
from ..core.errors import ConfigError
from ..core.layers import Attention, Block, DenseMlp, GatedDeltaNet, QKNorm
from ..core.layers.mixer import Mixer
from ..core.model.config import ConfigReader, attention_heads
from .qwen3 import text_reader

_LAYER_KINDS = frozenset({"linear_attention", "full_attention"})


@dataclass(frozen=True, kw_only=True)
class Qwen3_5Dims(ModelDims):
    hidden_act: str  # `hidden_act`, default "silu" (the MLP and the DeltaNet conv)
    num_heads: int  # H: `num_attention_heads`
    num_kv_heads: int  # H_kv: `num_key_value_heads`, default the family's (4 dense, 2 MoE)
    head_dim: int  # d: `head_dim`, default 256
    rot_dim: int  # int(d * `partial_rotary_factor`), in `rope_parameters`, default 0.25
    attention_bias: bool  # `attention_bias`, default false: biases on q, k, v and o
    output_gate: bool  # `attn_output_gate`, default true
    linear: tuple[bool, ...]  # per layer: Gated DeltaNet (`layer_types`, else the interval)
    deltanet: GatedDeltaNet  # the `linear_*` fields


@dataclass(frozen=True, kw_only=True)
class Qwen3_5DenseDims(Qwen3_5Dims):
    intermediate_size: int  # I: `intermediate_size`


def qwen3_5_fields(
    config: Mapping[str, Any], model_type: str, kv_heads_default: int
) -> tuple[ConfigReader, dict[str, Any]]:
    """The `Qwen3_5Dims` fields of `config`, and the reader of its text decoder."""
    r, top = text_reader(config, model_type)
    layers = r.layers()
    hidden = r.integer("hidden_size")
    heads, kv_heads, head_dim = attention_heads(r, hidden, 256, kv_heads_default)
    kinds = r.layer_types(layers, _LAYER_KINDS)
    if kinds is None:
        interval = r.integer("full_attention_interval", 4)
        kinds = [
            "full_attention" if (i + 1) % interval == 0 else "linear_attention"
            for i in range(layers)
        ]
    key_heads = r.integer("linear_num_key_heads", 16)
    value_heads = r.integer("linear_num_value_heads", 32)
    if value_heads % key_heads:
        raise ConfigError(
            f"{r.where}: linear_num_value_heads ({value_heads}) is not a multiple of "
            f"linear_num_key_heads ({key_heads})"
        )
    act = r.activation()
    return r, {
        "hidden_size": hidden,
        "num_layers": layers,
        "vocab_size": r.integer("vocab_size"),
        "tie_word_embeddings": top.flag("tie_word_embeddings", False),  # the top level's, as HF
        "dtype": r.dtype(fallback=top),
        "hidden_act": act,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "rot_dim": int(head_dim * r.rotary_factor(0.25)),
        "attention_bias": r.flag("attention_bias", False),
        "output_gate": r.flag("attn_output_gate", True),
        "linear": tuple(kind != "full_attention" for kind in kinds),
        "deltanet": GatedDeltaNet(
            key_heads=key_heads,
            value_heads=value_heads,
            key_dim=r.integer("linear_key_head_dim", 128),
            value_dim=r.integer("linear_value_head_dim", 128),
            conv_kernel=r.integer("linear_conv_kernel_dim", 4),
            act=act,
        ),
    }


def qwen3_5_layers(d: Qwen3_5Dims, channel: Mixer) -> list[Block]:
    """One block per layer: Gated DeltaNet or gated full attention, then `channel`."""
    attention = Attention(
        d.num_heads,
        d.num_kv_heads,
        d.head_dim,
        rot_dim=d.rot_dim,
        qk_norm=QKNorm.PER_HEAD,
        qkv_bias=d.attention_bias,
        o_bias=d.attention_bias,
        output_gate=d.output_gate,
    )
    return [Block.decoder(d.deltanet if linear else attention, channel) for linear in d.linear]


class Qwen3_5ConfigParser(BaseModelConfigParser):
    model_type = "qwen3_5"
    architectures = frozenset(
        {"Qwen3_5ForConditionalGeneration", "Qwen3_5ForCausalLM", "Qwen3_5Model"}
    )
    rmsnorm_unit_offset = True  # Qwen3_5RMSNorm: x * (1 + g)
    dims: Qwen3_5DenseDims

    def normalize_config(self, config: Mapping[str, Any]) -> Qwen3_5DenseDims:
        r, fields = qwen3_5_fields(config, self.model_type, kv_heads_default=4)
        return Qwen3_5DenseDims(**fields, intermediate_size=r.integer("intermediate_size"))

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        return qwen3_5_layers(d, DenseMlp(d.intermediate_size, d.hidden_act))
