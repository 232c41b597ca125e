"""Qwen3 dense (`model_type: qwen3`): Qwen2's block without biases (unless `attention_bias`), with
per-head RMSNorm of q and k and an explicit `head_dim` (default 128, so the q projection can be
wider than hidden_size).

Ground truth: transformers `models/qwen3/modeling_qwen3.py` (q_norm / k_norm over head_dim, one
gain each). Sliding windows as Qwen2 (`use_sliding_window`, `max_window_layers`).

Also Qwen3-VL's text decoder (`model_type: qwen3_vl`, read from `text_config`): transformers
`models/qwen3_vl/modeling_qwen3_vl.py` builds Qwen3's layers (same projections, q/k norms and
MLP; no sliding window in its config). Its MRoPE rotates all of head_dim, its sections
(`mrope_section`) taking their positions from the same text position: what RoPE costs. As for
HF's Qwen3VLForConditionalGeneration, the top level's `tie_word_embeddings` (default false)
decides the tying; the vision tower is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp, QKNorm, windowed
from ..core.model.config import ConfigReader
from .qwen2 import qwen_sliding


@dataclass(frozen=True, kw_only=True)
class Qwen3Dims(DecoderDims):
    attention_bias: bool  # `attention_bias`, default false: biases on q, k, v and o
    sliding_window: int | None  # `sliding_window` (default 4096) if `use_sliding_window`
    sliding: tuple[bool, ...]  # per layer: `layer_types`, default layers >= max_window_layers


def text_reader(config: Mapping[str, Any], model_type: str) -> tuple[ConfigReader, ConfigReader]:
    """(the text decoder's config, the top-level config): a multimodal config's `text_config`,
    else the config itself."""
    top = ConfigReader(config, model_type)
    return (top.section("text_config") if "text_config" in config else top), top


def qwen3_fields(
    config: Mapping[str, Any], model_type: str, head_dim_default: int | None
) -> tuple[ConfigReader, dict[str, Any]]:
    """The reader of the text decoder and its `DecoderDims` fields; a multimodal config's
    top-level `tie_word_embeddings` (default false) decides the tying, as in HF."""
    r, top = text_reader(config, model_type)
    fields = decoder_dims(r, head_dim_default=head_dim_default, fallback=top)
    return r, {**fields, "tie_word_embeddings": top.flag("tie_word_embeddings", False)}


class Qwen3ConfigParser(BaseModelConfigParser):
    model_type = "qwen3"
    architectures = frozenset(
        {"Qwen3ForCausalLM", "Qwen3Model", "Qwen3VLForConditionalGeneration", "Qwen3VLModel"}
    )
    dims: Qwen3Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Qwen3Dims:
        r, fields = qwen3_fields(config, self.model_type, head_dim_default=128)
        window, sliding = qwen_sliding(r, fields["num_layers"])
        return Qwen3Dims(
            **fields,
            attention_bias=r.flag("attention_bias", False),
            sliding_window=window,
            sliding=sliding,
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        ffn = DenseMlp(d.intermediate_size, d.hidden_act)
        return [Block.decoder(layer, ffn) for layer in qwen3_attention(d)]


def qwen3_attention(d: Qwen3Dims) -> list[Attention]:
    """Each layer's attention: per-head q/k norms, biases with `attention_bias`, windows."""
    attention = Attention(
        d.num_heads,
        d.num_kv_heads,
        d.head_dim,
        qk_norm=QKNorm.PER_HEAD,
        qkv_bias=d.attention_bias,
        o_bias=d.attention_bias,
    )
    return windowed(attention, d.sliding_window, d.sliding)
