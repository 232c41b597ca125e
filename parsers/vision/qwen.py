"""The vision tower of Qwen3-VL (`qwen3_vl`, `qwen3_vl_moe`) and Qwen3.5 / 3.6 (`qwen3_5`,
`qwen3_5_moe`): a ViT over dynamic-resolution patches, a 2x2 patch merger, and (Qwen3-VL only)
DeepStack mergers.

Ground truth: transformers `models/qwen3_vl/modeling_qwen3_vl.py` (`Qwen3VLVisionModel`),
`models/qwen3_5/modeling_qwen3_5.py` (`Qwen3_5VisionModel`, the same without DeepStack) and
`models/qwen2_vl/image_processing_qwen2_vl.py` (`smart_resize`, the processor both use).
- `vision_config`: `depth` 27 layers of `hidden_size` 1152, `num_heads` 16 (head_dim = hidden /
  heads), `intermediate_size` 4304, `hidden_act` gelu_pytorch_tanh, `patch_size` 16,
  `temporal_patch_size` 2, `in_channels` 3, `spatial_merge_size` 2, `num_position_embeddings`
  2304 (a 48 x 48 table), `out_hidden_size` (the text model's width), `deepstack_visual_indexes`
  (Qwen3-VL, default 8, 16, 24). The defaults are HF's.
- Patch embedding: a Conv3d whose kernel is its stride, (2, 16, 16) over 3 channels, i.e. a GEMM
  of K = 3*2*16*16 = 1536 (a still image fills both temporal slots), with a bias. The position
  table is resampled bilinearly to the image's grid: 4 weighted rows per patch.
- Layers: LayerNorm (with bias) before attention and before the MLP; attention over all of the
  image's patches (bidirectional, one sequence per image), fused qkv with a bias, 2-D rotary
  embedding over the whole head (half the frequencies by row, half by column), proj with a bias;
  MLP fc1 -> act -> fc2 with biases (not gated).
- Merger: LayerNorm over each patch (1152), 2x2 neighbouring patches concatenated (4608),
  fc1 4608 -> 4608, GELU, fc2 -> out_hidden_size, biases. DeepStack (Qwen3-VL): one more merger
  per index, run on the hidden states after that block, normalising the concatenated 4608
  (`use_postshuffle_norm`); its output is added into the first text layers (not counted here).
- Image processor (`smart_resize`, factor = patch * merge = 32): each side rounded to a multiple
  of 32, then, keeping the aspect, scaled into [min_pixels, max_pixels] (floor when shrinking,
  ceil when growing); patches = (H/16)*(W/16), image tokens = patches / 4. The bounds are the
  checkpoints' `preprocessor_config.json` values (`size`: shortest_edge 65536 = 256^2,
  longest_edge 16777216 = 4096^2), which config.json does not carry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.errors import ConfigError, UsageError
from ...core.layers import Block
from ...core.model.images import ImageGrid
from ...core.vision.ends import PositionTable, Step, VisionEnds
from ...core.vision.tower import (
    VisionDims,
    VisionTower,
    vision_dtype,
    vision_section,
    vit_layers,
)

# The Qwen3-VL / Qwen3.5 checkpoints' preprocessor_config.json `size` (pixels).
MIN_PIXELS = 65_536
MAX_PIXELS = 16_777_216
MAX_ASPECT = 200  # smart_resize refuses more elongated images


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """HF's `smart_resize`, operation for operation (Python floats, `round` half to even, as HF
    computes them): the size an image is resized to."""
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise UsageError(
            f"--image-size {height} {width}: Qwen's image processor refuses an aspect ratio "
            f"above {MAX_ASPECT}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True, kw_only=True)
class QwenVisionDims(VisionDims):
    act: str  # `hidden_act`, default gelu_pytorch_tanh
    temporal_patch: int  # `temporal_patch_size`, default 2
    channels: int  # `in_channels`, default 3
    merge: int  # `spatial_merge_size`, default 2 (merge x merge patches per token)
    table_side: int  # sqrt(`num_position_embeddings`), default 48
    deepstack: int  # len(`deepstack_visual_indexes`) (Qwen3-VL; 0 for Qwen3.5)


class Qwen3VLVisionTower(VisionTower):
    model_type = "qwen3_vl"
    processor = (
        "`smart_resize`: each side rounded to a multiple of 32 px (patch 16 x merge 2), then "
        "scaled, keeping the aspect, into 256^2 .. 4096^2 px; tokens = (H/16)(W/16)/4"
    )
    deepstack = True  # Qwen3-VL's DeepStack mergers (Qwen3.5 has none)
    dims: QwenVisionDims

    def normalize_config(self, config: Mapping[str, Any]) -> QwenVisionDims:
        model_type = str(config.get("model_type", self.model_type))
        r = vision_section(config, model_type)
        hidden = r.integer("hidden_size", 1152)
        heads = r.integer("num_heads", 16)
        if hidden % heads:
            raise ConfigError(
                f"{r.where}: hidden_size ({hidden}) is not a multiple of num_heads ({heads})"
            )
        positions = r.integer("num_position_embeddings", 2304)
        side = math.isqrt(positions)
        if side * side != positions:
            raise ConfigError(f"{r.where}: num_position_embeddings ({positions}) is not a square")
        indexes = r.int_list("deepstack_visual_indexes")
        depth = r.layers("depth") if "depth" in r.config else 27
        deepstack = len((8, 16, 24) if indexes is None else indexes) if self.deepstack else 0
        if self.deepstack and indexes is not None and any(i >= depth for i in indexes):
            raise ConfigError(
                f"{r.where}: deepstack_visual_indexes must index layers below {depth}"
            )
        return QwenVisionDims(
            hidden_size=hidden,
            num_layers=depth,
            num_heads=heads,
            intermediate_size=r.integer("intermediate_size", 4304),
            patch_size=r.integer("patch_size", 16),
            text_hidden_size=r.integer("out_hidden_size", 3584),
            dtype=vision_dtype(config, r),
            act=r.activation("hidden_act", "gelu_pytorch_tanh"),
            temporal_patch=r.integer("temporal_patch_size", 2),
            channels=r.integer("in_channels", 3),
            merge=r.integer("spatial_merge_size", 2),
            table_side=side,
            deepstack=deepstack,
        )

    def get_layer_list(self) -> Sequence[Block]:
        return vit_layers(self.dims, self.dims.act)

    def vision_ends(self) -> VisionEnds:
        d = self.dims
        merged = d.hidden_size * d.merge * d.merge

        def merger(name: str, postshuffle: bool) -> tuple[Step, ...]:
            return (
                Step.layernorm(
                    f"{name} - LayerNorm",
                    merged if postshuffle else d.hidden_size,
                    per_patch=not postshuffle,
                ),
                Step.linear(f"{name} - FC1", merged, merged, bias=True),
                Step.activation(f"{name} - GELU", merged, "gelu"),
                Step.linear(f"{name} - FC2", merged, d.text_hidden_size, bias=True),
            )

        return VisionEnds(
            hidden_size=d.hidden_size,
            patch_in=d.channels * d.temporal_patch * d.patch_size * d.patch_size,
            patch_bias=True,
            position=PositionTable(d.table_side**2 * d.hidden_size, taps=4, weighted=True),
            merge=d.merge * d.merge,
            projector=merger("Merger", postshuffle=False),
            deepstack=d.deepstack,
            deepstack_steps=merger("DeepStack_Merger", postshuffle=True) if d.deepstack else (),
        )

    def image_grid(self, height: int, width: int) -> ImageGrid:
        d = self.dims
        factor = d.patch_size * d.merge
        h, w = smart_resize(height, width, factor, MIN_PIXELS, MAX_PIXELS)
        rows, cols = h // d.patch_size, w // d.patch_size
        patches = rows * cols
        return ImageGrid(
            size=(height, width),
            resized=(h, w),
            grid=(rows, cols),
            sequences=1,
            sequence_tokens=patches,
            patches=patches,
            tokens=patches // (d.merge * d.merge),
            note=f"{rows}x{cols} patches",
        )

    def native_size(self) -> tuple[int, int]:
        side = self.dims.table_side * self.dims.patch_size  # the position table's own grid
        return side, side

    def position_rows(self, grid: ImageGrid) -> int:
        """Bilinear resampling reads at most 4 table rows per patch."""
        return min(self.dims.table_side**2, 4 * grid.patches)


class Qwen3_5VisionTower(Qwen3VLVisionTower):
    model_type = "qwen3_5"
    deepstack = False
