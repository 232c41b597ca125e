"""End-to-end cases: run the CLI exactly as a user does and compare with the expected output.

Each `cases/<name>/test.json` holds:
    "description"  what the case shows
    "args"         the argv after the program name (paths relative to the repository root)
    "exit_code"    expected exit status (0: output on stdout; else one line on stderr)
    "compare"      "exact" (default) or "prefix" (the expected text starts the actual output)
and `expected_output.txt` holds the expected stdout (exit 0) or stderr (errors).

`pytest --print-actual-output` prints what the CLI produced; `pytest --update-goldens` rewrites
the expected files (review the diff: every golden number has an independent check, see
test_golden_checks.py).
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CASES = sorted(p.parent for p in (HERE / "cases").glob("*/test.json"))


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Never the network: the Hub path sees offline mode and an empty cache.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    return subprocess.run(
        [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cases_exist() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case(case: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    spec = json.loads((case / "test.json").read_text())
    result = run_cli(spec["args"], tmp_path)
    ok = spec["exit_code"] == 0
    actual, other = (result.stdout, result.stderr) if ok else (result.stderr, result.stdout)
    if request.config.getoption("--print-actual-output"):
        print(f"\n--- {case.name} (exit {result.returncode})\n{actual}{other}")
    golden = case / "expected_output.txt"
    if request.config.getoption("--update-goldens"):
        golden.write_text(actual)
    assert result.returncode == spec["exit_code"], result.stderr
    assert other == "", f"unexpected {'stderr' if ok else 'stdout'}: {other}"
    if not ok:
        assert actual.count("\n") == 1 and "Traceback" not in actual
    expected = golden.read_text()
    matches = actual.startswith(expected) if spec.get("compare") == "prefix" else actual == expected
    if not matches:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{case.name}/expected_output.txt",
                tofile="actual",
            )
        )
        pytest.fail(f"{spec['description']}\n{diff}")
