"""The images of one step: how each reaches a vision encoder, and how many tokens it becomes.

A family's image processor (HuggingFace's, replayed exactly by the family's vision tower in
parsers/) resizes an image, cuts it into patches and sometimes into tiles, pads it, and decides
how many tokens the text model receives for it. `ImageGrid` is that outcome for one image size;
`ImageBatch` is N images of one size. The encoder then runs one attention sequence per image (or
per tile), all alike: as queries of the analysis, `sequences` identical queries of
`sequence_tokens` new tokens and nothing cached.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .queries import QueryConfig

# The most images one step may hold (a bound on user input, far above any real prompt).
MAX_IMAGES = 1_000_000
# The longest image side accepted, in pixels.
MAX_IMAGE_SIDE = 1_000_000


def check_image_request(images: int | None, size: tuple[int, int] | None) -> None:
    """One UsageError line for a bad `--images N` or `--image-size H W`."""
    if images is not None and (type(images) is not int or not 1 <= images <= MAX_IMAGES):
        raise UsageError(f"--images must be an integer from 1 to {MAX_IMAGES:,}, got {images!r}")
    if size is not None:
        if len(size) != 2 or not all(type(v) is int for v in size):
            raise UsageError(f"--image-size takes two integers, height and width, got {size!r}")
        if not all(1 <= v <= MAX_IMAGE_SIDE for v in size):
            raise UsageError(
                f"--image-size must be positive (at most {MAX_IMAGE_SIDE:,} px a side), got "
                f"{size[0]} x {size[1]}"
            )


@dataclass(frozen=True)
class ImageGrid:
    """One image of `size` (height, width px) as the family's processor hands it to the encoder.

    `resized`: the image after the processor's resize (and padding), px. `grid`: its patches
    (rows, cols); Llama 4: its tiles. `sequences`: attention sequences the encoder runs for it (1;
    Llama 4: its tiles, with the global one). `sequence_tokens`: encoder positions per sequence
    (padding and class token included). `patches`: the image's real patches (before padding).
    `tokens`: image tokens the text model receives for it."""

    size: tuple[int, int]
    resized: tuple[int, int]
    grid: tuple[int, int]
    sequences: int
    sequence_tokens: int
    patches: int
    tokens: int
    note: str = ""  # what the family's processor did, in words

    @property
    def tokens_per_sequence(self) -> int:
        return self.tokens // self.sequences

    def describe(self) -> str:
        h, w = self.size
        rh, rw = self.resized
        text = f"{h}x{w} px -> {rh}x{rw}"
        if self.note:
            text += f" ({self.note})"
        return text + f" -> {self.tokens:,} token{'s' if self.tokens != 1 else ''}"


@dataclass(frozen=True)
class ImageBatch:
    """`count` images of one size (`grid`) in one step."""

    count: int
    grid: ImageGrid

    @property
    def sequences(self) -> int:
        return self.count * self.grid.sequences

    @property
    def tokens(self) -> int:
        """Image tokens the text model receives for all of them."""
        return self.count * self.grid.tokens

    def queries(self) -> QueryConfig:
        """The encoder's batch: one query per attention sequence, nothing cached."""
        return QueryConfig.uniform(self.sequences, 0, self.grid.sequence_tokens)

    def describe(self) -> str:
        """What the processor made of them: '2 images of 1080x1920 px -> 1008x1680 (3x5 tiles +
        1 global) -> 2,304 tokens each'."""
        if self.count == 1:
            return f"1 image of {self.grid.describe()}"
        return f"{self.count} images of {self.grid.describe()} each"

    def summary(self) -> str:
        """'2 images of 1080x1920 px, 2,304 tokens each'."""
        h, w = self.grid.size
        each = " each" if self.count > 1 else ""
        return (
            f"{self.count} image{'s' if self.count > 1 else ''} of {h}x{w} px, "
            f"{self.grid.tokens:,} tokens{each}"
        )
