"""Gemma (`model_type: gemma`): GeGLU MLP, head_dim 256, (1 + gain) RMSNorm, embeddings scaled by
sqrt(hidden_size), lm_head tied to the embedding.

Ground truth: transformers `models/gemma/modeling_gemma.py` and `configuration_gemma.py`
(defaults: head_dim 256, hidden_act gelu_pytorch_tanh, tie_word_embeddings true). A config that
says `hidden_act: "gelu"` means the tanh approximation (GemmaConfig rewrites it, as here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.base_parser import BaseModelConfigParser, DecoderDims, decoder_dims
from ..core.layers import Attention, Block, DenseMlp
from ..core.model.config import ConfigReader


class GemmaConfigParser(BaseModelConfigParser):
    model_type = "gemma"
    architectures = frozenset({"GemmaForCausalLM", "GemmaModel"})
    rmsnorm_unit_offset = True
    embedding_scale = True
    dims: DecoderDims

    def normalize_config(self, config: Mapping[str, Any]) -> DecoderDims:
        r = ConfigReader(config, self.model_type)
        fields = decoder_dims(
            r, tie_default=True, act_default="gelu_pytorch_tanh", head_dim_default=256
        )
        if fields["hidden_act"] == "gelu":  # legacy value of the official releases
            fields["hidden_act"] = "gelu_pytorch_tanh"
        return DecoderDims(**fields)

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(d.num_heads, d.num_kv_heads, d.head_dim)
        return [
            Block.decoder(attention, DenseMlp(d.intermediate_size, d.hidden_act))
        ] * d.num_layers
