"""The vision tower of Kimi-K2.5 (`kimi_k25`): MoonViT over native-resolution patches, a 2x2
merge and the patch-merger projector.

Ground truth: transformers `models/kimi_k25/modeling_kimi_k25.py` (`Kimi_K25VisionModel`,
`Kimi_K25MultimodalProjection`) and `image_processing_kimi_k25.py` (`navit_resize`).
- `vision_config`, in the checkpoint's own names (HF's names, then HF's defaults, where absent;
  the defaults are the checkpoint's values): `vt_num_hidden_layers` 27 of `vt_hidden_size` 1152,
  `vt_num_attention_heads` 16, `vt_intermediate_size` 4304, `patch_size` 14, `merge_kernel_size`
  [2, 2], `init_pos_emb_height` / `init_pos_emb_width` 64, `mm_hidden_size` 1152 (the projector's
  norm width); the MLP's activation is HF's default gelu_pytorch_tanh, the projector's GELU.
- Patch embedding: Conv2d(3 -> hidden, 14 x 14, stride 14) with a bias, i.e. a GEMM of K = 588;
  the 64 x 64 position table resampled bicubically to the image's grid (16 weighted rows per
  patch; the temporal sinusoid is zero for an image: not counted).
- Layers: LayerNorm before attention and MLP; attention over all of the image's patches
  (bidirectional), q/k/v/proj with biases, 2-D rotary embedding over the whole head; MLP fc1 ->
  act -> fc2 with biases. Then a final LayerNorm.
- Merge and projector: 2x2 patches per token (a reshape; HF's float32 `index_add` is not
  counted); LayerNorm over each patch (1152), in_proj 4608 -> 4608, GELU, out_proj 4608 -> text
  hidden, biases.
- Image processor (`navit_resize`): never upscales; shrinks (keeping the aspect) to at most 16384
  patches of 14 px, counted on the floored patch grid, and at most 512 patches a side, then pads
  each side to a multiple of 28 px; tokens = patches / 4.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.errors import ConfigError
from ...core.layers import Block
from ...core.model.config import ConfigReader
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

MAX_PATCHES = 16_384  # the image processor's `max_patches`, not in config.json
MAX_SIDE_PATCHES = 512  # its `size` (max_height = max_width), in patches


def navit_resize(
    height: int, width: int, patch: int, merge: int, max_patches: int, max_side: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """HF's `navit_resize`, operation for operation (Python floats): the resized and the padded
    size of an image."""
    patches = max(1.0, height // patch) * max(1.0, width // patch)
    scale = min(
        1.0,
        math.sqrt(max_patches / patches),
        (max_side * patch) / height,
        (max_side * patch) / width,
    )
    new_height = min(max(1, int(height * scale)), max_side * patch)
    new_width = min(max(1, int(width * scale)), max_side * patch)
    factor = merge * patch
    padded = (
        (factor - new_height % factor) % factor + new_height,
        (factor - new_width % factor) % factor + new_width,
    )
    return (new_height, new_width), padded


def _either(r: ConfigReader, keys: tuple[str, str], default: int) -> int:
    """The checkpoint's key, else HF's, else HF's default."""
    for key in keys:
        if r.config.get(key) is not None:
            return r.integer(key)
    return default


@dataclass(frozen=True, kw_only=True)
class MoonVitDims(VisionDims):
    act: str  # `hidden_act`, default gelu_pytorch_tanh
    merge: tuple[int, int]  # `merge_kernel_size`, default [2, 2]
    table: tuple[int, int]  # `init_pos_emb_height`, `init_pos_emb_width`, default 64 x 64
    projector_norm: int  # `mm_hidden_size` (HF: `projection_hidden_size`), default 1152


class MoonVitTower(VisionTower):
    model_type = "kimi_k25"
    processor = (
        "`navit_resize`: never upscales; shrinks, keeping the aspect, to at most 16384 patches "
        "of 14 px and 512 a side, then pads each side to a multiple of 28 px; tokens = "
        "patches / 4"
    )
    dims: MoonVitDims

    def normalize_config(self, config: Mapping[str, Any]) -> MoonVitDims:
        model_type = str(config.get("model_type", self.model_type))
        r = vision_section(config, model_type)
        top = ConfigReader(config, model_type)
        hidden = _either(r, ("vt_hidden_size", "hidden_size"), 1152)
        heads = _either(r, ("vt_num_attention_heads", "num_attention_heads"), 16)
        merge = r.int_list("merge_kernel_size", minimum=1) or [2, 2]
        norm = (
            r.integer("mm_hidden_size")
            if r.config.get("mm_hidden_size") is not None
            else top.integer("projection_hidden_size", 1152)
        )
        if hidden % heads:
            raise ConfigError(
                f"{r.where}: the hidden size ({hidden}) is not a multiple of the heads ({heads})"
            )
        if len(merge) != 2 or merge[0] != merge[1]:
            raise ConfigError(
                f"{r.where}: 'merge_kernel_size' must be two equal integers (the image "
                f"processor pads to a square kernel), got {merge}"
            )
        if norm != hidden:
            raise ConfigError(
                f"{r.where}: the projector normalizes each patch of the hidden size ({hidden}), "
                f"got mm_hidden_size {norm!r}"
            )
        layers = _either(r, ("vt_num_hidden_layers", "num_hidden_layers"), 27)
        return MoonVitDims(
            hidden_size=hidden,
            num_layers=layers,
            num_heads=heads,
            intermediate_size=_either(r, ("vt_intermediate_size", "intermediate_size"), 4304),
            patch_size=r.integer("patch_size", 14),
            text_hidden_size=text_hidden_size(config, model_type),
            dtype=vision_dtype(config, r),
            act=r.activation("hidden_act", "gelu_pytorch_tanh"),
            merge=(merge[0], merge[1]),
            table=(
                _either(r, ("init_pos_emb_height", "pos_emb_height"), 64),
                _either(r, ("init_pos_emb_width", "pos_emb_width"), 64),
            ),
            projector_norm=norm,
        )

    def get_layer_list(self) -> Sequence[Block]:
        return vit_layers(self.dims, self.dims.act)

    def vision_ends(self) -> VisionEnds:
        d = self.dims
        merge = d.merge[0] * d.merge[1]
        merged = d.hidden_size * merge
        return VisionEnds(
            hidden_size=d.hidden_size,
            patch_in=3 * d.patch_size * d.patch_size,
            patch_bias=True,
            position=PositionTable(d.table[0] * d.table[1] * d.hidden_size, taps=16, weighted=True),
            merge=merge,
            final_norm=True,
            projector=(
                Step.layernorm("Projector - LayerNorm", d.hidden_size, per_patch=True),
                Step.linear("Projector - In_Proj", merged, merged, bias=True),
                Step.activation("Projector - GELU", merged, "gelu"),
                Step.linear("Projector - Out_Proj", merged, d.text_hidden_size, bias=True),
            ),
        )

    def image_grid(self, height: int, width: int) -> ImageGrid:
        d = self.dims
        (rh, rw), (ph, pw) = navit_resize(
            height, width, d.patch_size, d.merge[0], MAX_PATCHES, MAX_SIDE_PATCHES
        )
        rows, cols = ph // d.patch_size, pw // d.patch_size
        patches = rows * cols
        return ImageGrid(
            size=(height, width),
            resized=(ph, pw),
            grid=(rows, cols),
            sequences=1,
            sequence_tokens=patches,
            patches=patches,
            tokens=patches // (d.merge[0] * d.merge[1]),
            note=f"resized to {rh}x{rw}, padded: {rows}x{cols} patches",
        )

    def native_size(self) -> tuple[int, int]:
        """The position table's own grid (896 x 896 px for 64 x 64 patches of 14 px)."""
        d = self.dims
        return d.table[0] * d.patch_size, d.table[1] * d.patch_size

    def position_rows(self, grid: ImageGrid) -> int:
        """Bicubic resampling reads at most 16 table rows per patch."""
        return min(self.dims.table[0] * self.dims.table[1], 16 * grid.patches)
