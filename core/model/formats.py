"""Number formats: how many bits an element takes in memory, and which peak multiplies it.

One literal table. `bits` is the storage cost per element *including* block-scale overhead, so
sub-byte formats are exact rationals (mxfp4 = 4 + 8/32 = 17/4 bits). Byte counts built from them are
`Fraction`s where they are not whole; nothing is rounded until display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class DataFormat:
    """A storage format. `peak` names the hardware peak (FLOP/s) of a multiply in this format."""

    name: str
    bits: Fraction
    peak: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    bytes: int | Fraction = field(init=False, repr=False, compare=False)
    """Bytes per element: an int for whole-byte formats, else an exact Fraction."""

    def __post_init__(self) -> None:
        width = self.bits / 8
        object.__setattr__(self, "bytes", int(width) if width.denominator == 1 else width)


# NB: float8_e4m3_block128 keeps one fp32 scale per 128 x 128 weight block: 8 + 32/16384 bits.
#     int4 is symmetric group-wise quantisation with one fp16 scale per 128 weights (GPTQ/AWQ
#     default group size): 4 + 16/128 = 4.125 bits. mxfp4 (OCP MX): one 8-bit E8M0 scale per 32
#     values = 4.25 bits. nvfp4: one 8-bit E4M3 scale per 16 values = 4.5 bits (the per-tensor fp32
#     scale is negligible and not counted).
FORMATS: tuple[DataFormat, ...] = (
    DataFormat("float32", Fraction(32), "fp32", ("fp32", "float", "torch.float32")),
    DataFormat(
        "tfloat32", Fraction(32), "tf32", ("tf32",), "stored as float32, multiplied as TF32"
    ),
    DataFormat("bfloat16", Fraction(16), "bf16", ("bf16", "torch.bfloat16")),
    DataFormat("float16", Fraction(16), "fp16", ("fp16", "half", "torch.float16")),
    DataFormat(
        "float8_e4m3",
        Fraction(8),
        "fp8",
        ("fp8", "float8", "e4m3", "fp8_e4m3", "float8_e4m3fn", "torch.float8_e4m3fn"),
    ),
    DataFormat("float8_e5m2", Fraction(8), "fp8", ("e5m2", "fp8_e5m2", "torch.float8_e5m2")),
    DataFormat(
        "float8_e4m3_block128",
        Fraction(8) + Fraction(32, 128 * 128),
        "fp8",
        ("fp8_block128",),
        "one fp32 scale per 128x128 block (DeepSeek-V3)",
    ),
    DataFormat("int8", Fraction(8), "int8", ("torch.int8",)),
    DataFormat(
        "int4", Fraction(33, 8), "int4", ("int4_g128",), "group size 128, one fp16 scale per group"
    ),
    DataFormat("mxfp4", Fraction(17, 4), "fp4", (), "one 8-bit scale per 32 values"),
    DataFormat("nvfp4", Fraction(9, 2), "fp4", (), "one 8-bit scale per 16 values"),
)

_BY_NAME: dict[str, DataFormat] = {key: fmt for fmt in FORMATS for key in (fmt.name, *fmt.aliases)}


def format_names() -> list[str]:
    return [fmt.name for fmt in FORMATS]


def lookup_format(name: str) -> DataFormat:
    """The format called `name` (canonical name or alias, case-insensitive); KeyError if none."""
    return _BY_NAME[name.strip().lower()]


def scaled_format(
    name: str,
    element_bits: int,
    peak: str,
    *,
    per: int | None = None,
    scale_bits: int = 0,
    zero_bits: int = 0,
    note: str = "",
) -> DataFormat:
    """A quantized format: `element_bits` per value plus one scale of `scale_bits` (and one zero
    point of `zero_bits`) per `per` values, exactly: bits = element + (scale + zero) / per.
    `per=None`: one scale per tensor or per row (its share of a bit is not counted).

    NB: scales are counted per full group or block; a weight whose sides are not multiples of the
        block rounds its scale count up in a checkpoint (576 rows = 4.5 blocks of 128 -> 5 scale
        rows), which is not counted (under 0.01% of the weight bytes at 128x128)."""
    bits = Fraction(element_bits)
    if per is not None:
        bits += Fraction(scale_bits + zero_bits, per)
    return DataFormat(name, bits, peak, note=note)


def config_format(name: object, model_type: str, key: str) -> DataFormat:
    """The format a config's dtype field names, or a ConfigError naming the field."""
    if isinstance(name, str):
        try:
            return lookup_format(name)
        except KeyError:
            pass
    raise ConfigError(
        f"{model_type} config: unknown dtype {name!r} in '{key}' "
        f"(supported: {', '.join(format_names())})"
    )
