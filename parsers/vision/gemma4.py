"""The vision tower of Gemma 4 (`gemma4`): a ViT over a fixed budget of patches, 3x3 average
pooling into soft tokens, and `embed_vision` into the text model.

Ground truth: transformers `models/gemma4/modeling_gemma4.py` (`Gemma4VisionModel`,
`Gemma4MultimodalEmbedder`) and `image_processing_pil_gemma4.py`
(`get_aspect_ratio_preserving_size`).
- `vision_config`: `num_hidden_layers` 27 of `hidden_size` 1152, `num_attention_heads` 16 (and
  `num_key_value_heads`), `head_dim` 72, `intermediate_size` 4304, `hidden_activation`
  gelu_pytorch_tanh, `patch_size` 16, `pooling_kernel_size` 3, `position_embedding_size` 10240,
  `standardize` (HF's defaults where a key is absent: 16 layers of 768, 12 heads of 64, MLP
  3072). The top level's `vision_soft_tokens_per_image` (280) bounds the tokens per image.
- Patch embedding: Linear(3*16*16 = 768 -> hidden), no bias, over every position fed (padding
  too); positions: two learned tables (x and y, 10240 rows each), one row of each added per patch.
- Layers: RMSNorm (x * g, no unit offset) before and after attention and before and after the MLP
  (sandwich); attention over every position (bidirectional; padding masked, which changes no
  FLOPs), q/k RMSNorm per head with gains, a gain-less v norm, 2-D rotary embedding over the whole
  head (half by x, half by y), no biases; gated MLP (gate, up, down), no biases.
- After the blocks: 3x3 average pooling of the image's patches into soft tokens (HF multiplies a
  one-hot matrix in float32: 2 x 280 x 2520 x 1152 FLOPs that an engine's average does not do;
  here the mean, `Pool`), the sqrt(hidden) scale and the standardization (subtract, multiply);
  `embed_vision`: a gain-less RMSNorm and Linear(hidden -> text hidden), no bias, over the image's
  soft tokens only.
- Image processor: the largest size with at most `vision_soft_tokens_per_image` x 9 = 2520
  patches of 16 px and sides multiples of 48 px, aspect preserved (small images are scaled up);
  tokens = patches / 9. The pixels are padded to 2520 patches and the encoder runs on all 2520
  positions, whatever the image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.errors import ConfigError, UsageError
from ...core.layers import Attention, Block, DenseMlp, NormKind, NormLayout, QKNorm
from ...core.model.config import ConfigReader
from ...core.model.images import ImageGrid
from ...core.model.masks import AttentionPattern
from ...core.vision.ends import PositionTable, Step, VisionEnds
from ...core.vision.tower import (
    VisionDims,
    VisionTower,
    text_hidden_size,
    vision_dtype,
    vision_section,
)


def aspect_preserving_size(
    height: int, width: int, patch: int, max_patches: int, pool: int
) -> tuple[int, int]:
    """HF's `get_aspect_ratio_preserving_size`, operation for operation (Python floats): the
    largest size within `max_patches` patches whose sides are multiples of pool * patch."""
    target_px = max_patches * patch**2
    factor = math.sqrt(target_px / (height * width))
    side = pool * patch
    target_height = math.floor(factor * height / side) * side
    target_width = math.floor(factor * width / side) * side
    max_side = (max_patches // pool**2) * side
    if target_height == 0:
        target_height = side
        target_width = min(math.floor(width / height) * side, max_side)
    elif target_width == 0:
        target_width = side
        target_height = min(math.floor(height / width) * side, max_side)
    if target_height * target_width > target_px:  # HF raises too
        raise UsageError(
            f"--image-size {height} {width}: Gemma 4's image processor cannot fit it in "
            f"{max_patches} patches"
        )
    return target_height, target_width


@dataclass(frozen=True, kw_only=True)
class Gemma4VisionDims(VisionDims):
    num_kv_heads: int  # `num_key_value_heads`, default num_attention_heads
    head_dim: int  # `head_dim`, default 64
    act: str  # `hidden_activation`, default gelu_pytorch_tanh
    pool: int  # `pooling_kernel_size`, default 3 (pool x pool patches per soft token)
    table_rows: int  # `position_embedding_size`, default 10240 (rows of each of 2 tables)
    standardize: bool  # `standardize`, default false
    soft_tokens: int  # the top level's `vision_soft_tokens_per_image`, default 280


class Gemma4VisionTower(VisionTower):
    model_type = "gemma4"
    processor = (
        "the largest size with at most 280 x 9 = 2520 patches of 16 px and sides multiples of "
        "48 px, aspect preserved (small images scaled up); tokens = patches / 9; the encoder "
        "always runs on 2520 positions (padded)"
    )
    dims: Gemma4VisionDims

    def normalize_config(self, config: Mapping[str, Any]) -> Gemma4VisionDims:
        model_type = str(config.get("model_type", self.model_type))
        r = vision_section(config, model_type)
        top = ConfigReader(config, model_type)
        hidden = r.integer("hidden_size", 768)
        heads = r.integer("num_attention_heads", 12)
        kv_heads = r.integer("num_key_value_heads", heads)
        head_dim = r.integer("head_dim", 64)
        if heads % kv_heads:
            raise ConfigError(
                f"{r.where}: num_attention_heads ({heads}) is not a multiple of "
                f"num_key_value_heads ({kv_heads})"
            )
        soft = top.integer("vision_soft_tokens_per_image", r.integer("default_output_length", 280))
        if head_dim % 4:
            raise ConfigError(
                f"{r.where}: head_dim ({head_dim}) must be a multiple of 4 for its 2-D rotary "
                "embedding"
            )
        return Gemma4VisionDims(
            hidden_size=hidden,
            num_layers=r.layers() if "num_hidden_layers" in r.config else 16,
            num_heads=heads,
            intermediate_size=r.integer("intermediate_size", 3072),
            patch_size=r.integer("patch_size", 16),
            text_hidden_size=text_hidden_size(config, model_type),
            dtype=vision_dtype(config, r),
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            act=r.activation("hidden_activation", "gelu_pytorch_tanh"),
            pool=r.integer("pooling_kernel_size", 3),
            table_rows=r.integer("position_embedding_size", 10240),
            standardize=r.flag("standardize", False),
            soft_tokens=soft,
        )

    @property
    def max_patches(self) -> int:
        return self.dims.soft_tokens * self.dims.pool**2

    def get_layer_list(self) -> Sequence[Block]:
        d = self.dims
        attention = Attention(
            d.num_heads,
            d.num_kv_heads,
            d.head_dim,
            AttentionPattern.bidirectional(),
            qk_norm=QKNorm.PER_HEAD,
            v_norm=True,
        )
        mlp = DenseMlp(d.intermediate_size, d.act)
        block = Block.encoder(attention, mlp, NormLayout.SANDWICH, NormKind.RMS)
        return [block] * d.num_layers

    def vision_ends(self) -> VisionEnds:
        d = self.dims
        return VisionEnds(
            hidden_size=d.hidden_size,
            patch_in=3 * d.patch_size * d.patch_size,
            patch_bias=False,
            position=PositionTable(2 * d.table_rows * d.hidden_size, taps=2, weighted=False),
            merge=d.pool * d.pool,
            pool=True,
            pool_scale=3 if d.standardize else 1,  # x sqrt(hidden); (x - bias) * scale
            projector=(
                Step.rmsnorm("Embed_Vision - RMSNorm", d.hidden_size, gains=0),
                Step.linear("Embed_Vision - Proj", d.hidden_size, d.text_hidden_size, bias=False),
            ),
        )

    def image_grid(self, height: int, width: int) -> ImageGrid:
        d = self.dims
        h, w = aspect_preserving_size(height, width, d.patch_size, self.max_patches, d.pool)
        rows, cols = h // d.patch_size, w // d.patch_size
        patches = rows * cols
        return ImageGrid(
            size=(height, width),
            resized=(h, w),
            grid=(rows, cols),
            sequences=1,
            sequence_tokens=self.max_patches,
            patches=patches,
            tokens=patches // (d.pool * d.pool),
            note=f"{rows}x{cols} patches, padded to {self.max_patches}",
        )

    def native_size(self) -> tuple[int, int]:
        """The largest square the patch budget holds (768 px for 2520 patches of 16 px)."""
        d = self.dims
        side = math.isqrt(self.max_patches) // d.pool * d.pool
        return side * d.patch_size, side * d.patch_size

    def position_rows(self, grid: ImageGrid) -> int:
        """A row of the x table per column and of the y table per row of patches."""
        return sum(grid.grid)
