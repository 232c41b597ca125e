"""Per-layer input embeddings (Gemma 4's PLE): a second, narrow embedding of p features per layer
that each decoder layer mixes into its residual stream.

Once per step, before the blocks (`PerLayerEmbedding`, rows on the embedding's stage):
    tok  = table[ids] * sqrt(p)                     a V_p x (L p) table, one row per token
    ctx  = rmsnorm_p(proj(x_embedded) * h^-0.5)     h -> L p, normalised per layer over p
    per_layer_input = (ctx + tok) * 2^-0.5          T x L x p
In each layer, after the channel mixer (`PerLayerInput`, a residual branch normalised after):
    x + post_norm(proj_up(act(gate(x)) * per_layer_input[layer]))      gate: h -> p, up: p -> h

NB: the constant multiplies (sqrt(p), h^-0.5, 2^-0.5) count 1 FLOP per element. HuggingFace's
    tensor-parallel plan does not split these modules: every rank holds and runs all of them
    (`replicated`). Under pipeline parallelism the per-layer inputs of the later stages' layers
    travel with the activations; that extra traffic is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import Parallelism
from ..model.precision import VECTOR_PEAK
from ..model.queries import QueryConfig
from ..model.rows import Category, OpKind, Row
from ..model.state import State
from ..ops import Number


@dataclass(frozen=True, slots=True)
class PerLayerEmbedding:
    """The model-level half: the V_p x (L p) table and the h -> L p projection, with its norm."""

    vocab_size: int  # V_p: `vocab_size_per_layer_input`
    layers: int  # L
    width: int  # p: `hidden_size_per_layer_input`

    @property
    def packed(self) -> int:
        """Features per token for all layers together: L * p."""
        return self.layers * self.width

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens, hidden, packed = queries.total_input_tokens, ops.hidden_size, self.packed
        elements = tokens * packed
        fmt = ops.precision.weight_for(Category.EMBEDDING)
        table = Row(
            "PerLayer Embedding",
            formulas.embedding(tokens, packed, w=fmt.bytes) + formulas.scale(elements),
            OpKind.GATHER,
            VECTOR_PEAK,
            self.vocab_size * packed,
            self.vocab_size * packed * fmt.bytes,
            Category.EMBEDDING,
            replicated=True,
        )
        proj = ops.set_op_proj_req(
            "PerLayer Embedding - Proj",
            tokens,
            hidden,
            packed,
            category=Category.OTHER,
            replicated=True,
        )
        combine = formulas.elementwise_sum(tokens, packed, w=ops.act_bytes)
        rows = [
            table,
            replace(proj, cost=proj.cost + formulas.scale(elements)),
            ops.set_op_rmsnorm_req(
                "PerLayer Embedding - RMSNorm", tokens * self.layers, self.width, replicated=True
            ),
            ops.set_op_elementwise_req(
                "PerLayer Embedding - Combine",
                combine + formulas.scale(elements),
                replicated=True,
            ),
        ]
        return [row.once() for row in rows]

    def weight_bytes(self, ops: OpBuilder) -> Number:
        """What a device holds for it: the table, the projection and the norm's gain."""
        precision = ops.precision
        return (
            self.vocab_size * self.packed * precision.weight_for(Category.EMBEDDING).bytes
            + ops.hidden_size * self.packed * precision.weight_for(Category.OTHER).bytes
            + self.width * precision.weight_for(Category.NORM).bytes
        )


@dataclass(frozen=True, slots=True)
class PerLayerInput:
    """The per-layer half: a residual branch mixing this layer's p features into the stream."""

    label: ClassVar[str] = "PerLayer"

    width: int  # p: `hidden_size_per_layer_input`
    act: str  # `hidden_activation`

    def check(self, parallel: Parallelism) -> str | None:
        return None  # replicated on every rank

    def states(self, tp: int) -> tuple[State, ...]:
        return ()

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tokens, hidden, width = queries.total_input_tokens, ops.hidden_size, self.width
        return [
            ops.set_op_proj_req(
                "PerLayer - Gate_Proj",
                tokens,
                hidden,
                width,
                category=Category.OTHER,
                replicated=True,
            ),
            # act(gate) * this layer's per-layer input: the gated product of an MLP
            ops.set_op_elementwise_req(
                "PerLayer - ActMul",
                formulas.act_mul(tokens, width, self.act, w=ops.act_bytes),
                replicated=True,
            ),
            ops.set_op_proj_req(
                "PerLayer - Up_Proj",
                tokens,
                width,
                hidden,
                category=Category.OTHER,
                replicated=True,
            ),
        ]
