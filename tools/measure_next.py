"""Measure reference figures of 2026 architectures on HuggingFace's own classes (developer tool).

The method is the one of `tools/measure_reference.py` (full-depth model on the meta device, eager
attention, `experts_implementation="batched_mm"`, quantization_config dropped, torch's
FlopCounterMode, decode = an uncounted 511-token forward then one counted token), extended to:

- multimodal checkpoints (Qwen3-VL, Qwen3.5/3.6, Gemma 4, Kimi-K2.5, Llama 4): the top-level
  ConditionalGeneration class is built; the text decoder is its language model plus lm_head, run
  text-only; the vision tower + projector is measured on its own (`--vision`);
- new mixers and attention kinds: Gated DeltaNet, Mamba-2, the DSA lightning indexer, DeepSeek-V4's
  CSA/HCA compressors and indexer, hyper-connections. Their parameters and FLOPs are also broken
  down by module class and by op (mm / bmm / convolution);
- every tensor the HF cache object holds (not just keys and values), per layer kind, at 512 tokens
  and optionally at more (`--long 4096`).

It needs torch and transformers, which the project does not depend on; use a scratch virtualenv:

    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 transformers==5.24.0 pillow
    /tmp/ref/bin/python tools/measure_next.py ../shared/reference/configs-next/*.json \
        --long 4096 --vision --out measured-next.json
    # compare with the team's figures:
    /tmp/ref/bin/python tools/measure_next.py --check ../shared/reference/expected-next.json \
        --configs-dir ../shared/reference/configs-next
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
import transformers
from measure_reference import (  # the method's shared pieces (run from tools/, beside it)
    CACHED_DECODE,
    FLOP_CATEGORIES,
    PREFILL_TOKENS,
    ROLES,
    build_meta_model,
    count_parameters,
    role_roots,
)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    DynamicCache,
)

transformers.logging.set_verbosity_error()

DROPPED_KEYS = ("auto_map", "quantization_config")

MLP_ATTRS = {"mlp", "feed_forward", "block_sparse_moe"}
SHARED_EXPERT_ATTRS = {"shared_experts", "shared_expert", "shared_expert_gate", "shared_mlp"}
# Module classes whose work is reported on its own ("other_by_module_class"). Matched by suffix.
SPECIAL_CLASS_SUFFIXES = (
    "GatedDeltaNet",
    "Mamba2Mixer",
    "Indexer",  # DeepseekV32Indexer, GlmMoeDsaIndexer, DeepseekV4Indexer
    "CSACompressor",
    "HCACompressor",
    "HyperConnection",
    "HyperHead",
)


# --------------------------------------------------------------------------- config and models


def load_raw(path: Path) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    raw = {k: v for k, v in raw.items() if k not in DROPPED_KEYS}
    for sub in ("text_config", "vision_config"):
        if isinstance(raw.get(sub), dict):
            raw[sub] = {k: v for k, v in raw[sub].items() if k not in DROPPED_KEYS}
    return raw


def config_dtype(raw: dict[str, Any]) -> str:
    """torch_dtype / dtype of the text config, else of the top level; float16 if none."""
    for source in (raw.get("text_config") or {}, raw):
        value = source.get("torch_dtype") or source.get("dtype")
        if value:
            return value
    return "float16"


def hf_config(raw: dict[str, Any]) -> transformers.PretrainedConfig:
    kwargs = dict(raw)
    model_type = kwargs.pop("model_type")
    if model_type == "kimi_k2":
        model_type = "deepseek_v3"  # remote code, architectures DeepseekV3ForCausalLM
    return AutoConfig.for_model(model_type, **kwargs)


def _call_kwargs(fn, cache) -> dict[str, Any]:
    names = inspect.signature(fn).parameters
    return {"cache": cache} if "cache" in names else {"past_key_values": cache}


class TextDecoderLM(nn.Module):
    """The language model of a multimodal checkpoint plus its lm_head, run on text only."""

    def __init__(self, language_model: nn.Module, lm_head: nn.Module, config) -> None:
        super().__init__()
        self.model = language_model
        self.lm_head = lm_head
        self.config = config

    def forward(self, input_ids, cache=None, use_cache=True, logits_to_keep=0):
        out = self.model(
            input_ids=input_ids, use_cache=use_cache, **_call_kwargs(self.model.forward, cache)
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:, :]
        return self.lm_head(hidden)


def language_model_of(top: nn.Module) -> nn.Module:
    base = top.model
    for attr in ("language_model", "text_model"):
        if hasattr(base, attr):
            return getattr(base, attr)
    raise RuntimeError(f"no language model in {type(top).__name__}")


class Built:
    """The models of one config: the checkpoint's top-level class and its text decoder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw = load_raw(path)
        self.model_type = self.raw["model_type"]
        self.dtype = config_dtype(self.raw)
        self.config = hf_config(self.raw)
        self.multimodal = "vision_config" in self.raw and self.raw["vision_config"] is not None
        auto = AutoModelForImageTextToText if self.multimodal else AutoModelForCausalLM
        self.top = build_meta_model(self.config, self.dtype, auto)
        if self.multimodal and hasattr(self.top, "language_model"):  # Llama 4: a ForCausalLM inside
            self.text = self.top.language_model
        elif self.multimodal:
            text_config = self.config.get_text_config(decoder=True)
            self.text = TextDecoderLM(language_model_of(self.top), self.top.lm_head, text_config)
        else:
            self.text = self.top
        self.text_config = self.config.get_text_config(decoder=True)


# --------------------------------------------------------------------------- module roles


def _is_norm(module: nn.Module) -> bool:
    return "Norm" in type(module).__name__


def _is_attention(attr: str, module: nn.Module, refined: bool) -> bool:
    if attr in ("self_attn", "attention"):
        return True
    name = type(module).__name__
    return refined and attr == "mixer" and name.endswith("Attention")


def module_roles(model: nn.Module, refined: bool = True) -> dict[str, str]:
    """Role of every module by qualified name (see ROLES). `refined=False` reproduces the
    conventions of expected-next.json (a Nemotron-H attention `mixer` counted as `other`)."""
    roles: dict[str, str] = {}

    def visit(name: str, module: nn.Module, parent_role: str) -> None:
        attr = name.rsplit(".", 1)[-1]
        cls = type(module).__name__
        if _is_norm(module):
            role = "norm"
        elif attr in ("embed_tokens", "embeddings") and isinstance(module, nn.Embedding):
            role = "embedding"
        elif attr == "lm_head":
            role = "lm_head"
        elif _is_attention(attr, module, refined):
            role = "attention"
        elif parent_role == "attention" and isinstance(module, nn.Linear):
            role = "attention_proj"
        elif parent_role in ("attention", "attention_aux"):
            role = "attention_aux"  # indexer / compressor subtrees, rotary modules
        elif attr in MLP_ATTRS or (attr == "mixer" and hasattr(module, "experts")):
            role = "moe_block" if hasattr(module, "experts") else "mlp_dense"
        elif attr == "mixer" and cls.endswith("MLP"):
            role = "mlp_dense"
        elif attr == "experts" and parent_role in ("moe_block", "other"):
            role = "routed_experts"  # Gemma 4: experts/router are children of the decoder layer
        elif attr in SHARED_EXPERT_ATTRS and parent_role == "moe_block":
            role = "shared_experts"
        elif attr == "router" or (attr == "gate" and parent_role == "moe_block"):
            role = "router"
        elif parent_role == "moe_block":
            role = "other"  # e.g. Nemotron's latent projections (Identity when unused)
        else:
            role = parent_role
        roles[name] = role
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child, role)

    visit("", model, "other")
    return roles


def special_class_of(model: nn.Module) -> dict[str, tuple[str, str]]:
    """For every module: (class name, qualified name) of its innermost special ancestor or
    itself (SPECIAL_CLASS_SUFFIXES), or ('', '')."""
    tags: dict[str, tuple[str, str]] = {}

    def visit(name: str, module: nn.Module, tag: tuple[str, str]) -> None:
        cls = type(module).__name__
        if any(cls.endswith(s) for s in SPECIAL_CLASS_SUFFIXES):
            tag = (cls, name)
        tags[name] = tag
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child, tag)

    visit("", model, ("", ""))
    return tags


def parameters_by_special_class(model: nn.Module, tags) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for name, param in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        if tags.get(owner, ("", ""))[0]:
            out[tags[owner][0]] += param.numel()
    return dict(out)


def _by_dtype(model: nn.Module) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in model.parameters():
        out[str(p.dtype).replace("torch.", "")] += p.numel()
    return dict(out)


def parameters_by_module_class(model: nn.Module) -> dict[str, dict[str, int]]:
    """Parameters held directly by modules of each class: {class: {"modules": n, "params": p}}."""
    out: dict[str, dict[str, int]] = {}
    for _, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if not own:
            continue
        entry = out.setdefault(type(module).__name__, {"modules": 0, "params": 0})
        entry["modules"] += 1
        entry["params"] += own
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- layer kinds


def decoder_layers(text_model: nn.Module) -> nn.ModuleList:
    for name, module in text_model.named_modules():
        if name.endswith("layers") and isinstance(module, nn.ModuleList):
            return module
    raise RuntimeError("no decoder layers")


def layer_signature(layer: nn.Module) -> tuple:
    return tuple(
        (name, tuple(p.shape), str(p.dtype).replace("torch.", ""))
        for name, p in layer.named_parameters()
    )


def layer_kinds(text_model: nn.Module, config) -> list[dict[str, Any]]:
    """Distinct decoder-layer kinds: indices, config layer type, every parameter tensor with its
    shape and dtype, and the parameters held by each module class of the layer."""
    layers = decoder_layers(text_model)
    layer_types = getattr(config, "layer_types", None) or getattr(config, "layers_block_type", None)
    kinds: dict[tuple, dict[str, Any]] = {}
    for index, layer in enumerate(layers):
        sig = layer_signature(layer)
        if sig not in kinds:
            classes = {}
            for mname, module in layer.named_modules():
                own = {n: list(p.shape) for n, p in module.named_parameters(recurse=False)}
                if own:
                    key = f"{mname or '<layer>'} ({type(module).__name__})"
                    classes[key] = {
                        "params": sum(math.prod(s) for s in own.values()),
                        "tensors": own,
                    }
            kinds[sig] = {
                "layer_indices": [],
                "layer_type": None,
                "params_per_layer": sum(math.prod(s) for _, s, _ in sig),
                "tensors": {n: {"shape": list(s), "dtype": d} for n, s, d in sig},
                "by_module": classes,
            }
        kinds[sig]["layer_indices"].append(index)
        if layer_types is not None and index < len(layer_types):
            kinds[sig].setdefault("layer_types_seen", set()).add(str(layer_types[index]))
    out = []
    for kind in kinds.values():
        kind["count"] = len(kind["layer_indices"])
        kind["layer_type"] = sorted(kind.pop("layer_types_seen", set())) or None
        kind["layer_indices"] = _ranges(kind["layer_indices"])
        out.append(kind)
    return out


def _ranges(indices: list[int]) -> str:
    parts, start = [], None
    for i, value in enumerate(indices):
        if start is None:
            start = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ",".join(parts)


# --------------------------------------------------------------------------- cache


def _tensor_items(layer) -> list[tuple[str, torch.Tensor]]:
    items = []
    for attr, value in sorted(vars(layer).items()):
        if isinstance(value, torch.Tensor):
            items.append((attr, value))
        elif isinstance(value, dict):
            for key, sub in value.items():
                if isinstance(sub, torch.Tensor):
                    items.append((f"{attr}[{key}]", sub))
    return [(n, t) for n, t in items if t.numel() or t.dim() == 0]


def cache_layers(cache) -> tuple[int, int, list[dict[str, Any]]]:
    """(bytes as expected-next.json counts them: every non-empty tensor attribute, aliases counted
    twice; bytes of distinct storages; per-kind groups)."""
    groups: dict[str, dict[str, Any]] = {}
    total = distinct_total = 0
    for index, layer in enumerate(cache.layers):
        items = _tensor_items(layer)
        nbytes = sum(t.numel() * t.element_size() for _, t in items)
        seen, distinct = set(), 0
        for _, t in items:
            # on meta there is no data pointer: aliases are one Python object (V4 keys = values)
            if id(t) not in seen:
                seen.add(id(t))
                distinct += t.numel() * t.element_size()
        holds = f"{type(layer).__name__}:" + ",".join(f"{n}{list(t.shape)}" for n, t in items)
        dtypes = {n: str(t.dtype).replace("torch.", "") for n, t in items}
        group = groups.setdefault(
            holds,
            {
                "count": 0,
                "bytes_per_layer": nbytes,
                "distinct_bytes_per_layer": distinct,
                "holds": holds,
                "dtypes": dtypes,
                "layer_indices": [],
            },
        )
        group["count"] += 1
        group["layer_indices"].append(index)
        total += nbytes
        distinct_total += distinct
    out = []
    for group in groups.values():
        group["layer_indices"] = _ranges(group["layer_indices"])
        out.append(group)
    return total, distinct_total, out


def new_cache(model: nn.Module):
    return DynamicCache(config=model.config)


# --------------------------------------------------------------------------- FLOPs


def own_flops(counter: FlopCounterMode, model: nn.Module) -> dict[str, dict[str, int]]:
    """Per module (qualified name): its own FLOPs by op (inclusive minus children)."""
    root = type(model).__name__
    counts = counter.get_flop_counts()
    inclusive: dict[str, dict[str, int]] = {}
    for name, ops in counts.items():
        per_op = inclusive.setdefault(name, {})
        for op, n in ops.items():
            parts = str(op).split(".")
            key = parts[1] if len(parts) > 1 else parts[0]
            per_op[key] = per_op.get(key, 0) + n

    def called_children(tracked: str, module: nn.Module):
        # a container that is never called (nn.ModuleList) has no entry: look through it
        for child_name, child in module.named_children():
            key = f"{tracked}.{child_name}"
            if key in inclusive:
                yield key
            else:
                yield from called_children(key, child)

    out: dict[str, dict[str, int]] = {}
    for name, module in model.named_modules():
        tracked = f"{root}.{name}" if name else root
        if tracked not in inclusive:
            continue
        own = dict(inclusive[tracked])
        for key in called_children(tracked, module):
            for op, n in inclusive[key].items():
                own[op] = own.get(op, 0) - n
        own = {op: n for op, n in own.items() if n}
        if any(n < 0 for n in own.values()):
            raise RuntimeError(f"negative own FLOPs in {tracked}: {own}")
        if own:
            out[name] = own
    return out


def flop_breakdown(counter, model, roles, tags) -> dict[str, Any]:
    own = own_flops(counter, model)
    by_category = dict.fromkeys(FLOP_CATEGORIES, 0)
    by_special: dict[str, dict[str, int]] = {}
    by_op: dict[str, int] = defaultdict(int)
    for name, ops in own.items():
        total = sum(ops.values())
        by_category[ROLES[roles[name]][0]] += total
        for op, n in ops.items():
            by_op[op] += n
        cls, anchor = tags.get(name, ("", ""))
        category = ROLES[roles[name]][0]
        if not cls and category == "other":
            cls, anchor = f"{type(model.get_submodule(name)).__name__} (own ops)", name
        if cls:
            entry = by_special.setdefault(cls, {"total": 0})
            relative = name[len(anchor) + 1 :] if name != anchor else "<module itself>"
            relative = re.sub(r"\.(\d+)\.", ".*.", relative)
            for op, n in ops.items():
                key = f"{relative} [{op}]"
                entry[key] = entry.get(key, 0) + n
            entry["total"] += total
    grand = counter.get_total_flops()
    if sum(by_category.values()) != grand:
        raise RuntimeError(f"FLOPs outside the module tree: {grand} vs {sum(by_category.values())}")
    return {"by_category": by_category, "other_by_module_class": by_special, "by_op": dict(by_op)}


def forward(model: nn.Module, tokens: int, cache, logits_to_keep: int) -> None:
    input_ids = torch.zeros((1, tokens), dtype=torch.long, device="meta")
    with torch.no_grad():
        model(
            input_ids=input_ids,
            use_cache=True,
            logits_to_keep=logits_to_keep,
            **_call_kwargs(model.forward, cache),
        )


def counted(model, tokens, cache, logits_to_keep, roles, tags) -> tuple[int, dict[str, Any]]:
    with FlopCounterMode(display=False) as counter:
        forward(model, tokens, cache, logits_to_keep)
    return counter.get_total_flops(), flop_breakdown(counter, model, roles, tags)


def fill_cache(model: nn.Module, tokens: int):
    cache = new_cache(model)
    forward(model, tokens, cache, 1)
    return cache


# --------------------------------------------------------------------------- MoE summary


def moe_summary(model, roles, config, decode_routed: int) -> dict[str, int] | None:
    experts = [model.get_submodule(name) for name in role_roots(roles, "routed_experts")]
    if not experts:
        return None
    num_experts = experts[0].num_experts
    top_k = getattr(config, "num_experts_per_tok", None) or getattr(config, "top_k_experts", None)
    expert_params = sum(p.numel() for module in experts for p in module.parameters())
    params_per_expert, remainder = divmod(expert_params, num_experts * len(experts))
    weights = sum(p.numel() for p in experts[0].parameters() if p.dim() == 3)
    per_token_expert = 2 * weights // num_experts
    per_token_topk = top_k * per_token_expert * len(experts)
    return {
        "num_experts": num_experts,
        "top_k": top_k,
        "num_moe_layers": len(experts),
        "params_per_expert": params_per_expert,
        "params_per_expert_remainder": remainder,
        "decode_routed_flops_topk": per_token_topk,
        "decode_routed_flops_as_hf_executes": decode_routed,
        "prefill_routed_flops_topk": PREFILL_TOKENS * per_token_topk,
    }


# --------------------------------------------------------------------------- one config


def measure_text(built: Built, long_tokens: list[int]) -> dict[str, Any]:
    model = built.text
    roles = module_roles(model)
    roles_expected = module_roles(model, refined=False)
    tags = special_class_of(model)
    dtype_bytes = torch.empty((), dtype=getattr(torch, built.dtype)).element_size()
    params = count_parameters(model, roles)
    params_expected = count_parameters(model, roles_expected)
    top_params = sum(p.numel() for p in built.top.parameters())

    entry: dict[str, Any] = {
        "config": built.path.name,
        "model_type": built.model_type,
        "hf_top_class": type(built.top).__name__,
        "hf_text_class": (
            type(model.model).__name__ if isinstance(model, TextDecoderLM) else type(model).__name__
        ),
        "dtype": built.dtype,
        "dtype_bytes": dtype_bytes,
        "parameters_text_decoder": params["total"],
        "parameters_with_vision_audio": top_params,
        "parameters_by_category": {k: v for k, v in params_expected.items() if k != "total"},
        "parameters_by_category_refined": {k: v for k, v in params.items() if k != "total"},
        "parameters_by_special_class": parameters_by_special_class(model, tags),
        "parameters_by_module_class": parameters_by_module_class(model),
        "weight_bytes_at_config_dtype": params["total"] * dtype_bytes,
        # HF keeps some tensors in float32 whatever the config dtype (_keep_in_fp32_modules*)
        "weight_bytes_as_hf_builds": sum(p.numel() * p.element_size() for p in model.parameters()),
        "parameters_by_dtype_as_hf_builds": _by_dtype(model),
        "layer_kinds": layer_kinds(model, built.text_config),
    }

    t0 = time.time()
    cache = fill_cache(model, CACHED_DECODE)
    decode_total, decode = counted(model, 1, cache, 1, roles, tags)
    cache_total, cache_distinct, groups = cache_layers(cache)
    entry["cache_bytes_512_tokens"] = cache_total
    entry["cache_distinct_bytes_512_tokens"] = cache_distinct
    entry["cache_layers"] = groups
    entry["decode_511_cached_1_input"] = {"matmul_flops_total": decode_total, **decode}

    cache = new_cache(model)
    prefill_all, prefill = counted(model, PREFILL_TOKENS, cache, 0, roles, tags)
    prefill_cache_total, _, prefill_groups = cache_layers(cache)
    prefill_last, _ = counted(model, PREFILL_TOKENS, new_cache(model), 1, roles, tags)
    entry["prefill_0_cached_512_input"] = {
        "matmul_flops_total_logits_all_positions": prefill_all,
        "matmul_flops_total_logits_last_token": prefill_last,
        "by_category_logits_all_positions": prefill["by_category"],
        "other_by_module_class": prefill["other_by_module_class"],
        "by_op_logits_all_positions": prefill["by_op"],
    }
    if prefill_cache_total != cache_total:
        entry["cache_bytes_512_tokens_after_prefill"] = prefill_cache_total
        entry["cache_layers_after_prefill"] = prefill_groups
    moe = moe_summary(model, roles, built.text_config, decode["by_category"]["mlp_routed_experts"])
    if moe:
        entry["moe"] = moe
    for tokens in long_tokens:
        # cache after one query reaches `tokens` (an uncounted tokens-1 forward, then one counted
        # decode step, whose FLOPs are reported too)
        cache = fill_cache(model, tokens - 1)
        long_total, long_decode = counted(model, 1, cache, 1, roles, tags)
        total, distinct, groups = cache_layers(cache)
        entry[f"cache_bytes_{tokens}_tokens"] = total
        entry[f"cache_distinct_bytes_{tokens}_tokens"] = distinct
        entry[f"cache_layers_{tokens}_tokens"] = groups
        entry[f"decode_{tokens - 1}_cached_1_input"] = {
            "matmul_flops_total": long_total,
            **long_decode,
        }
    entry["_seconds"] = round(time.time() - t0, 1)
    return entry


# --------------------------------------------------------------------------- vision towers

IMAGE_SIZES = ((224, 224), (448, 448), (896, 896), (1024, 768), (1920, 1080))  # (width, height)
# More sizes whose image tokens are recorded: tiny, odd, extreme aspect ratios, past every cap.
EXTRA_IMAGE_SIZES = (
    (1, 1),
    (17, 23),
    (640, 480),
    (1280, 720),
    (333, 777),
    (100, 3000),
    (3000, 100),
    (5000, 30),
    (239, 239),
    (240, 240),
    (1805, 1805),
    (1806, 1806),
    (2048, 2048),
    (4032, 3024),
    (6000, 4000),
)
# Sizes (besides the native one) whose vision FLOPs are measured.
FLOP_SIZES = ((448, 448), (1024, 768))
# Qwen3-VL / Qwen3.5 checkpoints ship preprocessor_config.json with these pixel bounds (not the
# Qwen2-VL class defaults 56*56 .. 28*28*1280); the Hub cannot be reached from here.
QWEN_MIN_PIXELS, QWEN_MAX_PIXELS = 65536, 16777216


def _hf_functions(module_name: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Pure helper functions of an HF image processor whose module imports torchvision (not
    installable beside this CPU torch build): exec only those function definitions from its source.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    source = Path(spec.origin).read_text()
    tree = ast.parse(source)
    body = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    namespace: dict[str, Any] = {
        "torch": torch,
        "math": math,
        "lru_cache": __import__("functools").lru_cache,
        "defaultdict": defaultdict,
        "SizeDict": transformers.image_utils.SizeDict,
    }
    exec(compile(ast.Module(body=body, type_ignores=[]), spec.origin, "exec"), namespace)
    return {name: namespace[name] for name in names}


def vision_family(model_type: str) -> str:
    if model_type.startswith("qwen3"):
        return "qwen"
    if model_type.startswith("gemma4"):
        return "gemma4"
    if model_type == "kimi_k25":
        return "kimi"
    if model_type == "llama4":
        return "llama4"
    raise SystemExit(f"no vision support for {model_type}")


def vision_parts(built: Built) -> dict[str, nn.Module]:
    """The modules of the vision path (encoder and projector), by their name in the top model."""
    top = built.top
    base = top.model if hasattr(top, "model") and not hasattr(top, "vision_model") else top
    parts = {}
    for name in (
        "visual",
        "vision_tower",
        "vision_model",
        "embed_vision",
        "mm_projector",
        "multi_modal_projector",
    ):
        if hasattr(base, name):
            prefix = "model." if base is not top else ""
            parts[prefix + name] = getattr(base, name)
    return parts


def _group_name(param_name: str) -> str:
    import re

    return re.sub(r"\.(\d+)\.", ".*.", param_name)


def vision_parameters(built: Built) -> dict[str, Any]:
    text_ids = {id(p) for p in built.text.parameters()}
    top_params = dict(built.top.named_parameters())
    outside = {n: p for n, p in top_params.items() if id(p) not in text_ids}
    total = sum(p.numel() for p in outside.values())
    parts = vision_parts(built)
    by_part: dict[str, int] = {}
    for prefix, module in parts.items():
        for child, sub in module.named_children():
            n = sum(p.numel() for p in sub.parameters())
            if n:
                by_part[f"{prefix}.{child}"] = n
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            by_part[f"{prefix} (own)"] = own
    grouped: dict[str, dict[str, Any]] = {}
    for name, p in outside.items():
        g = grouped.setdefault(
            _group_name(name), {"shape": list(p.shape), "dtype": str(p.dtype)[6:], "copies": 0}
        )
        g["copies"] += 1
    blocks = {}
    for prefix, module in parts.items():
        for mname, sub in module.named_modules():
            if (
                isinstance(sub, nn.ModuleList)
                and len(sub)
                and mname.split(".")[-1] in ("blocks", "layers")
            ):
                first = sub[0]
                blocks[f"{prefix}.{mname}"] = {
                    "count": len(sub),
                    "class": type(first).__name__,
                    "params_per_block": sum(p.numel() for p in first.parameters()),
                    "all_blocks_identical": len({layer_signature(b) for b in sub}) == 1,
                    "tensors": {n: list(p.shape) for n, p in first.named_parameters()},
                }
    return {
        "parameters_vision_and_projector": total,
        "check_top_minus_text": sum(p.numel() for p in built.top.parameters())
        - sum(p.numel() for p in built.text.parameters()),
        "by_part": by_part,
        "blocks": blocks,
        "tensors_outside_blocks": {
            n: g
            for n, g in grouped.items()
            if ".*." not in n or not any(n.startswith(b + ".") for b in blocks)
        },
    }


def _image(width: int, height: int):
    from PIL import Image

    return Image.new("RGB", (width, height), (128, 128, 128))


def image_geometry(built: Built, width: int, height: int) -> dict[str, Any]:
    """How HF's image processor resizes one image and what the vision tower is fed."""
    family = vision_family(built.model_type)
    vc = built.config.vision_config
    if family == "qwen":
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        proc = Qwen2VLImageProcessorPil(
            patch_size=vc.patch_size,
            temporal_patch_size=vc.temporal_patch_size,
            merge_size=vc.spatial_merge_size,
            size={"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS},
        )
        out = proc(images=[_image(width, height)], return_tensors="pt")
        t, gh, gw = out["image_grid_thw"][0].tolist()
        return {
            "resized_hw": [gh * vc.patch_size, gw * vc.patch_size],
            "grid_thw": [t, gh, gw],
            "patches": t * gh * gw,
            "pixel_values_shape": list(out["pixel_values"].shape),
            "image_tokens": t * gh * gw // vc.spatial_merge_size**2,
        }
    if family == "gemma4":
        from transformers.models.gemma4.image_processing_pil_gemma4 import Gemma4ImageProcessorPil

        soft = getattr(built.config, "vision_soft_tokens_per_image", None) or 280
        proc = Gemma4ImageProcessorPil(
            patch_size=vc.patch_size,
            max_soft_tokens=soft,
            pooling_kernel_size=vc.pooling_kernel_size,
        )
        out = proc(images=[_image(width, height)], return_tensors="pt")
        positions = out["image_position_ids"][0]
        valid = int((positions != -1).all(-1).sum())
        xs, ys = positions[:valid, 0], positions[:valid, 1]
        return {
            "resized_hw": [int(ys.max() + 1) * vc.patch_size, int(xs.max() + 1) * vc.patch_size],
            "patches": valid,
            "padded_patches_fed_to_encoder": int(positions.shape[0]),
            "pixel_values_shape": list(out["pixel_values"].shape),
            "image_tokens": int(out["num_soft_tokens_per_image"][0]),
            "_positions": positions,
        }
    if family == "kimi":
        fns = _hf_functions(
            "transformers.models.kimi_k25.image_processing_kimi_k25", ("navit_resize",)
        )
        patch, merge = vc.patch_size, vc.merge_kernel_size[0]
        (rh, rw), (ph, pw) = fns["navit_resize"](height, width, patch, merge, 16384, 512)
        gh, gw = ph // patch, pw // patch
        return {
            "resized_hw": [rh, rw],
            "padded_hw": [ph, pw],
            "grid_thw": [1, gh, gw],
            "patches": gh * gw,
            "pixel_values_shape": [gh * gw, 3, patch, patch],
            "image_tokens": gh * gw // (vc.merge_kernel_size[0] * vc.merge_kernel_size[1]),
        }
    if family == "llama4":
        fns = _hf_functions(
            "transformers.models.llama4.image_processing_llama4",
            (
                "get_factors",
                "get_max_res_without_distortion",
                "find_supported_resolutions",
                "get_best_fit",
            ),
        )
        tile = vc.image_size
        size = transformers.image_utils.SizeDict(height=tile, width=tile)
        possible = torch.tensor(
            fns["find_supported_resolutions"](max_num_chunks=16, patch_size=size)
        )
        target = fns["get_best_fit"]((height, width), possible, resize_to_max_canvas=False)
        target = [int(v) for v in target]
        new_h = min(max(height, tile), target[0])
        new_w = min(max(width, tile), target[1])
        resized = fns["get_max_res_without_distortion"]((height, width), (new_h, new_w))
        ratio_h, ratio_w = target[0] // tile, target[1] // tile
        tiles = ratio_h * ratio_w + (1 if ratio_h * ratio_w > 1 else 0)
        ratio = built.config.vision_config.pixel_shuffle_ratio
        per_tile = int((tile // vc.patch_size) ** 2 * ratio**2)
        return {
            "canvas_hw": target,
            "resized_hw": [int(resized[0]), int(resized[1])],
            "tiles": tiles,
            "tile_grid": [ratio_h, ratio_w],
            "pixel_values_shape": [tiles, 3, tile, tile],
            "image_tokens_per_tile": per_tile,
            "image_tokens": tiles * per_tile,
        }
    raise AssertionError(family)


def _vision_role(name: str, module: nn.Module, parent: str) -> str:
    attr = name.rsplit(".", 1)[-1]
    cls = type(module).__name__
    if parent in ("projector", "deepstack_merger", "patch_embed"):
        return parent
    if attr in ("patch_embed", "patch_embedder", "patch_embedding"):
        return "patch_embed"
    if attr == "deepstack_merger_list":
        return "deepstack_merger"
    if attr in (
        "merger",
        "mm_projector",
        "embed_vision",
        "multi_modal_projector",
        "vision_adapter",
    ):
        return "projector"
    if "Attention" in cls and "Pool" not in cls:
        return "attn_core"
    if parent == "attn_core":
        return (
            "attn_proj"
            if isinstance(module, nn.Linear) or hasattr(module, "linear")
            else "attn_core"
        )
    if attr in ("mlp", "feed_forward") or "MLP" in cls:
        return "mlp"
    if parent == "mlp":
        return "mlp"
    if "Norm" in cls:
        return "norm"
    if "Pooler" in cls:
        return "pooler"
    return parent


def vision_flop_breakdown(
    counter: FlopCounterMode, root: nn.Module, root_name: str
) -> dict[str, Any]:
    roles: dict[str, str] = {}

    def visit(name, module, parent):
        role = _vision_role(name, module, parent) if name else "other"
        roles[name] = role
        for child, sub in module.named_children():
            visit(f"{name}.{child}" if name else child, sub, role)

    visit("", root, "other")
    own = own_flops(counter, root)
    by_part: dict[str, int] = defaultdict(int)
    for name, ops in own.items():
        by_part[roles.get(name, "other")] += sum(ops.values())
    total = counter.get_total_flops()
    if sum(by_part.values()) != total:
        raise RuntimeError(
            f"vision FLOPs outside the module tree: {total} vs {sum(by_part.values())}"
        )
    return {"matmul_flops_total": total, "by_part": dict(by_part)}


class _VisionPath(nn.Module):
    """Root module holding the vision parts so FlopCounterMode attributes FLOPs by module."""

    def __init__(self, parts: dict[str, nn.Module], runner) -> None:
        super().__init__()
        for name, module in parts.items():
            self.add_module(name.replace("model.", ""), module)
        self.runner = runner

    def forward(self):
        return self.runner(self)


def _meta(t: torch.Tensor) -> torch.Tensor:
    return t.to("meta")


def vision_flops(built: Built, width: int, height: int) -> dict[str, Any]:
    from transformers import vision_utils as vu

    family = vision_family(built.model_type)
    vc = built.config.vision_config
    geometry = image_geometry(built, width, height)
    parts = vision_parts(built)
    dtype = getattr(torch, built.dtype)
    notes = []

    if family == "qwen":

        def run(path):
            visual = path.visual
            grid = torch.tensor([geometry["grid_thw"]])
            idx, w = vu.get_vision_interpolation_indices_and_weights(
                grid,
                num_grid_per_side=visual.num_grid_per_side,
                mode=visual.interpolation_mode,
                align_corners=visual.interpolation_align_corners,
                spatial_merge_size=vc.spatial_merge_size,
            )
            pos = vu.get_vision_position_ids(grid, vc.spatial_merge_size)
            cu = vu.get_vision_cu_seqlens(grid)
            pixels = torch.zeros(geometry["pixel_values_shape"], dtype=dtype, device="meta")
            return visual(
                pixels,
                grid_thw=grid,
                interp_indices=_meta(idx),
                interp_weights=_meta(w),
                position_ids=_meta(pos),
                cu_seqlens=cu,
                max_seqlen=int((cu[1:] - cu[:-1]).max()),
            )

        notes.append(
            "grid_thw-derived index tensors computed on CPU by HF's vision_utils helpers, passed "
            "precomputed (meta); cu_seqlens kept on CPU (eager attention splits by its values)"
        )
    elif family == "kimi":
        from transformers.models.kimi_k25 import modeling_kimi_k25 as mk

        def run(path):
            vt = path.vision_tower
            grid = torch.tensor([geometry["grid_thw"]])
            idx, w = vu.get_vision_interpolation_indices_and_weights(
                grid, vt.patch_embed.pos_emb.num_grid_per_side, mode="bicubic", align_corners=False
            )
            frame = mk.get_vision_frame_index(grid)
            pos = vu.get_vision_position_ids(grid, spatial_merge_size=1)
            cu = vu.get_vision_cu_seqlens(grid, merge_temporal=True)
            dest, fw, n_merged = mk.get_vision_temporal_merge_index(grid, *vt.merge_kernel_size)
            pixels = torch.zeros(geometry["pixel_values_shape"], dtype=dtype, device="meta")
            out = vt(
                pixels,
                grid_thw=grid,
                interp_indices=_meta(idx),
                interp_weights=_meta(w),
                frame_index=_meta(frame),
                position_ids=_meta(pos),
                cu_seqlens=cu,
                max_seqlen=int((cu[1:] - cu[:-1]).max()),
                temporal_merge_index=(_meta(dest), _meta(fw), n_merged),
            )
            return path.mm_projector(out.pooler_output)

        notes.append(
            "grid_thw-derived tensors precomputed on CPU with HF's helpers, passed as meta"
        )
    elif family == "gemma4":

        def run(path):
            vt = path.vision_tower
            positions = _meta(geometry["_positions"][None])
            pixels = torch.zeros(
                [1, *geometry["pixel_values_shape"][1:]], dtype=dtype, device="meta"
            )
            padding = (positions == -1).all(dim=-1)
            embeds = vt.patch_embedder(pixels, positions, padding)
            # HF builds a padding mask from `~padding` with `create_bidirectional_mask`, which calls
            # `.all()` (no meta kernel). The mask only adds -inf to scores, same matmuls:
            # run with no mask.
            namespace = inspect.unwrap(type(vt.encoder).forward).__globals__
            saved = namespace["create_bidirectional_mask"]
            namespace["create_bidirectional_mask"] = lambda **kwargs: None
            try:
                out = vt.encoder(
                    inputs_embeds=embeds, attention_mask=~padding, pixel_position_ids=positions
                )
            finally:
                namespace["create_bidirectional_mask"] = saved
            output_length = pixels.shape[-2] // vc.pooling_kernel_size**2
            hidden, _ = vt.pooler(out.last_hidden_state, positions, padding, output_length)
            hidden = hidden[0, : geometry["image_tokens"]].to(dtype)  # HF: hidden[pooler_mask]
            return path.embed_vision(inputs_embeds=hidden)

        notes.append(
            "Gemma4VisionModel.forward replayed module by module: the encoder runs without its "
            "padding mask (building it calls `.all()` on data; masking does not change matmul "
            "FLOPs) and the final `hidden[pooler_mask]` (boolean indexing) is replaced by a slice "
            "to the valid soft tokens"
        )
    elif family == "llama4":

        def run(path):
            pixels = torch.zeros(geometry["pixel_values_shape"], dtype=dtype, device="meta")
            out = path.vision_model(pixels)
            flat = out.last_hidden_state.reshape(-1, out.last_hidden_state.shape[-1])
            return path.multi_modal_projector(flat)

    root = _VisionPath(parts, run)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        root()
    result = vision_flop_breakdown(counter, root, "vision")
    result["image_wh"] = [width, height]
    result["geometry"] = {k: v for k, v in geometry.items() if not k.startswith("_")}
    if notes:
        result["notes"] = notes
    return result


NATIVE_SIZES = {"qwen": (768, 768), "gemma4": (768, 768), "kimi": (896, 896), "llama4": (336, 336)}


VISION_NOTES = {
    "qwen": (
        "Dynamic resolution. Patch embed = Conv3d(3 -> hidden, kernel=stride=(temporal_patch 2,"
        " 16, 16)) on pixel rows of 3*2*16*16 (a still image is repeated over the 2 temporal "
        "slots); learned 48x48 position table bilinearly resampled to the image grid; every "
        "block is full bidirectional attention over the image's patches (eager attention is run"
        " per image/frame from cu_seqlens; no windowed blocks); 2-D axial RoPE (head_dim/2 for "
        "rows, head_dim/2 for columns); merger: 2x2 spatial merge -> LayerNorm -> "
        "Linear(4*hidden, 4*hidden) -> GELU -> Linear(4*hidden, text hidden). Qwen3-VL only: 3 "
        "deepstack mergers (after blocks deepstack_visual_indexes) whose outputs are added to "
        "the hidden states of the first 3 text decoder layers at the image positions."
    ),
    "gemma4": (
        "Aspect-preserving resize to at most max_soft_tokens*9 = 2520 patches of 16 px, sides "
        "multiples of 48 px (small images are UPscaled); pixel_values are padded to 2520 "
        "patches and the encoder runs on all 2520 positions (padding masked). Patch embed = "
        "Linear(768 -> 1152) + learned x/y position tables (2 x 10240 x 1152); 27 full "
        "bidirectional attention layers with q/k/v RMSNorm and 2-D RoPE (half the channels "
        "rotated by x, half by y, theta 100); gated GELU MLP; 3x3 average pooling done as a "
        "one-hot matmul in float32 (counted below as `pooler`), standardize, then embed_vision "
        "= RMSNorm (no scale) + Linear(1152 -> text hidden)."
    ),
    "kimi": (
        "MoonViT, dynamic resolution, never upscales: at most 16384 patches and 512 patches per"
        " side, padded to a multiple of 28 px. Patch embed = Conv2d(3 -> 1152, 14x14); learned "
        "64x64 position grid bicubically resampled + temporal sinusoid (zero for images); 27 "
        "full bidirectional attention layers (per image) with 2-D axial RoPE; final LayerNorm; "
        "2x2 merge (temporal_merge) -> projector LayerNorm -> Linear(4608, 4608) -> GELU -> "
        "Linear(4608, 7168)."
    ),
    "llama4": (
        "Tiles of 336x336 (canvas chosen by get_best_fit over up to 16 tiles, plus one global "
        "336x336 tile when more than one tile); per tile: Unfold 14x14 + Linear(588 -> 1408), "
        "CLS token, learned 577-position embedding, 34 full bidirectional attention layers over"
        " 577 tokens with 2-D RoPE (complex freqs, CLS not rotated); drop CLS; pixel shuffle "
        "0.5 -> MLP (5632 -> 4096 -> 4096); projector Linear(4096 -> 5120): 144 tokens per "
        "tile."
    ),
}


def measure_vision(built: Built) -> dict[str, Any]:
    family = vision_family(built.model_type)
    out: dict[str, Any] = {
        "family": family,
        "architecture": VISION_NOTES[family],
        "parameters": vision_parameters(built),
    }
    out["image_tokens"] = {}
    native = NATIVE_SIZES[family]
    for w, h in (native, *IMAGE_SIZES, *EXTRA_IMAGE_SIZES):
        geometry = image_geometry(built, w, h)
        out["image_tokens"][f"{w}x{h}"] = {
            k: v for k, v in geometry.items() if not k.startswith("_")
        }
    out["flops_native"] = vision_flops(built, *native)
    for w, h in FLOP_SIZES:
        if (w, h) != native:
            out[f"flops_{w}x{h}"] = vision_flops(built, w, h)
    return out


# --------------------------------------------------------------------------- command line


def compare(expected: Any, actual: Any, path: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs = []
        for key in sorted(expected):
            if key in ("config", "published"):
                continue
            if key not in actual:
                diffs.append(f"{path}.{key}: {expected[key]} != <missing>")
            else:
                diffs.extend(compare(expected[key], actual[key], f"{path}.{key}"))
        return diffs
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)} items"]
        diffs = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diffs.extend(compare(e, a, f"{path}[{i}]"))
        return diffs
    return [] if expected == actual else [f"{path}: {expected} != {actual}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--check", type=Path, help="diff against this reference JSON (expected-next.json)"
    )
    parser.add_argument("--configs-dir", type=Path, help="where --check finds <stem>.json")
    parser.add_argument(
        "--long", type=int, nargs="*", default=[], help="also report the cache at N tokens"
    )
    parser.add_argument(
        "--vision", action="store_true", help="also measure the vision tower (see measure_vision)"
    )
    parser.add_argument("--no-text", action="store_true", help="skip the text decoder")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    if args.out and args.out.exists():
        results = json.loads(args.out.read_text())
    failures = 0
    paths = list(args.configs)
    reference = {}
    if args.check:
        reference = json.loads(args.check.read_text())
        paths += [
            args.configs_dir / f"{stem}.json" for stem in reference if not stem.startswith("_")
        ]
    for path in paths:
        started = time.time()
        built = Built(path)
        entry = results.get(path.stem, {})
        if not args.no_text:
            entry.update(measure_text(built, args.long))
        if args.vision and built.multimodal:
            entry["vision"] = measure_vision(built)
        results[path.stem] = entry
        params = entry.get("parameters_text_decoder", 0)
        line = f"{path.stem}: {params:,} text parameters ({time.time() - started:.0f} s)"
        if path.stem in reference:
            diffs = compare(reference[path.stem], entry)
            failures += bool(diffs)
            line += " OK" if not diffs else f" {len(diffs)} DIFFERENCES"
            print(line, flush=True)
            for diff in diffs:
                print("    " + diff)
        else:
            print(line, flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1, default=list) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
