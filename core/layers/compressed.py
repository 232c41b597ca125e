"""DeepSeek-V4's attention (a token mixer): one shared KV head, a sliding window on every layer,
and optionally a compressor whose entries every query also attends to.

Ground truth: transformers `models/deepseek_v4/modeling_deepseek_v4.py` (`DeepseekV4Attention`,
`DeepseekV4CSACompressor`, `DeepseekV4HCACompressor`, `DeepseekV4Indexer`, and the cache layers
`DeepseekV4CSACache` / `DeepseekV4HCACache` / `DynamicSlidingWindowLayer`).

Every layer (H heads of d, one KV head of d that is both key and value, r_d rotated dims):
- q: q_a (h -> q_lora_rank), its RMSNorm, q_b (-> H x d), a gain-less RMSNorm per head, RoPE;
- kv: kv_proj (h -> d), its RMSNorm, RoPE;
- attention with one learned sink per head over the last `window` tokens (+ compressed
  entries), K = V; the rotated dims of the output are rotated back (RoPE at -position);
- grouped output projection: the H x d output in g groups, each (H d / g -> o_lora_rank)
  (o_a, one batched GEMM), then o_b (g x o_lora_rank -> h).
A compressor with ratio r (CSA: r = 4 with an indexer; HCA: r = 128 without) projects every
token to kv and gate (kv_proj, gate_proj: h -> c*d, c = 2 when consecutive windows overlap as in
CSA, else 1), and whenever r more tokens arrive pools one entry: softmax over the window's
slots (c*r) of gate + a learned position bias, times kv, summed; RMSNorm; RoPE. Each token then
also attends to the entries closed at or before it (HCA: all; CSA: the top `index_topk` an
indexer picks). The indexer (CSA) keeps its own compressor at `index_head_dim` (always
overlapping), projects the q_a output to `index_n_heads` query heads (q_b), weights the heads
from h (weights_proj), and scores every compressed key (core/ops.py `lightning_indexer`).

Rows: Q_A_Proj, Q_A_Norm, Q_B_Proj, Q_B_Norm, KV_Proj, KV_Norm, Q_RoPE, KV_RoPE; per compressor
(tag CSA or HCA) <tag>_KV_Gate_Proj, <tag>_Pool (pooling and the entries' RoPE: a scan over the
query's buffered tokens), <tag>_Norm; per indexer Index_Proj (kv, gate and head weights),
Index_Pool, Index_Norm, Index_Q_Proj, Index_RoPE, Index_Score; SDPA, O_RoPE, O_A_Proj,
O_B_Proj, and the all-reduce under TP.
NB: the compressor and indexer projections (except the indexer's q_b) stay in the config dtype in
    quantized checkpoints (HF keeps them out of fp8: `_keep_in_fp32_modules`); the position
    biases are float32 (counted so). The compressor's work runs for the windows that close in
    this step: floor((c+n)/r) - floor(c/r) per query.

State, per query, as HF's cache layers keep it:
- "KV cache": keys and values of the last window - 1 tokens (d each; HF's compressed-layer cache
  makes `values` the same tensor as `keys`, but every HF cache figure counts both, and so does
  this; the attention reads the shared tensor once);
- "Compressed KV" (d) and "Indexer keys" (index_head_dim): one entry per r tokens;
- "Compressor buffer": kv and gate (2*c*d, and 2*2*index_head_dim for the indexer) of the
  L mod r tokens since the last window closed;
- "Compressor overlap" (CSA): the last window's first series, kv (r x d, activation format) and
  gate (r x d, float32: the gate plus the float32 position bias), and the indexer's alike.
Tensor parallelism: q_b and the sinks split by heads, o_a by groups, o_b by its input; q_a, the
KV head, the compressors and the indexer are replicated (one KV head serves every head), and so
is every state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import ops as formulas
from ..model.builder import Attending, OpBuilder
from ..model.formats import lookup_format
from ..model.masks import AttentionPattern, CompressedKeys, ContextPieces, KeyPattern
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Row
from ..model.state import Growth, State, StateFormat
from .mixer import divisible

_FLOAT32 = lookup_format("float32")  # position biases (HF keeps them in float32)


@dataclass(frozen=True, slots=True)
class Indexer:
    """CSA's lightning indexer: which compressed entries each token attends to."""

    heads: int  # `index_n_heads`
    head_dim: int  # `index_head_dim`
    top_k: int  # `index_topk`


@dataclass(frozen=True, slots=True)
class Compressor:
    """One compressed entry per `ratio` tokens; `overlap`: each token feeds two series, pooled
    over windows of 2 x ratio slots with stride ratio (CSA)."""

    ratio: int
    overlap: bool = False
    indexer: Indexer | None = None

    @property
    def tag(self) -> str:
        return "CSA" if self.indexer is not None else "HCA"

    @property
    def series(self) -> int:
        return 2 if self.overlap else 1


def _compressor_states(kind: str, ratio: int, width: int, series: int) -> list[State]:
    """What one compressor keeps: its entries, the tokens of the open window, and (with
    overlapping windows) the previous window's first series of kv and gate."""
    states = [
        State(kind, width, Growth.PER_RATIO, ratio),
        State(
            "Compressor buffer", 2 * series * width, Growth.REMAINDER, ratio, StateFormat.ACTIVATION
        ),
    ]
    if series == 2:
        states += [
            State("Compressor overlap", ratio * width, Growth.FIXED, fmt=StateFormat.ACTIVATION),
            State("Compressor overlap", ratio * width, Growth.FIXED, fmt=StateFormat.FLOAT32),
        ]
    return states


@dataclass(frozen=True, slots=True)
class CompressedAttention:
    label: ClassVar[str] = "Attn"

    heads: int  # H: `num_attention_heads`
    head_dim: int  # d: `head_dim`, also the one KV head's width
    rope_dim: int  # rotated dims per head
    q_lora_rank: int
    o_groups: int  # g
    o_lora_rank: int
    window: int  # `sliding_window`
    compressor: Compressor | None = None

    @property
    def pattern(self) -> KeyPattern:
        c = self.compressor
        if c is None:
            return AttentionPattern.sliding(self.window)
        return CompressedKeys(self.window, c.ratio, None if c.indexer is None else c.indexer.top_k)

    def check(self, parallel: Parallelism) -> str | None:
        tp = parallel.tp
        return divisible("num_attention_heads", self.heads, tp) or divisible(
            "o_groups", self.o_groups, tp
        )

    def states(self, tp: int) -> tuple[State, ...]:
        d = self.head_dim
        states = [State("KV cache", 2 * d, Growth.WINDOW, self.window)]
        c = self.compressor
        if c is not None:
            states += _compressor_states("Compressed KV", c.ratio, d, c.series)
            if c.indexer is not None:
                states += _compressor_states("Indexer keys", c.ratio, c.indexer.head_dim, 2)
        return tuple(states)

    def pieces(self) -> ContextPieces:
        return self.pattern.pieces()

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tp, d = ops.tp, self.head_dim
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        heads, groups = self.heads // tp, self.o_groups // tp
        proj = Category.ATTN_PROJ
        rows = [
            ops.set_op_proj_req(
                "Attn - Q_A_Proj", tokens, hidden, self.q_lora_rank, category=proj, replicated=True
            ),
            ops.set_op_rmsnorm_req("Attn - Q_A_Norm", tokens, self.q_lora_rank, replicated=True),
            ops.set_op_proj_req(
                "Attn - Q_B_Proj", tokens, self.q_lora_rank, heads * d, category=proj
            ),
            ops.set_op_rmsnorm_req("Attn - Q_B_Norm", tokens * heads, d, gains=0),
            ops.set_op_proj_req(
                "Attn - KV_Proj", tokens, hidden, d, category=proj, replicated=True
            ),
            ops.set_op_rmsnorm_req("Attn - KV_Norm", tokens, d, replicated=True),
            ops.set_op_rope_req("Attn - Q_RoPE", tokens, heads, self.rope_dim),
            ops.set_op_elementwise_req(
                "Attn - KV_RoPE",
                formulas.rope(tokens, 1, self.rope_dim, w=ops.act_bytes),
                replicated=True,
            ),
        ]
        if self.compressor is not None:
            rows += self.compressor_rows(ops, queries, self.compressor)
        pattern = self.pattern
        attending = Attending(heads, 1, d, d, pattern, sink=True, shared_kv=True)
        rows += [
            ops.set_op_sdpa_req(f"Attn - SDPA ({pattern.label})", queries.groups, attending),
            ops.set_op_rope_req("Attn - O_RoPE", tokens, heads, self.rope_dim),
            ops.set_op_proj_req(
                "Attn - O_A_Proj",
                tokens,
                self.heads * d // self.o_groups,
                self.o_lora_rank,
                category=proj,
                groups=groups,
            ),
            ops.set_op_proj_req(
                "Attn - O_B_Proj", tokens, groups * self.o_lora_rank, hidden, category=proj
            ),
        ]
        return rows + ops.set_op_allreduce_req("Attn - AllReduce", tokens)

    def compressor_rows(self, ops: OpBuilder, queries: QueryConfig, c: Compressor) -> list[Row]:
        tokens, d, r = queries.total_input_tokens, self.head_dim, c.ratio
        windows = sum(count * ((old + new) // r - old // r) for (old, new), count in queries.groups)
        rows = [
            ops.set_op_proj_req(
                f"Attn - {c.tag}_KV_Gate_Proj",
                tokens,
                ops.hidden_size,
                2 * c.series * d,
                category=Category.ATTN_PROJ,
                replicated=True,
                pinned=ops.precision.weight,
            ),
            *self._pool_rows(ops, c.tag, windows, c.series * r, d),
        ]
        if c.indexer is not None:
            rows += self._indexer_rows(ops, queries, c.indexer, c.ratio, windows)
        return rows

    def _indexer_rows(
        self, ops: OpBuilder, queries: QueryConfig, i: Indexer, ratio: int, windows: int
    ) -> list[Row]:
        tokens = queries.total_input_tokens
        return [
            ops.set_op_proj_req(
                "Attn - Index_Proj",
                tokens,
                ops.hidden_size,
                2 * 2 * i.head_dim + i.heads,
                category=Category.ATTN_PROJ,
                replicated=True,
                pinned=ops.precision.weight,
            ),
            *self._pool_rows(ops, "Index", windows, 2 * ratio, i.head_dim),
            ops.set_op_proj_req(
                "Attn - Index_Q_Proj",
                tokens,
                self.q_lora_rank,
                i.heads * i.head_dim,
                category=Category.ATTN_PROJ,
                replicated=True,
            ),
            ops.set_op_elementwise_req(
                "Attn - Index_RoPE",
                formulas.rope(tokens, i.heads, self.rope_dim, w=ops.act_bytes),
                replicated=True,
            ),
            ops.set_op_indexer_req(
                "Attn - Index_Score",
                queries.groups,
                heads=i.heads,
                head_dim=i.head_dim,
                top_k=i.top_k,
                ratio=ratio,
            ),
        ]

    def _pool_rows(
        self, ops: OpBuilder, tag: str, windows: int, slots: int, width: int
    ) -> list[Row]:
        """Pool `windows` entries of `width` from `slots` tokens each (the position bias, slots x
        width, is its parameter), then their RMSNorm; the entries' RoPE rides on the pool row, a
        kernel of its own over the query's buffered tokens (a scan: never fused away)."""
        bias = slots * width
        pool = formulas.compress_pool(
            windows, slots, width, w_act=ops.act_bytes, w_bias=_FLOAT32.bytes
        ) + formulas.rope(windows, 1, self.rope_dim, w=ops.act_bytes)
        return [
            ops.set_op_scan_req(
                f"Attn - {tag}_Pool",
                pool,
                Category.ATTN_CORE,
                params=bias,
                param_bytes=bias * _FLOAT32.bytes,
                replicated=True,
            ),
            ops.set_op_rmsnorm_req(f"Attn - {tag}_Norm", windows, width, replicated=True),
        ]
