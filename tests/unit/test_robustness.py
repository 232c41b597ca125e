"""Regression tests for hostile input, one per class the fuzz campaign (tools/fuzz.py) found:
each was a traceback, a hang or an accepted invalid value, and must now be one short line on
stderr with its documented exit code (README "Exit codes"), or a fast answer.

The Hub cases (a stalling endpoint, a malformed cached config) are in test_resolve.py; a
generation past its evaluation budget is in test_generation.py."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, catalog_config

from transformer_roofline import analyze_model, plan_model, sweep
from transformer_roofline.cli import load_script
from transformer_roofline.core.errors import AnalyzerError
from transformer_roofline.core.hardware.specs import HardwareSpec

LLAMA = catalog_config("meta-llama__Llama-3.1-8B")
DEEPSEEK = catalog_config("deepseek-ai__DeepSeek-V3")
SPEC = {
    "name": "Spec-GPU",
    "memory_gb": 80,
    "memory_bandwidth_gb_s": 3350,
    "peak_tflops": {"bf16": 989.4},
}
E2E_CONFIGS = ROOT / "tests" / "end-to-end" / "configs"
PREFIX = "transformer_roofline_analyzer: error: "
# every message is cut at 400 characters (core/errors.py); argparse's add " (see --help)"
LINE_LIMIT = len(PREFIX) + 400 + len(" (see --help)")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = load_script().main(list(args))
    except SystemExit as exit:  # argparse's own errors
        code = exit.code if isinstance(exit.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line(capsys: pytest.CaptureFixture[str], code: int, fragment: str, *args: str) -> str:
    """Run the CLI; assert it ends with `code` and one short line holding `fragment`."""
    start = time.monotonic()
    got, out, err = cli(capsys, *args)
    assert (got, out) == (code, ""), err
    assert err.count("\n") == 1 and err.startswith(PREFIX)
    assert len(err) <= LINE_LIMIT + 1 and "Traceback" not in err
    assert fragment in err, err
    assert time.monotonic() - start < 10
    return err


def with_field(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `config` with the dotted `path` set to `value`."""
    out = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


def write(tmp_path: Path, config: dict[str, Any] | str | bytes, name: str = "config.json") -> str:
    path = tmp_path / name
    if isinstance(config, bytes):
        path.write_bytes(config)
    else:
        path.write_text(config if isinstance(config, str) else json.dumps(config))
    return str(path)


# --- configs: wrong JSON types, sizes without bounds, values HF's config classes reject -------


@pytest.mark.parametrize(
    ("path", "value", "code", "fragment"),
    [
        ("model_type", ["llama"], 4, "'model_type' must be a string"),
        ("model_type", 5, 4, "'model_type' must be a string"),
        ("model_type", {"a": 1}, 4, "'model_type' must be a string"),
        ("architectures", "LlamaForCausalLM", 4, "'architectures' must be a list of class names"),
        ("architectures", [5], 4, "'architectures' must be a list of class names"),
        ("num_hidden_layers", 10**30, 4, "exceeds the limit of 2,147,483,647"),
        ("num_hidden_layers", 10**9, 4, "exceeds the limit of 100000 layers"),
        ("num_hidden_layers", 0, 4, "'num_hidden_layers' must be an integer >= 1"),
        ("num_hidden_layers", 2.5, 4, "'num_hidden_layers' must be an integer"),
        ("num_hidden_layers", True, 4, "'num_hidden_layers' must be an integer"),
        ("hidden_size", -4096, 4, "'hidden_size' must be an integer >= 1"),
        ("hidden_size", 4100, 4, "hidden"),  # not a multiple of the 32 heads (HF refuses it)
        ("num_key_value_heads", 5, 4, "not a multiple of num_key_value_heads (5)"),
        ("vocab_size", "x", 4, "'vocab_size' must be an integer"),
        ("torch_dtype", "float7", 4, "float7"),
    ],
)
def test_a_bad_llama_field_is_one_line(capsys, tmp_path, path, value, code, fragment) -> None:
    one_line(capsys, code, fragment, "--", write(tmp_path, with_field(LLAMA, path, value)))


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("n_routed_experts", 0, "'n_routed_experts' must be an integer >= 1"),
        ("n_routed_experts", -4, "'n_routed_experts' must be an integer >= 1"),
        ("num_experts_per_tok", 300, "exceeds the number of experts (256)"),
        ("quantization_config.weight_block_size", True, "'weight_block_size' must be [rows, cols]"),
        (
            "quantization_config.weight_block_size",
            [128],
            "'weight_block_size' must be [rows, cols]",
        ),
        ("quantization_config", 5, "quantization_config: must be an object (or null), got 5"),
        ("quantization_config", ["fp8"], "quantization_config: must be an object"),
        ("quantization_config.fmt", 5, "quantization_config"),
        ("quantization_config.quant_method", ["fp8"], "quantization_config"),
    ],
)
def test_a_bad_moe_or_quantization_field_is_one_line(capsys, tmp_path, path, value, fragment):
    one_line(capsys, 4, fragment, "--", write(tmp_path, with_field(DEEPSEEK, path, value)))


@pytest.mark.parametrize("value", [5, "bf16", ["a"]])
def test_a_vision_run_reads_the_text_config_it_takes_the_dtype_from(capsys, tmp_path, value):
    """Vision mode takes the tower's dtype from `text_config` when the tower has none: a
    text_config that is not an object is an error there too, not a silent float16."""
    config = json.loads((E2E_CONFIGS / "tiny-qwen3-5-vl" / "config.json").read_text())
    path = write(tmp_path, with_field(config, "text_config", value))
    one_line(capsys, 4, "'text_config' must be an object", "--mode", "vision", "--", path)


def test_a_hundred_thousand_layers_are_analyzed_in_closed_form(capsys, tmp_path) -> None:
    """Layers are counted, not listed: 100,000 of them (the named limit) cost what 32 do."""
    config = with_field(LLAMA, "num_hidden_layers", 100_000)
    start = time.monotonic()
    code, out, err = cli(capsys, "--format", "json", "--", write(tmp_path, config))
    assert code == 0 and err == "" and time.monotonic() - start < 5
    base_code, base, _ = cli(capsys, "--format", "json", "--", "meta-llama/Llama-3.1-8B")
    # the decoder layer's rows are the same, repeated 100,000 / 32 times as often
    rows = {row["name"]: row for row in json.loads(out)["layers"]}
    base_rows = {row["name"]: row for row in json.loads(base)["layers"]}
    repeated = [name for name, row in base_rows.items() if row["blocks"] == 32]
    assert repeated and base_code == 0
    for name in repeated:
        assert rows[name]["blocks"] == 100_000
        assert rows[name]["per_block"] == base_rows[name]["per_block"]


def test_past_int32_a_config_integer_is_refused(capsys, tmp_path) -> None:
    config = with_field(LLAMA, "intermediate_size", 2**31)
    one_line(capsys, 4, "intermediate_size", "--", write(tmp_path, config))


def test_deeply_nested_json_is_an_invalid_config(capsys, tmp_path) -> None:
    text = json.dumps(LLAMA)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    one_line(capsys, 4, "nested", "--", write(tmp_path, text))


def test_non_utf8_bytes_are_an_invalid_config(capsys, tmp_path) -> None:
    raw = json.dumps(LLAMA).encode().replace(b'"llama"', b'"ll\xff\xfema"')
    one_line(capsys, 4, "", "--", write(tmp_path, raw))


def test_a_huge_architectures_list_is_quoted_short(capsys, tmp_path) -> None:
    config = with_field(LLAMA, "architectures", [f"Arch{i}" for i in range(100_000)])
    config["model_type"] = "no_such_type"
    err = one_line(capsys, 5, "no_such_type", "--", write(tmp_path, config))
    assert "Arch99999" not in err


# --- arguments: sizes without bounds --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--sweep-batch-size", "1:100000000:+1"], "--sweep-batch-size"),
        (["--sweep-batch-size", "1:100000:+1", "--sweep-cached-tokens", "1:100000:+1"], ""),
        (["--input-tokens", "1" * 400], "token and query counts are at most 1e+15"),
        (["--input-tokens", "x" * 300], "is not a token count"),  # not looked up as a path
        (["--cached-tokens", "10" * 200], "token and query counts are at most 1e+15"),
        (["--batch-size", "1" * 30], "token and query counts are at most 1e+15"),
        (["--output-tokens", "0", "--hardware", "H100-SXM5-80GB"], "--output-tokens"),
        (
            ["--concurrency", "0", "--hardware", "H100-SXM5-80GB", "--output-tokens", "8"],
            "--concurrency",
        ),
    ],
)
def test_a_bad_argument_is_one_line(capsys, args, fragment) -> None:
    one_line(capsys, 2, fragment, *args, "--", "meta-llama/Llama-3.1-8B")


def test_a_trillion_queries_are_fast(capsys) -> None:
    """Identical queries are one group: a batch of 10^12 costs what a batch of 2 does."""
    start = time.monotonic()
    code, out, _ = cli(
        capsys, "--batch-size", str(10**12), "--format", "json", "--", "meta-llama/Llama-3.1-8B"
    )
    assert code == 0 and time.monotonic() - start < 5
    assert json.loads(out)["queries"] == [{"cached_tokens": 0, "input_tokens": 1, "count": 10**12}]


def test_a_hundred_thousand_distinct_queries_are_refused_with_the_limit(capsys) -> None:
    counts = ",".join(str(i) for i in range(100_000)).split(",")
    args = ["--cached-tokens", *counts, "--input-tokens", *(["1"] * len(counts))]
    one_line(capsys, 2, "distinct queries exceed the limit", *args, "--", "meta-llama/Llama-3.1-8B")


# --- hardware spec files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("memory_gb: .nan\n", "memory"),
        ("memory_gb: .inf\n", "memory"),
        ("peak_tflops: {bf16: 1.0e-300}\n", "bf16"),
        ("memory_bandwidth_gb_s: 1.0e+300\n", "memory_bandwidth"),
        ("memory_bandwidth_gb_s: 0\n", "memory_bandwidth"),
    ],
)
def test_a_bad_spec_number_is_one_line(capsys, tmp_path, text, fragment) -> None:
    base = "".join(f"{k}: {json.dumps(v)}\n" for k, v in SPEC.items())
    key = text.split(":")[0]
    lines = [line for line in base.splitlines(keepends=True) if not line.startswith(key)]
    spec = write(tmp_path, "".join(lines) + text, "spec.yaml")
    one_line(capsys, 6, fragment, "--hardware", spec, "--", "meta-llama/Llama-3.1-8B")


def test_a_yaml_alias_bomb_is_refused_fast(capsys, tmp_path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    spec = write(tmp_path, "\n".join(lines) + "\nname: bomb\n", "spec.yaml")
    one_line(capsys, 6, "alias", "--hardware", spec, "--", "meta-llama/Llama-3.1-8B")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_not_read(capsys, tmp_path) -> None:
    os.mkfifo(tmp_path / "spec.json")
    one_line(
        capsys, 6, "not a regular file", "--hardware", str(tmp_path / "spec.json"),
        "--", "meta-llama/Llama-3.1-8B",
    )  # fmt: skip
    os.mkfifo(tmp_path / "config.json")
    one_line(capsys, 4, "not a regular file", "--", str(tmp_path / "config.json"))
    one_line(capsys, 4, "not a regular file", "--", str(tmp_path))  # the directory's config


def test_an_over_long_file_name_is_one_line(capsys, tmp_path) -> None:
    name = str(tmp_path / ("x" * 300 + ".json"))
    one_line(capsys, 6, "", "--hardware", name, "--", "meta-llama/Llama-3.1-8B")
    one_line(capsys, 3, "", "--", name)


# --- output paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("{dir}", "the file name must end in .png or .svg"),
        ("{dir}/sub.png", "exists and is not a regular file"),
        ("{dir}/missing/chart.png", "directory"),
        ("{dir}/chart.txt", "--plot"),
        ("/dev/null", "--plot"),
        ("{dir}/" + "y" * 300 + ".png", "--plot"),
    ],
)
def test_a_bad_plot_path_is_one_line_before_any_work(capsys, tmp_path, target, fragment) -> None:
    (tmp_path / "sub.png").mkdir()
    one_line(
        capsys, 2, fragment, "--hardware", "H100-SXM5-80GB",
        "--plot", target.replace("{dir}", str(tmp_path)), "--", "meta-llama/Llama-3.1-8B",
    )  # fmt: skip


# --- the Python API -------------------------------------------------------------------------

M = "meta-llama/Llama-3.1-8B"
H100 = ["H100-SXM5-80GB"]
BAD: Any = 5  # values of the wrong type, for calls a type checker would flag
TEXT: Any = "1"
NAN: Any = float("nan")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: analyze_model(M, weight_dtype=BAD), TypeError),
        (lambda: analyze_model(M, execution=BAD, hardware=H100), AnalyzerError),
        (lambda: analyze_model(M, mla="junk"), AnalyzerError),
        (lambda: analyze_model(M, mode="junk"), AnalyzerError),
        (lambda: analyze_model(M).render(None), AnalyzerError),  # type: ignore[arg-type]
        (lambda: analyze_model(M, cached_tokens="100"), TypeError),  # type: ignore[arg-type]
        (lambda: analyze_model(M, tensor_parallel=1.5), AnalyzerError),  # type: ignore[arg-type]
        (lambda: analyze_model(BAD), TypeError),
        (lambda: analyze_model(M, hardware=H100, efficiency=[1]), AnalyzerError),  # type: ignore
        (lambda: HardwareSpec("Zero", 80 * 10**9, 0.0, {"bf16": 1e15}), AnalyzerError),
        (lambda: HardwareSpec("Tiny", 80 * 10**9, 1e12, {"bf16": 1e-300}), AnalyzerError),
        (lambda: HardwareSpec("NaN", NAN, 1e12, {"bf16": 1e15}), AnalyzerError),
        (lambda: sweep(M, batch_sizes=["4"], cached_tokens=[0]), AnalyzerError),  # type: ignore
        (lambda: sweep(M, batch_sizes=[1], cached_tokens=list(range(2000))), AnalyzerError),
        (
            lambda: plan_model(M, input_tokens=10, output_tokens=10, ttft_slo=TEXT, hardware=H100),
            AnalyzerError,
        ),
    ],
)
def test_the_api_refuses_a_bad_argument_with_its_own_errors(call, error) -> None:
    with pytest.raises(error):
        call()


def test_a_sweep_of_a_trillion_queries_is_fast_and_finite() -> None:
    start = time.monotonic()
    (point,) = sweep(M, batch_sizes=[10**12], cached_tokens=[0], hardware=["H100-SXM5-80GB"])
    assert time.monotonic() - start < 5
    assert point.step_time_s is not None and 0 < point.step_time_s < float("inf")
    assert point.fits is False
