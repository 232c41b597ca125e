"""The expected time of a step on real engines: an explicit efficiency model beside the roofline.

The ideal roofline (core/hardware/roofline.py) is a lower bound: every op at the datasheet peak or
bandwidth, nothing between them. Real engines miss it in a few ways, each one parameter here with
a physical meaning (values in core/hardware/efficiency.json, fitted on published measurements
by tools/calibrate.py; the README gives them and the error of the fit):

- `bandwidth`: the fraction of the datasheet memory bandwidth a streaming kernel reaches (about
  0.7-0.85 on GPUs), per device family;
- `dequant[class]`: a further factor on the weight bytes of a GEMM whose weights are stored in a
  narrower format than it multiplies in (weight-only int8 / int4 / fp4 GEMV kernels dequantize on
  the fly and stream slower);
- `gemm[format]` and `gemm_half_rows`: a GEMM of M activation rows reaches
  gemm[format] * M / (M + gemm_half_rows) of the dense peak of the format it multiplies in (small
  M cannot fill the tensor cores; fp8 kernels reach a smaller share of their peak than 16-bit
  ones);
- `attention`: the fraction of the peak attention kernels (and scans) reach on their FLOPs;
- `kernel_launch_s`: the time each kernel costs beyond its roofline (launch, prologue, tail;
  smaller with CUDA graphs): every row that is not fused away is one kernel per block;
- `step_overhead_s`: a fixed cost per step (scheduler, sampling, host work);
- `request_overhead_s`: a fixed cost per request before its first token (tokenization, admission,
  the HTTP round trip a benchmark client sees): part of the time to first token;
- `prompt_token_overhead_s`: host work per prompt token before the first token (tokenizing the
  prompt, preparing its inputs and cache pages): part of the time to first token, times the
  prompt tokens the first step takes in;
- `collective_latency_s` and `interconnect`: a collective costs a latency plus its bytes at that
  fraction of the link bandwidth.

Expected time of a row (per block) = max(FLOPs / (peak x efficiency), bytes / (bandwidth x
efficiency)) + kernel_launch_s; of a step = sum over rows x blocks + step_overhead_s. With every
efficiency 1 and no overheads it is the ideal roofline exactly; it is never below it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import AnalyzerError, HardwareSpecError, UsageError

DATA = Path(__file__).resolve().parent / "efficiency.json"

# Parameters that are one number, and the mappings (by format) with their keys.
_SCALARS = (
    "bandwidth",
    "gemm_half_rows",
    "attention",
    "kernel_launch_s",
    "step_overhead_s",
    "request_overhead_s",
    "prompt_token_overhead_s",
    "collective_latency_s",
    "interconnect",
)
_FRACTIONS = ("bandwidth", "attention", "interconnect")
_MAPPINGS = {
    "dequant": ("int8", "int4", "fp4", "fp8"),
    "gemm": ("bf16", "fp16", "fp8", "int8", "fp4", "int4", "tf32", "fp32"),
}


@dataclass(frozen=True)
class Efficiency:
    """One engine's efficiency on one device family (see the module docstring)."""

    bandwidth: float = 1.0
    dequant: Mapping[str, float] = field(default_factory=dict)  # missing class: 1
    gemm: Mapping[str, float] = field(default_factory=dict)  # missing format: 1
    gemm_half_rows: float = 0.0
    attention: float = 1.0
    kernel_launch_s: float = 0.0
    step_overhead_s: float = 0.0
    request_overhead_s: float = 0.0
    prompt_token_overhead_s: float = 0.0
    collective_latency_s: float = 0.0
    interconnect: float = 1.0
    profile: str = "ideal"  # where the values come from, for the output

    def gemm_efficiency(self, fmt: str, rows: float) -> float:
        """The share of the `fmt` peak a GEMM of `rows` activation rows per weight matrix
        reaches."""
        ceiling = self.gemm.get(fmt, 1.0)
        if self.gemm_half_rows <= 0:
            return ceiling
        return ceiling * rows / (rows + self.gemm_half_rows)

    def with_values(
        self, values: Mapping[str, Any], where: str, error: type[AnalyzerError] = HardwareSpecError
    ) -> Efficiency:
        """These parameters with `values` (a spec file's or the command line's) over them; a bad
        value is one `error` line naming the key."""
        if not isinstance(values, Mapping):
            raise error(f"{where}: efficiency parameters must map names to values")
        try:
            return replace(self, **_validated(values, where, self))
        except HardwareSpecError as exc:
            raise error(str(exc)) from None


IDEAL = Efficiency()


def _validated(values: Mapping[str, Any], where: str, base: Efficiency) -> dict[str, Any]:
    """Checked parameter values (one-line HardwareSpecError naming the key otherwise)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in _SCALARS:
            out[key] = _number(value, f"{where}: efficiency '{key}'", fraction=key in _FRACTIONS)
        elif key in _MAPPINGS:
            if not isinstance(value, Mapping):
                raise HardwareSpecError(f"{where}: efficiency '{key}' must map formats to numbers")
            merged = dict(getattr(base, key))
            for fmt, number in value.items():
                if fmt not in _MAPPINGS[key]:
                    raise HardwareSpecError(
                        f"{where}: efficiency '{key}' has an unknown format {fmt!r} "
                        f"(formats: {', '.join(_MAPPINGS[key])})"
                    )
                merged[fmt] = _number(number, f"{where}: efficiency '{key}.{fmt}'", fraction=True)
            out[key] = merged
        else:
            known = ", ".join((*_SCALARS, *_MAPPINGS))
            raise HardwareSpecError(
                f"{where}: unknown efficiency parameter {key!r} (known: {known})"
            )
    return out


def _number(value: Any, what: str, *, fraction: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise HardwareSpecError(f"{what} must be a number, got {value!r}")
    if fraction and not 0 < value <= 1:
        raise HardwareSpecError(f"{what} must be in (0, 1], got {value!r}")
    if not fraction and not 0 <= value < 1e6:
        raise HardwareSpecError(f"{what} must be >= 0, got {value!r}")
    return float(value)


@cache
def _profiles() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def profile_names() -> list[str]:
    return sorted(_profiles()["profiles"])


def default_profile() -> str:
    return str(_profiles()["default"])


@cache
def efficiency_for(profile: str, family: str) -> Efficiency:
    """The parameters of engine `profile` on a device of `family`: the profile's defaults with
    its values for that family (if it has any) over them."""
    profiles = _profiles()["profiles"]
    if profile not in profiles:
        raise UsageError(
            f"--efficiency-profile: unknown profile {profile!r} (profiles: "
            f"{', '.join(sorted(profiles))})"
        )
    entry = profiles[profile]
    where = f"{DATA.name} profile {profile}"
    base = replace(IDEAL, profile=profile).with_values(entry["parameters"], where)
    family_values = entry.get("families", {}).get(family)
    return base if family_values is None else base.with_values(family_values, where)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--efficiency KEY=VALUE ...` (KEY may be `gemm.fp8`): the values, validated later."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        try:
            number = float(text)
        except ValueError:
            number = None
        if not sep or number is None:
            raise UsageError(
                f"--efficiency {item!r}: expected KEY=NUMBER, e.g. bandwidth=0.8 or gemm.fp8=0.5"
            )
        head, dot, fmt = key.partition(".")
        if dot:
            values.setdefault(head, {})[fmt] = number
        else:
            values[key] = number
    return values


def parameter_values(eff: Efficiency) -> list[tuple[str, float | dict[str, float]]]:
    """(name, value) of every parameter, for the output."""
    return [
        (f.name, dict(getattr(eff, f.name)) if f.name in _MAPPINGS else getattr(eff, f.name))
        for f in fields(Efficiency)
        if f.name != "profile"
    ]
