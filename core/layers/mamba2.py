"""Mamba-2 (a token mixer): a selective state-space layer with a short causal convolution.

HF's `NemotronHMamba2Mixer` (transformers `models/nemotron_h/modeling_nemotron_h.py`), with
H heads of P values (the inner width I = H*P), a state of N per head, B and C shared by the heads
of each of G groups, a depthwise convolution of K taps over conv_dim = I + 2*G*N channels:

- `In_Proj`   h -> I (the gate z) + conv_dim (x, B, C) + H (dt), one GEMM
- `Conv1d`    causal depthwise convolution of x, B and C with its bias, then the activation (silu)
- `SSM`       the selective scan (core/ops.py `ssd_scan`): the recurrent step in decode, the
              chunked SSD form in prefill; its weights A_log, D and dt_bias (H each)
- `Gate`      y * silu(z)
- `GroupNorm` RMSNorm of each group's I/G features, with a gain of I (HF's RMSNormGated)
- `Out_Proj`  I -> h

State per query: the convolution's last K inputs (conv_dim x K in the activation format, as HF's
cache holds them; mamba_ssm and vLLM keep K - 1) and the recurrent state (H x P x N in float32,
as HF keeps it whatever `mamba_ssm_cache_dtype` says): fixed, whatever the context length.

Tensor parallelism (vLLM's MambaMixer2): the heads split, and with them z, x, dt, the convolution
of x, the scan, the gate, the norm and out_proj's rows; the groups split when TP divides them,
else (TP a multiple of G) each rank holds its heads' one group, replicated (B, C and their conv
channels and conv state). NB: a rank then normalises a part of a group; the small all-reduce of
sums of squares that makes the group norm exact is not counted.
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

_FLOAT32 = lookup_format("float32")


@dataclass(frozen=True, slots=True)
class Mamba2:
    label: ClassVar[str] = "Mamba"

    heads: int  # H: `mamba_num_heads`
    head_dim: int  # P: `mamba_head_dim`
    state_size: int  # N: `ssm_state_size`
    groups: int  # G: `n_groups`
    conv_kernel: int  # K: `conv_kernel`
    chunk: int  # `chunk_size`: the chunked scan's chunk length (prefill)
    act: str = "silu"  # after the convolution (`mamba_hidden_act`)
    conv_bias: bool = True  # `use_conv_bias`
    bias: bool = False  # on in_proj and out_proj (`use_bias`)

    @property
    def inner(self) -> int:
        """I = H * P, the width of z, x and y."""
        return self.heads * self.head_dim

    def groups_on_device(self, tp: int) -> int:
        """Groups one tensor-parallel rank holds: G / TP, or 1 (replicated) when fewer."""
        return max(1, self.groups // tp)

    def conv_channels(self, tp: int) -> int:
        """The convolution's channels on one rank: its x and its groups' B and C."""
        return self.inner // tp + 2 * self.groups_on_device(tp) * self.state_size

    def check(self, parallel: Parallelism) -> str | None:
        tp = parallel.tp
        if problem := divisible("mamba_num_heads", self.heads, tp):
            return problem
        if self.groups % tp and tp % self.groups:
            return f"n_groups ({self.groups}) neither divides it nor is a multiple"
        return None

    def states(self, tp: int) -> tuple[State, ...]:
        return conv_and_recurrent_states(
            self.conv_channels(tp) * self.conv_kernel,
            self.heads // tp * self.head_dim * self.state_size,
        )

    def pieces(self) -> ContextPieces:
        return NO_PIECES  # its step cost does not depend on the context

    def rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        tp = ops.tp
        tokens, hidden = queries.total_input_tokens, ops.hidden_size
        heads, inner = self.heads // tp, self.inner // tp
        groups, channels = self.groups_on_device(tp), self.conv_channels(tp)
        weights = ops.precision.weight_for(Category.MIXER)
        scan = formulas.ssd_scan(
            queries.groups,
            heads=heads,
            head_dim=self.head_dim,
            state_size=self.state_size,
            groups=groups,
            chunk=self.chunk,
            w_act=ops.act_bytes,
            w_state=_FLOAT32.bytes,
            w_weight=weights.bytes,
        )
        rows = [
            ops.set_op_proj_req(
                "Mamba - In_Proj",
                tokens,
                hidden,
                inner + channels + heads,
                bias=self.bias,
                category=Category.MIXER,
            ),
            ops.set_op_conv1d_req(
                "Mamba - Conv1d",
                tokens,
                channels,
                self.conv_kernel,
                queries=queries.num_queries,
                act=self.act,
                bias=self.conv_bias,
                category=Category.MIXER,
            ),
            ops.set_op_scan_req(
                "Mamba - SSM", scan, params=3 * heads, param_bytes=3 * heads * weights.bytes
            ),
            ops.set_op_actmul_req("Mamba - Gate", tokens, inner, "silu", category=Category.MIXER),
            # a rank's groups, or its part of one group (see the module docstring)
            ops.set_op_rmsnorm_req(
                "Mamba - GroupNorm", tokens * groups, inner // groups, gains=groups
            ),
            ops.set_op_proj_req(
                "Mamba - Out_Proj", tokens, inner, hidden, bias=self.bias, category=Category.MIXER
            ),
        ]
        return rows + ops.set_op_allreduce_req("Mamba - AllReduce", tokens)
