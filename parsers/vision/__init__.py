"""Vision towers, one module per family, and the registry that picks one by a multimodal
config's `model_type` (`--mode vision`, `--images`). Imported only when images are analyzed: a
text step's command never loads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.errors import UnsupportedModelError
from ...core.vision.tower import VisionTower
from .. import select_parser
from .gemma4 import Gemma4VisionTower
from .llama4 import Llama4VisionTower
from .moonvit import MoonVitTower
from .qwen import Qwen3_5VisionTower, Qwen3VLVisionTower

# One literal table, aliases as explicit rows, as PARSER_REGISTRY. A type missing here has no
# vision tower this version models.
VISION_REGISTRY: dict[str, type[VisionTower]] = {
    "qwen3_vl": Qwen3VLVisionTower,
    "qwen3_vl_moe": Qwen3VLVisionTower,  # alias: Qwen3-VL-MoE's tower is Qwen3-VL's
    "qwen3_5": Qwen3_5VisionTower,
    "qwen3_5_moe": Qwen3_5VisionTower,  # alias: Qwen3.5-MoE's (and Qwen3.6's) tower
    "gemma4": Gemma4VisionTower,
    "llama4": Llama4VisionTower,
    "kimi_k25": MoonVitTower,
}


def select_vision(config: Mapping[str, Any]) -> type[VisionTower]:
    """The vision tower of `config` (a supported, well-formed model first: `select_parser`),
    dispatched on its `model_type`; an error naming the types that have one otherwise."""
    select_parser(config)
    model_type = str(config.get("model_type"))
    tower = VISION_REGISTRY.get(model_type)
    if tower is None:
        raise UnsupportedModelError(
            f"{model_type}: no vision tower (a text-only model type); vision mode and --images "
            f"need one of: {', '.join(sorted(VISION_REGISTRY))}"
        )
    return tower


__all__ = [
    "VISION_REGISTRY",
    "Gemma4VisionTower",
    "Llama4VisionTower",
    "MoonVitTower",
    "Qwen3VLVisionTower",
    "Qwen3_5VisionTower",
    "select_vision",
]
