"""Every family's hand-written config (tests/end-to-end/configs/<family>/) through the whole
pipeline: tensor, pipeline and expert parallelism, hardware timing and a grid, with the
invariants of the split (core/model/parallel.py) on the real layer stack."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import ROOT

from transformer_roofline.core.api import sweep
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import on_hardware
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.layers import MIXERS
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.parsers import select_parser

CONFIGS = sorted(
    path
    for path in (ROOT / "tests" / "end-to-end" / "configs").glob("*/config.json")
    if not path.parent.name.startswith(("bad", "no-"))
)
BATCH = QueryConfig.from_lists([0, 9, 30], [5, 1, 1])


def _parser(path: Path):
    config = json.loads(path.read_text())
    return select_parser(config)(config)


def _split_totals(report: Report) -> tuple[int, Fraction]:
    """FLOPs and weight bytes of the rows a split divides (not replicated, not communication),
    over every stage of one tensor-parallel rank."""
    flops, weights = 0, Fraction(0)
    for stage in report.stages:
        for row in stage.rows:
            if not row.replicated and row.comm is None and row.kind.value == "gemm":
                flops += row.cost.flops * row.blocks
                weights += Fraction(row.param_bytes) * row.blocks
    return flops, weights


def _tp(parser) -> int:
    """2 where the config's dims split over two ranks, else 1."""
    try:
        parser.check_split(Parallelism(2))
    except UsageError:
        return 1
    return 2


def _kinds(parser) -> set[str]:
    classes = {type(mixer) for block in parser.distinct_blocks for mixer in block.mixers}
    return {kind for kind, cls in MIXERS.items() if cls in classes}


def test_every_layer_kind_is_split_by_some_family_config() -> None:
    split = set().union(*(_kinds(p) for p in map(_parser, CONFIGS) if _tp(p) == 2))
    assert split == set(MIXERS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_splits_time_and_grid(path: Path) -> None:
    parser = _parser(path)
    single = analyze(parser, BATCH)
    h100 = resolve_hardware("H100-SXM5-80GB")
    assert on_hardware(single, h100).step_time_s > 0
    moe = any("Moe" in type(m).__name__ for b in parser.distinct_blocks for m in b.mixers)
    tp = _tp(parser)
    for parallel in (Parallelism(tp), Parallelism(pp=2), Parallelism(tp, 2, tp if moe else 1)):
        split = analyze(parser, BATCH, parallel)
        result = on_hardware(split, h100)
        assert result.step_time_s > 0 and len(result.stage_times_s) == parallel.pp
        assert split.parameters == single.parameters
        assert sum(len(stage.layers) for stage in split.stages) == single.num_blocks
        assert split.model_kv_cache_bytes == single.model_kv_cache_bytes
        # one rank of each stage does 1/TP of the split GEMMs (more where it replicates heads)
        flops, weights = _split_totals(split)
        whole_flops, whole_weights = _split_totals(single)
        if split.notes:
            assert flops * parallel.tp >= whole_flops
        else:
            assert (flops * parallel.tp, weights * parallel.tp) == (whole_flops, whole_weights)
    grid = sweep(parser, batch_sizes=[1, 8], cached_tokens=[0, 100], hardware=[h100])
    assert len(grid) == 4 and all(s.step_time_s and s.step_time_s > 0 for s in grid)
