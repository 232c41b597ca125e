"""`analyze(...) -> Report`: the pure result of one analysis, before any formatting.

Without parallelism a report has one stage: the whole step on one device. With parallelism each
pipeline stage has the rows of one of its devices (a tensor-parallel rank), and the report shows
the busiest one; parameters are always the whole model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from core.base_parser import BaseModelConfigParser, StoragePart
from core.ops import Cost
from core.parallel import Parallelism
from core.precision import Precision
from core.rows import Category, Row
from core.utils import Number, QueryConfig

# Reference parameter breakdown (HuggingFace categories) -> the row categories it sums.
PARAMETER_GROUPS: dict[str, tuple[Category, ...]] = {
    "embedding": (Category.EMBEDDING,),
    "attention": (Category.ATTN_PROJ, Category.ATTN_CORE),
    "mlp_dense": (Category.MLP_DENSE,),
    "mlp_routed_experts": (Category.MLP_ROUTED,),
    "mlp_shared_experts": (Category.MLP_SHARED,),
    "router": (Category.ROUTER,),
    "norms": (Category.NORM,),
    "lm_head": (Category.LM_HEAD,),
    "other": (Category.OTHER,),
}

# Storage parts of the decoder blocks' weights, by row category.
_BLOCK_STORAGE_PARTS: dict[str, tuple[Category, ...]] = {
    "Attention": (Category.ATTN_PROJ, Category.ATTN_CORE),
    "FFN": (Category.MLP_DENSE,),
    "Routed experts": (Category.MLP_ROUTED,),
    "Shared experts": (Category.MLP_SHARED,),
    "Router": (Category.ROUTER,),
    "Norms": (Category.NORM,),
    "Other": (Category.OTHER,),
}


def total_cost(rows: Sequence[Row]) -> Cost:
    """Every row times the blocks that run it."""
    total = Cost()
    for row in rows:
        total += row.total_cost
    return total


@dataclass(frozen=True)
class Stage:
    """One device of one pipeline stage: its rows, and what it holds."""

    index: int
    layers: range
    rows: tuple[Row, ...]
    kv_cache_bytes: Number
    weight_parts: tuple[StoragePart, ...]

    @cached_property
    def total(self) -> Cost:
        return total_cost(self.rows)

    @property
    def weight_bytes(self) -> Number:
        return sum((part.bytes for part in self.weight_parts), start=0)

    @property
    def storage_bytes(self) -> Number:
        return self.weight_bytes + self.kv_cache_bytes

    @property
    def replicated_weight_bytes(self) -> Number:
        """Weights every tensor-parallel rank holds in full (norms, routers, MLA a-projections)."""
        return sum((r.param_bytes * r.blocks for r in self.rows if r.replicated), start=0)


@dataclass(frozen=True)
class Report:
    source: str  # what the user named: a path or a hub name
    model_type: str
    dtype: str  # the weight format's name
    precision: Precision
    num_blocks: int
    queries: QueryConfig
    parallel: Parallelism
    stages: tuple[Stage, ...]
    parameters: dict[str, int]  # the whole model: "total" and by HuggingFace category
    model_weight_bytes: Number  # the whole model's weights at their stored formats
    model_kv_cache_bytes: Number  # the whole model's KV cache (one copy)
    notes: tuple[str, ...] = ()  # what the parallel split replicates

    @cached_property
    def shown(self) -> Stage:
        """The stage a device-level view shows: the one with the most FLOPs."""
        if len(self.stages) == 1:
            return self.stages[0]
        return max(self.stages, key=lambda stage: stage.total.flops)

    @property
    def rows(self) -> tuple[Row, ...]:
        return self.shown.rows

    @property
    def total(self) -> Cost:
        return self.shown.total

    @property
    def kv_cache_bytes(self) -> Number:
        return self.shown.kv_cache_bytes

    @property
    def weight_bytes(self) -> Number:
        return self.shown.weight_bytes

    @property
    def storage_parts(self) -> tuple[StoragePart, ...]:
        return (*self.shown.weight_parts, StoragePart("KV cache", self.kv_cache_bytes))

    @property
    def storage_bytes(self) -> Number:
        """Minimum storage of the shown device: its weights and its KV cache."""
        return self.shown.storage_bytes

    @property
    def model_storage_bytes(self) -> Number:
        """The whole model's weights and KV cache, on one device or spread over many."""
        return self.model_weight_bytes + self.model_kv_cache_bytes

    @property
    def device_memory_bytes(self) -> Number:
        """The most any device holds (weights + KV cache) over the pipeline stages."""
        return max(stage.storage_bytes for stage in self.stages)


def analyze(parser: BaseModelConfigParser, queries: QueryConfig, source: str = "") -> Report:
    """The cost of one inference step of `queries` on the model `parser` read, per device of each
    pipeline stage under the parser's parallelism."""
    stages = tuple(
        _stage(parser, queries, index, layers) for index, layers in enumerate(parser.stages())
    )
    whole = stages[0] if parser.parallel.devices == 1 else None
    if whole is None:
        single = parser.single_device()
        whole = _stage(single, queries, 0, single.stages()[0])
    return Report(
        source=source,
        model_type=str(parser.config.get("model_type", parser.model_type)),
        dtype=parser.precision.weight.name,
        precision=parser.precision,
        num_blocks=parser.get_num_blocks(),
        queries=queries,
        parallel=parser.parallel,
        stages=stages,
        parameters=parameter_counts(whole.rows),
        model_weight_bytes=whole.weight_bytes,
        model_kv_cache_bytes=whole.kv_cache_bytes,
        notes=tuple(parser.parallel_notes()),
    )


def parameter_counts(rows: Sequence[Row]) -> dict[str, int]:
    """Distinct parameters held ("total"), and by HuggingFace reference category."""
    by_group = {
        group: sum(r.params * r.blocks for r in rows if r.category in categories)
        for group, categories in PARAMETER_GROUPS.items()
    }
    return {"total": sum(by_group.values()), **by_group}


def _stage(parser: BaseModelConfigParser, queries: QueryConfig, index: int, layers: range) -> Stage:
    rows = tuple(parser.hw_req_by_layers(queries, index))
    parts = [*_block_weight_parts(rows), *parser.get_extra_storage_req(index)]
    return Stage(index, layers, rows, parser.get_kvcache_size(queries, index), tuple(parts))


def _block_weight_parts(rows: Sequence[Row]) -> list[StoragePart]:
    parts = []
    for name, categories in _BLOCK_STORAGE_PARTS.items():
        held = [r for r in rows if r.per_block and r.category in categories and r.params]
        if held:
            parts.append(StoragePart(name, sum((r.param_bytes * r.blocks for r in held), start=0)))
    return parts
