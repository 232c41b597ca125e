"""Gated DeltaNet (a token mixer): linear attention with the gated delta rule, Qwen3.5's
`linear_attention` layers (transformers `Qwen3_5GatedDeltaNet`).

Rows, per new token (Hk key heads of dk, Hv value heads of dv, C = 2*Hk*dk + Hv*dv conv
channels):
- `In_Proj`: one GEMM h -> C + Hv*dv + 2*Hv (in_proj_qkv, in_proj_z, in_proj_b, in_proj_a);
- `Conv1d`: the causal depthwise convolution of the q, k and v channels (`conv_kernel` taps, no
  bias), then silu (core/ops.py `causal_conv1d`);
- `QK_L2Norm`: l2-normalisation of each q and k head (counted as a gain-less RMSNorm) and the
  1/sqrt(dk) scale of q;
- `Gates`: beta = sigmoid(b) and g = -exp(A_log) * softplus(a + dt_bias) per value head
  (core/ops.py `delta_gates`; A_log and dt_bias are its parameters);
- `DeltaRule`: the recurrence (core/ops.py `gated_delta_rule`: one step per head for a single new
  token, HF's chunked form with chunks of `chunk` tokens otherwise);
- `GatedNorm`: RMSNorm over each value head (one plain gain of dv, not zero-centred: HF's
  Qwen3_5RMSNormGated) times silu(z);
- `Out_Proj`: Hv*dv -> h, then, under tensor parallelism, the all-reduce.
State per query: the conv state, `conv_kernel` columns of the C channels as HF's cache holds them
(engines keep conv_kernel - 1), in the activation format; and the Hv x dk x dv recurrent state in
float32. Neither grows with the context.
Tensor parallelism (as vLLM splits it): key and value heads, conv channels, both states and the
gates split by heads; the out projection is row-parallel; the gated norm's gain is replicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import ops as formulas
from ..model.builder import OpBuilder
from ..model.formats import lookup_format
from ..model.masks import NO_PIECES, ContextPieces
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.rows import Category, Row
from ..model.state import State, conv_and_recurrent_states
from .mixer import divisible

_FLOAT32 = lookup_format("float32")  # the recurrent state, as HF and the kernels keep it


@dataclass(frozen=True, slots=True)
class GatedDeltaNet:
    label: ClassVar[str] = "DeltaNet"

    key_heads: int  # Hk: `linear_num_key_heads`
    value_heads: int  # Hv: `linear_num_value_heads`, a multiple of Hk
    key_dim: int  # dk: `linear_key_head_dim`
    value_dim: int  # dv: `linear_value_head_dim`
    conv_kernel: int  # `linear_conv_kernel_dim`
    act: str = "silu"  # the conv's activation (`hidden_act`)
    chunk: int = 64  # the chunked form's chunk (HF and FLA: 64)

    @property
    def conv_channels(self) -> int:
        """The q, k and v channels the convolution runs over."""
        return 2 * self.key_heads * self.key_dim + self.value_heads * self.value_dim

    def check(self, parallel: Parallelism) -> str | None:
        tp = parallel.tp
        return divisible("linear_num_key_heads", self.key_heads, tp) or divisible(
            "linear_num_value_heads", self.value_heads, tp
        )

    def states(self, tp: int) -> tuple[State, ...]:
        return conv_and_recurrent_states(
            self.conv_channels // tp * self.conv_kernel,
            self.value_heads // tp * self.key_dim * self.value_dim,
        )

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tp, w = ops.tp, ops.act_bytes
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        key_heads, value_heads = self.key_heads // tp, self.value_heads // tp
        dk, dv = self.key_dim, self.value_dim
        channels = self.conv_channels // tp
        value_width = value_heads * dv
        norm_fmt = ops.precision.weight_for(Category.NORM)
        gate_fmt = ops.precision.weight_for(Category.MIXER)
        l2 = formulas.rmsnorm(
            tokens * 2 * key_heads, dk, w_act=w, w_weight=norm_fmt.bytes, gains=0
        ) + formulas.scale(tokens * key_heads * dk)
        gates = formulas.delta_gates(tokens, value_heads, w_act=w, w_weight=gate_fmt.bytes)
        recurrence = formulas.gated_delta_rule(
            queries.groups,
            key_heads=key_heads,
            value_heads=value_heads,
            key_dim=dk,
            value_dim=dv,
            chunk=self.chunk,
            w_act=w,
            w_state=_FLOAT32.bytes,
        )
        gated_norm = formulas.rmsnorm(
            tokens * value_heads, dv, w_act=w, w_weight=norm_fmt.bytes
        ) + formulas.act_mul(tokens, value_width, "silu", w=w)
        rows = [
            ops.set_op_proj_req(
                "DeltaNet - In_Proj",
                tokens,
                hidden,
                channels + value_width + 2 * value_heads,
                category=Category.MIXER,
            ),
            ops.set_op_conv1d_req(
                "DeltaNet - Conv1d",
                tokens,
                channels,
                self.conv_kernel,
                queries=queries.num_queries,
                act=self.act,
                bias=False,
                category=Category.MIXER,
            ),
            ops.set_op_elementwise_req("DeltaNet - QK_L2Norm", l2, Category.MIXER),
            ops.set_op_elementwise_req(
                "DeltaNet - Gates",
                gates,
                Category.MIXER,
                params=2 * value_heads,
                param_bytes=2 * value_heads * gate_fmt.bytes,
            ),
            ops.set_op_scan_req("DeltaNet - DeltaRule", recurrence),
            ops.set_op_elementwise_req(
                "DeltaNet - GatedNorm",
                gated_norm,
                Category.NORM,
                params=dv,
                param_bytes=dv * norm_fmt.bytes,
                replicated=True,
            ),
            ops.set_op_proj_req(
                "DeltaNet - Out_Proj", tokens, value_width, hidden, category=Category.MIXER
            ),
        ]
        return rows + ops.set_op_allreduce_req("DeltaNet - AllReduce", tokens)
