"""Decoder blocks as data, and the shared builders that turn them into rows.

A parser describes each of its decoder layers as a `Block` (attention kind, FFN kind, where the
norms sit); layers that are alike are equal values, so the analysis builds rows once per distinct
kind of block and weights them by how many layers are of that kind. Every family shares these
builders: a new architecture adds a spec field or a builder here once, not a copy in its parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from core.attention import FULL_ATTENTION, AttentionPattern, MaskKind
from core.rows import Category, Row
from core.utils import QueryConfig

if TYPE_CHECKING:
    from core.base_parser import BaseModelConfigParser


class QKNorm(Enum):
    """Normalisation of queries and keys before attention."""

    NONE = "none"
    PER_HEAD = "per_head"  # RMSNorm over each head's head_dim, one gain of head_dim for q and k
    PER_HEAD_L2 = "per_head_l2"  # the same without a gain (Llama 4)


class NormLayout(Enum):
    """Where each half of a block (attention, FFN) normalises."""

    PRE = "pre"  # x + f(norm(x))                      (Llama)


@dataclass(frozen=True, slots=True)
class Attention:
    """Multi-head attention with grouped KV heads (MHA when kv_heads == heads, MQA at 1)."""

    heads: int
    kv_heads: int
    head_dim: int
    pattern: AttentionPattern = FULL_ATTENTION
    rope: bool = True
    qk_norm: QKNorm = QKNorm.NONE
    qkv_bias: bool = False
    o_bias: bool = False

    @property
    def kv_values_per_token(self) -> int:
        """K and V values one token leaves in this layer's cache."""
        return 2 * self.kv_heads * self.head_dim

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        tokens, hidden = queries.total_input_tokens, p.dims.hidden_size
        q_width, kv_width = self.heads * self.head_dim, self.kv_heads * self.head_dim
        rows = [
            p.set_op_proj_req(
                "Attn - QKV_Proj",
                tokens,
                hidden,
                q_width + 2 * kv_width,
                bias=self.qkv_bias,
                category=Category.ATTN_PROJ,
            )
        ]
        if self.qk_norm is not QKNorm.NONE:
            rows.append(
                p.set_op_rmsnorm_req(
                    "Attn - QK_Norm",
                    tokens * (self.heads + self.kv_heads),
                    self.head_dim,
                    gains=0 if self.qk_norm is QKNorm.PER_HEAD_L2 else 2,
                )
            )
        if self.rope:
            rows.append(
                p.set_op_rope_req("Attn - RoPE", tokens, self.heads + self.kv_heads, self.head_dim)
            )
        label = "" if self.pattern.kind is MaskKind.FULL else f" ({self.pattern.label})"
        rows.append(p.set_op_sdpa_req(f"Attn - SDPA{label}", queries, self))
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
        return rows


@dataclass(frozen=True, slots=True)
class DenseFfn:
    """Gated MLP: down(act(gate(x)) * up(x)). `prefix` names its rows (e.g. "NonMoE_")."""

    intermediate: int
    act: str
    bias: bool = False
    prefix: str = ""

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        return gated_mlp(
            p,
            queries.total_input_tokens,
            self.intermediate,
            self.act,
            self.bias,
            prefix=f"Ffn - {self.prefix}",
            category=Category.MLP_DENSE,
        )


@dataclass(frozen=True, slots=True)
class MoeFfn:
    """Routed experts (top-k of `num_experts` gated MLPs per token) behind a linear router, plus an
    optional always-on shared expert of width `shared_intermediate` (0: none)."""

    num_experts: int
    top_k: int
    intermediate: int
    act: str
    shared_intermediate: int = 0

    def rows(self, p: BaseModelConfigParser, queries: QueryConfig) -> list[Row]:
        tokens = queries.total_input_tokens
        rows = [
            p.set_op_proj_req(
                "Ffn - Router",
                tokens,
                p.dims.hidden_size,
                self.num_experts,
                category=Category.ROUTER,
            )
        ]
        rows += gated_mlp(
            p,
            tokens * self.top_k,
            self.intermediate,
            self.act,
            False,
            prefix="Ffn - RoutedExp_",
            category=Category.MLP_ROUTED,
            experts=(self.num_experts, p.expected_experts(self.num_experts, self.top_k, tokens)),
        )
        if self.shared_intermediate:
            rows += gated_mlp(
                p,
                tokens,
                self.shared_intermediate,
                self.act,
                False,
                prefix="Ffn - SharedExp_",
                category=Category.MLP_SHARED,
            )
        shared = self.shared_intermediate > 0
        name = "Ffn - RoutedSharedExpAdd" if shared else "Ffn - RoutedExpAdd"
        rows.append(p.set_op_moe_combine_req(name, tokens, self.top_k, shared))
        return rows


@dataclass(frozen=True, slots=True)
class Block:
    """One decoder layer: attention, then the FFN, each a residual branch."""

    attention: Attention
    ffn: DenseFfn | MoeFfn
    layout: NormLayout = NormLayout.PRE


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
    """All rows of one decoder block, in execution order."""
    tokens, hidden = queries.total_input_tokens, p.dims.hidden_size
    return [
        p.set_op_rmsnorm_req("Attn - RMSNorm", tokens, hidden),
        *block.attention.rows(p, queries),
        p.set_op_sum_req("Attn - ResidualAdd", tokens, hidden),
        p.set_op_rmsnorm_req("Ffn - RMSNorm", tokens, hidden),
        *block.ffn.rows(p, queries),
        p.set_op_sum_req("Ffn - ResidualAdd", tokens, hidden),
    ]
