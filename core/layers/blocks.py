"""Decoder blocks as data: a block is a sequence of residual branches, each a mixer with its norms.

Llama's block is two branches, [attention, MLP]; a Nemotron-H block is one, [Mamba-2] or [MoE]
or [attention]. Each branch normalises its input (or its output, or both: `NormLayout`), runs its
mixer and adds the result back to the residual stream; under hyper-connections (DeepSeek-V4,
core/layers/hyper.py) the residual is several streams, collapsed into the branch's input before
it and updated with its output after it instead of the add. Layers that are alike are equal values,
so the analysis builds rows once per distinct kind of block and weights them by how many layers
are of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..model.builder import OpBuilder
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Row
from ..model.state import State
from .hyper import HyperConnection
from .mixer import Mixer


class NormLayout(Enum):
    """Where a residual branch normalises."""

    PRE = "pre"  # x + f(norm(x))                          Llama, Mistral, Qwen, ...
    SANDWICH = "sandwich"  # x + post_norm(f(pre_norm(x)))  Gemma 2, 3 and 4
    POST = "post"  # x + norm(f(x))                         OLMo 2


class NormKind(Enum):
    """Which norm a branch uses."""

    RMS = "RMSNorm"  # every decoder here
    LAYER = "LayerNorm"  # with a bias: the ViT encoders of vision towers (Qwen, MoonViT, Llama 4)


@dataclass(frozen=True, slots=True)
class Branch:
    """One residual branch: `mixer` between its norms, then the residual add (or, with `hyper`,
    the hyper-connection's collapse before it and its update after it)."""

    mixer: Mixer
    layout: NormLayout = NormLayout.PRE
    hyper: HyperConnection | None = None
    norm: NormKind = NormKind.RMS


@dataclass(frozen=True, slots=True)
class Block:
    """One decoder layer: its residual branches in order."""

    branches: tuple[Branch, ...]

    @classmethod
    def decoder(
        cls,
        token: Mixer,
        channel: Mixer,
        layout: NormLayout = NormLayout.PRE,
        hyper: HyperConnection | None = None,
    ) -> Block:
        """The usual layer: a token mixer (attention), then a channel mixer (MLP or MoE)."""
        return cls((Branch(token, layout, hyper), Branch(channel, layout, hyper)))

    @classmethod
    def encoder(cls, token: Mixer, channel: Mixer, layout: NormLayout, norm: NormKind) -> Block:
        """A vision encoder layer: attention then MLP, with `norm` (LayerNorm for ViTs)."""
        return cls((Branch(token, layout, norm=norm), Branch(channel, layout, norm=norm)))

    @classmethod
    def single(cls, mixer: Mixer, layout: NormLayout = NormLayout.PRE) -> Block:
        """A layer of one branch (Nemotron-H's blocks)."""
        return cls((Branch(mixer, layout),))

    @property
    def mixers(self) -> tuple[Mixer, ...]:
        return tuple(branch.mixer for branch in self.branches)

    def check(self, parallel: Parallelism) -> str | None:
        return next((problem for mixer in self.mixers if (problem := mixer.check(parallel))), None)

    def states(self, tp: int) -> tuple[State, ...]:
        return tuple(state for mixer in self.mixers for state in mixer.states(tp))


def block_rows(ops: OpBuilder, block: Block, queries: QueryConfig) -> list[Row]:
    """All rows of one decoder block on one device, in execution order."""
    tokens, hidden = queries.total_input_tokens, ops.hidden_size
    rows: list[Row] = []
    for branch in block.branches:
        label = branch.mixer.label
        if branch.hyper is not None:
            rows += branch.hyper.pre_rows(ops, tokens, label)
        if branch.layout is not NormLayout.POST:
            rows.append(_norm_row(ops, branch.norm, f"{label} - {branch.norm.value}", tokens))
        rows += branch.mixer.rows(ops, queries)  # its all-reduce, if any, comes last
        if branch.layout is not NormLayout.PRE:
            name = f"{label} - Post_{branch.norm.value}"
            rows.append(_norm_row(ops, branch.norm, name, tokens))
        if branch.hyper is not None:
            rows += branch.hyper.post_rows(ops, tokens, label)
        else:
            rows.append(ops.set_op_sum_req(f"{label} - ResidualAdd", tokens, hidden))
    return rows


def _norm_row(ops: OpBuilder, norm: NormKind, name: str, tokens: int) -> Row:
    """A hidden-size norm every tensor-parallel rank runs in full."""
    if norm is NormKind.LAYER:
        return ops.set_op_layernorm_req(name, tokens, ops.hidden_size, replicated=True)
    return ops.set_op_rmsnorm_req(name, tokens, ops.hidden_size, replicated=True)
