"""What a checkpoint's `quantization_config` stores each weight in, and which peak multiplies it.

Which modules a method converts is HuggingFace's rule (transformers 5.24,
`transformers/quantizers/quantizer_*.py`, `integrations/*.py`, `utils/quantization_config.py`);
for `modelopt`, which transformers cannot load, vLLM's ModelOpt configs. A format's bits per
weight include its scales and zero points exactly (`scaled_format` in core/model/formats.py).

Per `quant_method`: the fields read; the weight format; what is converted before the config's
own lists; the compute peak.

- fp8 (FineGrainedFP8Config): activation_scheme, weight_block_size (absent: HF's [128, 128];
  null: one scale per tensor), scale_fmt ("float": fp32 scales; "ue8m0": 8-bit), fmt,
  expert_dtype ("fp4": experts in E2M1 with one scale per 32 inputs, DeepSeek-V4),
  modules_to_not_convert (alias ignored_layers), modules_to_convert (embeddings, per-tensor fp8),
  dequantize. float8_e4m3_block{R}x{C}[_ue8m0] = 8 + 32 (or 8) / (R*C) bits. Every nn.Linear and
  the fused experts: attn_proj, mixer, mlp_*; lm_head too when an explicit modules_to_not_convert
  replaces HF's default skip of the output embeddings. Activations are quantized to fp8 (dynamic
  or static): GEMMs at the fp8 peak, fp4 experts included (fp8 x fp4 runs at the fp8 rate).
- mxfp4: modules_to_not_convert, dequantize. mxfp4 = 4 + 8/32. The experts of gpt-oss MLPs;
  weight-only.
- compressed-tensors: format (per group for "mixed-precision"); config_groups.*.targets,
  .weights {num_bits, type, symmetric, strategy, group_size, block_structure, scale_dtype,
  zp_dtype}, .input_activations {num_bits, type}; ignore; kv_cache_scheme (noted, not applied).
  "pack-quantized" int{N}_g{G}_{scale}[_zp{N}] = N + (scale bits + N if asymmetric) / G, the
  scale in the weights' own dtype (bf16 for Kimi-K2.5); int8 / fp8 / nvfp4 / mx formats likewise.
  The targets' modules ("Linear": attn_proj, mixer, mlp_*, lm_head; names and `re:` regexes
  through the table below). With input_activations, GEMMs at the wider operand's peak.
- modelopt (vLLM's ModelOpt configs): quant_algo (NVFP4, FP8), group_size (else the
  config_groups' weights', else 16), exclude_modules / ignore (`*` globs), config_groups'
  input_activations, kv_cache_scheme / kv_cache_quant_algo (noted). nvfp4 = 4 + 8/16 (E2M1 and
  one E4M3 scale per 16; the fp32 per-tensor scale is not counted); FP8 per tensor. vLLM's
  LinearBase layers and fused experts: attn_proj, mixer, mlp_* (its LM head is never quantized).
  NVFP4 quantizes the inputs too (fp4 peak) unless every config group's input_activations is null.
- awq: bits, group_size, zero_point, modules_to_not_convert. int{N}_g{G}_fp16[_zp{N}] = N + (16 +
  N) / G. Every linear of the blocks (the LM head is HF's default skip); weight-only.
- gptq: bits, group_size, modules_in_block_to_quantize, dynamic (refused), sym and desc_act
  (checked, irrelevant). int{N}_g{G}_fp16_zp{N}: qzeros are stored even when symmetric. Every
  linear of the blocks (or those modules_in_block_to_quantize names); weight-only.

NB: routers are never converted: in transformers 5 every router of the modelled families is its
    own nn.Module (Llama 4's subclasses nn.Linear, which HF's fp8 `type(m) is nn.Linear` test
    skips; Gemma 4's holds a `router.proj` linear that HF's fp8 would convert: not modelled), and
    serving engines build routers unquantized. Embeddings are converted only by fp8's
    modules_to_convert (per-tensor fp8). Convolutions and other non-linear weights never are.
NB: per-row scales (GPTQ/AWQ group_size -1, compressed-tensors "channel") and GPTQ's g_idx (one
    int32 per input row) depend on the weight's shape; they are not counted (under 0.01 bit per
    weight for rows of 2048 and more).

How a list entry maps onto categories. `LAYER_MODULES` lists, per category, where its linear
modules sit in a decoder layer under each naming families use (one tuple per naming, every module
of the category under it); `LAYER_STEMS` and `MODEL_MODULES` place them in the model. Each name
(every layer, every stem) is tested with the method's own rule: HF's `should_convert_module`
(regex from the start up to a module boundary, or a suffix), compressed-tensors' exact names and
`re:` regexes (re.match), ModelOpt's `*` globs (whole name), GPTQ's suffixes. A category is
matched *fully* when, in every decoder layer, the entries (together) match every module of one
naming: a target then gives it the format, an ignore entry keeps it unquantized, exactly. A
partial match cannot be expressed per category (some layers: "model.layers.0.mlp"; some modules:
"q_proj"): the category keeps the format of the rest of it, and `applied` says "approximate" and
what matched. An entry that matches no name of the table (a vision tower, an MTP layer beyond the
decoder, a parameter such as e_score_correction_bias) changes nothing and `applied` names it.
NB: the layers are not told which categories each has: a list naming the attention of every
    attention layer of a hybrid (and no other layer) reads as "some layers" (approximate).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import ConfigError, UnsupportedModelError
from .formats import DataFormat, lookup_format, scaled_format
from .precision import Note, QuantizedWeights
from .rows import Category


@dataclass(frozen=True, slots=True)
class Quantization:
    method: str
    groups: tuple[QuantizedWeights, ...]
    notes: tuple[Note, ...] = ()


# --- where modules sit ------------------------------------------------------------------------

LINEAR = frozenset(
    {
        Category.ATTN_PROJ,
        Category.MIXER,
        Category.MLP_DENSE,
        Category.MLP_ROUTED,
        Category.MLP_SHARED,
        Category.LM_HEAD,
    }
)
"""The categories made of linear layers a method converts (routers excluded, see NB above)."""
BLOCK_LINEAR = LINEAR - {Category.LM_HEAD}

LAYER_STEMS = (
    "model.layers",
    "model.language_model.layers",  # transformers 5 multimodal wrappers (Gemma 4, Qwen3-VL)
    "language_model.model.layers",  # checkpoints of multimodal models (Kimi-K2.5, Llama 4)
    "backbone.layers",  # Nemotron-H
)
_TWO_EXPERTS = ("0", "1")  # an entry naming one expert matches part of the experts


def _per_expert(container: str, projections: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{container}.{e}.{p}" for e in _TWO_EXPERTS for p in projections)


_GATED = ("gate_proj", "up_proj", "down_proj")
_MLA = (
    "self_attn.q_a_proj",
    "self_attn.q_b_proj",
    "self_attn.kv_a_proj_with_mqa",
    "self_attn.kv_b_proj",
    "self_attn.o_proj",
)
LAYER_MODULES: dict[Category, tuple[tuple[str, ...], ...]] = {
    Category.ATTN_PROJ: (
        # Llama, Qwen, Gemma, MiniMax-M2, MiMo-V2, gpt-oss, Llama 4
        ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"),
        ("self_attn.qkv_proj", "self_attn.o_proj"),  # Phi-3
        _MLA,  # DeepSeek-V3, Kimi-K2
        (  # DeepSeek-V2-Lite: no q LoRA
            "self_attn.q_proj",
            "self_attn.kv_a_proj_with_mqa",
            "self_attn.kv_b_proj",
            "self_attn.o_proj",
        ),
        # DeepSeek-V3.2, GLM-5: MLA and the DSA indexer
        (*_MLA, "self_attn.indexer.wq_b", "self_attn.indexer.wk", "self_attn.indexer.weights_proj"),
        (  # DeepSeek-V4 (transformers names; its compressor and indexer are not listed)
            "self_attn.q_a_proj",
            "self_attn.q_b_proj",
            "self_attn.kv_proj",
            "self_attn.o_a_proj",
            "self_attn.o_b_proj",
        ),
        ("mixer.q_proj", "mixer.k_proj", "mixer.v_proj", "mixer.o_proj"),  # Nemotron-H
    ),
    Category.MIXER: (
        (
            "linear_attn.in_proj_qkvz",
            "linear_attn.in_proj_ba",
            "linear_attn.out_proj",
        ),  # Qwen3-Next
        (  # Qwen3.5
            "linear_attn.in_proj_qkv",
            "linear_attn.in_proj_z",
            "linear_attn.in_proj_b",
            "linear_attn.in_proj_a",
            "linear_attn.out_proj",
        ),
        ("mixer.in_proj", "mixer.out_proj"),  # Nemotron-H Mamba-2
    ),
    Category.MLP_DENSE: (
        tuple(f"mlp.{p}" for p in _GATED),
        ("mlp.gate_up_proj", "mlp.down_proj"),  # Phi-3
        tuple(f"feed_forward.{p}" for p in _GATED),  # Llama 4
        ("mixer.up_proj", "mixer.down_proj"),  # Nemotron-H
    ),
    Category.MLP_ROUTED: (
        ("mlp.experts",),  # transformers 5: one fused module
        _per_expert("mlp.experts", _GATED),  # checkpoints: a module per expert
        ("block_sparse_moe.experts",),  # Mixtral, MiniMax-M2
        _per_expert("block_sparse_moe.experts", ("w1", "w2", "w3")),
        ("feed_forward.experts",),  # Llama 4
        ("experts",),  # Gemma 4 (beside its dense MLP)
        ("mixer.experts",),  # Nemotron-H
        _per_expert("mixer.experts", ("up_proj", "down_proj")),
    ),
    Category.MLP_SHARED: (
        tuple(f"mlp.shared_experts.{p}" for p in _GATED),  # DeepSeek, Kimi, GLM
        (*(f"mlp.shared_expert.{p}" for p in _GATED), "mlp.shared_expert_gate"),  # Qwen
        tuple(f"feed_forward.shared_expert.{p}" for p in _GATED),  # Llama 4
        ("mixer.shared_experts.up_proj", "mixer.shared_experts.down_proj"),  # Nemotron-H
    ),
    Category.ROUTER: (
        ("mlp.gate",),
        ("mlp.router",),
        ("block_sparse_moe.gate",),
        ("feed_forward.router",),
        ("router.proj",),  # Gemma 4
        ("mixer.gate",),
    ),
}
MODEL_MODULES: dict[Category, tuple[tuple[str, ...], ...]] = {
    Category.EMBEDDING: (
        ("model.embed_tokens",),
        ("model.language_model.embed_tokens",),
        ("language_model.model.embed_tokens",),
        ("backbone.embeddings",),
        ("model.embeddings",),
    ),
    Category.LM_HEAD: (("lm_head",), ("language_model.lm_head",)),
}

Rule = Callable[[str], bool]
"""Whether one list entry matches a module's full name."""


def hf_rule(entry: str, where: str) -> Rule:
    """transformers' `should_convert_module`: the entry as a regex from the start of the name up
    to a module boundary ("layer.1" matches "layer.1.attn", not "layer.11.attn"), or a suffix."""
    pattern = _compile(rf"(?:{entry})(?:(?<=\.)|(?=\.|$))", entry, where)
    return lambda name: pattern.match(name) is not None or name.endswith(entry)


def compressed_tensors_rule(entry: str, where: str) -> Rule:
    """compressed-tensors' `match_name`: `re:<regex>` matched from the start, else the exact
    name."""
    if entry.startswith("re:"):
        pattern = _compile(entry[3:], entry, where)
        return lambda name: pattern.match(name) is not None
    return lambda name: name == entry


def glob_rule(entry: str, where: str) -> Rule:
    """ModelOpt's exclude patterns as vLLM matches them: `*` is any run, the rest literal."""
    pattern = re.compile(re.escape(entry).replace(r"\*", ".*"))
    return lambda name: pattern.fullmatch(name) is not None


def suffix_rule(entry: str, where: str) -> Rule:
    """optimum's `modules_in_block_to_quantize`: names ending with the entry."""
    return lambda name: name.endswith(entry)


def _any_rule(entries: Sequence[str], rule: Callable[[str, str], Rule]) -> Rule | None:
    """One test for "does any entry match" (a single regex over all entries: a config's list is
    tested on every name of every layer), or None where the entries cannot be combined safely
    (flags, back-references: each entry is then tested alone). The entries were compiled alone
    first, so an invalid one has already been reported."""
    regexes = entries
    if rule is compressed_tensors_rule:
        regexes = [e[3:] for e in entries if e.startswith("re:")]
    elif rule is glob_rule:
        regexes = [re.escape(e).replace(r"\*", ".*") for e in entries]
    if any(re.search(r"\\\d|\(\?P=|\(\?[aiLmsux]", r) for r in regexes):
        return None
    try:
        combined = re.compile("|".join(f"(?:{r})" for r in regexes) or "(?!)")
    except re.error:
        return None
    if rule is hf_rule:
        bounded = re.compile(rf"(?:{combined.pattern})(?:(?<=\.)|(?=\.|$))")
        suffixes = tuple(entries)
        return lambda name: bounded.match(name) is not None or name.endswith(suffixes)
    if rule is compressed_tensors_rule:
        exact = {e for e in entries if not e.startswith("re:")}
        return lambda name: name in exact or combined.match(name) is not None
    if rule is glob_rule:
        return lambda name: combined.fullmatch(name) is not None
    if rule is suffix_rule:
        suffixes = tuple(entries)
        return lambda name: name.endswith(suffixes)
    return None


def _compile(pattern: str, entry: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: {entry!r} is not a valid regular expression ({exc})") from None


class _Hit(Enum):
    NONE = 0
    PARTIAL = 1
    FULL = 2


@dataclass(frozen=True)
class Matched:
    """Which categories a list of entries names (see the module docstring)."""

    full: frozenset[Category]
    partial: dict[Category, str]  # category -> what matched, for the note
    entries: dict[Category, list[str]]  # the entries that match each category
    unmatched: list[str]


def match_modules(
    entries: Sequence[str],
    rule: Callable[[str, str], Rule],
    layers: int,
    where: str,
) -> Matched:
    """Evaluate `entries` (one list of a config) on every name of the table (cached: a parser
    is built many times from one config)."""
    if not entries:
        return Matched(frozenset(), {}, {}, [])
    return _match_modules(tuple(entries), rule, layers, where)


@functools.lru_cache(maxsize=64)
def _match_modules(
    entries: tuple[str, ...],
    rule: Callable[[str, str], Rule],
    layers: int,
    where: str,
) -> Matched:
    rules = [(entry, rule(entry, where)) for entry in entries]
    any_matches = _any_rule(entries, rule) or (lambda name: any(r(name) for _, r in rules))
    used: set[str] = set()
    by_category: dict[Category, list[str]] = {}
    examples: dict[Category, str] = {}

    def status(names: tuple[str, ...], category: Category) -> _Hit:
        count = 0
        for name in names:
            if not any_matches(name):
                continue
            matching = [entry for entry, matches in rules if matches(name)]
            if matching:
                count += 1
                used.update(matching)
                seen = by_category.setdefault(category, [])
                seen.extend(e for e in matching if e not in seen)
                examples.setdefault(category, name)
        return _Hit.FULL if count == len(names) else _Hit.PARTIAL if count else _Hit.NONE

    def combine(hits: Iterable[_Hit]) -> _Hit:
        """Full under some naming: full (the entries were written for the model's own naming; a
        partial hit under another family's, such as Phi-3's qkv_proj, says nothing)."""
        return max(hits, key=lambda hit: hit.value, default=_Hit.NONE)

    full: set[Category] = set()
    partial: dict[Category, str] = {}
    for category, namings in MODEL_MODULES.items():
        hit = combine(status(naming, category) for naming in namings)
        if hit is _Hit.FULL:
            full.add(category)
        elif hit is _Hit.PARTIAL:
            partial[category] = f"some of its modules (e.g. {examples[category]})"
    for category, namings in LAYER_MODULES.items():
        per_layer = [
            combine(
                status(tuple(f"{stem}.{i}.{leaf}" for leaf in naming), category)
                for stem in LAYER_STEMS
                for naming in namings
            )
            for i in range(layers)
        ]
        if all(hit is _Hit.FULL for hit in per_layer):
            full.add(category)
        elif any(hit is not _Hit.NONE for hit in per_layer):
            if _Hit.PARTIAL in per_layer:
                partial[category] = f"some of its modules (e.g. {examples[category]})"
            else:
                some = [i for i, hit in enumerate(per_layer) if hit is _Hit.FULL]
                partial[category] = f"layers {_ranges(some)} ({len(some)} of {layers})"
    unmatched = [entry for entry, _ in rules if entry not in used]
    return Matched(frozenset(full), partial, by_category, unmatched)


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    parts: list[str] = []
    start = prev = indices[0]
    for i in [*indices[1:], -2]:
        if i != prev + 1:
            parts.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = i
        prev = i
    return ", ".join(parts)


def _quoted(entries: list[str]) -> str:
    quoted = [repr(e) for e in entries]
    return ", ".join(quoted) if len(quoted) <= 2 else f"{len(quoted)} entries, e.g. {quoted[0]}"


# --- typed reads --------------------------------------------------------------------------------


class _Fields:
    """Typed reads of one (sub-)mapping of a quantization_config: a wrong-typed field is one
    ConfigError naming the key and the value. `where` names the mapping, e.g.
    "quantization_config.config_groups.group_0.weights"."""

    def __init__(self, mapping: Mapping[str, Any], where: str) -> None:
        self.mapping = mapping
        self.where = where

    def error(self, key: str, what: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.where}: '{key}' must be {what}, got {value!r}")

    def has(self, key: str) -> bool:
        return self.mapping.get(key) is not None

    def text(self, key: str, default: str | None = None, choices: Sequence[str] = ()) -> str | None:
        """A string (lower-cased and one of `choices` when given)."""
        value = self.mapping.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or (choices and value.lower() not in choices):
            what = f"one of {', '.join(map(repr, choices))}" if choices else "a string"
            raise self.error(key, what, value)
        return value.lower() if choices else value

    def integer(
        self,
        key: str,
        default: int | None,
        *,
        allowed: Sequence[int] = (),
        per_row: bool = False,
    ) -> int | None:
        """An integer >= 1 (or one of `allowed`; -1 too when `per_row`); `default` if absent."""
        value = self.mapping.get(key)
        if value is None:
            return default
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and (value in allowed if allowed else value >= 1 or (per_row and value == -1))
        if not ok:
            if allowed:
                what = f"one of {', '.join(map(str, allowed))}"
            else:
                what = "an integer >= 1" + (" or -1 (one scale per row)" if per_row else "")
            raise self.error(key, what, value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.mapping.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, "true or false", value)
        return value

    def names(self, key: str) -> list[str] | None:
        """A list of module names or patterns; None when absent or null."""
        value = self.mapping.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "a list of module names", value)
        return value

    def section(self, key: str) -> _Fields | None:
        value = self.mapping.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.error(key, "a mapping", value)
        return _Fields(value, f"{self.where}.{key}")

    def block(self, key: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
        """[rows, cols] of positive integers (compressed-tensors also writes "RxC"); `default`
        when the key is absent, None when it is null."""
        if key not in self.mapping:
            return default
        value = self.mapping[key]
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"\d+x\d+", value):
            value = [int(v) for v in value.split("x")]
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise self.error(key, "[rows, cols] of positive integers", value)
        return value[0], value[1]


# --- the methods --------------------------------------------------------------------------------


def read_quantization(
    quantization: Mapping[str, Any], dtype: DataFormat, layers: int
) -> Quantization:
    """The weight formats `quantization` (a config's quantization_config) sets, for a model of
    `layers` decoder layers stored in `dtype`."""
    f = _Fields(quantization, "quantization_config")
    method = f.text("quant_method")
    if method is None:
        raise ConfigError("quantization_config: missing required field 'quant_method'")
    reader = _READERS.get(method.lower())
    if reader is None:
        raise UnsupportedModelError(
            f"quantization_config quant_method {method!r} is not modelled (modelled: "
            f"{', '.join(_READERS)}); choose the weight format with --weight-dtype"
        )
    return reader(f, dtype, layers)


def _ignore(
    covered: frozenset[Category],
    entries: list[str],
    rule: Callable[[str, str], Rule],
    layers: int,
    where: str,
) -> tuple[frozenset[Category], list[Note]]:
    """`covered` less what a list of modules to keep unquantized names, and what to say."""
    key = where.removeprefix("quantization_config.")
    matched = match_modules(entries, rule, layers, where)
    kept = covered & matched.full
    notes = [
        Note(f"{c.value} not converted ({key}: {_quoted(matched.entries[c])})", frozenset({c}))
        for c in sorted(kept, key=lambda c: c.value)
    ]
    notes += [
        Note(
            f"approximate: {key} keeps {c.value} unquantized in {matched.partial[c]}; "
            "modelled as all quantized",
            frozenset({c}),
        )
        for c in sorted(covered - kept, key=lambda c: c.value)
        if c in matched.partial
    ]
    if matched.unmatched:
        notes.append(
            Note(
                f"{key} entries matching no module of the text decoder, ignored: "
                + ", ".join(map(repr, matched.unmatched))
            )
        )
    return covered - kept, notes


def _dequantized(f: _Fields, method: str) -> Quantization | None:
    if f.flag("dequantize", False):
        note = Note("dequantize: true: weights dequantized to the checkpoint dtype at load")
        return Quantization(method, (), (note,))
    return None


_FP8_KINDS = {
    "e4m3": "float8_e4m3",
    "e4m3fn": "float8_e4m3",
    "float8_e4m3fn": "float8_e4m3",  # MiniMax-M2
    "float8_e4m3": "float8_e4m3",
    "e5m2": "float8_e5m2",
    "float8_e5m2": "float8_e5m2",
}


def _fp8(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """HF's FineGrainedFP8: `replace_with_fp8_linear` converts every `type(m) is nn.Linear` and
    every `*.experts` module not in modules_to_not_convert (HF's default skips, the output
    embeddings and tied weights, apply only when that list is absent)."""
    f.text("activation_scheme", "dynamic", ("dynamic", "static"))  # either quantizes to fp8
    fmt_name = f.text("fmt", "e4m3")
    if fmt_name is None or fmt_name.lower() not in _FP8_KINDS:
        raise f.error("fmt", f"one of {', '.join(map(repr, _FP8_KINDS))}", fmt_name)
    base = lookup_format(_FP8_KINDS[fmt_name.lower()])
    ue8m0 = f.text("scale_fmt", "float", ("float", "ue8m0")) == "ue8m0"
    scale_bits, scale_name = (8, "ue8m0") if ue8m0 else (32, "fp32")
    block = f.block("weight_block_size", (128, 128))  # HF's default; null: one scale per tensor
    fmt = base
    if block is not None:
        rows, cols = block
        fmt = scaled_format(
            f"{base.name}_block{rows}x{cols}" + ("_ue8m0" if ue8m0 else ""),
            8,
            "fp8",
            per=rows * cols,
            scale_bits=scale_bits,
            note=f"one {scale_name} scale per {rows}x{cols} block",
        )
    experts_fp4 = f.text("expert_dtype", "fp8", ("fp8", "fp4")) == "fp4"
    if done := _dequantized(f, "fp8"):
        return done
    key = "modules_to_not_convert"
    if not f.has(key) and f.has("ignored_layers"):
        key = "ignored_layers"  # MiniMax-M2 ships its list under this alias
    skip = f.names(key)
    covered = BLOCK_LINEAR | ({Category.LM_HEAD} if skip is not None else frozenset())
    covered, notes = _ignore(covered, skip or [], hf_rule, layers, f"quantization_config.{key}")
    if Category.LM_HEAD in covered:
        notes.append(
            Note(
                f"lm_head converted: an explicit {key} replaces HF's default skip of the output "
                "embeddings",
                frozenset({Category.LM_HEAD}),
            )
        )
    groups = [QuantizedWeights(fmt, covered - {Category.MLP_ROUTED}, "fp8")]
    if Category.MLP_ROUTED in covered:
        experts = fmt
        if experts_fp4:  # E2M1, two per byte, one scale per 32 inputs (block size unused)
            experts = (
                lookup_format("mxfp4")
                if ue8m0
                else scaled_format(
                    "fp4_e2m1_g32_fp32",
                    4,
                    "fp4",
                    per=32,
                    scale_bits=32,
                    note="one fp32 scale per 32",
                )
            )
        groups.append(QuantizedWeights(experts, frozenset({Category.MLP_ROUTED}), "fp8"))
    embeddings = f.names("modules_to_convert")
    if embeddings:  # `replace_with_fp8_embedding`: nn.Embedding named by a suffix, per tensor
        matched = match_modules(
            embeddings, suffix_rule, layers, "quantization_config.modules_to_convert"
        )
        if Category.EMBEDDING in matched.full:
            groups.append(QuantizedWeights(base, frozenset({Category.EMBEDDING})))
        if matched.unmatched:
            notes.append(
                Note(
                    "modules_to_convert entries matching no embedding table, ignored: "
                    + ", ".join(map(repr, matched.unmatched))
                )
            )
    return Quantization("fp8", _merged(groups), tuple(notes))


def _mxfp4(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """HF's Mxfp4: `replace_with_mxfp4_linear` converts the experts of gpt-oss MLPs only;
    weight-only (the triton kernels multiply bf16 activations)."""
    if done := _dequantized(f, "mxfp4"):
        return done
    where = "quantization_config.modules_to_not_convert"
    skip = f.names("modules_to_not_convert") or []
    covered, notes = _ignore(frozenset({Category.MLP_ROUTED}), skip, hf_rule, layers, where)
    groups = [QuantizedWeights(lookup_format("mxfp4"), covered)]
    return Quantization("mxfp4", _merged(groups), tuple(notes))


def _int_format(bits: int, group: int, scale: str, scale_bits: int, zero_bits: int) -> DataFormat:
    """`bits`-bit integers with one scale (and zero point) per `group` weights (-1: per row)."""
    peak = "int4" if bits <= 4 else "int8"
    zero = f"_zp{zero_bits}" if zero_bits else ""
    if group == -1:
        return scaled_format(
            f"int{bits}_channel_{scale}{zero}", bits, peak, note="one scale per row (not counted)"
        )
    note = f"one {scale} scale" + (f" and one {zero_bits}-bit zero point" if zero_bits else "")
    return scaled_format(
        f"int{bits}_g{group}_{scale}{zero}",
        bits,
        peak,
        per=group,
        scale_bits=scale_bits,
        zero_bits=zero_bits,
        note=f"{note} per {group} weights",
    )


def _awq(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """HF's AWQ: `replace_with_awq_linear` converts every nn.Linear not skipped (the output
    embeddings always are). qweight packs `bits` per weight; per group of `group_size` inputs and
    per output column, one fp16 scale and (zero_point) one `bits`-bit packed zero point."""
    bits = f.integer("bits", 4, allowed=(2, 3, 4, 8))
    group = f.integer("group_size", 128, per_row=True)
    zero = f.flag("zero_point", True)
    assert bits is not None and group is not None
    fmt = _int_format(bits, group, "fp16", 16, bits if zero else 0)
    where = "quantization_config.modules_to_not_convert"
    skip = f.names("modules_to_not_convert") or []
    covered, notes = _ignore(BLOCK_LINEAR, skip, hf_rule, layers, where)
    return Quantization("awq", _merged([QuantizedWeights(fmt, covered)]), tuple(notes))


def _gptq(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """HF's GPTQ (optimum `convert_model`): every linear of the decoder blocks, or those whose
    names end with an entry of modules_in_block_to_quantize. qweight packs `bits` per weight;
    per group and output column one fp16 scale and one packed `bits`-bit zero point (qzeros are
    stored even when `sym`); g_idx (desc_act) is not counted (see the module docstring)."""
    bits = f.integer("bits", None, allowed=(2, 3, 4, 8))
    if bits is None:
        raise ConfigError("quantization_config: missing required field 'bits' (gptq)")
    group = f.integer("group_size", 128, per_row=True)
    f.flag("sym", True)
    f.flag("desc_act", False)
    assert group is not None
    if f.mapping.get("dynamic"):
        raise UnsupportedModelError(
            "quantization_config 'dynamic' (GPTQModel per-module overrides) is not modelled; "
            "choose the weight format with --weight-dtype"
        )
    fmt = _int_format(bits, group, "fp16", 16, bits)
    notes: list[Note] = []
    covered = BLOCK_LINEAR
    chosen = f.mapping.get("modules_in_block_to_quantize")
    if chosen is not None:
        if not (
            isinstance(chosen, list)
            and all(isinstance(s, list) and all(isinstance(n, str) for n in s) for s in chosen)
        ):
            raise f.error("modules_in_block_to_quantize", "a list of lists of names", chosen)
        where = "quantization_config.modules_in_block_to_quantize"
        flat = [name for step in chosen for name in step]
        matched = match_modules(flat, suffix_rule, layers, where)
        covered = BLOCK_LINEAR & matched.full
        notes += [
            Note(
                f"approximate: modules_in_block_to_quantize quantizes {c.value} in "
                f"{matched.partial[c]}; modelled as unquantized",
                frozenset({c}),
            )
            for c in sorted(BLOCK_LINEAR - covered, key=lambda c: c.value)
            if c in matched.partial
        ]
        if matched.unmatched:
            notes.append(
                Note(
                    "modules_in_block_to_quantize entries matching no module, ignored: "
                    + ", ".join(map(repr, matched.unmatched))
                )
            )
    if f.has("modules_to_not_convert"):
        notes.append(
            Note("modules_to_not_convert not read: GPTQ quantizes modules_in_block_to_quantize")
        )
    return Quantization("gptq", _merged([QuantizedWeights(fmt, covered)]), tuple(notes))


# compressed-tensors ------------------------------------------------------------------------------

_DTYPE_BITS = {
    "float64": (64, "fp64"),
    "float32": (32, "fp32"),
    "float": (32, "fp32"),
    "float16": (16, "fp16"),
    "half": (16, "fp16"),
    "bfloat16": (16, "bf16"),
    "float8_e4m3fn": (8, "e4m3"),
    "float8_e8m0fnu": (8, "e8m0"),
    "uint8": (8, "e8m0"),  # MX scales stored as exponent bytes
    "int8": (8, "int8"),
    "int32": (32, "int32"),
}
# Storage formats: (weight type, element bits or None for num_bits, default scale dtype or None
# for the weights' own dtype).
_CT_FORMATS: dict[str, tuple[str, int | None, str | None]] = {
    "pack-quantized": ("int", None, None),  # num_bits packed into int32
    "int-quantized": ("int", 8, None),  # one int8 per weight
    "naive-quantized": ("int", 8, None),
    "float-quantized": ("float", 8, None),
    "nvfp4-pack-quantized": ("float", 4, "float8_e4m3fn"),
    "mxfp4-pack-quantized": ("float", 4, "uint8"),
    "mxfp8-quantized": ("float", 8, "uint8"),
}


def _dtype_bits(f: _Fields, key: str, default: str) -> tuple[int, str]:
    name = f.text(key, default) or default
    found = _DTYPE_BITS.get(name.removeprefix("torch."))
    if found is None:
        raise f.error(key, f"a torch dtype ({', '.join(_DTYPE_BITS)})", name)
    return found


def _ct_weight_format(w: _Fields, storage: str, dtype: DataFormat) -> DataFormat:
    """The storage of one compressed-tensors weight scheme (QuantizationArgs + the compressor of
    `storage`): element bits, one scale (and zero point when asymmetric) per group or block."""
    if storage not in _CT_FORMATS:
        raise UnsupportedModelError(
            f"quantization_config format {storage!r} is not modelled (modelled: "
            f"{', '.join(_CT_FORMATS)}); choose the weight format with --weight-dtype"
        )
    kind, stored, scale_default = _CT_FORMATS[storage]
    num_bits = w.integer("num_bits", 8, allowed=tuple(range(1, 9)))
    assert num_bits is not None
    if w.text("type", "int", ("int", "float")) != kind:
        raise w.error("type", f"{kind!r} for format {storage!r}", w.mapping.get("type"))
    if kind == "float" and num_bits != stored:
        raise w.error("num_bits", f"{stored} for format {storage!r}", num_bits)
    element = stored or num_bits
    group = w.integer("group_size", None, per_row=True)
    block = w.block("block_structure", None)
    strategy = w.text(
        "strategy", None, ("tensor", "channel", "group", "tensor_group", "block", "token")
    )
    if strategy is None:  # QuantizationArgs' inference
        strategy = (
            "block" if block else "tensor" if group is None else "group" if group > 0 else "channel"
        )
    if strategy in ("group", "tensor_group") and (group is None or group < 1):
        raise w.error("group_size", f"an integer >= 1 for strategy {strategy!r}", group)
    if strategy == "block" and block is None:
        raise w.error("block_structure", "[rows, cols] for strategy 'block'", None)
    own = dtype.name if dtype.name in ("float16", "bfloat16", "float32") else "float16"
    scale_bits, scale = _dtype_bits(w, "scale_dtype", scale_default or own)
    zero_bits = 0
    if not w.flag("symmetric", True):
        packed = storage == "pack-quantized" and strategy in ("group", "channel")
        zero_bits = element if packed else _dtype_bits(w, "zp_dtype", "int8")[0]
    every = group if strategy in ("group", "tensor_group") else None
    if strategy == "block" and block is not None:
        every = block[0] * block[1]
    peak = (
        ("int4" if element <= 4 else "int8")
        if kind == "int"
        else ("fp4" if element == 4 else "fp8")
    )
    if kind == "float" and element == 4 and every in (16, 32) and not zero_bits:
        special = {(16, "e4m3"): "nvfp4", (32, "e8m0"): "mxfp4"}.get((every, scale))
        if special:
            return lookup_format(special)
    base = f"int{element}" if kind == "int" else ("float8_e4m3" if element == 8 else "fp4_e2m1")
    shape = {"group": f"_g{group}", "tensor_group": f"_g{group}", "channel": "_channel"}
    name = base + shape.get(strategy, f"_block{block[0]}x{block[1]}" if block else "")
    zero = f"_zp{zero_bits}" if zero_bits else ""
    if every is None:
        note = f"one scale per {strategy} (not counted)" if strategy != "tensor" else ""
        return scaled_format(name, element, peak, note=note)
    note = f"one {scale} scale" + (f" and one {zero_bits}-bit zero point" if zero_bits else "")
    return scaled_format(
        f"{name}_{scale}{zero}",
        element,
        peak,
        per=every,
        scale_bits=scale_bits,
        zero_bits=zero_bits,
        note=f"{note} per {every} weights",
    )


def _activation_peak(a: _Fields | None, weights: DataFormat) -> str | None:
    """The peak of a GEMM whose inputs are quantized as `a` says (None: weight-only): both
    operands in the wider of the two formats."""
    if a is None:
        return None
    bits = a.integer("num_bits", 8, allowed=(4, 8))
    kind = a.text("type", "int", ("int", "float"))
    peak = {("int", 8): "int8", ("float", 8): "fp8", ("int", 4): "int4", ("float", 4): "fp4"}
    assert bits is not None and kind is not None
    if bits < int(weights.bits):
        raise UnsupportedModelError(
            f"{a.where}: {bits}-bit activations with {weights.name} weights are not modelled"
        )
    return peak[(kind, bits)]


_CLASSES = {"Linear": LINEAR, "Embedding": frozenset({Category.EMBEDDING})}
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")


def _compressed_tensors(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """compressed-tensors (`apply_quantization_config`): each config group quantizes the modules
    its targets match (class names, exact names, `re:` regexes) and `ignore` does not; a module
    two groups match takes the more specific target's group (a name or regex before a class; the
    first group between equals)."""
    if f.mapping.get("sparsity_config"):
        raise UnsupportedModelError(
            "quantization_config 'sparsity_config' (sparse weights) is not modelled; choose the "
            "weight format with --weight-dtype"
        )
    storage = f.text("format", "dense") or "dense"
    groups_f = f.section("config_groups")
    notes: list[Note] = []
    if f.has("kv_cache_scheme"):
        notes.append(_kv_note("kv_cache_scheme"))
    if f.has("transform_config"):
        notes.append(Note("transform_config (online rotations) not modelled"))
    if groups_f is None or not groups_f.mapping:
        return Quantization("compressed-tensors", (), tuple(notes))
    # per category: (rank, order, hit, group, what matched, group name); rank 0: names and
    # regexes, 1: classes (compressed-tensors prefers the more specific target)
    candidates: dict[Category, list[tuple[int, int, _Hit, QuantizedWeights, str, str]]] = {}
    for order, name in enumerate(groups_f.mapping):
        g = groups_f.section(name)
        assert g is not None
        weights = g.section("weights")
        if weights is None:
            notes.append(Note(f"config group {name!r} quantizes no weights"))
            continue
        fmt = _ct_weight_format(weights, g.text("format", storage) or storage, dtype)
        group = QuantizedWeights(fmt, LINEAR, _activation_peak(g.section("input_activations"), fmt))
        targets = g.names("targets")
        if not targets:
            raise g.error("targets", "a non-empty list of module names or classes", targets)
        hits: list[tuple[Category, int, _Hit, str]] = []
        for target in targets:
            if target in _CLASSES:
                hits += [(c, 1, _Hit.FULL, "") for c in _CLASSES[target]]
            elif _CLASS_NAME.fullmatch(target):
                raise UnsupportedModelError(
                    f"{g.where}: target class {target!r} is not modelled (modelled: "
                    f"{', '.join(_CLASSES)}); choose the weight format with --weight-dtype"
                )
        named = [t for t in targets if not _CLASS_NAME.fullmatch(t)]
        m = match_modules(named, compressed_tensors_rule, layers, f"{g.where}.targets")
        hits += [(c, 0, _Hit.FULL, "") for c in m.full]
        hits += [(c, 0, _Hit.PARTIAL, d) for c, d in m.partial.items()]
        if m.unmatched:
            notes.append(
                Note(
                    f"targets of {name!r} matching no module, ignored: "
                    + ", ".join(map(repr, m.unmatched))
                )
            )
        for category, rank, hit, desc in hits:
            candidates.setdefault(category, []).append((rank, order, hit, group, desc, name))
    chosen: dict[Category, QuantizedWeights] = {}
    for category, found in candidates.items():
        if category is Category.ROUTER:  # never converted (see the module docstring)
            notes.append(Note("targets naming routers not applied: routers stay unquantized"))
            continue
        for _, _, hit, group, desc, name in sorted(found, key=lambda c: c[:2]):
            if hit is _Hit.FULL:
                chosen[category] = group
                break
            notes.append(
                Note(
                    f"approximate: the targets of {name!r} quantize {category.value} in {desc} "
                    f"to {group.fmt.name}; modelled as the rest of it",
                    frozenset({category}),
                )
            )
    ignore = f.names("ignore") or []
    by_class = frozenset(c for e in ignore if e in _CLASSES for c in _CLASSES[e])
    names = [e for e in ignore if e not in _CLASSES]
    where = "quantization_config.ignore"
    covered, ignore_notes = _ignore(
        frozenset(chosen) - by_class, names, compressed_tensors_rule, layers, where
    )
    notes += ignore_notes
    result = [
        QuantizedWeights(g.fmt, frozenset(c for c in covered if chosen[c] is g), g.compute_peak)
        for g in dict.fromkeys(chosen.values())
    ]
    return Quantization("compressed-tensors", _merged(result), tuple(notes))


def _kv_note(key: str) -> Note:
    return Note(
        f"{key} not applied: the KV cache stays in the activation format unless "
        "--kv-cache-dtype says otherwise"
    )


# modelopt --------------------------------------------------------------------------------------


def _modelopt(f: _Fields, dtype: DataFormat, layers: int) -> Quantization:
    """NVIDIA ModelOpt checkpoints as vLLM reads them (transformers has no modelopt quantizer):
    every LinearBase layer and the fused experts not excluded; the LM head is never quantized.
    Two layouts: hf_quant_config.json's {"quantization": {quant_algo, group_size,
    exclude_modules}} and config.json's {quant_algo, config_groups, ignore}."""
    inner = f.section("quantization")
    src = inner or f
    algo = (src.text("quant_algo") or "").upper()
    groups_f = f.section("config_groups")
    group_sizes: set[int] = set()
    quantized_inputs: set[bool] = set()
    for name in groups_f.mapping if groups_f else ():
        assert groups_f is not None
        g = groups_f.section(name)
        assert g is not None
        weights = g.section("weights")
        if weights is not None and (size := weights.integer("group_size", None)) is not None:
            group_sizes.add(size)
        quantized_inputs.add(g.section("input_activations") is not None)
    group = src.integer("group_size", None)
    if group is None:
        if len(group_sizes) > 1:
            sizes = sorted(group_sizes)
            raise ConfigError(
                f"quantization_config: config_groups disagree on 'group_size' {sizes}"
            )
        group = group_sizes.pop() if group_sizes else 16
    notes: list[Note] = []
    for key in ("kv_cache_quant_algo", "kv_cache_scheme"):
        if src.has(key) or f.has(key):
            notes.append(_kv_note(key))
    if algo == "NVFP4":  # E2M1 + one E4M3 scale per group (+ one fp32 per tensor, not counted)
        fmt = (
            lookup_format("nvfp4")
            if group == 16
            else scaled_format(
                f"nvfp4_g{group}", 4, "fp4", per=group, scale_bits=8, note=f"one e4m3 per {group}"
            )
        )
        inputs = quantized_inputs != {False}  # NVFP4 quantizes the inputs unless groups say not
        peak = "fp4" if inputs else None
    elif algo == "FP8":  # per-tensor fp8 weights, static per-tensor fp8 inputs
        fmt, peak = lookup_format("float8_e4m3"), "fp8"
    else:
        raise UnsupportedModelError(
            f"quantization_config quant_algo {algo or None!r} (modelopt) is not modelled "
            "(modelled: NVFP4, FP8); choose the weight format with --weight-dtype"
        )
    key = "exclude_modules" if inner is not None or f.has("exclude_modules") else "ignore"
    exclude = src.names(key) or []
    where = f"quantization_config.{'quantization.' if inner else ''}{key}"
    covered, ignore_notes = _ignore(BLOCK_LINEAR, exclude, glob_rule, layers, where)
    groups = [QuantizedWeights(fmt, covered, peak)]
    return Quantization("modelopt", _merged(groups), tuple(notes + ignore_notes))


def _merged(groups: Iterable[QuantizedWeights]) -> tuple[QuantizedWeights, ...]:
    """Groups with the same format and peak merged; empty ones dropped."""
    merged: dict[tuple[DataFormat, str | None], frozenset[Category]] = {}
    for g in groups:
        key = (g.fmt, g.compute_peak)
        merged[key] = merged.get(key, frozenset()) | g.categories
    return tuple(QuantizedWeights(fmt, cats, peak) for (fmt, peak), cats in merged.items() if cats)


_READERS: dict[str, Callable[[_Fields, DataFormat, int], Quantization]] = {
    "fp8": _fp8,
    "mxfp4": _mxfp4,
    "compressed-tensors": _compressed_tensors,
    "modelopt": _modelopt,
    "awq": _awq,
    "gptq": _gptq,
}
