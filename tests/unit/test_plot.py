"""The roofline chart is written, valid, and non-trivial (it was also looked at by a person)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import catalog_config

from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import Execution, on_hardware
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.output.plot import check_plot_path, plot_roofline
from transformer_roofline.parsers import select_parser


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("execution", list(Execution))
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


def test_grid_chart_is_written(tmp_path: Path) -> None:
    from transformer_roofline import sweep
    from transformer_roofline.core.output.grid import plot_grid

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
