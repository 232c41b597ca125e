"""A dense MLP and routed experts side by side in one channel branch (Gemma 4's 26B-A4B): a
channel mixer.

    dense  = post_norm_1(mlp(x_pre))               x_pre: the branch's pre-norm of the residual r
    routed = post_norm_2(experts(pre_norm_2(r)))   routed by router(r)
    out    = dense + routed                        then the branch's post-norm and residual add

Rows: the dense MLP's (`mlp_rows` through `DenseMlp`: GateUp_Proj, ActMul, Down_Proj, its
all-reduce), `Post_RMSNorm_1`; the router (an optional `Router_Norm`: a gain-less RMSNorm times a
learned vector of h and a constant, Gemma 4), `Router` (h -> E), an optional `Router_ExpertScale`
(a learned scale per expert multiplies each of the top-k routing weights); `Pre_RMSNorm_2`, the
routed experts (`Moe.expert_rows`), their weighted sum `RoutedExpAdd`, `Post_RMSNorm_2`, and
`DenseRoutedAdd`.
NB: as in `Moe`, the router's softmax, top-k selection and renormalisation are not counted; the
    expected expert traffic is `Moe`'s (uniform routing).
Parallelism: the dense MLP splits its width over TP and the experts as `Moe` does (TP slices, or
E/EP whole experts). Each part is reduced before its own post-norm (a norm needs the whole sum):
an all-reduce after the dense down projection, and one after the experts' combine (with EP:
the all-to-all dispatch and combine, then the all-reduce where the experts are cut into TP/EP
slices, or an all-gather of the owners' tokens where EP = TP). Router, norms and scales are
replicated. No state between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Row
from ..model.state import State
from .mlp import DenseMlp
from .moe import Moe


@dataclass(frozen=True, slots=True)
class MoeWithDense:
    label: ClassVar[str] = "Ffn"

    dense: DenseMlp
    moe: Moe  # its router and routed experts (shared experts, if any, are not used here)
    router_norm: bool = False  # gain-less RMSNorm x learned vector (h) before the router (Gemma 4)
    expert_scale: bool = False  # a learned scale per expert on its routing weight (Gemma 4)

    def check(self, parallel: Parallelism) -> str | None:
        return self.dense.check(parallel) or self.moe.check(parallel)

    def states(self, tp: int) -> tuple[State, ...]:
        return ()

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        moe, ep = self.moe, ops.parallel.ep
        rows = self.dense.rows(ops, queries)
        rows.append(self._norm(ops, "Ffn - Post_RMSNorm_1", tokens))
        rows += self._router_rows(ops, tokens)
        if ep > 1:
            rows += ops.set_op_alltoall_req("Ffn - Dispatch", tokens, moe.top_k)
        rows.append(self._norm(ops, "Ffn - Pre_RMSNorm_2", tokens))
        rows += moe.expert_rows(ops, tokens)
        if ep > 1:
            rows += ops.set_op_alltoall_req("Ffn - Combine", tokens, moe.top_k)
        rows.append(ops.set_op_moe_combine_req("Ffn - RoutedExpAdd", tokens, moe.top_k, False))
        rows += ops.set_op_moe_gather_req("Ffn - RoutedExp_", tokens, partial=ep == 1)
        rows.append(self._norm(ops, "Ffn - Post_RMSNorm_2", tokens))
        rows.append(ops.set_op_sum_req("Ffn - DenseRoutedAdd", tokens, hidden))
        return rows

    @staticmethod
    def _norm(ops: OpBuilder, name: str, tokens: int) -> Row:
        return ops.set_op_rmsnorm_req(name, tokens, ops.hidden_size, replicated=True)

    def _router_rows(self, ops: OpBuilder, tokens: int) -> list[Row]:
        hidden, moe = ops.hidden_size, self.moe
        rows = []
        if self.router_norm:
            # norm(x) * scale * h^-0.5: an RMSNorm whose gain is the learned scale vector (a
            # router parameter), + 1 FLOP per element for the constant
            norm = ops.set_op_rmsnorm_req(
                "Ffn - Router_Norm", tokens, hidden, replicated=True, category=Category.ROUTER
            )
            rows.append(replace(norm, cost=norm.cost + formulas.scale(tokens * hidden)))
        rows.append(moe.router_row(ops, tokens))
        if self.expert_scale:
            fmt = ops.precision.weight_for(Category.ROUTER)
            experts = moe.num_experts
            rows.append(
                ops.set_op_elementwise_req(
                    "Ffn - Router_ExpertScale",
                    formulas.expert_scale(tokens, moe.top_k, experts, w_weight=fmt.bytes),
                    Category.ROUTER,
                    params=experts,
                    param_bytes=experts * fmt.bytes,
                    replicated=True,
                )
            )
        return rows
