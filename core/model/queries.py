"""The batch of one inference step: per query, tokens already cached and new input tokens.

A batch is held as groups of identical queries, ((cached, input), count), in first-seen order:
every per-query cost is computed once per distinct shape, and a batch of a billion identical
queries costs no more memory or time than one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from ..errors import UsageError, shown

QueryGroups = tuple[tuple[tuple[int, int], int], ...]
"""((cached, input), how many queries) per distinct query shape."""

# Distinct query shapes one step may hold: per-shape work is a loop, so this bounds it.
MAX_DISTINCT_QUERIES = 10_000
# Tokens of one query (cached or new) and queries of one step: a million times any context or
# batch, low enough that every figure of a step (FLOPs grow with its square) stays a finite float.
MAX_COUNT = 10**15


@dataclass(frozen=True)
class QueryConfig:
    """One inference step's batch: `groups` of identical queries, each query holding `cached`
    tokens in its cache and bringing `input` new ones. Validates itself; derived totals live
    here once."""

    groups: QueryGroups

    def __post_init__(self) -> None:
        if not self.groups:
            raise UsageError("the batch is empty: give at least one query")
        if len(self.groups) > MAX_DISTINCT_QUERIES:
            raise UsageError(
                f"{len(self.groups)} distinct queries exceed the limit of {MAX_DISTINCT_QUERIES}"
            )
        for index, ((cached, new), count) in enumerate(self.groups):
            problem = None
            if not all(type(v) is int for v in (cached, new)):
                problem = f"token counts must be integers, got {shown(cached)}, {shown(new)}"
            elif type(count) is not int:
                problem = (
                    f"a query group's size (a batch size) must be an integer, got {shown(count)}"
                )
            elif cached < 0:
                problem = f"cached tokens must be >= 0, got {cached}"
            elif new < 1:
                problem = f"input tokens must be >= 1, got {new}"
            elif count < 1:
                problem = f"a query group needs at least one query, got {count}"
            elif max(cached, new, count) > MAX_COUNT:
                problem = f"token and query counts are at most {MAX_COUNT:.0e}"
            if problem:
                raise UsageError(f"query {index}: {problem}")

    @classmethod
    def from_lists(
        cls, cached: Sequence[int], inputs: Sequence[int], batch_size: int | None = None
    ) -> QueryConfig:
        """Queries from per-query lists; with `batch_size`, the lists repeat to that many."""
        for name, values in (("cached_tokens", cached), ("input_tokens", inputs)):
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise TypeError(f"{name} must be a list of integers, got {type(values).__name__}")
        if len(cached) != len(inputs):
            raise UsageError(
                f"--cached-tokens has {len(cached)} values but --input-tokens has "
                f"{len(inputs)}: give one of each per query"
            )
        repeat = 1
        if batch_size is not None:
            if (
                type(batch_size) is not int
                or batch_size < 1
                or not inputs
                or batch_size % len(inputs) != 0
            ):
                raise UsageError(
                    f"--batch-size {batch_size} must be a positive multiple of the number of "
                    f"queries given ({len(inputs)})"
                )
            repeat = batch_size // len(inputs)
        for value in (*cached, *inputs):
            if type(value) is not int:
                raise UsageError(f"token counts must be integers, got {value!r}")
        counts = Counter(zip(cached, inputs, strict=True))
        return cls(tuple((shape, n * repeat) for shape, n in counts.items()))

    @classmethod
    def uniform(cls, batch: int, cached: int, new: int) -> QueryConfig:
        """`batch` identical queries of `cached` + `new` tokens."""
        return cls((((cached, new), batch),))

    @cached_property
    def num_queries(self) -> int:
        return sum(count for _, count in self.groups)

    @cached_property
    def total_input_tokens(self) -> int:
        """T: the tokens every per-token op (projections, norms, MLPs) processes this step."""
        return sum(new * count for (_, new), count in self.groups)

    @property
    def kv_length_groups(self) -> list[tuple[int, int]]:
        """(L_q = cached + input, how many queries) per distinct query shape: the context each
        query reaches at the end of the step."""
        return [(c + n, count) for (c, n), count in self.groups]

    @property
    def is_decode(self) -> bool:
        """Every query brings exactly one token (a generation step)."""
        return all(n == 1 for (_, n), _ in self.groups)

    @property
    def is_prefill(self) -> bool:
        """No query has anything cached (the first step of every query)."""
        return all(c == 0 for (c, _), _ in self.groups)

    def describe(self) -> str:
        """'8 x (1024 cached + 1 input)', groups in first-seen order."""
        return ", ".join(f"{n} x ({c} cached + {i} input)" for (c, i), n in self.groups)
