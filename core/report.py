"""`analyze(...) -> Report`: the pure result of one analysis, before any formatting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from core.base_parser import BaseModelConfigParser, StoragePart
from core.ops import Cost
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


@dataclass(frozen=True)
class Report:
    source: str  # what the user named: a path or a hub name
    model_type: str
    dtype: str  # the weight format's name
    precision: Precision
    num_blocks: int
    queries: QueryConfig
    rows: tuple[Row, ...]
    kv_cache_bytes: Number
    weight_bytes: Number  # every parameter at its stored width
    storage_parts: tuple[StoragePart, ...] = field(default=())

    @cached_property
    def total(self) -> Cost:
        """The whole step: every row times the blocks that run it."""
        total = Cost()
        for row in self.rows:
            total += row.total_cost
        return total

    @cached_property
    def parameters(self) -> dict[str, int]:
        """Distinct parameters held ("total"), and by HuggingFace reference category."""
        by_group = {
            group: sum(r.params * r.blocks for r in self.rows if r.category in categories)
            for group, categories in PARAMETER_GROUPS.items()
        }
        return {"total": sum(by_group.values()), **by_group}

    @property
    def storage_bytes(self) -> Number:
        """Minimum storage: the weights and the KV cache."""
        return self.weight_bytes + self.kv_cache_bytes


def analyze(parser: BaseModelConfigParser, queries: QueryConfig, source: str = "") -> Report:
    """The cost of one inference step of `queries` on the model `parser` read."""
    rows = tuple(parser.hw_req_by_layers(queries))
    kv = parser.get_kvcache_size(queries)
    extra = parser.get_extra_storage_req()
    parts = [*_block_weight_parts(rows), *extra]
    weight_bytes = sum((part.bytes for part in parts), start=0)
    return Report(
        source=source,
        model_type=str(parser.config.get("model_type", parser.model_type)),
        dtype=parser.precision.weight.name,
        precision=parser.precision,
        num_blocks=parser.get_num_blocks(),
        queries=queries,
        rows=rows,
        kv_cache_bytes=kv,
        weight_bytes=weight_bytes,
        storage_parts=(*parts, StoragePart("KV cache", kv)),
    )


def _block_weight_parts(rows: Sequence[Row]) -> list[StoragePart]:
    parts = []
    for name, categories in _BLOCK_STORAGE_PARTS.items():
        held = [r for r in rows if r.per_block and r.category in categories and r.params]
        if held:
            parts.append(StoragePart(name, sum((r.param_bytes * r.blocks for r in held), start=0)))
    return parts
