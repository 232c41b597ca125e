"""The Python API gives what the CLI prints; sweeps equal one analysis per scenario."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import catalog_config

from transformer_roofline import analyze_model, load_model, sweep
from transformer_roofline.core.errors import ConfigNotFoundError, UsageError
from transformer_roofline.core.model.parallel import Parallelism

ROOT = Path(__file__).resolve().parent.parent.parent


def _cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_api_and_cli_agree() -> None:
    args = [
        "--cached-tokens",
        "4096",
        "0",
        "--input-tokens",
        "1",
        "512",
        "--batch-size",
        "4",
        "--tensor-parallel",
        "2",
        "--hardware",
        "H100-SXM5-80GB",
        "L40S-48GB",
    ]
    analysis = analyze_model(
        "meta-llama/Llama-3.1-8B",
        cached_tokens=[4096, 0],
        input_tokens=[1, 512],
        batch_size=4,
        tensor_parallel=2,
        hardware=["H100-SXM5-80GB", "L40S-48GB"],
        find_smallest_fit=True,
    )
    cli = json.loads(_cli(*args, "--format", "json", "--", "meta-llama/Llama-3.1-8B"))
    assert json.loads(analysis.render("json")) == cli
    assert analysis.render("table") == _cli(*args, "--", "meta-llama/Llama-3.1-8B")


def test_api_takes_a_dict_a_path_or_a_name(tmp_path: Path) -> None:
    config = catalog_config("meta-llama__Llama-3.2-1B")
    (tmp_path / "config.json").write_text(json.dumps(config))
    totals = {
        analyze_model(model, cached_tokens=[100]).report.total
        for model in (config, tmp_path, str(tmp_path / "config.json"), "meta-llama/Llama-3.2-1B")
    }
    assert len(totals) == 1
    with pytest.raises(ConfigNotFoundError):
        analyze_model(str(tmp_path / "missing.json"))


def test_sweep_equals_one_analysis_per_scenario() -> None:
    batches, contexts = [1, 8, 64], [128, 4096]
    scenarios = sweep(
        "Qwen/Qwen3-8B",
        batch_sizes=batches,
        cached_tokens=contexts,
        hardware=["H100-SXM5-80GB"],
        parallel=Parallelism(2),
    )
    assert [(s.batch_size, s.cached_tokens) for s in scenarios] == [
        (b, c) for c in contexts for b in batches
    ]
    for s in scenarios:
        one = analyze_model(
            "Qwen/Qwen3-8B",
            cached_tokens=[s.cached_tokens],
            input_tokens=[1],
            batch_size=s.batch_size,
            hardware=["H100-SXM5-80GB"],
            tensor_parallel=2,
        )
        assert s.flops == one.report.total.flops
        assert s.step_time_s == one.hardware[0].step_time_s
        assert s.tokens_per_s == one.hardware[0].tokens_per_s
        assert s.fits == one.hardware[0].fits
        assert s.memory_bytes == float(one.report.device_memory_bytes)


def test_a_loaded_parser_is_reused_by_sweeps() -> None:
    _, parser = load_model("mistralai/Mistral-7B-v0.1")
    without = sweep(parser, batch_sizes=[1, 2], cached_tokens=[8192])
    assert [s.hardware for s in without] == [None, None]
    assert without[1].flops > without[0].flops


def test_sweep_spells_out_the_model_options_of_analyze_model() -> None:
    names = ("weight_dtype", "activation_dtype", "kv_cache_dtype", "mla", "mode")
    swept, analysed = inspect.signature(sweep), inspect.signature(analyze_model)
    assert all(p.kind is not p.VAR_KEYWORD for p in swept.parameters.values())
    for name in names:
        one, other = swept.parameters[name], analysed.parameters[name]
        assert (one.kind, one.annotation, one.default) == (
            other.kind,
            other.annotation,
            other.default,
        )


def test_sweep_model_options_change_the_analysis() -> None:
    (bf16,) = sweep("meta-llama/Llama-3.1-8B", batch_sizes=[4], cached_tokens=[1024])
    (fp8,) = sweep(
        "meta-llama/Llama-3.1-8B",
        batch_sizes=[4],
        cached_tokens=[1024],
        weight_dtype="fp8",
        kv_cache_dtype="fp8",
    )
    # every weight and every cached value at 1 byte instead of 2; the same FLOPs
    assert fp8.flops == bf16.flops and fp8.memory_bytes == bf16.memory_bytes / 2
    _, parser = load_model("meta-llama/Llama-3.1-8B")
    with pytest.raises(UsageError, match="a parser carries its own formats and modes; give "):
        sweep(parser, batch_sizes=[4], cached_tokens=[1024], weight_dtype="fp8")


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    exec(compile(example, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "70553706496" in out and "tokens/s" in out and "Model: meta-llama/Llama-3.1-70B" in out
