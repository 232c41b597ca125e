"""The charts hold on real inputs: written and valid; every text inside the figure and no two
labels over each other; every point under the roof of the format it ran at; pipeline charts show
the stage the table shows; large grids drawn fast and readably (they were also looked at)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import catalog_config

from transformer_roofline import analyze_model, plan_model, sweep
from transformer_roofline.core.api import Scenario
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import Execution, on_hardware
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.output.plot import (
    MAX_GRID_LINES,
    check_plot_path,
    grid_chart,
    plan_chart,
    plot_grid,
    plot_roofline,
    roofline_chart,
)
from transformer_roofline.parsers import select_parser


def assert_readable(fig: Any) -> None:
    """Everything drawn lies inside the figure (titles, tick labels, legends, labels), and no two
    point labels overlap or touch side by side (two labels "8" that touch read "88")."""
    from matplotlib.text import Annotation, Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    boxes += [t.get_window_extent(renderer) for t in fig.texts if t.get_text()]
    if fig._suptitle is not None:
        boxes.append(fig._suptitle.get_window_extent(renderer))
    for box in boxes:
        assert box.x0 >= page.x0 - 0.5 and box.x1 <= page.x1 + 0.5, (box, page)
        assert box.y0 >= page.y0 - 0.5 and box.y1 <= page.y1 + 0.5, (box, page)
    for ax in fig.axes:
        labels = [t for t in ax.texts if isinstance(t, Annotation)]
        extents = [Text.get_window_extent(t, renderer) for t in labels]  # without the leader
        for i, a in enumerate(extents):
            assert ax.bbox.x0 <= a.x0 and a.x1 <= ax.bbox.x1, labels[i].get_text()
            assert ax.bbox.y0 <= a.y0 and a.y1 <= ax.bbox.y1, labels[i].get_text()
            for j in range(i):
                b = extents[j]
                apart = a.x1 + 4 <= b.x0 or b.x1 + 4 <= a.x0 or a.y1 <= b.y0 + 0.5
                assert apart or b.y1 <= a.y0 + 0.5, (labels[i].get_text(), labels[j].get_text())


def title_of(fig: Any) -> str:
    return fig.axes[0].get_title()


# --- the roofline chart ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, execution", [(".png", Execution.FUSED), (".svg", Execution.EAGER)]
)
def test_chart_is_written(tmp_path: Path, suffix: str, execution: Execution) -> None:
    config = catalog_config("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    report = analyze(select_parser(config)(config), QueryConfig.from_lists((0, 4096), (2048, 1)))
    results = [
        on_hardware(report, resolve_hardware(name), execution)
        for name in ("H100-SXM5-80GB", "MI300X-192GB")
    ]
    path = tmp_path / f"roofline{suffix}"
    plot_roofline(report, results, check_plot_path(str(path)))
    data = path.read_bytes()
    assert len(data) > 30_000
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


def test_plot_path_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"must end in \.png or \.svg"):
        check_plot_path(str(tmp_path / "chart.pdf"))
    with pytest.raises(UsageError, match="does not exist"):
        check_plot_path(str(tmp_path / "missing" / "chart.png"))


def roofs_and_points(fig: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The drawn roofs ("<device> <format>" -> (xs, ys)) and points (-> offsets)."""
    ax = fig.axes[0]
    roofs = {
        line.get_gid()[5:]: (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        for line in ax.lines
        if (line.get_gid() or "").startswith("roof ")
    }
    points = {
        c.get_gid()[7:]: np.asarray(c.get_offsets())
        for c in ax.collections
        if (c.get_gid() or "").startswith("points ")
    }
    return roofs, points


FP8_RUNS = {
    # DeepSeek-V3's fp8 checkpoint quantizes activations too: its GEMMs run at the fp8 peak, its
    # attention at bf16, its elementwise ops (eager) on the vector units
    "deepseek-v3 fp8 prefill": ("deepseek-ai/DeepSeek-V3", {"input_tokens": [4096]}),
    "deepseek-v3 fp8 prefill and decode, eager: many ops, a long title": (
        "deepseek-ai/DeepSeek-V3",
        {"cached_tokens": [0, 8191], "input_tokens": [4096, 1], "execution": "eager"},
    ),
    "llama fp8 x fp8": (
        "meta-llama/Llama-3.1-8B",
        {"input_tokens": [4096], "weight_dtype": "fp8", "activation_dtype": "fp8"},
    ),
}


@pytest.mark.parametrize("case", FP8_RUNS, ids=list(FP8_RUNS))
def test_every_point_sits_under_the_roof_of_its_format(case: str) -> None:
    """The issue: fp8 GEMMs drawn above the only roof shown (bf16). Each device now draws a roof
    for every format its drawn ops ran at, and each point lies under its own (on it: the ideal
    time is the roofline's)."""
    model, options = FP8_RUNS[case]
    analysis = analyze_model(
        model, hardware=["H100-SXM5-80GB", "B200-180GB", "A100-SXM4-80GB"], **options
    )
    fig = roofline_chart(analysis.report, analysis.hardware)
    roofs, points = roofs_and_points(fig)
    assert {"H100-SXM5-80GB fp8", "B200-180GB fp8"} <= set(roofs)
    assert not any(key.startswith("A100") and key.endswith("fp8") for key in roofs)  # no fp8
    above_bf16 = 0
    for key, offsets in points.items():
        xs, ys = roofs[key]
        assert len(offsets)
        for x, y in offsets:
            roof = math.exp(np.interp(math.log(x), np.log(xs), np.log(ys)))
            assert y <= roof * (1 + 1e-9), (key, x, y, roof)
            device = key.split()[0]
            bf16 = roofs.get(f"{device} bf16") or roofs.get(f"{device} fp8")
            if key.endswith("fp8") and bf16 is not None and y > bf16[1][-1] * 1.01:
                above_bf16 += 1
    if case.startswith("deepseek"):
        assert above_bf16  # what the single bf16 roof got wrong
    assert_readable(fig)


def test_readme_roofline_text_fits_and_labels_do_not_collide() -> None:
    """The README's chart, whose title was cut at both edges."""
    analysis = analyze_model(
        "meta-llama/Llama-3.1-8B",
        cached_tokens=[4096],
        input_tokens=[1],
        batch_size=64,
        hardware=["H100-SXM5-80GB", "A100-SXM4-80GB"],
    )
    fig = roofline_chart(analysis.report, analysis.hardware)
    assert_readable(fig)
    assert len(fig.axes[0].texts) == 6  # every op of the step: 5 GEMMs and attention


PIPELINES = {
    # the stage with the most FLOPs (2) is not the slowest on H100 (0): the old chart labelled
    # stage 2's rows with stage 0's timings
    "llama-8b decode, PP 3": ("meta-llama/Llama-3.1-8B", 3, 4096, 1, 64),
    # stages of different row counts: the old chart ended in IndexError
    "kimi-k2 prefill, PP 2": ("moonshotai/Kimi-K2-Instruct", 2, 0, 512, 1),
}


@pytest.mark.parametrize("case", PIPELINES, ids=list(PIPELINES))
def test_pipeline_views_show_one_stage(case: str) -> None:
    """The table, JSON, the chart and a grid's FLOPs all show the first device's busiest stage."""
    model, pp, cached, new, batch = PIPELINES[case]
    hardware = ["H100-SXM5-80GB"]
    analysis = analyze_model(
        model,
        cached_tokens=[cached],
        input_tokens=[new],
        batch_size=batch,
        pipeline_parallel=pp,
        hardware=hardware,
    )
    report, result = analysis.report, analysis.hardware[0]
    busiest = max(range(pp), key=lambda i: result.stage_times_s[i])
    most_flops = max(range(pp), key=lambda i: report.stages[i].total.flops)
    assert busiest != most_flops  # the two rules differ here
    stage = report.stages[busiest]

    assert json.loads(analysis.render("json"))["parallel"]["stage_shown"] == busiest
    assert f", stage {busiest} (layers {stage.layers.start}-" in analysis.render("table")
    fig = roofline_chart(report, analysis.hardware)
    assert f"stage {busiest} of {pp} (layers {stage.layers.start}-" in title_of(fig)
    drawn = sorted(
        row.cost.operational_intensity
        for row in stage.rows
        if row.cost.flops and row.cost.total_bytes and row.kind.value != "elementwise"
    )
    offsets = np.concatenate(list(roofs_and_points(fig)[1].values()))  # one device
    assert sorted(offsets[:, 0]) == pytest.approx(drawn)
    (point,) = sweep(
        model,
        batch_sizes=[batch],
        cached_tokens=[cached],
        input_tokens=new,
        hardware=hardware,
        parallel=Parallelism(1, pp),
    )
    assert point.flops == stage.total.flops
    assert_readable(fig)


# --- the grid chart ----------------------------------------------------------------------------


def test_grid_chart_is_written(tmp_path: Path) -> None:
    scenarios = sweep(
        "meta-llama/Llama-3.1-8B",
        batch_sizes=[1, 8, 64, 512],
        cached_tokens=[1024, 32768],
        hardware=["H100-SXM5-80GB", "L40S-48GB"],
    )
    path = tmp_path / "grid.png"
    plot_grid(scenarios, "test", path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 30_000
    assert any(not s.fits for s in scenarios)  # hollow points are drawn too


def test_readme_grid_labels_do_not_collide() -> None:
    """The README's grid: 9 batches on 6 lines whose points meet (where '8' and '8' read '88')."""
    scenarios = sweep(
        "meta-llama/Llama-3.1-70B",
        batch_sizes=[2**k for k in range(9)],
        cached_tokens=[1024, 8192, 32768],
        hardware=["H100-SXM5-80GB", "H200-SXM-141GB"],
        parallel=Parallelism(4),
    )
    fig = grid_chart(scenarios, "Llama-3.1-70B, TP 4")
    assert_readable(fig)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("256") >= 5 and len(texts) >= 30  # most points still labelled


def synthetic_grid(batches: int, contexts: int, devices: int) -> list[Scenario]:
    """A grid shaped like a decode step: weights once, KV per query; the larger batches at the
    longer contexts do not fit."""
    out = []
    for d in range(devices):
        for c in range(contexts):
            cached = 1024 * (c + 1)
            for b in range(1, batches + 1):
                step = (1 + d) * (8e-3 + 2e-9 * b * cached)
                fits = b * cached < 2e6
                out.append(Scenario(b, cached, 1, 0, 0, f"GPU-{d}", step, b / step, "memory", fits))
    return out


@pytest.mark.parametrize(
    "batches, contexts, devices",
    [(2500, 4, 2), (200, 100, 1)],
    ids=["20k points on 8 lines", "20k points as a heatmap"],
)
def test_large_grids_draw_fast(tmp_path: Path, batches: int, contexts: int, devices: int) -> None:
    """Measured: 100k points in 0.9-1.9 s here (2 cores) with matplotlib's import; 5,120 points
    took 37 s before. Readable: lines without per-point labels past 64 batches, a heatmap past
    MAX_GRID_LINES lines."""
    scenarios = synthetic_grid(batches, contexts, devices)
    assert len(scenarios) == 20_000
    start = time.perf_counter()
    fig = grid_chart(scenarios, "synthetic")
    fig.savefig(tmp_path / "grid.png")
    assert time.perf_counter() - start < 5
    heatmap = devices * contexts > MAX_GRID_LINES
    if heatmap:
        assert fig.get_suptitle().startswith("synthetic\n20,000 scenarios")
    else:
        labels = [t.get_text() for t in fig.axes[0].texts]
        assert "2500" in labels and len(labels) <= 10 * devices * contexts
    assert_readable(fig)


# --- the plan chart ----------------------------------------------------------------------------


def test_plan_chart_text_fits_and_labels_do_not_collide(tmp_path: Path) -> None:
    plan = plan_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=2048,
        output_tokens=512,
        ttft_slo=2,
        tpot_slo=0.05,
        hardware=["H100-SXM5-80GB", "H200-SXM-141GB"],
        max_devices=4,
    )
    fig = plan_chart(plan, "meta-llama/Llama-3.1-8B")
    assert_readable(fig)
    assert len(fig.axes[0].texts) >= min(4, len(plan.front))
