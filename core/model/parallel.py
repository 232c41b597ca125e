"""Parallelism on paper: how one device's share of a step is cut, and what the devices exchange.

- Tensor parallelism (TP, Megatron style): column-parallel GEMMs (QKV, gate/up, MLA's q_b/kv_b,
  the LM head, the vocabulary of the embedding) split their output features, row-parallel GEMMs
  (O, down) split their input features; attention heads split across ranks, and KV heads are
  replicated when there are fewer of them than ranks; norms, residual adds, routers and MLA's
  small a-projections (and its latent cache) are replicated on every rank.
- Expert parallelism (EP, dividing TP, on the same ranks as vLLM's --enable-expert-parallel): each
  rank holds E / EP whole experts instead of a 1/TP slice of every expert. Under uniform routing
  the expected expert compute and weight traffic of a rank are the same either way, but a rank
  reads and writes only the T*k/EP token copies its own experts run (TP: all T*k copies, each
  through a slice); EP adds an all-to-all dispatch and combine of the routed tokens, as wide-EP
  deployments (DeepEP, pplx) exchange them, and where nothing is left to reduce (EP = TP, no
  shared expert) the MoE layer's all-reduce becomes an all-gather of the tokens each rank
  finished. NB: vLLM without data parallelism keeps the all-reduce alone.
- Pipeline parallelism (PP): contiguous layers per stage, as even as possible (earlier stages take
  the extra layer); the embedding runs on the first stage, the final norm and LM head on the last;
  stages hand activations on. The busiest stage decides the step time (steady-state pipelining).

Communication, per device (bytes always; time when the device spec has an interconnect):
- all-reduce of a T x h activation (after O_Proj and Down_Proj, and the vocab-parallel
  embedding): message M = T*h*w; a ring sends 2*(N-1)/N * M per device;
- all-gather of the LM head's logits: M = B*V*w in all, a ring sends (N-1)/N * M per device;
- all-to-all dispatch and combine of routed tokens: a rank owns T/EP tokens and sends the k
  copies of each to their experts' ranks, (EP-1)/EP of them remote: (T/EP)*k*h*w*(EP-1)/EP each
  way; with whole experts and no shared expert (EP = TP), an all-gather of the T x h output
  (M = T*h*w, (N-1)/N * M per device);
- pipeline send of the T x h activations to the next stage: M = T*h*w.
Time = bytes sent / (interconnect bandwidth / 2): spec figures are bidirectional per device, and
a ring or an exchange sends and receives at once at the per-direction rate. NB: latency terms,
overlap with compute and NVLink SHARP in-switch reduction are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from ..errors import UsageError
from ..ops import Number


@dataclass(frozen=True, slots=True)
class Parallelism:
    tp: int = 1
    pp: int = 1
    ep: int = 1

    def __post_init__(self) -> None:
        for name, degree in (("tensor", self.tp), ("pipeline", self.pp), ("expert", self.ep)):
            if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
                raise UsageError(f"--{name}-parallel must be a positive integer, got {degree!r}")
        if self.tp % self.ep:
            raise UsageError(
                f"--expert-parallel {self.ep} must divide --tensor-parallel {self.tp}: expert "
                "ranks are the tensor-parallel ranks"
            )

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    @property
    def label(self) -> str:
        return f"TP {self.tp} x PP {self.pp}" + (f" (EP {self.ep})" if self.ep > 1 else "")

    def stages(self, layers: int) -> list[range]:
        """Contiguous layers per pipeline stage, as even as possible, earlier stages first."""
        base, extra = divmod(layers, self.pp)
        bounds, start = [], 0
        for stage in range(self.pp):
            end = start + base + (1 if stage < extra else 0)
            bounds.append(range(start, end))
            start = end
        return bounds


SINGLE_DEVICE = Parallelism()


class CommKind(Enum):
    ALL_REDUCE = "all-reduce"
    ALL_GATHER = "all-gather"
    ALL_TO_ALL = "all-to-all"
    SEND = "send"


@dataclass(frozen=True, slots=True)
class Comm:
    """One collective (or point-to-point send) of a `message` of bytes among `group` ranks."""

    kind: CommKind
    message: Number  # the tensor's bytes (all-gather: the gathered whole)
    group: int

    @property
    def sent_bytes(self) -> Number:
        """Bytes each device sends (and receives)."""
        n = self.group
        if self.kind is CommKind.ALL_REDUCE:
            return Fraction(2 * (n - 1), n) * self.message
        if self.kind in (CommKind.ALL_GATHER, CommKind.ALL_TO_ALL):
            return Fraction(n - 1, n) * self.message
        return self.message

    def seconds(self, interconnect_bandwidth: float) -> float:
        """At the per-direction rate: half the spec's bidirectional bandwidth."""
        return float(self.sent_bytes) / (interconnect_bandwidth / 2)
