"""The analyzer against figures measured on HuggingFace's own model classes
(tests/reference/expected.json, copied from the team's reference data; its README gives the
conventions). Parameters, weight bytes and KV bytes must match exactly; matmul FLOPs within 0.5%.

Conversions from the reference's conventions to ours (the reference README):
- MoE: the reference's by-category routed FLOPs are what HF executes (Llama 4 runs every token
  through every expert); an estimator of real dispatch compares with `moe.*_routed_flops_topk`.
- Prefill: eager attention computes the full n x n rectangle; causal pairs are n(n+1)/2 of its n^2.
  Logits: we compute the last token's only (`..._logits_last_token`).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REFERENCE, catalog_config

from core.report import analyze
from core.rows import Category
from core.utils import QueryConfig
from parsers import PARSER_REGISTRY, select_parser

COVERED = sorted(k for k, v in REFERENCE.items() if v["model_type"] in PARSER_REGISTRY)
PREFILL_TOKENS = 512


def _report(stem: str, cached: int, new: int):
    config = catalog_config(stem)
    return analyze(select_parser(config)(config), QueryConfig((cached,), (new,)))


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


def _expected_prefill(ref: dict[str, Any]) -> dict[str, int]:
    prefill = ref["prefill_0_cached_512_input"]
    expected = dict(prefill["by_category_logits_all_positions"])
    n = PREFILL_TOKENS
    # causal pairs n(n+1)/2 out of the n*n rectangle
    expected["attn_core"] = expected["attn_core"] * (n + 1) // (2 * n)
    # logits of the last position only
    expected["lm_head"] //= n
    if "moe" in ref:
        expected["mlp_routed_experts"] = ref["moe"]["prefill_routed_flops_topk"]
    return expected


@pytest.mark.parametrize("stem", COVERED)
def test_parameters_exact(stem: str) -> None:
    ref = REFERENCE[stem]
    report = _report(stem, 0, 1)
    assert report.parameters == ref["parameters"]
    assert report.weight_bytes == ref["weight_bytes"]
    assert report.dtype == ref["dtype"]


@pytest.mark.parametrize("stem", COVERED)
def test_kv_cache_at_512_tokens_exact(stem: str) -> None:
    ref = REFERENCE[stem]
    # identical after a 511 + 1 decode and after a 512-token prefill
    assert _report(stem, 511, 1).kv_cache_bytes == ref["kv_cache_bytes_512_tokens"]
    assert _report(stem, 0, 512).kv_cache_bytes == ref["kv_cache_bytes_512_tokens"]


@pytest.mark.parametrize("stem", COVERED)
def test_decode_matmul_flops_within_half_a_percent(stem: str) -> None:
    expected = _expected_decode(REFERENCE[stem])
    actual = _matmul_by_category(_report(stem, 511, 1))
    assert sum(actual.values()) == pytest.approx(sum(expected.values()), rel=0.005)
    for category, flops in expected.items():
        assert actual[category] == pytest.approx(flops, rel=0.005), category


@pytest.mark.parametrize("stem", COVERED)
def test_prefill_matmul_flops_within_half_a_percent(stem: str) -> None:
    ref = REFERENCE[stem]
    expected = _expected_prefill(ref)
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


def test_llama_and_llama4_entries_are_all_covered() -> None:
    llama_entries = {k for k, v in REFERENCE.items() if v["model_type"] in ("llama", "llama4")}
    assert llama_entries <= set(COVERED)
    assert len(llama_entries) == 7
