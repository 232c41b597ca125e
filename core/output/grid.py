"""Scenario grids: render scenarios (`GRID_RENDERERS`, by output format; the chart is plot.py's
`plot_grid`). The sweep values' syntax is core/options.py's."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api import Scenario, resolve_devices
from ..base_parser import BaseModelConfigParser
from ..hardware.efficiency import Efficiency, parameter_values
from ..hardware.roofline import default_efficiency
from ..model.parallel import Parallelism
from .plot import plot_grid as plot_grid  # the chart lives with the others
from .table import Column, table
from .terminal import PLAIN, Display
from .units import format_bytes, format_flops, format_rate, format_seconds, tool_version


@dataclass(frozen=True)
class GridRun:
    """What a grid was run with: the header of its JSON, constant columns of its CSV."""

    source: str
    parser: BaseModelConfigParser
    parallel: Parallelism
    input_tokens: int
    execution: str
    hardware: Sequence[tuple[str, Efficiency]] = ()  # each device and its expected-estimate

    @classmethod
    def of(
        cls,
        source: str,
        parser: BaseModelConfigParser,
        parallel: Parallelism,
        input_tokens: int,
        execution: str,
        hardware: Sequence[str] = (),
        efficiency_profile: str | None = None,
        efficiency: Mapping[str, Any] | None = None,
    ) -> GridRun:
        """The run of `sweep` with these arguments (each device's parameters as it takes them)."""
        devices = [
            (hw.name, default_efficiency(hw, efficiency_profile, efficiency))
            for hw in resolve_devices(hardware)
        ]
        return cls(source, parser, parallel, input_tokens, execution, devices)

    def json(self) -> dict[str, Any]:
        """The keys a step's JSON has for the same things."""
        precision = self.parser.precision
        return {
            "version": tool_version(),
            "model": {
                "source": self.source,
                "model_type": str(self.parser.config.get("model_type", self.parser.model_type)),
            },
            "precision": {
                "weight": precision.weight.name,
                "activation": precision.activation.name,
                "kv_cache": precision.kv_cache.name,
            },
            "parallel": {
                "tensor": self.parallel.tp,
                "pipeline": self.parallel.pp,
                "expert": self.parallel.ep,
                "devices": self.parallel.devices,
            },
            "input_tokens": self.input_tokens,
            "execution": self.execution,
            "hardware": [
                {
                    "name": name,
                    "efficiency": {
                        "profile": eff.profile,
                        "parameters": dict(parameter_values(eff)),
                    },
                }
                for name, eff in self.hardware
            ],
        }

    def columns(self) -> dict[str, Any]:
        """The CSV's constant columns (the efficiency profile is per device: its own column)."""
        document = self.json()
        return {
            "model": self.source,
            "model_type": document["model"]["model_type"],
            "weight_format": document["precision"]["weight"],
            "activation_format": document["precision"]["activation"],
            "kv_cache_format": document["precision"]["kv_cache"],
            "tensor_parallel": self.parallel.tp,
            "pipeline_parallel": self.parallel.pp,
            "expert_parallel": self.parallel.ep,
            "execution": self.execution,
        }


def render_grid_table(scenarios: Sequence[Scenario], header: str, display: Display = PLAIN) -> str:
    devices = list(dict.fromkeys(s.hardware for s in scenarios if s.hardware))
    points = list(dict.fromkeys((s.batch_size, s.cached_tokens) for s in scenarios))
    by_key = {(s.batch_size, s.cached_tokens, s.hardware): s for s in scenarios}
    columns = [  # hidden to fit a width: the input first, batch and context never
        Column("Batch"),
        Column("Cached"),
        Column("Input", rank=6),
        Column("FLOPs", rank=5),
        Column("Memory per device", "Memory", rank=4),
    ]
    several = len(devices) > 1
    for k, device in enumerate(devices, 1):
        tag, first = (f" {k}" if several else ""), k == 1
        columns += [
            Column(f"Step ({device})", f"Step{tag}", rank=0 if first else 2),
            Column(f"Tokens/s ({device})", f"Tok/s{tag}", rank=0 if first else 2),
            Column("Bound", f"Bound{tag}", rank=1 if first else 3, bound=True),
            Column("Fits", f"Fits{tag}", rank=1 if first else 3),
        ]
    legend = (
        "Devices: " + ", ".join(f"{k} = {d}" for k, d in enumerate(devices, 1)) + "."
        if several
        else ""
    )
    body = []
    for batch, cached in points:
        first = by_key[(batch, cached, devices[0] if devices else None)]
        row = [
            str(batch),
            str(cached),
            str(first.input_tokens),
            format_flops(first.flops),
            format_bytes(first.memory_bytes),
        ]
        for device in devices:
            s = by_key[(batch, cached, device)]
            row += [
                format_seconds(s.step_time_s or 0.0),
                format_rate(s.tokens_per_s or 0.0),
                str(s.bound),
                "yes" if s.fits else "no",
            ]
        body.append(row)
    return f"{display.fill(header)}\n\n{table(columns, body, display, legend)}\n"


_FIELDS = tuple(Scenario.__dataclass_fields__)


def _record(s: Scenario) -> dict[str, Any]:
    return {f: getattr(s, f) for f in _FIELDS}  # dataclasses.asdict is 4x slower


def render_grid_json(scenarios: Sequence[Scenario], run: GridRun | None = None) -> str:
    """One record per scenario and device; with `run`, what it was run with beside them."""
    header = run.json() if run is not None else {"version": tool_version()}
    document = {**header, "scenarios": [_record(s) for s in scenarios]}
    return json.dumps(document, indent=2) + "\n"


def render_grid_csv(scenarios: Sequence[Scenario], run: GridRun | None = None) -> str:
    """One row per scenario and device; with `run`, what it was run with in constant columns
    after the scenario's (one table, so any CSV reader takes it, and files of several runs
    concatenate) and the device's efficiency profile."""
    out = io.StringIO()
    constant = run.columns() if run is not None else {}
    profiles = {name: eff.profile for name, eff in run.hardware} if run is not None else {}
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_FIELDS, *constant, *(["efficiency_profile"] if run else [])])
    fixed = list(constant.values())
    for s in scenarios:
        record = _record(s)
        cells = ["" if record[f] is None else record[f] for f in _FIELDS]
        if run is not None:
            cells += [*fixed, profiles.get(s.hardware or "", "")]
        writer.writerow(cells)
    return out.getvalue()


def _grid_table(scenarios: Sequence[Scenario], run: GridRun, title: str, display: Display) -> str:
    return render_grid_table(scenarios, title, display)


def _grid_json(scenarios: Sequence[Scenario], run: GridRun, title: str, display: Display) -> str:
    return render_grid_json(scenarios, run)


def _grid_csv(scenarios: Sequence[Scenario], run: GridRun, title: str, display: Display) -> str:
    return render_grid_csv(scenarios, run)


# format -> renderer of (scenarios, what they were run with, the table's title, the display)
GRID_RENDERERS: dict[str, Callable[[Sequence[Scenario], GridRun, str, Display], str]] = {
    "table": _grid_table,
    "json": _grid_json,
    "csv": _grid_csv,
}
