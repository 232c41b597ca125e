"""Vision towers against what HuggingFace's own classes and image processors give.

For every multimodal config (the 2026 ones from `../shared/reference/configs-next/`, skipped where
that folder is absent; Llama-4-Scout bundled in core/catalog/) and for the hand-written tiny
configs of tests/end-to-end/configs/ (always), `tools/measure_next.py --vision` recorded HF's
figures (tests/reference/measured-next.json, measured-vision-tiny.json):

- parameters: the encoder and projector, HF's top-level class minus its text decoder: exact;
- image tokens per image for 20 sizes (tiny, odd, extreme aspect ratios, past every cap): what
  HF's processor produces, exact, with the resized size and grid;
- matmul FLOPs of one image at three sizes (native, 448x448, 1024x768): within 1% of
  FlopCounterMode, and by part. Convention: matmul FLOPs are 2 per multiply-add of GEMMs (the
  patch embedding's convolution is one), QK^T and PV; the only difference is Gemma 4's pooling,
  which HF runs as a one-hot float32 matmul (2 x soft tokens x positions x hidden) and an engine
  (and this tool) as an average: not matmul FLOPs here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import CATALOG, ROOT

from transformer_roofline.core.api import analyze_model
from transformer_roofline.core.model.report import Report

NEXT_DIR = ROOT.parent / "shared" / "reference" / "configs-next"
CONFIGS = ROOT / "tests" / "end-to-end" / "configs"


def _load(name: str) -> dict[str, Any]:
    data = json.loads((ROOT / "tests" / "reference" / name).read_text())
    return {k: v["vision"] for k, v in data.items() if not k.startswith("_") and "vision" in v}


REAL = _load("measured-next.json")
TINY = _load("measured-vision-tiny.json")
EXPECTED_NEXT = json.loads((ROOT / "tests" / "reference" / "expected-next.json").read_text())
CASES = [("real", stem) for stem in sorted(REAL)] + [("tiny", stem) for stem in sorted(TINY)]


def config_path(kind: str, stem: str) -> Path:
    if kind == "tiny":
        return CONFIGS / stem / "config.json"
    bundled = CATALOG / f"{stem}.json"
    if bundled.exists():
        return bundled
    path = NEXT_DIR / f"{stem}.json"
    if not path.exists():
        pytest.skip(f"{NEXT_DIR} is absent: the 2026 configs are third-party and not committed")
    return path


def measured(kind: str, stem: str) -> dict[str, Any]:
    return (REAL if kind == "real" else TINY)[stem]


def vision(kind: str, stem: str, width: int, height: int) -> Report:
    return analyze_model(config_path(kind, stem), mode="vision", image_size=(height, width)).report


def test_every_multimodal_config_is_covered() -> None:
    assert len(REAL) == 9 and len(TINY) == 5
    families = {entry["family"] for entry in REAL.values()}
    assert families == {"qwen", "gemma4", "kimi", "llama4"}


@pytest.mark.parametrize(("kind", "stem"), CASES)
def test_parameters_are_hf_exactly(kind: str, stem: str) -> None:
    hf = measured(kind, stem)["parameters"]
    total = hf["parameters_vision_and_projector"]
    assert total == hf["check_top_minus_text"]
    report = analyze_model(config_path(kind, stem), mode="vision").report
    assert report.parameters["total"] == total


@pytest.mark.parametrize("stem", sorted(s for s in REAL if s in EXPECTED_NEXT))
def test_parameters_are_the_published_difference(stem: str) -> None:
    """The issue's ground truth: parameters_with_vision_audio - parameters_text_decoder."""
    team = EXPECTED_NEXT[stem]
    difference = team["parameters_with_vision_audio"] - team["parameters_text_decoder"]
    report = analyze_model(config_path("real", stem), mode="vision").report
    assert report.parameters["total"] == difference


def test_llama4_scout_is_the_issue_figure() -> None:
    report = analyze_model("meta-llama/Llama-4-Scout-17B-16E-Instruct", mode="vision").report
    assert report.parameters["total"] == 108_641_793_536 - 107_769_861_120 == 871_932_416


@pytest.mark.parametrize(("kind", "stem"), CASES)
def test_image_tokens_are_hf_processor_s(kind: str, stem: str) -> None:
    sizes = measured(kind, stem)["image_tokens"]
    assert len(sizes) >= 20
    for key, hf in sizes.items():
        width, height = map(int, key.split("x"))
        grid = vision(kind, stem, width, height).images
        assert grid is not None
        assert grid.grid.tokens == hf["image_tokens"], key
        if "canvas_hw" in hf:  # Llama 4: tiles of the canvas, and the global one
            assert list(grid.grid.resized) == hf["canvas_hw"], key
            assert grid.grid.sequences == hf["tiles"], key
        else:
            assert list(grid.grid.resized) == hf.get("padded_hw", hf["resized_hw"]), key
            assert grid.grid.patches == hf["patches"], key
            fed = hf.get("padded_patches_fed_to_encoder", hf["patches"])
            assert grid.grid.sequence_tokens == fed, key


# Our row names -> the parts measure_next.py attributes HF's FLOPs to.
PARTS = (
    ("DeepStack", "deepstack_merger"),
    ("Patch_Embed", "patch_embed"),
    ("SDPA", "attn_core"),
    ("Attn - ", "attn_proj"),
    ("Ffn - ", "mlp"),
    ("", "projector"),
)


def by_part(report: Report) -> dict[str, int]:
    parts: dict[str, int] = defaultdict(int)
    for row in report.rows:
        if row.cost.matmul_flops:
            part = next(p for prefix, p in PARTS if prefix in row.name)
            parts[part] += row.total_cost.matmul_flops
    return dict(parts)


@pytest.mark.parametrize(("kind", "stem"), CASES)
def test_matmul_flops_are_hf_counter_s(kind: str, stem: str) -> None:
    entry = measured(kind, stem)
    runs = [value for key, value in entry.items() if key.startswith("flops_")]
    assert len(runs) == 3
    for hf in runs:
        width, height = hf["image_wh"]
        report = vision(kind, stem, width, height)
        ours = report.total.matmul_flops
        if kind == "real":  # (a tiny tower's pooling weighs more than 1% of it)
            assert abs(ours / hf["matmul_flops_total"] - 1) < 0.01, (width, height)
        expected = {k: v for k, v in hf["by_part"].items() if k != "pooler"}
        assert by_part(report) == expected, (width, height)
        # the one part not counted as a matmul: Gemma 4's pooling (a one-hot matmul in HF)
        assert ours == hf["matmul_flops_total"] - hf["by_part"].get("pooler", 0)
