"""What one query keeps between steps in one layer: KV caches, selector keys, compressed KV,
convolution and recurrent states. Each kind grows with the context its own way.

A layer declares its `State` parts (per query, on one device); the analysis sums them over the
layers and queries at each query's context length L. The "KV cache" figures of a report are the
sum of every part: everything a query keeps between steps.

Growth rules (units held once the context is L tokens; each unit is `values` numbers):
- PER_TOKEN:  L                   (full attention keys and values, indexer keys)
- WINDOW:     min(L, W - 1)       (sliding or chunked layers: HF's DynamicSlidingWindowLayer keeps
                                   the last W - 1 tokens, enough with the next token's own key)
- PER_RATIO:  floor(L / r)        (compressed KV: one entry per r tokens)
- REMAINDER:  L mod r             (tokens a compressor holds until its window of r closes:
                                   HF's DeepSeek-V4 `buffer_kv` / `buffer_gate`)
- FIXED:      1                   (recurrent and convolution states: the same at 1k and 1M tokens)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Growth(Enum):
    PER_TOKEN = "per_token"
    WINDOW = "window"
    PER_RATIO = "per_ratio"
    REMAINDER = "remainder"
    FIXED = "fixed"


class StateFormat(Enum):
    """Which format a state is stored in."""

    KV = "kv"  # the KV-cache format (`--kv-cache-dtype`, default the config's dtype)
    ACTIVATION = "activation"  # the activation format (convolution states hold inputs)
    FLOAT32 = "float32"  # recurrent states (HF and the kernels keep them in float32)


@dataclass(frozen=True, slots=True)
class State:
    """One part of what a query keeps in one layer, on one device."""

    kind: str  # what it is, as the storage breakdown names it: "KV cache", "Recurrent state", ...
    values: int  # numbers per unit held
    growth: Growth = Growth.PER_TOKEN
    size: int = 0  # W for WINDOW, r for PER_RATIO and REMAINDER
    fmt: StateFormat = StateFormat.KV

    def __post_init__(self) -> None:
        if self.growth in (Growth.WINDOW, Growth.PER_RATIO, Growth.REMAINDER) and self.size < 1:
            raise ValueError(f"{self.growth.value} state needs a positive size, got {self.size}")

    def units(self, length: int) -> int:
        """Units held once the query's context is `length` tokens."""
        if self.growth is Growth.PER_TOKEN:
            return length
        if self.growth is Growth.WINDOW:
            return min(length, self.size - 1)
        if self.growth is Growth.PER_RATIO:
            return length // self.size
        if self.growth is Growth.REMAINDER:
            return length % self.size
        return 1


def conv_and_recurrent_states(conv: int, recurrent: int) -> tuple[State, ...]:
    """What a conv + recurrence mixer (gated DeltaNet, Mamba-2) keeps, on one device: its causal
    conv's last `conv` values in the activation format and its `recurrent` state values in
    float32 (as HF keeps them); neither grows with the context."""
    return (
        State("Conv state", conv, Growth.FIXED, fmt=StateFormat.ACTIVATION),
        State("Recurrent state", recurrent, Growth.FIXED, fmt=StateFormat.FLOAT32),
    )
