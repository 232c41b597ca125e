"""The vision tower of Llama 4 (`llama4`): a ViT over 336 px tiles with a class token, a pixel
shuffle and MLP adapter, and the multimodal projector.

Ground truth: transformers `models/llama4/modeling_llama4.py` (`Llama4VisionModel`,
`Llama4MultiModalProjector`) and `image_processing_llama4.py` (`find_supported_resolutions`,
`get_best_fit`).
- `vision_config`: `num_hidden_layers` 34 of `hidden_size` 1408, `num_attention_heads` 16,
  `intermediate_size` 5632, `image_size` 336 (a tile), `patch_size` 14, `num_channels` 3,
  `pixel_shuffle_ratio` 0.5, `projector_input_dim` / `projector_output_dim` 4096,
  `vision_output_dim` 4096 (HF's defaults where a key is absent: hidden 768, tile 448, vision
  output 7680); the projector's output is the text model's `hidden_size`.
- Per tile: Unfold 14 x 14 + Linear(588 -> 1408), no bias (the patch GEMM over 576 patches); a
  class token (577 positions); a learned 577-row position table added; LayerNorm before the
  blocks. Layers: LayerNorm before attention and MLP; attention over the tile's 577 positions
  (bidirectional), q/k/v/o with biases, 2-D rotary embedding (complex, the whole head); MLP fc1 ->
  GELU -> fc2 with biases (HF's `nn.GELU()`, whatever `hidden_act` says). After them: LayerNorm,
  the class token dropped, pixel shuffle 0.5 (4 patches -> 1 token of 4 x 1408 = 5632), adapter
  fc1 5632 -> 4096, GELU, fc2 4096 -> 4096, GELU (no biases), projector 4096 -> text hidden (no
  bias): 144 tokens per tile.
- Image processor: a canvas of at most 16 tiles of 336 px (`get_best_fit`: among the tile grids,
  the smallest upscale >= 1 of the image, else the largest downscale; ties to the smallest
  canvas), resized without distortion and padded, cut into tiles, plus one global 336 px tile when
  there is more than one: tokens = tiles x 144.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.errors import ConfigError
from ...core.layers import Block
from ...core.model.images import ImageGrid
from ...core.vision.ends import PositionTable, Step, VisionEnds
from ...core.vision.tower import (
    VisionDims,
    VisionTower,
    text_hidden_size,
    vision_dtype,
    vision_section,
    vit_layers,
)

MAX_TILES = 16  # the image processor's `max_patches` (tiles), not in config.json


def _float32(x: float) -> float:
    """`x` rounded to float32, as torch's default float tensors hold it (the float64 quotient
    of two integers rounds to the float32 quotient exactly)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def supported_canvases(max_tiles: int, tile: int) -> list[tuple[int, int]]:
    """HF's `find_supported_resolutions`: every (rows, cols) grid of at most `max_tiles` tiles,
    in HF's order (by aspect ratio first seen, from the largest tile count down), in pixels."""
    by_ratio: dict[float, list[tuple[int, int]]] = {}
    for count in range(max_tiles, 0, -1):
        factors = sorted(
            {f for i in range(1, math.isqrt(count) + 1) if count % i == 0 for f in (i, count // i)}
        )
        for rows in factors:
            by_ratio.setdefault(rows / (count // rows), []).append((rows, count // rows))
    return [(r * tile, c * tile) for grids in by_ratio.values() for r, c in grids]


def best_canvas(height: int, width: int, canvases: list[tuple[int, int]]) -> tuple[int, int]:
    """HF's `get_best_fit` (resize_to_max_canvas false), in torch's float32 arithmetic: the
    canvas needing the smallest upscale >= 1 of the image, else the largest downscale; among
    equal scales the smallest area (the first one)."""
    scales = []
    for h, w in canvases:
        scale_w, scale_h = _float32(w / width), _float32(h / height)
        scales.append(scale_w if scale_h > scale_w else scale_h)
    up = [s for s in scales if s >= 1]
    chosen = min(up) if up else max(s for s in scales if s < 1)
    candidates = [c for c, s in zip(canvases, scales, strict=True) if s == chosen]
    return min(candidates, key=lambda c: c[0] * c[1])


@dataclass(frozen=True, kw_only=True)
class Llama4VisionDims(VisionDims):
    tile: int  # `image_size`, default 336
    channels: int  # `num_channels`, default 3
    shuffle: int  # 1 / `pixel_shuffle_ratio`^2, default 4 (patches per token)
    adapter_in: int  # `intermediate_size`: the adapter's fc1 input (the shuffled width)
    adapter_hidden: int  # `projector_input_dim`, default 4096
    adapter_out: int  # `projector_output_dim`, default 4096
    projector_in: int  # `vision_output_dim`, default 7680 (must equal projector_output_dim)


class Llama4VisionTower(VisionTower):
    model_type = "llama4"
    processor = (
        "tiles of 336 px: a canvas of at most 16 tiles (`get_best_fit`: the smallest upscale, "
        "else the largest downscale), plus one global tile when there are several; 144 tokens "
        "per tile"
    )
    dims: Llama4VisionDims

    def normalize_config(self, config: Mapping[str, Any]) -> Llama4VisionDims:
        model_type = str(config.get("model_type", self.model_type))
        r = vision_section(config, model_type)
        hidden = r.integer("hidden_size", 768)
        heads = r.integer("num_attention_heads", 16)
        tile, patch = r.integer("image_size", 448), r.integer("patch_size", 14)
        ratio = r.config.get("pixel_shuffle_ratio", 0.5)
        shuffle = round(1 / ratio**2) if isinstance(ratio, float | int) and ratio > 0 else 0
        side = tile // patch
        intermediate = r.integer("intermediate_size", 5632)
        problem = None
        if hidden % heads:
            problem = f"hidden_size ({hidden}) is not a multiple of num_attention_heads ({heads})"
        elif tile % patch:
            problem = f"image_size ({tile}) is not a multiple of patch_size ({patch})"
        elif shuffle < 1 or shuffle * ratio**2 != 1 or (side * side) % shuffle:
            problem = f"pixel_shuffle_ratio {ratio!r} does not shuffle {side}x{side} patches"
        elif hidden * shuffle != intermediate:
            problem = (
                f"the adapter takes intermediate_size ({intermediate}) features, but the pixel "
                f"shuffle gives hidden_size x {shuffle} = {hidden * shuffle}"
            )
        if problem:
            raise ConfigError(f"{r.where}: {problem}")
        return Llama4VisionDims(
            hidden_size=hidden,
            num_layers=r.layers() if "num_hidden_layers" in r.config else 34,
            num_heads=heads,
            intermediate_size=intermediate,
            patch_size=patch,
            text_hidden_size=text_hidden_size(config, model_type),
            dtype=vision_dtype(config, r),
            tile=tile,
            channels=r.integer("num_channels", 3),
            shuffle=shuffle,
            adapter_in=intermediate,
            adapter_hidden=r.integer("projector_input_dim", 4096),
            adapter_out=r.integer("projector_output_dim", 4096),
            projector_in=r.integer("vision_output_dim", 7680),
        )

    def get_layer_list(self) -> Sequence[Block]:
        return vit_layers(self.dims, "gelu")

    @property
    def positions(self) -> int:
        """Positions per tile: its patches and the class token."""
        return (self.dims.tile // self.dims.patch_size) ** 2 + 1

    def vision_ends(self) -> VisionEnds:
        d = self.dims
        if d.adapter_out != d.projector_in:
            raise ConfigError(
                f"{self.model_type} config (vision_config): projector_output_dim "
                f"({d.adapter_out}) must equal vision_output_dim ({d.projector_in})"
            )
        return VisionEnds(
            hidden_size=d.hidden_size,
            patch_in=d.channels * d.patch_size * d.patch_size,
            patch_bias=False,
            position=PositionTable(self.positions * d.hidden_size, taps=1, weighted=False),
            merge=d.shuffle,
            cls=True,
            pre_norm=True,
            final_norm=True,
            projector=(
                Step.linear("Adapter - FC1", d.adapter_in, d.adapter_hidden, bias=False),
                Step.activation("Adapter - GELU", d.adapter_hidden, "gelu"),
                Step.linear("Adapter - FC2", d.adapter_hidden, d.adapter_out, bias=False),
                Step.activation("Adapter - GELU_Out", d.adapter_out, "gelu"),
                Step.linear("Projector", d.projector_in, d.text_hidden_size, bias=False),
            ),
        )

    def image_grid(self, height: int, width: int) -> ImageGrid:
        d = self.dims
        canvas = best_canvas(height, width, supported_canvases(MAX_TILES, d.tile))
        rows, cols = canvas[0] // d.tile, canvas[1] // d.tile
        tiles = rows * cols + (1 if rows * cols > 1 else 0)
        per_tile = (self.positions - 1) // d.shuffle
        return ImageGrid(
            size=(height, width),
            resized=canvas,
            grid=(rows, cols),
            sequences=tiles,
            sequence_tokens=self.positions,
            patches=tiles * (self.positions - 1),
            tokens=tiles * per_tile,
            note=f"{rows}x{cols} tiles" + (" + 1 global" if tiles > rows * cols else ""),
        )

    def native_size(self) -> tuple[int, int]:
        return self.dims.tile, self.dims.tile
