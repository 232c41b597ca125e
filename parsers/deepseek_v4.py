"""DeepSeek-V4 (`model_type: deepseek_v4`): compressed attention (a sliding window on every layer,
plus a CSA or HCA compressor on most), hyper-connections around every branch, and a MoE FFN with
a shared expert on every layer.

Ground truth: transformers `models/deepseek_v4/modeling_deepseek_v4.py` and
`configuration_deepseek_v4.py`:
- attention (core/layers/compressed.py): q LoRA (`q_lora_rank`), `num_attention_heads` heads of
  `head_dim`, one shared KV head of `head_dim` (HF ignores `num_key_value_heads`), sinks, RoPE on
  the last `qk_rope_head_dim` dims (HF: head_dim x `partial_rotary_factor`, default 1/8), the
  grouped output projection (`o_groups` x `o_lora_rank`), a `sliding_window` on every layer. Per
  layer, `layer_types` (sliding_attention / compressed_sparse_attention /
  heavily_compressed_attention), or the legacy `compress_ratios` (0 / 4 / 128 name those three
  kinds; entries past `num_hidden_layers` describe the MTP layers and are dropped, as HF does),
  or HF's default (two HCA layers, then CSA and HCA alternating). The compression rates are
  `compress_rates` (default CSA 4, HCA 128); CSA adds the indexer (`index_n_heads`,
  `index_head_dim`, `index_topk`). Yarn (`rope_scaling`, applied to the compressed layers) only
  changes the cos / sin tables: the same cost.
- hyper-connections (core/layers/hyper.py): `hc_mult` streams, `hc_sinkhorn_iters`.
- MoE on every layer: `n_routed_experts` experts of `moe_intermediate_size`, top
  `num_experts_per_tok`, and one shared expert of `moe_intermediate_size` (HF builds exactly one,
  whatever `n_shared_experts` says); both clamp their SwiGLU at `swiglu_limit` (`silu_clamped`).
  The router scores with `scoring_func` (sqrtsoftplus); the first `num_hash_layers` layers (or
  `mlp_layer_types` "hash_moe") pick their experts from a token-id table instead of top-k: the
  same router GEMM, and neither selection is counted (core/layers/moe.py).
- NB: the MTP layers (`num_nextn_predict_layers`) are not built by HF and not counted. The
  hash routers' `tid2eid` table (vocab x top-k int64) and the routers' score-correction biases
  are buffers, not parameters: not counted in storage either.
- `quantization_config` (fp8, 128 x 128 blocks, ue8m0 scales) goes through the shared fp8 path
  (core/model/quantization.py), with the top-level `expert_dtype` folded in as
  `DeepseekV4Config.__post_init__` does: "fp4" stores the routed experts as mxfp4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core.base_parser import BaseModelConfigParser, ModelDims
from ..core.errors import ConfigError, shown
from ..core.layers import Block, CompressedAttention, Compressor, HyperConnection, Indexer, Moe
from ..core.layers.ends import ModelEnds
from ..core.model.config import ConfigReader, top_k_of

SLIDING = "sliding_attention"
CSA = "compressed_sparse_attention"
HCA = "heavily_compressed_attention"
# HF's `_COMPRESS_RATIO_TO_LAYER_TYPE`: what a legacy `compress_ratios` entry names.
RATIO_KINDS = {0: SLIDING, 4: CSA, 128: HCA}
MLP_KINDS = frozenset({"hash_moe", "moe"})
SCORING_FUNCS = ("sqrtsoftplus", "softmax", "sigmoid")


@dataclass(frozen=True, kw_only=True)
class DeepseekV4Dims(ModelDims):
    num_heads: int  # H: `num_attention_heads`
    head_dim: int  # d: `head_dim`, default 512 (the one KV head's width too)
    rope_dim: int  # `qk_rope_head_dim`, else int(d x `partial_rotary_factor`), default d / 8
    q_lora_rank: int  # `q_lora_rank`, default 1024
    o_groups: int  # g: `o_groups`, default 8
    o_lora_rank: int  # `o_lora_rank`, default 1024
    sliding_window: int  # `sliding_window`, default 128
    layer_types: tuple[str, ...]  # `layer_types`, else `compress_ratios`, else HF's default
    csa_ratio: int  # `compress_rates["compressed_sparse_attention"]`, default 4
    hca_ratio: int  # `compress_rates["heavily_compressed_attention"]`, default 128
    index_heads: int  # `index_n_heads`, default 64
    index_head_dim: int  # `index_head_dim`, default 128
    index_topk: int  # `index_topk`, default 512
    hc_mult: int  # `hc_mult`, default 4
    hc_sinkhorn_iters: int  # `hc_sinkhorn_iters`, default 20
    num_experts: int  # `n_routed_experts`, default 256
    top_k: int  # `num_experts_per_tok`, default 6
    moe_intermediate: int  # `moe_intermediate_size`, default 2048


class DeepseekV4ConfigParser(BaseModelConfigParser):
    model_type = "deepseek_v4"
    architectures = frozenset({"DeepseekV4ForCausalLM", "DeepseekV4Model"})
    dims: DeepseekV4Dims

    def quantization_config(self) -> Mapping[str, Any] | None:
        """The fp8 config with the top-level `expert_dtype` folded in (as HF does)."""
        quantization = super().quantization_config()
        expert_dtype = self.config.get("expert_dtype")
        if quantization is None or expert_dtype is None:
            return quantization
        return {**quantization, "expert_dtype": expert_dtype}

    def normalize_config(self, config: Mapping[str, Any]) -> DeepseekV4Dims:
        r = ConfigReader(config, self.model_type)
        layers = r.layers()
        heads = r.integer("num_attention_heads")
        head_dim = r.integer("head_dim", 512)
        o_groups = r.integer("o_groups", 8)
        if (heads * head_dim) % o_groups:
            raise ConfigError(
                f"{r.where}: 'o_groups' ({o_groups}) does not divide num_attention_heads x "
                f"head_dim ({heads * head_dim})"
            )
        experts = r.integer("n_routed_experts", 256)
        _check_ffn(r, layers)
        csa_ratio, hca_ratio = _compress_rates(r)
        return DeepseekV4Dims(
            hidden_size=r.integer("hidden_size"),
            num_layers=layers,
            vocab_size=r.integer("vocab_size"),
            tie_word_embeddings=r.flag("tie_word_embeddings", False),
            dtype=r.dtype(),
            num_heads=heads,
            head_dim=head_dim,
            rope_dim=_rope_dim(r, head_dim),
            q_lora_rank=r.integer("q_lora_rank", 1024),
            o_groups=o_groups,
            o_lora_rank=r.integer("o_lora_rank", 1024),
            sliding_window=r.integer("sliding_window", 128),
            layer_types=_layer_types(r, layers),
            csa_ratio=csa_ratio,
            hca_ratio=hca_ratio,
            index_heads=r.integer("index_n_heads", 64),
            index_head_dim=r.integer("index_head_dim", 128),
            index_topk=r.integer("index_topk", 512),
            hc_mult=r.integer("hc_mult", 4),
            hc_sinkhorn_iters=r.integer("hc_sinkhorn_iters", 20),
            num_experts=experts,
            top_k=top_k_of(r, "num_experts_per_tok", 6, experts),
            moe_intermediate=r.integer("moe_intermediate_size", 2048),
        )

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        sliding = CompressedAttention(
            d.num_heads,
            d.head_dim,
            d.rope_dim,
            d.q_lora_rank,
            d.o_groups,
            d.o_lora_rank,
            d.sliding_window,
        )
        indexer = Indexer(d.index_heads, d.index_head_dim, d.index_topk)
        attention = {
            SLIDING: sliding,
            CSA: replace(sliding, compressor=Compressor(d.csa_ratio, True, indexer)),
            HCA: replace(sliding, compressor=Compressor(d.hca_ratio)),
        }
        moe = Moe(
            d.num_experts,
            d.top_k,
            d.moe_intermediate,
            "silu_clamped",
            shared_intermediate=d.moe_intermediate,
        )
        hyper = self.hyper()
        return [Block.decoder(attention[kind], moe, hyper=hyper) for kind in d.layer_types]

    def hyper(self) -> HyperConnection:
        return HyperConnection(self.dims.hc_mult, self.dims.hc_sinkhorn_iters)

    def ends(self) -> ModelEnds:
        return replace(super().ends(), hyper=self.hyper())


def _rope_dim(r: ConfigReader, head_dim: int) -> int:
    """Rotated dims per head: `qk_rope_head_dim`, else int(head_dim x `partial_rotary_factor`),
    else head_dim / 8 (HF's default factor 64 / 512); even, at most head_dim."""
    default = int(head_dim * r.rotary_factor(1 / 8))
    rope_dim = r.integer("qk_rope_head_dim", default, minimum=0)
    if rope_dim > head_dim or rope_dim % 2:
        raise ConfigError(
            f"{r.where}: 'qk_rope_head_dim' ({rope_dim}) must be even and at most head_dim "
            f"({head_dim})"
        )
    return rope_dim


def _layer_types(r: ConfigReader, layers: int) -> tuple[str, ...]:
    """`layer_types` (one per layer), else `compress_ratios` (one per layer, plus at most
    `num_nextn_predict_layers` for the MTP layers, dropped), else HF's default."""
    kinds = r.layer_types(layers, frozenset(RATIO_KINDS.values()))
    if kinds is not None:
        return tuple(kinds)
    ratios = r.config.get("compress_ratios")
    if ratios is None:
        rest = [CSA if i % 2 else HCA for i in range(max(layers - 2, 0))]
        return tuple(([HCA] * min(layers, 2) + rest)[:layers])
    mtp = r.integer("num_nextn_predict_layers", 1, minimum=0)
    if (
        not isinstance(ratios, list)
        or not layers <= len(ratios) <= layers + mtp
        or any(
            isinstance(v, bool) or not isinstance(v, int) or v not in RATIO_KINDS for v in ratios
        )
    ):
        raise ConfigError(
            f"{r.where}: 'compress_ratios' must list one of {', '.join(map(str, RATIO_KINDS))} "
            f"for each of the {layers} layers (and at most {mtp} MTP layers), got {shown(ratios)}"
        )
    return tuple(RATIO_KINDS[v] for v in ratios[:layers])


def _compress_rates(r: ConfigReader) -> tuple[int, int]:
    """(CSA, HCA) compression rates from `compress_rates`, default (4, 128)."""
    rates = r.config.get("compress_rates")
    if rates is None:
        return 4, 128
    if not isinstance(rates, Mapping) or not set(rates) <= {CSA, HCA}:
        raise ConfigError(
            f"{r.where}: 'compress_rates' must map {CSA} and {HCA} to integers, got {rates!r}"
        )
    sub = ConfigReader(rates, r.model_type, "compress_rates")
    return sub.integer(CSA, 4), sub.integer(HCA, 128)


def _check_ffn(r: ConfigReader, layers: int) -> None:
    """What the MoE reads but costs the same way whatever its value: validated only."""
    act = r.activation()
    if act != "silu":
        raise ConfigError(
            f"{r.where}: 'hidden_act' {act!r} is not modelled (DeepSeek-V4's experts clamp a "
            "silu gate at swiglu_limit)"
        )
    limit = r.config.get("swiglu_limit", 10.0)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
        raise ConfigError(f"{r.where}: 'swiglu_limit' must be a positive number, got {limit!r}")
    scoring = r.text("scoring_func", "sqrtsoftplus")
    if scoring not in SCORING_FUNCS:
        raise ConfigError(
            f"{r.where}: unknown 'scoring_func' {scoring!r} (supported: {', '.join(SCORING_FUNCS)})"
        )
    if r.flag("mlp_bias", False):
        raise ConfigError(f"{r.where}: 'mlp_bias' true is not modelled")
    r.integer("num_hash_layers", 3, minimum=0)
    r.layer_types(layers, MLP_KINDS, key="mlp_layer_types")
