"""Which format each tensor is stored in, and which hardware peak multiplies it.

Defaults: weights, activations and the KV cache all in the config's dtype. A config's
`quantization_config` sets the weight format of the layers it covers (recorded in `applied`);
`--weight-dtype` / `--activation-dtype` / `--kv-cache-dtype` override.

The compute-peak rule (documented in the README): a GEMM runs at the peak of the format *both*
operands are in when multiplied. Activations are in the activation format, so a weight in another
format is dequantized to it on the fly (weight-only int4 or mxfp4 with bf16 activations -> bf16
peak), unless the quantization also quantizes activations (fp8 with a dynamic or static activation
scheme: fp8 x fp8 -> fp8 peak). Attention multiplies activations (K and V are dequantized to the
activation format). Elementwise ops run on the vector units ("fp32" peak).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from core.errors import ConfigError, UnsupportedModelError, UsageError
from core.model.formats import DataFormat, format_names, lookup_format
from core.model.rows import Category

VECTOR_PEAK = "fp32"

# Linear layers a weight quantization method converts (HuggingFace's quantizers): fp8 converts
# every nn.Linear of the blocks (routers, embeddings, norms and lm_head stay); mxfp4 converts the
# MoE experts only.
_FP8_CATEGORIES = frozenset(
    {Category.ATTN_PROJ, Category.MLP_DENSE, Category.MLP_ROUTED, Category.MLP_SHARED}
)
_MXFP4_CATEGORIES = frozenset({Category.MLP_ROUTED})
# Last component of a `modules_to_not_convert` entry -> the category it keeps unquantized.
_MODULE_CATEGORIES: dict[str, Category] = {
    "self_attn": Category.ATTN_PROJ,
    "experts": Category.MLP_ROUTED,
    "shared_expert": Category.MLP_SHARED,
    "shared_experts": Category.MLP_SHARED,
}


@dataclass(frozen=True)
class Precision:
    weight: DataFormat  # every weight not covered by the quantization
    activation: DataFormat
    kv_cache: DataFormat
    quantized: frozenset[Category] = frozenset()  # weights stored in `quantized_format`
    quantized_format: DataFormat | None = None
    quantized_activations: bool = False  # GEMMs of `quantized` multiply in that format
    applied: str = ""  # what the quantization_config set, for the output

    @classmethod
    def uniform(cls, fmt: DataFormat) -> Precision:
        return cls(fmt, fmt, fmt)

    def weight_for(self, category: Category) -> DataFormat:
        if self.quantized_format is not None and category in self.quantized:
            return self.quantized_format
        return self.weight

    def gemm_peak(self, category: Category) -> str:
        """The peak a GEMM of weights of `category` runs at (see the module docstring)."""
        weight = self.weight_for(category)
        if self.quantized_activations and category in self.quantized:
            return weight.peak
        return self.activation.peak

    def describe(self) -> str:
        text = (
            f"weights {self.weight.name}, activations {self.activation.name}, "
            f"KV cache {self.kv_cache.name}"
        )
        return f"{text}; {self.applied}" if self.applied else text


def resolve_precision(
    dtype: DataFormat,
    quantization: Mapping[str, Any] | None,
    *,
    weight: str | None = None,
    activation: str | None = None,
    kv_cache: str | None = None,
) -> Precision:
    """The precision of one analysis: the config's dtype and quantization, then the overrides
    (format names as `--weight-dtype` etc. take them)."""
    act = _option_format(activation, "--activation-dtype") or dtype
    kv = _option_format(kv_cache, "--kv-cache-dtype") or dtype
    chosen = _option_format(weight, "--weight-dtype")
    if chosen is not None:
        applied = "quantization_config overridden by --weight-dtype" if quantization else ""
        return Precision(chosen, act, kv, applied=applied)
    if not quantization:
        return Precision(dtype, act, kv)
    return _from_quantization_config(dtype, act, kv, quantization)


def _option_format(name: str | None, option: str) -> DataFormat | None:
    if name is None:
        return None
    try:
        return lookup_format(name)
    except KeyError:
        raise UsageError(
            f"{option}: unknown format {name!r} (supported: {', '.join(format_names())})"
        ) from None


def _from_quantization_config(
    dtype: DataFormat, act: DataFormat, kv: DataFormat, quantization: Mapping[str, Any]
) -> Precision:
    method = quantization.get("quant_method")
    if method == "fp8":
        fmt = _fp8_format(quantization)
        covered = _FP8_CATEGORIES
        activations = quantization.get("activation_scheme") in ("dynamic", "static")
    elif method == "mxfp4":
        fmt, covered, activations = lookup_format("mxfp4"), _MXFP4_CATEGORIES, False
    else:
        raise UnsupportedModelError(
            f"quantization_config quant_method {method!r} is not modelled (modelled: fp8, "
            "mxfp4); choose the weight format with --weight-dtype"
        )
    kept = _not_converted(quantization.get("modules_to_not_convert") or [])
    covered = covered - kept
    names = ", ".join(sorted(c.value for c in covered))
    applied = f"{names} weights {fmt.name} from quantization_config ({method}"
    applied += ", activations quantized too)" if activations else ", weight-only)"
    return Precision(dtype, act, kv, frozenset(covered), fmt, activations, applied)


def _fp8_format(quantization: Mapping[str, Any]) -> DataFormat:
    kinds = {"e4m3": "float8_e4m3", "float8_e4m3fn": "float8_e4m3", "e5m2": "float8_e5m2"}
    kind = kinds.get(quantization.get("fmt", "e4m3"))  # MiniMax-M2 spells it float8_e4m3fn
    if kind is None:
        raise ConfigError(f"quantization_config: unknown fp8 fmt {quantization.get('fmt')!r}")
    base = lookup_format(kind)
    block = quantization.get("weight_block_size")
    if block is None:
        return base  # per-tensor or per-channel scales: negligible overhead
    if not (
        isinstance(block, list)
        and len(block) == 2
        and all(isinstance(b, int) and b > 0 for b in block)
    ):
        raise ConfigError(
            f"quantization_config: 'weight_block_size' must be [rows, cols], got {block!r}"
        )
    rows, cols = block
    # one fp32 scale per rows x cols block
    return DataFormat(
        f"{base.name}_block{rows}x{cols}",
        base.bits + Fraction(32, rows * cols),
        base.peak,
        note=f"one fp32 scale per {rows}x{cols} block",
    )


def _not_converted(modules: list[Any]) -> frozenset[Category]:
    kept = set()
    for module in modules:
        last = str(module).rstrip(".*").split(".")[-1]
        if last in _MODULE_CATEGORIES:
            kept.add(_MODULE_CATEGORIES[last])
    return frozenset(kept)
