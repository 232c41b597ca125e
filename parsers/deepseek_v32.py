"""DeepSeek-V3.2 (`model_type: deepseek_v32`): DeepSeek-V3 with DeepSeek Sparse Attention.

Ground truth: transformers `models/deepseek_v32/modeling_deepseek_v32.py`:
- MLA as DeepSeek-V3 (parsers/deepseek.py), always through the q latent (`q_lora_rank` is
  required: HF builds q_a_proj / q_a_layernorm / q_b_proj unconditionally, and the indexer reads
  the normed latent);
- every layer has a lightning indexer (core/layers/dsa.py): wq_b (q_lora_rank -> index_n_heads x
  index_head_dim), wk (hidden -> index_head_dim), k_norm (a LayerNorm with weight and bias),
  weights_proj (hidden -> index_n_heads), RoPE on qk_rope_head_dim dims; it picks `index_topk`
  keys per token and the main attention reads only those. Its key cache holds index_head_dim
  values per token and layer beside the MLA latent (HF's `DynamicIndexedLayer`);
- MoE as DeepSeek-V3; which layers are dense follows HF: `mlp_layer_types` ("dense" / "sparse"
  per layer) when given, else the first `first_k_dense_replace` (default 3) layers.
  NB: HF ignores `moe_layer_freq` (1 in the released config), and so does this parser.
- NB: the multi-token-prediction layer (`num_nextn_predict_layers`) is not counted (HF does not
  build it). The fp8 `quantization_config` sets the projections' format (core/model/precision.py).

Config defaults (transformers `DeepseekV32Config`): index_topk 2048, index_head_dim 128,
index_n_heads 64, first_k_dense_replace 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..core.base_parser import BaseModelConfigParser
from ..core.errors import ConfigError
from ..core.layers import Block, DsaIndexer
from ..core.model.config import ConfigReader
from .deepseek import DeepseekDims, channel_mixers, deepseek_dims, mla_attention

_MLP_KINDS = frozenset({"dense", "sparse"})


@dataclass(frozen=True, kw_only=True)
class DsaDims(DeepseekDims):
    q_lora_rank: int  # `q_lora_rank`, required
    index_heads: int  # `index_n_heads`, default 64 (GLM-5: 32)
    index_head_dim: int  # `index_head_dim`, default 128
    index_topk: int  # `index_topk`, default 2048
    indexer_layers: frozenset[int]  # layers that run their own indexer (DeepSeek-V3.2: all)


class DeepseekV32ConfigParser(BaseModelConfigParser):
    model_type = "deepseek_v32"
    architectures = frozenset({"DeepseekV32ForCausalLM", "DeepseekV32Model"})
    index_heads_default: ClassVar[int] = 64
    dims: DsaDims

    def normalize_config(self, config: Mapping[str, Any]) -> DsaDims:
        r = ConfigReader(config, self.model_type)
        fields = deepseek_dims(r)
        layers, rope_dim = fields["num_layers"], fields["rope_dim"]
        q_lora_rank = r.integer("q_lora_rank")
        head_dim = r.integer("index_head_dim", 128)
        if head_dim < rope_dim:
            raise ConfigError(
                f"{r.where}: 'index_head_dim' ({head_dim}) is smaller than qk_rope_head_dim "
                f"({rope_dim}), the indexer's rotated dims"
            )
        fields |= {"q_lora_rank": q_lora_rank, "moe_layers": self.moe_layers(r, layers)}
        return DsaDims(
            **fields,
            index_heads=r.integer("index_n_heads", self.index_heads_default),
            index_head_dim=head_dim,
            index_topk=r.integer("index_topk", 2048),
            indexer_layers=self.indexer_layers(r, layers),
        )

    @staticmethod
    def moe_layers(r: ConfigReader, layers: int) -> frozenset[int]:
        """`mlp_layer_types` when given, else every layer from `first_k_dense_replace` on."""
        kinds = r.layer_types(layers, _MLP_KINDS, key="mlp_layer_types")
        if kinds is None:
            first_dense = r.integer("first_k_dense_replace", 3, minimum=0)
            return frozenset(range(first_dense, layers))
        return frozenset(i for i, kind in enumerate(kinds) if kind == "sparse")

    def indexer_layers(self, r: ConfigReader, layers: int) -> frozenset[int]:
        """Layers that run their own indexer: every one."""
        return frozenset(range(layers))

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        indexer = DsaIndexer(
            d.index_heads, d.index_head_dim, d.rope_dim, d.q_lora_rank, d.index_topk
        )
        sharing = replace(
            mla_attention(d, self.mla_mode), pattern=indexer.pattern
        )  # another layer's choice
        selecting = replace(sharing, indexer=indexer)
        moe, dense = channel_mixers(d)
        return [
            Block.decoder(
                selecting if i in d.indexer_layers else sharing,
                moe if i in d.moe_layers else dense,
            )
            for i in range(d.num_layers)
        ]
