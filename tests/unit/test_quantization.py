"""quantization_config methods: exact bits per weight (hand counts), which categories each covers
(module lists mapped onto rows), bad fields as one ConfigError line, and the real 2026 configs.

Hand counts write bits per weight as element + (scale + zero point) / weights per scale, from the
tensors a checkpoint stores (qweight, scales, qzeros; weight_packed, weight_scale; ...)."""

from __future__ import annotations

import importlib.util
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from hand_counts import CONFIG as TINY
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.errors import ConfigError, UnsupportedModelError
from transformer_roofline.core.model.formats import lookup_format
from transformer_roofline.core.model.precision import Precision, resolve_precision
from transformer_roofline.core.model.quantization import LAYER_MODULES, LAYER_STEMS, hf_rule
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.model.rows import Category
from transformer_roofline.parsers import DeepseekV3ConfigParser, LlamaConfigParser

A, M, D, R, S, H = (
    Category.ATTN_PROJ,
    Category.MIXER,
    Category.MLP_DENSE,
    Category.MLP_ROUTED,
    Category.MLP_SHARED,
    Category.LM_HEAD,
)
BLOCKS = {A, M, D, R, S}
BF16 = lookup_format("bfloat16")
Q = QueryConfig.from_lists((3,), (2,))


def _resolve(quantization: dict[str, Any], layers: int = 4, dtype: str = "bfloat16") -> Precision:
    return resolve_precision(lookup_format(dtype), quantization, layers=layers)


def _formats(p: Precision) -> dict[Category, tuple[str, Fraction, str | None]]:
    """Category -> (format name, bits per weight, compute peak)."""
    return {c: (g.fmt.name, g.fmt.bits, g.compute_peak) for g in p.quantized for c in g.categories}


def _notes(p: Precision) -> list[str]:
    return [n.text for n in p.notes]


# --- bits per weight, by hand ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantization", "name", "bits"),
    [
        # fp8, one fp32 scale per 128 x 128 block: 8 + 32/16384
        ({"weight_block_size": [128, 128]}, "float8_e4m3_block128x128", 8 + Fraction(1, 512)),
        # no weight_block_size: HF's default block, 128 x 128
        ({}, "float8_e4m3_block128x128", 8 + Fraction(1, 512)),
        # ue8m0: an 8-bit scale per block: 8 + 8/16384
        (
            {"weight_block_size": [128, 128], "scale_fmt": "ue8m0"},
            "float8_e4m3_block128x128_ue8m0",
            8 + Fraction(1, 2048),
        ),
        # 1 x 32 blocks of fp32 scales: 8 + 32/32 = 9
        ({"weight_block_size": [1, 32]}, "float8_e4m3_block1x32", Fraction(9)),
        # null: one scale per tensor, not counted
        ({"weight_block_size": None}, "float8_e4m3", Fraction(8)),
        ({"weight_block_size": None, "fmt": "e5m2"}, "float8_e5m2", Fraction(8)),
    ],
)
def test_fp8_bits(quantization: dict[str, Any], name: str, bits: Fraction) -> None:
    p = _resolve({"quant_method": "fp8", "activation_scheme": "dynamic", **quantization})
    assert _formats(p)[A] == (name, bits, "fp8")


def test_fp8_fp4_experts_like_deepseek_v4() -> None:
    # E2M1 (4 bits) and one 8-bit ue8m0 scale per 32 inputs: 4 + 8/32 = 4.25 (= MXFP4); the
    # GEMMs multiply fp8 activations: fp8 peak
    base = {"quant_method": "fp8", "scale_fmt": "ue8m0", "expert_dtype": "fp4"}
    p = _resolve(base)
    assert _formats(p)[R] == ("mxfp4", Fraction(17, 4), "fp8")
    assert _formats(p)[S] == ("float8_e4m3_block128x128_ue8m0", 8 + Fraction(1, 2048), "fp8")
    # fp32 scales: 4 + 32/32 = 5 bits
    assert _formats(_resolve({**base, "scale_fmt": "float"}))[R][1] == 5


@pytest.mark.parametrize(
    ("quantization", "bits"),
    [
        # 4-bit qweight; per 128 inputs one fp16 scale and one 4-bit zero: 4 + (16 + 4)/128
        ({"bits": 4, "group_size": 128}, 4 + Fraction(20, 128)),
        # the brief's example: group 32 -> 4 + (16 + 4)/32 = 4.625
        ({"bits": 4, "group_size": 32}, Fraction(37, 8)),
        # no zero point: 4 + 16/128
        ({"bits": 4, "group_size": 128, "zero_point": False}, Fraction(33, 8)),
        # defaults: 4 bits, group 128, zero points
        ({}, 4 + Fraction(20, 128)),
        # one scale per row: not counted
        ({"bits": 4, "group_size": -1}, Fraction(4)),
    ],
)
def test_awq_bits(quantization: dict[str, Any], bits: Fraction) -> None:
    p = _resolve({"quant_method": "awq", **quantization})
    assert {c: f[1] for c, f in _formats(p).items()} == dict.fromkeys(BLOCKS, bits)
    assert all(peak is None for _, _, peak in _formats(p).values())  # weight-only


@pytest.mark.parametrize(
    ("quantization", "bits"),
    [
        # qzeros are stored even for sym: 4 + (16 + 4)/128
        ({"bits": 4, "group_size": 128, "sym": True}, 4 + Fraction(20, 128)),
        # 8 + (16 + 8)/64 = 8.375
        ({"bits": 8, "group_size": 64, "desc_act": True}, Fraction(67, 8)),
        # 3 + (16 + 3)/128
        ({"bits": 3}, 3 + Fraction(19, 128)),
    ],
)
def test_gptq_bits(quantization: dict[str, Any], bits: Fraction) -> None:
    p = _resolve({"quant_method": "gptq", **quantization})
    assert {c: f[1] for c, f in _formats(p).items()} == dict.fromkeys(BLOCKS, bits)


def _ct(weights: dict[str, Any], fmt: str = "pack-quantized", **group: Any) -> dict[str, Any]:
    return {
        "quant_method": "compressed-tensors",
        "format": fmt,
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, **group}},
    }


_INT4 = {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 32, "symmetric": True}


@pytest.mark.parametrize(
    ("weights", "fmt", "dtype", "name", "bits"),
    [
        # Kimi-K2.5: 4-bit packed, one bf16 scale per 32: 4 + 16/32 = 4.5
        (_INT4, "pack-quantized", "bfloat16", "int4_g32_bf16", Fraction(9, 2)),
        # the scale takes the weights' dtype: fp32 -> 4 + 32/32
        (_INT4, "pack-quantized", "float32", "int4_g32_fp32", Fraction(5)),
        # asymmetric: a packed 4-bit zero point per group too: 4 + (16 + 4)/32
        ({**_INT4, "symmetric": False}, "pack-quantized", "bfloat16", "int4_g32_bf16_zp4", 4.625),
        # int8 per row (W8A8 int): 8 bits, the row scales not counted
        (
            {"num_bits": 8, "type": "int", "strategy": "channel"},
            "int-quantized",
            "bfloat16",
            "int8_channel",
            8,
        ),
        # naive-quantized stores int4 values one per int8: 8 + 16/128
        ({**_INT4, "group_size": 128}, "naive-quantized", "float16", "int8_g128_fp16", 8.125),
        # fp8 blocks with bf16 scales: 8 + 16/16384
        (
            {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]},
            "float-quantized",
            "bfloat16",
            "float8_e4m3_block128x128_bf16",
            8 + Fraction(1, 1024),
        ),
        # NVFP4: E2M1 and one e4m3 scale per 16: 4 + 8/16 (the fp32 global scale not counted)
        (
            {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
            "nvfp4-pack-quantized",
            "bfloat16",
            "nvfp4",
            4.5,
        ),
        # MXFP4: one e8m0 byte per 32: 4 + 8/32
        (
            {"num_bits": 4, "type": "float", "group_size": 32},
            "mxfp4-pack-quantized",
            "bfloat16",
            "mxfp4",
            4.25,
        ),
    ],
)
def test_compressed_tensors_bits(
    weights: dict[str, Any], fmt: str, dtype: str, name: str, bits: float
) -> None:
    p = _resolve(_ct(weights, fmt), dtype=dtype)
    assert _formats(p)[R][:2] == (name, bits)


def test_compressed_tensors_activations_set_the_compute_peak() -> None:
    fp8 = {"num_bits": 8, "type": "float", "strategy": "channel"}
    dynamic = {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}
    assert _formats(_resolve(_ct(fp8, "float-quantized", input_activations=dynamic)))[A][2] == "fp8"
    # W4A8 int: both operands in int8
    int8 = {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True}
    assert _formats(_resolve(_ct(_INT4, input_activations=int8)))[A][2] == "int8"
    # W4A16: weight-only
    assert _formats(_resolve(_ct(_INT4, input_activations=None)))[A][2] is None


@pytest.mark.parametrize(
    ("quantization", "name", "bits", "peak"),
    [
        # config.json layout (NVIDIA's Gemma 4 NVFP4): 4 + 8/16, inputs in nvfp4 too
        (
            {
                "quant_algo": "NVFP4",
                "config_groups": {
                    "group_0": {
                        "targets": ["Linear"],
                        "weights": {"num_bits": 4, "type": "float", "group_size": 16},
                        "input_activations": {"num_bits": 4, "type": "float", "group_size": 16},
                    }
                },
            },
            "nvfp4",
            Fraction(9, 2),
            "fp4",
        ),
        # hf_quant_config.json layout, group 32: 4 + 8/32; NVFP4 quantizes the inputs
        ({"quantization": {"quant_algo": "NVFP4", "group_size": 32}}, "nvfp4_g32", 4.25, "fp4"),
        # inputs not quantized: weight-only
        (
            {
                "quant_algo": "NVFP4",
                "config_groups": {
                    "g": {"weights": {"group_size": 16}, "input_activations": None},
                },
            },
            "nvfp4",
            4.5,
            None,
        ),
        ({"quant_algo": "FP8"}, "float8_e4m3", 8, "fp8"),
    ],
)
def test_modelopt_bits(quantization: dict[str, Any], name: str, bits: float, peak: str) -> None:
    p = _resolve({"quant_method": "modelopt", **quantization})
    assert _formats(p) == dict.fromkeys(BLOCKS, (name, bits, peak))  # never the LM head


def test_mxfp4_covers_the_experts_only() -> None:
    p = _resolve({"quant_method": "mxfp4"})
    assert _formats(p) == {R: ("mxfp4", Fraction(17, 4), None)}


# --- which categories -------------------------------------------------------------------------


def test_fp8_explicit_list_replaces_the_default_lm_head_skip() -> None:
    # HF skips the output embeddings only when modules_to_not_convert is absent
    p = _resolve({"quant_method": "fp8", "modules_to_not_convert": ["model.layers.0.self_attn"]})
    assert H in _formats(p)
    assert any(n.startswith("lm_head converted") for n in _notes(p))
    # MiniMax-M2's list (under the alias ignored_layers): the router is never converted anyway,
    # the LM head is kept, and a parameter name matches no module
    minimax = {
        "quant_method": "fp8",
        "ignored_layers": ["gate", "e_score_correction_bias", "lm_head"],
    }
    p = _resolve(minimax)
    assert set(_formats(p)) == BLOCKS
    assert "lm_head not converted (ignored_layers: 'lm_head')" in _notes(p)
    assert (
        "ignored_layers entries matching no module of the text decoder, ignored: "
        "'e_score_correction_bias'" in _notes(p)
    )


def test_layer_index_exclusions() -> None:
    # DeepSeek-style "model.layers.0.mlp" in a 3-layer model: one layer of three cannot be said
    # per category: kept quantized, and applied says so
    one = _resolve({"quant_method": "fp8", "modules_to_not_convert": ["model.layers.0.mlp"]}, 3)
    assert set(_formats(one)) >= {D, R, S}
    assert (
        "approximate: modules_to_not_convert keeps mlp_dense unquantized in layers 0 (1 of 3); "
        "modelled as all quantized" in _notes(one)
    )
    # every layer named: exact
    every = [f"model.layers.{i}.mlp" for i in range(3)]
    p = _resolve({"quant_method": "fp8", "modules_to_not_convert": every}, 3)
    assert set(_formats(p)) == {A, M, H}  # (an explicit list: HF converts the LM head)
    assert not any("approximate" in n for n in _notes(p))


def test_part_of_a_category() -> None:
    # only q_proj: the rest of attention stays fp8 (approximate, said)
    p = _resolve({"quant_method": "fp8", "modules_to_not_convert": ["re:never", "q_proj"]})
    assert A in _formats(p)
    assert any(
        n.startswith("approximate: modules_to_not_convert keeps attn_proj") for n in _notes(p)
    )
    # every projection of the GQA naming: attention kept, exactly (Phi-3's fused naming, which
    # o_proj also matches, does not make it partial)
    four = ["q_proj", "k_proj", "v_proj", "o_proj"]
    p = _resolve({"quant_method": "awq", "modules_to_not_convert": four})
    assert A not in _formats(p) and not any("approximate" in n for n in _notes(p))


def test_compressed_tensors_like_kimi_k25() -> None:
    quantization = {
        **_ct(_INT4),
        "ignore": [
            "lm_head",
            "re:.*self_attn.*",
            "re:.*shared_experts.*",
            r"re:.*mlp\.(gate|up|gate_up|down)_proj.*",
        ],
    }
    p = _resolve(quantization, layers=3)
    assert _formats(p) == dict.fromkeys({M, R}, ("int4_g32_bf16", Fraction(9, 2), None))
    assert "attn_proj not converted (ignore: 're:.*self_attn.*')" in _notes(p)


def test_compressed_tensors_most_specific_target_wins() -> None:
    # fp8 (with fp8 inputs) for attention by regex, int4 weight-only for every other Linear
    fp8 = {"num_bits": 8, "type": "float", "strategy": "channel"}
    act = {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}
    quantization = {
        "quant_method": "compressed-tensors",
        "format": "mixed-precision",
        "config_groups": {
            "int4": {"targets": ["Linear"], "weights": _INT4, "format": "pack-quantized"},
            "fp8": {
                "targets": ["re:.*self_attn.*"],
                "weights": fp8,
                "input_activations": act,
                "format": "float-quantized",
            },
        },
        "ignore": ["lm_head"],
    }
    f = _formats(_resolve(quantization))
    assert f[A] == ("float8_e4m3_channel", 8, "fp8")
    assert f[R] == f[D] == ("int4_g32_bf16", Fraction(9, 2), None)
    assert H not in f


def test_modelopt_globs_like_gemma4_nvfp4() -> None:
    layers = 5
    ignore = ["lm_head", "model.vision_tower*"]
    ignore += [f"model.language_model.layers.{i}.self_attn*" for i in range(layers)]
    base = {"quant_method": "modelopt", "quant_algo": "NVFP4", "kv_cache_scheme": {"num_bits": 8}}
    p = _resolve({**base, "ignore": ignore}, layers)
    assert set(_formats(p)) == {M, D, R, S}
    assert "attn_proj not converted (ignore: 5 entries, e.g. " in " ".join(_notes(p))
    assert any("ignored: 'model.vision_tower*'" in n for n in _notes(p))
    assert any(n.startswith("kv_cache_scheme not applied") for n in _notes(p))
    # layer 10 does not match "layers.1.self_attn*" (the glob is anchored)
    p = _resolve({**base, "ignore": ignore[:3]}, 11)
    assert any("unquantized in layers 0 (1 of 11)" in n for n in _notes(p))


def test_gptq_modules_in_block_to_quantize() -> None:
    attention = [["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"], ["self_attn.o_proj"]]
    p = _resolve({"quant_method": "gptq", "bits": 4, "modules_in_block_to_quantize": attention})
    assert set(_formats(p)) == {A}
    with pytest.raises(UnsupportedModelError, match="'dynamic'"):
        _resolve({"quant_method": "gptq", "bits": 4, "dynamic": {"-:.*gate": {}}})


@settings(max_examples=60, deadline=None)
@given(layers=st.integers(1, 8), data=st.data())
def test_per_layer_lists_are_exact_only_when_complete(layers: int, data: st.DataObject) -> None:
    chosen = data.draw(st.sets(st.integers(0, layers - 1)))
    rule = data.draw(st.sampled_from(["hf", "glob"]))
    entries = [
        f"model.layers.{i}.self_attn" if rule == "hf" else f"model.layers.{i}.self_attn*"
        for i in sorted(chosen)
    ]
    if rule == "hf":
        p = _resolve({"quant_method": "awq", "modules_to_not_convert": entries}, layers)
    else:
        p = _resolve({"quant_method": "modelopt", "quant_algo": "FP8", "ignore": entries}, layers)
    approximate = any(n.startswith("approximate") and "attn_proj" in n for n in _notes(p))
    assert (A in _formats(p)) == (len(chosen) < layers)
    assert approximate == (0 < len(chosen) < layers)


# HF's should_convert_module, the oracle of hf_rule (transformers 5 has it; 4.x does not)
_NAMES = [
    f"{stem}.{i}.{leaf}"
    for stem in LAYER_STEMS[:2]
    for i in (1, 11)
    for namings in LAYER_MODULES.values()
    for naming in namings[:2]
    for leaf in naming
] + ["lm_head", "model.embed_tokens"]
_PATTERNS = [
    "lm_head",
    "gate",
    "mlp.gate",
    "model.layers.1",
    "model.layers.*.self_attn",
    "layers.1",
    "self_attn",
    "experts",
    "re:.*q_proj",
    r"model\.layers\.\d+\.mlp",
    "down_proj",
]


def _hf_quantizers_utils() -> Any:
    """transformers' quantizers/quantizers_utils.py, loaded alone (importing the transformers
    package here slows the Hub tests that run later in the same process)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("transformers is not installed")
    path = Path(spec.submodule_search_locations[0]) / "quantizers" / "quantizers_utils.py"
    if not path.exists():
        pytest.skip("this transformers has no quantizers_utils.py")
    module_spec = importlib.util.spec_from_file_location("hf_quantizers_utils", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "should_convert_module"):
        pytest.skip("this transformers has no should_convert_module")
    return module


def test_hf_rule_is_hfs_should_convert_module() -> None:
    utils = _hf_quantizers_utils()
    for pattern in _PATTERNS:
        ours = hf_rule(pattern, "test")
        for name in _NAMES:
            assert ours(name) == (not utils.should_convert_module(name, [pattern])), (pattern, name)
    # the cases HF's comment states
    assert hf_rule("layer.1", "t")("layer.1.attn") and not hf_rule("layer.1", "t")("layer.11.attn")
    assert hf_rule("mlp.gate", "t")("x.mlp.gate") and not hf_rule("mlp.gate", "t")("mlp.gate_proj")


# --- on rows --------------------------------------------------------------------------------


def test_awq_on_the_tiny_llama() -> None:
    quantization = {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}
    parser = LlamaConfigParser({**TINY, "quantization_config": quantization})
    rows = {row.name: row for row in analyze(parser, Q).rows}
    # QKV: 128 weights: 128 x 4 bits = 64 B, + 128 x (16 + 4)/128 bits = 20 bits = 2.5 B
    assert rows["Attn - QKV_Proj"].param_bytes == Fraction(133, 2)
    assert rows["Attn - QKV_Proj"].peak == "fp16"  # weight-only: the activations' peak
    assert rows["LM Head"].param_bytes == 256 * 2  # HF's default skip: float16
    assert rows["Attn - RMSNorm"].param_bytes == 16


def test_nvfp4_on_the_tiny_llama() -> None:
    quantization = {"quant_method": "modelopt", "quant_algo": "NVFP4", "ignore": ["lm_head"]}
    rows = {
        r.name: r
        for r in analyze(LlamaConfigParser({**TINY, "quantization_config": quantization}), Q).rows
    }
    # Down: 16 -> 8 = 128 weights x 4.5 bits = 72 B; inputs quantized too: fp4 peak
    assert rows["Ffn - Down_Proj"].param_bytes == 72
    assert rows["Ffn - Down_Proj"].peak == "fp4"
    assert rows["LM Head"].peak == "fp16"


def test_int4_experts_on_a_tiny_deepseek() -> None:
    config = {
        "model_type": "deepseek_v3",
        "torch_dtype": "bfloat16",
        "hidden_size": 32,
        "num_attention_heads": 4,
        "q_lora_rank": 8,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 4,
        "qk_rope_head_dim": 4,
        "v_head_dim": 4,
        "intermediate_size": 16,
        "moe_intermediate_size": 8,
        "n_routed_experts": 4,
        "n_shared_experts": 1,
        "num_experts_per_tok": 2,
        "num_hidden_layers": 2,
        "vocab_size": 32,
        "first_k_dense_replace": 1,
        "quantization_config": {
            **_ct(_INT4),
            "ignore": [
                "lm_head",
                "re:.*self_attn.*",
                "re:.*shared_experts.*",
                r"re:.*mlp\.(gate|up|gate_up|down)_proj.*",
            ],
        },
    }
    report = analyze(DeepseekV3ConfigParser(config), Q)
    rows = {row.name: row for row in report.rows}
    # 4 experts x (32 -> 2 x 8) = 2048 weights x 4.5 bits = 1152 B; down 4 x 256 x 4.5 / 8 = 576 B
    assert rows["Ffn - RoutedExp_GateUp_Proj"].param_bytes == 1152
    assert rows["Ffn - RoutedExp_Down_Proj"].param_bytes == 576
    assert rows["Ffn - RoutedExp_Down_Proj"].peak == "bf16"
    # the shared expert (32 -> 16: 512 weights) stays bf16
    assert rows["Ffn - SharedExp_GateUp_Proj"].param_bytes == 512 * 2
    # described for this model: experts only (no mixers), and why the rest is bf16
    assert report.precision.applied.startswith(
        "mlp_routed_experts weights int4_g32_bf16 from quantization_config (compressed-tensors, "
        "weight-only); attn_proj not converted"
    )


# --- bad fields: one ConfigError line naming the key and the value -----------------------------


@pytest.mark.parametrize(
    ("quantization", "message"),
    [
        (
            {"quant_method": "fp8", "weight_block_size": True},
            "'weight_block_size' must be [rows, cols] of positive integers, got True",
        ),
        ({"quant_method": "fp8", "weight_block_size": [128, 0]}, "'weight_block_size'"),
        (
            {"quant_method": "fp8", "activation_scheme": "none"},
            "'activation_scheme' must be one of 'dynamic', 'static', got 'none'",
        ),
        (
            {"quant_method": "fp8", "scale_fmt": "e8m0"},
            "'scale_fmt' must be one of 'float', 'ue8m0', got 'e8m0'",
        ),
        ({"quant_method": "fp8", "fmt": "int8"}, "'fmt' must be one of"),
        (
            {"quant_method": "fp8", "modules_to_not_convert": "lm_head"},
            "'modules_to_not_convert' must be a list of module names, got 'lm_head'",
        ),
        (
            {"quant_method": "fp8", "modules_to_not_convert": ["*.shared_experts.*"]},
            "'*.shared_experts.*' is not a valid regular expression",
        ),
        (
            {"quant_method": "fp8", "expert_dtype": 4},
            "'expert_dtype' must be one of 'fp8', 'fp4', got 4",
        ),
        (
            {"quant_method": "awq", "group_size": "x"},
            "'group_size' must be an integer >= 1 or -1 (one scale per row), got 'x'",
        ),
        ({"quant_method": "awq", "bits": 3.5}, "'bits' must be one of 2, 3, 4, 8, got 3.5"),
        (
            {"quant_method": "awq", "zero_point": "yes"},
            "'zero_point' must be true or false, got 'yes'",
        ),
        ({"quant_method": "gptq", "bits": True}, "'bits' must be one of 2, 3, 4, 8, got True"),
        ({"quant_method": "gptq"}, "missing required field 'bits'"),
        (
            {"quant_method": "gptq", "bits": 4, "modules_in_block_to_quantize": ["q_proj"]},
            "'modules_in_block_to_quantize' must be a list of lists",
        ),
        ({"quant_method": 42}, "'quant_method' must be a string, got 42"),
        ({}, "missing required field 'quant_method'"),
        (
            _ct({**_INT4, "num_bits": "4"}),
            "quantization_config.config_groups.group_0.weights: 'num_bits' must be one of "
            "1, 2, 3, 4, 5, 6, 7, 8, got '4'",
        ),
        (_ct({**_INT4, "group_size": 0}), "'group_size' must be an integer >= 1 or -1"),
        (
            _ct({**_INT4, "strategy": "group", "group_size": None}),
            "'group_size' must be an integer >= 1 for strategy 'group', got None",
        ),
        (_ct({**_INT4, "type": "float"}), "'type' must be 'int' for format 'pack-quantized'"),
        (_ct({**_INT4, "scale_dtype": "fp7"}), "'scale_dtype' must be a torch dtype"),
        ({**_ct(_INT4), "config_groups": []}, "'config_groups' must be a mapping, got []"),
        ({**_ct(_INT4), "ignore": [1]}, "'ignore' must be a list of module names"),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"g": {"weights": _INT4}},
                "format": "pack-quantized",
            },
            "'targets' must be a non-empty list",
        ),
        (
            {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": "16"},
            "'group_size' must be an integer >= 1, got '16'",
        ),
    ],
)
def test_bad_fields_are_one_config_error(quantization: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(quantization)
    text = str(caught.value)
    assert "\n" not in text and message in text, text


@pytest.mark.parametrize(
    ("quantization", "message"),
    [
        ({"quant_method": "bitsandbytes"}, "quant_method 'bitsandbytes' is not modelled"),
        (_ct(_INT4, "dense"), "format 'dense' is not modelled"),
        (
            {"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"},
            "quant_algo 'W4A8_AWQ' (modelopt)",
        ),
        ({**_ct(_INT4), "sparsity_config": {"format": "sparse-24-bitmask"}}, "'sparsity_config'"),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"g": {"targets": ["MyMoE"], "weights": _INT4}},
                "format": "pack-quantized",
            },
            "target class 'MyMoE' is not modelled",
        ),
    ],
)
def test_unmodelled_is_an_unsupported_model_error(
    quantization: dict[str, Any], message: str
) -> None:
    with pytest.raises(UnsupportedModelError, match=re.escape(message)):
        _resolve(quantization)


# --- the real 2026 configs (read from ../shared when present) ---------------------------------

NEXT_DIR = ROOT.parent / "shared" / "reference" / "configs-next"
FP8_BLOCK = ("float8_e4m3_block128x128", 8 + Fraction(1, 512), "fp8")
FP8_UE8M0 = ("float8_e4m3_block128x128_ue8m0", 8 + Fraction(1, 2048), "fp8")
# stem -> (format of each category, notes that must be there)
REAL: dict[str, tuple[dict[Category, tuple[str, Fraction, str | None]], list[str]]] = {
    "deepseek-ai__DeepSeek-V3.2": (dict.fromkeys(BLOCKS, FP8_UE8M0), []),
    "deepseek-ai__DeepSeek-V4-Flash": (
        {**dict.fromkeys(BLOCKS - {R}, FP8_UE8M0), R: ("mxfp4", Fraction(17, 4), "fp8")},
        [],
    ),
    "MiniMaxAI__MiniMax-M2.7": (
        dict.fromkeys(BLOCKS, FP8_BLOCK),
        [
            "lm_head not converted (modules_to_not_convert: 'lm_head')",
            "modules_to_not_convert entries matching no module of the text decoder, ignored: "
            "'e_score_correction_bias'",
        ],
    ),
    "XiaomiMiMo__MiMo-V2-Flash": (dict.fromkeys(BLOCKS, FP8_BLOCK), []),
    "zai-org__GLM-5": ({}, []),  # no quantization_config in this (bf16) config
    "moonshotai__Kimi-K2.5": (
        dict.fromkeys({M, R}, ("int4_g32_bf16", Fraction(9, 2), None)),
        [
            "attn_proj not converted (ignore: 're:.*self_attn.*')",
            "lm_head not converted (ignore: 'lm_head')",
            r"mlp_dense not converted (ignore: 're:.*mlp\\.(gate|up|gate_up|down)_proj.*')",
            "mlp_shared_experts not converted (ignore: 're:.*shared_experts.*')",
        ],
    ),
    "nvidia__Gemma-4-31B-IT-NVFP4": (
        dict.fromkeys({M, D, R, S}, ("nvfp4", Fraction(9, 2), "fp4")),
        [
            "attn_proj not converted (ignore: 60 entries, e.g. "
            "'model.language_model.layers.0.self_attn*')",
            "ignore entries matching no module of the text decoder, ignored: "
            "'model.embed_vision*', 'model.vision_tower*'",
            "kv_cache_scheme not applied: the KV cache stays in the activation format unless "
            "--kv-cache-dtype says otherwise",
        ],
    ),
}


def real_quantization(config: dict[str, Any]) -> dict[str, Any] | None:
    """What the family's parser hands the precision: Kimi-K2.5 nests its quantization_config in
    text_config; DeepSeek-V4 keeps expert_dtype at the top level, which HF's config folds into
    the quantization_config (DeepseekV4Config.__post_init__)."""
    text = config.get("text_config", config)
    quantization = text.get("quantization_config") or config.get("quantization_config")
    if quantization and "expert_dtype" in config and "expert_dtype" not in quantization:
        quantization = {**quantization, "expert_dtype": config["expert_dtype"]}
    return quantization


@pytest.mark.parametrize("stem", sorted(REAL))
def test_real_quantization_configs(stem: str) -> None:
    path = NEXT_DIR / f"{stem}.json"
    if not path.exists():
        pytest.skip("../shared/reference/configs-next is absent")
    config = json.loads(path.read_text())
    text = config.get("text_config", config)
    formats, notes = REAL[stem]
    p = resolve_precision(BF16, real_quantization(config), layers=text["num_hidden_layers"])
    assert _formats(p) == formats
    for note in notes:
        assert note in _notes(p)
    assert not any(n.startswith("approximate") for n in _notes(p) if "shared_expert_gate" not in n)


def test_fp8_embeddings_and_routers() -> None:
    # modules_to_convert names embedding tables (by suffix): one fp8 byte per value
    p = _resolve({"quant_method": "fp8", "modules_to_convert": ["embed_tokens", "ngram"]})
    assert _formats(p)[Category.EMBEDDING] == ("float8_e4m3", 8, None)
    assert any("modules_to_convert entries matching no embedding" in n for n in _notes(p))
    # a compressed-tensors target naming the routers is said, not applied
    routers = _ct(_INT4)
    routers["config_groups"]["group_0"]["targets"] = [r"re:.*mlp\.gate$"]
    p = _resolve(routers)
    assert _formats(p) == {} and any("routers stay unquantized" in n for n in _notes(p))


@settings(max_examples=60, deadline=None)
@given(
    bits=st.sampled_from([2, 3, 4, 8]),
    group=st.sampled_from([32, 64, 128]),
    groups=st.integers(1, 4),
    n=st.integers(1, 64),
    method=st.sampled_from(["awq", "gptq", "compressed-tensors"]),
)
def test_bits_equal_the_checkpoint_tensors(
    bits: int, group: int, groups: int, n: int, method: str
) -> None:
    """A K x N weight (K = groups x group inputs) stores, in bytes: AWQ/GPTQ qweight K*N*bits/8,
    fp16 scales (K/group)*N*2, qzeros (K/group)*N*bits/8; compressed-tensors (symmetric,
    pack-quantized) weight_packed K*N*bits/8 and bf16 weight_scale N*(K/group)*2."""
    k = groups * group
    if method == "compressed-tensors":
        weights = {"num_bits": bits, "type": "int", "group_size": group, "symmetric": True}
        quantization: dict[str, Any] = _ct(weights)
        stored = Fraction(k * n * bits, 8) + n * (k // group) * 2
    else:
        quantization = {"quant_method": method, "bits": bits, "group_size": group}
        stored = (
            Fraction(k * n * bits, 8) + (k // group) * n * 2 + Fraction((k // group) * n * bits, 8)
        )
    fmt = _resolve(quantization).weight_for(R)
    assert k * n * fmt.bytes == stored
