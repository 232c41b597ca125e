"""A seeded slice of the fuzz campaign (tools/fuzz.py) in the test suite: mutated bundled and test
configs (deleted, retyped, negated, zeroed, huge, NaN, nested, listed fields), hostile spec files
(bad numbers, an alias bomb, a FIFO, an over-long name) and argument combinations. Every run must
end with a documented exit code and at most one short line on stderr, finish within its time and
memory limits, print finite valid JSON, and never accept an invalid value it reads.

`.venv/bin/python tools/fuzz.py --runs 3000 --seed N` runs a larger campaign by hand."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz", ROOT / "tools" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz"] = module
    spec.loader.exec_module(module)
    return module


def test_a_seeded_campaign_finds_nothing(fuzz) -> None:
    verdicts = fuzz.run_campaign(fuzz.campaign(240, seed=2026))
    outcomes = Counter(v.outcome for v in verdicts)
    bad = [f"{v.outcome}: {v.run.kind} ({v.detail})" for v in verdicts if v.outcome in fuzz.BAD]
    assert not bad, "\n".join(bad[:10])
    assert outcomes["ok"] > 30 and outcomes["clean"] > 30  # both kinds of run were exercised


def test_the_judge_catches_what_it_looks_for(fuzz, monkeypatch: pytest.MonkeyPatch) -> None:
    """The campaign can fail: an escaped exception, a two-line error, non-finite JSON and an
    invalid value read and accepted are each reported."""
    run = fuzz.Run("synthetic", ["--format", "json", "--", "x"], {}, invalid=True, baseline=["b"])

    def answers(code: int, out: str, err: str):
        def main(argv: list[str]) -> int:
            if argv == ["b"]:  # the baseline: another figure
                print('{"total": 1}')
                return 0
            print(out, end="")
            print(err, end="", file=sys.stderr)
            if code < 0:
                raise KeyError("boom")
            return code

        return main

    cases = [
        ((-1, "", ""), "traceback"),
        ((2, "", "one\ntwo\n"), "messy"),
        ((0, '{"total": NaN}', ""), "wrong"),
        ((0, '{"total": 2}', ""), "wrong"),
        ((0, '{"total": 1}', ""), "ok"),
        ((2, "", "transformer_roofline_analyzer: error: bad\n"), "clean"),
    ]
    for behaviour, outcome in cases:
        monkeypatch.setattr(fuzz, "_MAIN", answers(*behaviour))
        assert fuzz.judge(run).outcome == outcome, behaviour
