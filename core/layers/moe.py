"""Mixture of experts (a channel mixer): a router, top-k routed expert MLPs per token, and
optional always-on shared experts.

NB: every token runs its top-k experts (FLOPs for T*k expert rows); the weight traffic is the
    expected number of distinct experts the step touches under uniform routing,
    E * (1 - (1 - k/E)^T), times one expert's bytes, rounded to whole bytes; storage counts every
    expert. The router's top-k selection and scoring arithmetic are not counted.
Parallelism (core/model/parallel.py): per device, the router (replicated) and a 1/TP slice of
every expert, or E/EP whole experts in 1/(TP/EP) slices: the same expected compute, weight
traffic and intermediate activations, but under EP a rank reads and writes only the T*k/EP token
copies its experts run; EP adds an all-to-all dispatch and combine, and where nothing is left to
reduce (EP = TP, no shared expert) the layer's all-reduce becomes an all-gather of the owners'
tokens.
A latent MoE (Nemotron-H's `moe_latent_size`) projects each token to the latent width before the
routed experts (`Latent_In_Proj`) and back after their weighted sum (`Latent_Out_Proj`): the
experts, their dispatch and their combine work at the latent width; the shared experts do not.
NB: the latent projections are replicated under tensor parallelism (every rank runs them, on its
    partial sums for the way out); the layer's one all-reduce is counted at the hidden width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import ClassVar

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.formats import DataFormat
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Routing, Row
from ..model.state import State
from .mlp import mlp_rows


@dataclass(frozen=True, slots=True)
class Moe:
    label: ClassVar[str] = "Ffn"

    num_experts: int
    top_k: int
    intermediate: int  # each routed expert's width
    act: str
    shared_intermediate: int = 0  # the shared experts together (0: none)
    gated: bool = True  # gated expert MLPs (False: up, act, down as Nemotron-H)
    expert_bias: bool = False  # biases on each expert's projections (gpt-oss)
    router_bias: bool = False
    shared_gate: bool = False  # a sigmoid gate (h -> 1) scales the shared expert (Qwen MoE)
    shared_bias: bool = False  # biases on the shared experts' projections (Nemotron-H mlp_bias)
    latent: int = 0  # the routed experts' width in and out (0: the hidden size) (Nemotron-H)
    latent_bias: bool = False  # biases on the latent projections
    router_format: DataFormat | None = None  # the router weight's own format (Nemotron-H: fp32)

    def check(self, parallel: Parallelism) -> str | None:
        if self.num_experts % parallel.ep:
            return (
                f"the number of experts ({self.num_experts}) is not a multiple of EP {parallel.ep}"
            )
        if self.intermediate % parallel.tp or self.shared_intermediate % parallel.tp:
            return "an expert width is not a multiple of it"
        return None

    def states(self, tp: int) -> tuple[State, ...]:
        return ()

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens = queries.total_input_tokens
        ep = ops.parallel.ep
        width = self.latent or None
        rows = [self.router_row(ops, tokens)]
        if self.latent:
            rows.append(self.latent_row(ops, "Ffn - Latent_In_Proj", tokens, inward=True))
        if ep > 1:
            rows += ops.set_op_alltoall_req("Ffn - Dispatch", tokens, self.top_k, width=width)
        rows += self.expert_rows(ops, tokens, width)
        if ep > 1:
            rows += ops.set_op_alltoall_req("Ffn - Combine", tokens, self.top_k, width=width)
        shared = self.shared_intermediate > 0
        if self.latent:  # experts summed at the latent width, projected back, then the shared
            rows.append(
                ops.set_op_moe_combine_req(
                    "Ffn - RoutedExpAdd", tokens, self.top_k, False, width=self.latent
                )
            )
            rows.append(self.latent_row(ops, "Ffn - Latent_Out_Proj", tokens, inward=False))
            rows += self.shared_rows(ops, tokens)
            if shared:
                rows.append(ops.set_op_sum_req("Ffn - SharedExpAdd", tokens, ops.hidden_size))
        else:
            rows += self.shared_rows(ops, tokens)
            name = "Ffn - RoutedSharedExpAdd" if shared else "Ffn - RoutedExpAdd"
            rows.append(ops.set_op_moe_combine_req(name, tokens, self.top_k, shared))
        rows += ops.set_op_moe_gather_req("Ffn - ", tokens, partial=ep == 1 or shared)
        return rows

    def latent_row(self, ops: OpBuilder, name: str, tokens: int, *, inward: bool) -> Row:
        """A latent projection: hidden -> latent (`inward`) or latent -> hidden."""
        widths = (ops.hidden_size, self.latent)
        return ops.set_op_proj_req(
            name,
            tokens,
            *(widths if inward else widths[::-1]),
            bias=self.latent_bias,
            category=Category.MLP_ROUTED,
            replicated=True,
        )

    def router_row(self, ops: OpBuilder, tokens: int) -> Row:
        return ops.set_op_proj_req(
            "Ffn - Router",
            tokens,
            ops.hidden_size,
            self.num_experts,
            bias=self.router_bias,
            category=Category.ROUTER,
            replicated=True,
            pinned=self.router_format,
        )

    def expert_rows(self, ops: OpBuilder, tokens: int, width: int | None = None) -> list[Row]:
        """The routed experts' GEMMs on one device. Under EP a rank runs T*k/EP token copies
        through E/EP whole experts (1/(TP/EP) slices of them) where TP runs all T*k copies through
        a 1/TP slice of every expert: the FLOPs, the weights and the intermediate activations are
        the same, the copies read in and written out at the model width are 1/EP of them."""
        rows = mlp_rows(
            ops,
            tokens * self.top_k,
            self.intermediate // ops.tp,
            self.act,
            prefix="Ffn - RoutedExp_",
            category=Category.MLP_ROUTED,
            gated=self.gated,
            bias=self.expert_bias,
            experts=Routing(self.num_experts, self.top_k, tokens),
            width=width,
        )
        if ops.parallel.ep == 1:
            return rows
        share = Fraction(1, ops.parallel.ep)
        first, last = rows[0], rows[-1]
        rows[0] = replace(
            first, cost=replace(first.cost, input_bytes=first.cost.input_bytes * share)
        )
        rows[-1] = replace(
            last, cost=replace(last.cost, output_bytes=last.cost.output_bytes * share)
        )
        return rows

    def shared_rows(self, ops: OpBuilder, tokens: int) -> list[Row]:
        if not self.shared_intermediate:
            return []
        rows = mlp_rows(
            ops,
            tokens,
            self.shared_intermediate // ops.tp,
            self.act,
            prefix="Ffn - SharedExp_",
            category=Category.MLP_SHARED,
            gated=self.gated,
            bias=self.shared_bias,
        )
        if self.shared_gate:
            rows += [
                ops.set_op_proj_req(
                    "Ffn - SharedExp_Gate",
                    tokens,
                    ops.hidden_size,
                    1,
                    category=Category.MLP_SHARED,
                    replicated=True,
                ),
                ops.set_op_elementwise_req(
                    "Ffn - SharedExp_Scale",
                    formulas.gate_scale(tokens, ops.hidden_size, "sigmoid", w=ops.act_bytes),
                    replicated=True,
                ),
            ]
        return rows
