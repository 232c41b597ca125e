"""GLM-5 (`glm_moe_dsa`): DeepSeek-V3.2's DSA with cross-layer top-k sharing. The tiny config of
the golden case counted by hand, the schedule of indexer layers, and bad input.

Tiny model (tests/end-to-end/configs/glm_moe_dsa/config.json): h=8, H=2, q_lora_rank 4,
kv_lora_rank 4, nope 2, rope 2, v 4; indexer 1 head x 4 dims, top 3; 4 layers, layer 0 a dense
MLP of 8, layers 1-3 a MoE of 4 experts of 4 (top 2) + 1 shared; V=16, bfloat16 (w=2).
`index_topk_freq` 2 (offset 2 by default): layer i runs its indexer iff max(i - 1, 0) is even,
so layers 0, 1, 3 do and layer 2 reuses layer 1's selection.
HF's GlmMoeDsaForCausalLM built from it (transformers 5.24, meta device) has 3,176 parameters
(per layer 504 / 824 / 760 / 824), the indexer keys only in layers 0, 1, 3, and its cache holds
36,864 B after 512 tokens: the figures below.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import golden, rows_by_name, run, tiny_config

from transformer_roofline.core.errors import ConfigError
from transformer_roofline.parsers import GlmMoeDsaConfigParser

CONFIG = tiny_config("glm_moe_dsa")


def test_parameters_by_hand() -> None:
    # MLA per layer: q_a 8*4 = 32, q_b 4*(2*(2+2)) = 32, kv_a 8*(4+2) = 48,
    # kv_b 4*(2*(2+4)) = 48, o (2*4)*8 = 64 -> 224; norms q_a 4, kv_a 4, two block norms 8 -> 24
    mla, norms = 224, 24
    # indexer: wq_b 4*(1*4) = 16, wk 8*4 = 32, weights_proj 8*1 = 8 -> 56; k_norm 4 + 4 bias
    indexer, k_norm = 56, 8
    dense, moe = 3 * 8 * 8, 4 * 8 + 4 * 3 * 8 * 4 + 3 * 8 * 4  # router + experts + shared
    layers = [
        mla + norms + indexer + k_norm + dense,  # 0: 504
        mla + norms + indexer + k_norm + moe,  # 1: 824
        mla + norms + moe,  # 2 (shared): 760
        mla + norms + indexer + k_norm + moe,  # 3: 824
    ]
    assert layers == [504, 824, 760, 824]
    report = run(CONFIG, [(2, 4)])
    assert report.parameters["total"] == 16 * 8 * 2 + 8 + sum(layers) == 3176
    assert report.parameters["attention"] == 4 * mla + 3 * indexer == 1064
    assert report.parameters["norms"] == 4 * norms + 3 * k_norm + 8 == 128


def test_state_by_hand() -> None:
    # 6 tokens after the step: the latent (4 + 2) in 4 layers, the indexer key (4) in 3, 2 B each
    parts = {p.name: p.bytes for p in run(CONFIG, [(2, 4)]).storage_parts}
    assert parts["KV cache"] == 4 * 6 * 6 * 2 == 288
    assert parts["Indexer keys"] == 3 * 6 * 4 * 2 == 144
    # HF's cache at 512 tokens: 512 x (4 x 6 + 3 x 4) x 2 B
    assert run(CONFIG, [(511, 1)]).kv_cache_bytes == 36864


_FIELDS = ("blocks", "flops", "matmul_flops", "input_bytes", "output_bytes")


def _analysed(case: list[tuple[int, int]]) -> dict[str, tuple]:
    return {
        row.name: (row.blocks, row.cost.flops, row.cost.matmul_flops, row.cost.input_bytes,
                   row.cost.output_bytes)
        for row in run(CONFIG, case).rows
    }  # fmt: skip


def _golden() -> dict[str, tuple]:
    doc = golden("tiny_glm_moe_dsa_prefill_shared_indexer")
    return {layer["name"]: tuple(layer[key] for key in _FIELDS) for layer in doc["layers"]}


@pytest.mark.parametrize("source", ["analysis", "golden"])
def test_prefill_with_a_shared_layer_by_hand(source: str) -> None:
    """The golden case: 2 cached + 4 input tokens (positions 2-5), MLA expanded (auto in
    prefill), top 3."""
    rows = _analysed([(2, 4)]) if source == "analysis" else _golden()
    # (blocks, FLOPs, matmul FLOPs, input B, output B)
    # 3 layers run it; positions 2..5 score 3 + 4 + 5 + 6 = 18 (token, key) pairs:
    # q.k 2*1*4*18 = 144 matmul, relu and the weighted sum's multiply-add 3*18 = 54, the
    # folded scale 4 -> 202. Reads q 4*4 + w 4 el (40 B) and the 6 keys of 4 (48 B); writes 3
    # indices per token (4 x 3 x 4 B)
    assert rows["Attn - Indexer_Score"] == (3, 202, 144, 88, 48)
    # all 4 layers attend over the selection: min(p + 1, 3) = 3 keys per token, 12 pairs:
    # 2 heads x (qk 4 + v 4) x 12 x 2 = 384 matmul; softmax 5*2*12 = 120, divides 4*2*4 = 32
    assert rows["Attn - SDPA (top 3)"][:3] == (4, 536, 384)
    # the keys read (at most 3 per new token: all 6 here) are decompressed: 6 x 4 -> 2*(2+4)
    assert rows["Attn - KV_B_Proj"][:3] == (4, 2 * 6 * 4 * 12, 2 * 6 * 4 * 12)
    assert all(
        rows[name][0] == 3
        for name in rows
        if name.startswith("Attn - Indexer")  # the shared layer has none of them
    )


def test_the_decompression_reads_each_key_once() -> None:
    kv_b = rows_by_name(run(CONFIG, [(2, 4)]))["Attn - KV_B_Proj"]
    assert kv_b.tokens == 6


@pytest.mark.parametrize(
    ("changes", "full"),
    [
        ({}, [0, 1, 3]),  # the tiny config: index_topk_freq 2
        ({"index_topk_freq": None}, [0, 1, 2, 3]),  # HF's defaults: every layer (GLM-5)
        ({"index_topk_freq": 3, "index_skip_topk_offset": 1}, [0, 3]),
        ({"index_topk_freq": 0}, [0, 1, 2, 3]),  # HF clamps the frequency to 1
        ({"index_topk_pattern": "FSSF"}, [0, 3]),
        ({"index_topk_pattern": ["full", "full", "shared", "shared"]}, [0, 1]),
        ({"indexer_types": ["full", "shared", "full", "shared"]}, [0, 2]),
        # an explicit list wins over the pattern and the schedule
        ({"indexer_types": ["full"] * 4, "index_topk_pattern": "FSSS"}, [0, 1, 2, 3]),
    ],
)
def test_which_layers_run_an_indexer(changes: dict[str, Any], full: list[int]) -> None:
    assert GlmMoeDsaConfigParser({**CONFIG, **changes}).dims.indexer_layers == frozenset(full)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"indexer_types": ["shared", "full", "full", "full"]}, "'indexer_types'"),
        ({"indexer_types": ["full", "full"]}, "'indexer_types'"),
        ({"indexer_types": "FFFF"}, "'indexer_types'"),
        ({"indexer_types": ["full", "dense", "full", "full"]}, "'indexer_types'"),
        ({"index_topk_pattern": "FSXF"}, "'index_topk_pattern'"),
        ({"index_topk_pattern": "SFFF"}, "'index_topk_pattern'"),
        ({"index_topk_pattern": 7}, "'index_topk_pattern'"),
        ({"index_topk_freq": "2"}, "'index_topk_freq'"),
        ({"index_topk": 0}, "'index_topk'"),
        ({"index_topk": [2048]}, "'index_topk'"),
    ],
)
def test_bad_fields_are_one_config_error(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        GlmMoeDsaConfigParser({**CONFIG, **changes})
    message = str(error.value)
    assert key in message and "glm_moe_dsa" in message and "\n" not in message


def test_index_heads_default_to_glm_5s() -> None:
    # transformers' GlmMoeDsaConfig: index_n_heads 32 (DeepSeek-V3.2: 64)
    assert GlmMoeDsaConfigParser({**CONFIG, "index_n_heads": None}).dims.index_heads == 32
