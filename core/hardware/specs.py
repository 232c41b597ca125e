"""Accelerator specs: a bundled catalog of datasheet figures and user-editable spec files.

A spec carries memory capacity and bandwidth, *dense* peak FLOP/s per compute format (sparse "up
to" figures are 2x and never used), optional efficiency factors (1.0 = the ideal roofline; lower
them for "achievable" numbers), an optional interconnect bandwidth and its source. Units in the
catalog and in spec files: GB = 10^9 bytes, GB/s = 10^9 bytes/s, TFLOP/s = 10^12 FLOP/s.

Spec file schema (JSON or YAML; unknown keys are an error, to catch typos):

    name: My-GPU                   # required
    memory_gb: 80                  # required, > 0
    memory_bandwidth_gb_s: 3350    # required, > 0
    peak_tflops: {bf16: 989.4, fp16: 989.4, fp8: 1978.9}   # required, dense, > 0 each
    compute_efficiency: 1.0        # optional, 0 < x <= 1
    memory_efficiency: 1.0         # optional, 0 < x <= 1
    interconnect: NVLink           # optional
    interconnect_gb_s: 900         # optional, per device, bidirectional
    source: vendor datasheet, ...  # optional for user files
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from core.errors import HardwareSpecError
from core.model.config import read_json, read_text

# Compute formats a spec may give a peak for.
PEAK_FORMATS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4")
# A device without a peak for a format runs it at the next format it has: fp8 on an A100 is
# upcast to 16-bit, a missing fp16 peak (TPU) is the bf16 one, a missing fp32 vector peak is the
# bf16 one.
FALLBACK: dict[str, tuple[str, ...]] = {
    "fp4": ("fp8", "bf16", "fp16"),
    "int4": ("int8", "fp16", "bf16"),
    "fp8": ("bf16", "fp16"),
    "int8": ("fp16", "bf16"),
    "fp16": ("bf16",),
    "bf16": ("fp16",),
    "tf32": ("fp32",),
    "fp32": ("tf32", "bf16", "fp16"),
}

_GIGA = 10**9
_TERA = 10**12


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    memory_bytes: int
    memory_bandwidth: float  # bytes/s
    peak_flops: Mapping[str, float]  # FLOP/s per compute format, dense
    compute_efficiency: float = 1.0
    memory_efficiency: float = 1.0
    interconnect: str = ""
    interconnect_bandwidth: float | None = None  # bytes/s, per device, bidirectional
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def peak_for(self, fmt: str) -> tuple[str, float]:
        """(format actually used, its dense peak FLOP/s) for multiplies in `fmt`."""
        for candidate in (fmt, *FALLBACK.get(fmt, ())):
            if candidate in self.peak_flops:
                return candidate, self.peak_flops[candidate]
        raise HardwareSpecError(f"{self.name}: no peak for {fmt} or any fallback format")


_DENSE = "dense tensor-core figures; sparsity figures (2x) not used"
_SOURCES = {
    "A100": f"NVIDIA A100 Tensor Core GPU datasheet; {_DENSE}",
    "H100 SXM": f"NVIDIA H100 Tensor Core GPU datasheet (SXM5); {_DENSE}",
    "H100 PCIe": f"NVIDIA H100 Tensor Core GPU datasheet (PCIe); {_DENSE}",
    "H200": f"NVIDIA H200 Tensor Core GPU datasheet (SXM); {_DENSE}",
    "B200": f"NVIDIA DGX B200 / HGX B200 datasheet, per GPU; {_DENSE}",
    "L40S": f"NVIDIA L40S datasheet; {_DENSE}",
    "L4": f"NVIDIA L4 Tensor Core GPU datasheet; {_DENSE}",
    "MI300X": f"AMD Instinct MI300X datasheet; {_DENSE}",
    "MI325X": f"AMD Instinct MI325X datasheet; {_DENSE}",
    "TPU v5e": "Google Cloud TPU v5e documentation (per chip)",
    "TPU v5p": "Google Cloud TPU v5p documentation (per chip)",
}
# Dense TFLOP/s: bf16 (= fp16), fp8, int8, fp4, fp32 (vector); GB; GB/s; interconnect (per device,
# bidirectional, GB/s); source. tf32 is half the bf16 figure on NVIDIA parts. TPUs multiply
# bf16, not fp16 (an fp16 GEMM falls back to the bf16 peak).
_NVIDIA = frozenset({"A100", "H100 SXM", "H100 PCIe", "H200", "B200", "L40S", "L4"})
_BF16_ONLY = frozenset({"TPU v5e", "TPU v5p"})
_TABLE: tuple[tuple, ...] = (
    ("A100-SXM4-40GB", 312, None, 624, None, 19.5, 40, 1555, "NVLink", 600, "A100"),
    ("A100-SXM4-80GB", 312, None, 624, None, 19.5, 80, 2039, "NVLink", 600, "A100"),
    ("A100-PCIe-80GB", 312, None, 624, None, 19.5, 80, 1935, "PCIe 4.0", 64, "A100"),
    ("H100-SXM5-80GB", 989.4, 1978.9, 1978.9, None, 67, 80, 3350, "NVLink", 900, "H100 SXM"),
    ("H100-PCIe-80GB", 756, 1513, 1513, None, 51, 80, 2000, "PCIe 5.0", 128, "H100 PCIe"),
    ("H200-SXM-141GB", 989.4, 1978.9, 1978.9, None, 67, 141, 4800, "NVLink", 900, "H200"),
    ("B200-180GB", 2250, 4500, 4500, 9000, None, 180, 8000, "NVLink", 1800, "B200"),
    ("L40S-48GB", 362, 733, 733, None, 91.6, 48, 864, "PCIe 4.0", 64, "L40S"),
    ("L4-24GB", 121, 242.5, 242.5, None, 30.3, 24, 300, "PCIe 4.0", 64, "L4"),
    ("MI300X-192GB", 1307.4, 2614.9, 2614.9, None, 163.4, 192, 5300, "Infinity Fabric", 896,
     "MI300X"),
    ("MI325X-256GB", 1307.4, 2614.9, 2614.9, None, None, 256, 6000, "Infinity Fabric", 896,
     "MI325X"),
    ("TPU-v5e", 197, None, 394, None, None, 16, 819, "ICI", 200, "TPU v5e"),
    ("TPU-v5p", 459, None, 918, None, None, 95, 2765, "ICI", 600, "TPU v5p"),
)  # fmt: skip


def _catalog_spec(row: tuple) -> HardwareSpec:
    name, bf16, fp8, int8, fp4, fp32, memory_gb, bandwidth, link, link_gb_s, source = row
    peaks = {"bf16": bf16, "int8": int8, "fp8": fp8, "fp4": fp4, "fp32": fp32}
    if source not in _BF16_ONLY:
        peaks["fp16"] = bf16
    if source in _NVIDIA:
        peaks["tf32"] = bf16 / 2
    return HardwareSpec(
        name=name,
        memory_bytes=memory_gb * _GIGA,
        memory_bandwidth=bandwidth * _GIGA,
        peak_flops={k: v * _TERA for k, v in peaks.items() if v is not None},
        interconnect=link,
        interconnect_bandwidth=link_gb_s * _GIGA,
        source=_SOURCES[source],
    )


CATALOG: tuple[HardwareSpec, ...] = tuple(_catalog_spec(row) for row in _TABLE)

_BY_NAME = {spec.name.lower(): spec for spec in CATALOG}
_SPEC_SUFFIXES = (".json", ".yaml", ".yml")
_KEYS = {
    "name",
    "memory_gb",
    "memory_bandwidth_gb_s",
    "peak_tflops",
    "compute_efficiency",
    "memory_efficiency",
    "interconnect",
    "interconnect_gb_s",
    "source",
}


def resolve_hardware(name: str) -> HardwareSpec:
    """A catalog entry by name (case-insensitive), or a spec file by path."""
    if name.lower() in _BY_NAME:
        return _BY_NAME[name.lower()]
    path = Path(name).expanduser()
    if path.is_file() or path.suffix.lower() in _SPEC_SUFFIXES:
        return load_spec(path)
    raise HardwareSpecError(
        f"unknown hardware {name!r}: not a catalog name (see --list-hardware) and not a "
        ".json/.yaml spec file"
    )


def load_spec(path: Path) -> HardwareSpec:
    """A user spec file (JSON or YAML, by suffix), validated; one clear error otherwise."""
    if path.suffix.lower() == ".json":
        data = read_json(path, HardwareSpecError, "hardware spec")
    else:
        text = read_text(path, HardwareSpecError, "hardware spec")
        import yaml  # only spec files need it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise HardwareSpecError(f"{path}: malformed YAML{where}") from None
    return spec_from_dict(data, str(path))


def spec_from_dict(data: Any, where: str) -> HardwareSpec:
    """Validate a spec mapping (the schema in this module's docstring)."""
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{where}: a hardware spec must be a mapping of fields")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise HardwareSpecError(
            f"{where}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(sorted(_KEYS))})"
        )
    for key in ("name", "memory_gb", "memory_bandwidth_gb_s", "peak_tflops"):
        if data.get(key) is None:
            raise HardwareSpecError(f"{where}: missing required field '{key}'")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise HardwareSpecError(f"{where}: 'name' must be a non-empty string")
    peaks = data["peak_tflops"]
    if not isinstance(peaks, Mapping) or not peaks:
        raise HardwareSpecError(f"{where}: 'peak_tflops' must map formats to TFLOP/s")
    for fmt in peaks:
        if fmt not in PEAK_FORMATS:
            raise HardwareSpecError(
                f"{where}: unknown compute format {fmt!r} in 'peak_tflops' "
                f"(formats: {', '.join(PEAK_FORMATS)})"
            )
    efficiency = {
        key: _positive(data, key, where, default=1.0, at_most=1.0)
        for key in ("compute_efficiency", "memory_efficiency")
    }
    link = data.get("interconnect_gb_s")
    return HardwareSpec(
        name=name,
        memory_bytes=int(_decimal(data, "memory_gb", where) * _GIGA),
        memory_bandwidth=_positive(data, "memory_bandwidth_gb_s", where) * _GIGA,
        peak_flops={
            str(fmt): _positive(peaks, str(fmt), f"{where}: peak_tflops") * _TERA for fmt in peaks
        },
        compute_efficiency=efficiency["compute_efficiency"],
        memory_efficiency=efficiency["memory_efficiency"],
        interconnect=str(data.get("interconnect", "")),
        interconnect_bandwidth=(
            None if link is None else _positive(data, "interconnect_gb_s", where) * _GIGA
        ),
        source=str(data.get("source") or f"user spec {where}"),
    )


def _decimal(data: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = data.get(key)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal(-1)
    if isinstance(value, bool) or not isinstance(value, int | float) or not number > 0:
        raise HardwareSpecError(f"{where}: '{key}' must be a positive number, got {value!r}")
    return number


def _positive(
    data: Mapping[str, Any],
    key: str,
    where: str,
    *,
    default: float | None = None,
    at_most: float | None = None,
) -> float:
    if data.get(key) is None and default is not None:
        return default
    value = float(_decimal(data, key, where))
    if at_most is not None and value > at_most:
        raise HardwareSpecError(f"{where}: '{key}' must be at most {at_most}, got {value}")
    return value
