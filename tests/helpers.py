"""Scaffolding the family tests share: their tiny configs and JSON goldens, and one analysed step
of queries written as (cached, input) pairs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from conftest import ROOT

from core.base_parser import BaseModelConfigParser
from core.model.parallel import SINGLE_DEVICE, Parallelism
from core.model.queries import QueryConfig
from core.model.report import Report, analyze
from core.model.rows import Row
from parsers import select_parser

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
