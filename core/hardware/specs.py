"""Accelerator specs: a bundled catalog of datasheet figures and user-editable spec files.

A spec carries memory capacity and bandwidth, *dense* peak FLOP/s per compute format (sparse "up
to" figures are 2x and never used), optional efficiency factors (1.0 = the ideal roofline; lower
them for "achievable" numbers), an optional interconnect bandwidth, an optional architecture
family and its source. Units in the catalog and in spec files: GB = 10^9 bytes, GB/s = 10^9
bytes/s, TFLOP/s = 10^12 FLOP/s (TOP/s for the integer formats).

The catalog (`DATASHEETS`) is one literal table, one `Datasheet` per device as software sees it
(one CUDA / ROCm / XLA device: a GPU of a GB200 superchip, one GCD of an MI250X, one TPU chip):
- every peak is the vendor's *dense* figure; a format left out is not published or not supported
  and runs at the next format the device has (`FALLBACK`);
- `memory_gb` is what software can use, in 10^9 bytes: vendors' HBM "80 GB" is GiB, so an H100
  holds 81,559 MiB = 85.5 GB (the `nvidia-smi` / `rocm-smi` total where one is recorded, else
  the GiB capacity);
- `interconnect_gb_s` is the scale-up fabric per device, both directions summed;
- `source` names the documents (bracketed keys are those of the datasheet survey the figures were
  taken from, shared/hardware/DATASHEETS.md) and, where sources disagree, which figure was chosen
  and why.
Other names a device is sold under are explicit rows of `ALIASES`.

Spec file schema (JSON or YAML; unknown keys are an error, to catch typos):

    name: My-GPU                   # required
    memory_gb: 80                  # required, > 0, usable GB
    memory_bandwidth_gb_s: 3350    # required, > 0
    peak_tflops: {bf16: 989.4, fp16: 989.4, fp8: 1978.9}   # required, dense, > 0 each
    compute_efficiency: 1.0        # optional, 0 < x <= 1
    memory_efficiency: 1.0         # optional, 0 < x <= 1
    interconnect: NVLink           # optional
    interconnect_gb_s: 900         # optional, per device, bidirectional
    family: hopper                 # optional, one of FAMILIES (anything else is an error)
    efficiency:                    # optional: parameters of the expected estimate for this
      bandwidth: 0.82              #   device, over the profile's (core/hardware/efficiency.py)
      gemm: {bf16: 0.7, fp8: 0.5}
    source: vendor datasheet, ...  # optional for user files
    price_per_gpu_hour: 2.5        # optional: what one device costs per hour, for --plan's cost

Example spec files ship inside the package (`EXAMPLES`, `core/hardware/examples/`; the repository's
`examples/hardware/` links to it), so they work from any directory and after `pip install`: a
spec argument that is not an existing file but names a bundled example by its file name
(`my-gpu.yaml`) or by its path in the repository (`examples/hardware/my-gpu.yaml`) loads the
bundled copy (`bundled_example`). An existing file always wins.

`family` must be a known name, not free text: code may pick per-architecture parameters by it, so
a typo must fail loudly rather than quietly fall back to generic behaviour. Leave it out for a
device of no listed family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import HardwareSpecError, did_you_mean, shown
from ..model.config import read_json, read_text
from .efficiency import IDEAL

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

# Architecture generations: the `family` of a device (catalog or spec file).
FAMILIES: dict[str, str] = {
    "ampere": "NVIDIA Ampere data-center GPUs (sm_80): A100",
    "hopper": "NVIDIA Hopper (sm_90): H100, H800, H20, H200",
    "ada": "NVIDIA Ada Lovelace (sm_89): L40S, L20, L4",
    "blackwell": "NVIDIA Blackwell data-center GPUs (sm_100): B200, GB200",
    "blackwell-ultra": "NVIDIA Blackwell Ultra (sm_103): B300, GB300 (int8 far below fp8)",
    "blackwell-rtx": "NVIDIA Blackwell with GDDR7 (sm_120): RTX PRO 6000",
    "cdna2": "AMD CDNA 2: MI250X (one GCD per device)",
    "cdna3": "AMD CDNA 3: MI300X, MI325X",
    "cdna4": "AMD CDNA 4: MI350X, MI355X (no TF32 GEMM)",
    "tpu-v5": "Google TPU v5e, v5p",
    "tpu-v6": "Google TPU v6e (Trillium)",
    "tpu-v7": "Google TPU7x (Ironwood)",
    "gaudi3": "Intel Gaudi 3",
    "trainium2": "AWS Trainium2",
}

_GIGA = 10**9
_TERA = 10**12
_SI_MIN, _SI_MAX = 1e3, 1e24  # bytes, bytes/s, FLOP/s: what a spec file's units allow


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
    family: str | None = None  # a key of FAMILIES, or None (a spec file that names none)
    efficiency: Mapping[str, Any] | None = None  # a spec file's expected-estimate parameters
    price_per_gpu_hour: float | None = None  # a spec file's price of one device, per hour

    def __post_init__(self) -> None:
        """A spec built in Python is held to the spec file's rules: sizes (bytes, bytes/s,
        FLOP/s) from 1e3 to 1e24 (a file's 1e-6 to 1e12 GB, GB/s or TFLOPS), efficiencies in
        (0, 1]; so every time it gives is finite."""
        sizes = {
            "memory_bytes": self.memory_bytes,
            "memory_bandwidth": self.memory_bandwidth,
            **{f"peak_flops[{fmt}]": peak for fmt, peak in self.peak_flops.items()},
        }
        if self.interconnect_bandwidth is not None:
            sizes["interconnect_bandwidth"] = self.interconnect_bandwidth
        fractions = {
            "compute_efficiency": self.compute_efficiency,
            "memory_efficiency": self.memory_efficiency,
        }
        checks: list[tuple[dict[str, Any], Callable[[float], bool], str]] = [
            (sizes, lambda v: _SI_MIN <= v <= _SI_MAX, f"from {_SI_MIN:.0e} to {_SI_MAX:.0e}"),
            (fractions, lambda v: 0 < v <= 1, "in (0, 1]"),
        ]
        for figures, valid, what in checks:
            for key, value in figures.items():
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not valid(value)
                ):
                    raise HardwareSpecError(
                        f"{self.name}: '{key}' must be a number {what}, got {shown(value)}"
                    )

    def peak_for(self, fmt: str) -> tuple[str, float]:
        """(format actually used, its dense peak FLOP/s) for multiplies in `fmt`."""
        for candidate in (fmt, *FALLBACK.get(fmt, ())):
            if candidate in self.peak_flops:
                return candidate, self.peak_flops[candidate]
        raise HardwareSpecError(f"{self.name}: no peak for {fmt} or any fallback format")


@dataclass(frozen=True, kw_only=True)
class Datasheet:
    """One catalog device, in the catalog units (module docstring). Peaks are dense TFLOP/s
    (TOP/s for int8/int4); None = not published or not supported (the fallback applies)."""

    name: str
    family: str  # a key of FAMILIES
    memory_gb: float  # usable, 10^9 bytes
    bandwidth_gb_s: float
    bf16: float
    fp16: float | None = None
    tf32: float | None = None
    fp32: float | None = None  # vector
    fp8: float | None = None
    int8: float | None = None
    int4: float | None = None
    fp4: float | None = None
    interconnect: str
    interconnect_gb_s: float  # scale-up fabric, per device, bidirectional
    source: str

    def peaks(self) -> dict[str, float]:
        """Dense TFLOP/s per compute format this device has a figure for."""
        return {f: peak for f in PEAK_FORMATS if (peak := getattr(self, f)) is not None}

    def spec(self) -> HardwareSpec:
        return HardwareSpec(
            name=self.name,
            memory_bytes=int(Decimal(str(self.memory_gb)) * _GIGA),
            memory_bandwidth=self.bandwidth_gb_s * _GIGA,
            peak_flops={f: peak * _TERA for f, peak in self.peaks().items()},
            interconnect=self.interconnect,
            interconnect_bandwidth=self.interconnect_gb_s * _GIGA,
            source=self.source,
            family=self.family,
        )


_DENSE = "dense figures (the printed sparse ones are 2x)"
DATASHEETS: tuple[Datasheet, ...] = (
    # ---- NVIDIA Ampere
    Datasheet(
        name="A100-SXM4-40GB", family="ampere", memory_gb=42.9, bandwidth_gb_s=1555,
        fp32=19.5, tf32=156, bf16=312, fp16=312, int8=624, int4=1248,
        interconnect="NVLink 3", interconnect_gb_s=600,
        source=f"NVIDIA A100 datasheet [N1], ml-engineering table [X1]; {_DENSE}. "
        "\"40GB\" is 40 GiB: 40,960 MiB = 42.9 GB usable.",
    ),
    Datasheet(
        name="A100-SXM4-80GB", family="ampere", memory_gb=85.9, bandwidth_gb_s=2039,
        fp32=19.5, tf32=156, bf16=312, fp16=312, int8=624, int4=1248,
        interconnect="NVLink 3", interconnect_gb_s=600,
        source=f"NVIDIA A100 datasheet [N1], ml-engineering table [X1]; {_DENSE}. "
        "\"80GB\" is 80 GiB: 81,920 MiB = 85.9 GB usable.",
    ),
    Datasheet(
        name="A100-PCIe-80GB", family="ampere", memory_gb=85.9, bandwidth_gb_s=1935,
        fp32=19.5, tf32=156, bf16=312, fp16=312, int8=624, int4=1248,
        interconnect="PCIe 4.0", interconnect_gb_s=64,
        source=f"NVIDIA A100 datasheet [N1], ml-engineering table [X1]; {_DENSE}. "
        "80 GiB = 85.9 GB usable. Interconnect: PCIe, what TP > 2 crosses (an NVLink bridge, "
        "600 GB/s, joins only a pair of cards).",
    ),
    # ---- NVIDIA Hopper
    Datasheet(
        name="H100-SXM5-80GB", family="hopper", memory_gb=85.5, bandwidth_gb_s=3350,
        fp32=67, tf32=494.7, bf16=989.4, fp16=989.4, fp8=1978.9, int8=1978.9,
        interconnect="NVLink 4", interconnect_gb_s=900,
        source=f"NVIDIA H100 datasheet, SXM5 [N2], torchtitan [X3]; {_DENSE}. "
        "\"80GB\": 81,559 MiB = 85.5 GB usable. Bandwidth: the datasheet's 3350 GB/s (NVIDIA's "
        "exemplar reference architecture prints 3.2 TB/s [N6]).",
    ),
    Datasheet(
        name="H100-PCIe-80GB", family="hopper", memory_gb=85.5, bandwidth_gb_s=2000,
        fp32=51, tf32=378, bf16=756, fp16=756, fp8=1513, int8=1513,
        interconnect="PCIe 5.0", interconnect_gb_s=128,
        source=f"NVIDIA H100 datasheet, PCIe [N2], torchtitan [X3]; {_DENSE}. "
        "81,559 MiB = 85.5 GB usable. Interconnect: PCIe, what TP > 2 crosses (an NVLink "
        "bridge, 600 GB/s, joins only a pair of cards).",
    ),
    Datasheet(
        name="H100-NVL-94GB", family="hopper", memory_gb=100.5, bandwidth_gb_s=3900,
        fp32=60, tf32=417.5, bf16=835.5, fp16=835.5, fp8=1670.5, int8=1670.5,
        interconnect="NVLink bridge", interconnect_gb_s=600,
        source=f"NVIDIA H100 datasheet, NVL [N2], torchtitan [X3]; {_DENSE}. "
        "\"94GB\": 95,830 MiB = 100.5 GB usable. Interconnect: the NVLink bridge of a card "
        "pair; beyond the pair, PCIe 5.0 at 128 GB/s.",
    ),
    Datasheet(
        name="H800-SXM5-80GB", family="hopper", memory_gb=85.5, bandwidth_gb_s=3350,
        fp32=67, tf32=494.7, bf16=989.4, fp16=989.4, fp8=1978.9, int8=1978.9,
        interconnect="NVLink 4", interconnect_gb_s=400,
        source="Secondary sources only [X4, X5] (no NVIDIA H800 datasheet): the H100 SXM5's "
        "dense tensor peaks with NVLink cut to 8 links, 400 GB/s; FP64 cut. "
        "81,559 MiB = 85.5 GB usable.",
    ),
    Datasheet(
        name="H20-96GB", family="hopper", memory_gb=102.6, bandwidth_gb_s=4000,
        fp32=44, tf32=74, bf16=148, fp16=148, fp8=296, int8=296,
        interconnect="NVLink 4", interconnect_gb_s=900,
        source="No English NVIDIA datasheet: aiconfigurator [X2b], LLM-Prof [X4], LLMRoofline "
        "[X6], printed without a sparse figure and read as dense. 97,871 MiB = 102.6 GB usable. "
        "Bandwidth 4000 GB/s (4022 and 4096 also circulate).",
    ),
    Datasheet(
        name="H20-141GB", family="hopper", memory_gb=150.8, bandwidth_gb_s=4800,
        fp32=44, tf32=74, bf16=148, fp16=148, fp8=296, int8=296,
        interconnect="NVLink 4", interconnect_gb_s=900,
        source="H20-3e. No English NVIDIA datasheet: aiconfigurator h20_3e [X2b], LLM-Prof [X4]; "
        "the H20's peaks, printed without a sparse figure and read as dense. "
        "143,771 MiB = 150.8 GB usable.",
    ),
    Datasheet(
        name="H200-SXM-141GB", family="hopper", memory_gb=150.8, bandwidth_gb_s=4800,
        fp32=67, tf32=494.7, bf16=989.4, fp16=989.4, fp8=1978.9, int8=1978.9,
        interconnect="NVLink 4", interconnect_gb_s=900,
        source=f"NVIDIA H200 product page [N3], ml-engineering table [X1]; {_DENSE}. "
        "\"141GB\" is 141 GiB: 143,771 MiB = 150.8 GB usable.",
    ),
    # ---- NVIDIA Blackwell
    Datasheet(
        name="B200-180GB", family="blackwell", memory_gb=192.3, bandwidth_gb_s=7700,
        fp32=75, tf32=1125, bf16=2250, fp16=2250, fp8=4500, int8=4500, fp4=9000,
        interconnect="NVLink 5", interconnect_gb_s=1800,
        source=f"NVIDIA Blackwell datasheet, HGX B200 per GPU [N4], DGX B200 [N5], "
        f"exemplar-performance peaks [N6], aiconfigurator [X2, X2a]; {_DENSE}. Bandwidth "
        "7700 GB/s, the HGX/DGX B200 per-GPU figure (8000 is GB200's). fp32 75 = HGX B200 "
        "600 / 8 (the 2024 datasheet said 80). \"180GB\": 183,359 MiB = 192.3 GB usable.",
    ),
    Datasheet(
        name="GB200-186GB", family="blackwell", memory_gb=198.7, bandwidth_gb_s=8000,
        fp32=80, tf32=1250, bf16=2500, fp16=2500, fp8=5000, int8=5000, fp4=10000,
        interconnect="NVLink 5", interconnect_gb_s=1800,
        source=f"One GPU of a GB200 superchip. NVIDIA GB200 NVL72 [N7], Blackwell datasheet "
        f"[N4]; {_DENSE}. Chose the product pages' complete per-GPU set 2500 / 5000 / 10000 "
        "(with tf32, int8, fp32); NVIDIA's exemplar-performance MFU table [N6] uses 2% lower "
        "2450 / 4900 / 9800. fp32 80 (90 on another page revision). \"186GB\": 189,471 MiB = "
        "198.7 GB usable. NVLink domain of 72 GPUs.",
    ),
    # ---- NVIDIA Blackwell Ultra
    Datasheet(
        name="B300-SXM-288GB", family="blackwell-ultra", memory_gb=288.4, bandwidth_gb_s=7700,
        fp32=75, tf32=1125, bf16=2250, fp16=2250, fp8=4500, int8=150, fp4=13500,
        interconnect="NVLink 5", interconnect_gb_s=1800,
        source="NVIDIA Blackwell Ultra datasheet, HGX B300 [N8], DGX B300 [N10], "
        f"exemplar-performance peaks [N6], aiconfigurator [X2]; {_DENSE}. fp4 13500, NVIDIA's "
        "own MFU denominator [N6] (= HGX B300 108 PF / 8; the datasheet's 14000 and a GTC "
        "page's 13125 also circulate). int8 150: Blackwell Ultra cut INT8 (~0.3 POPS sparse). "
        "Bandwidth 7700, the HGX per-GPU figure (8000 is GB300's). 275,040 MiB = 288.4 GB "
        "usable (the datasheet's \"270 GB\"; 288 GB of HBM).",
    ),
    Datasheet(
        name="GB300-288GB", family="blackwell-ultra", memory_gb=298.0, bandwidth_gb_s=8000,
        fp32=80, tf32=1250, bf16=2500, fp16=2500, fp8=5000, int8=165, fp4=15000,
        interconnect="NVLink 5", interconnect_gb_s=1800,
        source="One GPU of a GB300 superchip. NVIDIA Blackwell Ultra datasheet [N8], GB300 "
        f"NVL72 [N11], Blackwell Ultra blog [N9]; {_DENSE}. Chose the per-GPU datasheet set "
        "2500 / 5000 / 15000, as for GB200 (exemplar MFU table [N6]: 2450 / 4900 / 14700). "
        "int8 165: Blackwell Ultra cut INT8. fp32 80 (datasheet; NVL72 6 PF / 72 = 83). "
        "284,208 MiB = 298.0 GB usable (the datasheet's \"279 GB\"). NVLink domain of 72 GPUs.",
    ),
    Datasheet(
        name="RTX-PRO-6000-Server-96GB", family="blackwell-rtx", memory_gb=102.6,
        bandwidth_gb_s=1597,
        fp32=120, bf16=500, fp16=500, fp8=1000, int8=1000, fp4=2000,
        interconnect="PCIe 5.0", interconnect_gb_s=128,
        source="NVIDIA RTX PRO 6000 Blackwell Server Edition datasheet [N12]: 96 GB GDDR7, "
        "1597 GB/s (the Workstation Edition's 1792 is not this card's), fp32 120. Its tensor "
        "peaks are not in that datasheet: 500 / 1000 / 2000 are the dense boost-clock values, "
        "rounded (Workstation whitepaper: 503.8 bf16; the page's \"1 PFLOP FP16/BF16\" is "
        "with sparsity; aiconfigurator [X2] scales to 467.8 at a 2430 MHz clock). No tf32 figure "
        "(falls back to fp32). 97,887 MiB = 102.6 GB usable. No NVLink.",
    ),
    # ---- NVIDIA Ada Lovelace
    Datasheet(
        name="L40S-48GB", family="ada", memory_gb=48.3, bandwidth_gb_s=864,
        fp32=91.6, tf32=183, bf16=362, fp16=362, fp8=733, int8=733,
        interconnect="PCIe 4.0", interconnect_gb_s=64,
        source=f"NVIDIA L40S datasheet [N13], ml-engineering table [X1]; {_DENSE}. "
        "46,068 MiB = 48.3 GB usable with ECC on.",
    ),
    Datasheet(
        name="L20-48GB", family="ada", memory_gb=48.3, bandwidth_gb_s=864,
        fp32=59.8, bf16=119.5, fp16=119.5, fp8=239, int8=239,
        interconnect="PCIe 4.0", interconnect_gb_s=64,
        source="Secondary tables only [X4, X6]: 119.5 / 239 / 59.8, sparse status unstated, read "
        "as dense (a third of the L40S's dense figures). No tf32 figure (falls back to fp32). "
        "46,068 MiB = 48.3 GB usable with ECC on.",
    ),
    Datasheet(
        name="L4-24GB", family="ada", memory_gb=24.2, bandwidth_gb_s=300,
        fp32=30.3, tf32=60, bf16=121, fp16=121, fp8=242.5, int8=242.5,
        interconnect="PCIe 4.0", interconnect_gb_s=64,
        source=f"NVIDIA L4 product page [N14], aiconfigurator [X2]; {_DENSE}. "
        "23,034 MiB = 24.2 GB usable.",
    ),
    # ---- AMD
    Datasheet(
        name="MI250X-GCD-64GB", family="cdna2", memory_gb=64, bandwidth_gb_s=1638.4,
        fp32=23.95, bf16=191.5, fp16=191.5, int8=191.5,
        interconnect="Infinity Fabric", interconnect_gb_s=400,
        source="One of the two GCDs of an AMD Instinct MI250X, as ROCm shows it [A7, X1]: half "
        "the package's 383 bf16 / fp16 / int8 (no sparsity), 47.9 fp32 vector, 3276.8 GB/s and "
        "800 GB/s of Infinity Fabric (up to 8 links). Memory: 64 x 10^9 B, the conservative "
        "reading of the \"128 GB\" label (64 GiB would be 68.7 GB; no usable count recorded). "
        "No fp8, no tf32.",
    ),
    Datasheet(
        name="MI300X-192GB", family="cdna3", memory_gb=205.8, bandwidth_gb_s=5300,
        fp32=163.4, tf32=653.7, bf16=1307.4, fp16=1307.4, fp8=2614.9, int8=2614.9,
        interconnect="Infinity Fabric", interconnect_gb_s=896,
        source=f"AMD Instinct MI300X [A1], ROCm GPU specs [A5], ml-engineering [X1, X7]; "
        f"{_DENSE}. 192 GiB: 205,822,885,888 B = 205.8 GB usable. Infinity Fabric: 7 links x "
        "128 GB/s, direction undeclared by AMD, read as bidirectional (448 one way).",
    ),
    Datasheet(
        name="MI325X-256GB", family="cdna3", memory_gb=274.9, bandwidth_gb_s=6000,
        fp32=163.4, tf32=653.7, bf16=1307.4, fp16=1307.4, fp8=2614.9, int8=2614.9,
        interconnect="Infinity Fabric", interconnect_gb_s=896,
        source=f"AMD Instinct MI325X [A2], ROCm GPU specs [A5], ml-engineering [X1, X7]; "
        f"{_DENSE}. The MI300X's compute (same CUs and clock). 256 GiB = 274.9 GB. Infinity "
        "Fabric: 7 links x 128 GB/s, read as bidirectional.",
    ),
    Datasheet(
        name="MI350X-288GB", family="cdna4", memory_gb=309.2, bandwidth_gb_s=8000,
        fp32=144.2, bf16=2306.9, fp16=2306.9, fp8=4613.7, int8=4613.7, fp4=9227,
        interconnect="Infinity Fabric", interconnect_gb_s=1071,
        source=f"AMD Instinct MI350X [A4], ROCm [A5, A6], ml-engineering [X1, X7]; {_DENSE}. "
        "The MI355X's silicon at 2200 MHz: bf16 1024 matrix cores x 512 FMA x 2 x 2.2 GHz; "
        "fp32 144.2 by clock ratio [X1]; int8 taken at the fp8 rate (AMD's figure not "
        "confirmed); fp4 = MXFP4. No TF32 GEMM on CDNA 4 (tf32 falls back to fp32). "
        "288 GiB: 309,220,868,096 B = 309.2 GB. Infinity Fabric: 7 links x 153 GB/s, read as "
        "bidirectional.",
    ),
    Datasheet(
        name="MI355X-288GB", family="cdna4", memory_gb=309.2, bandwidth_gb_s=8000,
        fp32=157.3, bf16=2516.6, fp16=2516.6, fp8=5033, int8=5033, fp4=10066,
        interconnect="Infinity Fabric", interconnect_gb_s=1071,
        source=f"AMD Instinct MI355X [A3], ROCm [A5, A6], ml-engineering [X1, X7]; {_DENSE}. "
        "bf16 = 1024 matrix cores x 512 FMA x 2 x 2.4 GHz (\"2.5 PF\"); int8 taken at the fp8 "
        "rate (AMD's figure not confirmed; X1 prints 5000); fp4 = MXFP4. No TF32 GEMM on "
        "CDNA 4 (tf32 falls back to fp32). 288 GiB: 309,220,868,096 B = 309.2 GB usable. "
        "Infinity Fabric: 7 links x 153 GB/s, read as bidirectional (535.5 one way).",
    ),
    # ---- Google TPU (bf16 only: an fp16 GEMM runs at the bf16 peak)
    Datasheet(
        name="TPU-v5e", family="tpu-v5", memory_gb=17.2, bandwidth_gb_s=819,
        bf16=197, int8=394,
        interconnect="ICI", interconnect_gb_s=400,
        source="Google Cloud TPU v5e documentation [G1], scaling book [G5]; per chip, no "
        "sparsity. ICI 400 GB/s, Google's bidirectional figure (200 is one direction). Memory "
        "16 GiB = 17.2 GB: the page says \"16 GB\", Google's newer tables and the scaling book "
        "use GiB. fp8 not published.",
    ),
    Datasheet(
        name="TPU-v5p", family="tpu-v5", memory_gb=102.0, bandwidth_gb_s=2765,
        bf16=459, fp8=459, int8=918,
        interconnect="ICI", interconnect_gb_s=1200,
        source="Google Cloud TPU v5p documentation [G2], TPU7x comparison table [G4], scaling "
        "book [G5]; per chip, no sparsity. fp8 runs at the bf16 rate. ICI 1200 GB/s, Google's "
        "bidirectional figure (600 is one direction). 95 GiB = 102.0 GB.",
    ),
    Datasheet(
        name="TPU-v6e", family="tpu-v6", memory_gb=34.4, bandwidth_gb_s=1638,
        bf16=918, fp8=918, int8=1836,
        interconnect="ICI", interconnect_gb_s=800,
        source="Trillium. Google Cloud TPU v6e documentation [G3], TPU7x comparison table "
        "[G4]; per chip, no sparsity. fp8 runs at the bf16 rate. Memory 32 GiB = 34.4 GB (the "
        "v6e page says \"32 GB\", the newer comparison table GiB). ICI 800 GB/s "
        "bidirectional. Bandwidth 1638 GB/s (1640 and 1.6e12 elsewhere).",
    ),
    Datasheet(
        name="TPU7x", family="tpu-v7", memory_gb=206.2, bandwidth_gb_s=7370,
        bf16=2307, fp8=4614,
        interconnect="ICI", interconnect_gb_s=1200,
        source="Ironwood. Google Cloud TPU7x documentation and comparison table [G4], "
        "ml-engineering [X1]; per chip, no sparsity. 192 GiB = 206.2 GB. Bandwidth "
        "\"approximately 7.37 TB/s\". ICI 1200 GB/s bidirectional (6 x 200). int8 and fp4 not "
        "published.",
    ),
    # ---- Intel
    Datasheet(
        name="Gaudi3-128GB", family="gaudi3", memory_gb=128, bandwidth_gb_s=3700,
        fp32=229, tf32=459, bf16=1835, fp16=459, fp8=1835,
        interconnect="RoCE", interconnect_gb_s=1050,
        source="Intel Gaudi 3 (OAM HL-325L) white paper [I1], Hot Chips 2024 [I2], "
        "ml-engineering [X1]; MME figures, no sparsity. bf16 / fp8 1835 is the vendor peak "
        "(MME at 1750 MHz); parts ship at 1600 MHz, 1677 (use compute_efficiency 0.914 for it). "
        "fp16 / tf32 a quarter, fp32 an eighth of bf16 (secondary tables); int8 not published. "
        "\"128 GB\" (unit unstated). Bandwidth 3700 GB/s (3670 at Hot Chips). Interconnect: "
        "the 21 of 24 200 GbE ports that join the 8 cards of an HLS-3 all-to-all, 1050 GB/s "
        "bidirectional (all 24: 1200; the other 3 are scale-out).",
    ),
    # ---- AWS
    Datasheet(
        name="Trainium2", family="trainium2", memory_gb=103.1, bandwidth_gb_s=2900,
        fp32=181, tf32=667, bf16=667, fp16=667, fp8=1299,
        interconnect="NeuronLink-v3", interconnect_gb_s=1280,
        source="AWS Neuron documentation, Trainium2 [W1, W2], ml-engineering [X7]; dense "
        "(AWS's one combined sparse figure, 2563, not used). 96 GiB = 103.1 GB. Bandwidth "
        "2900 GB/s (3000 in another guide revision; the lower kept). NeuronLink-v3 1280 GB/s, "
        "direction undeclared, read as bidirectional (4 x 128 + 2 x 64 one way, x 2). int8 not "
        "published.",
    ),
)  # fmt: skip

CATALOG: tuple[HardwareSpec, ...] = tuple(sheet.spec() for sheet in DATASHEETS)

# Other names a catalog device is known by (alias -> catalog name; case-insensitive).
ALIASES: dict[str, str] = {
    "H20-3e": "H20-141GB",
    "Trillium": "TPU-v6e",
    "TPU-v7": "TPU7x",
    "Ironwood": "TPU7x",
}

_BY_NAME = {spec.name.lower(): spec for spec in CATALOG}
_BY_NAME |= {alias.lower(): _BY_NAME[name.lower()] for alias, name in ALIASES.items()}
_SPEC_SUFFIXES = (".json", ".yaml", ".yml")
# The example spec files shipped in the package; the repository's examples/hardware/ links here.
EXAMPLES = Path(__file__).resolve().parent / "examples"
# Where the examples sit in the repository: `--hardware examples/hardware/my-gpu.yaml` (as the
# README writes it) finds the bundled copy from any directory.
_EXAMPLES_IN_REPOSITORY = "examples/hardware"
_KEYS = {
    "price_per_gpu_hour",
    "name",
    "memory_gb",
    "memory_bandwidth_gb_s",
    "peak_tflops",
    "compute_efficiency",
    "memory_efficiency",
    "interconnect",
    "interconnect_gb_s",
    "family",
    "efficiency",
    "source",
}


def resolve_hardware(name: str) -> HardwareSpec:
    """A catalog entry by name or alias (case-insensitive), a spec file by path, or a bundled
    example spec by its file name or repository path (`bundled_example`); an unknown name fails
    naming the closest catalog names."""
    if name.lower() in _BY_NAME:
        return _BY_NAME[name.lower()]
    path = Path(name).expanduser()
    if not _is_file(path):
        path = bundled_example(name) or path
    if _is_file(path) or path.suffix.lower() in _SPEC_SUFFIXES:
        return load_spec(path)
    hint = did_you_mean(name, [*(spec.name for spec in CATALOG), *ALIASES])
    raise HardwareSpecError(
        f"unknown hardware {name!r}: not a catalog name (see --list-hardware) and not a "
        ".json/.yaml spec file" + (f"; {hint}" if hint else "")
    )


def _is_file(path: Path) -> bool:
    """A regular file at `path` (False where the name is too long or cannot be looked at)."""
    try:
        return path.is_file()
    except OSError:
        return False


def bundled_example(name: str) -> Path | None:
    """The bundled example spec that `name` names, `my-gpu.yaml` or
    `examples/hardware/my-gpu.yaml`, or None. Any other path is the user's own: a typo in it
    must not quietly load an example."""
    path = Path(name)
    if path.parent.as_posix() not in (".", _EXAMPLES_IN_REPOSITORY):
        return None
    example = EXAMPLES / path.name
    return example if path.suffix.lower() in _SPEC_SUFFIXES and example.is_file() else None


def load_spec(path: Path) -> HardwareSpec:
    """A user spec file (JSON or YAML, by suffix), validated; one clear error otherwise."""
    if path.suffix.lower() == ".json":
        data = read_json(path, HardwareSpecError, "hardware spec")
    else:
        text = read_text(path, HardwareSpecError, "hardware spec")
        import yaml  # only spec files need it

        try:
            data = yaml.load(text, Loader=_bounded_loader(yaml))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else f": {exc}"
            raise HardwareSpecError(f"{path}: malformed YAML{where}") from None
        except RecursionError:
            raise HardwareSpecError(f"{path}: YAML nested too deeply") from None
    return spec_from_dict(data, str(path))


_MAX_YAML_ALIASES = 64  # a spec file needs none; a few are fine, an alias bomb is refused


def _bounded_loader(yaml: Any) -> type:
    """yaml.SafeLoader that refuses more than _MAX_YAML_ALIASES alias references (the "billion
    laughs" file expands a few lines into a structure too large to walk)."""

    class BoundedLoader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > _MAX_YAML_ALIASES:
                    raise yaml.YAMLError(f"more than {_MAX_YAML_ALIASES} aliases (refused)")
            return super().compose_node(parent, index)

    return BoundedLoader


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
    family = data.get("family")
    if family is not None and (not isinstance(family, str) or family not in FAMILIES):
        raise HardwareSpecError(
            f"{where}: unknown family {family!r} (families: {', '.join(FAMILIES)}; "
            "leave it out for any other device)"
        )
    tuning = data.get("efficiency")
    if tuning is not None:
        if not isinstance(tuning, Mapping):
            raise HardwareSpecError(f"{where}: 'efficiency' must map parameters to values")
        IDEAL.with_values(tuning, where)
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
        family=family,
        efficiency=dict(tuning) if tuning is not None else None,
        price_per_gpu_hour=(
            None
            if data.get("price_per_gpu_hour") is None
            else _positive(data, "price_per_gpu_hour", where)
        ),
    )


# A spec's figures in its units (GB, GB/s, TFLOP/s): from a millionth (a thousand bytes, a
# thousand FLOP/s) to a million times any device's; every time stays a finite float.
_SPEC_NUMBER_MIN = Decimal(10) ** -6
_SPEC_NUMBER_MAX = Decimal(10) ** 12


def _decimal(data: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = data.get(key)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):  # ValueError: an int of more than 4,300 digits
        number = Decimal(-1)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not number.is_finite()
        or not _SPEC_NUMBER_MIN <= number <= _SPEC_NUMBER_MAX
    ):
        raise HardwareSpecError(
            f"{where}: '{key}' must be a number from {_SPEC_NUMBER_MIN:.0e} to "
            f"{_SPEC_NUMBER_MAX:.0e}, got {shown(value)}"
        )
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
