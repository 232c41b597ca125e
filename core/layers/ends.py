"""What runs outside the decoder blocks: the embedding, the final norm and the LM head, and the
hand-off between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.parallel import Comm, CommKind
from ..model.precision import VECTOR_PEAK
from ..model.queries import QueryConfig
from ..model.rows import Category, OpKind, Row
from ..ops import Number
from .hyper import HyperConnection
from .per_layer_inputs import PerLayerEmbedding


@dataclass(frozen=True, slots=True)
class StoragePart:
    """Bytes one device holds for one purpose. `growth` is set for the state a query keeps
    (core/model/state.py: "per_token", "window", "per_ratio", "remainder", "fixed"); None for
    weights."""

    name: str
    bytes: Number
    growth: str | None = None


@dataclass(frozen=True, slots=True)
class ModelEnds:
    vocab_size: int
    hidden_size: int
    tied: bool  # the LM head reuses the embedding matrix
    embedding_scale: bool = False  # embeddings x sqrt(h) (Gemma)
    final_softcap: bool = False  # cap * tanh(logit / cap) (Gemma 2)
    per_layer: PerLayerEmbedding | None = None  # per-layer input embeddings (Gemma 4's PLE)
    hyper: HyperConnection | None = None  # its HyperHead collapses the streams (DeepSeek-V4)

    def vocab_shard(self, tp: int) -> int:
        """Vocabulary rows per tensor-parallel rank (padded up, as engines do)."""
        return -(-self.vocab_size // tp)

    def embedding_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """The gather of one row per token. Under TP the table is split by vocabulary: a rank
        reads the rows of its shard (T/TP of them, in expectation) and an all-reduce assembles
        the embeddings."""
        tp, h, v = ops.tp, self.hidden_size, self.vocab_shard(ops.tp)
        fmt = ops.precision.weight_for(Category.EMBEDDING)
        tokens = queries.total_input_tokens
        cost = formulas.embedding(tokens, h, w=fmt.bytes)
        if tp > 1:
            cost = replace(cost, weight_bytes=cost.weight_bytes * Fraction(1, tp))
        if self.embedding_scale:
            cost = cost + formulas.scale(tokens * h)
        row = Row(
            "Embedding",
            cost,
            OpKind.GATHER,
            VECTOR_PEAK,
            v * h,
            v * h * fmt.bytes,
            Category.EMBEDDING,
            per_block=False,
        )
        reduce = ops.set_op_allreduce_req("Embedding - AllReduce", tokens)
        rows = [row, *(r.once() for r in reduce)]
        return rows + self.per_layer.rows(ops, queries) if self.per_layer else rows

    def head_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """Final norm over every new token, then logits for the last token of each query (what
        generation samples from): M = number of queries, K = h, N = V (its 1/TP column shard,
        gathered afterwards). A tied head holds no parameters of its own but still reads the
        V x h matrix. Under hyper-connections the streams are collapsed first."""
        h, v = self.hidden_size, self.vocab_shard(ops.tp)
        queries_n = queries.num_queries
        norm = ops.set_op_rmsnorm_req(
            "Final RMSNorm", queries.total_input_tokens, h, replicated=True
        )
        head = ops.set_op_proj_req("LM Head", queries_n, h, v, category=Category.LM_HEAD)
        if self.final_softcap:
            head = replace(head, cost=head.cost + formulas.logit_softcap(queries_n * v))
        if self.tied:
            head = replace(head, params=0, param_bytes=0)
        hyper = [] if self.hyper is None else self.hyper.head_rows(ops, queries.total_input_tokens)
        rows = [*(row.once() for row in hyper), norm.once(), head.once()]
        if ops.tp > 1:
            logits = queries_n * self.vocab_size * ops.act_bytes
            comm = Comm(CommKind.ALL_GATHER, logits, ops.tp)
            rows.append(ops.set_op_comm_req("LM Head - AllGather", comm, per_block=False))
        return rows

    def send_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """A pipeline stage hands its T x h activations to the next."""
        message = queries.total_input_tokens * self.hidden_size * ops.act_bytes
        comm = Comm(CommKind.SEND, message, 2)
        return [ops.set_op_comm_req("Pipeline - Send", comm, per_block=False)]

    def storage(self, ops: OpBuilder, first: bool, last: bool) -> list[StoragePart]:
        """Weights one device holds outside the blocks: the embedding table (first stage; its
        vocabulary shard under TP), the final norm and the LM head (last stage). A tied head
        reuses the embedding table: nothing of its own on one stage, a copy of the table when
        the pipeline puts them on different stages."""
        h, v = self.hidden_size, self.vocab_shard(ops.tp)
        tied_here = self.tied and first
        parts = (
            ("Embedding", v * h if first else 0, Category.EMBEDDING),
            ("Final norm", h if last else 0, Category.NORM),
            ("LM head", v * h if last and not tied_here else 0, Category.LM_HEAD),
        )
        held = [
            StoragePart(name, params * ops.precision.weight_for(category).bytes)
            for name, params, category in parts
            if params
        ]
        if self.per_layer and first:
            held.append(StoragePart("Per-layer embedding", self.per_layer.weight_bytes(ops)))
        if self.hyper is not None and last:
            held.append(StoragePart("Hyper head", self.hyper.head_param_bytes(h)))
        return held
