"""`--list-models` and `--list-hardware`: the bundled configs and accelerators as a text table,
JSON or CSV.

JSON and CSV give every catalog field in the catalog's units, named in the keys (`memory_gb`:
10^9 bytes, `bandwidth_gb_s`, `peak_tflops`: dense TFLOP/s, TOP/s for the integer formats,
`interconnect_gb_s`: per device, both directions summed).
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import AnalyzerError
from ..hardware.specs import ALIASES, DATASHEETS, PEAK_FORMATS, Datasheet
from ..resolve import catalog, catalog_aliases, load_config_file
from .table import Column, table
from .terminal import PLAIN, Display
from .units import tool_version


@dataclass(frozen=True)
class ModelEntry:
    """A bundled config: its hub name, `model_type`, and why this version cannot analyze it
    (None: it can)."""

    name: str
    model_type: str | None
    reason: str | None


def model_entries() -> list[ModelEntry]:
    """Every bundled config, each tried as the analysis loads it."""
    from ..api import load_model  # the api imports the output modules

    entries = []
    for name, path in catalog().items():
        config = load_config_file(path)
        try:
            load_model(config)
            reason = None
        except AnalyzerError as exc:
            reason = str(exc)
        model_type = config.get("model_type")
        entries.append(ModelEntry(name, None if model_type is None else str(model_type), reason))
    return entries


def list_models(supported: Sequence[str], fmt: str = "table", display: Display = PLAIN) -> str:
    """The bundled configs; `supported`: the model types the registry has."""
    entries = model_entries()
    listed = {e.name for e in entries}
    aliases = {alias: name for alias, name in catalog_aliases().items() if name in listed}
    if fmt == "json":
        document = {
            "version": tool_version(),
            "supported_model_types": list(supported),
            "models": [
                {
                    "name": e.name,
                    "model_type": e.model_type,
                    "analyzable": e.reason is None,
                    "reason": e.reason,
                }
                for e in entries
            ],
            "aliases": aliases,
        }
        return json.dumps(document, indent=2) + "\n"
    aliases = {
        a: name for a, name in catalog_aliases().items() if name in {e.name for e in entries}
    }
    if fmt == "csv":  # an alias is a row whose alias_of names the bundled config
        by_name = {e.name: e for e in entries}
        return _csv(
            ["name", "model_type", "analyzable", "reason", "alias_of"],
            [[e.name, e.model_type or "", e.reason is None, e.reason or "", ""] for e in entries]
            + [
                [alias, by_name[name].model_type or "", by_name[name].reason is None, "", name]
                for alias, name in aliases.items()
            ],
        )
    lines = [
        display.fill(
            f"Bundled configs ({len(entries)}); model types supported: {', '.join(supported)}"
        ),
        "",
    ]
    for e in entries:
        status = "analyzable" if e.reason is None else f"not supported: {e.reason}"
        line = f"  {e.name:<48} {e.model_type!s:<14} {status}"
        if display.width is not None and len(line) > display.width:  # unaligned, wrapped
            line = display.fill(f"  {e.name} {e.model_type!s} {status}", " " * 6)
        lines.append(line)
    lines += [
        "",
        display.fill("Aliases (the same shapes and dtype as the bundled config; "
                     "core/catalog/SOURCES.md):"),
    ]  # fmt: skip
    for alias, name in aliases.items():
        line = f"  {alias:<48} = {name}"
        if display.width is not None and len(line) > display.width:  # unaligned, wrapped
            line = display.fill(f"  {alias} = {name}", " " * 6)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _aliases(name: str) -> list[str]:
    return [alias for alias, target in ALIASES.items() if target == name]


def _hardware_json(sheet: Datasheet) -> dict[str, Any]:
    return {
        "name": sheet.name,
        "family": sheet.family,
        "memory_gb": sheet.memory_gb,
        "bandwidth_gb_s": sheet.bandwidth_gb_s,
        "peak_tflops": sheet.peaks(),
        "interconnect": sheet.interconnect,
        "interconnect_gb_s": sheet.interconnect_gb_s,
        "aliases": _aliases(sheet.name),
        "source": sheet.source,
    }


def list_hardware(fmt: str = "table", display: Display = PLAIN) -> str:
    """The bundled accelerators with their datasheet figures, aliases and sources."""
    formats = [f for f in PEAK_FORMATS if any(f in sheet.peaks() for sheet in DATASHEETS)]
    if fmt == "json":
        document = {
            "version": tool_version(),
            "hardware": [_hardware_json(sheet) for sheet in DATASHEETS],
        }
        return json.dumps(document, indent=2) + "\n"
    if fmt == "csv":
        header = [
            "name",
            "family",
            "memory_gb",
            "bandwidth_gb_s",
            *[f"peak_tflops[{f}]" for f in formats],
            "interconnect",
            "interconnect_gb_s",
            "aliases",
            "source",
        ]
        rows = [
            [
                s.name,
                s.family,
                f"{s.memory_gb:g}",
                f"{s.bandwidth_gb_s:g}",
                *["" if s.peaks().get(f) is None else f"{s.peaks()[f]:g}" for f in formats],
                s.interconnect,
                f"{s.interconnect_gb_s:g}",
                " ".join(_aliases(s.name)),
                s.source,
            ]
            for s in DATASHEETS
        ]
        return _csv(header, rows)
    return _hardware_text(formats, display)


# Hidden to fit a width: the formats models seldom run in first (the name is never hidden).
_FORMAT_RANKS = {
    "fp32": 4,
    "tf32": 5,
    "bf16": 0,
    "fp16": 3,
    "fp8": 1,
    "int8": 3,
    "int4": 4,
    "fp4": 2,
}


def _hardware_text(formats: Sequence[str], display: Display) -> str:
    columns = [
        Column("name"),
        Column("family", rank=6),
        Column("memory", rank=1),
        Column("bandwidth", rank=1),
        *[Column(f, rank=_FORMAT_RANKS[f]) for f in formats],
        Column("interconnect", rank=7),
    ]
    body = [
        [
            s.name,
            s.family or "-",
            f"{s.memory_gb:g} GB",
            f"{s.bandwidth_gb_s:g} GB/s",
            *[f"{s.peaks()[f]:g}" if f in s.peaks() else "-" for f in formats],
            f"{s.interconnect} {s.interconnect_gb_s:g} GB/s",
        ]
        for s in DATASHEETS
    ]
    aliases = ", ".join(f"{alias} = {name}" for alias, name in ALIASES.items())
    sources = "\n".join(
        textwrap.fill(
            f"{s.name}: {s.source}",
            width=display.width or 100,
            initial_indent="- ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        )
        for s in DATASHEETS
    )
    return (
        display.fill(
            "Dense peaks (no sparsity) in TFLOP/s (TOP/s for int8, int4); memory: usable GB = "
            "10^9 bytes; interconnect: per device, both directions summed. A format a device has "
            "no peak for runs at the next wider one it has."
        )
        + "\n\n"
        + table(columns, body, display)
        + "\n\n"
        + display.fill(f"Also accepted: {aliases}.")
        + "\n\n"
        + display.fill("Sources (bracketed keys: the datasheet survey the figures come from):")
        + "\n"
        + sources
        + "\n"
    )


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
