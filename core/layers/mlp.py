"""The dense MLP (a channel mixer), and the MLP rows every expert reuses.

Gated (SwiGLU / GeGLU): down(act(gate(x)) * up(x)), rows GateUp_Proj (h -> 2I, gate and up
fused), ActMul, Down_Proj. Ungated (Nemotron-H's relu2): down(act(up(x))), rows Up_Proj, Act,
Down_Proj. Under tensor parallelism the gate/up columns and the down rows split; an all-reduce
joins the partial sums. No state between steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..model.builder import OpBuilder
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Routing, Row
from ..model.state import State
from .mixer import divisible


def mlp_rows(
    ops: OpBuilder,
    tokens: int,
    intermediate: int,
    act: str,
    *,
    prefix: str,
    category: Category,
    gated: bool = True,
    bias: bool = False,
    experts: Routing | None = None,
    width: int | None = None,
) -> list[Row]:
    """An MLP of `intermediate` features (this device's share) over `tokens` token rows (tokens x
    top-k for routed experts), from and back to `width` (default the hidden size). `experts` (their
    routing) makes the weights per expert."""
    hidden = ops.hidden_size if width is None else width
    up = 2 * intermediate if gated else intermediate
    return [
        ops.set_op_proj_req(
            f"{prefix}{'GateUp' if gated else 'Up'}_Proj",
            tokens,
            hidden,
            up,
            bias=bias,
            category=category,
            experts=experts,
        ),
        (
            ops.set_op_actmul_req(f"{prefix}ActMul", tokens, intermediate, act, category=category)
            if gated
            else ops.set_op_act_req(f"{prefix}Act", tokens, intermediate, act, category=category)
        ),
        ops.set_op_proj_req(
            f"{prefix}Down_Proj",
            tokens,
            intermediate,
            hidden,
            bias=bias,
            category=category,
            experts=experts,
        ),
    ]


@dataclass(frozen=True, slots=True)
class DenseMlp:
    """A dense MLP of width `intermediate`. `prefix` names its rows (Llama 4's "NonMoE_")."""

    label: ClassVar[str] = "Ffn"

    intermediate: int
    act: str
    bias: bool = False
    gated: bool = True
    prefix: str = ""

    def check(self, parallel: Parallelism) -> str | None:
        return divisible("the MLP width", self.intermediate, parallel.tp)

    def states(self, tp: int) -> tuple[State, ...]:
        return ()

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens = queries.total_input_tokens
        mlp = mlp_rows(
            ops,
            tokens,
            self.intermediate // ops.tp,
            self.act,
            prefix=f"Ffn - {self.prefix}",
            category=Category.MLP_DENSE,
            gated=self.gated,
            bias=self.bias,
        )
        return mlp + ops.set_op_allreduce_req("Ffn - AllReduce", tokens)
