"""Scaffolding the family tests share: their tiny configs and JSON goldens, one analysed step of
queries written as (cached, input) pairs, and config strategies for property tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from conftest import ROOT
from hypothesis import strategies as st

from transformer_roofline.core.base_parser import BaseModelConfigParser
from transformer_roofline.core.model.parallel import SINGLE_DEVICE, Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import Report, analyze
from transformer_roofline.core.model.rows import Row
from transformer_roofline.parsers import select_parser

CONFIGS = ROOT / "tests" / "end-to-end" / "configs"
CASES = ROOT / "tests" / "end-to-end" / "cases"


def tiny_config(name: str) -> dict[str, Any]:
    """The hand-written config of tests/end-to-end/configs/<name>/."""
    return json.loads((CONFIGS / name / "config.json").read_text())


def golden(case: str) -> dict[str, Any]:
    """The expected output of a JSON end-to-end case, parsed."""
    return json.loads((CASES / case / "expected_output.txt").read_text())


def step(
    parser: BaseModelConfigParser,
    qs: Iterable[tuple[int, int]],
    parallel: Parallelism = SINGLE_DEVICE,
) -> Report:
    """One step of `parser`'s model over queries given as (cached, input) pairs."""
    cached, new = zip(*qs, strict=True)
    return analyze(parser, QueryConfig.from_lists(tuple(cached), tuple(new)), parallel)


def run(
    config: Mapping[str, Any],
    qs: Iterable[tuple[int, int]],
    parallel: Parallelism = SINGLE_DEVICE,
    **options: Any,
) -> Report:
    """One step of `config`'s model (the registry's parser for it, built with `options`)."""
    return step(select_parser(config)(config, **options), qs, parallel)


def rows_by_name(report: Report) -> dict[str, Row]:
    return {row.name: row for row in report.rows}


def row_costs(report: Report) -> list[tuple]:
    """What two reports must share to cost the same, row by row."""
    return [(r.cost, r.params, r.blocks) for r in report.rows]


@st.composite
def deepseek_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small DeepSeek-V3 configs (MLA, dense and MoE layers) for property tests."""
    experts = draw(st.integers(2, 8))
    layers = draw(st.integers(1, 3))
    return {
        "model_type": "deepseek_v3",
        "hidden_size": draw(st.sampled_from([16, 32])),
        "num_attention_heads": draw(st.integers(1, 4)),
        "q_lora_rank": draw(st.sampled_from([None, 8, 12])),
        "kv_lora_rank": draw(st.sampled_from([4, 8, 16])),
        "qk_nope_head_dim": draw(st.sampled_from([2, 4, 8])),
        "qk_rope_head_dim": draw(st.sampled_from([2, 4])),
        "v_head_dim": draw(st.sampled_from([2, 4, 8])),
        "intermediate_size": draw(st.integers(4, 32)),
        "moe_intermediate_size": draw(st.integers(2, 16)),
        "n_routed_experts": experts,
        "num_experts_per_tok": draw(st.integers(1, experts)),
        "n_shared_experts": draw(st.integers(0, 2)),
        "first_k_dense_replace": draw(st.integers(0, layers)),
        "num_hidden_layers": layers,
        "vocab_size": draw(st.integers(1, 64)),
        "attention_bias": draw(st.booleans()),
        "torch_dtype": "bfloat16",
    }
