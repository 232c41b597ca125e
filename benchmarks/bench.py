#!/usr/bin/env python3
"""Speed benchmark (not a test): run with `.venv/bin/python benchmarks/bench.py`.

1. The median wall time and CPU time (user + system) of one CLI run on a local config with table
   output (a fresh process each time, as a user or a CI script runs it): with Python's bytecode
   cache (an installed tool, or any run after the first), and with the project's sources
   compiled on every run (as under PYTHONDONTWRITEBYTECODE=1 with no cache written yet).
2. Scenarios per second of the Python API on a grid of 10,000 (batch x context) points for
   Llama-3.1-70B on one H100 (times, bound, fit for every point), the model loaded once.
3. The median wall time of one CLI run of a 2048-token prompt and a 100,000-token generation of
   Llama-3.1-70B on 8 H100s (the whole generation, summed exactly).
4. The median wall time of one CLI run of the plan for Llama-3.1-70B (2048 in / 512 out, TTFT
   2 s, TPOT 50 ms) over H100, H200 and B200, every split of up to 8 GPUs, concurrencies 1-1024.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformer_roofline import load_model, sweep  # noqa: E402

CONFIG = ROOT / "core" / "catalog" / "meta-llama__Llama-3.1-8B.json"


STEP = ["--cached-tokens", "4096", "--input-tokens", "1", "--batch-size", "8", "--", str(CONFIG)]
GENERATION = [
    "--input-tokens",
    "2048",
    "--output-tokens",
    "100000",
    "--hardware",
    "H100-SXM5-80GB",
    "--tensor-parallel",
    "8",
    "--",
    "meta-llama/Llama-3.1-70B",
]
PLAN = [
    "--plan",
    "--input-tokens",
    "2048",
    "--output-tokens",
    "512",
    "--ttft-slo",
    "2",
    "--tpot-slo",
    "0.05",
    "--hardware",
    "H100-SXM5-80GB",
    "H200-SXM-141GB",
    "B200-180GB",
    "--",
    "meta-llama/Llama-3.1-70B",
]


def cli_median(
    runs: int, args: list[str] = STEP, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Median wall and CPU (user + system of the child) seconds of `runs` fresh processes."""
    command = [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args]
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def cli_step(runs: int) -> None:
    """The step run with the bytecode cache (in a scratch PYTHONPYCACHEPREFIX written by a first
    run), then with the project's compiled modules removed from it and nothing written."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cli_median(1, env=env)
        wall, cpu = cli_median(runs, env=env)
        print(
            f"CLI, one run on a local config (table), median of {runs}: {wall:.3f} s "
            f"({cpu:.3f} s CPU, user + system), bytecode cached"
        )
        shutil.rmtree(Path(cache) / str(ROOT).lstrip(os.sep), ignore_errors=True)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        wall, cpu = cli_median(runs, env=env)
        print(
            f"CLI, the same with the project's sources compiled every run: {wall:.3f} s "
            f"({cpu:.3f} s CPU)"
        )


def grid_rate(points_per_axis: int) -> tuple[int, float]:
    _, parser = load_model("meta-llama/Llama-3.1-70B")
    batches = list(range(1, points_per_axis + 1))
    contexts = [128 * i for i in range(points_per_axis)]
    start = time.perf_counter()
    scenarios = sweep(
        parser, batch_sizes=batches, cached_tokens=contexts, hardware=["H100-SXM5-80GB"]
    )
    return len(scenarios), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="CLI runs (default 21)")
    parser.add_argument("--axis", type=int, default=100, help="grid points per axis (100)")
    args = parser.parse_args()
    cli_step(args.runs)
    points, seconds = grid_rate(args.axis)
    print(
        f"API grid, Llama-3.1-70B on H100-SXM5-80GB: {points} scenarios in {seconds:.2f} s "
        f"= {points / seconds:,.0f} scenarios/s"
    )
    runs = max(3, args.runs // 4)
    wall, cpu = cli_median(runs, GENERATION)
    print(
        f"CLI, 100,000-token generation of Llama-3.1-70B, median of {runs}: {wall:.3f} s "
        f"({cpu:.3f} s CPU)"
    )
    wall, cpu = cli_median(runs, PLAN)
    print(
        f"CLI, plan of Llama-3.1-70B over 3 devices x 8 GPUs, median of {runs}: {wall:.3f} s "
        f"({cpu:.3f} s CPU)"
    )


if __name__ == "__main__":
    main()
