"""The shared `set_op_*` vocabulary: one op of one device, as a `Row`.

An `OpBuilder` binds what every row of one model on one device needs (the number formats, the
parallel split, the hidden size, the family's norm flavour); each `set_op_*` method takes an op's
shapes, calls its pure formula in `core/ops.py` and wraps the `Cost` in a `Row` with its
parameters, category, kind and compute peak. Layers (core/layers) build their rows through it and
never see the parser; a parser gets one from `BaseModelConfigParser.ops(parallel)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from .. import ops
from ..ops import Cost, Number
from .formats import DataFormat
from .masks import KeyPattern
from .parallel import SINGLE_DEVICE, Comm, CommKind, Parallelism
from .precision import VECTOR_PEAK, Precision
from .rows import Category, OpKind, Routing, Row

QueryShapes = Sequence[tuple[tuple[int, int], int]]


@dataclass(frozen=True, slots=True)
class Attending:
    """The shape of one attention computation as the SDPA formula needs it: heads on this device,
    dims, and what each score costs."""

    heads: int
    kv_heads: int
    qk_dim: int
    v_dim: int
    pattern: KeyPattern
    softcap: bool = False  # logit soft-capping on every score (Gemma 2)
    sink: bool = False  # one learned sink logit per head (gpt-oss)
    cached: bool = True  # K and V come from the cache (False: recomputed activations)
    shared_kv: bool = False  # V is part of K (MLA's latent attention)


@dataclass(frozen=True, slots=True)
class OpBuilder:
    """One device's view of a model: formats, split and hidden size bound once."""

    precision: Precision
    hidden_size: int
    parallel: Parallelism = SINGLE_DEVICE
    norm_unit_offset: bool = False  # Gemma's RMSNorm multiplies by (1 + gain)

    @property
    def tp(self) -> int:
        return self.parallel.tp

    @property
    def act_bytes(self) -> Number:
        return self.precision.activation.bytes

    # --- GEMMs --------------------------------------------------------------------------------

    def set_op_proj_req(
        self,
        name: str,
        tokens: int,
        k: int,
        n: int,
        *,
        category: Category,
        bias: bool = False,
        experts: Routing | None = None,
        groups: int = 1,
        replicated: bool = False,
        pinned: DataFormat | None = None,
    ) -> Row:
        """A linear layer (k -> n) over `tokens` rows. `groups` independent weight matrices of
        k x n applied to the same tokens form one batched GEMM (MLA's per-head absorption). With
        `experts` (a `Routing`), the weights are per expert: every expert is stored and the
        expected distinct experts touched are read, rounded to whole bytes. `pinned`: a weight the
        model keeps in that format whatever the dtype, quantization or overrides say, multiplied
        in it (MiMo-V2-Flash's float32 router)."""
        fmt, bias_fmt = self.precision.weight_for(category), self.precision.weight
        if pinned is not None:
            fmt = bias_fmt = pinned
        cost = ops.gemm(
            tokens,
            k,
            n,
            w_weight=fmt.bytes,
            w_act=self.act_bytes,
            bias=bias,
            w_bias=bias_fmt.bytes,
        )
        cost = cost * groups
        params = (k * n + (n if bias else 0)) * groups
        param_bytes = (k * n * fmt.bytes + (n * bias_fmt.bytes if bias else 0)) * groups
        matrices = 1.0
        if experts is not None:
            cost = replace(cost, weight_bytes=experts.read_bytes(cost.weight_bytes))
            params, param_bytes = params * experts.experts, param_bytes * experts.experts
            matrices = experts.matrices
        return Row(
            name,
            cost,
            OpKind.GEMM,
            self.precision.gemm_peak(category) if pinned is None else pinned.peak,
            params,
            param_bytes,
            category,
            replicated=replicated,
            tokens=tokens,
            matrices=matrices,
            weight_peak=fmt.peak,
            routing=experts,
        )

    # --- elementwise --------------------------------------------------------------------------

    def set_op_elementwise_req(
        self,
        name: str,
        cost: Cost,
        category: Category = Category.OTHER,
        *,
        params: int = 0,
        param_bytes: Number = 0,
        replicated: bool = False,
    ) -> Row:
        """Any op on the vector units (norms, RoPE, activations, adds, gates, state updates)."""
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

    def set_op_scan_req(
        self,
        name: str,
        cost: Cost,
        category: Category = Category.MIXER,
        *,
        params: int = 0,
        param_bytes: Number = 0,
        replicated: bool = False,
    ) -> Row:
        """A kernel along the sequence that reads and writes a per-query state (a short
        convolution, a linear-attention or state-space recurrence, a KV compressor), at the
        activation format's peak; it is its own kernel, so its memory traffic always counts."""
        return Row(
            name,
            cost,
            OpKind.SCAN,
            self.precision.activation.peak,
            params,
            param_bytes,
            category,
            replicated=replicated,
        )

    def set_op_rope_req(
        self, name: str, tokens: int, heads: int, rot_dim: int, *, replicated: bool = False
    ) -> Row:
        cost = ops.rope(tokens, heads, rot_dim, w=self.act_bytes)
        return self.set_op_elementwise_req(name, cost, replicated=replicated)

    def set_op_rmsnorm_req(
        self,
        name: str,
        rows: int,
        width: int,
        *,
        gains: int = 1,
        replicated: bool = False,
        category: Category = Category.NORM,
    ) -> Row:
        """RMSNorm of `rows` vectors of `width`; `gains` distinct gain vectors are held and read
        (2 for per-head q and k norms, 0 for a gain-less L2 norm). `replicated`: every
        tensor-parallel rank normalises the full width (hidden-size norms)."""
        fmt = self.precision.weight_for(Category.NORM)
        cost = ops.rmsnorm(
            rows,
            width,
            w_act=self.act_bytes,
            w_weight=fmt.bytes,
            gains=gains,
            unit_offset=self.norm_unit_offset,
        )
        params = gains * width
        return self.set_op_elementwise_req(
            name,
            cost,
            category,
            params=params,
            param_bytes=params * fmt.bytes,
            replicated=replicated,
        )

    def set_op_layernorm_req(
        self, name: str, rows: int, width: int, *, bias: bool = True, replicated: bool = False
    ) -> Row:
        """LayerNorm of `rows` vectors of `width`, with a gain and (`bias`) a bias vector."""
        fmt = self.precision.weight_for(Category.NORM)
        cost = ops.layernorm(rows, width, w_act=self.act_bytes, w_weight=fmt.bytes, bias=bias)
        params = (2 if bias else 1) * width
        return self.set_op_elementwise_req(
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
        """act(gate) * up over `width` features (also an output gate: act = "sigmoid")."""
        cost = ops.act_mul(tokens, width, act, w=self.act_bytes)
        return self.set_op_elementwise_req(name, cost, category)

    def set_op_act_req(
        self, name: str, tokens: int, width: int, act: str, *, category: Category
    ) -> Row:
        """A plain activation act(x) (an ungated MLP)."""
        cost = ops.activation(tokens, width, act, w=self.act_bytes)
        return self.set_op_elementwise_req(name, cost, category)

    def set_op_sum_req(self, name: str, tokens: int, width: int, operands: int = 2) -> Row:
        """A sum of full-width activations (residual adds): every tensor-parallel rank does it."""
        cost = ops.elementwise_sum(tokens, width, operands=operands, w=self.act_bytes)
        return self.set_op_elementwise_req(name, cost, replicated=True)

    def set_op_moe_combine_req(
        self, name: str, tokens: int, top_k: int, shared: bool, *, width: int | None = None
    ) -> Row:
        """The weighted sum of each token's expert outputs of `width` (default the hidden size;
        Nemotron-H's latent MoE sums them at its latent width)."""
        width = self.hidden_size if width is None else width
        cost = ops.moe_combine(tokens, width, top_k=top_k, shared=shared, w=self.act_bytes)
        return self.set_op_elementwise_req(name, cost, replicated=True)

    def set_op_conv1d_req(
        self,
        name: str,
        tokens: int,
        channels: int,
        kernel: int,
        *,
        queries: int,
        act: str | None,
        bias: bool,
        category: Category,
    ) -> Row:
        """A depthwise causal convolution over time (its weights are parameters of this op; no
        quantization method converts a convolution)."""
        fmt = self.precision.weight
        cost = ops.causal_conv1d(
            tokens,
            channels,
            kernel,
            queries=queries,
            act=act,
            bias=bias,
            w_act=self.act_bytes,
            w_weight=fmt.bytes,
        )
        params = channels * kernel + (channels if bias else 0)
        return self.set_op_scan_req(
            name, cost, category, params=params, param_bytes=params * fmt.bytes
        )

    # --- attention ----------------------------------------------------------------------------

    def set_op_sdpa_req(self, name: str, queries: QueryShapes, attending: Attending) -> Row:
        """Attention of `queries` (((cached, input), count) groups) on this device's heads.
        Sinks (one logit per head) are parameters of this op."""
        weights = self.precision.weight_for(Category.ATTN_CORE)
        kv = self.precision.kv_cache if attending.cached else self.precision.activation
        cost = ops.sdpa(
            queries,
            attending.pattern,
            heads=attending.heads,
            kv_heads=attending.kv_heads,
            qk_dim=attending.qk_dim,
            v_dim=attending.v_dim,
            w_act=self.act_bytes,
            w_kv=kv.bytes,
            softcap=attending.softcap,
            sink=attending.sink,
            shared_kv=attending.shared_kv,
        )
        sinks = attending.heads if attending.sink else 0
        if sinks:
            cost = cost + Cost(weight_bytes=sinks * weights.bytes)
        return Row(
            name,
            cost,
            OpKind.ATTENTION,
            self.precision.activation.peak,
            sinks,
            sinks * weights.bytes,
            Category.ATTN_CORE,
        )

    def set_op_indexer_req(
        self,
        name: str,
        queries: QueryShapes,
        *,
        heads: int,
        head_dim: int,
        top_k: int,
        ratio: int = 1,
    ) -> Row:
        """A lightning indexer scoring, for each new token, every key (one per `ratio` tokens)
        before it and selecting the top k (core/ops.py `lightning_indexer`): a kernel over its
        own key cache (at the KV-cache format), like attention. Every tensor-parallel rank runs
        all of it."""
        cost = ops.lightning_indexer(
            queries,
            heads=heads,
            head_dim=head_dim,
            top_k=top_k,
            ratio=ratio,
            w_act=self.act_bytes,
            w_key=self.precision.kv_cache.bytes,
        )
        return Row(
            name,
            cost,
            OpKind.ATTENTION,
            self.precision.activation.peak,
            category=Category.ATTN_CORE,
            replicated=True,
        )

    # --- communication ------------------------------------------------------------------------

    def set_op_comm_req(self, name: str, comm: Comm, *, per_block: bool = True) -> Row:
        return Row(name, Cost(), OpKind.COMM, VECTOR_PEAK, per_block=per_block, comm=comm)

    def set_op_allreduce_req(self, name: str, tokens: int) -> list[Row]:
        """The tensor-parallel all-reduce of a T x h activation (none on one rank)."""
        if self.tp == 1:
            return []
        message = tokens * self.hidden_size * self.act_bytes
        return [self.set_op_comm_req(name, Comm(CommKind.ALL_REDUCE, message, self.tp))]

    def set_op_moe_gather_req(self, prefix: str, tokens: int, *, partial: bool) -> list[Row]:
        """What a MoE layer exchanges last, so every rank holds all T tokens' outputs again:
        the all-reduce of partial sums (tensor parallelism, a shared expert's slices, or experts
        cut into TP/EP slices), which also returns the owners' tokens under EP; with whole
        experts and nothing partial (EP = TP, no shared expert) each rank owns T/EP finished
        tokens, and an all-gather of the T x h activation hands them round."""
        if self.tp == 1:
            return []
        if partial or self.parallel.ep < self.tp:
            return self.set_op_allreduce_req(f"{prefix}AllReduce", tokens)
        message = tokens * self.hidden_size * self.act_bytes
        comm = Comm(CommKind.ALL_GATHER, message, self.tp)
        return [self.set_op_comm_req(f"{prefix}AllGather", comm)]

    def set_op_alltoall_req(
        self, name: str, tokens: int, top_k: int, *, width: int | None = None
    ) -> list[Row]:
        """An expert-parallel all-to-all (dispatch or combine): a rank owns T / EP tokens and
        exchanges the k copies of each (`width` features, default the hidden size) with the ranks
        of their experts (see core/model/parallel.py)."""
        ep = self.parallel.ep
        width = self.hidden_size if width is None else width
        message = Fraction(tokens * top_k, ep) * width
        comm = Comm(CommKind.ALL_TO_ALL, message * self.act_bytes, ep)
        return [self.set_op_comm_req(name, comm)]
