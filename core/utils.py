"""Small shared types: exact numbers, the query batch, the mode, dtype widths, activation costs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import cached_property

from core.errors import ConfigError, UsageError
from core.formats import lookup_format

Number = int | Fraction
"""An exact count. FLOPs are always ints; bytes are ints, or Fractions under sub-byte formats."""


class TransformerMode(Enum):
    """Which tower of a model is analyzed. Only the text decoder is modelled."""

    Text = "text"
    Vision = "vision"


@dataclass(frozen=True)
class QueryConfig:
    """One inference step's batch: query q holds `cached_tokens[q]` tokens in its KV cache and
    brings `input_tokens[q]` new ones. Validates itself; derived totals live here once."""

    cached_tokens: tuple[int, ...]
    input_tokens: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.input_tokens:
            raise UsageError("the batch is empty: give at least one query")
        if len(self.cached_tokens) != len(self.input_tokens):
            raise UsageError(
                f"--cached-tokens has {len(self.cached_tokens)} values but --input-tokens has "
                f"{len(self.input_tokens)}: give one of each per query"
            )
        for (cached, new), _ in self.groups:  # each distinct query shape once
            problem = None
            if not all(type(v) is int for v in (cached, new)):
                problem = f"token counts must be integers, got {cached}, {new}"
            elif cached < 0:
                problem = f"cached tokens must be >= 0, got {cached}"
            elif new < 1:
                problem = f"input tokens must be >= 1, got {new}"
            if problem:
                raise UsageError(f"query {self.queries.index((cached, new))}: {problem}")

    @classmethod
    def from_lists(
        cls, cached: Sequence[int], inputs: Sequence[int], batch_size: int | None = None
    ) -> QueryConfig:
        """Queries from per-query lists; with `batch_size`, the lists repeat to that many."""
        if batch_size is not None:
            if batch_size < 1 or not inputs or batch_size % len(inputs) != 0:
                raise UsageError(
                    f"--batch-size {batch_size} must be a positive multiple of the number of "
                    f"queries given ({len(inputs)})"
                )
            repeat = batch_size // len(inputs)
            cached, inputs = list(cached) * repeat, list(inputs) * repeat
        return cls(tuple(cached), tuple(inputs))

    @cached_property
    def queries(self) -> list[tuple[int, int]]:
        """(cached, input) per query."""
        return list(zip(self.cached_tokens, self.input_tokens, strict=True))

    @cached_property
    def groups(self) -> tuple[tuple[tuple[int, int], int], ...]:
        """((cached, input), how many queries) per distinct query shape, first seen first: per-query
        costs are computed once per shape."""
        return tuple(Counter(self.queries).items())

    @property
    def num_queries(self) -> int:
        return len(self.input_tokens)

    @cached_property
    def total_input_tokens(self) -> int:
        """T: the tokens every per-token op (projections, norms, MLPs) processes this step."""
        return sum(self.input_tokens)

    @property
    def kv_length_groups(self) -> list[tuple[int, int]]:
        """(L_q = cached + input, how many queries) per distinct query shape: the context each
        query reaches at the end of the step."""
        return [(c + n, count) for (c, n), count in self.groups]

    @property
    def is_decode(self) -> bool:
        """Every query brings exactly one token (a generation step)."""
        return all(n == 1 for n in self.input_tokens)

    @property
    def is_prefill(self) -> bool:
        """No query has anything cached (the first step of every query)."""
        return all(c == 0 for c in self.cached_tokens)


def torch_dtype_width(dtype: str) -> Number:
    """Bytes per element of a dtype name ("bfloat16", "torch.float16", "fp8", "mxfp4", ...)."""
    try:
        return lookup_format(dtype).bytes
    except KeyError:
        raise ConfigError(f"unknown dtype {dtype!r}") from None


# FLOPs per element of each activation function, counting +, -, *, / and one per transcendental
# (exp, tanh, erf) as one FLOP each.
# NB: silu(x) = x / (1 + exp(-x)): negate, exp, add, divide = 4.
#     gelu(x) = x/2 * (1 + erf(x / sqrt 2)): divide, erf, add, multiply, halve = 5.
#     gelu_tanh(x) = x/2 * (1 + tanh(c * (x + 0.044715 x^3))): x^3 (2), *0.044715, +x, *c, tanh,
#     +1, *x, *0.5 = 9.   relu = 1 (a compare).   sigmoid = 1/(1+exp(-x)) = 4.
#     gpt_oss_swiglu (GptOssExperts._apply_gate, applied to the gate and up halves): clamp gate (1),
#     clamp up (2), gate * alpha (1), sigmoid (4), gate * sigmoid (1), up + 1 (1) = 10; the
#     multiply of the two halves is ActMul's + 1.
ACT_FLOPS: dict[str, int] = {
    "silu": 4,
    "swish": 4,
    "sigmoid": 4,
    "gelu": 5,
    "gelu_pytorch_tanh": 9,
    "gelu_new": 9,
    "gelu_fast": 9,
    "gelu_tanh": 9,
    "relu": 1,
    "gpt_oss_swiglu": 10,
}


def act_flops(act: str) -> int:
    """FLOPs per element of the activation function `act` (a HuggingFace `hidden_act` name)."""
    try:
        return ACT_FLOPS[act]
    except KeyError:
        raise ConfigError(
            f"unknown activation {act!r} (supported: {', '.join(sorted(ACT_FLOPS))})"
        ) from None
