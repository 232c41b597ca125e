"""Multi-head attention with grouped KV heads: full, sliding-window or chunked (a token mixer).

Rows: `QKV_Proj` (h -> (H + H_kv) d + H_kv d_v, the q, k and v projections together; twice the
q width with an output gate), optional q/k norms, RoPE, `SDPA` (core/ops.py `sdpa`), an optional
sigmoid output gate, `O_Proj` (H d_v -> h) and, under tensor parallelism, the all-reduce.
State: K and V of every token the layer keeps (all of them, or the last window - 1); none for an
encoder's bidirectional attention (vision towers), whose K and V are read as activations.

Gemma 4 adds three variants: `k_eq_v` (no v projection: the values are the key projection's output
before k's norm and RoPE, so the row is `QK_Proj`; the cache still holds K and V apart), `v_norm`
(a gain-less RMSNorm over each value head) and `kv_shared` (the layer reuses the K and V an
earlier layer cached: only `Q_Proj`, `Q_Norm`, `Q_RoPE`, no state of its own). A `prefix` names
the rows of layers whose shapes differ from the others' (Gemma 4's global layers: "Global_").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import ClassVar

from ..model.builder import Attending, OpBuilder
from ..model.masks import FULL_ATTENTION, AttentionPattern, ContextPieces, MaskKind
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Row, combined
from ..model.state import Growth, State
from .mixer import divisible


class QKNorm(Enum):
    """Normalisation of queries and keys before attention."""

    NONE = "none"
    PER_HEAD = "per_head"  # RMSNorm over each head's head_dim; one gain of head_dim for q and k
    PER_HEAD_L2 = "per_head_l2"  # the same without a gain (Llama 4)
    FULL_WIDTH = "full_width"  # RMSNorm over all q (H*d) and all k (H_kv*d) features (OLMo 2)
    # NB: under tensor parallelism each rank normalises its slice of the full width; the tiny
    #     all-reduce of the sums of squares that makes it exact is not counted.


@dataclass(frozen=True, slots=True)
class Attention:
    """Multi-head attention with grouped KV heads (MHA when kv_heads == heads, MQA at 1)."""

    label: ClassVar[str] = "Attn"

    heads: int
    kv_heads: int
    head_dim: int
    pattern: AttentionPattern = FULL_ATTENTION
    rope: bool = True
    rot_dim: int | None = None  # rotated dimensions per head (partial rotary); None: head_dim
    qk_norm: QKNorm = QKNorm.NONE
    qkv_bias: bool = False
    o_bias: bool = False
    softcap: bool = False  # attention logit soft-capping (Gemma 2)
    sink: bool = False  # one learned sink logit per head (gpt-oss, MiMo)
    v_head_dim: int | None = None  # V's dims per head when they differ from K's
    output_gate: bool = False  # q_proj also yields a gate: out * sigmoid(gate) (Qwen3.5)
    k_eq_v: bool = False  # no v_proj: V is k_proj's output (before k's norm and RoPE) (Gemma 4)
    v_norm: bool = False  # a gain-less RMSNorm over each V head (Gemma 4)
    kv_shared: bool = False  # reuses an earlier layer's cached K and V: no k/v work, no state
    prefix: str = ""  # row-name prefix after "Attn - " (layers of other shapes: "Global_")

    @property
    def v_dim(self) -> int:
        return self.head_dim if self.v_head_dim is None else self.v_head_dim

    def kv_heads_on_device(self, tp: int) -> int:
        """KV heads one tensor-parallel rank holds: H_kv / TP, or 1 (replicated) when fewer."""
        return max(1, self.kv_heads // tp)

    def check(self, parallel: Parallelism) -> str | None:
        tp = parallel.tp
        if problem := divisible("num_attention_heads", self.heads, tp):
            return problem
        if self.kv_heads % tp and tp % self.kv_heads:
            return f"num_key_value_heads ({self.kv_heads}) neither divides it nor is a multiple"
        return None

    def states(self, tp: int) -> tuple[State, ...]:
        """K and V of each token the layer keeps, on one device."""
        if self.kv_shared or self.pattern.kind is MaskKind.BIDIRECTIONAL:
            return ()  # the layer whose K and V it reads keeps them; an encoder keeps nothing
        values = self.kv_heads_on_device(tp) * (self.head_dim + self.v_dim)
        if self.pattern.kind in (MaskKind.SLIDING, MaskKind.CHUNKED):
            return (State("KV cache", values, Growth.WINDOW, self.pattern.size),)
        return (State("KV cache", values),)

    def pieces(self) -> ContextPieces:
        return self.pattern.pieces()

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tp = ops.tp
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        heads, kv_heads = self.heads // tp, self.kv_heads_on_device(tp)
        q_width, kv_width = heads * self.head_dim, kv_heads * self.head_dim
        v_width, out_width = kv_heads * self.v_dim, heads * self.v_dim
        gate_width = out_width if self.output_gate else 0
        own_kv = not self.kv_shared  # this layer projects (and caches) its own K and V
        k_width = kv_width if own_kv else 0
        v_width = v_width if own_kv and not self.k_eq_v else 0
        projected = "QKV" if v_width else "QK" if k_width else "Q"
        name = f"Attn - {self.prefix}"
        rows = [
            ops.set_op_proj_req(
                f"{name}{projected}_Proj",
                tokens,
                hidden,
                q_width + gate_width + k_width + v_width,
                bias=self.qkv_bias,
                category=Category.ATTN_PROJ,
            )
        ]
        normed = "QK" if own_kv else "Q"
        if self.qk_norm is QKNorm.FULL_WIDTH:
            norms = (
                ops.set_op_rmsnorm_req("q_norm", tokens, q_width),
                ops.set_op_rmsnorm_req("k_norm", tokens, kv_width),
            )
            rows.append(combined(f"{name}{normed}_Norm", norms[: 1 + own_kv]))
        elif self.qk_norm is not QKNorm.NONE:
            gains = 0 if self.qk_norm is QKNorm.PER_HEAD_L2 else 1 + own_kv
            rows.append(
                ops.set_op_rmsnorm_req(
                    f"{name}{normed}_Norm",
                    tokens * (heads + (kv_heads if own_kv else 0)),
                    self.head_dim,
                    gains=gains,
                    replicated=True,
                )
            )
        if self.v_norm and own_kv:
            rows.append(
                ops.set_op_rmsnorm_req(
                    f"{name}V_Norm", tokens * kv_heads, self.v_dim, gains=0, replicated=True
                )
            )
        rot_dim = self.head_dim if self.rot_dim is None else self.rot_dim
        if self.rope and rot_dim:
            rotated = heads + (kv_heads if own_kv else 0)
            rope_name = f"{name}RoPE" if own_kv else f"{name}Q_RoPE"
            rows.append(ops.set_op_rope_req(rope_name, tokens, rotated, rot_dim))
        label = "" if self.pattern.kind is MaskKind.FULL else f" ({self.pattern.label})"
        attending = Attending(
            heads,
            kv_heads,
            self.head_dim,
            self.v_dim,
            self.pattern,
            softcap=self.softcap,
            sink=self.sink,
            cached=self.pattern.kind
            is not MaskKind.BIDIRECTIONAL,  # an encoder's K, V: activations
        )
        rows.append(ops.set_op_sdpa_req(f"{name}SDPA{label}", queries.groups, attending))
        if self.output_gate:
            rows.append(
                ops.set_op_actmul_req(
                    f"{name}Gate", tokens, out_width, "sigmoid", category=Category.OTHER
                )
            )
        rows.append(
            ops.set_op_proj_req(
                f"{name}O_Proj",
                tokens,
                out_width,
                hidden,
                bias=self.o_bias,
                category=Category.ATTN_PROJ,
            )
        )
        return rows + ops.set_op_allreduce_req("Attn - AllReduce", tokens)


def windowed(attention: Attention, window: int | None, sliding: Sequence[bool]) -> list[Attention]:
    """One attention per layer: `attention` with a sliding window of `window` tokens on the layers
    `sliding` marks, full attention on the others."""
    full = replace(attention, pattern=FULL_ATTENTION)
    local = replace(attention, pattern=AttentionPattern.sliding(window))
    return [local if slides else full for slides in sliding]
