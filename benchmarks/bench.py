#!/usr/bin/env python3
"""Speed benchmark (not a test): run with `.venv/bin/python benchmarks/bench.py`.

1. The median wall time of one CLI run on a local config with table output (a fresh process
   each time, as a user or a CI script runs it).
2. Scenarios per second of the Python API on a grid of 10,000 (batch x context) points for
   Llama-3.1-70B on one H100 (times, bound, fit for every point), the model loaded once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import load_model, sweep  # noqa: E402

CONFIG = ROOT / "core" / "catalog" / "meta-llama__Llama-3.1-8B.json"


def cli_median(runs: int) -> float:
    command = [
        sys.executable,
        str(ROOT / "transformer_roofline_analyzer"),
        "--cached-tokens",
        "4096",
        "--input-tokens",
        "1",
        "--batch-size",
        "8",
        "--",
        str(CONFIG),
    ]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    median = cli_median(args.runs)
    print(f"CLI, one run on a local config (table), median of {args.runs}: {median:.3f} s")
    points, seconds = grid_rate(args.axis)
    print(
        f"API grid, Llama-3.1-70B on H100-SXM5-80GB: {points} scenarios in {seconds:.2f} s "
        f"= {points / seconds:,.0f} scenarios/s"
    )


if __name__ == "__main__":
    main()
