"""Manifold-constrained hyper-connections (mHC, DeepSeek-V4): a residual of n parallel streams.

The residual stream is widened to n = `streams` copies of the hidden state (the embedding is
repeated n times). Around each branch (attention, MoE) a `HyperConnection`:
- before it, reads the n streams, normalises them (a gain-less RMSNorm over n*h), projects them
  to (2 + n) * n logits (`fn`, (2+n)n x nh), and turns those into weights `pre` (n), `post` (n)
  and `comb` (n x n, made doubly stochastic by Sinkhorn-Knopp); the branch input is the
  `pre`-weighted sum of the streams;
- after it, the new streams are post (x) branch output + comb^T @ streams (this replaces the
  residual add).
Before the final norm a `HyperHead` (the same norm and a projection to n logits, sigmoid
weights) collapses the streams into one hidden state.

Rows per branch: `HC_Norm`, `HC_Proj`, `HC_Weights`, `HC_Collapse` before the branch's own norm,
`HC_Expand` after the mixer. Parameters: fn, base ((2+n)n) and scale (3) per branch; hc_fn (n x
nh), hc_base (n), hc_scale (1) for the head; HF keeps them all in float32 (counted so). Under
tensor parallelism every rank runs them in full (replicated): they act on the whole residual.
NB: the n-fold copy of the embeddings into the streams (memory only) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.formats import lookup_format
from ..model.rows import Category, Row
from ..ops import Number

FLOAT32 = lookup_format("float32")  # HF keeps every hyper-connection weight in float32


@dataclass(frozen=True, slots=True)
class HyperConnection:
    streams: int  # n: `hc_mult`
    sinkhorn_iters: int  # `hc_sinkhorn_iters`

    @property
    def logits(self) -> int:
        """pre (n), post (n) and comb (n x n) per token."""
        return (2 + self.streams) * self.streams

    def pre_rows(self, ops: OpBuilder, tokens: int, label: str) -> list[Row]:
        """From the streams to the branch input: norm, projection, weights, collapse."""
        n, h, w = self.streams, ops.hidden_size, FLOAT32.bytes
        extra = self.logits + 3  # base and scale
        return [
            ops.set_op_rmsnorm_req(f"{label} - HC_Norm", tokens, n * h, gains=0, replicated=True),
            ops.set_op_proj_req(
                f"{label} - HC_Proj",
                tokens,
                n * h,
                self.logits,
                category=Category.OTHER,
                replicated=True,
                pinned=FLOAT32,
            ),
            ops.set_op_elementwise_req(
                f"{label} - HC_Weights",
                formulas.hyper_weights(tokens, n, self.sinkhorn_iters, w=w)
                + formulas.Cost(weight_bytes=extra * w),
                params=extra,
                param_bytes=extra * w,
                replicated=True,
            ),
            ops.set_op_elementwise_req(
                f"{label} - HC_Collapse",
                formulas.hyper_collapse(tokens, n, h, w=ops.act_bytes),
                replicated=True,
            ),
        ]

    def post_rows(self, ops: OpBuilder, tokens: int, label: str) -> list[Row]:
        """The residual update: post (x) output + comb^T @ streams."""
        cost = formulas.hyper_expand(tokens, self.streams, ops.hidden_size, w=ops.act_bytes)
        return [ops.set_op_elementwise_req(f"{label} - HC_Expand", cost, replicated=True)]

    def head_rows(self, ops: OpBuilder, tokens: int) -> list[Row]:
        """`DeepseekV4HyperHead`: the streams collapsed into one before the final norm."""
        n, h, w = self.streams, ops.hidden_size, FLOAT32.bytes
        extra = n + 1  # hc_base and hc_scale
        return [
            ops.set_op_rmsnorm_req("HC Head - Norm", tokens, n * h, gains=0, replicated=True),
            ops.set_op_proj_req(
                "HC Head - Proj",
                tokens,
                n * h,
                n,
                category=Category.OTHER,
                replicated=True,
                pinned=FLOAT32,
            ),
            ops.set_op_elementwise_req(
                "HC Head - Collapse",
                formulas.hyper_head_weights(tokens, n, w=w)
                + formulas.Cost(weight_bytes=extra * w)
                + formulas.hyper_collapse(tokens, n, h, w=ops.act_bytes),
                params=extra,
                param_bytes=extra * w,
                replicated=True,
            ),
        ]

    def head_param_bytes(self, hidden: int) -> Number:
        """What the HyperHead holds: hc_fn, hc_base and hc_scale in float32."""
        n = self.streams
        return (n * n * hidden + n + 1) * FLOAT32.bytes
