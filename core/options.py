"""The command line's options as data, the parser built from them, and the syntax of counts.

`SECTIONS` holds every option once: its flag, how argparse reads it (nargs, type, default,
choices, action), its metavar and its help line with an example; `build_parser()` turns the table
into an `argparse` parser, one help section per group. The script (`transformer_roofline_analyzer`)
parses with it and dispatches; the API does the work.

Token counts (`--cached-tokens`, `--input-tokens`, `--output-tokens`, `--token-budget`, sweep
values and ranges) are integers or integers with a binary suffix, as context lengths are quoted:
`4k` = 4,096, `128k` = 131,072, `1M` = 1,048,576 (k or K = 2^10, M or m = 2^20). A value that is
not a count is one line naming the option; one that looks like a model (a path, a `.json`, an
`org/name`) says to put the model after `--`, since a list option takes every value after it.

Importing this module stays cheap: what only a help text or one option needs (the efficiency
profiles' data file) is read when that text is printed or that option is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .base_parser import TransformerMode
from .errors import EXIT_CODES, UsageError
from .layers.mla import MlaMode
from .model.formats import format_names
from .output.render import RENDERERS
from .serving.defaults import DEFAULT_MEMORY_UTILIZATION, DEFAULT_TOKEN_BUDGET, MAX_PLAN_CONCURRENCY

PROG = "transformer_roofline_analyzer"

# --- counts -------------------------------------------------------------------------------------

TOKEN_SUFFIXES = {"k": 2**10, "K": 2**10, "m": 2**20, "M": 2**20}
TOKEN_SYNTAX = "an integer, or with k or M: 4k = 4096, 128k = 131072, 1M = 1048576"
MAX_POINTS = 100_000  # values of one sweep axis, and scenarios of a sweep


def parse_count(text: str) -> int | None:
    """`text` as a count ("4096", "4k", "1M", "-1": the sign is left for the checks that name
    the query), or None when it is not one."""
    digits, scale = text, 1
    if text[-1:] in TOKEN_SUFFIXES:
        digits, scale = text[:-1], TOKEN_SUFFIXES[text[-1]]
    sign, body = ("-", digits[1:]) if digits.startswith("-") else ("", digits)
    if not (body.isascii() and body.isdigit()):
        return None
    return int(sign + body) * scale


def looks_like_model(text: str) -> bool:
    """A value a list option swallowed that was meant as the model: an `org/name`, a path, a
    config file."""
    if not text:
        return False
    if "/" in text or text.endswith(".json"):
        return True
    try:
        return Path(text).exists()
    except OSError:  # a name too long to be a path
        return False


def _not_a_count(text: str, what: str) -> argparse.ArgumentTypeError:
    if looks_like_model(text):
        return argparse.ArgumentTypeError(
            f"{text!r} looks like the model: a list option takes every value after it; put the "
            f"model after '--': {PROG} [options] -- {text}"
        )
    return argparse.ArgumentTypeError(f"{text!r} is not {what} ({TOKEN_SYNTAX})")


def token_count(text: str) -> int:
    """argparse type of a token count (the module docstring's syntax)."""
    count = parse_count(text)
    if count is None:
        raise _not_a_count(text, "a token count")
    return count


_RANGE_HELP = (
    "a range is START:STOP:xFACTOR (factor >= 2, start >= 1) or START:STOP:+STEP (step >= 1), "
    "START <= STOP"
)


def sweep_values(text: str) -> list[int]:
    """argparse type of one sweep value: a count ("8", "4k") or an inclusive range,
    "1:256:x2" (1, 2, 4, ... 256: geometric) or "0:8k:+1k" (arithmetic)."""
    parts = text.split(":")
    if len(parts) == 1:
        count = parse_count(text)
        if count is None or count < 0:
            raise _not_a_count(text, "a value or a range such as 1:256:x2 or 0:8192:+1024")
        return [count]
    kind, step_text = (parts[2][:1], parts[2][1:]) if len(parts) == 3 else ("", "")
    lo, hi = (parse_count(part) for part in parts[:2])
    by = parse_count(step_text) if kind == "+" else int(step_text) if step_text.isdigit() else None
    if kind not in ("x", "+") or lo is None or hi is None or by is None:
        raise _not_a_count(text, "a value or a range such as 1:256:x2 or 0:8192:+1024")
    if by < (2 if kind == "x" else 1) or (kind == "x" and lo < 1) or lo < 0 or lo > hi:
        raise argparse.ArgumentTypeError(f"{text}: {_RANGE_HELP}")
    values, current = [], lo
    while current <= hi and len(values) <= MAX_POINTS:
        values.append(current)
        current = current * by if kind == "x" else current + by
    return values


def sweep_axis(values: Sequence[Sequence[int]], option: str) -> list[int]:
    """One sweep axis from its parsed values: in order, duplicates dropped."""
    if sum(len(group) for group in values) > MAX_POINTS:
        raise UsageError(f"{option}: more than {MAX_POINTS} values")
    return list(dict.fromkeys(v for group in values for v in group))


def _efficiency_profile(name: str) -> str:
    """argparse type of --efficiency-profile: a profile of core/hardware/efficiency.json (read
    only when the option is given)."""
    from .hardware.efficiency import profile_names

    if name not in profile_names():
        choices = ", ".join(repr(p) for p in profile_names())
        raise argparse.ArgumentTypeError(f"invalid choice: {name!r} (choose from {choices})")
    return name


def _efficiency_profile_help() -> str:
    from .hardware.efficiency import default_profile, profile_names

    return (
        f"with --hardware: the engine profile of the expected estimate, one of "
        f"{', '.join(profile_names())} (default: {default_profile()}; see the README's "
        "calibration section), e.g. --efficiency-profile engines-2023"
    )


# --- the options --------------------------------------------------------------------------------


class _Version(argparse.Action):
    """--version: pyproject's version (transformer_roofline.__version__), read only when asked."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        import sys

        from transformer_roofline import __version__

        sys.stdout.write(f"{PROG} {__version__}\n")
        parser.exit()


@dataclass(frozen=True)
class Option:
    """One option: `argparse.add_argument`'s arguments as data. `help` is a function where the
    text needs a data file: it is called only to print --help."""

    flag: str
    help: str | Callable[[], str]
    metavar: str | tuple[str, ...] | None = None
    nargs: str | int | None = None
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: Sequence[str] | None = None
    action: str | type[argparse.Action] | None = None


EXECUTIONS = ("fused", "eager")  # core/hardware/roofline.py's Execution values (a test checks)
FORMATS_HELP = ", ".join(format_names())


def _dtype(flag: str, what: str) -> Option:
    return Option(
        flag,
        f"number format of {what}; default: the config's dtype. One of: {FORMATS_HELP}. "
        f"e.g. {flag} fp8",
        metavar="FORMAT",
    )


def _parallel(flag: str, what: str, example: int) -> Option:
    return Option(
        flag,
        f"{what}; the table shows one device's share (default: 1), e.g. {flag} {example}",
        metavar="N",
        type=int,
        default=1,
    )


def _target(flag: str, what: str, example: str) -> Option:
    return Option(flag, f"with --plan: {what}, e.g. {flag} {example}", metavar="X", type=float)


SECTIONS: tuple[tuple[str, tuple[Option, ...]], ...] = (
    (
        "model and queries",
        (
            Option(
                "model",
                "a config.json, a directory holding one, a bundled hub name (e.g. "
                "meta-llama/Llama-3.1-8B; see --list-models) or another hub name (needs "
                "network); after '--' when a list option comes before it",
                nargs="?",
            ),
            Option(
                "--cached-tokens",
                "tokens already in each query's KV cache, one value per query (default: 0; "
                "4k = 4096, 1M = 1048576), e.g. --cached-tokens 1024 128k",
                metavar="N",
                nargs="+",
                type=token_count,
                default=[0],
            ),
            Option(
                "--input-tokens",
                "new tokens each query brings this step, one value per query (default: 1), "
                "e.g. --input-tokens 1 1",
                metavar="N",
                nargs="+",
                type=token_count,
                default=[1],
            ),
            Option(
                "--batch-size",
                "repeat the query lists to B queries (a multiple of their length), "
                "e.g. --cached-tokens 1024 --input-tokens 1 --batch-size 8",
                metavar="B",
                type=int,
            ),
            _dtype(
                "--weight-dtype", "weights (overrides the config's dtype and quantization_config)"
            ),
            _dtype("--activation-dtype", "activations"),
            _dtype("--kv-cache-dtype", "the KV cache"),
            Option(
                "--mla",
                "cost model of Multi-head Latent Attention (DeepSeek-V2/V3, Kimi-K2): 'absorbed' "
                "attends in latent space with kv_b folded into the query and output (engines' "
                "decode), 'expanded' decompresses every cached latent (HuggingFace's code, "
                "engines' prefill), 'auto' (default) absorbs for decode queries and expands for "
                "the others. e.g. --mla expanded",
                choices=[m.value for m in MlaMode],
                default=MlaMode.AUTO.value,
            ),
            Option(
                "--mode",
                "which tower to analyze: the text decoder (default) or the vision encoder and "
                "its projector over --images at --image-size (multimodal configs), "
                "e.g. --mode vision",
                choices=[mode.value for mode in TransformerMode],
                default=TransformerMode.Text.value,
            ),
            Option(
                "--images",
                "images: in vision mode, how many the encoder runs over (default 1); in text "
                "mode, each query also brings N images whose tokens join its input and whose "
                "encoder pass runs before the step, e.g. --images 2",
                metavar="N",
                type=int,
            ),
            Option(
                "--image-size",
                "the images' height and width in pixels (default: the vision tower's native "
                "size); the family's image processor resizes and tiles them, "
                "e.g. --image-size 1080 1920",
                metavar=("H", "W"),
                nargs=2,
                type=int,
            ),
        ),
    ),
    (
        "parallelism",
        (
            _parallel(
                "--tensor-parallel", "tensor-parallel ranks: GEMMs, heads and experts split", 4
            ),
            _parallel("--pipeline-parallel", "pipeline stages: contiguous layers per stage", 2),
            _parallel(
                "--expert-parallel",
                "expert-parallel ranks (dividing the tensor-parallel degree): whole experts per "
                "rank, all-to-all dispatch",
                8,
            ),
        ),
    ),
    (
        "hardware",
        (
            Option(
                "--hardware",
                "time the step on accelerators: catalog names (see --list-hardware) or "
                ".json/.yaml spec files; several give a side-by-side comparison, "
                "e.g. --hardware H100-SXM5-80GB L40S-48GB",
                metavar="NAME_OR_SPEC",
                nargs="+",
                action="extend",
            ),
            Option(
                "--execution",
                "with --hardware: 'fused' (default) runs norms, RoPE, activations and adds fused "
                "into neighbouring kernels, as serving engines do; 'eager' runs every op as its "
                "own kernel, as HuggingFace eager does. e.g. --execution eager",
                choices=EXECUTIONS,
                default="fused",
            ),
            Option(
                "--efficiency-profile",
                _efficiency_profile_help,
                metavar="PROFILE",
                type=_efficiency_profile,
            ),
            Option(
                "--efficiency",
                "with --hardware: override parameters of the expected estimate, e.g. "
                "--efficiency bandwidth=0.75 gemm.fp8=0.5 step_overhead_s=0.002",
                metavar="KEY=VALUE",
                nargs="+",
            ),
        ),
    ),
    (
        "generation and serving (with --hardware)",
        (
            Option(
                "--output-tokens",
                "with --hardware: each query then generates N tokens (one value for all, or one "
                "per query): the whole generation's TTFT, TPOT, end to end and tokens/s, "
                "e.g. --input-tokens 2k --output-tokens 512",
                metavar="N",
                nargs="+",
                type=token_count,
            ),
            Option(
                "--concurrency",
                "with --hardware and --output-tokens: serve C concurrent requests of "
                "--input-tokens / --output-tokens tokens on one replica (continuous batching): "
                "TTFT, TPOT, tokens/s in total, per GPU and per user, requests/s, the "
                "concurrency that fits, e.g. --concurrency 64",
                metavar="C",
                type=int,
            ),
            Option(
                "--token-budget",
                "with --concurrency or --plan: tokens per engine step, decodes and prefill "
                f"chunks (vLLM's max_num_batched_tokens; default {DEFAULT_TOKEN_BUDGET}), "
                "e.g. --token-budget 2k",
                metavar="N",
                type=token_count,
                default=DEFAULT_TOKEN_BUDGET,
            ),
            Option(
                "--gpu-memory-utilization",
                "with --concurrency or --plan: the share of each device's memory the engine "
                "takes for weights, activations and the KV-cache pool (default "
                f"{DEFAULT_MEMORY_UTILIZATION}, as vLLM), e.g. --gpu-memory-utilization 0.95",
                metavar="F",
                type=float,
                default=DEFAULT_MEMORY_UTILIZATION,
            ),
        ),
    ),
    (
        "plan",
        (
            Option(
                "--plan",
                "search --hardware (default: the catalog) x every TP x PP x EP split up to "
                f"--max-devices x concurrencies 1-{MAX_PLAN_CONCURRENCY} for the deployments "
                "that meet --ttft-slo and --tpot-slo, best output tokens/s per GPU first, and "
                "the Pareto front (chart with --plot), e.g. --plan --ttft-slo 2 --tpot-slo 0.05",
                action="store_true",
            ),
            _target("--ttft-slo", "the largest expected time to first token, seconds", "2"),
            _target("--tpot-slo", "the largest expected time per output token, seconds", "0.05"),
            _target("--request-rate", "requests/s to serve: the GPUs each deployment needs", "10"),
            _target(
                "--price-per-gpu-hour",
                "the price of one device-hour (over spec files' price_per_gpu_hour): the cost "
                "per million output tokens",
                "2.5",
            ),
            Option(
                "--max-devices",
                "with --plan: the most devices of one replica (default 8), e.g. --max-devices 16",
                metavar="N",
                type=int,
                default=8,
            ),
        ),
    ),
    (
        "sweeps",
        (
            Option(
                "--sweep-batch-size",
                "evaluate a grid of scenarios: batch sizes as integers or ranges "
                "(START:STOP:xFACTOR, START:STOP:+STEP), one row per scenario of identical "
                "queries, e.g. --sweep-batch-size 1:256:x2",
                metavar="B",
                nargs="+",
                type=sweep_values,
            ),
            Option(
                "--sweep-cached-tokens",
                "the grid's cached-token counts (context lengths), same syntax, e.g. "
                "--sweep-cached-tokens 1k 4k 16k or 0:128k:+16k; with --plot: throughput "
                "against latency",
                metavar="N",
                nargs="+",
                type=sweep_values,
            ),
        ),
    ),
    (
        "output",
        (
            Option(
                "--format",
                "output: a table for people, JSON or CSV with raw integers for scripts "
                "(default: table; also for --list-models and --list-hardware), "
                "e.g. --format json",
                choices=sorted(RENDERERS),
                default="table",
            ),
            Option(
                "--wide",
                "tables: every column and unwrapped notes, however wide the terminal (on a "
                "terminal, columns that do not fit are otherwise hidden; pipes and files always "
                "get every column), e.g. --wide",
                action="store_true",
            ),
            Option(
                "--plot",
                "with --hardware or --plan: write the chart to FILE (.png or .svg): the "
                "roofline; a sweep's throughput against latency; the plan's Pareto front. "
                "e.g. --plot roofline.svg",
                metavar="FILE",
            ),
            Option(
                "--list-models",
                "list the bundled model configs, marking which this version can analyze, "
                "e.g. --list-models",
                action="store_true",
            ),
            Option(
                "--list-hardware",
                "list the bundled accelerators with their datasheet figures and sources, "
                "e.g. --list-hardware",
                action="store_true",
            ),
            Option("--version", "print the version and exit, e.g. --version", action=_Version),
        ),
    ),
)

EXAMPLES = f"""\
examples:
  # decode: one query with 1M tokens cached generates one token
  ./{PROG} --cached-tokens 1M --input-tokens 1 -- meta-llama/Llama-3.1-8B
  # prefill of two prompts (512 and 1024 tokens) from a local config
  ./{PROG} --cached-tokens 0 0 --input-tokens 512 1k -- path/to/config.json
  # batch of 8 decode queries, JSON for scripts, from a HuggingFace model directory
  ./{PROG} --cached-tokens 1k --input-tokens 1 --batch-size 8 --format json -- path/to/dir
  # the same step on two GPUs: time per layer, bound, latency, throughput, fit; a chart
  ./{PROG} --cached-tokens 4k --input-tokens 1 --batch-size 32 \\
      --hardware H100-SXM5-80GB A100-SXM4-80GB --plot roofline.png -- meta-llama/Llama-3.1-8B
  # fp8 weights and activations, an fp8 KV cache, on a spec file of your own
  ./{PROG} --weight-dtype fp8 --activation-dtype fp8 --kv-cache-dtype fp8 \\
      --hardware my-gpu.yaml -- meta-llama/Llama-3.1-70B
  # a 2048-token prompt, then 512 generated tokens: TTFT, TPOT, end to end, tokens/s
  ./{PROG} --input-tokens 2k --output-tokens 512 --hardware H100-SXM5-80GB \\
      --tensor-parallel 4 -- meta-llama/Llama-3.1-70B
  # serving 64 concurrent requests of 2048 in / 512 out on 4 H100s
  ./{PROG} --input-tokens 2k --output-tokens 512 --concurrency 64 \\
      --hardware H100-SXM5-80GB --tensor-parallel 4 -- meta-llama/Llama-3.1-70B
  # the best deployments under TTFT 2 s and TPOT 50 ms, GPUs for 10 requests/s, cost
  ./{PROG} --plan --input-tokens 2k --output-tokens 512 --ttft-slo 2 --tpot-slo 0.05 \\
      --request-rate 10 --price-per-gpu-hour 2.5 --hardware H100-SXM5-80GB H200-SXM-141GB \\
      -- meta-llama/Llama-3.1-70B
  # batch sizes 1 to 256 at contexts 4k and 32k, as CSV
  ./{PROG} --sweep-batch-size 1:256:x2 --sweep-cached-tokens 4k 32k --hardware H100-SXM5-80GB \\
      --format csv -- meta-llama/Llama-3.1-8B
  # the vision encoder of a multimodal model over two 1080p images; images in a prompt
  ./{PROG} --mode vision --images 2 --image-size 1080 1920 -- path/to/Qwen3-VL/config.json
  ./{PROG} --input-tokens 200 --images 2 --hardware H100-SXM5-80GB -- path/to/config.json
  # the bundled configs and accelerators
  ./{PROG} --list-models
  ./{PROG} --list-hardware

token counts: {TOKEN_SYNTAX} (k = 2^10, M = 2^20, as context lengths are quoted).
A list option (--cached-tokens 1 2 ...) takes every value after it: put the model after '--'.

exit codes:
""" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) with exit code 2, and
    writes the help texts that read data files only when --help prints them."""

    late_help: dict[argparse.Action, Callable[[], str]]

    def error(self, message: str) -> NoReturn:
        message = str(UsageError(message))  # one line, cut at the limit every error keeps
        self.exit(UsageError.exit_code, f"{self.prog}: error: {message} (see --help)\n")

    def format_help(self) -> str:
        for action, text in self.late_help.items():
            action.help = text()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog=PROG,
        description="Estimate compute (FLOPs), memory traffic, operational intensity, KV cache "
        "and minimum storage of one inference step of a transformer, per layer and in total; "
        "its time on hardware, whole generations, serving, a deployment plan, scenario grids.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.late_help = {}
    for title, options in SECTIONS:
        group = parser.add_argument_group(title)
        for option in options:
            settings = {
                key: value
                for key, value in vars(option).items()
                if key not in ("flag", "help") and value is not None
            }
            if callable(option.help):  # written when --help prints
                parser.late_help[group.add_argument(option.flag, help="", **settings)] = option.help
            else:
                group.add_argument(option.flag, help=option.help, **settings)
    return parser
