"""The interface every vision tower implements, and the encoder pass `analyze` runs.

A vision tower (one class per family, in parsers/: it reads the config's `vision_config`) does
four things of its own: `normalize_config` (the raw config -> a frozen dims record, once),
`get_layer_list` (one `Block` per encoder layer, made of the layer kinds of core/layers with
bidirectional attention), `vision_ends` (the patch embedding, position table, merge and projector:
core/vision/ends.py) and `image_grid` (what the family's image processor does to an image of a
given size: HuggingFace's resizing replayed exactly; core/model/images.py). `encoder(grid)` then
gives a `VisionEncoder`, which `core.model.report.analyze` turns into a report like a text
decoder's, with the images' attention sequences as its queries.

Precision: vision towers are not quantized (the quantized checkpoints' configs leave them out);
their weights and activations are in the vision config's dtype (else the text model's), and
`--weight-dtype` / `--activation-dtype` override them as they do the text model's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..errors import UnsupportedModelError, UsageError
from ..layers.attention import Attention
from ..layers.blocks import Block, NormKind, NormLayout
from ..layers.mlp import DenseMlp
from ..model.builder import OpBuilder
from ..model.config import ConfigReader
from ..model.formats import DataFormat
from ..model.images import ImageGrid
from ..model.masks import AttentionPattern
from ..model.parallel import Parallelism
from ..model.precision import resolve_precision
from .ends import VisionEnds


@dataclass(frozen=True, kw_only=True)
class VisionDims:
    """Dimensions every vision encoder has; families extend it."""

    hidden_size: int  # the encoder's width
    num_layers: int  # encoder layers
    num_heads: int  # attention heads
    intermediate_size: int  # the MLP's width
    patch_size: int  # pixels per patch side
    text_hidden_size: int  # the projector's output: the text model's width
    dtype: DataFormat  # the vision config's dtype, else the text config's, else the top level's


def vision_section(config: Mapping[str, Any], model_type: str) -> ConfigReader:
    """The reader of `vision_config`; a config without one has no vision tower (one line)."""
    if config.get("vision_config") is None:
        raise UnsupportedModelError(
            f"{model_type} config has no vision_config: no vision tower to analyze (--mode "
            "vision and --images need a multimodal config)"
        )
    return ConfigReader(config, model_type).section("vision_config")


def vision_dtype(config: Mapping[str, Any], vision: ConfigReader) -> DataFormat:
    """The vision config's `dtype` / `torch_dtype`, else the text config's, else the top
    level's, else float16."""
    top = ConfigReader(config, vision.model_type)
    text = top.section("text_config").config if config.get("text_config") is not None else {}
    for section in (vision.config, text):
        if any(section.get(key) is not None for key in ("dtype", "torch_dtype")):
            return ConfigReader(section, vision.model_type).dtype()
    return top.dtype()


def text_hidden_size(config: Mapping[str, Any], model_type: str) -> int:
    """The text model's `hidden_size` (in `text_config`): the projector's output width."""
    return ConfigReader(config, model_type).section("text_config").integer("hidden_size")


def vit_layers(dims: VisionDims, act: str) -> list[Block]:
    """`dims.num_layers` plain ViT encoder layers (Qwen3-VL, Llama 4, MoonViT): pre-LayerNorm,
    bidirectional multi-head attention with biased q/k/v and output projections, and a biased
    MLP that is not gated."""
    attention = Attention(
        dims.num_heads,
        dims.num_heads,
        dims.hidden_size // dims.num_heads,
        AttentionPattern.bidirectional(),
        qkv_bias=True,
        o_bias=True,
    )
    mlp = DenseMlp(dims.intermediate_size, act, bias=True, gated=False)
    return [Block.encoder(attention, mlp, NormLayout.PRE, NormKind.LAYER)] * dims.num_layers


class VisionTower(ABC):
    """Reads one family's vision tower and states its encoder as blocks and ends."""

    model_type: ClassVar[str]
    """The `model_type` of the multimodal configs this class reads (its registry key)."""
    processor: ClassVar[str]
    """How the family's image processor maps an image to patches (the README's wording)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        weight_dtype: str | None = None,
        activation_dtype: str | None = None,
    ) -> None:
        self.config = config
        self.dims = self.normalize_config(config)
        self.precision = resolve_precision(
            self.dims.dtype,
            None,
            layers=self.dims.num_layers,
            weight=weight_dtype,
            activation=activation_dtype,
        )
        self.layers: tuple[Block, ...] = tuple(self.get_layer_list())
        if len(self.layers) != self.dims.num_layers:
            raise AssertionError(f"{self.model_type}: get_layer_list gave the wrong depth")
        self.distinct_blocks: tuple[Block, ...] = tuple(dict.fromkeys(self.layers))
        self.ends_spec = self.vision_ends()

    # --- what each family provides -------------------------------------------------------------

    @abstractmethod
    def normalize_config(self, config: Mapping[str, Any]) -> VisionDims:
        """The dims the formulas use, read and validated once from `vision_config`."""

    @abstractmethod
    def get_layer_list(self) -> Sequence[Block]:
        """One `Block` per encoder layer, in order."""

    @abstractmethod
    def vision_ends(self) -> VisionEnds:
        """The ops outside the blocks, without an image size."""

    @abstractmethod
    def image_grid(self, height: int, width: int) -> ImageGrid:
        """What the family's image processor makes of an image of `height` x `width` px."""

    @abstractmethod
    def native_size(self) -> tuple[int, int]:
        """The image size (height, width) the tower is built for: the default `--image-size`."""

    def position_rows(self, grid: ImageGrid) -> int:
        """Rows of the position table a step over images of `grid` reads (default: all)."""
        return self.ends_spec.position.params // self.dims.hidden_size

    # --- shared ---------------------------------------------------------------------------------

    def grid(self, size: tuple[int, int] | None) -> ImageGrid:
        """The grid of images of `size` (height, width), default the native size."""
        height, width = size or self.native_size()
        return self.image_grid(height, width)

    def encoder(self, grid: ImageGrid) -> VisionEncoder:
        """The encoder pass over images of `grid`, as `analyze` takes it."""
        ends = replace(self.ends_spec, grid=grid, position_rows=self.position_rows(grid))
        return VisionEncoder(self, ends)


class VisionEncoder:
    """One vision tower over images of one grid: what `core.model.report.analyze` needs (the
    same interface as a text parser's): blocks, ends, precision, the bound `set_op_*`
    vocabulary and the checks of a split."""

    tower: ClassVar[str] = "vision"

    def __init__(self, tower: VisionTower, ends: VisionEnds) -> None:
        self.model_type = tower.model_type
        self.config = tower.config
        self.dims = tower.dims
        self.precision = tower.precision
        self.layers = tower.layers
        self.distinct_blocks = tower.distinct_blocks
        self._ends = ends
        self._kinds: dict[range, Counter[Block]] = {}

    def ends(self) -> VisionEnds:
        return self._ends

    def ops(self, parallel: Parallelism) -> OpBuilder:
        return OpBuilder(self.precision, self.dims.hidden_size, parallel)

    def check_split(self, parallel: Parallelism) -> None:
        for block in self.distinct_blocks:
            if problem := block.check(parallel):
                raise UsageError(
                    f"{self.model_type} vision encoder: --tensor-parallel {parallel.tp}: {problem}"
                )
        if parallel.pp > self.dims.num_layers:
            raise UsageError(
                f"{self.model_type} vision encoder: --pipeline-parallel {parallel.pp} exceeds its "
                f"{self.dims.num_layers} layers"
            )

    def block_kinds(self, layers: range) -> Counter[Block]:
        if layers not in self._kinds:
            self._kinds[layers] = Counter(self.layers[layers.start : layers.stop])
        return self._kinds[layers]
