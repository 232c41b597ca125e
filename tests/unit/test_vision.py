"""Vision mode and images in a text prompt: properties, the prompt's arithmetic, parallelism and
bad input, on the hand-written tiny configs (their HF figures: test_vision_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from transformer_roofline.core.api import analyze_model, load_model, load_vision
from transformer_roofline.core.errors import UnsupportedModelError, UsageError
from transformer_roofline.core.model.masks import AttentionPattern
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import OpKind
from transformer_roofline.parsers import PARSER_REGISTRY
from transformer_roofline.parsers.vision import VISION_REGISTRY

CONFIGS = ROOT / "tests" / "end-to-end" / "configs"
TINY = {
    "qwen3_vl": CONFIGS / "tiny-qwen3-vl" / "config.json",
    "qwen3_5": CONFIGS / "tiny-qwen3-5-vl" / "config.json",
    "gemma4": CONFIGS / "tiny-gemma4-vision" / "config.json",
    "llama4": CONFIGS / "tiny-llama4-vision" / "config.json",
    "kimi_k25": CONFIGS / "tiny-kimi-k25-vision" / "config.json",
}
FAMILIES = sorted(TINY)
SIDES = st.integers(min_value=1, max_value=3000)


def encode(family: str, images: int = 1, size: tuple[int, int] | None = None, **kw) -> Report:
    return analyze_model(TINY[family], mode="vision", images=images, image_size=size, **kw).report


def processable(family: str, *sizes: tuple[int, int]) -> bool:
    """Qwen's processor refuses an aspect ratio above 200 (so does the tool: a usage error)."""
    return not family.startswith("qwen") or all(max(s) / min(s) <= 200 for s in sizes)


# --- bidirectional attention ---------------------------------------------------------------------


@given(st.integers(0, 40), st.integers(1, 40))
def test_bidirectional_pairs_are_every_key_of_the_sequence(cached: int, new: int) -> None:
    pattern = AttentionPattern.bidirectional()
    pairs = sum(1 for _q in range(new) for _k in range(cached + new))  # no mask at all
    assert pattern.pairs(cached, new) == pairs
    assert pattern.keys_read(cached, new) == cached + new


def test_an_encoder_keeps_nothing_between_steps() -> None:
    for family in FAMILIES:
        report = encode(family, 3)
        assert report.kv_cache_bytes == 0 and report.model_kv_cache_bytes == 0
        assert report.tower == "vision"


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(FAMILIES), st.integers(1, 64), SIDES, SIDES)
def test_n_images_cost_n_times_one_in_the_encoder(
    family: str, n: int, height: int, width: int
) -> None:
    """Every op runs per position or per (position, key) pair of an image's own sequences:
    N images are N times one image's work and activations; the weights are read once."""
    assume(processable(family, (height, width)))
    one, many = encode(family, 1, (height, width)), encode(family, n, (height, width))
    assert many.total.flops == n * one.total.flops
    assert many.total.matmul_flops == n * one.total.matmul_flops
    assert many.total.input_bytes == n * one.total.input_bytes
    assert many.total.output_bytes == n * one.total.output_bytes
    assert many.total.weight_bytes == one.total.weight_bytes
    assert many.parameters == one.parameters
    assert many.images is not None and many.images.tokens == n * one.images.tokens  # type: ignore[union-attr]


def _positions(report: Report) -> tuple[int, int]:
    assert report.images is not None
    return report.queries.total_input_tokens, report.images.tokens


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(FAMILIES), SIDES, SIDES, SIDES, SIDES)
def test_more_positions_and_tokens_never_cost_less(
    family: str, h1: int, w1: int, h2: int, w2: int
) -> None:
    """The encoder's cost grows with what the processor makes of an image: positions encoded
    and tokens handed on."""
    assume(processable(family, (h1, w1), (h2, w2)))
    a, b = encode(family, 1, (h1, w1)), encode(family, 1, (h2, w2))
    pa, pb = _positions(a), _positions(b)
    if pb[0] <= pa[0] and pb[1] <= pa[1]:
        a, b, pa, pb = b, a, pb, pa
    assume(pa[0] <= pb[0] and pa[1] <= pb[1])
    assert a.total.flops <= b.total.flops
    assert a.total.matmul_flops <= b.total.matmul_flops


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(FAMILIES), st.integers(1, 40), st.integers(1, 40), st.integers(1, 80))
def test_a_larger_image_of_the_same_shape_never_costs_less(
    family: str, a: int, b: int, scale: int
) -> None:
    """Scaling an image up (same aspect ratio) never costs less: Qwen and MoonViT below their
    caps; Gemma 4's patch budget and Llama 4's tile choice depend on the aspect only (HF's
    processors are not monotone in general: see test_hf_processors_are_not_monotone)."""
    small, large = (a * scale, b * scale), (a * (scale + 1), b * (scale + 1))
    assume(processable(family, small))
    if family == "kimi_k25" and (large[0] // 14) * (large[1] // 14) > 16384:
        return  # past MoonViT's cap (shrinks on the floored patch grid)
    if family.startswith("qwen") and large[0] * large[1] > 3_500**2:
        return  # near Qwen's max_pixels (the shrink floors each side)
    assert encode(family, 1, small).total.flops <= encode(family, 1, large).total.flops


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["qwen3_vl", "kimi_k25"]), SIDES, SIDES, SIDES, SIDES)
def test_a_larger_image_never_costs_less_where_nothing_caps_it(
    family: str, h: int, w: int, dh: int, dw: int
) -> None:
    """Qwen between its pixel bounds (each side rounded to 32 px) and MoonViT below its patch
    budget (never resized, padded to 28 px): larger in both sides never costs less."""
    small, large = (h, w), (h + dh, w + dw)
    assume(processable(family, small, large))
    if family == "qwen3_vl":
        grid = load_vision(TINY[family])[1].grid
        for size in (small, large):  # no min/max rescaling, no aspect refusal
            rh, rw = grid(size).resized
            if (round(size[0] / 32) * 32, round(size[1] / 32) * 32) != (rh, rw):
                return
    elif (large[0] // 14) * (large[1] // 14) > 16384 or max(large) > 7168:
        return
    assert encode(family, 1, small).total.flops <= encode(family, 1, large).total.flops


# The tiny towers with their processor's settings at the real checkpoints' values.
REAL_PROCESSOR = {"gemma4": {"vision_soft_tokens_per_image": 280}, "llama4": {"image_size": 336}}


@pytest.mark.parametrize(
    ("family", "smaller", "larger"),
    [
        ("qwen3_vl", (239, 239), (240, 240)),  # 239 -> ceil(8.0000001) = 9: 81 tokens; 240: 64
        ("kimi_k25", (1805, 1805), (1806, 1806)),  # 128 floored patches a side, then 129: shrunk
        ("gemma4", (768, 1024), (1080, 1920)),  # the budget of 2520 patches: 266 vs 264 tokens
        ("llama4", (2048, 2048), (3024, 4032)),  # 4x4 + 1 tiles vs 3x4 + 1
    ],
)
def test_hf_processors_are_not_monotone(
    family: str, smaller: tuple[int, int], larger: tuple[int, int]
) -> None:
    """Where HF's processors give a larger image fewer tokens (each pair is measured on HF's
    processors for the real configs in tests/reference/measured-next.json), so does the tool."""
    config = json.loads(TINY[family].read_text())
    settings_ = REAL_PROCESSOR.get(family, {})
    if family == "llama4":
        config["vision_config"] = {**config["vision_config"], **settings_}
    else:
        config.update(settings_)
    few = analyze_model(config, mode="vision", image_size=larger).report.images
    many = analyze_model(config, mode="vision", image_size=smaller).report.images
    assert few is not None and many is not None
    assert few.tokens < many.tokens


# --- images in a text prompt ---------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_images_add_exactly_their_tokens_to_the_prefill(family: str) -> None:
    tokens = encode(family).images.tokens  # type: ignore[union-attr]
    with_images = analyze_model(
        TINY[family], cached_tokens=[0, 3], input_tokens=[5, 1], images=2
    ).report
    by_hand = analyze_model(
        TINY[family], cached_tokens=[0, 3], input_tokens=[5 + 2 * tokens, 1 + 2 * tokens]
    ).report
    assert with_images.queries == by_hand.queries
    assert with_images.rows == by_hand.rows and with_images.stages == by_hand.stages
    assert with_images.images is not None and with_images.images.count == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_the_prompt_s_encoder_pass_is_vision_mode_over_all_its_images(family: str) -> None:
    """Every query's images, on the first stage's devices: the step's TP, no pipeline."""
    tp = 1 if family == "qwen3_5" else 2  # (the tiny Qwen3.5 decoder does not split)
    analysis = analyze_model(
        TINY[family],
        cached_tokens=[0, 0],
        input_tokens=[5, 9],
        images=3,
        image_size=(200, 300),
        tensor_parallel=tp,
        pipeline_parallel=2,
    )
    assert analysis.vision is not None
    alone = encode(family, 6, (200, 300), tensor_parallel=tp)
    assert analysis.vision.report.rows == alone.rows
    assert analysis.vision.report.parallel == alone.parallel


def test_ttft_with_images_is_the_encoder_then_the_prefill() -> None:
    analysis = analyze_model(
        TINY["qwen3_vl"],
        input_tokens=[20],
        images=2,
        output_tokens=[4],
        hardware=["H100-SXM5-80GB"],
        pipeline_parallel=2,
    )
    assert analysis.vision is not None
    encoder, step, generation = (
        analysis.vision.hardware[0],
        analysis.hardware[0],
        analysis.generation[0],
    )
    plain = analyze_model(
        TINY["qwen3_vl"],
        input_tokens=[20 + 2 * 64],
        output_tokens=[4],
        hardware=["H100-SXM5-80GB"],
        pipeline_parallel=2,
    ).generation[0]
    assert generation.ttft_s == pytest.approx(encoder.latency_s + step.latency_s, rel=1e-12)
    assert generation.ttft_s == pytest.approx(encoder.latency_s + plain.ttft_s, rel=1e-12)
    assert generation.expected_ttft_s == pytest.approx(
        encoder.expected_latency_s + plain.expected_ttft_s, rel=1e-12
    )
    assert generation.decode_s == pytest.approx(plain.decode_s, rel=1e-12)
    # the encoder's weights sit beside the first stage's: the prefill and the last decode step
    weights = analysis.vision.report.weight_bytes
    parser, split = load_model(TINY["qwen3_vl"])[1], Parallelism(1, 2)
    steps = [QueryConfig.uniform(1, 0, 148), QueryConfig.uniform(1, 150, 1)]
    by_hand = max(
        max(
            s.storage_bytes + (weights if s.index == 0 else 0)
            for s in analyze(parser, q, split).stages
        )
        for q in steps
    )
    assert weights > 0 and generation.peak_memory_bytes == by_hand > plain.peak_memory_bytes
    document = json.loads(analysis.render("json"))
    row = document["vision"]["ttft_with_images"][0]
    assert row["ttft_s"] == pytest.approx(encoder.latency_s + step.latency_s, rel=1e-12)
    assert document["images"]["tokens"] == 2 * 64 and document["images"]["per"] == "query"


# --- parallelism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_tensor_parallelism_splits_the_blocks_and_replicates_the_rest(family: str) -> None:
    one, two = encode(family, 2), encode(family, 2, tensor_parallel=2)
    assert two.parameters == one.parameters
    rows = {row.name: row for row in one.rows}
    for row in two.rows:
        if row.kind is OpKind.GEMM and row.per_block:  # heads and MLP: half on each rank
            assert 2 * row.cost.matmul_flops == rows[row.name].cost.matmul_flops
        elif not row.per_block and row.comm is None:  # embedding, merge, projector: whole
            assert row.cost == rows[row.name].cost
            assert row.replicated or row.params == 0
    assert any(row.comm is not None for row in two.rows)  # the all-reduces


@pytest.mark.parametrize("family", FAMILIES)
def test_pipeline_stages_split_the_encoder_s_layers(family: str) -> None:
    one, two = encode(family, 2), encode(family, 2, pipeline_parallel=2)
    first, last = two.stages
    assert [len(s.layers) for s in two.stages] == [1, 1]
    assert first.rows[0].name == "Patch_Embed" and any(
        r.name == "Pipeline - Send" for r in first.rows
    )
    assert not any(r.name == "Patch_Embed" for r in last.rows)
    assert first.total.flops + last.total.flops == one.total.flops
    assert first.weight_bytes + last.weight_bytes == one.weight_bytes


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "vision", "images": 0}, "--images must be an integer from 1"),
        ({"mode": "vision", "images": -3}, "--images must be an integer from 1"),
        ({"images": 0}, "--images must be an integer from 1"),
        ({"mode": "vision", "image_size": (0, 10)}, "--image-size must be positive"),
        ({"mode": "vision", "image_size": (10, -1)}, "--image-size must be positive"),
        ({"image_size": (10, 10)}, "--image-size needs --images"),
        ({"mode": "vision", "input_tokens": [5]}, "vision mode analyzes images"),
        ({"mode": "vision", "batch_size": 2}, "vision mode analyzes images"),
        ({"mode": "vision", "output_tokens": [5], "hardware": ["A100-SXM4-80GB"]}, "one encoder"),
        ({"images": 1, "output_tokens": [5], "concurrency": 2}, "--images with --concurrency"),
        ({"mode": "vision", "tensor_parallel": 3}, "qwen3_vl vision encoder: --tensor-parallel 3"),
        ({"mode": "vision", "pipeline_parallel": 3}, "exceeds its 2 layers"),
    ],
)
def test_bad_image_requests_are_one_line_usage_errors(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        analyze_model(TINY["qwen3_vl"], **options)
    assert "\n" not in str(error.value)


def test_qwen_refuses_what_its_processor_refuses() -> None:
    with pytest.raises(UsageError, match="aspect ratio above 200"):
        encode("qwen3_vl", 1, (10, 2001))


def test_a_model_without_a_vision_tower_is_one_line() -> None:
    llama = CONFIGS / "tiny-llama" / "config.json"
    with pytest.raises(UnsupportedModelError, match="llama: no vision tower") as error:
        analyze_model(llama, mode="vision")
    assert "\n" not in str(error.value) and error.value.exit_code == 5
    with pytest.raises(UnsupportedModelError, match="no vision tower"):
        analyze_model(llama, images=1)
    text_only = CONFIGS / "tiny-llama4" / "config.json"  # a llama4 config without vision_config
    with pytest.raises(UnsupportedModelError, match="llama4 config has no vision_config"):
        analyze_model(text_only, mode="vision")
    with pytest.raises(UsageError, match="load_vision"):
        load_model(TINY["qwen3_vl"], mode="vision")


# --- formats, registry ---------------------------------------------------------------------------


def test_the_tower_is_not_quantized_with_the_text_model() -> None:
    """tiny-kimi-k25-vision quantizes its text decoder to fp8; the tower stays in bfloat16 (the
    quantized checkpoints' configs leave their towers out), unless --weight-dtype says."""
    report = encode("kimi_k25")
    assert report.dtype == "bfloat16" and not report.precision.quantized
    fp8 = encode("kimi_k25", weight_dtype="fp8")
    assert fp8.dtype == "float8_e4m3" and fp8.weight_bytes * 2 == report.weight_bytes


def test_the_vision_registry_is_consistent() -> None:
    for model_type, tower in VISION_REGISTRY.items():
        assert model_type in PARSER_REGISTRY
        assert tower.model_type == model_type or VISION_REGISTRY[tower.model_type] is tower
    assert set(VISION_REGISTRY) == {
        "qwen3_vl",
        "qwen3_vl_moe",
        "qwen3_5",
        "qwen3_5_moe",
        "gemma4",
        "llama4",
        "kimi_k25",
    }
    for family, path in TINY.items():
        config = json.loads(Path(path).read_text())
        assert VISION_REGISTRY[config["model_type"]].model_type == family
