"""`analyze(parser, queries, parallel) -> Report`: the pure result of one analysis, before any
formatting.

Without parallelism a report has one stage: the whole step on one device. With parallelism each
pipeline stage has the rows of one of its devices (a tensor-parallel rank), and a view shows one
of them (`shown_stage` in core/hardware/roofline.py says which); parameters are always the whole
model's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..layers.blocks import Block, block_rows
from ..layers.ends import StoragePart
from ..ops import Cost, Number
from .builder import OpBuilder
from .formats import lookup_format
from .parallel import SINGLE_DEVICE, Parallelism
from .precision import Precision
from .queries import QueryConfig
from .rows import Category, Row, merge_block_rows
from .state import StateFormat

if TYPE_CHECKING:
    from ..hardware.roofline import HardwareResult

if TYPE_CHECKING:
    from .images import ImageBatch


class Depth(Protocol):
    @property
    def num_layers(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...


class Ends(Protocol):
    """What runs outside the blocks (core/layers/ends.py for a decoder, core/vision/ends.py for
    a vision encoder)."""

    def embedding_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]: ...

    def head_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]: ...

    def send_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]: ...

    def storage(self, ops: OpBuilder, first: bool, last: bool) -> list[StoragePart]: ...


class LayerStack(Protocol):
    """What `analyze` needs of a model: a text parser (core/base_parser.py) or a vision encoder
    pass (core/vision/tower.py)."""

    tower: ClassVar[str]  # "text" or "vision"

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def precision(self) -> Precision: ...

    @property
    def dims(self) -> Depth: ...

    @property
    def distinct_blocks(self) -> tuple[Block, ...]: ...

    def ends(self) -> Ends: ...

    def ops(self, parallel: Parallelism) -> OpBuilder: ...

    def check_split(self, parallel: Parallelism) -> None: ...

    def block_kinds(self, layers: range) -> Counter[Block]: ...


# Reference parameter breakdown (HuggingFace categories) -> the row categories it sums.
PARAMETER_GROUPS: dict[str, tuple[Category, ...]] = {
    "embedding": (Category.EMBEDDING,),
    "attention": (Category.ATTN_PROJ, Category.ATTN_CORE),
    "mixers": (Category.MIXER,),
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
    "Mixers": (Category.MIXER,),
    "FFN": (Category.MLP_DENSE,),
    "Routed experts": (Category.MLP_ROUTED,),
    "Shared experts": (Category.MLP_SHARED,),
    "Router": (Category.ROUTER,),
    "Norms": (Category.NORM,),
    "Other": (Category.OTHER,),
}

_FLOAT32 = lookup_format("float32")


def total_cost(rows: Sequence[Row]) -> Cost:
    """Every row times the blocks that run it."""
    total = Cost()
    for row in rows:
        total += row.total_cost
    return total


@dataclass(frozen=True)
class Stage:
    """One device of one pipeline stage: its rows, its weights and the state its queries keep."""

    index: int
    layers: range
    rows: tuple[Row, ...]
    weight_parts: tuple[StoragePart, ...]
    state_parts: tuple[StoragePart, ...]  # by kind: KV cache, indexer keys, recurrent state, ...

    @cached_property
    def total(self) -> Cost:
        return total_cost(self.rows)

    @property
    def weight_bytes(self) -> Number:
        return sum((part.bytes for part in self.weight_parts), start=0)

    @property
    def kv_cache_bytes(self) -> Number:
        """Everything the queries keep between steps on this device (every state part)."""
        return sum((part.bytes for part in self.state_parts), start=0)

    @property
    def storage_bytes(self) -> Number:
        return self.weight_bytes + self.kv_cache_bytes

    @property
    def storage_parts(self) -> tuple[StoragePart, ...]:
        return (*self.weight_parts, *self.state_parts)

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
    parameters: dict[str, int]  # the whole model: "total" and by category
    model_weight_bytes: Number  # the whole model's weights at their stored formats
    model_kv_cache_bytes: Number  # the whole model's query state (one copy)
    notes: tuple[str, ...] = ()  # what the parallel split replicates
    tower: str = "text"  # "vision": a vision encoder's pass over images
    images: ImageBatch | None = None  # the images of the step (per query in a text prompt)

    @cached_property
    def shown(self) -> Stage:
        """The stage with the most FLOPs (the first of equals): what a view without hardware shows
        (the rule for every view: `shown_stage` in core/hardware/roofline.py). `rows`, `total`
        and the storage figures below are this stage's."""
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
        return self.shown.storage_parts

    @property
    def storage_bytes(self) -> Number:
        """Minimum storage of the shown device: its weights and its query state."""
        return self.shown.storage_bytes

    @property
    def model_storage_bytes(self) -> Number:
        """The whole model's weights and query state, on one device or spread over many."""
        return self.model_weight_bytes + self.model_kv_cache_bytes

    @property
    def device_memory_bytes(self) -> Number:
        """The most any device holds (weights + query state) over the pipeline stages."""
        return max(stage.storage_bytes for stage in self.stages)

    def device_memory_bytes_with(self, first_stage: Number) -> Number:
        """The most any device holds when the first stage's devices also hold `first_stage`
        bytes (a vision encoder's weights)."""
        return max(s.storage_bytes + (first_stage if s.index == 0 else 0) for s in self.stages)


def analyze(
    parser: LayerStack,
    queries: QueryConfig,
    parallel: Parallelism = SINGLE_DEVICE,
    source: str = "",
    images: ImageBatch | None = None,
) -> Report:
    """The cost of one inference step of `queries` on the model `parser` read, per device of each
    pipeline stage of `parallel`. `images`: what the queries carry (a vision encoder's: the
    images its sequences are; a text prompt's: the images whose tokens each query's input
    holds), for the output."""
    parser.check_split(parallel)
    stages = _stages(parser, queries, parallel)
    whole = stages[0] if parallel.devices == 1 else _stages(parser, queries, SINGLE_DEVICE)[0]
    return Report(
        source=source,
        model_type=str(parser.config.get("model_type", "")),
        dtype=parser.precision.weight.name,
        precision=parser.precision.restricted_to(row.category for row in whole.rows),
        num_blocks=parser.dims.num_layers,
        queries=queries,
        parallel=parallel,
        stages=stages,
        parameters=parameter_counts(whole.rows),
        model_weight_bytes=whole.weight_bytes,
        model_kv_cache_bytes=whole.kv_cache_bytes,
        notes=tuple(split_notes(parser, parallel)),
        tower=parser.tower,
        images=images,
    )


def parameter_counts(rows: Sequence[Row]) -> dict[str, int]:
    """Distinct parameters held ("total"), and by category."""
    by_group = {
        group: sum(r.params * r.blocks for r in rows if r.category in categories)
        for group, categories in PARAMETER_GROUPS.items()
    }
    return {"total": sum(by_group.values()), **by_group}


def split_notes(parser: LayerStack, parallel: Parallelism) -> list[str]:
    """What the tensor-parallel split replicates: state a rank holds more than 1/TP of."""
    tp, notes = parallel.tp, set()
    if tp == 1:
        return []
    for block in parser.distinct_blocks:
        for mixer in block.mixers:
            for whole, share in zip(mixer.states(1), mixer.states(tp), strict=True):
                held = Fraction(share.values, whole.values) if whole.values else Fraction(1, tp)
                if held > Fraction(1, tp):
                    notes.add(
                        f"TP {tp}: the {whole.kind} of {type(mixer).__name__} layers is "
                        f"replicated {held * tp}x: each rank holds "
                        f"{'all' if held == 1 else held} of it, not 1/{tp}"
                    )
    return sorted(notes)


def stage_rows(
    parser: LayerStack,
    ops: OpBuilder,
    queries: QueryConfig,
    layers: range,
    first: bool,
    last: bool,
) -> list[Row]:
    """Every row of one device of a pipeline stage: the embedding (first stage), the decoder
    blocks' ops (each with the number of blocks that run it), the final norm and the LM head
    (last stage), and the hand-off to the next stage."""
    ends = parser.ends()
    kinds = parser.block_kinds(layers)
    body = merge_block_rows((block_rows(ops, block, queries), n) for block, n in kinds.items())
    head = ends.head_rows(ops, queries) if last else ends.send_rows(ops, queries)
    return [*(ends.embedding_rows(ops, queries) if first else ()), *body, *head]


def state_parts(
    parser: LayerStack, ops: OpBuilder, queries: QueryConfig, layers: range
) -> list[StoragePart]:
    """What the queries keep between steps on one device of a stage, by kind: per query and
    layer, each state's units at the query's context length (after this step) times its values
    at its format's width."""
    widths = {
        StateFormat.KV: ops.precision.kv_cache.bytes,
        StateFormat.ACTIVATION: ops.precision.activation.bytes,
        StateFormat.FLOAT32: _FLOAT32.bytes,
    }
    lengths = queries.kv_length_groups
    by_kind: dict[str, Number] = {}
    growth: dict[str, set[str]] = {}
    for block, count in parser.block_kinds(layers).items():
        for state in block.states(ops.tp):
            units = sum(n * state.units(length) for length, n in lengths)
            held = count * units * state.values * widths[state.fmt]
            by_kind[state.kind] = by_kind.get(state.kind, 0) + held
            growth.setdefault(state.kind, set()).add(state.growth.value)
    return [
        StoragePart(kind, held, "/".join(sorted(growth[kind]))) for kind, held in by_kind.items()
    ]


def _stages(parser: LayerStack, queries: QueryConfig, parallel: Parallelism) -> tuple[Stage, ...]:
    ops = parser.ops(parallel)
    bounds = parallel.stages(parser.dims.num_layers)
    ends = parser.ends()
    stages = []
    for index, layers in enumerate(bounds):
        first, last = index == 0, index == len(bounds) - 1
        rows = tuple(stage_rows(parser, ops, queries, layers, first, last))
        weights = [*_block_weight_parts(rows), *ends.storage(ops, first, last)]
        states = state_parts(parser, ops, queries, layers)
        stages.append(Stage(index, layers, rows, tuple(weights), tuple(states)))
    return tuple(stages)


def _block_weight_parts(rows: Sequence[Row]) -> list[StoragePart]:
    parts = []
    for name, categories in _BLOCK_STORAGE_PARTS.items():
        held = [r for r in rows if r.per_block and r.category in categories and r.params]
        if held:
            parts.append(StoragePart(name, sum((r.param_bytes * r.blocks for r in held), start=0)))
    return parts


def shown_stage(report: Report, hardware: Sequence[HardwareResult] = ()) -> Stage:
    """The pipeline stage that every per-row view shows (the table, JSON's `layers`, CSV, the
    roofline chart, a grid's FLOPs): the one rule for all of them. With hardware, the stage that
    sets the step time on the first device given (its busiest); without, the stage with the most
    FLOPs (`Report.shown`). With one stage, that stage."""
    return report.stages[hardware[0].stage] if hardware else report.shown
