"""Independent checks of the numbers frozen in the end-to-end goldens: hand counts, closed forms
and the HuggingFace reference. A golden that drifted from these fails here, not only as a diff."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from conftest import MEASURED, REFERENCE, catalog_config, hf_categories
from hand_counts import HAND, KV_BYTES, PARAMETERS

HERE = Path(__file__).resolve().parent

CASES = HERE / "cases"
ALL_REFERENCES = {**REFERENCE, **MEASURED}


def golden(case: str) -> str:
    return (CASES / case / "expected_output.txt").read_text()


def test_tiny_llama_json_is_the_hand_count() -> None:
    doc = json.loads(golden("tiny_llama_json"))
    layers = {
        layer["name"]: (
            layer["blocks"],
            layer["flops"],
            layer["weight_bytes"],
            layer["input_bytes"],
            layer["output_bytes"],
        )
        for layer in doc["layers"]
    }
    assert layers == HAND
    assert doc["parameters"]["total"] == PARAMETERS
    assert doc["storage"]["kv_cache_bytes"] == KV_BYTES


def test_tiny_llama_csv_is_the_hand_count() -> None:
    rows = list(csv.DictReader(io.StringIO(golden("tiny_llama_csv"))))
    for row in rows[:-1]:
        blocks, flops, weight, inp, out = HAND[row["layer"]]
        assert [int(row[k]) for k in ("blocks", "flops", "weight_bytes")] == [blocks, flops, weight]
        assert [int(row["input_bytes"]), int(row["output_bytes"])] == [inp, out]
    total_flops = sum(blocks * flops for blocks, flops, *_ in HAND.values())
    assert rows[-1]["layer"] == "Total" and int(rows[-1]["flops"]) == total_flops == 6786


def test_tiny_llama_table_shows_the_hand_count() -> None:
    text = golden("tiny_llama_table")
    assert re.search(r"\| Attn - SDPA +\| 2 / 2 +\| 394 FLOPs +\| 0 B +\| 112 B +\| 32 B", text)
    assert re.search(r"\| Total +\| +\| 6\.79 kFLOPs", text)  # 6786 FLOPs
    assert "(KV cache) 160 B = 3.48 KiB" in text  # 2 * 1704 + 160 = 3568 B


def test_tiny_llama4_chunked_prefill_hand_counts() -> None:
    doc = json.loads(golden("tiny_llama4_chunked_prefill"))
    layers = {layer["name"]: layer for layer in doc["layers"]}
    # 10 tokens in chunks of 4: pairs (1+2+3+4) * 2 + (1+2) = 23. QK^T + PV: 2 heads * 2 * (4+4)
    # * 23 = 736; softmax 5 * 2 * 23 + 10 tokens * 2 heads * 4 = 310 -> 1046
    assert layers["Attn - SDPA (chunk 4)"]["flops"] == 1046
    assert layers["Attn - SDPA (chunk 4)"]["blocks"] == 3  # layers 0, 1, 2 use RoPE
    # the NoPE layer (index 3) attends globally: 55 pairs -> 2*2*8*55 + 5*2*55 + 80 = 2390
    assert layers["Attn - SDPA"]["flops"] == 2390
    # MoE on layers 1 and 3; 4 experts, top-1, 10 tokens: 4 * (1 - (3/4)^10) = 3.775 experts of
    # 8 x 8 gate/up weights at 2 B = 128 B each -> 483 B
    assert layers["Ffn - RoutedExp_GateUp_Proj"]["weight_bytes"] == 483
    assert layers["Ffn - RoutedExp_GateUp_Proj"]["blocks"] == 2
    # KV: 3 chunked layers hold 4 - 1 = 3 tokens, the global one 10; 8 values of 2 B per token
    assert doc["storage"]["kv_cache_bytes"] == (3 * 3 + 10) * 8 * 2


@pytest.mark.parametrize(
    ("case", "stem"),
    [
        ("llama2_7b_decode_json", "meta-llama__Llama-2-7b-hf"),
        ("llama4_maverick_decode_json", "meta-llama__Llama-4-Maverick-17B-128E-Instruct"),
    ],
)
def test_decode_goldens_match_the_hf_reference(case: str, stem: str) -> None:
    doc, ref = json.loads(golden(case)), REFERENCE[stem]
    assert hf_categories(doc["parameters"]) == ref["parameters"]
    assert doc["storage"]["weight_bytes"] == ref["weight_bytes"]
    assert doc["storage"]["kv_cache_bytes"] == ref["kv_cache_bytes_512_tokens"]
    decode = ref["decode_511_cached_1_input"]
    expected = decode["matmul_flops_total"]
    if "moe" in ref:  # HF runs every token through every Llama 4 expert; we count top-k
        expected += (
            ref["moe"]["decode_routed_flops_topk"] - decode["by_category"]["mlp_routed_experts"]
        )
    assert doc["total"]["matmul_flops"] == pytest.approx(expected, rel=0.005)


def test_llama2_batch_csv_hand_counts() -> None:
    rows = {r["layer"]: r for r in csv.DictReader(io.StringIO(golden("llama2_7b_batch8_csv")))}
    # 8 queries, logits for each one's last token: 2 * 8 * 4096 * 32000
    assert int(rows["LM Head"]["flops"]) == 2 * 8 * 4096 * 32000
    # each query: 1025 pairs over 32 heads of 128: 4*32*128*1025 + 5*32*1025 + 32*128
    assert int(rows["Attn - SDPA"]["matmul_flops"]) == 8 * 4 * 32 * 128 * 1025
    assert int(rows["Attn - SDPA"]["flops"]) == 8 * (4 * 32 * 128 * 1025 + 5 * 32 * 1025 + 4096)
    # the weights are read once for the whole batch: 4096 x 3*4096 at 2 B
    assert int(rows["Attn - QKV_Proj"]["weight_bytes"]) == 4096 * 3 * 4096 * 2


def test_llama31_8b_long_context_kv_closed_form() -> None:
    # 32 layers x 1,048,577 tokens x (K, V) x 8 KV heads x 128 x 2 B = 137,439,215,616 B
    kv = 32 * 1_048_577 * 2 * 8 * 128 * 2
    assert kv / 2**30 == pytest.approx(128.0001, abs=1e-4)
    assert "(KV cache) 128.00 GiB" in golden("llama31_8b_decode_1m_context")


def test_list_models_marks_llama_configs_analyzable() -> None:
    lines = golden("list_models").splitlines()
    for line in lines:
        if " llama " in line or " llama4 " in line:
            assert line.rstrip().endswith("analyzable"), line
    assert sum(line.rstrip().endswith(" analyzable") for line in lines) >= 10


def test_llama2_decode_on_a100_golden() -> None:
    # Every weight once (13.48 GB, see tests/unit/test_roofline.py) at 2039 GB/s = 6.61 ms
    (device,) = json.loads(golden("llama2_7b_decode_a100_json"))["hardware"]
    assert device["name"] == "A100-SXM4-80GB" and device["bound"] == "memory"
    assert device["step_time_s"] == pytest.approx(13.48e9 / 2039e9, rel=0.03)
    assert device["tokens_per_s"] == pytest.approx(1 / device["step_time_s"])
    assert device["fits"] and device["min_devices"] == 1
    # the "80GB" A100 holds 81,920 MiB = 85.9 GB:
    # (85.9e9 - 13,476,831,232 B of weights) / 268,435,456 B of KV per query = 269.8 -> 269
    assert device["memory_bytes"] == 85_900_000_000 and device["max_batch"] == 269


def test_llama2_decode_expected_time_on_a100_by_hand() -> None:
    """The expected estimate of the decode golden from the efficiency parameters it prints: a
    batch-1 decode is memory-bound in every kernel, so each of its 5 kernels per block (QKV, SDPA,
    O, GateUp, Down; norms, RoPE, activation and adds are fused) and the embedding and LM head
    stream their bytes at bandwidth x the achievable fraction, plus a launch each, plus the step's
    fixed cost."""
    doc = json.loads(golden("llama2_7b_decode_a100_json"))
    (device,) = doc["hardware"]
    eff = device["efficiency"]["parameters"]
    # every byte the step moves, but the fused elementwise ops' (they never reach memory)
    fused = {"Attn - RMSNorm", "Attn - RoPE", "Attn - ResidualAdd", "Ffn - RMSNorm",
             "Ffn - ActMul", "Ffn - ResidualAdd", "Final RMSNorm"}  # fmt: skip
    moved = sum(
        (layer["weight_bytes"] + layer["input_bytes"] + layer["output_bytes"]) * layer["blocks"]
        for layer in doc["layers"]
        if layer["name"] not in fused
    )
    kernels = 5 * 32 + 2
    # the A100 is an "ampere" part: the serving profile has no ampere figure, so its default
    bandwidth = 2039e9 * eff["bandwidth"]
    hand = moved / bandwidth + kernels * eff["kernel_launch_s"] + eff["step_overhead_s"]
    assert device["expected_step_time_s"] == pytest.approx(hand, rel=1e-3)
    assert device["expected_step_time_s"] > device["step_time_s"]


def test_llama2_prefill_on_a100_golden() -> None:
    # 27.6 TFLOP at 312 TFLOP/s = 88.5 ms (hand count in tests/unit/test_roofline.py)
    text = golden("llama2_7b_prefill_a100_table")
    match = re.search(
        r"\| A100-SXM4-80GB \| TTFT ([\d.]+) ms +\| [\d.]+ m?s +\| [\d,]+ +\| [\d,.]+ +\| compute",
        text,
    )
    assert match is not None
    assert float(match.group(1)) == pytest.approx(88.5, rel=0.05)
    # 2048 tokens x 32 layers x (K, V) x 4096 x 2 B = 1 GiB of KV per query beside the weights:
    # (85.9e9 - 13,476,831,232) / 2^30 = 67.4 -> 67; 85.9e9 B = 80.00 GiB
    assert re.search(r"\| 13\.55 GiB / 80\.00 GiB +\| yes +\| 1 +\| 67 +\|", text)


def test_device_comparison_golden() -> None:
    text = golden("llama31_8b_compare_devices")
    # fp8 KV cache: 32 queries x 4097 tokens x 32 layers x (K, V) x 8 heads x 128 x 1 B = 8 GiB
    assert "(KV cache) 8.00 GiB" in text
    # every weight fp8, 8,030,261,248 B, beside 4097 x 32 x 2 x 8 x 128 = 268,500,992 B of KV per
    # query, in the usable memory: H100 (85.5e9 - 8,030,261,248) / 268,500,992 = 288.5 -> 288;
    # A100 85.9e9 -> 290.02 -> 290; L40S 48.3e9 -> 149.98 -> 149; MI300X 205.8e9 -> 736.6 -> 736
    for device, batch in (("H100-SXM5-80GB", 288), ("A100-SXM4-80GB", 290), ("L40S-48GB", 149)):
        times = r"TPOT [\d.]+ ms +\| [\d.]+ ms +\| [\d,.]+ +\| [\d,.]+"
        pattern = rf"\| {device} +\| {times} +\| memory .*\| {batch} +\|"
        assert re.search(pattern, text), device
    assert re.search(r"\| MI300X-192GB +\| TPOT [\d.]+ ms .*/ 191\.67 GiB .*\| 736 +\|", text)
    # 3350 vs 5300 GB/s: a memory-bound step is ~1.58x faster on the MI300X
    h100 = float(re.search(r"H100-SXM5-80GB \| TPOT ([\d.]+) ms", text).group(1))  # type: ignore[union-attr]
    mi300 = float(re.search(r"MI300X-192GB +\| TPOT ([\d.]+) ms", text).group(1))  # type: ignore[union-attr]
    assert h100 / mi300 == pytest.approx(5300 / 3350, rel=0.01)


REFERENCE_CASES = sorted(
    (case.name, json.loads((case / "test.json").read_text())["reference"])
    for case in CASES.iterdir()
    if "reference" in json.loads((case / "test.json").read_text())
)


@pytest.mark.parametrize(("case", "stem"), REFERENCE_CASES, ids=[c for c, _ in REFERENCE_CASES])
def test_family_goldens_match_the_hf_reference(case: str, stem: str) -> None:
    """Every family's 511 + 1 decode golden: parameters and KV bytes exactly, matmul FLOPs within
    0.5% of the figure measured on the HuggingFace model (top-k for MoE)."""
    doc, ref = json.loads(golden(case)), ALL_REFERENCES[stem]
    assert doc["queries"] == [{"cached_tokens": 511, "input_tokens": 1, "count": 1}]
    assert hf_categories(doc["parameters"]) == ref["parameters"]
    assert doc["storage"]["kv_cache_bytes"] == ref["kv_cache_bytes_512_tokens"]
    if not doc["precision"]["applied"]:  # unquantized: every weight at the config dtype
        assert doc["storage"]["weight_bytes"] == ref["weight_bytes"]
    decode = ref["decode_511_cached_1_input"]
    expected = decode["matmul_flops_total"]
    if "moe" in ref:
        expected += (
            ref["moe"]["decode_routed_flops_topk"] - decode["by_category"]["mlp_routed_experts"]
        )
    assert doc["total"]["matmul_flops"] == pytest.approx(expected, rel=0.005)


def test_every_family_has_a_golden_case() -> None:
    families = {catalog_config(stem)["model_type"] for _, stem in REFERENCE_CASES}
    assert families >= {
        "mistral",
        "mixtral",
        "qwen2",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "olmo2",
        "deepseek_v2",
        "kimi_k2",
        "gpt_oss",
    }
    assert {"llama", "llama4", "deepseek_v3"} <= {
        catalog_config(s)["model_type"]
        for s in (
            "meta-llama__Llama-2-7b-hf",
            "meta-llama__Llama-4-Maverick-17B-128E-Instruct",
            "deepseek-ai__DeepSeek-V3",
        )
    }


def test_deepseek_v3_absorbed_decode_hand_counts() -> None:
    doc = json.loads(golden("deepseek_v3_absorbed_decode_h100"))
    layers = {layer["name"]: layer for layer in doc["layers"]}
    # latent attention, 1 query at 4096 keys: 128 heads x 2 x (512 + 64 scores + 512 values)
    assert layers["Attn - SDPA (latent)"]["matmul_flops"] == 2 * 128 * (576 + 512) * 4096
    # it reads the latent cache once for all heads: 4096 x 576 x 2 B, plus q (128 x 576 x 2 B)
    assert layers["Attn - SDPA (latent)"]["input_bytes"] == 4096 * 576 * 2 + 128 * 576 * 2
    # no decompression of the cache: no KV_B_Proj row
    assert "Attn - KV_B_Proj" not in layers
    # 8 routed experts of 2 x 7168 x 2048 gate/up; the cache holds 61 x 4096 x 576 x 2 B
    assert layers["Ffn - RoutedExp_GateUp_Proj"]["flops"] == 2 * 8 * 7168 * 2 * 2048
    assert doc["storage"]["kv_cache_bytes"] == 61 * 4096 * 576 * 2
    # fp8 weights, ~673 GB: a MoE layer holds 256 x 3 x 7168 x 2048 expert weights (11.27 GB)
    # + ~0.2 GB of attention. An H100 holds 81,559 MiB = 85.5 GB. TP 8 on 8 devices holds an
    # eighth of every weight, the latent cache whole (MLA keeps it per device), and whole copies
    # of what TP does not split: per layer the fp8 down-projections q_a (7168 x 1536) and kv_a
    # (7168 x 576) and, in bf16, four norms (7168, 7168, 1536, 512) and on 58 MoE layers the
    # router (256 x 7168): 7/8 of them is the excess over an eighth.
    h100, h200 = doc["hardware"]
    kv = 61 * 4096 * 576 * 2
    weights = h100["storage_bytes"] - kv
    whole = 61 * (7168 * (1536 + 576) + 2 * (2 * 7168 + 1536 + 512)) + 58 * 256 * 7168 * 2
    tp8 = weights / 8 + whole * 7 / 8 + kv
    assert 80e9 < tp8 == pytest.approx(85.43e9, rel=1e-3) and tp8 < 85.5e9
    # 7 devices cannot: TP must be a power of two dividing 128 heads, so PP 7 (9 layers, ~103 GB
    # on a device). On 150.8 GB H200s PP 5 fits (12 MoE layers, ~138 GB); 4 would be ~168 GB each.
    assert h100["smallest_fit"]["devices"] == 8 and h100["smallest_fit"]["tensor"] == 8
    assert h200["smallest_fit"]["devices"] == 5 and h200["smallest_fit"]["pipeline"] == 5
    assert h100["step_time_s"] / h200["step_time_s"] == pytest.approx(4800 / 3350, rel=0.02)


def test_gemma3_long_context_kv_hand_count() -> None:
    # 22 local layers hold 511 tokens, 4 global layers 8192; K and V of 1 head x 256 x 2 B
    kv = (22 * 511 + 4 * 8192) * 2 * 256 * 2
    assert kv == 45_066_240
    text = golden("gemma3_1b_long_context_table")
    assert "(KV cache) 42.98 MiB" in text  # 45,066,240 / 2^20
    assert re.search(r"\| Attn - SDPA \(window 512\) +\| 22 / 26 ", text)
    assert re.search(r"\| Attn - SDPA +\| 4 / 26 ", text)


def test_qwen3_235b_mixed_batch_counts() -> None:
    text = golden("qwen3_235b_mixed_batch")
    assert "Queries: 1 x (0 cached + 1024 input), 3 x (2048 cached + 1 input)" in text
    # 94 layers x (1024 + 3 x 2049 tokens) x K, V of 4 heads x 128 x 2 B = 1,380,501,504 B
    kv = 94 * (1024 + 3 * 2049) * 2 * 4 * 128 * 2
    assert f"(KV cache) {kv / 2**30:.2f} GiB" in text


def test_tensor_parallel_golden_per_device_memory_by_hand() -> None:
    # Llama-3.1-70B, TP 4: per layer a device holds q 8192 x 2048 (16 of 64 heads), k and v
    # 8192 x 256 (2 of 8 KV heads), o 2048 x 8192, gate/up/down 3 x 8192 x 7168 (28672 / 4) and
    # the two norms' 2 x 8192 (replicated); plus 128256 / 4 rows of the embedding and of the LM
    # head, and the final norm. KV: 80 layers x 32 x 4096 tokens x (K, V) x 2 heads x 128.
    layer = 8192 * 2048 + 2 * 8192 * 256 + 2048 * 8192 + 3 * 8192 * 7168 + 2 * 8192
    weights = 2 * (80 * layer + 2 * 32064 * 8192 + 8192)
    kv = 80 * 32 * 4096 * 2 * 2 * 128 * 2
    text = golden("llama31_70b_tp4_decode_h100")
    assert f"= {(weights + kv) / 2**30:.2f} GiB" in text and "(KV cache) 10.00 GiB" in text
    # memory-bound: the step reads each device's weights and KV once at 3.35 TB/s (+ the
    # all-reduces: 161 x 2 x 3/4 x 512 KiB at 450 GB/s, and the logits' all-gather)
    reads = weights - 2 * 2 * 32064 * 8192 + 2 * 32064 * 8192 + kv  # one embedding shard read
    links = 161 * 1.5 * 32 * 8192 * 2 + 0.75 * 32 * 128256 * 2
    expected_ms = 1e3 * (reads / 3350e9 + links / 450e9)
    match = re.search(r"\| H100-SXM5-80GB \| TPOT ([\d.]+) ms", text)
    assert match is not None and float(match.group(1)) == pytest.approx(expected_ms, rel=0.02)
    # queries whose KV fits beside the weights in 85.5 GB: 50.2e9 / 335,544,320 B = 149.7
    assert (85_500_000_000 - weights) // (kv // 32) == 149
    assert re.search(r"\| 42\.86 GiB / 79\.63 GiB +\| yes +\| 3 \(PP 3\) +\| 149 +\|", text)


def test_pipeline_golden_stages() -> None:
    doc = json.loads(golden("llama31_70b_tp2_pp2_json"))
    assert doc["parallel"] == {
        "tensor": 2,
        "pipeline": 2,
        "expert": 1,
        "devices": 4,
        "stage_shown": doc["hardware"][0]["busiest_stage"],
        "notes": [],
    }
    assert [s["layers"] for s in doc["stages"]] == [[0, 40], [40, 80]]
    (h100,) = doc["hardware"]
    assert h100["step_time_s"] == max(h100["stage_times_s"])
    # the last stage also runs the 128256 x 8192 LM head: it is the busiest
    assert h100["busiest_stage"] == 1
    # and holds the most: per device 40 layers of (q, o 8192 x 4096; k, v 8192 x 512; gate, up,
    # down 3 x 8192 x 14336; two norms 8192) + half the LM head + the final norm, in bf16;
    # KV per query 40 layers x 4096 x (K, V) x 4 heads x 128 x 2 B. In 85.5 GB: 149.7 -> 149
    layer = 2 * 8192 * 4096 + 2 * 8192 * 512 + 3 * 8192 * 14336 + 2 * 8192
    weights = 2 * (40 * layer + 64128 * 8192 + 8192)
    assert doc["stages"][1]["weight_bytes"] == weights == 35_277_520_896
    assert h100["max_batch"] == (85_500_000_000 - weights) // (40 * 4096 * 2 * 4 * 128 * 2) == 149
    names = [layer["name"] for layer in doc["layers"]]
    assert names[-2:] == ["LM Head", "LM Head - AllGather"] and "Embedding" not in names
    # a token goes through both stages one after another; the busiest one sets the throughput
    assert h100["latency_s"] == pytest.approx(sum(h100["stage_times_s"]), rel=1e-12)
    overhead = h100["efficiency"]["parameters"]["step_overhead_s"]
    expected = sum(h100["expected_stage_times_s"]) + overhead
    assert h100["expected_latency_s"] == pytest.approx(expected, rel=1e-12)
    assert h100["tokens_per_s"] == pytest.approx(32 / h100["step_time_s"])


def test_pipeline_table_shows_latency_and_stage_time() -> None:
    """The same split in a table (4k = 4096 cached tokens): the latency column is the stages'
    times from the stage table summed, the stage time their maximum; tokens/s 32 per stage time."""
    text = golden("llama31_70b_tp2_pp2_h100_table")
    assert "Queries: 32 x (4096 cached + 1 input)" in text
    stages = [float(ms) for ms in re.findall(r"^\| [01] +\| .* \| ([\d.]+) ms +\|$", text, re.M)]
    assert len(stages) == 2
    row = re.search(
        r"\| H100-SXM5-80GB \| TPOT ([\d.]+) ms +\| [\d.]+ ms +\| ([\d.]+) ms +\| [\d.]+ ms +\| "
        r"([\d,]+) ",
        text,
    )
    assert row is not None and "Latency (ideal, all stages)" in text
    latency, stage, rate = float(row[1]), float(row[2]), int(row[3].replace(",", ""))
    assert latency == pytest.approx(sum(stages), abs=0.011)
    assert stage == max(stages)
    assert rate == pytest.approx(32 / (stage / 1e3), rel=0.001)


def test_sweep_goldens_agree_and_add_up() -> None:
    rows = list(csv.DictReader(io.StringIO(golden("llama31_8b_sweep_csv"))))
    assert len(rows) == 4 * 2 * 2  # batch x context x devices
    for row in rows:
        batch, step = int(row["batch_size"]), float(row["step_time_s"])
        assert float(row["tokens_per_s"]) == pytest.approx(batch / step)
    # decode FLOPs: 2 x 7.50e9 non-embedding parameters per token + attention, 4 x 32 heads x
    # 128 x 1025 keys x 32 layers per query (+ < 0.5% of norms, softmax, activations)
    one = next(r for r in rows if r["batch_size"] == "1" and r["cached_tokens"] == "1024")
    params = 8_030_261_248 - 128256 * 4096
    assert int(one["flops"]) == pytest.approx(2 * params + 4 * 32 * 128 * 1025 * 32, rel=0.005)
    table = golden("llama31_8b_sweep_table")
    assert table.count("\n| ") == 8 + 1  # a header and one line per scenario


def test_expert_parallel_golden_max_batch_by_hand() -> None:
    # Mixtral 8x7B, TP 4 x EP 4, bf16: per layer a device holds q, o 4096 x 1024, k, v 4096 x 256
    # (2 of 8 KV heads), 2 whole experts of 3 x 4096 x 14336, the router 4096 x 8 and two norms;
    # plus a quarter of the 32000 x 4096 embedding and LM head, and the final norm.
    layer = 2 * 4096 * 1024 + 2 * 4096 * 256 + 2 * 3 * 4096 * 14336 + 8 * 4096 + 2 * 4096
    weights = 2 * (32 * layer + 2 * 8000 * 4096 + 4096)
    kv = 32 * 2048 * 2 * 2 * 128 * 2  # per query: 32 layers x 2048 tokens x (K, V) x 2 heads
    text = golden("mixtral_8x7b_ep4_decode")
    assert f"{(weights + 64 * kv) / 2**30:.2f} GiB / 79.63 GiB" in text  # 85.5e9 B
    # (85.5e9 - 23,353,368,576) / 67,108,864 = 926.06 -> 926
    assert (85_500_000_000 - weights) // kv == 926
    assert re.search(r"\| H100-SXM5-80GB \| TPOT [\d.]+ ms .*\| 926 +\|", text)
