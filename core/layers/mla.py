"""Multi-head Latent Attention (DeepSeek-V2/V3, Kimi-K2): a token mixer with a compressed cache.

Queries come from a low-rank path (h -> q_lora_rank -> norm -> H x (nope + rope)) or a direct
projection; keys and values from one latent per token: kv_a projects h -> kv_lora_rank + rope,
the cache holds that latent, and kv_b (kv_lora_rank -> H x (nope + v)) decompresses it.

Two cost models of the same parameters and cache (`MlaMode`):
- expanded (HuggingFace's code, and engines in prefill): every cached latent is decompressed
  through kv_b on every step, then standard attention over H heads of nope + rope / v dims;
- absorbed (engines in decode): kv_b's key half is folded into the query (per head,
  nope -> kv_lora) and its value half into the output (kv_lora -> v); attention runs in the
  latent space against the cache itself (one shared 'head' of kv_lora + rope, V = the latent).
State: the latent, kv_lora_rank + qk_rope_head_dim values per token, on every tensor-parallel rank
(all heads read it).

DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5) is MLA with an `indexer` (core/layers/dsa.py) and
the top-k `pattern` it selects: both cost models attend over the selected keys only (an expanded
query decompresses the keys it reads: at most k per token), and the indexer adds its rows (after
the latent's) and its key cache. A layer that reuses another layer's selection (GLM's "shared"
layers) has the top-k pattern and no indexer.
NB: HF's eager code decompresses and scores every cached key and masks the unselected ones; the
    two agree while the context is at most k tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import ClassVar

from ..model.builder import Attending, OpBuilder
from ..model.masks import FULL_ATTENTION, AttentionPattern, ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Row
from ..model.state import State
from .dsa import DsaIndexer
from .mixer import divisible


class MlaMode(Enum):
    """How Multi-head Latent Attention is computed (see the module docstring)."""

    AUTO = "auto"  # absorbed for decode queries (1 input token), expanded for the others
    ABSORBED = "absorbed"
    EXPANDED = "expanded"


@dataclass(frozen=True, slots=True)
class MlaAttention:
    label: ClassVar[str] = "Attn"

    heads: int
    q_lora_rank: int | None
    kv_lora_rank: int
    nope_dim: int
    rope_dim: int
    v_dim: int
    mode: MlaMode = MlaMode.AUTO
    bias: bool = False  # attention_bias: on q_a, kv_a and o
    pattern: AttentionPattern = FULL_ATTENTION
    indexer: DsaIndexer | None = None  # DSA's selector; `pattern` is then its top-k

    def __post_init__(self) -> None:
        if self.indexer is not None and (
            self.pattern != self.indexer.pattern or self.q_lora_rank != self.indexer.q_lora_rank
        ):
            raise ValueError("an MLA indexer needs its top-k pattern and the layer's q latent")

    @property
    def latent_width(self) -> int:
        """Values one token leaves in the cache: kv_lora_rank + qk_rope_head_dim."""
        return self.kv_lora_rank + self.rope_dim

    def check(self, parallel: Parallelism) -> str | None:
        return divisible("num_attention_heads", self.heads, parallel.tp)

    def states(self, tp: int) -> tuple[State, ...]:
        latent = State("KV cache", self.latent_width)
        return (latent, *self.indexer.states(tp)) if self.indexer else (latent,)

    def absorbed(self, new_tokens: int) -> bool:
        if self.mode is MlaMode.AUTO:
            return new_tokens == 1
        return self.mode is MlaMode.ABSORBED

    def pieces(self) -> ContextPieces:
        return self.pattern.pieces()

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens = queries.total_input_tokens
        return [
            *self.query_rows(ops, tokens),
            *self.latent_rows(ops, tokens),
            *(self.indexer.rows(ops, queries) if self.indexer else ()),
            *self.attention_rows(ops, queries),
            self.output_row(ops, tokens),
            *ops.set_op_allreduce_req("Attn - AllReduce", tokens),
        ]

    def query_rows(self, ops: OpBuilder, tokens: int) -> list[Row]:
        """q: a direct projection, or q_a (replicated), its norm and q_b (split by heads)."""
        width = (self.heads // ops.tp) * (self.nope_dim + self.rope_dim)
        proj = Category.ATTN_PROJ
        if self.q_lora_rank is None:
            return [
                ops.set_op_proj_req("Attn - Q_Proj", tokens, ops.hidden_size, width, category=proj)
            ]
        return [
            ops.set_op_proj_req(
                "Attn - Q_A_Proj",
                tokens,
                ops.hidden_size,
                self.q_lora_rank,
                bias=self.bias,
                category=proj,
                replicated=True,
            ),
            ops.set_op_rmsnorm_req("Attn - Q_A_Norm", tokens, self.q_lora_rank, replicated=True),
            ops.set_op_proj_req("Attn - Q_B_Proj", tokens, self.q_lora_rank, width, category=proj),
        ]

    def latent_rows(self, ops: OpBuilder, tokens: int) -> list[Row]:
        """kv_a (replicated: every rank needs the whole latent), its norm, and RoPE of every
        query head's rope dims and the one shared key's."""
        return [
            ops.set_op_proj_req(
                "Attn - KV_A_Proj",
                tokens,
                ops.hidden_size,
                self.latent_width,
                bias=self.bias,
                category=Category.ATTN_PROJ,
                replicated=True,
            ),
            ops.set_op_rmsnorm_req("Attn - KV_A_Norm", tokens, self.kv_lora_rank, replicated=True),
            ops.set_op_rope_req("Attn - RoPE", tokens, self.heads // ops.tp + 1, self.rope_dim),
        ]

    def attention_rows(
        self, ops: OpBuilder, queries: QueryConfig, pattern: AttentionPattern | None = None
    ) -> list[Row]:
        """Expanded queries decompress the keys they attend to (KV_B_Proj) and attend over H
        heads; absorbed queries fold kv_b into Q_Absorb / V_Absorb and attend in latent space.
        kv_b's parameters are counted once, on KV_B_Proj when it runs."""
        pattern = pattern or self.pattern
        heads = self.heads // ops.tp
        proj = Category.ATTN_PROJ
        absorbed = [(q, count) for q, count in queries.groups if self.absorbed(q[1])]
        expanded = [(q, count) for q, count in queries.groups if not self.absorbed(q[1])]
        label = "" if pattern == FULL_ATTENTION else f" ({pattern.label})"
        latent_name = "Attn - SDPA (latent" + (f", {pattern.label})" if label else ")")
        rows = []
        if expanded:
            # HF decompresses every key the expanded queries attend to, cached or new
            keys = sum(count * pattern.keys_read(c, n) for (c, n), count in expanded)
            qk_dim = self.nope_dim + self.rope_dim
            rows += [
                ops.set_op_proj_req(
                    "Attn - KV_B_Proj",
                    keys,
                    self.kv_lora_rank,
                    heads * (self.nope_dim + self.v_dim),
                    category=proj,
                ),
                ops.set_op_sdpa_req(
                    f"Attn - SDPA{label}",
                    expanded,
                    Attending(heads, heads, qk_dim, self.v_dim, pattern, cached=False),
                ),
            ]
        if absorbed:
            absorbed_tokens = sum(count * n for (_, n), count in absorbed)
            latent = Attending(
                heads, 1, self.latent_width, self.kv_lora_rank, pattern, shared_kv=True
            )
            folded = [
                ops.set_op_proj_req(
                    "Attn - Q_Absorb",
                    absorbed_tokens,
                    self.nope_dim,
                    self.kv_lora_rank,
                    category=proj,
                    groups=heads,
                ),
                ops.set_op_sdpa_req(latent_name, absorbed, latent),
                ops.set_op_proj_req(
                    "Attn - V_Absorb",
                    absorbed_tokens,
                    self.kv_lora_rank,
                    self.v_dim,
                    category=proj,
                    groups=heads,
                ),
            ]
            if expanded:  # kv_b's parameters are counted once, on KV_B_Proj
                folded = [replace(row, params=0, param_bytes=0) for row in folded]
            rows += folded
        return rows

    def output_row(self, ops: OpBuilder, tokens: int) -> Row:
        width = (self.heads // ops.tp) * self.v_dim
        return ops.set_op_proj_req(
            "Attn - O_Proj",
            tokens,
            width,
            ops.hidden_size,
            bias=self.bias,
            category=Category.ATTN_PROJ,
        )
