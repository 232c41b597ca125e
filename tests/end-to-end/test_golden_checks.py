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


_SCALE = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SCALE |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def shows(cell: str, exact: float) -> bool:
    """Whether a printed amount ("17.35 GFLOPs", "514.00 KiB", "394 FLOPs", "0 B") is `exact`
    rounded to the digits it prints, in the unit it prints."""
    match = re.fullmatch(r"([\d.]+) (k|M|G|T|P|Ki|Mi|Gi|Ti)?(FLOPs|B)", cell.strip())
    assert match is not None, cell
    number, prefix = match.group(1), match.group(2) or ""
    digits = len(number.partition(".")[2])
    return f"{exact / _SCALE[prefix]:.{digits}f}" == number


def table_rows(text: str) -> dict[str, list[str]]:
    """The step table's cells by layer name: block count, FLOPs, weight, input, output bytes."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] != "Layer" and len(cells) == 7:
            rows[cells[0]] = cells[1:]
    return rows


def storage_parts(text: str) -> dict[str, str]:
    """The 'Minimum Storage Requirement' line's parts: {"KV cache": "42.98 MiB", ...}."""
    line = next(line for line in text.splitlines() if line.startswith("Minimum Storage"))
    return dict((m.group(1), m.group(2)) for m in re.finditer(r"\(([^)]+)\) ([\d.]+ \w+)", line))


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


def test_llama31_8b_long_context_closed_forms() -> None:
    """Llama-3.1-8B (h 4096, 32 layers, 32 heads / 8 KV heads of 128, vocab 128256, bf16), one
    query at 1,048,576 cached + 1 token: 1,048,577 keys."""
    text, keys = golden("llama31_8b_decode_1m_context"), 1_048_577
    rows = table_rows(text)
    # QK^T and PV, 2 x 2 x 32 heads x 128 x keys; softmax 5 per score; the divide 32 x 128
    assert shows(rows["Attn - SDPA"][1], 4 * 32 * 128 * keys + 5 * 32 * keys + 32 * 128)
    # it reads K and V of every key (8 heads x 128 x 2 B each) and the query (32 x 128 x 2 B)
    assert shows(rows["Attn - SDPA"][3], 2 * 8 * 128 * 2 * keys + 32 * 128 * 2)
    # the logits of the one new token: 2 x 4096 x 128256
    assert shows(rows["LM Head"][1], 2 * 4096 * 128256)
    # the cache: 32 layers x keys x (K, V) x 8 heads x 128 x 2 B = 137,439,215,616 B
    assert shows(storage_parts(text)["KV cache"], 32 * keys * 2 * 8 * 128 * 2)
    # the step reads the whole cache: 128 GiB of input bytes and a little more
    assert rows["Total"][3] == "128.01 GiB"


def test_list_models_marks_llama_configs_analyzable() -> None:
    lines = golden("list_models").splitlines()
    for line in lines:
        if " llama " in line or " llama4 " in line:
            assert line.rstrip().endswith("analyzable"), line
    assert sum(line.rstrip().endswith(" analyzable") for line in lines) >= 10
    # the base checkpoints answer to the bundled -Instruct files (core/catalog/SOURCES.md)
    aliases = golden("list_models").partition("\nAliases (")[2]
    for family in ("Scout-17B-16E", "Maverick-17B-128E"):
        assert re.search(
            rf"\n  meta-llama/Llama-4-{family} +=  ?meta-llama/Llama-4-{family}-Instruct\n", aliases
        )


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
    # the GEMMs and attention, 27.6 TFLOP at 312 TFLOP/s, plus the LM head and embedding bytes at
    # 2039 GB/s: 88.69 ms; the elementwise rest is < 0.6% (tests/unit/test_roofline.py)
    floor_ms = 1e3 * (
        (2 * 2048 * (4 * 4096**2 + 3 * 4096 * 11008) * 32 + 4 * 4096 * 2048 * 2049 // 2 * 32)
        / 312e12
        + (4096 * 32000 * 2 + 2 * 2048 * 4096 * 2) / 2039e9
    )
    text = golden("llama2_7b_prefill_a100_table")
    match = re.search(
        r"\| A100-SXM4-80GB \| TTFT ([\d.]+) ms +\| [\d.]+ m?s +\| [\d,]+ +\| [\d,.]+ +\| compute",
        text,
    )
    assert match is not None
    assert floor_ms <= float(match.group(1)) <= floor_ms * 1.006
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
    """Gemma 3 1B (26 layers, every 6th global, the rest sliding over 512; 4 heads / 1 KV head of
    256, bf16) at 8191 cached + 1 token."""
    # HF's hybrid cache keeps window - 1 = 511 tokens in a sliding layer: at 512 tokens (the
    # reference) 22 x 511 + 4 x 512 tokens of K and V, 1 head x 256 x 2 B each
    ref = REFERENCE["google__gemma-3-1b-it"]
    assert ref["kv_cache_bytes_512_tokens"] == (22 * 511 + 4 * 512) * 2 * 256 * 2
    text = golden("gemma3_1b_long_context_table")
    # at 8192 tokens the 4 global layers hold all 8192
    assert shows(storage_parts(text)["KV cache"], (22 * 511 + 4 * 8192) * 2 * 256 * 2)
    rows = table_rows(text)
    assert rows["Attn - SDPA (window 512)"][0] == "22 / 26" and rows["Attn - SDPA"][0] == "4 / 26"
    # the new token attends over 512 keys in a sliding layer, 8192 in a global one: QK^T and PV
    # 2 x 2 x 4 heads x 256 per key, softmax 5 x 4 per key, the divide 4 x 256; it reads K and V
    # of each key (256 x 2 B each) and its 4 query heads
    for row, keys in (("Attn - SDPA (window 512)", 512), ("Attn - SDPA", 8192)):
        assert shows(rows[row][1], 4 * 4 * 256 * keys + 5 * 4 * keys + 4 * 256)
        assert shows(rows[row][3], 2 * 256 * 2 * keys + 4 * 256 * 2)


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
    # memory: every bf16 weight (2 x 8,030,261,248 B) and B queries' caches of 32 layers x
    # (cached + 1) tokens x (K, V) x 8 heads x 128 x 2 B; it fits in the usable 85.5 / 24.2 GB
    usable = {"H100-SXM5-80GB": 85.5e9, "L4-24GB": 24.2e9}
    for row in rows:
        batch, context = int(row["batch_size"]), int(row["cached_tokens"]) + 1
        memory = 2 * 8_030_261_248 + batch * 32 * context * 2 * 8 * 128 * 2
        assert float(row["memory_bytes"]) == memory
        assert row["fits"] == str(memory <= usable[row["hardware"]])
    # the table shows the same grid, one line per scenario with both devices
    table_lines = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in golden("llama31_8b_sweep_table").splitlines()
        if re.match(r"\| \d", line)
    ]
    assert len(table_lines) == 8
    for cells, (h100, l4) in zip(table_lines, zip(rows[::2], rows[1::2], strict=True), strict=True):
        assert cells[:3] == [h100["batch_size"], h100["cached_tokens"], "1"]
        assert shows(cells[3], int(h100["flops"])) and shows(cells[4], float(h100["memory_bytes"]))
        assert cells[5] == f"{float(h100['step_time_s']) * 1e3:.2f} ms"
        assert cells[9] == f"{float(l4['step_time_s']) * 1e3:.2f} ms"
        assert [cells[8], cells[12]] == ["yes" if r["fits"] == "True" else "no" for r in (h100, l4)]


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
    # a rank's experts run 64 tokens x 2 copies / 4 ranks = 32 copies of 4096 x 2 B in and out;
    # gate and up of 2 whole experts over them = the 1/4 slices of all 8 over all 128 copies
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines()
            if line.startswith("| Ffn - RoutedExp_")
        )
    }
    gate_up, down = rows["Ffn - RoutedExp_GateUp_Proj"], rows["Ffn - RoutedExp_Down_Proj"]
    assert gate_up[3] == down[4] == f"{32 * 4096 * 2 / 2**10:.2f} KiB"
    assert gate_up[4] == f"{32 * 2 * 14336 * 2 / 2**20:.2f} MiB" == "1.75 MiB"
    # each rank owns 16 finished tokens of 64; the all-gather hands round 64 x 4096 x 2 B, of
    # which a rank sends 3/4 at half of NVLink's 900 GB/s
    gather = next(line for line in text.splitlines() if line.startswith("| Ffn - AllGather"))
    assert "all-gather 512.00 KiB" in gather and 64 * 4096 * 2 == 512 * 2**10
    assert f"| {64 * 4096 * 2 * 3 / 4 / 450e9 * 1e9:.2f} ns" in gather


def test_llama4_scout_table_matches_the_hf_reference() -> None:
    """The Scout decode table (511 + 1) against the figures measured on HF's model."""
    text = golden("llama4_scout_decode")
    ref = REFERENCE["meta-llama__Llama-4-Scout-17B-16E-Instruct"]
    params = ref["parameters"]
    assert f"48 blocks, {params['total']:,} parameters)" in text
    parts = storage_parts(text)
    for part, category in (
        ("Attention", "attention"),
        ("Routed experts", "mlp_routed_experts"),
        ("Shared experts", "mlp_shared_experts"),
        ("Router", "router"),
        ("Embedding", "embedding"),
        ("LM head", "lm_head"),
    ):
        assert shows(parts[part], 2 * params[category]), part
    # the reference's norms include the final one
    assert (
        shows(parts["Norms"], 2 * (params["norms"] - 5120)) and parts["Final norm"] == "10.00 KiB"
    )
    assert shows(parts["KV cache"], ref["kv_cache_bytes_512_tokens"])
    # FLOPs: HF runs every token through all 16 experts; with top-1 dispatch the matmuls are
    # 32.78 GFLOP, the norms, softmax and activations add < 0.1%
    decode = ref["decode_511_cached_1_input"]
    routed = ref["moe"]["decode_routed_flops_topk"] - decode["by_category"]["mlp_routed_experts"]
    matmul = decode["matmul_flops_total"] + routed
    total = float(table_rows(text)["Total"][1].split()[0]) * 1e9
    assert matmul <= total <= matmul * 1.001
    # chunked attention on the 36 RoPE layers, global on the 12 NoPE ones (every 4th)
    rows = table_rows(text)
    assert rows["Attn - SDPA (chunk 8192)"][0] == "36 / 48" and rows["Attn - SDPA"][0] == "12 / 48"


def test_tiny_llama_mixed_prefill_by_hand() -> None:
    """The tiny Llama of tests/hand_counts.py (h 8, 2 heads / 1 KV head of 4, ffn 16, vocab 32,
    2 layers, fp16) on two prompts of 512 and 1024 tokens: 1536 tokens."""
    text, tokens = golden("tiny_llama_dir_mixed_prefill"), 1536
    assert "(llama, 2 blocks, 1,704 parameters)" in text and f"{PARAMETERS:,}" == "1,704"
    rows = table_rows(text)
    # per token (tests/hand_counts.py for 2 tokens, halved): RMSNorm 4 x 8 + 3, RoPE 36, the
    # adds 8, the activation 5 x 16; the projections 2 x their weights
    per_token = {"Attn - RMSNorm": 35, "Attn - QKV_Proj": 2 * 8 * 16, "Attn - RoPE": 36,
                 "Attn - O_Proj": 2 * 8 * 8, "Attn - ResidualAdd": 8, "Ffn - RMSNorm": 35,
                 "Ffn - GateUp_Proj": 2 * 8 * 32, "Ffn - ActMul": 80, "Ffn - Down_Proj": 2 * 16 * 8,
                 "Ffn - ResidualAdd": 8}  # fmt: skip
    for name, flops in per_token.items():
        assert shows(rows[name][1], tokens * flops), name
    # causal pairs 512 x 513 / 2 + 1024 x 1025 / 2; per pair QK^T and PV 2 x 2 heads x (4 + 4),
    # softmax 5 x 2 heads; the divide 2 heads x 4 per token
    pairs = 512 * 513 // 2 + 1024 * 1025 // 2
    sdpa = 32 * pairs + 10 * pairs + 8 * tokens
    assert shows(rows["Attn - SDPA"][1], sdpa)
    # logits of each prompt's last token: 2 x 2 x 8 x 32
    assert shows(rows["LM Head"][1], 2 * 2 * 8 * 32)
    assert shows(
        rows["Total"][1], 2 * (tokens * sum(per_token.values()) + sdpa) + 35 * tokens + 1024
    )
    # one embedding row gathered per token (8 x 2 B); K and V of 2 layers x 1536 tokens x 4 x 2 B
    assert shows(rows["Embedding"][2], tokens * 8 * 2)
    assert shows(storage_parts(text)["KV cache"], 2 * tokens * 2 * 4 * 2)


def test_spec_file_csv_is_the_hand_count_at_the_files_efficiencies() -> None:
    """The tiny Llama step of tests/hand_counts.py on examples/hardware/my-gpu.yaml (3350 GB/s at
    memory_efficiency 0.85; 67 TFLOP/s fp32, 989.4 fp16, at compute_efficiency 0.7), eager: every
    row moves its bytes, and each is memory-bound at these sizes."""
    rows = list(csv.DictReader(io.StringIO(golden("tiny_llama_spec_file_csv"))))
    column = "[H100-SXM5-80GB-achievable]"
    bandwidth = 3350e9 * 0.85
    for row in rows[:-1]:
        blocks, flops, weight, inp, out = HAND[row["layer"]]
        assert [int(row[k]) for k in ("blocks", "flops", "weight_bytes")] == [blocks, flops, weight]
        assert [int(row["input_bytes"]), int(row["output_bytes"])] == [inp, out]
        assert row[f"bound{column}"] == "memory"
        # per block; the memory time beats the compute time even at the fp32 rate
        moved = weight + inp + out
        assert flops / (67e12 * 0.7) < moved / bandwidth
        assert float(row[f"time_s{column}"]) == pytest.approx(moved / bandwidth, rel=1e-5, abs=0)
    moved = sum(b * (w + i + o) for b, _, w, i, o in HAND.values())
    total = rows[-1]
    assert total["layer"] == "Total" and int(total["flops"]) == 6786
    assert float(total[f"time_s{column}"]) == pytest.approx(moved / bandwidth, rel=1e-5, abs=0)
