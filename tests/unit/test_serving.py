"""Serving at a concurrency (core/serving/serving.py) and the plan (core/serving/plan.py): Little's
law, monotone in the concurrency, the KV pool by hand, queueing past it, concurrency 1 against a
whole generation; the plan's pick against brute force; bad input and infeasible plans."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import ROOT

from transformer_roofline.core.api import analyze_model, load_model, plan_model
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.efficiency import Efficiency
from transformer_roofline.core.hardware.roofline import default_efficiency
from transformer_roofline.core.hardware.specs import resolve_hardware
from transformer_roofline.core.model.parallel import SINGLE_DEVICE, Parallelism
from transformer_roofline.core.serving.plan import Targets, splits
from transformer_roofline.core.serving.serving import SteadyState, serve

H100 = resolve_hardware("H100-SXM5-80GB")
L40S = resolve_hardware("L40S-48GB")


def served(model, c, isl, osl, hw=H100, parallel=SINGLE_DEVICE, **kw):
    _, parser = load_model(model)
    return serve(
        parser, hw, default_efficiency(hw), concurrency=c, isl=isl, osl=osl, parallel=parallel, **kw
    )


@pytest.mark.parametrize("c", [1, 7, 64, 400])
def test_littles_law(c) -> None:
    s = served("meta-llama/Llama-3.1-8B", c, 2048, 512)
    assert s.requests_per_s * s.e2e_s == pytest.approx(c, rel=1e-12)
    assert s.expected_requests_per_s * s.expected_e2e_s == pytest.approx(c, rel=1e-12)
    assert s.e2e_s == pytest.approx(s.ttft_s + 511 * s.tpot_s, rel=1e-12)
    assert s.output_tokens_per_s == pytest.approx(s.requests_per_s * 512, rel=1e-12)
    assert s.output_tokens_per_s_per_gpu * s.devices == pytest.approx(s.output_tokens_per_s)
    assert s.expected_output_tokens_per_s_per_user == pytest.approx(1 / s.expected_tpot_s)


def test_the_kv_pool_by_hand() -> None:
    """Llama-3.1-8B in bf16 on one H100: 8,030,261,248 parameters (2 bytes each); a token's KV
    is 32 layers x 8 heads x 128 x (K, V) x 2 bytes; the reserve is 1 GiB + 8 vectors of 4096
    x 2 bytes per token of the 8192 budget."""
    s = served("meta-llama/Llama-3.1-8B", 1, 2048, 512)
    pool = H100.memory_bytes * 0.9 - 8_030_261_248 * 2 - (2**30 + 8 * 8192 * 4096 * 2)
    per_request = 2560 * 32 * 8 * 128 * 2 * 2
    assert float(s.kv_pool_bytes) == pytest.approx(pool, rel=1e-12)
    assert s.request_state_bytes == per_request
    assert s.max_concurrency == math.floor(pool / per_request)


def test_past_the_pool_requests_queue_and_throughput_plateaus() -> None:
    top = served("meta-llama/Llama-3.1-8B", 1, 2048, 512).max_concurrency
    at_top = served("meta-llama/Llama-3.1-8B", top, 2048, 512)
    over = served("meta-llama/Llama-3.1-8B", top + 50, 2048, 512)
    assert at_top.fits and not over.fits and over.running == top
    assert over.expected_requests_per_s == pytest.approx(at_top.expected_requests_per_s)
    assert over.expected_tpot_s == at_top.expected_tpot_s
    # the 50 extra clients wait for a slot: Little's law on the whole loop
    assert over.expected_ttft_s - at_top.expected_ttft_s == pytest.approx(
        50 / at_top.expected_requests_per_s, rel=1e-9
    )


@pytest.mark.parametrize(
    "model,parallel,isl,osl",
    [
        ("meta-llama/Llama-3.1-8B", SINGLE_DEVICE, 1000, 300),
        ("Qwen/Qwen3-30B-A3B", Parallelism(2, 1, 2), 8000, 200),  # MoE, long prompts
        ("meta-llama/Llama-3.1-70B", Parallelism(2, 2, 1), 2048, 512),  # pipeline stages
    ],
)
def test_more_concurrency_never_lowers_tpot_ttft_or_throughput(model, parallel, isl, osl) -> None:
    _, parser = load_model(model)
    eff = default_efficiency(H100)
    top = SteadyState(parser, H100, 1, isl, osl, parallel).max_concurrency
    previous = None
    for c in [*range(1, 40), *range(40, top + 20, 7)]:
        s = SteadyState(parser, H100, c, isl, osl, parallel).on(eff)
        if previous is not None:
            assert s.expected_tpot_s >= previous.expected_tpot_s * (1 - 1e-12)
            assert s.tpot_s >= previous.tpot_s * (1 - 1e-12)
            assert s.expected_ttft_s >= previous.expected_ttft_s * (1 - 1e-12)
            assert s.expected_output_tokens_per_s >= previous.expected_output_tokens_per_s * (
                1 - 1e-12
            )
        previous = s


def test_a_request_waits_for_its_admission_and_its_prompt_on_the_host() -> None:
    """With ideal kernels and no per-step cost, the expected TTFT is the ideal one plus the
    request's admission and the host's work on each of its 3000 prompt tokens."""
    _, parser = load_model("meta-llama/Llama-3.1-8B")
    eff = Efficiency(request_overhead_s=0.02, prompt_token_overhead_s=4e-6)
    s = serve(parser, H100, eff, concurrency=1, isl=3000, osl=10, parallel=SINGLE_DEVICE)
    assert s.expected_ttft_s == pytest.approx(s.ttft_s + 0.02 + 3000 * 4e-6, rel=1e-12)


def test_one_client_is_one_generation() -> None:
    """At concurrency 1 a request runs alone: its prefill is the generation's, and its mean
    decode step is the generation's to within the half-token between their middle contexts."""
    s = served("meta-llama/Llama-3.1-8B", 1, 2048, 513)
    g = analyze_model(
        "meta-llama/Llama-3.1-8B", input_tokens=[2048], output_tokens=[513], hardware=[H100]
    ).generation[0]
    assert s.ttft_s == pytest.approx(g.ttft_s, rel=1e-12)
    assert s.expected_ttft_s == pytest.approx(g.expected_ttft_s, rel=1e-12)
    assert s.e2e_s == pytest.approx(g.e2e_s, rel=1e-4)
    assert s.expected_e2e_s == pytest.approx(g.expected_e2e_s, rel=1e-4)


def test_the_cli_and_api_report_the_issue_fields() -> None:
    a = analyze_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=[2048],
        output_tokens=[512],
        concurrency=32,
        hardware=[H100],
    )
    entry = json.loads(a.render("json"))["serving"][0]
    keys = ["ttft_s", "tpot_s", "e2e_s", "output_tokens_per_s", "output_tokens_per_s_per_gpu"]
    keys += ["requests_per_s"]
    for key in [
        "hardware",
        "concurrency",
        "max_concurrency",
        *keys,
        *(f"expected_{k}" for k in keys),
    ]:
        assert key in entry
    assert entry["concurrency"] == 32 and entry["hardware"] == H100.name
    csv_lines = a.render("csv").splitlines()
    assert csv_lines[0].startswith("hardware,concurrency") and len(csv_lines) == 2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"concurrency": 0}, "--concurrency must be an integer >= 1"),
        ({"concurrency": 4, "token_budget": 0}, "--token-budget must be an integer >= 1"),
        ({"concurrency": 4, "gpu_memory_utilization": 1.5}, "--gpu-memory-utilization"),
        ({"concurrency": 4, "output_tokens": [200_000]}, "beyond the model's limit"),
        ({"concurrency": 4, "output_tokens": [2, 3]}, "one --output-tokens value"),
        ({"concurrency": 4, "cached_tokens": [5]}, "no --cached-tokens"),
        ({"concurrency": 4, "hardware": ["L4-24GB"], "tensor_parallel": 1}, "not one request"),
    ],
)
def test_bad_serving_is_one_line(kwargs, message) -> None:
    options = {
        "input_tokens": [2048],
        "output_tokens": [512],
        "hardware": [H100],
        **kwargs,
    }
    model = "meta-llama/Llama-3.1-70B" if "L4-24GB" in str(kwargs) else "meta-llama/Llama-3.1-8B"
    with pytest.raises(UsageError, match=message) as error:
        analyze_model(model, **options)
    assert "\n" not in str(error.value)


# --- the plan -----------------------------------------------------------------------------------


def test_splits() -> None:
    dense = splits(8, experts=False)
    assert {(p.tp, p.pp, p.ep) for p in dense} == {
        (t, p, 1) for t in (1, 2, 4, 8) for p in (1, 2, 4, 8) if t * p <= 8
    }
    moe = splits(4, experts=True)
    assert all(p.tp % p.ep == 0 for p in moe) and (4, 1, 4) in {(p.tp, p.pp, p.ep) for p in moe}
    assert (
        len(moe) == len({(p.tp, p.pp, p.ep) for p in moe}) == 10
    )  # (tp, pp): 6; EP: 1 at TP 1, 2 at TP 2, 3 at TP 4


def test_the_plan_beats_every_brute_force_neighbour() -> None:
    """Every split of up to 2 devices x every concurrency 1-48, evaluated one by one: none
    meeting the targets gives more tokens/s per GPU than the plan's pick, and each split's pick
    is the largest feasible concurrency (the next one fails a target or the cap)."""
    targets = Targets(ttft_s=0.6, tpot_s=0.02)
    plan = plan_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=1024,
        output_tokens=256,
        hardware=[H100, L40S],
        ttft_slo=targets.ttft_s,
        tpot_slo=targets.tpot_s,
        max_devices=2,
        max_concurrency=48,
    )
    _, parser = load_model("meta-llama/Llama-3.1-8B")
    best = 0.0
    for hw in (H100, L40S):
        eff = default_efficiency(hw)
        for split in splits(2, experts=False):
            feasible = [
                s
                for s in (
                    SteadyState(parser, hw, c, 1024, 256, split).on(eff) for c in range(1, 49)
                )
                if targets.met_by(s)
            ]
            if not feasible:
                assert not any(
                    d.hardware == hw and d.parallel == split for d in plan.best
                ), "a split with no feasible concurrency was picked"
                continue
            top = max(feasible, key=lambda s: s.expected_output_tokens_per_s_per_gpu)
            best = max(best, top.expected_output_tokens_per_s_per_gpu)
            (mine,) = [d for d in plan.best if d.hardware == hw and d.parallel == split]
            assert mine.concurrency == max(s.concurrency for s in feasible)
    pick = plan.best[0].serving
    assert pick.expected_output_tokens_per_s_per_gpu == pytest.approx(best, rel=1e-12)
    assert pick.expected_ttft_s <= 0.6 and pick.expected_tpot_s <= 0.02 and pick.fits
    # the front: nothing on it is beaten on both axes by another feasible deployment
    for d in plan.front:
        for other in plan.feasible:
            assert not (
                other.serving.expected_output_tokens_per_s_per_user
                > d.serving.expected_output_tokens_per_s_per_user
                and other.serving.expected_output_tokens_per_s_per_gpu
                > d.serving.expected_output_tokens_per_s_per_gpu
            )


def test_rate_and_cost_by_hand() -> None:
    plan = plan_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=1024,
        output_tokens=256,
        hardware=[H100],
        tpot_slo=0.03,
        request_rate=25,
        price_per_gpu_hour=3.0,
        max_devices=2,
        max_concurrency=64,
    )
    d = plan.best[0]
    assert d.replicas is not None and d.replicas == math.ceil(
        25 / d.serving.expected_requests_per_s
    )
    assert d.gpus == d.replicas * d.devices
    per_token_s = 3.0 * d.devices / 3600 / d.serving.expected_output_tokens_per_s
    assert d.cost_per_million_output_tokens == pytest.approx(per_token_s * 1e6)


def test_an_infeasible_plan_names_what_binds() -> None:
    ttft = plan_model(
        "meta-llama/Llama-3.1-8B",
        input_tokens=1024,
        output_tokens=256,
        hardware=[H100],
        ttft_slo=0.001,
        max_devices=2,
    )
    assert not ttft.best and "TTFT target" in ttft.binding and "TPOT" not in ttft.binding
    memory = plan_model(
        "meta-llama/Llama-3.1-70B",
        input_tokens=1024,
        output_tokens=256,
        hardware=["L4-24GB"],
        tpot_slo=1.0,
        max_devices=2,
    )
    assert not memory.best and memory.binding.startswith("memory")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"ttft_slo": 0}, "--ttft-slo must be a number > 0"),
        ({"tpot_slo": -1.0}, "--tpot-slo must be a number > 0"),
        ({"tpot_slo": 0.05, "request_rate": 0}, "--request-rate must be a number > 0"),
        ({"tpot_slo": 0.05, "max_devices": 0}, "--max-devices must be an integer >= 1"),
        ({"tpot_slo": 0.05, "output_tokens": 0}, "--output-tokens must be an integer >= 1"),
        ({"tpot_slo": 0.05, "output_tokens": 131_000}, "beyond the model's limit"),
    ],
)
def test_bad_plans_are_one_line(kwargs, message) -> None:
    options = {"input_tokens": 1024, "output_tokens": 256, **kwargs}
    with pytest.raises(UsageError, match=message) as error:
        plan_model("meta-llama/Llama-3.1-8B", **options)
    assert "\n" not in str(error.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "transformer_roofline_analyzer"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_plan_json_has_the_issue_fields() -> None:
    result = _cli(
        "--plan",
        "--input-tokens",
        "1024",
        "--output-tokens",
        "256",
        "--tpot-slo",
        "0.03",
        "--hardware",
        "H100-SXM5-80GB",
        "--max-devices",
        "2",
        "--price-per-gpu-hour",
        "2",
        "--format",
        "json",
        "--",
        "meta-llama/Llama-3.1-8B",
    )
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["plan"][0]
    for key in (
        "hardware",
        "devices",
        "tensor",
        "pipeline",
        "expert",
        "concurrency",
        "expected_ttft_s",
        "expected_tpot_s",
        "expected_output_tokens_per_s_per_gpu",
        "cost_per_million_output_tokens",
    ):
        assert key in first
    assert first["cost_per_million_output_tokens"] > 0


def test_an_infeasible_plan_exits_7_with_one_line() -> None:
    result = _cli(
        "--plan",
        "--input-tokens",
        "1024",
        "--output-tokens",
        "256",
        "--ttft-slo",
        "0.001",
        "--hardware",
        "H100-SXM5-80GB",
        "--max-devices",
        "2",
        "--",
        "meta-llama/Llama-3.1-8B",
    )
    assert result.returncode == 7 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "binding: the TTFT target 0.001 s" in result.stderr


@pytest.mark.parametrize("k", [32, 160])
def test_pipeline_stages_serve_micro_batches(k) -> None:
    """With 2 stages, 2 micro-batches are in flight: 2k clients on 2 stages see the TPOT of k
    clients on one device (each stage holds half the layers, each micro-batch half the
    requests; a token passes both), but for the send between the stages."""
    two = served("meta-llama/Llama-3.1-8B", 2 * k, 128, 2048, parallel=Parallelism(1, 2, 1))
    one = served("meta-llama/Llama-3.1-8B", k, 128, 2048)
    assert two.tpot_s == pytest.approx(one.tpot_s, rel=0.01)
    assert two.output_tokens_per_s_per_gpu == pytest.approx(
        one.output_tokens_per_s_per_gpu, rel=0.01
    )
