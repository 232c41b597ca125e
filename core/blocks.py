"""Decoder blocks as data, and the shared builders that turn them into rows.

A parser describes each of its decoder layers as a `Block` (attention kind, FFN kind, where the
norms sit); layers that are alike are equal values, so the analysis builds rows once per distinct
kind of block and weights them by how many layers are of that kind. Every family shares these
builders: a new architecture adds a spec field or a builder here once, not a copy in its parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from core.attention import FULL_ATTENTION, AttentionPattern, MaskKind
from core.rows import Category, Row, combined
from core.utils import QueryConfig

if TYPE_CHECKING:
    from core.base_parser import BaseModelConfigParser


class QKNorm(Enum):
    """Normalisation of queries and keys before attention."""

    NONE = "none"
    PER_HEAD = (
        "per_head"  # RMSNorm over each head's head_dim; one gain of head_dim for q, one for k
    )
    PER_HEAD_L2 = "per_head_l2"  # the same without a gain (Llama 4)
    FULL_WIDTH = "full_width"  # RMSNorm over all q (H*d) and all k (H_kv*d) features (OLMo 2)
    # NB: under tensor parallelism each rank normalises its slice of the full width; the tiny
    #     all-reduce of the sums of squares that makes it exact is not counted.


class NormLayout(Enum):
    """Where each half of a block (attention, FFN) normalises."""

    PRE = "pre"  # x + f(norm(x))                          Llama, Mistral, Qwen, ...
    SANDWICH = "sandwich"  # x + post_norm(f(pre_norm(x)))  Gemma 2 and 3
    POST = "post"  # x + norm(f(x))                         OLMo 2


class MlaMode(Enum):
    """How Multi-head Latent Attention is computed (see `MlaAttention`)."""

    AUTO = "auto"  # absorbed for decode queries (1 input token), expanded for the others
    ABSORBED = "absorbed"
    EXPANDED = "expanded"


@dataclass(frozen=True, slots=True)
class Attention:
    """Multi-head attention with grouped KV heads (MHA when kv_heads == heads, MQA at 1)."""

    heads: int
    kv_heads: int
    head_dim: int
    pattern: AttentionPattern = FULL_ATTENTION
    rope: bool = True
    rot_dim: int | None = None  # rotated dimensions per head (partial rotary); None: head_dim
    qk_norm: QKNorm = QKNorm.NONE
    qkv_bias: bool = False
    o_bias: bool = False
    softcap: bool = False  # attention logit soft-capping (Gemma 2)
    sink: bool = False  # one learned sink logit per head (gpt-oss)
    v_head_dim: int | None = None  # V's dims per head when they differ from K's (MLA)
    kv_cached: bool = True  # K and V are read from the cache (False: recomputed activations)

    @property
    def v_dim(self) -> int:
        return self.head_dim if self.v_head_dim is None else self.v_head_dim

    def kv_heads_on_device(self, tp: int) -> int:
        """KV heads one tensor-parallel rank holds: H_kv / TP, or 1 (replicated) when fewer."""
        return max(1, self.kv_heads // tp)

    def kv_values_per_token(self, tp: int = 1) -> int:
        """K and V values one token leaves in this layer's cache, on one device."""
        return self.kv_heads_on_device(tp) * (self.head_dim + self.v_dim)

    def check(self, tp: int) -> str | None:
        if self.heads % tp:
            return f"num_attention_heads ({self.heads}) is not a multiple of it"
        if self.kv_heads % tp and tp % self.kv_heads:
            return f"num_key_value_heads ({self.kv_heads}) neither divides it nor is a multiple"
        return None

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        tp = p.parallel.tp
        tokens, hidden = queries.total_input_tokens, p.dims.hidden_size
        heads, kv_heads = self.heads // tp, self.kv_heads_on_device(tp)
        q_width, kv_width = heads * self.head_dim, kv_heads * self.head_dim
        v_width = kv_heads * self.v_dim
        rows = [
            p.set_op_proj_req(
                "Attn - QKV_Proj",
                tokens,
                hidden,
                q_width + kv_width + v_width,
                bias=self.qkv_bias,
                category=Category.ATTN_PROJ,
            )
        ]
        if self.qk_norm is QKNorm.FULL_WIDTH:
            norms = (
                p.set_op_rmsnorm_req("q_norm", tokens, q_width),
                p.set_op_rmsnorm_req("k_norm", tokens, kv_width),
            )
            rows.append(combined("Attn - QK_Norm", norms))
        elif self.qk_norm is not QKNorm.NONE:
            gains = 0 if self.qk_norm is QKNorm.PER_HEAD_L2 else 2
            rows.append(
                p.set_op_rmsnorm_req(
                    "Attn - QK_Norm",
                    tokens * (heads + kv_heads),
                    self.head_dim,
                    gains=gains,
                    replicated=True,
                )
            )
        if self.rope:
            rot_dim = self.head_dim if self.rot_dim is None else self.rot_dim
            rows.append(p.set_op_rope_req("Attn - RoPE", tokens, heads + kv_heads, rot_dim))
        label = "" if self.pattern.kind is MaskKind.FULL else f" ({self.pattern.label})"
        local = replace(self, heads=heads, kv_heads=kv_heads)  # this rank's heads
        rows.append(p.set_op_sdpa_req(f"Attn - SDPA{label}", queries.groups, local))
        rows.append(
            p.set_op_proj_req(
                "Attn - O_Proj",
                tokens,
                q_width,
                hidden,
                bias=self.o_bias,
                category=Category.ATTN_PROJ,
            )
        )
        return rows + p.set_op_allreduce_req("Attn - AllReduce", tokens)


@dataclass(frozen=True, slots=True)
class MlaAttention:
    """Multi-head Latent Attention (DeepSeek-V2/V3). Queries come from a low-rank path
    (h -> q_lora_rank -> norm -> H x (nope + rope)) or a direct projection; keys and values from
    one latent per token: kv_a projects h -> kv_lora_rank + rope, the cache holds that latent,
    and kv_b (kv_lora_rank -> H x (nope + v)) decompresses it.

    Two cost models of the same parameters and cache:
    - expanded (HuggingFace's code, and engines in prefill): every cached latent is decompressed
      through kv_b on every step, then standard attention over H heads of nope + rope / v dims;
    - absorbed (engines in decode): kv_b's key half is folded into the query (per head,
      nope -> kv_lora) and its value half into the output (kv_lora -> v); attention runs in the
      latent space against the cache itself (one shared 'head' of kv_lora + rope, V = the latent).
    """

    heads: int
    q_lora_rank: int | None
    kv_lora_rank: int
    nope_dim: int
    rope_dim: int
    v_dim: int
    mode: MlaMode = MlaMode.AUTO
    bias: bool = False  # attention_bias: on q_a, kv_a and o
    pattern: AttentionPattern = FULL_ATTENTION

    def kv_values_per_token(self, tp: int = 1) -> int:
        """The cache holds the latent: kv_lora_rank + qk_rope_head_dim values per token, on every
        tensor-parallel rank (all heads read it)."""
        return self.kv_lora_rank + self.rope_dim

    def check(self, tp: int) -> str | None:
        return None if self.heads % tp == 0 else f"num_attention_heads ({self.heads}) is not"

    def _absorbed(self, new_tokens: int) -> bool:
        if self.mode is MlaMode.AUTO:
            return new_tokens == 1
        return self.mode is MlaMode.ABSORBED

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        tp = p.parallel.tp
        tokens, hidden, heads = queries.total_input_tokens, p.dims.hidden_size, self.heads // tp
        qk_dim = self.nope_dim + self.rope_dim
        proj = Category.ATTN_PROJ
        rows = []
        if self.q_lora_rank is None:
            rows.append(
                p.set_op_proj_req("Attn - Q_Proj", tokens, hidden, heads * qk_dim, category=proj)
            )
        else:
            rows += [
                p.set_op_proj_req(
                    "Attn - Q_A_Proj",
                    tokens,
                    hidden,
                    self.q_lora_rank,
                    bias=self.bias,
                    category=proj,
                    replicated=True,
                ),
                p.set_op_rmsnorm_req("Attn - Q_A_Norm", tokens, self.q_lora_rank, replicated=True),
                p.set_op_proj_req(
                    "Attn - Q_B_Proj", tokens, self.q_lora_rank, heads * qk_dim, category=proj
                ),
            ]
        rows += [
            p.set_op_proj_req(
                "Attn - KV_A_Proj",
                tokens,
                hidden,
                self.kv_values_per_token(),
                bias=self.bias,
                category=proj,
                replicated=True,
            ),
            p.set_op_rmsnorm_req("Attn - KV_A_Norm", tokens, self.kv_lora_rank, replicated=True),
            # the rotary part: every query head's rope dims and the one shared key's
            p.set_op_rope_req("Attn - RoPE", tokens, heads + 1, self.rope_dim),
        ]
        absorbed = [(q, count) for q, count in queries.groups if self._absorbed(q[1])]
        expanded = [(q, count) for q, count in queries.groups if not self._absorbed(q[1])]
        kv_b_params_elsewhere = bool(expanded)
        if expanded:
            # HF decompresses every key the expanded queries attend to, cached or new
            keys = sum(count * self.pattern.keys_read(c, n) for (c, n), count in expanded)
            rows.append(
                p.set_op_proj_req(
                    "Attn - KV_B_Proj",
                    keys,
                    self.kv_lora_rank,
                    heads * (self.nope_dim + self.v_dim),
                    category=proj,
                )
            )
            rows.append(p.set_op_sdpa_req("Attn - SDPA", expanded, self.expanded_view(tp)))
        if absorbed:
            absorbed_tokens = sum(count * n for (_, n), count in absorbed)
            folded = [
                p.set_op_proj_req(
                    "Attn - Q_Absorb",
                    absorbed_tokens,
                    self.nope_dim,
                    self.kv_lora_rank,
                    category=proj,
                    groups=heads,
                ),
                p.set_op_sdpa_req(
                    "Attn - SDPA (latent)", absorbed, self.latent_view(tp), shared_kv=True
                ),
                p.set_op_proj_req(
                    "Attn - V_Absorb",
                    absorbed_tokens,
                    self.kv_lora_rank,
                    self.v_dim,
                    category=proj,
                    groups=heads,
                ),
            ]
            if kv_b_params_elsewhere:  # kv_b's parameters are counted once, on KV_B_Proj
                folded = [replace(row, params=0, param_bytes=0) for row in folded]
            rows += folded
        rows.append(
            p.set_op_proj_req(
                "Attn - O_Proj", tokens, heads * self.v_dim, hidden, bias=self.bias, category=proj
            )
        )
        return rows + p.set_op_allreduce_req("Attn - AllReduce", tokens)

    def expanded_view(self, tp: int) -> Attention:
        """Standard attention after decompression: H heads of K (nope + rope) and V (v)."""
        return Attention(
            self.heads // tp,
            self.heads // tp,
            self.nope_dim + self.rope_dim,
            self.pattern,
            v_head_dim=self.v_dim,
            kv_cached=False,
        )

    def latent_view(self, tp: int) -> Attention:
        """Attention in latent space: H query heads against one shared key of kv_lora + rope
        whose first kv_lora values are also the value."""
        return Attention(
            self.heads // tp,
            1,
            self.kv_lora_rank + self.rope_dim,
            self.pattern,
            v_head_dim=self.kv_lora_rank,
        )


@dataclass(frozen=True, slots=True)
class DenseFfn:
    """Gated MLP: down(act(gate(x)) * up(x)). `prefix` names its rows (e.g. "NonMoE_")."""

    intermediate: int
    act: str
    bias: bool = False
    prefix: str = ""

    def check(self, tp: int, ep: int) -> str | None:
        if self.intermediate % tp:
            return f"the MLP width ({self.intermediate}) is not a multiple of it"
        return None

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        tokens = queries.total_input_tokens
        mlp = gated_mlp(
            p,
            tokens,
            self.intermediate // p.parallel.tp,
            self.act,
            self.bias,
            prefix=f"Ffn - {self.prefix}",
            category=Category.MLP_DENSE,
        )
        return mlp + p.set_op_allreduce_req("Ffn - AllReduce", tokens)


@dataclass(frozen=True, slots=True)
class MoeFfn:
    """Routed experts (top-k of `num_experts` gated MLPs per token) behind a linear router, plus an
    optional always-on shared expert of width `shared_intermediate` (0: none)."""

    num_experts: int
    top_k: int
    intermediate: int
    act: str
    shared_intermediate: int = 0
    expert_bias: bool = False  # biases on each expert's gate/up and down (gpt-oss)
    router_bias: bool = False

    def check(self, tp: int, ep: int) -> str | None:
        if self.num_experts % ep:
            return f"the number of experts ({self.num_experts}) is not a multiple of EP {ep}"
        if self.intermediate % tp or self.shared_intermediate % tp:
            return "an expert width is not a multiple of it"
        return None

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        """Per device: the router (replicated); a 1/TP slice of every expert, or E/EP whole experts
        in 1/(TP/EP) slices: the same expected compute and traffic (see core/parallel.py)."""
        tp, ep = p.parallel.tp, p.parallel.ep
        tokens = queries.total_input_tokens
        rows = [
            p.set_op_proj_req(
                "Ffn - Router",
                tokens,
                p.dims.hidden_size,
                self.num_experts,
                bias=self.router_bias,
                category=Category.ROUTER,
                replicated=True,
            )
        ]
        if ep > 1:
            rows += p.set_op_alltoall_req("Ffn - Dispatch", tokens, self.top_k)
        rows += gated_mlp(
            p,
            tokens * self.top_k,
            self.intermediate // tp,
            self.act,
            self.expert_bias,
            prefix="Ffn - RoutedExp_",
            category=Category.MLP_ROUTED,
            experts=(self.num_experts, p.expected_experts(self.num_experts, self.top_k, tokens)),
        )
        if ep > 1:
            rows += p.set_op_alltoall_req("Ffn - Combine", tokens, self.top_k)
        shared = self.shared_intermediate > 0
        if shared:
            rows += gated_mlp(
                p,
                tokens,
                self.shared_intermediate // tp,
                self.act,
                False,
                prefix="Ffn - SharedExp_",
                category=Category.MLP_SHARED,
            )
        name = "Ffn - RoutedSharedExpAdd" if shared else "Ffn - RoutedExpAdd"
        rows.append(p.set_op_moe_combine_req(name, tokens, self.top_k, shared))
        if ep == 1 or shared:  # partial sums of the TP slices
            rows += p.set_op_allreduce_req("Ffn - AllReduce", tokens)
        return rows


@dataclass(frozen=True, slots=True)
class Block:
    """One decoder layer: attention, then the FFN, each a residual branch normalised as `layout`
    says."""

    attention: Attention | MlaAttention
    ffn: DenseFfn | MoeFfn
    layout: NormLayout = NormLayout.PRE


def windowed(attention: Attention, window: int | None, sliding: Sequence[bool]) -> list[Attention]:
    """One attention per layer: `attention` with a sliding window of `window` tokens on the layers
    `sliding` marks, full attention on the others."""
    full = replace(attention, pattern=FULL_ATTENTION)
    local = replace(attention, pattern=AttentionPattern.sliding(window))
    return [local if slides else full for slides in sliding]


def gated_mlp(
    p: BaseModelConfigParser,
    tokens: int,
    intermediate: int,
    act: str,
    bias: bool,
    *,
    prefix: str,
    category: Category,
    experts: tuple[int, float] | None = None,
) -> list[Row]:
    """GateUp_Proj (hidden -> 2*intermediate, gate and up fused), ActMul, Down_Proj, over `tokens`
    token rows (tokens x top-k for routed experts). `experts` = (experts held, expected experts
    read this step) makes the weights per expert."""
    hidden = p.dims.hidden_size
    return [
        p.set_op_proj_req(
            f"{prefix}GateUp_Proj",
            tokens,
            hidden,
            2 * intermediate,
            bias=bias,
            category=category,
            experts=experts,
        ),
        p.set_op_actmul_req(f"{prefix}ActMul", tokens, intermediate, act, category=category),
        p.set_op_proj_req(
            f"{prefix}Down_Proj",
            tokens,
            intermediate,
            hidden,
            bias=bias,
            category=category,
            experts=experts,
        ),
    ]


def block_rows(p: BaseModelConfigParser, block: Block, queries: QueryConfig) -> list[Row]:
    """All rows of one decoder block on one device, in execution order."""
    tokens, hidden = queries.total_input_tokens, p.dims.hidden_size
    rows: list[Row] = []
    for half, body in (
        ("Attn", block.attention.rows(p, queries)),
        ("Ffn", block.ffn.rows(p, queries)),
    ):
        if block.layout is not NormLayout.POST:
            rows.append(p.set_op_rmsnorm_req(f"{half} - RMSNorm", tokens, hidden, replicated=True))
        rows += body  # its all-reduce, if any, comes last
        if block.layout is not NormLayout.PRE:
            rows.append(
                p.set_op_rmsnorm_req(f"{half} - Post_RMSNorm", tokens, hidden, replicated=True)
            )
        rows.append(p.set_op_sum_req(f"{half} - ResidualAdd", tokens, hidden))
    return rows
