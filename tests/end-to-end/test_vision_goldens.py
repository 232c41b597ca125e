"""Independent checks of the vision goldens: a hand count per family (parameters from the tensors
HF's classes hold, matmul FLOPs as 2 x M x N x K per GEMM and 2 x heads x (d_q + d_v) per
attention pair), and the same figures measured on HF's own classes for these tiny configs
(tests/reference/measured-vision-tiny.json)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
HF = {
    key: value["vision"]
    for key, value in json.loads(
        (HERE.parent / "reference" / "measured-vision-tiny.json").read_text()
    ).items()
    if not key.startswith("_")
}


def golden(case: str) -> str:
    return (CASES / case / "expected_output.txt").read_text()


def gemm(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def attention(sequences: int, length: int, heads: int, head_dim: int) -> int:
    """QK^T and PV over every (query, key) pair of each sequence (bidirectional)."""
    return 2 * heads * 2 * head_dim * length * length * sequences


def layernorm(width: int) -> int:
    return 2 * width


# Tiny Qwen3-VL / Qwen3.5 towers: hidden 8, 2 heads of 4, MLP 12, 2 blocks, patches of 16 px over
# 2 frames (K = 3 * 2 * 16 * 16 = 1536), a 4 x 4 position table, 2x2 merge (32 features).
QWEN_BLOCK = (
    2 * layernorm(8) + (8 * 24 + 24) + (8 * 8 + 8) + (8 * 12 + 12) + (12 * 8 + 8)
)  # norm1, norm2, qkv, proj, fc1, fc2 = 532


def qwen_merger(out: int, postshuffle: bool) -> int:
    return layernorm(32 if postshuffle else 8) + (32 * 32 + 32) + (32 * out + out)


def qwen_flops(patches: int, tokens: int, images: int, out: int, deepstack: int) -> int:
    n, t = patches * images, tokens * images
    block = gemm(n, 8, 24) + gemm(n, 8, 8) + gemm(n, 8, 12) + gemm(n, 12, 8)
    block += attention(images, patches, 2, 4)
    merger = gemm(t, 32, 32) + gemm(t, 32, out)
    return gemm(n, 1536, 8) + 2 * block + (1 + deepstack) * merger


def matmul_by_hf(stem: str, size: str, images: int = 1) -> int:
    """HF's count of one image of `size` (WxH), times the images, without Gemma 4's pooling
    (a one-hot matmul there, an average here)."""
    run = next(
        v
        for k, v in HF[stem].items()
        if k.startswith("flops") and v["image_wh"] == [int(x) for x in size.split("x")]
    )
    return images * (run["matmul_flops_total"] - run["by_part"].get("pooler", 0))


def test_tiny_qwen3_vl_vision_json() -> None:
    doc = json.loads(golden("tiny_qwen3_vl_vision_json"))
    params = (8 * 3 * 2 * 16 * 16 + 8) + 16 * 8 + 2 * QWEN_BLOCK
    params += qwen_merger(8, postshuffle=False) + qwen_merger(8, postshuffle=True)
    assert doc["parameters"]["total"] == params == 16_208
    assert params == HF["tiny-qwen3-vl"]["parameters"]["parameters_vision_and_projector"]
    # 768 x 1024 px: 48 x 64 patches of 16 px, 768 tokens each; two images
    assert doc["images"]["tokens_per_image"] == 48 * 64 // 4 == 768
    assert HF["tiny-qwen3-vl"]["image_tokens"]["1024x768"]["image_tokens"] == 768
    flops = qwen_flops(3072, 768, 2, out=8, deepstack=1)
    assert doc["total"]["matmul_flops"] == flops == matmul_by_hf("tiny-qwen3-vl", "1024x768", 2)
    layers = {layer["name"]: layer for layer in doc["layers"]}
    assert layers["Attn - SDPA (bidirectional)"]["matmul_flops"] == attention(2, 3072, 2, 4)
    assert layers["Patch_Embed"]["weight_bytes"] == 2 * (1536 * 8 + 8)  # bfloat16
    assert layers["DeepStack_Merger - FC1"]["params"] == 32 * 32 + 32
    assert doc["storage"]["kv_cache_bytes"] == 0


def test_tiny_qwen3_5_vision_table() -> None:
    text = golden("tiny_qwen3_5_vision_table")
    params = (8 * 3 * 2 * 16 * 16 + 8) + 16 * 8 + 2 * QWEN_BLOCK + qwen_merger(16, False)
    assert f"{params:,} parameters" in text and params == 15_088
    assert params == HF["tiny-qwen3-5-vl"]["parameters"]["parameters_vision_and_projector"]
    assert "448x448 (28x28 patches) -> 196 tokens" in text
    assert "DeepStack" not in text  # Qwen3.5's tower has none
    flops = qwen_flops(784, 196, 1, out=16, deepstack=0)
    assert flops == matmul_by_hf("tiny-qwen3-5-vl", "448x448") == 60_612_608
    sdpa = attention(1, 784, 2, 4) + 5 * 2 * 784 * 784 + 784 * 2 * 4  # + softmax, the divide
    assert re.search(r"\| Attn - SDPA \(bidirectional\) \| 2 / 2 +\| 25\.82 MFLOPs", text)
    assert round(sdpa / 1e6, 2) == 25.82


def test_tiny_gemma4_vision_json() -> None:
    doc = json.loads(golden("tiny_gemma4_vision_json"))
    # hidden 8, 2 heads of 4, gated MLP 12, 2 layers, patches of 16 px (768 values), x and y
    # tables of 32 rows, 3x3 pooling, 70 soft tokens -> 630 positions, text hidden 8
    block = 4 * 8 * 8 + 2 * 4 + 3 * 8 * 12 + 4 * 8  # q k v o, q/k norms, gate up down, 4 norms
    params = 768 * 8 + 2 * 32 * 8 + 2 * block + 8 * 8
    assert doc["parameters"]["total"] == params == 7_888
    assert params == HF["tiny-gemma4-vision"]["parameters"]["parameters_vision_and_projector"]
    # 448 x 448 -> the largest multiple of 48 px within 630 patches: 384 x 384 = 24 x 24 -> 64
    assert doc["images"]["resized"] == [384, 384] and doc["images"]["tokens"] == 64
    assert doc["images"]["positions_per_sequence"] == 630
    per_block = gemm(630, 8, 24) + gemm(630, 8, 8) + gemm(630, 8, 24) + gemm(630, 12, 8)
    flops = gemm(630, 768, 8) + 2 * (per_block + attention(1, 630, 2, 4)) + gemm(64, 8, 8)
    assert doc["total"]["matmul_flops"] == flops == matmul_by_hf("tiny-gemma4-vision", "448x448")
    pool = {layer["name"]: layer for layer in doc["layers"]}["Pool"]
    assert pool["flops"] == 64 * 8 * (9 + 3)  # the mean of 9, x sqrt(h), standardize


def test_tiny_llama4_vision_json() -> None:
    doc = json.loads(golden("tiny_llama4_vision_json"))
    # hidden 8, 2 heads of 4, MLP 32, 2 layers, tiles of 28 px = 2 x 2 patches + a class token,
    # adapter 32 -> 16 -> 16, projector 16 -> text hidden 8
    block = 4 * (8 * 8 + 8) + (8 * 32 + 32) + (32 * 8 + 8) + 2 * layernorm(8)
    params = 588 * 8 + 8 + 5 * 8 + 2 * layernorm(8) + 2 * block + 32 * 16 + 16 * 16 + 16 * 8
    assert doc["parameters"]["total"] == params == 7_424
    assert params == HF["tiny-llama4-vision"]["parameters"]["parameters_vision_and_projector"]
    # 768 x 1024: the canvas of 28 px tiles that needs the least downscale is 3 x 4, + 1 global
    assert doc["images"]["grid"] == [3, 4] and doc["images"]["sequences_per_image"] == 13
    assert (
        doc["images"]["tokens"]
        == 13
        == HF["tiny-llama4-vision"]["image_tokens"]["1024x768"]["image_tokens"]
    )
    positions = 13 * 5
    per_block = gemm(positions, 8, 24) + gemm(positions, 8, 8) + 2 * gemm(positions, 8, 32)
    flops = gemm(13 * 4, 588, 8) + 2 * (per_block + attention(13, 5, 2, 4))
    flops += gemm(13, 32, 16) + gemm(13, 16, 16) + gemm(13, 16, 8)
    assert doc["total"]["matmul_flops"] == flops == matmul_by_hf("tiny-llama4-vision", "1024x768")


def test_tiny_kimi_k25_vision_csv() -> None:
    rows = {
        row["layer"]: row for row in csv.DictReader(io.StringIO(golden("tiny_kimi_k25_vision_csv")))
    }
    # hidden 8, 2 heads of 4, MLP 12, 2 layers, patches of 14 px (588 values), a 4 x 4 table,
    # 2x2 merge; 448 x 448 is never resized: 32 x 32 patches, 256 tokens; three images
    assert HF["tiny-kimi-k25-vision"]["image_tokens"]["448x448"]["image_tokens"] == 256
    n, t = 3 * 1024, 3 * 256
    block = gemm(n, 8, 24) + gemm(n, 8, 8) + gemm(n, 8, 12) + gemm(n, 12, 8)
    flops = gemm(n, 588, 8) + 2 * (block + attention(3, 1024, 2, 4))
    flops += gemm(t, 32, 32) + gemm(t, 32, 8)
    assert (
        int(rows["Total"]["matmul_flops"])
        == flops
        == matmul_by_hf("tiny-kimi-k25-vision", "448x448", 3)
    )
    assert int(rows["Attn - SDPA (bidirectional)"]["matmul_flops"]) == attention(3, 1024, 2, 4)
    assert int(rows["Patch_Embed"]["weight_bytes"]) == 2 * (588 * 8 + 8)
    params = 588 * 8 + 8 + 16 * 8 + 2 * 532 + layernorm(8) + layernorm(8) + 1056 + 264
    assert params == HF["tiny-kimi-k25-vision"]["parameters"]["parameters_vision_and_projector"]


def test_tiny_qwen3_vl_images_prompt_json() -> None:
    doc = json.loads(golden("tiny_qwen3_vl_images_prompt_json"))
    alone = json.loads(golden("tiny_qwen3_vl_vision_json"))
    assert doc["queries"] == [{"cached_tokens": 0, "input_tokens": 10 + 2 * 768, "count": 1}]
    assert doc["images"]["per"] == "query" and doc["images"]["tokens"] == 2 * 768
    vision: dict[str, Any] = doc["vision"]
    assert vision["layers"] == alone["layers"] and vision["total"] == alone["total"]
    # the text step is a plain prefill of 1546 tokens: its SDPA pairs are causal
    sdpa = {layer["name"]: layer for layer in doc["layers"]}["Attn - SDPA"]
    assert sdpa["matmul_flops"] == 2 * 2 * (4 + 4) * (1546 * 1547 // 2)


def test_tiny_qwen3_vl_images_generation_h100() -> None:
    text = golden("tiny_qwen3_vl_images_generation_h100")
    assert "1 x (0 cached + 74 input)" in text  # 10 + 64 tokens of one native image
    table = text.split("With the images:")[1]
    row = re.search(r"\| H100-SXM5-80GB +\|" + r" ([^|]+?) +\|" * 7, table)
    assert row
    encoder, step, with_images = row.group(1), row.group(3), row.group(5)
    generation = text.split("Whole generation:")[1]
    first = re.search(r"\| H100-SXM5-80GB +\| ([^|]+?) +\|", generation)
    assert first and first.group(1) == with_images  # the generation's TTFT is the sum
    value = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

    def seconds(cell: str) -> float:
        number, unit = cell.split()
        return float(number) * value[unit]

    assert seconds(with_images) == pytest.approx(seconds(encoder) + seconds(step), rel=1e-3)
