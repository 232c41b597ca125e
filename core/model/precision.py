"""Which format each tensor is stored in, and which hardware peak multiplies it.

Defaults: weights, activations and the KV cache all in the config's dtype. A config's
`quantization_config` sets the weight format of the linear layers it covers, category by category
(core/model/quantization.py says how each method decides, and `applied` what it set);
`--weight-dtype` / `--activation-dtype` / `--kv-cache-dtype` override.

The compute-peak rule (documented in the README): a GEMM runs at the peak of the format *both*
operands are in when multiplied. Activations are in the activation format, so a weight in another
format is dequantized to it on the fly (weight-only int4 or mxfp4 with bf16 activations -> bf16
peak), unless the quantization also quantizes activations (fp8 with a dynamic or static activation
scheme: fp8 x fp8 -> fp8 peak; NVFP4 with quantized inputs: fp4). Attention multiplies activations
(K and V are dequantized to the activation format). Elementwise ops run on the vector units
("fp32" peak).

NB: `weight_for(category)` is the format of a category's *linear* weights (and of the embedding
    table). Other weights (norm gains, convolutions, sinks, recurrence parameters) stay in
    `weight`: no modelled method converts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import UsageError, shown
from .formats import DataFormat, format_names, lookup_format
from .rows import Category

VECTOR_PEAK = "fp32"

__all__ = ["VECTOR_PEAK", "Note", "Precision", "QuantizedWeights", "resolve_precision"]


@dataclass(frozen=True, slots=True)
class QuantizedWeights:
    """The weights of `categories`, stored in `fmt`. `compute_peak`: the peak their GEMMs run at
    when the method quantizes the activations too; None for weight-only quantization (the weights
    are dequantized to the activation format)."""

    fmt: DataFormat
    categories: frozenset[Category]
    compute_peak: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """Something `applied` says about the config; `categories`: the ones it is about (a report
    keeps the note only where the model has one of them; empty: always)."""

    text: str
    categories: frozenset[Category] = frozenset()


@dataclass(frozen=True)
class Precision:
    weight: DataFormat  # every weight no quantization group covers
    activation: DataFormat
    kv_cache: DataFormat
    quantized: tuple[QuantizedWeights, ...] = ()  # the categories each stored format covers
    method: str = ""  # the quantization_config's quant_method, "" when none applies
    notes: tuple[Note, ...] = ()  # what `applied` adds about the config
    _by_category: dict[Category, QuantizedWeights] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_category = {c: group for group in self.quantized for c in group.categories}
        if sum(len(group.categories) for group in self.quantized) != len(by_category):
            raise ValueError("a category is in two quantization groups")
        object.__setattr__(self, "_by_category", by_category)

    def weight_for(self, category: Category) -> DataFormat:
        group = self._by_category.get(category)
        return self.weight if group is None else group.fmt

    def gemm_peak(self, category: Category) -> str:
        """The peak a GEMM of weights of `category` runs at (see the module docstring)."""
        group = self._by_category.get(category)
        if group is not None and group.compute_peak is not None:
            return group.compute_peak
        return self.activation.peak

    def restricted_to(self, categories: Iterable[Category]) -> Precision:
        """The same precision described for a model whose rows have `categories` only: groups and
        notes about other categories dropped (the formats of present ones unchanged)."""
        present = frozenset(categories)
        groups = tuple(
            replace(group, categories=group.categories & present)
            for group in self.quantized
            if group.categories & present
        )
        notes = tuple(n for n in self.notes if not n.categories or n.categories & present)
        return replace(self, quantized=groups, notes=notes)

    @property
    def applied(self) -> str:
        """What the quantization_config set, for the output ("" when none applies)."""
        parts = [
            f"{', '.join(sorted(c.value for c in group.categories))} weights {group.fmt.name} "
            f"from quantization_config ({self.method}, "
            + (
                f"activations quantized too: {group.compute_peak} peak)"
                if group.compute_peak
                else "weight-only)"
            )
            for group in self.quantized
        ]
        return "; ".join(parts + [note.text for note in self.notes])

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
    layers: int,
    weight: str | None = None,
    activation: str | None = None,
    kv_cache: str | None = None,
) -> Precision:
    """The precision of one analysis of a model of `layers` decoder layers: the config's dtype and
    quantization, then the overrides (format names as `--weight-dtype` etc. take them)."""
    act = _option_format(activation, "--activation-dtype") or dtype
    kv = _option_format(kv_cache, "--kv-cache-dtype") or dtype
    chosen = _option_format(weight, "--weight-dtype")
    if chosen is not None:
        overridden = Note("quantization_config overridden by --weight-dtype")
        notes = (overridden,) if quantization is not None else ()
        return Precision(chosen, act, kv, notes=notes)
    if quantization is None:
        return Precision(dtype, act, kv)
    from .quantization import read_quantization  # only configs that quantize

    found = read_quantization(quantization, dtype, layers)
    return Precision(dtype, act, kv, found.groups, found.method, found.notes)


def _option_format(name: str | None, option: str) -> DataFormat | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"{option}: a format is a name such as 'fp8', got {shown(name)}")
    try:
        return lookup_format(name)
    except KeyError:
        raise UsageError(
            f"{option}: unknown format {name!r} (supported: {', '.join(format_names())})"
        ) from None
