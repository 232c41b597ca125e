"""Whole generations (core/serving/generation.py): the exact sum of the decode steps, checked
against evaluating every step one by one; N = 1 is the prefill alone; a query that is done leaves
the batch; bad input is one line."""

from __future__ import annotations

import json
import math

import pytest
from helpers import CONFIGS

from transformer_roofline.core.api import analyze_model, load_model
from transformer_roofline.core.errors import UsageError
from transformer_roofline.core.hardware.roofline import default_efficiency, on_hardware
from transformer_roofline.core.hardware.specs import HardwareSpec, resolve_hardware
from transformer_roofline.core.model.parallel import SINGLE_DEVICE, Parallelism
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.serving.generation import generate, requests

H100 = resolve_hardware("H100-SXM5-80GB")


# A device whose ridge (150 FLOPs per byte) lies inside the range absorbed MLA's attention
# sweeps as its context grows: its rows change bound mid-generation, where the sum has kinks.
RIDGE_150 = HardwareSpec("ridge-150", 10**13, 1e12, {"bf16": 150e12, "fp32": 150e12 / 8})


def brute_force(parser, batch, parallel=SINGLE_DEVICE, hw=H100):
    """(TTFT, decode sum) of both estimates, every step analysed on its own."""
    eff = default_efficiency(hw)
    prefill = QueryConfig(tuple(((c, n), count) for (c, n, _), count in batch))
    first = on_hardware(analyze(parser, prefill, parallel), hw, efficiency=eff)
    ideal = expected = 0.0
    for k in range(1, max(out for (_, _, out), _ in batch)):
        groups = tuple(((c + n + k - 1, 1), count) for (c, n, out), count in batch if out - 1 >= k)
        r = on_hardware(analyze(parser, QueryConfig(groups), parallel), hw, efficiency=eff)
        ideal += r.latency_s
        expected += r.expected_latency_s
    return first, ideal, expected


CASES = [
    # a sliding window filling up mid-generation (gemma-2: 4096-token windows every other layer)
    ("google/gemma-2-9b-it", [0, 3900], [100, 50], [300, 260], SINGLE_DEVICE, H100),
    # chunked attention restarting every 4 tokens (tiny Llama 4), queries leaving at different
    # steps; a run of 16 steps or more is summed along residue classes modulo 4
    (str(CONFIGS / "tiny-llama4"), [0, 5, 11], [3, 1, 2], [40, 17, 29], SINGLE_DEVICE, H100),
    (str(CONFIGS / "tiny-llama4"), [0, 6], [3, 1], [700, 251], Parallelism(1, 2, 1), H100),
    # a hybrid of linear attention with a fixed state and full attention (Qwen3.5 MoE)
    (str(CONFIGS / "qwen3_5_moe"), [0, 64], [32, 1], [90, 45], Parallelism(2, 1, 1), H100),
    # MLA, absorbed for decode (DeepSeek-V3), over tensor and pipeline ranks
    ("deepseek-ai/DeepSeek-V3", [1000], [24], [120], Parallelism(2, 2, 1), H100),
    # ... and rows changing bound as the context grows (compute and memory lines crossing)
    ("deepseek-ai/DeepSeek-V3", [0, 0, 0, 0], [1, 1, 1, 1], [600], SINGLE_DEVICE, RIDGE_150),
    # compressed attention closing a window every r tokens (tiny DeepSeek-V4)
    (str(CONFIGS / "deepseek_v4"), [0], [5], [140], SINGLE_DEVICE, H100),
    # state-space layers (Nemotron-H)
    (str(CONFIGS / "tiny-nemotron-h"), [3, 0], [1, 7], [33, 20], Parallelism(1, 2, 1), H100),
]


@pytest.mark.parametrize("model,cached,new,out,parallel,hw", CASES)
def test_a_generation_is_the_sum_of_its_steps(model, cached, new, out, parallel, hw) -> None:
    _, parser = load_model(model)
    batch = requests(QueryConfig.from_lists(cached, new), out)
    g = generate(parser, batch, hw, default_efficiency(hw), parallel)
    first, ideal, expected = brute_force(parser, batch, parallel, hw)
    assert g.ttft_s == pytest.approx(first.latency_s, rel=1e-12)
    assert g.decode_s == pytest.approx(ideal, rel=1e-9)
    assert g.expected_decode_s == pytest.approx(expected, rel=1e-9)
    assert g.steps == max(out) - 1 and g.evaluated <= g.steps
    # each query's end to end stops at its own last token
    for q in g.queries:
        assert q.e2e_s <= g.e2e_s
    assert max(q.e2e_s for q in g.queries) == pytest.approx(g.e2e_s, rel=1e-12)


def test_a_long_generation_evaluates_a_handful_of_steps() -> None:
    _, parser = load_model("meta-llama/Llama-3.1-70B")
    tp8 = Parallelism(8, 1, 1)
    batch = requests(QueryConfig.from_lists([0], [2048]), [100_000])
    g = generate(parser, batch, H100, default_efficiency(H100), tp8)
    assert g.steps == 99_999 and g.evaluated <= 8
    # one query decoding is memory bound in every row, so its step time is affine in the
    # context: the sum is the trapezoid through the first and the last step
    first, last = (
        on_hardware(analyze(parser, QueryConfig.from_lists([c], [1]), tp8), H100).latency_s
        for c in (2048, 2048 + 99_998)
    )
    assert g.decode_s == pytest.approx(99_999 * (first + last) / 2, rel=1e-12)


def test_a_billion_tokens_of_chunked_attention_are_a_handful_of_steps() -> None:
    # restarts every 4 tokens: summed along the 4 residue classes, not cut at 250 million restarts
    _, parser = load_model(str(CONFIGS / "tiny-llama4"))
    batch = requests(QueryConfig.from_lists([0], [10]), [10**9])
    g = generate(parser, batch, H100, default_efficiency(H100))
    assert g.steps == 10**9 - 1 and g.evaluated <= 8
    assert math.isfinite(g.decode_s) and g.decode_s > 0


def test_a_generation_past_the_evaluation_budget_is_refused(tmp_path) -> None:
    # a 30,000-token chunk over a billion steps: 33,333 restarts, 30,000 residue classes
    config = json.loads((CONFIGS / "tiny-llama4" / "config.json").read_text())
    config["text_config"]["attention_chunk_size"] = 30_000
    (tmp_path / "config.json").write_text(json.dumps(config))
    _, parser = load_model(str(tmp_path / "config.json"))
    batch = requests(QueryConfig.from_lists([0], [10]), [10**9])
    with pytest.raises(UsageError, match=r"60,000 step evaluations .* \(the limit is 20,000\)"):
        generate(parser, batch, H100, default_efficiency(H100))


def test_one_output_token_is_the_prefill_alone() -> None:
    analysis = analyze_model(
        "meta-llama/Llama-3.1-8B",
        cached_tokens=[0, 0],
        input_tokens=[512, 64],
        output_tokens=[1],
        hardware=[H100],
    )
    g, step = analysis.generation[0], analysis.hardware[0]
    assert g.ttft_s == step.step_time_s and g.decode_s == 0 and g.e2e_s == g.ttft_s
    # the step, once the requests' admission, and the host's work on their 512 + 64 prompt tokens
    eff = step.efficiency
    host = eff.request_overhead_s + 576 * eff.prompt_token_overhead_s
    assert eff.prompt_token_overhead_s > 0
    assert g.expected_ttft_s == pytest.approx(step.expected_step_time_s + host, rel=1e-15)
    assert g.tpot_s == 0 and g.output_tokens == 2
    assert g.output_tokens_per_s == pytest.approx(2 / g.ttft_s)


def test_rates_by_hand() -> None:
    g = analyze_model(
        "meta-llama/Llama-3.1-8B", input_tokens=[128], output_tokens=[65], hardware=[H100]
    ).generation[0]
    assert g.tpot_s == pytest.approx(g.decode_s / 64, rel=1e-12)
    assert g.expected_tpot_s == pytest.approx(g.expected_decode_s / 64, rel=1e-12)
    assert g.output_tokens_per_s == pytest.approx(65 / (g.ttft_s + g.decode_s), rel=1e-12)
    assert g.output_tokens_per_s_per_query == pytest.approx(g.output_tokens_per_s, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"output_tokens": [0]}, "--output-tokens must be integers >= 1"),
        ({"output_tokens": [3, 4, 5]}, "give one, or one per query"),
        ({"output_tokens": [200_000]}, "beyond the model's limit (max_position_embeddings"),
    ],
)
def test_bad_generations_are_one_line(kwargs, message) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as error:
        analyze_model(
            "meta-llama/Llama-3.1-8B",
            cached_tokens=[0, 0],
            input_tokens=[1000, 10],
            hardware=[H100],
            **kwargs,
        )
    assert "\n" not in str(error.value)


def test_output_tokens_need_hardware() -> None:
    with pytest.raises(UsageError, match="need --hardware"):
        analyze_model("meta-llama/Llama-3.1-8B", output_tokens=[10])


def test_a_tpot_is_never_below_the_ideal() -> None:
    g = analyze_model(
        "meta-llama/Llama-3.1-8B", input_tokens=[4096], output_tokens=[1024], hardware=[H100]
    ).generation[0]
    assert g.expected_tpot_s >= g.tpot_s > 0
    assert g.expected_ttft_s >= g.ttft_s > 0
    assert math.isfinite(g.expected_output_tokens_per_s)
