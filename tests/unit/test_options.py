"""The command line: option tables, token-count syntax, a model swallowed by a list option, and
what a run imports (core/options.py, the script)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from transformer_roofline.cli import load_script
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import Execution
from transformer_roofline.core.options import (
    EXECUTIONS,
    MAX_POINTS,
    SECTIONS,
    build_parser,
    sweep_axis,
    sweep_values,
    token_count,
)

ROOT = Path(__file__).resolve().parent.parent.parent
TINY = "tests/end-to-end/configs/tiny-llama/config.json"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = load_script().main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("0", 0),
        ("4096", 4096),
        ("4k", 4096),
        ("4K", 4096),
        ("128k", 131072),
        ("1M", 1048576),
        ("1m", 1048576),
        ("2M", 2097152),
        ("-1", -1),  # the sign is left to the query checks, which name the query
    ],
)
def test_token_counts(text: str, count: int) -> None:
    assert token_count(text) == count


@pytest.mark.parametrize(
    "text", ["1.5k", "k", "", "4g", "4kk", "1e3", "0x10", "+5", "\u0663", "many"]
)
def test_what_is_not_a_token_count(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"is not a token count .*4k = 4096"):
        token_count(text)


@pytest.mark.parametrize("text", ["meta-llama/Llama-3.1-8B", "config.json", "tests"])
def test_a_model_in_a_token_list_says_to_put_it_after_dashes(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        token_count(text)
    assert "looks like the model" in str(caught.value) and f"-- {text}" in str(caught.value)


def test_sweep_values() -> None:
    assert sweep_values("1:64:x2") == [1, 2, 4, 8, 16, 32, 64]
    assert sweep_values("3:10:x3") == [3, 9]
    assert sweep_values("0:4096:+1024") == [0, 1024, 2048, 3072, 4096]
    assert sweep_values("0:8k:+4k") == [0, 4096, 8192]
    assert sweep_values("1k:4k:x2") == [1024, 2048, 4096]
    assert sweep_values("32k") == [32768]
    for bad in ("1:8:x1", "0:8:x2", "9:1:+1", "1-8", "-3", "1:8", "1:8:*2", "1:8:x2k", "a:8:+1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sweep_values(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="looks like the model"):
        sweep_values("meta-llama/Llama-3.1-8B")


def test_sweep_axis_keeps_order_and_drops_duplicates() -> None:
    assert sweep_axis([[0, 1024, 2048], [512], [1024]], "--x") == [0, 1024, 2048, 512]
    assert len(sweep_values(f"1:{10 * MAX_POINTS}:+1")) == MAX_POINTS + 1  # stops early
    with pytest.raises(UsageError, match="more than"):
        sweep_axis([sweep_values(f"1:{10 * MAX_POINTS}:+1")], "--x")


def test_execution_choices_are_the_roofline_modes() -> None:
    assert list(EXECUTIONS) == [e.value for e in Execution]


def test_every_option_has_an_example_and_a_readme_row() -> None:
    readme = (ROOT / "README.md").read_text()
    options = [option for _, group in SECTIONS for option in group if option.flag != "model"]
    assert len({option.flag for option in options}) == len(options)
    for option in options:
        text = option.help() if callable(option.help) else option.help
        assert "e.g. " in text, option.flag
        assert f"| `{option.flag}" in readme or f"`, `{option.flag}" in readme, option.flag


def test_help_writes_the_texts_read_from_data_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())
    assert "one of engines-2023, serving-2025 (default: serving-2025" in words
    assert "token counts: an integer, or with k or M" in words
    assert "\\\n      --" in out  # the examples' continued lines stay lines


def test_k_and_m_mean_the_same_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    spelled = ["--cached-tokens", "4k", "1M", "--input-tokens", "1", "2k", "--format", "json"]
    plain = [
        "--cached-tokens",
        "4096",
        "1048576",
        "--input-tokens",
        "1",
        "2048",
        "--format",
        "json",
    ]
    code, out, _ = _cli(capsys, *spelled, "--", TINY)
    assert code == 0 and _cli(capsys, *plain, "--", TINY)[1] == out
    queries = json.loads(out)["queries"]
    assert [(q["cached_tokens"], q["input_tokens"]) for q in queries] == [(4096, 1), (2**20, 2048)]


def test_the_model_before_the_options_needs_no_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    first = _cli(capsys, TINY, "--cached-tokens", "8", "--format", "json")
    assert (
        first[0] == 0
        and first[1] == _cli(capsys, "--cached-tokens", "8", "--format", "json", "--", TINY)[1]
    )


def test_a_swallowed_model_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _cli(capsys, "--input-tokens", "1", "--cached-tokens", "10", TINY)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1
    assert f"put the model after '--': transformer_roofline_analyzer [options] -- {TINY}" in err


# A table run of a Llama config: what it must not import (benchmarks/bench.py times this run).
STEP_RUN = f"""
import io, sys
from transformer_roofline.cli import load_script
module = load_script()
sys.stdout = io.StringIO()
assert module.main(["--cached-tokens", "4k", "--batch-size", "8", "--", "{TINY}"]) == 0
sys.stdout = sys.__stdout__
print("\\n".join(sorted(sys.modules)))
"""


def test_a_step_imports_only_what_it_uses() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STEP_RUN], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = set(result.stdout.split())
    package = "transformer_roofline."
    assert f"{package}parsers.llama" in modules and f"{package}core.output.render" in modules
    unused = {
        "numpy",
        "yaml",
        "matplotlib",
        "socket",
        "transformers",
        f"{package}core.hardware.roofline",
        f"{package}core.hardware.specs",
        f"{package}core.hardware.efficiency",
        f"{package}core.serving.serving",
        f"{package}core.serving.generation",
        f"{package}core.serving.plan",
        f"{package}core.output.grid",
        f"{package}core.output.plot",
        f"{package}core.output.listing",
        f"{package}parsers.gemma4",  # another family
        f"{package}parsers.deepseek",
        f"{package}core.layers.moe",  # a layer kind Llama does not build
        f"{package}core.layers.mamba2",
    }
    assert not unused & modules, sorted(unused & modules)


def test_lazy_tables_resolve_every_name() -> None:
    from transformer_roofline import parsers
    from transformer_roofline.core import layers

    for package in (parsers, layers):
        for name in package.__all__:
            assert getattr(package, name) is not None, name
    assert all(isinstance(cls, type) for cls in layers.MIXERS.values())
    with pytest.raises(AttributeError):
        _ = parsers.NoSuchConfigParser  # type: ignore[attr-defined]
