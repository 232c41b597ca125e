"""Qwen2 / Qwen2.5 (`model_type: qwen2`): Llama's block with biases on q, k and v (not o).

Ground truth: transformers `models/qwen2/modeling_qwen2.py` and `configuration_qwen2.py`.
Sliding-window attention only when `use_sliding_window` is true: then layers from
`max_window_layers` (default 28) on use `sliding_window` (default 4096), unless `layer_types`
says otherwise. Qwen2.5-3B ties its embeddings (`tie_word_embeddings`, default false).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp, windowed
from ..core.model.config import ConfigReader, sliding_layers


@dataclass(frozen=True, kw_only=True)
class Qwen2Dims(DecoderDims):
    sliding_window: int | None  # `sliding_window` (default 4096) if `use_sliding_window`
    sliding: tuple[bool, ...]  # per layer: `layer_types`, default layers >= max_window_layers


def qwen_sliding(r: ConfigReader, layers: int) -> tuple[int | None, tuple[bool, ...]]:
    """(window, sliding per layer) as Qwen2Config / Qwen3Config derive them."""
    window = r.integer("sliding_window", 4096) if r.flag("use_sliding_window", False) else None
    first = r.integer("max_window_layers", 28, minimum=0)
    default = [window is not None and i >= first for i in range(layers)]
    return window, tuple(sliding_layers(r, layers, default) if window else default)


class Qwen2ConfigParser(BaseModelConfigParser):
    model_type = "qwen2"
    architectures = frozenset({"Qwen2ForCausalLM", "Qwen2Model"})
    dims: Qwen2Dims

    def normalize_config(self, config: Mapping[str, Any]) -> Qwen2Dims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(r)
        window, sliding = qwen_sliding(r, fields["num_layers"])
        return Qwen2Dims(**fields, sliding_window=window, sliding=sliding)

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        ffn = DenseMlp(d.intermediate_size, d.hidden_act)
        attention = Attention(d.num_heads, d.num_kv_heads, d.head_dim, qkv_bias=True)
        return [
            Block.decoder(layer, ffn) for layer in windowed(attention, d.sliding_window, d.sliding)
        ]
