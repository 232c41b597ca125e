#!/usr/bin/env python3
"""A fuzz campaign against the CLI: mutated configs, hostile spec files and arguments.

Every run is the CLI's `main(argv)` in a worker process with a memory cap and a time limit, and is
judged by what the README promises:

- `ok`: exit 0; with `--format json`, the document parses and every number in it is finite;
- `clean`: a documented exit code, exactly one line on stderr (at most 400 characters), nothing on
  stdout;
- `traceback`: an exception escaped (anything that is not an `AnalyzerError`);
- `hang`: past the time limit; `memory`: past the memory cap;
- `wrong`: exit 0 for a config whose mutated value is invalid (a negative, zero, fractional,
  boolean, NaN or infinite size; a value of another JSON kind than the field's own: a string or
  container where a number goes, a flag where a list goes) although the output differs from the
  unmutated config's (so the value was read): a number that should have been refused. (A value
  the model does not read leaves the output unchanged and is fine.)

    .venv/bin/python tools/fuzz.py --runs 2000 --seed 1          # a campaign; prints the counts
    .venv/bin/python tools/fuzz.py --runs 300 --show traceback    # and the failing runs

tests/unit/test_fuzz.py runs a seeded slice of it in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = sorted(
    [
        *(ROOT / "core" / "catalog").glob("*.json"),
        *(ROOT / "tests/end-to-end/configs").glob("*/config.json"),
    ]
)
EXIT_CODES = {0, 2, 3, 4, 5, 6, 7}
LINE_LIMIT = 600
TIME_LIMIT_S = 20
MEMORY_LIMIT = 2 * 2**30

# The values a mutation puts in place of a field's own.
HUGE = [10**9, 10**12, 10**30, 10**400]
BAD_NUMBERS = [0, -1, -(10**9), 0.5, 1e-300, float("nan"), float("inf"), True, False]
# 0 may be meant (no shared experts, no window): not counted as invalid; the rest are, for a
# field holding a positive number (a fraction only where the field holds an int).
BAD_TYPES = ["x", "", [], [1, 2], {}, {"a": 1}, None]


@dataclass
class Run:
    """One CLI run: its arguments, the files it needs, and what makes it `wrong`."""

    kind: str
    argv: list[str]
    files: dict[str, str]  # name -> text, written to a temporary directory ("{dir}" in argv)
    invalid: bool = False  # the config holds a value a size cannot take
    baseline: list[str] | None = None  # the same run on the unmutated config


@dataclass
class Verdict:
    run: Run
    outcome: str
    detail: str


# --- mutations ----------------------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:8]):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(node: Any, path: tuple) -> None:
    parent = _get(node, path[:-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])


def _dumps(config: dict) -> str:
    """JSON text, with each "__NEST_n__" placeholder as n nested objects (deeper than json.dumps
    recurses)."""
    text = json.dumps(config)
    for depth in (3, 50, 5000):
        text = text.replace(f'"__NEST_{depth}__"', '{"a": ' * depth + "1" + "}" * depth)
    return text


def mutate(config: dict, rng: random.Random) -> tuple[dict, str, bool]:
    """(mutated config, what was done, whether the new value is invalid for a size)."""
    out = copy.deepcopy(config)
    paths = list(_paths(out))
    path = rng.choice(paths)
    old = _get(out, path)
    op = rng.choice(["delete", "retype", "number", "huge", "nest", "list"])
    invalid = False
    if op == "delete":
        _delete(out, path)
    elif op == "retype":
        value = rng.choice(BAD_TYPES)
        _set(out, path, value)
        invalid = _numeric(old) and value is not None
    elif op == "number":
        value = rng.choice(BAD_NUMBERS)
        _set(out, path, value)
        invalid = _numeric(old) and (isinstance(value, bool) or value != 0)
        invalid = invalid and not (isinstance(old, float) and _finite_fraction(value))
    elif op == "huge":
        value = rng.choice(HUGE)
        _set(out, path, value)
    elif op == "nest":
        _set(out, path, f"__NEST_{rng.choice([3, 50, 5000])}__")  # written out by `_dumps`
        invalid = _numeric(old)
    else:
        value = [old] * rng.choice([1, 3, 100_000])
        _set(out, path, value)
        invalid = _numeric(old)
    if op != "delete":  # a nest is written out as an object
        invalid = invalid or _retyped(old, {} if op == "nest" else _get(out, path))
    return out, f"{op} {'.'.join(map(str, path))}", invalid


def _kind(value: Any) -> str | None:
    """A JSON value's kind; None for null (a field that may hold null may hold most things)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__  # str, list, dict


def _retyped(old: Any, new: Any) -> bool:
    """A value of another kind than the field's own (a list where a name was, a number where a
    flag was): HF's config classes type every field, so the config would not load there."""
    return None not in (_kind(old), _kind(new)) and _kind(old) != _kind(new)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _finite_fraction(value: Any) -> bool:
    """A value a float field (a ratio, an epsilon, a theta) may legitimately take."""
    return isinstance(value, float) and math.isfinite(value) and value > 0


def config_runs(rng: random.Random) -> Iterator[Run]:
    while True:
        source = rng.choice(CONFIGS)
        config = json.loads(source.read_text())
        mutated, what, invalid = mutate(config, rng)
        choices = [
                ["--cached-tokens", "100", "--input-tokens", "1", "--format", "json"],
                ["--cached-tokens", "0", "--input-tokens", "64", "--format", "json"],
                ["--cached-tokens", "4000", "--input-tokens", "1", "--batch-size", "2",
                 "--hardware", "H100-SXM5-80GB", "--format", "json"],
                ["--cached-tokens", "50", "--input-tokens", "1", "--tensor-parallel", "2",
                 "--format", "json"],
                ["--input-tokens", "16", "--output-tokens", "100000", "--hardware",
                 "H100-SXM5-80GB", "--format", "json"],
                ["--input-tokens", "128", "--output-tokens", "64", "--concurrency", "16",
                 "--hardware", "H100-SXM5-80GB", "--format", "json"],
        ]  # fmt: skip
        if isinstance(config.get("vision_config"), dict):  # its encoder, and images in a prompt
            choices += [
                ["--mode", "vision", "--images", "2", "--image-size", "500", "700",
                 "--format", "json"],
                ["--input-tokens", "20", "--images", "1", "--hardware", "H100-SXM5-80GB",
                 "--format", "json"],
            ]  # fmt: skip
        args = rng.choice(choices)
        text = _dumps(mutated)
        yield Run(
            f"config {source.stem if source.name != 'config.json' else source.parent.name}: {what}",
            [*args, "--", "{dir}/config.json"],
            {"config.json": text},
            invalid,
            [*args, "--", str(source)],
        )


SPEC = {
    "name": "Fuzz-GPU",
    "memory_gb": 80,
    "memory_bandwidth_gb_s": 3350,
    "peak_tflops": {"bf16": 989.4, "fp8": 1978.9},
    "interconnect_gb_s": 900,
}
FIFO = "\0fifo"  # a file's text that makes it a named pipe instead (a reader would block)
SPEC_VALUES = [0, -1, 1e-300, 1e300, 10**400, "NaN", "Infinity", "x", [], {}, True, None]


def spec_runs(rng: random.Random) -> Iterator[Run]:
    while True:
        spec = copy.deepcopy(SPEC)
        choice = rng.random()
        if choice < 0.7:
            path = rng.choice(list(_paths(spec)))
            value = rng.choice(SPEC_VALUES)
            if value in ("NaN", "Infinity"):
                value = float(value.replace("Infinity", "inf"))
            _set(spec, path, value)
            text, name, what = json.dumps(spec), "spec.json", f"{'.'.join(map(str, path))}"
        elif choice < 0.75:
            text, name, what = FIFO, "spec.yaml", "a FIFO"
        elif choice < 0.85:
            text = (
                "a: &a ["
                + ",".join(["x"] * 10)
                + "]\n"
                + "".join(
                    f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]\n"
                    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
                )
            )
            name, what = "spec.yaml", "billion laughs"
        else:
            text, name, what = json.dumps(spec), "x" * 300 + ".json", "long name"
        yield Run(
            f"spec: {what}",
            ["--hardware", f"{{dir}}/{name}", "--format", "json", "--", "meta-llama/Llama-3.1-8B"],
            {name: text},
        )


ARG_VALUES = [
    "0", "-1", "1", "4k", "1M", "10" * 200, "1e3", "x", "3.5", "100000000", "1:100000:+1",
    "x" * 300, "{dir}/" + "y" * 300,
]  # fmt: skip
ARG_OPTIONS = [
    "--cached-tokens", "--input-tokens", "--batch-size", "--tensor-parallel",
    "--pipeline-parallel", "--expert-parallel", "--output-tokens", "--concurrency",
    "--sweep-batch-size", "--sweep-cached-tokens", "--token-budget", "--gpu-memory-utilization",
    "--ttft-slo", "--tpot-slo", "--max-devices",
]  # fmt: skip


def argument_runs(rng: random.Random) -> Iterator[Run]:
    models = [
        "meta-llama/Llama-3.1-8B", "deepseek-ai/DeepSeek-V3", "openai/gpt-oss-20b",
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        str(ROOT / "tests/end-to-end/configs/tiny-llama4"),
        "{dir}/" + "y" * 300 + ".json", "{dir}/" + "z" * 300,
        "{dir}/fifo/config.json", "{dir}/fifo",
    ]  # fmt: skip
    while True:
        argv: list[str] = []
        for option in rng.sample(ARG_OPTIONS, rng.randint(1, 4)):
            argv += [option, *(rng.choice(ARG_VALUES) for _ in range(rng.randint(1, 2)))]
        if rng.random() < 0.5:
            argv += ["--hardware", rng.choice(["H100-SXM5-80GB", "L4-24GB", "nope"])]
        if rng.random() < 0.2:
            argv += [
                "--plot",
                rng.choice(["{dir}", "{dir}/missing/x.png", "{dir}/x.txt", "/x.png"]),
            ]
        if rng.random() < 0.15:
            argv.append("--plan")
        model = rng.choice(models)
        argv += ["--format", "json", "--", model]
        files = {"fifo/config.json": FIFO} if "fifo" in model else {}
        yield Run(f"args: {' '.join(argv[:-2])} -- {model[-40:]}", argv, files)


GENERATORS = {"config": config_runs, "spec": spec_runs, "args": argument_runs}


def campaign(runs: int, seed: int, kinds: tuple[str, ...] = tuple(GENERATORS)) -> list[Run]:
    rng = random.Random(seed)
    streams = [GENERATORS[kind](rng) for kind in kinds]
    weights = [{"config": 6, "spec": 1, "args": 2}[kind] for kind in kinds]
    return [next(rng.choices(streams, weights)[0]) for _ in range(runs)]


# --- running and judging ------------------------------------------------------------------------


def _invoke(argv: list[str]) -> tuple[int, str, str, str]:
    """(exit code, stdout, stderr, escaped exception) of one in-process CLI run."""
    out, err = io.StringIO(), io.StringIO()
    escaped = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _MAIN(argv)
        except _Timeout:
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except MemoryError:
            code, escaped = -2, "MemoryError"
        except BaseException as exc:  # anything escaping is what we look for
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"
            code, escaped = -1, f"{type(exc).__name__} at {where}: {str(exc)[:120]}"
    return code, out.getvalue(), err.getvalue(), escaped


_MAIN: Any = None


class _Timeout(BaseException):
    pass


def _worker_init() -> None:
    global _MAIN
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from transformer_roofline.cli import load_script

    _MAIN = load_script().main


def _alarm(signum, frame):
    raise _Timeout


def judge(run: Run) -> Verdict:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in run.files.items():
            with contextlib.suppress(OSError):
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                if text == FIFO:
                    os.mkfifo(Path(tmp) / name)
                else:
                    (Path(tmp) / name).write_text(text)
        argv = [a.replace("{dir}", tmp) for a in run.argv]
        signal.signal(signal.SIGALRM, _alarm)
        # past the limit, then every second: one signal swallowed cannot leave a run hanging
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S, 1.0)
        try:
            code, out, err, escaped = _invoke(argv)
        except _Timeout:
            return Verdict(run, "hang", f"over {TIME_LIMIT_S} s")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if code == -2:
            return Verdict(run, "memory", escaped)
        if escaped or "Traceback" in err:
            return Verdict(run, "traceback", escaped or err.strip().splitlines()[-1][:200])
        if code not in EXIT_CODES:
            return Verdict(run, "traceback", f"exit {code}: {err[:200]}")
        if code != 0:
            lines = err.splitlines()
            if len(lines) != 1 or len(lines[0]) > LINE_LIMIT or out:
                return Verdict(run, "messy", f"{len(lines)} line(s), {len(err)} chars: {err[:200]}")
            return Verdict(run, "clean", lines[0][:200])
        if "--format" in argv and argv[argv.index("--format") + 1] == "json":
            try:
                json.loads(out, parse_constant=_reject_constant)
            except ValueError as exc:
                return Verdict(run, "wrong", f"JSON not valid or not finite: {str(exc)[:120]}")
        if run.invalid and run.baseline is not None:
            base_code, base_out, _, _ = _invoke(run.baseline)
            if base_code == 0 and _figures(base_out) != _figures(out):
                return Verdict(run, "wrong", "an invalid value was read and accepted")
        return Verdict(run, "ok", "")


def _figures(text: str) -> Any:
    """A JSON output without what names the file it came from."""
    document = json.loads(text)
    for part in (document, document.get("vision") or {}):
        part.get("model", {}).pop("source", None)
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} in the output")


def run_campaign(runs: list[Run], workers: int = 2) -> list[Verdict]:
    context = mp.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, maxtasksperchild=200) as pool:
        return list(pool.imap(judge, runs, chunksize=4))


BAD = ("traceback", "hang", "memory", "messy", "wrong")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", choices=sorted(GENERATORS), default=list(GENERATORS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", nargs="*", choices=BAD, default=[], help="print these runs")
    opts = parser.parse_args()
    verdicts = run_campaign(campaign(opts.runs, opts.seed, tuple(opts.kinds)), opts.workers)
    counts = Counter(v.outcome for v in verdicts)
    print(f"{len(verdicts)} runs (seed {opts.seed}): " + ", ".join(f"{k} {counts[k]}" for k in
          ("ok", "clean", *BAD)))  # fmt: skip
    shown = set(opts.show)
    classes = Counter((v.outcome, v.detail[:90]) for v in verdicts if v.outcome in BAD)
    for (outcome, detail), n in classes.most_common(40):
        print(f"  {n:4} {outcome:9} {detail}")
    for v in verdicts:
        if v.outcome in shown:
            print(f"{v.outcome}: {v.run.kind}\n  argv: {' '.join(v.run.argv)}\n  {v.detail}")
    return 1 if any(counts[k] for k in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
