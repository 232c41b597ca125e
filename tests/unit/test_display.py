"""Output people can read: tables fitted to a terminal's width, wrapped notes, colour only on a
terminal, a progress bar only on a terminal, and the machine-readable formats' additions (the
version, the grid's settings, the step CSV's summary, the lists as JSON and CSV)."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

import transformer_roofline
from transformer_roofline import analyze_model, load_model, plan_model, sweep
from transformer_roofline.core.hardware.specs import ALIASES, DATASHEETS, PEAK_FORMATS
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.output import listing
from transformer_roofline.core.output.grid import (
    GridRun,
    render_grid_csv,
    render_grid_json,
    render_grid_table,
)
from transformer_roofline.core.output.listing import list_hardware, list_models
from transformer_roofline.core.output.planning import plan_json, plan_table
from transformer_roofline.core.output.progress import Progress
from transformer_roofline.core.output.table import Column, table
from transformer_roofline.core.output.terminal import PLAIN, Display, detect
from transformer_roofline.core.resolve import catalog
from transformer_roofline.parsers import PARSER_REGISTRY

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STEP = [
    "--cached-tokens",
    "4096",
    "--input-tokens",
    "1",
    "--batch-size",
    "32",
    "--hardware",
    "H100-SXM5-80GB",
    "A100-SXM4-80GB",
    "--",
    "meta-llama/Llama-3.1-8B",
]
# The step table's columns with those two devices, as the README's table documents them.
STEP_HEADERS = [
    "Layer",
    "Block Count",
    "FLOPs",
    "Weight Bytes",
    "Input Bytes",
    "Output Bytes",
    "Op. Intensity (FLOPs/B)",
    *[
        f"{what} ({device})"
        for device in ("H100-SXM5-80GB", "A100-SXM4-80GB")
        for what in ("Time", "Expected", "Bound")
    ],
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "TERM")}
    return {**env, "HF_HUB_OFFLINE": "1", "TERM": "xterm", **extra}


def piped(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def on_terminal(*args: str, columns: int = 80, **env: str) -> str:
    """What the CLI writes when stdout and stderr are a terminal of `columns` columns."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args],
        cwd=ROOT,
        env=_env(**env),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 120)[0]:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        process.wait(timeout=120)
    assert process.returncode == 0, out
    return out.decode().replace("\r\n", "\n")


def widest(text: str) -> int:
    """The longest line, but for one word alone on its line (a long model name): nothing can
    break it."""
    lines = [ANSI.sub("", line) for line in text.splitlines()]
    return max(len(line) for line in lines if " " in line.strip())


# --- the table layout ---------------------------------------------------------------------------


def test_a_table_without_a_width_is_the_markdown_table() -> None:
    columns = [Column("Name"), Column("Value", "V", rank=1)]
    assert (
        table(columns, [["a", "1"]])
        == "| Name   | Value   |\n|--------|---------|\n| a      | 1       |"
    )


def test_the_least_useful_columns_hide_first_and_are_named() -> None:
    columns = [Column("Name"), Column("Useful", rank=1), Column("Useless", rank=9)]
    rows = [["alpha", "x" * 10, "y" * 10]]
    text = table(columns, rows, Display(width=30))
    assert "Useful" in text.splitlines()[0] and "Useless" not in text.splitlines()[0]
    note = " ".join(text.splitlines()[3:])
    assert note == "Hidden to fit 30 columns: Useless (--wide shows every column)."
    assert widest(text) <= 30


def test_a_hidden_column_that_fits_again_comes_back() -> None:
    """Hiding the wide column of rank 5 leaves room for the narrow one of rank 9."""
    columns = [Column("N"), Column("Wide", rank=5), Column("n", rank=9)]
    text = table(columns, [["a", "w" * 30, "b"]], Display(width=20))
    assert text.splitlines()[0] == "| N | n |"
    assert " ".join(text.splitlines()[3:]).startswith("Hidden to fit 20 columns: Wide (")


def test_too_narrow_for_the_kept_columns_gives_records() -> None:
    columns = [Column("Layer"), Column("Time", rank=0), Column("Bound", bound=True)]
    text = table(columns, [["Attention", "1.00 ms", "memory"]], Display(width=24))
    assert text.splitlines() == ["Attention", "  Time: 1.00 ms;", "  Bound: memory"]


STEP_ARGS: dict[str, Any] = {
    "cached_tokens": [4096],
    "input_tokens": [1],
    "batch_size": 32,
    "find_smallest_fit": True,
}


@pytest.fixture(scope="module")
def renderings() -> dict[str, Any]:
    """Every text the tool prints, as functions of the display."""
    one = analyze_model(
        "meta-llama/Llama-3.1-70B", **STEP_ARGS, hardware=["H100-SXM5-80GB"], tensor_parallel=4
    )
    two = analyze_model(
        "meta-llama/Llama-3.1-8B", **STEP_ARGS, hardware=["H100-SXM5-80GB", "MI300X-192GB"]
    )
    stages = analyze_model(
        "meta-llama/Llama-3.1-70B",
        input_tokens=[2048],
        output_tokens=[64],
        hardware=["H100-SXM5-80GB", "H200-SXM-141GB"],
        tensor_parallel=2,
        pipeline_parallel=2,
    )
    serving = analyze_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=[1024],
        output_tokens=[128],
        concurrency=512,
        hardware=["L4-24GB", "H100-SXM5-80GB"],
    )
    plan = plan_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=1024,
        output_tokens=128,
        hardware=["H100-SXM5-80GB", "L40S-48GB"],
        ttft_slo=1.0,
        tpot_slo=0.05,
        request_rate=20,
        price_per_gpu_hour=2.5,
        max_devices=2,
    )
    grid = sweep(
        "meta-llama/Llama-3.1-8B",
        batch_sizes=[1, 16, 256],
        cached_tokens=[1024, 65536],
        hardware=["H100-SXM5-80GB", "L4-24GB"],
    )
    return {
        "step, one device, TP 4": lambda d: one.render("table", d),
        "step, two devices": lambda d: two.render("table", d),
        "pipeline stages and a generation": lambda d: stages.render("table", d),
        "serving, queueing": lambda d: serving.render("table", d),
        "plan": lambda d: plan_table(plan, "meta-llama/Llama-3.1-8B", display=d),
        "grid": lambda d: render_grid_table(grid, "Sweep of meta-llama/Llama-3.1-8B", d),
        "hardware list": lambda d: list_hardware("table", d),
        "model list": lambda d: list_models(sorted(PARSER_REGISTRY), "table", d),
    }


@pytest.mark.parametrize("width", [40, 60, 80, 100, 132])
def test_every_text_fits_the_width(renderings: dict[str, Any], width: int) -> None:
    for name, render in renderings.items():
        text = render(Display(width))
        assert widest(text) <= width, (name, width)


def test_without_a_width_every_column_shows(renderings: dict[str, Any]) -> None:
    """Without a width, every column and every note are there whatever their length."""
    text = renderings["step, two devices"](PLAIN)
    header = text.split("\n\n")[1].splitlines()[0]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        *STEP_HEADERS[:7],
        *[
            f"{what} ({device})"
            for device in ("H100-SXM5-80GB", "MI300X-192GB")
            for what in ("Time", "Expected", "Bound")
        ],
    ]
    assert "Hidden" not in text and widest(text) > 300


def test_hidden_columns_are_named_and_the_rest_shown(renderings: dict[str, Any]) -> None:
    """Every short header is either in the table's header line or in the line naming what was
    hidden, never both; the legend names the devices."""
    text = renderings["step, two devices"](Display(80))
    lines = text.split("\n\n")[1].splitlines()
    shown = {cell.strip() for cell in lines[0].strip("|").split("|")}
    notes = " ".join(line for line in lines if not line.startswith("|"))
    assert notes.startswith("Devices: 1 = H100-SXM5-80GB, 2 = MI300X-192GB. Hidden to fit 80")
    hidden = set(re.sub(r".*columns: (.*) \(--wide.*", r"\1", notes).split(", "))
    everything = {"Layer", "Blocks", "FLOPs", "Weights", "Inputs", "Outputs", "FLOPs/B"}
    everything |= {f"{what} {k}" for k in (1, 2) for what in ("Time", "Expected", "Bound")}
    assert shown | hidden == everything and not shown & hidden
    assert {"Layer", "Time 1"} <= shown  # never hidden


def test_notes_wrap_to_the_width_and_say_the_same(renderings: dict[str, Any]) -> None:
    full = renderings["step, one device, TP 4"](PLAIN)
    wrapped = renderings["step, one device, TP 4"](Display(60))
    for paragraph in ("TPOT: time per output token", "Minimum Storage Requirement per device"):
        (long_line,) = [line for line in full.splitlines() if line.startswith(paragraph)]
        assert len(long_line) > 200
        lines = wrapped[wrapped.index(paragraph) :].split("\n")
        taken: list[str] = []
        while len(" ".join(taken)) < len(long_line):
            taken.append(lines[len(taken)].strip())
        assert " ".join(taken) == long_line  # the same words, in lines of at most 60
        assert len(taken) >= 4 and all(len(line) <= 60 for line in lines[: len(taken)])


def test_colour_only_on_bound_cells_and_only_when_asked(renderings: dict[str, Any]) -> None:
    plain = renderings["step, two devices"](Display(200))
    coloured = renderings["step, two devices"](Display(200, color=True))
    assert "\x1b" not in plain and ANSI.sub("", coloured) == plain
    painted = set(re.findall(r"\x1b\[\d+m([^\x1b]*)\x1b\[0m", coloured))
    assert painted == {"memory"}  # a decode step at batch 32: every unfused row is memory-bound
    assert "\x1b[36mmemory\x1b[0m" in coloured


# --- the script on a terminal and through a pipe ------------------------------------------------


@pytest.fixture(scope="module")
def through_a_pipe() -> str:
    result = piped(*STEP)
    assert result.returncode == 0 and result.stderr == ""
    return result.stdout


def test_a_pipe_gets_everything_plain_whatever_columns_says(through_a_pipe: str) -> None:
    assert "\x1b" not in through_a_pipe
    assert all(f"| {header} " in through_a_pipe for header in STEP_HEADERS)
    assert piped(*STEP, COLUMNS="60").stdout == through_a_pipe


def test_a_terminal_gets_its_width_and_colours(through_a_pipe: str) -> None:
    text = on_terminal(*STEP, columns=80)
    assert widest(text) <= 80 and "Hidden to fit 80 columns" in text
    assert "\x1b[36mmemory\x1b[0m" in text
    assert widest(on_terminal(*STEP, columns=200, COLUMNS="70")) <= 70  # COLUMNS over the size


def test_wide_on_a_terminal_is_the_piped_output_in_colour(through_a_pipe: str) -> None:
    text = on_terminal("--wide", *STEP, columns=80)
    assert "\x1b[36m" in text and ANSI.sub("", text) == through_a_pipe


def test_no_color_is_respected_and_json_is_never_coloured(through_a_pipe: str) -> None:
    assert on_terminal("--wide", *STEP, NO_COLOR="1") == through_a_pipe
    assert on_terminal("--format", "json", *STEP) == piped("--format", "json", *STEP).stdout


@pytest.mark.parametrize(
    ("tty", "env", "wide", "expected"),
    [
        (False, {"COLUMNS": "60"}, False, Display(None, False)),
        (True, {"COLUMNS": "60"}, False, Display(60, True)),
        (True, {"COLUMNS": "60", "NO_COLOR": "1"}, False, Display(60, False)),
        (True, {"COLUMNS": "60", "NO_COLOR": ""}, False, Display(60, True)),  # empty: unset
        (True, {"COLUMNS": "60", "TERM": "dumb"}, False, Display(60, False)),
        (True, {"COLUMNS": "60"}, True, Display(None, True)),
        (False, {}, True, Display(None, False)),
    ],
)
def test_detect(tty: bool, env: dict[str, str], wide: bool, expected: Display) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert detect(Stream(), wide=wide, environ=env) == expected


# --- the progress bar ---------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_writes_nothing_off_a_terminal() -> None:
    stream, now = io.StringIO(), [0.0]
    bar = Progress("plan", stream, clock=lambda: now[0])
    for done in range(10):
        now[0] += 1.0
        bar(done, 10)
    bar.close()
    assert stream.getvalue() == "" and bar.calls == 10


def test_progress_on_a_terminal_waits_draws_and_erases() -> None:
    stream, now = _Terminal(), [0.0]
    with Progress("plan", stream, delay=1.0, interval=0.1, clock=lambda: now[0]) as bar:
        bar(1, 4)  # at once: a run shorter than the delay shows nothing
        assert stream.getvalue() == ""
        now[0] = 1.5
        bar(2, 4)
        assert stream.getvalue() == "\rplan [" + "#" * 15 + "." * 15 + "] 2/4 2 s\x1b[K"
        bar(3, 4)  # within the interval: not redrawn
        assert stream.getvalue().count("\r") == 1
    assert stream.getvalue().endswith("\r\x1b[K")


def test_a_short_run_on_a_terminal_leaves_nothing() -> None:
    stream = _Terminal()
    with Progress("grid", stream) as bar:
        bar(1, 2)
    assert stream.getvalue() == ""


def test_the_plan_and_the_grid_report_their_progress() -> None:
    calls: list[tuple[int, int]] = []
    plan_model(
        "meta-llama/Llama-3.2-1B",
        input_tokens=128,
        output_tokens=16,
        hardware=["H100-SXM5-80GB", "L4-24GB"],
        tpot_slo=1.0,
        max_devices=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    # TP x PP in {1, 2} with TP x PP <= 2: 3 splits on each of 2 devices
    assert calls == [(done, 6) for done in range(7)]
    calls.clear()
    sweep(
        "meta-llama/Llama-3.2-1B",
        batch_sizes=[1, 2],
        cached_tokens=[0, 64, 128],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_piped_plan_writes_nothing_on_stderr() -> None:
    result = piped(
        "--plan",
        "--input-tokens",
        "128",
        "--output-tokens",
        "16",
        "--tpot-slo",
        "1",
        "--hardware",
        "L4-24GB",
        "--max-devices",
        "2",
        "--",
        "meta-llama/Llama-3.2-1B",
    )
    assert result.returncode == 0 and result.stderr == "" and "\x1b" not in result.stdout


# --- machine-readable additions -----------------------------------------------------------------


def test_every_json_document_carries_the_version() -> None:
    version = transformer_roofline.__version__
    step = analyze_model("meta-llama/Llama-3.2-1B", hardware=["L4-24GB"])
    assert json.loads(step.render("json"))["version"] == version
    plan = plan_model(
        "meta-llama/Llama-3.2-1B",
        input_tokens=128,
        output_tokens=16,
        hardware=["L4-24GB"],
        tpot_slo=1.0,
        max_devices=1,
    )
    assert json.loads(plan_json(plan))["version"] == version
    grid = sweep("meta-llama/Llama-3.2-1B", batch_sizes=[1], cached_tokens=[0])
    assert json.loads(render_grid_json(grid))["version"] == version
    assert json.loads(list_hardware("json"))["version"] == version
    assert json.loads(list_models(sorted(PARSER_REGISTRY), "json"))["version"] == version


def _grid_run() -> tuple[list[Any], GridRun]:
    source, parser = load_model("meta-llama/Llama-3.1-70B", kv_cache_dtype="fp8")
    parallel = Parallelism(4, 2)
    hardware = ["H100-SXM5-80GB", "MI300X-192GB"]
    scenarios = sweep(
        parser,
        batch_sizes=[1, 8],
        cached_tokens=[1000, 4096],
        input_tokens=3,
        parallel=parallel,
        hardware=hardware,
        execution="eager",
        efficiency_profile="engines-2023",
        efficiency={"bandwidth": 0.7},
    )
    run = GridRun.of(
        source, parser, parallel, 3, "eager", hardware, "engines-2023", {"bandwidth": 0.7}
    )
    return scenarios, run


def test_grid_json_says_what_it_was_run_with_and_keeps_integers() -> None:
    scenarios, run = _grid_run()
    document = json.loads(render_grid_json(scenarios, run))
    assert document["model"] == {"source": "meta-llama/Llama-3.1-70B", "model_type": "llama"}
    assert document["precision"] == {
        "weight": "bfloat16",
        "activation": "bfloat16",
        "kv_cache": "float8_e4m3",
    }
    assert document["parallel"] == {"tensor": 4, "pipeline": 2, "expert": 1, "devices": 8}
    assert document["input_tokens"] == 3 and document["execution"] == "eager"
    assert [h["name"] for h in document["hardware"]] == ["H100-SXM5-80GB", "MI300X-192GB"]
    for h in document["hardware"]:
        assert h["efficiency"]["profile"] == "engines-2023"
        assert h["efficiency"]["parameters"]["bandwidth"] == 0.7
    one = analyze_model(
        "meta-llama/Llama-3.1-70B",
        cached_tokens=[1000],
        input_tokens=[3],
        batch_size=8,
        kv_cache_dtype="fp8",
        tensor_parallel=4,
        pipeline_parallel=2,
    )
    (record,) = [
        s
        for s in document["scenarios"]
        if (s["batch_size"], s["cached_tokens"], s["hardware"]) == (8, 1000, "MI300X-192GB")
    ]
    assert type(record["memory_bytes"]) is int
    assert record["memory_bytes"] == one.report.device_memory_bytes
    assert all(
        type(s["memory_bytes"]) is int and type(s["flops"]) is int for s in document["scenarios"]
    )


def test_grid_csv_repeats_the_settings_in_every_row() -> None:
    scenarios, run = _grid_run()
    rows = list(csv.DictReader(io.StringIO(render_grid_csv(scenarios, run))))
    assert len(rows) == len(scenarios) == 8
    for row, s in zip(rows, scenarios, strict=True):
        assert row["model"] == "meta-llama/Llama-3.1-70B" and row["model_type"] == "llama"
        assert (row["weight_format"], row["kv_cache_format"]) == ("bfloat16", "float8_e4m3")
        assert (row["tensor_parallel"], row["pipeline_parallel"], row["expert_parallel"]) == (
            "4",
            "2",
            "1",
        )
        assert row["execution"] == "eager" and row["efficiency_profile"] == "engines-2023"
        assert int(row["memory_bytes"]) == s.memory_bytes and row["hardware"] == s.hardware


@pytest.mark.parametrize("cached", [1, 2])
def test_a_grid_keeps_whole_byte_counts_as_ints(cached: int) -> None:
    """int4 weights and KV cache: 0.5 B per element plus a 16-bit scale per 32 (or 128), so a
    byte count may be a fraction: a float then, an int whenever it is whole."""
    options: dict[str, Any] = {"weight_dtype": "int4", "kv_cache_dtype": "int4"}
    (scenario,) = sweep(
        "meta-llama/Llama-3.1-8B", batch_sizes=[1], cached_tokens=[cached], **options
    )
    exact = analyze_model("meta-llama/Llama-3.1-8B", cached_tokens=[cached], **options)
    exact = exact.report.device_memory_bytes
    assert isinstance(exact, int | Fraction) and scenario.memory_bytes == exact
    assert type(scenario.memory_bytes) is (int if exact == int(exact) else float)


def test_the_step_csv_total_row_carries_the_hardware_summary() -> None:
    analysis = analyze_model(
        "meta-llama/Llama-3.1-8B",
        cached_tokens=[4096],
        batch_size=32,
        hardware=["H100-SXM5-80GB", "L4-24GB"],
        find_smallest_fit=True,
    )
    rows = list(csv.DictReader(io.StringIO(analysis.render("csv"))))
    document = json.loads(analysis.render("json"))
    *layers, total = rows
    assert total["layer"] == "Total" and len(layers) == len(document["layers"])
    for h in document["hardware"]:
        name = h["name"]
        for key in ("step_time_s", "expected_step_time_s", "tokens_per_s", "compute_utilization"):
            assert float(total[f"{key}[{name}]"]) == pytest.approx(h[key], rel=1e-5)
            assert all(row[f"{key}[{name}]"] == "" for row in layers)
        for key in ("storage_bytes", "memory_bytes", "min_devices", "max_batch"):
            assert int(total[f"{key}[{name}]"]) == h[key]
        assert total[f"fits[{name}]"] == str(h["fits"])
    # 32 x 4097 tokens x 128 KiB of KV cache (16 GiB) + 15 GiB of weights: the H100's 79.6 GiB
    # hold them, the L4's 22.5 GiB do not
    assert total["fits[L4-24GB]"] == "False" and total["fits[H100-SXM5-80GB]"] == "True"


def test_the_hardware_list_as_json_and_csv() -> None:
    document = json.loads(list_hardware("json"))
    entries = {h["name"]: h for h in document["hardware"]}
    assert list(entries) == [sheet.name for sheet in DATASHEETS]
    h100 = entries["H100-SXM5-80GB"]
    assert h100["family"] == "hopper" and h100["interconnect"] == "NVLink 4"
    assert h100["peak_tflops"]["bf16"] == 989.4 and h100["peak_tflops"]["fp8"] == 1978.9
    assert h100["memory_gb"] == 85.5 and h100["bandwidth_gb_s"] == 3350
    assert h100["interconnect_gb_s"] == 900 and h100["source"].startswith("NVIDIA")
    assert entries["TPU7x"]["aliases"] == ["TPU-v7", "Ironwood"]
    assert sorted(a for h in entries.values() for a in h["aliases"]) == sorted(ALIASES)
    assert set(h100) == {
        "name",
        "family",
        "memory_gb",
        "bandwidth_gb_s",
        "peak_tflops",
        "interconnect",
        "interconnect_gb_s",
        "aliases",
        "source",
    }
    rows = list(csv.DictReader(io.StringIO(list_hardware("csv"))))
    assert [row["name"] for row in rows] == list(entries)
    for row in rows:
        peaks = entries[row["name"]]["peak_tflops"]
        for fmt in PEAK_FORMATS:
            cell = row.get(f"peak_tflops[{fmt}]", "")
            assert (float(cell) if cell else None) == peaks.get(fmt)


def test_the_model_list_as_json_and_csv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    document = json.loads(list_models(sorted(PARSER_REGISTRY), "json"))
    assert [m["name"] for m in document["models"]] == list(catalog())
    llama = next(m for m in document["models"] if m["name"] == "meta-llama/Llama-3.1-8B")
    assert llama == {
        "name": "meta-llama/Llama-3.1-8B",
        "model_type": "llama",
        "analyzable": True,
        "reason": None,
    }
    (tmp_path / "x__unknown.json").write_text(json.dumps({"model_type": "not_a_model"}))
    monkeypatch.setattr(listing, "catalog", lambda: {"x/unknown": tmp_path / "x__unknown.json"})
    (row,) = csv.DictReader(io.StringIO(list_models(["llama"], "csv")))
    assert row["name"] == "x/unknown" and row["analyzable"] == "False"
    assert "not_a_model" in row["reason"]


def test_the_lists_honour_format_on_the_command_line() -> None:
    result = piped("--list-hardware", "--format", "json")
    assert json.loads(result.stdout)["hardware"][0]["name"] == DATASHEETS[0].name
    result = piped("--list-models", "--format", "csv")
    assert result.stdout.splitlines()[0] == "name,model_type,analyzable,reason,alias_of"
