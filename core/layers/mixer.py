"""What every layer kind provides: the `Mixer` protocol.

A decoder block is a sequence of residual branches, each normalising its input, running one
mixer and adding the result back (core/layers/blocks.py). A *token mixer* moves information
between positions (attention in its variants, Gated DeltaNet, Mamba-2); a *channel mixer* works on
each token alone (a dense MLP, MoE). Every mixer is a frozen dataclass of its dimensions that
declares three things:

- `check(parallel)`: why this split cannot cut it (None when it can);
- `states(tp)`: the state one query keeps in this layer between steps, on one device, with its
  growth rule (core/model/state.py): the KV cache, selector keys, compressed KV, conv and
  recurrent states;
- `rows(ops, queries)`: its rows for a batch, one device's share, through the `set_op_*`
  vocabulary of `ops` (core/model/builder.py); parameters are carried on the rows;
- `pieces()`: where a decode step's cost stops being affine in the context length
  (core/model/masks.py `ContextPieces`; none for mixers whose step cost does not depend on it),
  so that a whole generation sums exactly over a handful of steps.

Mixers never see the parser: a parser declares its layer stack as data made of them.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from ..model.builder import OpBuilder
from ..model.masks import ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Row
from ..model.state import State


class Mixer(Protocol):
    label: ClassVar[str]
    """The prefix of its rows and of its branch's norm rows ("Attn", "Ffn", "Mamba", ...)."""

    def check(self, parallel: Parallelism) -> str | None: ...

    def states(self, tp: int) -> tuple[State, ...]: ...

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]: ...

    def pieces(self) -> ContextPieces: ...


def divisible(what: str, value: int, tp: int) -> str | None:
    """The reason a width `value` cannot split over `tp` ranks, or None."""
    return None if value % tp == 0 else f"{what} ({value}) is not a multiple of it"
