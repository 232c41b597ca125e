"""Human units, in one place: FLOPs with SI prefixes, bytes with binary prefixes. Exact values are
only rounded here, for display."""

from __future__ import annotations

from ..ops import Number

_SI = ["", "k", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q"]
_BINARY = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi", "Ri", "Qi"]


def _scaled(value: Number | float, base: int, prefixes: list[str]) -> tuple[float, str]:
    scaled, index = float(value), 0
    while abs(scaled) >= base and index < len(prefixes) - 1:
        scaled /= base
        index += 1
    return scaled, prefixes[index]


def format_flops(value: Number) -> str:
    """1234567 -> '1.23 MFLOPs' (SI: 1 kFLOPs = 1000 FLOPs)."""
    if value < 1000:
        return f"{int(value)} FLOPs"
    scaled, prefix = _scaled(value, 1000, _SI)
    return f"{scaled:.2f} {prefix}FLOPs"


def format_bytes(value: Number | float) -> str:
    """1536 -> '1.50 KiB' (binary: 1 KiB = 1024 B). Fractional byte counts keep two decimals."""
    if value < 1024:
        return f"{value} B" if value == int(value) else f"{float(value):.2f} B"
    scaled, prefix = _scaled(value, 1024, _BINARY)
    return f"{scaled:.2f} {prefix}B"


def format_intensity(value: float) -> str:
    """Operational intensity, FLOPs per byte, two decimals."""
    return f"{value:.2f}"


def json_number(value: Number) -> int | float:
    """An exact count for JSON/CSV: the int itself, or the nearest float of a fractional count."""
    return int(value) if value == int(value) else float(value)


def format_seconds(value: float) -> str:
    """0.0066149 -> '6.61 ms'; picks s, ms, us or ns so that the number is >= 1."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value / 1e-9:.2f} ns"


def format_rate(value: float) -> str:
    """Tokens per second with thousands separators: 151.17 -> '151.2', 22977.3 -> '22,977'."""
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def format_share(value: float) -> str:
    return f"{100 * value:.1f}%"


def tool_version() -> str:
    """The tool's version (pyproject's), for JSON documents: read when a document is written, so
    a table run never reads it."""
    import transformer_roofline  # the package this code lives under

    return transformer_roofline.__version__
