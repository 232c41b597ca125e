"""The bundled accelerator catalog against the datasheet survey (shared/hardware/DATASHEETS.md).

The tables below are typed by hand from that file (its device tables, "Suggested values for new
catalog rows", "Corrections to the current catalog" and the recommendations of "Doubtful
figures"), not from core/hardware/specs.py: a figure mistyped in the catalog fails here.
"""

from __future__ import annotations

import pytest

from transformer_roofline.core.errors import HardwareSpecError
from transformer_roofline.core.hardware.specs import (
    ALIASES,
    CATALOG,
    DATASHEETS,
    FAMILIES,
    PEAK_FORMATS,
    HardwareSpec,
    resolve_hardware,
    spec_from_dict,
)

_ = None  # not published / not supported
# Dense TFLOP/s: fp32 (vector), tf32, bf16, fp16, fp8, int8, int4, fp4; usable GB; GB/s;
# interconnect GB/s (per device, bidirectional).
SURVEY = {
    "A100-SXM4-40GB": (19.5, 156, 312, 312, _, 624, 1248, _, 42.9, 1555, 600),
    "A100-SXM4-80GB": (19.5, 156, 312, 312, _, 624, 1248, _, 85.9, 2039, 600),
    "A100-PCIe-80GB": (19.5, 156, 312, 312, _, 624, 1248, _, 85.9, 1935, 64),
    "H100-SXM5-80GB": (67, 494.7, 989.4, 989.4, 1978.9, 1978.9, _, _, 85.5, 3350, 900),
    "H100-PCIe-80GB": (51, 378, 756, 756, 1513, 1513, _, _, 85.5, 2000, 128),
    "H100-NVL-94GB": (60, 417.5, 835.5, 835.5, 1670.5, 1670.5, _, _, 100.5, 3900, 600),
    "H800-SXM5-80GB": (67, 494.7, 989.4, 989.4, 1978.9, 1978.9, _, _, 85.5, 3350, 400),
    "H20-96GB": (44, 74, 148, 148, 296, 296, _, _, 102.6, 4000, 900),
    "H20-141GB": (44, 74, 148, 148, 296, 296, _, _, 150.8, 4800, 900),
    "H200-SXM-141GB": (67, 494.7, 989.4, 989.4, 1978.9, 1978.9, _, _, 150.8, 4800, 900),
    "B200-180GB": (75, 1125, 2250, 2250, 4500, 4500, _, 9000, 192.3, 7700, 1800),
    "GB200-186GB": (80, 1250, 2500, 2500, 5000, 5000, _, 10000, 198.7, 8000, 1800),
    "B300-SXM-288GB": (75, 1125, 2250, 2250, 4500, 150, _, 13500, 288.4, 7700, 1800),
    "GB300-288GB": (80, 1250, 2500, 2500, 5000, 165, _, 15000, 298.0, 8000, 1800),
    "RTX-PRO-6000-Server-96GB": (120, _, 500, 500, 1000, 1000, _, 2000, 102.6, 1597, 128),
    "L40S-48GB": (91.6, 183, 362, 362, 733, 733, _, _, 48.3, 864, 64),
    "L20-48GB": (59.8, _, 119.5, 119.5, 239, 239, _, _, 48.3, 864, 64),
    "L4-24GB": (30.3, 60, 121, 121, 242.5, 242.5, _, _, 24.2, 300, 64),
    "MI250X-GCD-64GB": (23.95, _, 191.5, 191.5, _, 191.5, _, _, 64, 1638.4, 400),
    "MI300X-192GB": (163.4, 653.7, 1307.4, 1307.4, 2614.9, 2614.9, _, _, 205.8, 5300, 896),
    "MI325X-256GB": (163.4, 653.7, 1307.4, 1307.4, 2614.9, 2614.9, _, _, 274.9, 6000, 896),
    "MI350X-288GB": (144.2, _, 2306.9, 2306.9, 4613.7, 4613.7, _, 9227, 309.2, 8000, 1071),
    "MI355X-288GB": (157.3, _, 2516.6, 2516.6, 5033, 5033, _, 10066, 309.2, 8000, 1071),
    "TPU-v5e": (_, _, 197, _, _, 394, _, _, 17.2, 819, 400),
    "TPU-v5p": (_, _, 459, _, 459, 918, _, _, 102.0, 2765, 1200),
    "TPU-v6e": (_, _, 918, _, 918, 1836, _, _, 34.4, 1638, 800),
    "TPU7x": (_, _, 2307, _, 4614, _, _, _, 206.2, 7370, 1200),
    "Gaudi3-128GB": (229, 459, 1835, 459, 1835, _, _, _, 128, 3700, 1050),
    "Trainium2": (181, 667, 667, 667, 1299, _, _, _, 103.1, 2900, 1280),
}  # fmt: skip
# Architecture generations.
MEMBERS = {
    "ampere": ("A100-SXM4-40GB", "A100-SXM4-80GB", "A100-PCIe-80GB"),
    "hopper": ("H100-SXM5-80GB", "H100-PCIe-80GB", "H100-NVL-94GB", "H800-SXM5-80GB",
               "H20-96GB", "H20-141GB", "H200-SXM-141GB"),
    "blackwell": ("B200-180GB", "GB200-186GB"),
    "blackwell-ultra": ("B300-SXM-288GB", "GB300-288GB"),
    "blackwell-rtx": ("RTX-PRO-6000-Server-96GB",),
    "ada": ("L40S-48GB", "L20-48GB", "L4-24GB"),
    "cdna2": ("MI250X-GCD-64GB",),
    "cdna3": ("MI300X-192GB", "MI325X-256GB"),
    "cdna4": ("MI350X-288GB", "MI355X-288GB"),
    "tpu-v5": ("TPU-v5e", "TPU-v5p"),
    "tpu-v6": ("TPU-v6e",),
    "tpu-v7": ("TPU7x",),
    "gaudi3": ("Gaudi3-128GB",),
    "trainium2": ("Trainium2",),
}  # fmt: skip
FAMILY = {name: family for family, names in MEMBERS.items() for name in names}
FORMATS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4")

# The vendors' "with sparsity" figures, TFLOP/s (2:4 structured sparsity: twice the dense rate).
SPARSE = {
    "A100-SXM4-80GB": {"bf16": 624, "tf32": 312, "int8": 1248, "int4": 2496},
    "H100-SXM5-80GB": {"bf16": 1979, "tf32": 989, "fp8": 3958, "int8": 3958},
    "H100-PCIe-80GB": {"bf16": 1513, "tf32": 756, "fp8": 3026, "int8": 3026},
    "H100-NVL-94GB": {"bf16": 1671, "tf32": 835, "fp8": 3341, "int8": 3341},
    "B200-180GB": {"bf16": 4500, "tf32": 2250, "fp8": 9000, "int8": 9000, "fp4": 18000},
    "GB200-186GB": {"bf16": 5000, "fp8": 10000, "int8": 10000, "fp4": 20000},
    "B300-SXM-288GB": {"bf16": 4500, "fp8": 9000, "int8": 300},
    "GB300-288GB": {"bf16": 5000, "fp8": 10000, "int8": 330},
    "RTX-PRO-6000-Server-96GB": {"fp4": 4000},
    "L40S-48GB": {"bf16": 733, "tf32": 366, "fp8": 1466, "int8": 1466},
    "L4-24GB": {"bf16": 242, "tf32": 120, "fp8": 485, "int8": 485},
    "MI300X-192GB": {"bf16": 2614.9, "tf32": 1307.4, "fp8": 5229.8, "int8": 5229.8},
    "MI350X-288GB": {"bf16": 4600, "fp8": 9200},
    "MI355X-288GB": {"bf16": 5000, "fp8": 10100},
}

# What software can allocate, bytes: nvidia-smi / rocm-smi totals, else the GiB capacity.
MIB, GIB = 2**20, 2**30
USABLE = {
    "A100-SXM4-40GB": 40_960 * MIB,
    "A100-SXM4-80GB": 81_920 * MIB,
    "A100-PCIe-80GB": 80 * GIB,
    "H100-SXM5-80GB": 81_559 * MIB,
    "H100-PCIe-80GB": 81_559 * MIB,
    "H100-NVL-94GB": 95_830 * MIB,
    "H800-SXM5-80GB": 81_559 * MIB,
    "H20-96GB": 97_871 * MIB,
    "H20-141GB": 143_771 * MIB,
    "H200-SXM-141GB": 143_771 * MIB,
    "B200-180GB": 183_359 * MIB,
    "GB200-186GB": 189_471 * MIB,
    "B300-SXM-288GB": 275_040 * MIB,
    "GB300-288GB": 284_208 * MIB,
    "RTX-PRO-6000-Server-96GB": 97_887 * MIB,
    "L40S-48GB": 46_068 * MIB,
    "L20-48GB": 46_068 * MIB,
    "L4-24GB": 23_034 * MIB,
    "MI300X-192GB": 205_822_885_888,
    "MI325X-256GB": 256 * GIB,
    "MI350X-288GB": 309_220_868_096,
    "MI355X-288GB": 309_220_868_096,
    "TPU-v5e": 16 * GIB,
    "TPU-v5p": 95 * GIB,
    "TPU-v6e": 32 * GIB,
    "TPU7x": 192 * GIB,
    "Trainium2": 96 * GIB,
    "Gaudi3-128GB": 128 * 10**9,  # "128 GB", unit unstated
    "MI250X-GCD-64GB": 64 * 10**9,  # half of "128 GB", read as 10^9 B (the conservative reading)
}

# The catalog's names before the refresh: scripts and goldens type them.
OLD_NAMES = (
    "A100-SXM4-40GB",
    "A100-SXM4-80GB",
    "A100-PCIe-80GB",
    "H100-SXM5-80GB",
    "H100-PCIe-80GB",
    "H200-SXM-141GB",
    "B200-180GB",
    "L40S-48GB",
    "L4-24GB",
    "MI300X-192GB",
    "MI325X-256GB",
    "TPU-v5e",
    "TPU-v5p",
)


def test_the_catalog_is_the_survey() -> None:
    assert [spec.name for spec in CATALOG] == list(SURVEY)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_every_figure_is_the_surveyed_one(spec: HardwareSpec) -> None:
    *peaks, memory_gb, bandwidth, link = SURVEY[spec.name]
    expected = {f: p * 1e12 for f, p in zip(FORMATS, peaks, strict=True) if p is not None}
    assert spec.peak_flops.keys() == expected.keys()
    for fmt, peak in expected.items():
        assert spec.peak_flops[fmt] == pytest.approx(peak, rel=1e-12), fmt
    assert spec.memory_bytes == round(memory_gb * 10**9)
    assert spec.memory_bandwidth == pytest.approx(bandwidth * 1e9, rel=1e-12)
    assert spec.interconnect_bandwidth == pytest.approx(link * 1e9, rel=1e-12)
    assert spec.family == FAMILY[spec.name] and spec.family in FAMILIES
    assert spec.interconnect and len(spec.source) > 40
    assert all(peak > 0 for peak in spec.peak_flops.values())


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_peaks_are_dense_half_the_printed_sparse_figures(name: str) -> None:
    spec = resolve_hardware(name)
    for fmt, sparse in SPARSE[name].items():
        assert spec.peak_flops[fmt] * 2 == pytest.approx(sparse * 1e12, rel=0.015), fmt


@pytest.mark.parametrize("name", sorted(USABLE))
def test_memory_is_the_usable_bytes_to_a_tenth_of_a_gb(name: str) -> None:
    assert abs(resolve_hardware(name).memory_bytes - USABLE[name]) <= 0.05e9


@pytest.mark.parametrize("name", OLD_NAMES)
def test_old_names_still_resolve_as_typed_and_in_any_case(name: str) -> None:
    assert resolve_hardware(name).name == name
    assert resolve_hardware(name.lower()) is resolve_hardware(name.upper())


def test_aliases_name_catalog_devices_and_shadow_none() -> None:
    names = {spec.name.lower() for spec in CATALOG}
    assert not names & {alias.lower() for alias in ALIASES}
    assert len(names) == len(CATALOG)
    assert resolve_hardware("h20-3E").name == "H20-141GB"
    assert resolve_hardware("Ironwood").name == "TPU7x"
    for alias, name in ALIASES.items():
        assert resolve_hardware(alias) is resolve_hardware(name)


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("H1000", "H100-SXM5-80GB, H100-PCIe-80GB or H100-NVL-94GB"),  # a leading part, a typo
        ("h200", "H200-SXM-141GB"),  # the memory suffix left out, any case
        ("Trilium", "Trillium"),  # an alias is a name too
        ("mi355", "MI355X-288GB"),
    ],
)
def test_an_unknown_name_suggests_the_closest_catalog_names(typed: str, suggested: str) -> None:
    with pytest.raises(HardwareSpecError) as caught:
        resolve_hardware(typed)
    message = str(caught.value)
    assert message.startswith(f"unknown hardware {typed!r}: not a catalog name")
    assert f"; did you mean {suggested}" in message and "\n" not in message


def test_a_name_like_no_device_gets_no_suggestion() -> None:
    with pytest.raises(HardwareSpecError) as caught:
        resolve_hardware("quantum-abacus")
    assert str(caught.value).endswith("not a .json/.yaml spec file")


def test_every_family_has_a_device_and_every_datasheet_all_its_fields() -> None:
    assert {sheet.family for sheet in DATASHEETS} == set(FAMILIES) == set(MEMBERS)
    for sheet in DATASHEETS:
        assert set(sheet.peaks()) <= set(PEAK_FORMATS) and sheet.source.strip()


def test_fallbacks_where_a_family_lacks_a_format() -> None:
    # CDNA 4 has no TF32 GEMM: a tf32 matmul runs at the fp32 rate, not at bf16's
    assert resolve_hardware("MI355X-288GB").peak_for("tf32") == ("fp32", 157.3e12)
    # Blackwell Ultra cut int8 to ~1/30 of fp8: int8 and int4 GEMMs are slow there
    assert resolve_hardware("B300-SXM-288GB").peak_for("int4") == ("int8", 150e12)
    assert resolve_hardware("A100-SXM4-80GB").peak_for("int4") == ("int4", 1248e12)
    # TPUs multiply bf16; TPU7x publishes no int8 rate
    assert resolve_hardware("TPU7x").peak_for("int8") == ("bf16", 2307e12)
    assert resolve_hardware("TPU-v6e").peak_for("fp16") == ("bf16", 918e12)
    # Gaudi 3's fp16 runs on the MME at a quarter of the bf16 rate
    assert resolve_hardware("Gaudi3-128GB").peak_for("fp16") == ("fp16", 459e12)


def test_a_spec_file_family_is_kept_and_optional() -> None:
    base = {"name": "x", "memory_gb": 1, "memory_bandwidth_gb_s": 1, "peak_tflops": {"bf16": 1}}
    assert spec_from_dict({**base, "family": "cdna4"}, "x.yaml").family == "cdna4"
    assert spec_from_dict(base, "x.yaml").family is None
    with pytest.raises(HardwareSpecError, match=r"unknown family 'Hopper' \(families: ampere"):
        spec_from_dict({**base, "family": "Hopper"}, "x.yaml")


def test_the_list_hardware_golden_shows_the_survey() -> None:
    """Every row of `--list-hardware` (tests/end-to-end/cases/list_hardware) prints the survey's
    figures above: usable GB, GB/s, each dense peak ("-" where none), the interconnect GB/s."""
    from conftest import ROOT

    text = (ROOT / "tests/end-to-end/cases/list_hardware/expected_output.txt").read_text()
    shown = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in SURVEY:
            shown[cells[0]] = cells
    assert list(shown) == [spec.name for spec in CATALOG] and len(shown) == len(SURVEY)
    for name, (_, family, memory, bandwidth, *peaks, interconnect) in shown.items():
        *survey_peaks, usable, survey_bandwidth, link = SURVEY[name]
        assert family == FAMILY[name]
        assert memory == f"{usable:g} GB" and bandwidth == f"{survey_bandwidth:g} GB/s"
        assert [None if p == "-" else float(p) for p in peaks] == survey_peaks, name
        assert interconnect.endswith(f" {link:g} GB/s"), name
    aliases = ", ".join(f"{alias} = {name}" for alias, name in ALIASES.items())
    assert f"Also accepted: {aliases}." in text
