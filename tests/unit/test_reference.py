"""The analyzer against figures measured on HuggingFace's own model classes
(tests/reference/expected.json, copied from the team's reference data; its README gives the
conventions; and tests/reference/measured.json, the same measurements for the other bundled
configs by tools/measure_reference.py). Parameters, weight bytes and KV bytes must match
exactly; matmul FLOPs within 0.5%.

Conversions from the reference's conventions to ours (the reference README):
- MoE: the reference's by-category routed FLOPs are what HF executes (Llama 4 runs every token
  through every expert); an estimator of real dispatch compares with `moe.*_routed_flops_topk`.
- Prefill: eager attention computes the full n x n rectangle; causal pairs are n(n+1)/2 of its n^2,
  fewer on sliding-window layers (a token attends to at most `window` keys). Logits: we compute
  the last token's only (`..._logits_last_token`).
- MLA (DeepSeek): HF decompresses the cached latents (the expanded cost model); we compare with
  `--mla expanded`. The absorbed model shares parameters and KV bytes (tested below).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from conftest import CATALOG, MEASURED, REFERENCE, catalog_config, hf_categories

from transformer_roofline.core.layers import MlaMode
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import PARSER_REGISTRY, select_parser

ALL_REFERENCES = {**REFERENCE, **MEASURED}
COVERED = sorted(ALL_REFERENCES)
PREFILL_TOKENS = 512
MLA_TYPES = ("deepseek_v2", "deepseek_v3", "kimi_k2")


def _report(stem: str, cached: int, new: int, mla: MlaMode = MlaMode.EXPANDED, **formats):
    config = catalog_config(stem)
    parser = select_parser(config)(config, mla=mla, **formats)
    return analyze(parser, QueryConfig.from_lists((cached,), (new,)))


def _causal_share(stem: str, n: int) -> Fraction:
    """Causal (query, key) pairs of an n-token prefill over the n*n rectangle, averaged over the
    layers, counted by enumeration from the config's own `layer_types` and `sliding_window`."""
    config = catalog_config(stem)
    config = config.get("text_config", config)
    window = config.get("sliding_window") or n
    kinds = config.get("layer_types")
    if kinds is None:
        # no per-layer kinds: a window shorter than the prefill would need the family's rule
        assert window >= n, f"{stem}: derive the sliding layers before comparing"
        kinds = ["full_attention"]
    shares = []
    for kind in kinds:
        limit = window if kind == "sliding_attention" else n
        shares.append(Fraction(sum(min(p + 1, limit) for p in range(n)), n * n))
    return sum(shares, Fraction(0)) / len(shares)


def _matmul_by_category(report) -> dict[str, int]:
    totals = {category.value: 0 for category in Category}
    for row in report.rows:
        totals[row.category.value] += row.cost.matmul_flops * row.blocks
    return totals


def _expected_decode(ref: dict[str, Any]) -> dict[str, int]:
    expected = dict(ref["decode_511_cached_1_input"]["by_category"])
    if "moe" in ref:
        expected["mlp_routed_experts"] = ref["moe"]["decode_routed_flops_topk"]
    return expected


def _expected_prefill(stem: str, ref: dict[str, Any]) -> dict[str, int]:
    prefill = ref["prefill_0_cached_512_input"]
    expected = dict(prefill["by_category_logits_all_positions"])
    n = PREFILL_TOKENS
    # causal pairs (n(n+1)/2, clipped by any window) out of the n*n rectangle
    expected["attn_core"] = int(expected["attn_core"] * _causal_share(stem, n))
    # logits of the last position only
    expected["lm_head"] //= n
    if "moe" in ref:
        expected["mlp_routed_experts"] = ref["moe"]["prefill_routed_flops_topk"]
    return expected


@pytest.mark.parametrize("stem", COVERED)
def test_parameters_exact(stem: str) -> None:
    ref = ALL_REFERENCES[stem]
    # the reference counts every weight at the config dtype, ignoring quantization_config
    report = _report(stem, 0, 1, weight_dtype=ref["dtype"])
    assert hf_categories(report.parameters) == ref["parameters"]
    assert report.weight_bytes == ref["weight_bytes"]
    assert _report(stem, 0, 1).precision.weight.name == ref["dtype"]


def test_quantized_checkpoints_weight_bytes_by_hand() -> None:
    # DeepSeek-V3: fp8 e4m3 with one fp32 scale per 128 x 128 block (8 + 32/16384 bits) on the
    # blocks' linear layers; embedding, lm_head, router and norms stay bfloat16.
    p = REFERENCE["deepseek-ai__DeepSeek-V3"]["parameters"]
    fp8 = p["attention"] + p["mlp_dense"] + p["mlp_routed_experts"] + p["mlp_shared_experts"]
    rest = p["embedding"] + p["lm_head"] + p["router"] + p["norms"]
    expected = Fraction(fp8 * 4097, 4096) + rest * 2
    assert _report("deepseek-ai__DeepSeek-V3", 0, 1).weight_bytes == expected
    # gpt-oss-20b: mxfp4 (17/32 B) expert matrices, 24 layers x 32 experts x 3 x 2880^2; their
    # biases and everything else float16 (the config names no dtype)
    matrices = 24 * 32 * 3 * 2880 * 2880
    total = REFERENCE["openai__gpt-oss-20b"]["parameters"]["total"]
    expected = Fraction(matrices * 17, 32) + (total - matrices) * 2
    assert _report("openai__gpt-oss-20b", 0, 1).weight_bytes == expected


@pytest.mark.parametrize("stem", COVERED)
def test_kv_cache_at_512_tokens_exact(stem: str) -> None:
    ref = ALL_REFERENCES[stem]
    # identical after a 511 + 1 decode and after a 512-token prefill
    assert _report(stem, 511, 1).kv_cache_bytes == ref["kv_cache_bytes_512_tokens"]
    assert _report(stem, 0, 512).kv_cache_bytes == ref["kv_cache_bytes_512_tokens"]


@pytest.mark.parametrize("stem", COVERED)
def test_decode_matmul_flops_within_half_a_percent(stem: str) -> None:
    expected = _expected_decode(ALL_REFERENCES[stem])
    actual = _matmul_by_category(_report(stem, 511, 1))
    assert sum(actual.values()) == pytest.approx(sum(expected.values()), rel=0.005)
    for category, flops in expected.items():
        assert actual[category] == pytest.approx(flops, rel=0.005), category


@pytest.mark.parametrize("stem", COVERED)
def test_prefill_matmul_flops_within_half_a_percent(stem: str) -> None:
    ref = ALL_REFERENCES[stem]
    expected = _expected_prefill(stem, ref)
    actual = _matmul_by_category(_report(stem, 0, PREFILL_TOKENS))
    assert sum(actual.values()) == pytest.approx(sum(expected.values()), rel=0.005)
    for category, flops in expected.items():
        assert actual[category] == pytest.approx(flops, rel=0.005), category
    # the reference's own last-token total, with causal attention and top-k routing
    rect = ref["prefill_0_cached_512_input"]["by_category_logits_all_positions"]
    last_token_total = (
        ref["prefill_0_cached_512_input"]["matmul_flops_total_logits_last_token"]
        - rect["attn_core"]
        + expected["attn_core"]
        - rect["mlp_routed_experts"]
        + expected["mlp_routed_experts"]
    )
    assert sum(actual.values()) == pytest.approx(last_token_total, rel=0.005)


def test_every_bundled_config_has_a_reference() -> None:
    bundled = {path.stem for path in CATALOG.glob("*.json")}
    assert set(REFERENCE) | set(MEASURED) == bundled and len(REFERENCE) == 20
    assert all(ALL_REFERENCES[stem]["model_type"] in PARSER_REGISTRY for stem in COVERED)


@pytest.mark.parametrize(
    "stem", [s for s in COVERED if catalog_config(s)["model_type"] in MLA_TYPES]
)
def test_mla_absorbed_and_expanded_share_parameters_and_cache(stem: str) -> None:
    absorbed = _report(stem, 511, 1, MlaMode.ABSORBED)
    expanded = _report(stem, 511, 1, MlaMode.EXPANDED)
    assert absorbed.parameters == expanded.parameters
    assert hf_categories(absorbed.parameters) == ALL_REFERENCES[stem]["parameters"]
    assert absorbed.kv_cache_bytes == expanded.kv_cache_bytes
    # absorbing kv_b_proj saves re-expanding 512 cached latents per layer at decode
    assert absorbed.total.matmul_flops < expanded.total.matmul_flops / 5
