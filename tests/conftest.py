"""Shared pytest options and fixtures.

--print-actual-output   print what the CLI produced in end-to-end cases
--update-goldens        rewrite the end-to-end expected files from the current output (review the
                        diff before committing: every golden number needs an independent check)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = json.loads((ROOT / "tests" / "reference" / "expected.json").read_text())
# The same measurements for the other bundled configs, by tools/measure_reference.py (validated by
# reproducing every entry of expected.json exactly).
MEASURED = {
    key: value
    for key, value in json.loads(
        (ROOT / "tests" / "reference" / "measured.json").read_text()
    ).items()
    if not key.startswith("_")
}
CATALOG = ROOT / "core" / "catalog"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--print-actual-output", action="store_true", help="print CLI output")
    parser.addoption("--update-goldens", action="store_true", help="rewrite expected outputs")


def catalog_config(stem: str) -> dict[str, Any]:
    """A bundled real config by its file stem (e.g. 'meta-llama__Llama-2-7b-hf')."""
    return json.loads((CATALOG / f"{stem}.json").read_text())


def hf_categories(parameters: dict[str, int]) -> dict[str, int]:
    """Our parameter breakdown in the reference's categories: the reference counts linear-attention
    and state-space mixers (our `mixers`) under `other`."""
    folded = {key: value for key, value in parameters.items() if key != "mixers"}
    folded["other"] = folded.get("other", 0) + parameters.get("mixers", 0)
    return folded
