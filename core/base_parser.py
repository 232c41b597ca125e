"""The parser interface every model family implements, and the analysis it shares.

A parser does two things of its own: `normalize_config` (raw config dict -> frozen dims record,
once) and `get_layer_list` (one `Block` value per decoder layer). Everything else (rows, block
counts, KV cache, storage) is shared here, built from the pure formulas in `core/ops.py` through the
`set_op_*` adapters, which only bind the parser's widths and wrap a formula's cost in a `Row`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, ClassVar

from core import ops
from core.blocks import Attention, Block, MlaAttention, MlaMode, block_rows
from core.config import ConfigReader, attention_heads
from core.errors import UnsupportedModelError, UsageError
from core.formats import DataFormat
from core.parallel import SINGLE_DEVICE, Comm, CommKind, Parallelism
from core.precision import VECTOR_PEAK, resolve_precision
from core.rows import Category, OpKind, Row, merge_block_rows
from core.utils import Number, QueryConfig, TransformerMode


@dataclass(frozen=True, kw_only=True)
class ModelDims:
    """Dimensions every decoder-only model has. Parsers extend it with their own fields; each field
    documents its config key and default where the parser fills it in."""

    hidden_size: int  # h: `hidden_size`
    num_layers: int  # `num_hidden_layers`
    vocab_size: int  # V: `vocab_size`
    tie_word_embeddings: bool  # lm_head shares the embedding matrix
    dtype: DataFormat  # `torch_dtype` / `dtype`, default float16
    final_logit_softcapping: bool = False  # `final_logit_softcapping` (Gemma 2)


@dataclass(frozen=True, kw_only=True)
class DecoderDims(ModelDims):
    """The dims of a decoder with grouped-query attention and a gated MLP (most families)."""

    num_heads: int  # H: `num_attention_heads`
    num_kv_heads: int  # H_kv: `num_key_value_heads`, default H
    head_dim: int  # d: `head_dim`, default the family's, else hidden_size // H
    intermediate_size: int  # I: `intermediate_size`
    hidden_act: str  # `hidden_act` (Gemma 2/3: `hidden_activation`)


def decoder_dims(
    r: ConfigReader,
    *,
    tie_default: bool = False,
    act_key: str = "hidden_act",
    act_default: str = "silu",
    head_dim_default: int | None = None,
    fallback: ConfigReader | None = None,
) -> dict[str, Any]:
    """The `DecoderDims` fields read from `r` (keyword arguments for a dims dataclass)."""
    hidden = r.integer("hidden_size")
    heads, kv_heads, head_dim = attention_heads(r, hidden, head_dim_default)
    if fallback is not None:  # an enclosing config (multimodal) may say it instead
        tie_default = fallback.flag("tie_word_embeddings", tie_default)
    return {
        "hidden_size": hidden,
        "num_layers": r.integer("num_hidden_layers"),
        "vocab_size": r.integer("vocab_size"),
        "tie_word_embeddings": r.flag("tie_word_embeddings", tie_default),
        "dtype": r.dtype(fallback=fallback),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "intermediate_size": r.integer("intermediate_size"),
        "hidden_act": r.activation(act_key, act_default),
    }


@dataclass(frozen=True, slots=True)
class StoragePart:
    name: str
    bytes: Number


class BaseModelConfigParser(ABC):
    """Reads one family's config and states the cost of one inference step, layer by layer."""

    model_type: ClassVar[str]
    """The `model_type` this class is written for (its registry key)."""
    architectures: ClassVar[frozenset[str]]
    """The `architectures` entries of configs it models (HuggingFace class names)."""
    rmsnorm_unit_offset: ClassVar[bool] = False
    """Gemma's RMSNorm multiplies by (1 + gain) instead of gain."""
    embedding_scale: ClassVar[bool] = False
    """Gemma multiplies the embeddings by sqrt(hidden_size)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        mode: TransformerMode = TransformerMode.Text,
        weight_dtype: str | None = None,
        activation_dtype: str | None = None,
        kv_cache_dtype: str | None = None,
        mla: MlaMode = MlaMode.AUTO,
        parallel: Parallelism = SINGLE_DEVICE,
    ) -> None:
        if mode is not TransformerMode.Text:
            raise UnsupportedModelError(
                f"{self.model_type}: {mode.value} mode is not supported; only the text decoder "
                "is modelled"
            )
        self.config = config
        self.mla_mode = mla  # the MLA cost model, for families with latent attention
        self.dims = self.normalize_config(config)
        quantization = config.get("quantization_config")
        self.precision = resolve_precision(
            self.dims.dtype,
            quantization if isinstance(quantization, Mapping) else None,
            weight=weight_dtype,
            activation=activation_dtype,
            kv_cache=kv_cache_dtype,
        )
        self.layers: tuple[Block, ...] = tuple(self.get_layer_list())
        self.distinct_blocks: frozenset[Block] = frozenset(self.layers)
        self._kinds: dict[range, Counter[Block]] = {}
        self.parallel = SINGLE_DEVICE
        self.set_parallel(parallel)

    def set_parallel(self, parallel: Parallelism) -> None:
        """Cut the step into one device's share (see core/parallel.py); checks the degrees."""
        where = f"{self.model_type}: --tensor-parallel {parallel.tp}"
        for block in self.distinct_blocks:
            problem = block.attention.check(parallel.tp) or block.ffn.check(
                parallel.tp, parallel.ep
            )
            if problem:
                raise UsageError(f"{where}: {problem}")
        if parallel.pp > self.dims.num_layers:
            raise UsageError(
                f"{self.model_type}: --pipeline-parallel {parallel.pp} exceeds the "
                f"{self.dims.num_layers} layers"
            )
        self.parallel = parallel

    def parallel_notes(self) -> list[str]:
        """What the split replicates, for the output."""
        tp, notes = self.parallel.tp, set()
        for block in self.distinct_blocks:
            attention = block.attention
            if isinstance(attention, MlaAttention):
                if tp > 1:
                    notes.add(f"TP {tp}: the MLA latent KV cache is replicated on every rank")
            elif attention.kv_heads < tp:
                notes.add(
                    f"TP {tp} > {attention.kv_heads} KV heads: each rank holds 1 KV head "
                    f"(replicated {tp // attention.kv_heads}x)"
                )
        return sorted(notes)

    def single_device(self) -> BaseModelConfigParser:
        """This parser without parallelism (for whole-model figures such as parameter counts)."""
        if self.parallel == SINGLE_DEVICE:
            return self
        twin = copy.copy(self)
        twin.parallel = SINGLE_DEVICE
        return twin

    # --- what each family provides -------------------------------------------------------------

    @abstractmethod
    def normalize_config(self, config: Mapping[str, Any]) -> ModelDims:
        """The dims the formulas use, read and validated once from the raw config."""

    @abstractmethod
    def get_layer_list(self) -> Sequence[Block]:
        """One `Block` per decoder layer, in order."""

    # --- shared analysis ----------------------------------------------------------------------

    def get_num_blocks(self) -> int:
        return self.dims.num_layers

    def stages(self) -> list[range]:
        """The layers of each pipeline stage (one stage without pipeline parallelism)."""
        return self.parallel.stages(self.dims.num_layers)

    def _stage_kinds(self, layers: range) -> Counter[Block]:
        """The distinct blocks of `layers` and how many of each (cached: they never change)."""
        if layers not in self._kinds:
            self._kinds[layers] = Counter(self.layers[layers.start : layers.stop])
        return self._kinds[layers]

    def hw_req_by_layers(self, queries: QueryConfig, stage: int = 0) -> list[Row]:
        """Every row of one device of pipeline `stage`: the embedding (first stage), the decoder
        blocks' ops (each with the number of blocks that run it), the final norm and the LM head
        (last stage), and the communication. Without parallelism: the whole step."""
        stages = self.stages()
        kinds = self._stage_kinds(stages[stage])
        block_part = merge_block_rows(
            (block_rows(self, block, queries), count) for block, count in kinds.items()
        )
        first = self._embedding_rows(queries) if stage == 0 else []
        last = self._head_rows(queries) if stage == len(stages) - 1 else []
        send = [] if stage == len(stages) - 1 else self._send_rows(queries)
        return [*first, *block_part, *last, *send]

    def get_layer_num_blocks(self, queries: QueryConfig, stage: int = 0) -> dict[str, int]:
        """How many decoder blocks of `stage` run each block-level row."""
        rows = self.hw_req_by_layers(queries, stage)
        return {row.name: row.blocks for row in rows if row.per_block}

    def get_kvcache_size(self, queries: QueryConfig, stage: int = 0) -> Number:
        """Bytes of K and V one device of `stage` holds at the end of the step: per query and
        layer, the tokens the layer keeps (all of them; at most the window - 1 for sliding or
        chunked layers) times the values one token leaves there on this device."""
        lengths = queries.kv_length_groups
        tp = self.parallel.tp
        values = sum(
            count
            * block.attention.kv_values_per_token(tp)
            * sum(n * block.attention.pattern.tokens_held(length) for length, n in lengths)
            for block, count in self._stage_kinds(self.stages()[stage]).items()
        )
        return values * self.precision.kv_cache.bytes

    def get_extra_storage_req(self, stage: int = 0) -> list[StoragePart]:
        """Weights one device of `stage` holds outside the decoder blocks: the embedding table
        (first stage; its vocabulary shard under TP), the final norm and the LM head (last stage).
        A tied head reuses the embedding table: nothing of its own on one stage, a copy of the
        table when the pipeline puts them on different stages."""
        h, v = self.dims.hidden_size, self._vocab_shard()
        first, last = stage == 0, stage == len(self.stages()) - 1
        tied_here = self.dims.tie_word_embeddings and first
        parts = (
            ("Embedding", v * h if first else 0, Category.EMBEDDING),
            ("Final norm", h if last else 0, Category.NORM),
            ("LM head", v * h if last and not tied_here else 0, Category.LM_HEAD),
        )
        return [
            StoragePart(name, params * self.precision.weight_for(category).bytes)
            for name, params, category in parts
            if params
        ]

    def expected_experts(self, num_experts: int, top_k: int, tokens: int) -> float:
        return ops.expected_distinct_experts(num_experts, top_k, tokens)

    # --- model-level rows ---------------------------------------------------------------------

    def _vocab_shard(self) -> int:
        """Vocabulary rows per tensor-parallel rank (padded up, as engines do)."""
        return -(-self.dims.vocab_size // self.parallel.tp)

    def _embedding_rows(self, queries: QueryConfig) -> list[Row]:
        """The gather of one row per token. Under TP the table is split by vocabulary: a rank
        reads the rows of its shard (T/TP of them, in expectation) and an all-reduce assembles
        the embeddings."""
        tp, h, v = self.parallel.tp, self.dims.hidden_size, self._vocab_shard()
        fmt = self.precision.weight_for(Category.EMBEDDING)
        tokens = queries.total_input_tokens
        cost = ops.embedding(tokens, h, w=fmt.bytes)
        if tp > 1:
            cost = replace(cost, weight_bytes=cost.weight_bytes * Fraction(1, tp))
        if self.embedding_scale:
            cost = cost + ops.scale(tokens * h)
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
        reduce = self.set_op_allreduce_req("Embedding - AllReduce", tokens)
        return [row, *(r.once() for r in reduce)]

    def _head_rows(self, queries: QueryConfig) -> list[Row]:
        """Final norm over every new token, then logits for the last token of each query (what
        generation samples from): M = number of queries, K = h, N = V (its 1/TP column shard,
        gathered afterwards). A tied head holds no parameters of its own but still reads the
        V x h matrix."""
        h, v = self.dims.hidden_size, self._vocab_shard()
        queries_n = queries.num_queries
        norm = self.set_op_rmsnorm_req(
            "Final RMSNorm", queries.total_input_tokens, h, replicated=True
        )
        head = self.set_op_proj_req("LM Head", queries_n, h, v, category=Category.LM_HEAD)
        if self.dims.final_logit_softcapping:
            head = replace(head, cost=head.cost + ops.logit_softcap(queries_n * v))
        if self.dims.tie_word_embeddings:
            head = replace(head, params=0, param_bytes=0)
        rows = [norm.once(), head.once()]
        if self.parallel.tp > 1:
            logits = queries_n * self.dims.vocab_size * self.precision.activation.bytes
            comm = Comm(CommKind.ALL_GATHER, logits, self.parallel.tp)
            rows.append(self._comm_row("LM Head - AllGather", comm, per_block=False))
        return rows

    def _send_rows(self, queries: QueryConfig) -> list[Row]:
        """A pipeline stage hands its T x h activations to the next."""
        message = queries.total_input_tokens * self.dims.hidden_size
        comm = Comm(CommKind.SEND, message * self.precision.activation.bytes, 2)
        return [self._comm_row("Pipeline - Send", comm, per_block=False)]

    def _comm_row(self, name: str, comm: Comm, per_block: bool = True) -> Row:
        return Row(name, ops.Cost(), OpKind.COMM, VECTOR_PEAK, per_block=per_block, comm=comm)

    # --- op adapters: bind formats, wrap a formula's cost in a row ---------------------------

    def set_op_proj_req(
        self,
        name: str,
        tokens: int,
        k: int,
        n: int,
        *,
        category: Category,
        bias: bool = False,
        experts: tuple[int, float] | None = None,
        groups: int = 1,
        replicated: bool = False,
    ) -> Row:
        """A linear layer (k -> n) over `tokens` rows. `groups` independent weight matrices of
        k x n applied to the same tokens form one batched GEMM (MLA's per-head absorption). With
        `experts` = (held, expected read), the weights are per expert: `held` copies are stored
        and `expected read` of them are read, rounded to whole bytes."""
        fmt, bias_fmt = self.precision.weight_for(category), self.precision.weight
        cost = (
            ops.gemm(
                tokens,
                k,
                n,
                w_weight=fmt.bytes,
                w_act=self.precision.activation.bytes,
                bias=bias,
                w_bias=bias_fmt.bytes,
            )
            * groups
        )
        params = (k * n + (n if bias else 0)) * groups
        param_bytes = (k * n * fmt.bytes + (n * bias_fmt.bytes if bias else 0)) * groups
        if experts is not None:
            held, touched = experts
            cost = replace(cost, weight_bytes=round(touched * cost.weight_bytes))
            params, param_bytes = params * held, param_bytes * held
        return Row(
            name,
            cost,
            OpKind.GEMM,
            self.precision.gemm_peak(category),
            params,
            param_bytes,
            category,
            replicated=replicated,
        )

    def _elementwise(
        self,
        name: str,
        cost: ops.Cost,
        category: Category = Category.OTHER,
        *,
        params: int = 0,
        param_bytes: Number = 0,
        replicated: bool = False,
    ) -> Row:
        return Row(
            name,
            cost,
            OpKind.ELEMENTWISE,
            VECTOR_PEAK,
            params,
            param_bytes,
            category,
            replicated=replicated,
        )

    def set_op_rope_req(self, name: str, tokens: int, heads: int, rot_dim: int) -> Row:
        return self._elementwise(
            name, ops.rope(tokens, heads, rot_dim, w=self.precision.activation.bytes)
        )

    def set_op_rmsnorm_req(
        self, name: str, rows: int, width: int, *, gains: int = 1, replicated: bool = False
    ) -> Row:
        """RMSNorm of `rows` vectors of `width`; `gains` distinct gain vectors are held and read
        (2 for per-head q and k norms, 0 for a gain-less L2 norm). `replicated`: every
        tensor-parallel rank normalises the full width (hidden-size norms)."""
        fmt = self.precision.weight_for(Category.NORM)
        cost = ops.rmsnorm(
            rows,
            width,
            w_act=self.precision.activation.bytes,
            w_weight=fmt.bytes,
            gains=gains,
            unit_offset=self.rmsnorm_unit_offset,
        )
        params = gains * width
        return self._elementwise(
            name,
            cost,
            Category.NORM,
            params=params,
            param_bytes=params * fmt.bytes,
            replicated=replicated,
        )

    def set_op_actmul_req(
        self, name: str, tokens: int, width: int, act: str, *, category: Category
    ) -> Row:
        cost = ops.act_mul(tokens, width, act, w=self.precision.activation.bytes)
        return self._elementwise(name, cost, category)

    def set_op_sum_req(self, name: str, tokens: int, width: int, operands: int = 2) -> Row:
        """A sum of full-width activations (residual adds): every tensor-parallel rank does it."""
        cost = ops.elementwise_sum(
            tokens, width, operands=operands, w=self.precision.activation.bytes
        )
        return self._elementwise(name, cost, replicated=True)

    def set_op_moe_combine_req(self, name: str, tokens: int, top_k: int, shared: bool) -> Row:
        cost = ops.moe_combine(
            tokens,
            self.dims.hidden_size,
            top_k=top_k,
            shared=shared,
            w=self.precision.activation.bytes,
        )
        return self._elementwise(name, cost, replicated=True)

    def set_op_allreduce_req(self, name: str, tokens: int) -> list[Row]:
        """The tensor-parallel all-reduce of a T x h activation (none on one rank)."""
        if self.parallel.tp == 1:
            return []
        message = tokens * self.dims.hidden_size * self.precision.activation.bytes
        return [self._comm_row(name, Comm(CommKind.ALL_REDUCE, message, self.parallel.tp))]

    def set_op_alltoall_req(self, name: str, tokens: int, top_k: int) -> list[Row]:
        """An expert-parallel all-to-all (dispatch or combine): a rank owns T / EP tokens and
        exchanges the k copies of each with the ranks of their experts (see core/parallel.py)."""
        ep = self.parallel.ep
        message = Fraction(tokens * top_k, ep) * self.dims.hidden_size
        comm = Comm(CommKind.ALL_TO_ALL, message * self.precision.activation.bytes, ep)
        return [self._comm_row(name, comm)]

    def set_op_sdpa_req(
        self,
        name: str,
        queries: Sequence[tuple[tuple[int, int], int]],
        attention: Attention,
        *,
        shared_kv: bool = False,
    ) -> Row:
        """Attention of `queries` (((cached, input), count) groups). Sinks (one logit per head)
        are parameters of this op."""
        weights = self.precision.weight_for(Category.ATTN_CORE)
        cost = ops.sdpa(
            queries,
            attention.pattern,
            heads=attention.heads,
            kv_heads=attention.kv_heads,
            qk_dim=attention.head_dim,
            v_dim=attention.v_dim,
            w_act=self.precision.activation.bytes,
            w_kv=(
                self.precision.kv_cache if attention.kv_cached else self.precision.activation
            ).bytes,
            softcap=attention.softcap,
            sink=attention.sink,
            shared_kv=shared_kv,
        )
        sinks = attention.heads if attention.sink else 0
        if sinks:
            cost = cost + ops.Cost(weight_bytes=sinks * weights.bytes)
        return Row(
            name,
            cost,
            OpKind.ATTENTION,
            self.precision.activation.peak,
            sinks,
            sinks * weights.bytes,
            Category.ATTN_CORE,
        )
