"""Measure reference figures on HuggingFace's own model classes (a developer tool).

For a model config.json this builds the full-depth text model with transformers on the meta
device (no weights, no memory), eager attention, and measures what `tests/reference/expected.json`
records: parameter counts by category, weight bytes, the bytes of K and V held in the HF cache at
512 tokens, and the matmul FLOPs (torch's FlopCounterMode, 2 per multiply-add) of one decode step
(511 cached + 1 input token) and one prefill (0 cached + 512 input tokens), attributed to
categories by the module that executed them. `tests/reference/README.md` states the conventions.

It needs torch and transformers, which the project does not depend on; use a scratch virtualenv:

    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 transformers==5.23.0
    # measure configs, write a JSON file keyed by file stem:
    /tmp/ref/bin/python tools/measure_reference.py core/catalog/Qwen__Qwen2.5-3B.json --out out.json
    # validate the method: re-measure every model of expected.json and compare field by field:
    /tmp/ref/bin/python tools/measure_reference.py --check tests/reference/expected.json

Choices that shape the figures (each one follows what HF executes):
- MoE experts run with `experts_implementation="batched_mm"`: every token goes through its top-k
  experts only, which is also what HF's default (`grouped_mm`) and its eager loop execute on real
  data. (On meta tensors the eager loop cannot run, it needs data-dependent `nonzero`, and
  FlopCounterMode has no formula for `grouped_mm`.) Llama 4's experts class has no such switch: it
  multiplies every token by every expert, and that is what gets counted.
- `kimi_k2` is remote code with `architectures: DeepseekV3ForCausalLM`; it is built as deepseek_v3.
- `quantization_config` (fp8, mxfp4) is dropped: parameters are counted at the config dtype.
- The decode cache is filled by an uncounted 511-token forward, so sliding-window layers hold what
  HF's DynamicCache keeps (window - 1 tokens) when the counted step runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

transformers.logging.set_verbosity_error()

PARAM_CATEGORIES = (
    "embedding",
    "lm_head",
    "attention",
    "mlp_dense",
    "mlp_routed_experts",
    "mlp_shared_experts",
    "router",
    "norms",
    "other",
)
FLOP_CATEGORIES = (
    "attn_proj",
    "attn_core",
    "mlp_dense",
    "mlp_routed_experts",
    "mlp_shared_experts",
    "router",
    "lm_head",
    "other",
)
# Module roles: the FLOP category and the parameter category of a module's *own* work/tensors.
ROLES = {
    "embedding": ("other", "embedding"),  # a gather, no matmul
    "lm_head": ("lm_head", "lm_head"),
    "attention": ("attn_core", "attention"),  # QK^T and PV run in the attention module itself
    "attention_proj": ("attn_proj", "attention"),  # q/k/v/o and MLA projections (nn.Linear)
    # the rest of an attention module's subtree (measure_next.py: the DSA indexer, DeepSeek-V4's
    # compressors and indexer, rotary modules)
    "attention_aux": ("other", "attention"),
    "mlp_dense": ("mlp_dense", "mlp_dense"),
    "moe_block": ("other", "other"),  # the MoE container: its children do the work
    "routed_experts": ("mlp_routed_experts", "mlp_routed_experts"),
    "shared_experts": ("mlp_shared_experts", "mlp_shared_experts"),
    "router": ("router", "router"),
    "norm": ("other", "norms"),
    "other": ("other", "other"),
}

# Attribute names of the decoder-layer parts, as written in the modeling_<model_type>.py files.
ATTENTION_ATTRS = {"self_attn"}
MLP_ATTRS = {"mlp", "feed_forward"}  # dense MLP, or MoE block when it has an `experts` child
ROUTER_ATTRS = {"gate", "router"}  # inside a MoE block only
SHARED_EXPERT_ATTRS = {"shared_experts", "shared_expert"}
SUPPORTED_MODEL_TYPES = {
    "llama", "llama4", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2",
    "gemma3_text", "phi3", "olmo2", "deepseek_v2", "deepseek_v3", "gpt_oss",
}  # fmt: skip
MODEL_TYPE_ALIASES = {"kimi_k2": "deepseek_v3"}  # remote code; architectures DeepseekV3ForCausalLM
DROPPED_KEYS = ("model_type", "auto_map", "quantization_config")

CACHED_DECODE, PREFILL_TOKENS = 511, 512
REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- config and model


def config_dtype(raw: dict[str, Any]) -> str:
    """The config's torch_dtype (or dtype); text_config for llama4; float16 when absent."""
    source = raw["text_config"] if raw.get("model_type") == "llama4" else raw
    return source.get("torch_dtype") or source.get("dtype") or "float16"


def hf_text_config(raw: dict[str, Any]) -> tuple[str, transformers.PretrainedConfig]:
    """(model_type as built, the HF config of the text decoder)."""
    model_type = raw["model_type"]
    if model_type == "llama4":
        model_type, raw = "llama4_text", raw["text_config"]  # the vision tower is not built
    model_type = MODEL_TYPE_ALIASES.get(model_type, model_type)
    if model_type not in SUPPORTED_MODEL_TYPES | {"llama4_text"}:
        supported = sorted(SUPPORTED_MODEL_TYPES | MODEL_TYPE_ALIASES.keys())
        raise SystemExit(f"unsupported model_type {raw['model_type']!r}; supported: {supported}")
    kwargs = {k: v for k, v in raw.items() if k not in DROPPED_KEYS}
    return model_type, AutoConfig.for_model(model_type, **kwargs)


def build_meta_model(
    config: transformers.PretrainedConfig, dtype: str, auto: Any = AutoModelForCausalLM
) -> nn.Module:
    """The model of `config` built by the `auto` class on the meta device (see the choices
    above: eager attention, batched experts)."""
    with torch.device("meta"):
        model = auto.from_config(
            config,
            dtype=getattr(torch, dtype),
            attn_implementation="eager",
            experts_implementation="batched_mm",
        )
    return model.eval()


# --------------------------------------------------------------------------- module roles


def module_roles(model: nn.Module) -> dict[str, str]:
    """Role of every module by qualified name (see ROLES); a child inherits its parent's role
    unless its attribute name or class says otherwise."""
    roles: dict[str, str] = {}

    def visit(name: str, module: nn.Module, parent_role: str) -> None:
        attr = name.rsplit(".", 1)[-1]
        if "Norm" in type(module).__name__:
            role = "norm"
        elif attr == "embed_tokens":
            role = "embedding"
        elif attr == "lm_head":
            role = "lm_head"
        elif attr in ATTENTION_ATTRS:
            role = "attention"
        elif parent_role == "attention" and isinstance(module, nn.Linear):
            role = "attention_proj"
        elif attr in MLP_ATTRS:
            role = "moe_block" if hasattr(module, "experts") else "mlp_dense"
        elif parent_role == "moe_block" and attr == "experts":
            role = "routed_experts"
        elif parent_role == "moe_block" and attr in SHARED_EXPERT_ATTRS:
            role = "shared_experts"
        elif parent_role == "moe_block" and attr in ROUTER_ATTRS:
            role = "router"
        elif parent_role in ("attention", "moe_block"):
            role = "other"  # anything unexpected inside these shows up in `other`
        else:
            role = parent_role
        roles[name] = role
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child, role)

    visit("", model, "other")
    return roles


def count_parameters(model: nn.Module, roles: dict[str, str]) -> dict[str, int]:
    """Distinct parameters (a tied lm_head is the embedding's tensor and is counted once, as
    embedding) by the category of the module that owns them."""
    counts = dict.fromkeys(PARAM_CATEGORIES, 0)
    for name, param in model.named_parameters():  # de-duplicates shared tensors
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        counts[ROLES[roles[owner]][1]] += param.numel()
    return {"total": sum(counts.values()), **counts}


# --------------------------------------------------------------------------- FLOPs and cache


def flops_by_category(
    counter: FlopCounterMode, model: nn.Module, roles: dict[str, str]
) -> dict[str, int]:
    """Split FlopCounterMode's per-module (inclusive) counts into each module's own FLOPs and sum
    them by the module's FLOP category."""
    root = type(model).__name__
    inclusive = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    by_category = dict.fromkeys(FLOP_CATEGORIES, 0)
    for name, role in roles.items():
        tracked = f"{root}.{name}" if name else root
        own = inclusive.get(tracked, 0)
        for child_name, _ in model.get_submodule(name).named_children():
            own -= inclusive.get(f"{tracked}.{child_name}", 0)
        by_category[ROLES[role][0]] += own
    total = counter.get_total_flops()
    if sum(by_category.values()) != total:
        raise RuntimeError(f"FLOPs outside the module tree: {total} vs {sum(by_category.values())}")
    return by_category


def kv_cache_bytes(cache: DynamicCache) -> int:
    """Bytes of the key and value tensors held in every cache layer."""
    total = 0
    for layer in cache.layers:
        for tensor in (layer.keys, layer.values):
            if tensor is not None and tensor.numel():
                total += tensor.numel() * tensor.element_size()
    return total


def run_counted(model: nn.Module, roles, tokens: int, cache: DynamicCache, logits_to_keep: int):
    input_ids = torch.zeros((1, tokens), dtype=torch.long, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(
            input_ids=input_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=logits_to_keep,
        )
    by_category = flops_by_category(counter, model, roles)
    return counter.get_total_flops(), by_category


def fill_cache(model: nn.Module, tokens: int) -> DynamicCache:
    cache = DynamicCache(config=model.config)
    input_ids = torch.zeros((1, tokens), dtype=torch.long, device="meta")
    with torch.no_grad():
        model(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return cache


# --------------------------------------------------------------------------- MoE block


def role_roots(roles: dict[str, str], role: str) -> list[str]:
    """Modules that take `role` from a parent of another role (the experts module itself, not
    its activation submodule)."""
    return [
        name
        for name, own in roles.items()
        if own == role and roles[name.rsplit(".", 1)[0] if "." in name else ""] != role
    ]


def moe_summary(
    model: nn.Module, roles: dict[str, str], config, decode_routed: int
) -> dict[str, int] | None:
    """The `moe` block: routed FLOPs at top-k (tokens x top_k x per-expert FLOPs, what real token
    dispatch costs) beside the routed FLOPs measured in the decode step (what HF executes)."""
    experts = [model.get_submodule(name) for name in role_roots(roles, "routed_experts")]
    if not experts:
        return None
    num_experts = experts[0].num_experts
    top_k = config.num_experts_per_tok
    expert_params = sum(p.numel() for module in experts for p in module.parameters())
    params_per_expert, remainder = divmod(expert_params, num_experts * len(experts))
    # matmul FLOPs of one token through one expert: 2 per weight of each 3-D (per-expert) matrix;
    # the 2-D tensors are per-expert biases (gpt-oss), which are adds, not matmul FLOPs.
    weights = sum(p.numel() for p in experts[0].parameters() if p.dim() == 3)
    flops_per_token_expert = 2 * weights // num_experts
    per_token_topk = top_k * flops_per_token_expert * len(experts)
    if remainder or decode_routed % (flops_per_token_expert * len(experts)):
        raise RuntimeError("expert parameters or routed FLOPs are not a whole number of experts")
    return {
        "num_experts": num_experts,
        "top_k": top_k,
        "num_moe_layers": len(experts),
        "params_per_expert": params_per_expert,
        "decode_routed_flops_topk": per_token_topk,  # one decode token
        "decode_routed_flops_as_hf_executes": decode_routed,
        "prefill_routed_flops_topk": PREFILL_TOKENS * per_token_topk,
    }


# --------------------------------------------------------------------------- one config


def config_label(path: Path) -> str:
    """The config path as recorded in the `config` field: relative to the repository root."""
    path = path.resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def measure(config_path: Path) -> dict[str, Any]:
    raw = json.loads(config_path.read_text())
    dtype = config_dtype(raw)
    built_type, config = hf_text_config(raw)
    model = build_meta_model(config, dtype)
    roles = module_roles(model)
    params = count_parameters(model, roles)
    dtype_bytes = torch.empty((), dtype=getattr(torch, dtype)).element_size()

    cache = fill_cache(model, CACHED_DECODE)
    decode_total, decode_cat = run_counted(model, roles, 1, cache, logits_to_keep=1)
    kv_decode = kv_cache_bytes(cache)

    cache = DynamicCache(config=model.config)
    prefill_all, prefill_cat = run_counted(model, roles, PREFILL_TOKENS, cache, logits_to_keep=0)
    kv_prefill = kv_cache_bytes(cache)
    prefill_last, _ = run_counted(
        model, roles, PREFILL_TOKENS, DynamicCache(config=model.config), logits_to_keep=1
    )
    if kv_decode != kv_prefill:
        raise RuntimeError(f"KV bytes differ: decode {kv_decode}, prefill {kv_prefill}")

    entry: dict[str, Any] = {
        "config": config_label(config_path),
        "model_type": raw["model_type"],
        "dtype": dtype,
        "dtype_bytes": dtype_bytes,
        "parameters": params,
        "weight_bytes": params["total"] * dtype_bytes,
        "kv_cache_bytes_512_tokens": kv_decode,
        "decode_511_cached_1_input": {
            "matmul_flops_total": decode_total,
            "by_category": decode_cat,
        },
        "prefill_0_cached_512_input": {
            "matmul_flops_total_logits_all_positions": prefill_all,
            "matmul_flops_total_logits_last_token": prefill_last,
            "by_category_logits_all_positions": prefill_cat,
        },
    }
    moe = moe_summary(model, roles, config, decode_cat["mlp_routed_experts"])
    if moe is not None:
        entry["moe"] = moe
    if raw["model_type"] in MODEL_TYPE_ALIASES:
        print(f"  note: model_type {raw['model_type']!r} built as {built_type!r}", file=sys.stderr)
    return entry


# --------------------------------------------------------------------------- command line


def compare(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every leaf where the two JSON values differ, as 'path: expected != actual'. The `config`
    fields are compared by file name (the reference records its own directory layout)."""
    if path == ".config":
        expected, actual = Path(expected).name, Path(actual).name
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs = []
        for key in sorted(expected.keys() | actual.keys()):
            if key not in actual or key not in expected:
                missing = "<missing>"
                diffs.append(
                    f"{path}.{key}: {expected.get(key, missing)} != {actual.get(key, missing)}"
                )
            else:
                diffs.extend(compare(expected[key], actual[key], f"{path}.{key}"))
        return diffs
    return [] if expected == actual else [f"{path}: {expected} != {actual}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "configs", nargs="*", type=Path, help="config.json files (keys: file stems)"
    )
    parser.add_argument("--out", type=Path, help="write the measured entries here (JSON)")
    parser.add_argument(
        "--check", type=Path, help="re-measure every entry of this reference JSON and diff"
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=REPO_ROOT / "core" / "catalog",
        help="where --check finds the config of each entry (default: core/catalog)",
    )
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "_about": (
            "Measured by tools/measure_reference.py on HuggingFace's model classes "
            f"(transformers {transformers.__version__}, torch {torch.__version__}; full depth, "
            "meta device, eager attention); conventions as in README.md. Validated: the same "
            "tool reproduces every field of all 20 entries of expected.json exactly (--check). "
            "kimi_k2 (remote code) is built as deepseek_v3; quantization_config is ignored."
        )
    }
    failures = 0
    if args.check:
        reference = json.loads(args.check.read_text())
        for stem, expected in reference.items():
            if stem.startswith("_"):
                continue
            started = time.time()
            actual = measure(args.catalog / f"{stem}.json")
            diffs = compare(expected, actual)
            failures += bool(diffs)
            status = "OK" if not diffs else f"{len(diffs)} DIFFERENCES"
            print(f"{stem}: {status} ({time.time() - started:.0f} s)", flush=True)
            for line in diffs:
                print(f"    {line}")
            results[stem] = actual
    for path in args.configs:
        started = time.time()
        results[path.stem] = measure(path)
        total = results[path.stem]["parameters"]["total"]
        print(f"{path.stem}: {total:,} parameters ({time.time() - started:.0f} s)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
