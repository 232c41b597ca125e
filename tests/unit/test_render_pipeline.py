"""With pipeline stages the step's outputs give a token's latency through every stage beside the
busiest stage's time (the throughput's): table, JSON and CSV agree with the stage times."""

from __future__ import annotations

import csv
import io
import json

import pytest

from transformer_roofline import analyze_model

RUN = {
    "cached_tokens": [4096],
    "input_tokens": [1],
    "batch_size": 8,
    "hardware": ["H100-SXM5-80GB"],
    "tensor_parallel": 2,
}


def test_csv_total_row_carries_the_latency_only_with_stages() -> None:
    one = analyze_model("meta-llama/Llama-3.1-70B", **RUN)
    assert "latency_s" not in one.render("csv").splitlines()[0]
    staged = analyze_model("meta-llama/Llama-3.1-70B", pipeline_parallel=4, **RUN)
    rows = list(csv.DictReader(io.StringIO(staged.render("csv"))))
    (result,) = staged.hardware
    times, expected = result.stage_times_s, result.expected_stage_times_s
    assert len(times) == 4 and result.step_time_s == max(times) < sum(times)
    total = rows[-1]
    assert total["layer"] == "Total"
    assert float(total["latency_s[H100-SXM5-80GB]"]) == pytest.approx(sum(times), rel=1e-5)
    overhead = result.efficiency.step_overhead_s
    assert float(total["expected_latency_s[H100-SXM5-80GB]"]) == pytest.approx(
        sum(expected) + overhead, rel=1e-5
    )
    assert float(total["time_s[H100-SXM5-80GB]"]) == pytest.approx(max(times), rel=1e-5)
    assert all(row["latency_s[H100-SXM5-80GB]"] == "" for row in rows[:-1])


def test_json_and_table_name_both_times() -> None:
    staged = analyze_model("meta-llama/Llama-3.1-70B", pipeline_parallel=4, **RUN)
    (device,) = json.loads(staged.render("json"))["hardware"]
    assert device["latency_s"] == pytest.approx(sum(device["stage_times_s"]), rel=1e-12)
    assert device["step_time_s"] == max(device["stage_times_s"])
    table = staged.render("table")
    assert "Latency (ideal, all stages)" in table and "Stage time (ideal, throughput)" in table
    single = analyze_model("meta-llama/Llama-3.1-70B", **RUN).render("table")
    assert "Stage time" not in single and "| Latency (ideal) " in single
