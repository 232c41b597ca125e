"""DeepSeek Sparse Attention's lightning indexer (DeepSeek-V3.2, GLM-5): the selector that lets
MLA attend to k keys per token instead of all of them.

An MLA layer with an indexer (`MlaAttention(..., pattern=indexer.pattern, indexer=indexer)`)
attends, in both its absorbed and expanded forms, over the top-k keys the indexer picks
(`AttentionPattern.top_k(k)`: min(p + 1, k) keys for the token at position p); the indexer adds
its own rows and its own key cache. Per new token (transformers `DeepseekV32Indexer`):

    q = wq_b(q_latent)            q_lora_rank -> heads x head_dim (the MLA's normed q latent)
    k = k_norm(wk(h))             hidden -> head_dim, a LayerNorm with weight and bias
    w = weights_proj(h)           hidden -> heads
    RoPE on the first qk_rope_head_dim dims of each q head and of k
    I(t, s) = sum_h w[t, h] * relu(q[t, h] . k[s]) over every cached key s, then top-k
              (core/ops.py `lightning_indexer` at ratio 1; DeepSeek-V4's CSA runs the same
              scoring over its compressed keys)

State: k, head_dim values per token ("Indexer keys"; HF stores them in the model dtype, here at the
KV-cache format, which defaults to it). Under tensor parallelism the indexer is replicated, as
serving engines run it (vLLM's `ReplicatedLinear`; HF's TP plan leaves it out): every rank
projects, holds the whole key cache and scores every key.
NB: engines keep the indexer keys in fp8 with a scale per token and score in fp8 (DeepSeek's
    `fp8_index`); pass --kv-cache-dtype to model that. HF keeps `weights_proj` in float32
    (`_keep_in_fp32_modules`); it is counted here in the attention projections' format.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.builder import OpBuilder
from ..model.masks import AttentionPattern
from ..model.queries import QueryConfig
from ..model.rows import Category, Row
from ..model.state import State


@dataclass(frozen=True, slots=True)
class DsaIndexer:
    heads: int  # `index_n_heads`
    head_dim: int  # `index_head_dim`
    rope_dim: int  # `qk_rope_head_dim`: rotated dims of each indexer q head and of k
    q_lora_rank: int  # wq_b's input: the MLA's q latent
    top_k: int  # `index_topk`: keys each token keeps

    @property
    def pattern(self) -> AttentionPattern:
        """Which keys the main attention reads once this indexer has chosen."""
        return AttentionPattern.top_k(self.top_k)

    def states(self, tp: int) -> tuple[State, ...]:
        return (State("Indexer keys", self.head_dim),)

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """The indexer of one layer, every row replicated on every tensor-parallel rank."""
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        proj = Category.ATTN_PROJ

        def project(name: str, k: int, n: int) -> Row:
            return ops.set_op_proj_req(name, tokens, k, n, category=proj, replicated=True)

        return [
            project("Attn - Indexer_Q_Proj", self.q_lora_rank, self.heads * self.head_dim),
            project("Attn - Indexer_K_Proj", hidden, self.head_dim),
            ops.set_op_layernorm_req(
                "Attn - Indexer_K_Norm", tokens, self.head_dim, replicated=True
            ),
            project("Attn - Indexer_Weights_Proj", hidden, self.heads),
            ops.set_op_rope_req(
                "Attn - Indexer_RoPE", tokens, self.heads + 1, self.rope_dim, replicated=True
            ),
            ops.set_op_indexer_req(
                "Attn - Indexer_Score",
                queries.groups,
                heads=self.heads,
                head_dim=self.head_dim,
                top_k=self.top_k,
            ),
        ]
