"""A row of the report: one op of a decoder block (or of the model around the blocks), its cost per
run, the parameters it holds, and how many blocks run it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from .. import ops
from ..ops import Cost, Number
from .parallel import Comm


class OpKind(Enum):
    """How an op runs: what it is timed against, and whether it can fuse into a neighbour."""

    GEMM = "gemm"  # a matrix product with a weight: the tensor-core peak of its formats
    ATTENTION = "attention"  # QK^T, softmax, PV on activations and the KV cache
    ELEMENTWISE = "elementwise"  # norms, RoPE, activations, adds: vector units, fusible
    SCAN = "scan"  # a kernel along the sequence with a per-query state (short convolution,
    # linear-attention / state-space recurrence): its own kernel, never fused away
    GATHER = "gather"  # embedding lookup: memory only
    COMM = "comm"  # a collective or send between devices: interconnect only


class Category(Enum):
    """What an op belongs to; the names of HuggingFace reference breakdowns."""

    EMBEDDING = "embedding"
    ATTN_PROJ = "attn_proj"  # q/k/v/o (and MLA) projections
    ATTN_CORE = "attn_core"  # QK^T, softmax, PV
    MLP_DENSE = "mlp_dense"
    MLP_ROUTED = "mlp_routed_experts"
    MLP_SHARED = "mlp_shared_experts"
    ROUTER = "router"
    LM_HEAD = "lm_head"
    NORM = "norms"
    MIXER = "mixer"  # linear-attention / state-space mixers: projections, conv, recurrence
    OTHER = "other"  # RoPE, residual adds, expert combine, hyper-connections


@dataclass(frozen=True, slots=True)
class Routing:
    """Routed experts' weights: `experts` are held, each of `tokens` tokens picks `top_k` of
    them, and a step reads the experts at least one token picks (in expectation under uniform
    routing)."""

    experts: int
    top_k: int
    tokens: int

    @property
    def touched(self) -> float:
        return ops.expected_distinct_experts(self.experts, self.top_k, self.tokens)

    @property
    def matrices(self) -> float:
        """The weight matrices a routed GEMM's rows spread over (at least one)."""
        return max(self.touched, 1.0)

    def read_bytes(self, one_expert: Number) -> int:
        """The weight bytes a step reads of experts of `one_expert` bytes each, rounded to
        whole bytes."""
        return round(self.touched * one_expert)


@dataclass(frozen=True, slots=True)
class Row:
    """`cost` is per run of the op in one block, on one device; `params` (and `param_bytes`, at
    their stored format) is what one block holds for it on that device. `peak` names the hardware
    peak the op's FLOPs run at. Model-level rows (embedding, final norm, LM head) have
    `per_block=False` and run once."""

    name: str
    cost: Cost
    kind: OpKind
    peak: str
    params: int = 0
    param_bytes: Number = 0
    category: Category = Category.OTHER
    blocks: int = 1
    per_block: bool = True
    replicated: bool = False  # every tensor-parallel rank holds all of its parameters (and runs
    # all of it, but for per-head norms, which run on the rank's heads)
    comm: Comm | None = None  # what a COMM row sends
    tokens: int = 0  # a GEMM's M: the activation rows it multiplies (0 for other kinds)
    matrices: float = 1.0  # the weight matrices those rows spread over (routed experts: the
    # expected distinct experts touched), so each multiplies tokens / matrices rows
    weight_peak: str = ""  # a GEMM's weight storage class ("int4", "fp8", ...): where it differs
    # from `peak`, the weights are dequantized on the fly (weight-only quantization)
    routing: Routing | None = None  # routed experts: how `matrices` and the weight bytes read
    # follow from the tokens (scenario grids recompute them for every batch)

    @property
    def total_cost(self) -> Cost:
        return self.cost * self.blocks

    def once(self) -> Row:
        """This op as a model-level row, run once per step (embedding, final norm, LM head)."""
        return self.with_blocks(self.blocks, per_block=False)

    def with_blocks(self, blocks: int, *, per_block: bool | None = None) -> Row:
        """This op run by `blocks` blocks (dataclasses.replace is slow on a hot path)."""
        return Row(
            self.name,
            self.cost,
            self.kind,
            self.peak,
            self.params,
            self.param_bytes,
            self.category,
            blocks,
            self.per_block if per_block is None else per_block,
            self.replicated,
            self.comm,
            self.tokens,
            self.matrices,
            self.weight_peak,
            self.routing,
        )


def merge_block_rows(groups: Iterable[tuple[list[Row], int]]) -> list[Row]:
    """Rows of each distinct kind of block, weighted by how many blocks are of that kind, merged:
    an op identical in several kinds of block becomes one row with the summed block count. Ops only
    some blocks have go just before the next op those blocks share with the ones merged so far
    (Llama 4's global SDPA lands beside the chunked one, before O_Proj).

    Two *different* ops under one name are a parser bug (the table would be ambiguous)."""
    groups = list(groups)
    if len(groups) == 1:  # every block alike (most models): nothing to merge
        rows, count = groups[0]
        if len({row.name for row in rows}) != len(rows):
            raise ValueError("two different ops share a name")
        return [row.with_blocks(count) for row in rows]
    merged: list[Row] = []  # rows as built (blocks=1): equal rows are the same op
    counts: list[int] = []
    for rows, count in groups:
        pending: list[Row] = []
        end = len(merged)  # where ops not shared with any later op of this group go
        for row in rows:
            position = next((i for i, seen in enumerate(merged) if seen == row), None)
            if position is None:
                if any(seen.name == row.name for seen in merged + pending):
                    raise ValueError(f"two different ops are both named {row.name!r}")
                pending.append(row)
                continue
            merged[position:position] = pending
            counts[position:position] = [count] * len(pending)
            position += len(pending)
            pending = []
            counts[position] += count
            end = position + 1
        merged[end:end] = pending
        counts[end:end] = [count] * len(pending)
    return [row if n == 1 else row.with_blocks(n) for row, n in zip(merged, counts, strict=True)]


def combined(name: str, parts: Iterable[Row]) -> Row:
    """One row for several ops of the same kind run together (OLMo 2's q and k norms)."""
    parts = list(parts)
    first = parts[0]
    total = Cost()
    for part in parts:
        if (part.kind, part.peak, part.category) != (first.kind, first.peak, first.category):
            raise ValueError(f"cannot combine ops of different kinds into {name!r}")
        total = total + part.cost
    return replace(
        first,
        name=name,
        cost=total,
        params=sum(p.params for p in parts),
        param_bytes=sum((p.param_bytes for p in parts), start=0),
    )
