"""Listings: the bundled model configs (`--list-models`) and accelerators (`--list-hardware`).

Each listing is data in, text out, through a renderer table keyed by output format, as the step's
`RENDERERS`: `models_listing(models, supported, fmt)` and `hardware_listing(fmt)`. Only "table"
exists so far; a format is one function and one row in `MODEL_LISTINGS` / `HARDWARE_LISTINGS`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..hardware.specs import ALIASES, CATALOG, PEAK_FORMATS, HardwareSpec
from .table import markdown_table


class ModelEntry(NamedTuple):
    """A bundled config: its hub name, its `model_type` and whether this version analyzes it."""

    name: str
    model_type: str | None
    status: str  # "analyzable", or "not supported: <the error>"


def _models_table(models: Sequence[ModelEntry], supported: Sequence[str]) -> str:
    lines = [
        f"Bundled configs ({len(models)}); model types supported: {', '.join(supported)}",
        "",
    ]
    lines += [f"  {m.name:<48} {m.model_type!s:<14} {m.status}" for m in models]
    return "\n".join(lines) + "\n"


MODEL_LISTINGS: dict[str, Callable[[Sequence[ModelEntry], Sequence[str]], str]] = {
    "table": _models_table,
}


def models_listing(
    models: Sequence[ModelEntry], supported: Sequence[str], fmt: str = "table"
) -> str:
    """The bundled configs (`models`) and the model types the registry supports, in `fmt`."""
    return MODEL_LISTINGS[fmt](models, supported)


def _hardware_table(specs: Sequence[HardwareSpec], aliases: dict[str, str]) -> str:
    formats = [f for f in PEAK_FORMATS if any(f in hw.peak_flops for hw in specs)]
    body = [
        [
            hw.name,
            hw.family or "-",
            f"{hw.memory_bytes / 1e9:g} GB",
            f"{hw.memory_bandwidth / 1e9:g} GB/s",
            *[f"{hw.peak_flops[f] / 1e12:g}" if f in hw.peak_flops else "-" for f in formats],
            f"{hw.interconnect} {(hw.interconnect_bandwidth or 0) / 1e9:g} GB/s",
        ]
        for hw in specs
    ]
    headers = ["name", "family", "memory", "bandwidth", *formats, "interconnect"]
    also = ", ".join(f"{alias} = {name}" for alias, name in aliases.items())
    sources = "\n".join(
        textwrap.fill(
            f"{hw.name}: {hw.source}",
            width=100,
            initial_indent="- ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        )
        for hw in specs
    )
    return (
        "Dense peaks (no sparsity) in TFLOP/s (TOP/s for int8, int4); memory: usable GB = 10^9 "
        "bytes; interconnect: per device, both directions summed. A format a device has no peak "
        "for runs at the next wider one it has.\n\n"
        + markdown_table(headers, body)
        + f"\n\nAlso accepted: {also}.\n\n"
        + "Sources (bracketed keys: the datasheet survey the figures come from):\n"
        + sources
        + "\n"
    )


HARDWARE_LISTINGS: dict[str, Callable[[Sequence[HardwareSpec], dict[str, str]], str]] = {
    "table": _hardware_table,
}


def hardware_listing(fmt: str = "table") -> str:
    """The bundled accelerators (core/hardware/specs.py's catalog and aliases) in `fmt`."""
    return HARDWARE_LISTINGS[fmt](CATALOG, ALIASES)
