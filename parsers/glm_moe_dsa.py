"""GLM-5 (`model_type: glm_moe_dsa`): DeepSeek-V3.2's architecture (MLA + DSA indexer + MoE with
a shared expert; parsers/deepseek_v32.py) with its own dims and cross-layer top-k sharing.

Ground truth: transformers `models/glm_moe_dsa/modular_glm_moe_dsa.py`. What differs from
DeepSeek-V3.2:
- `indexer_types` ("full" / "shared" per layer): a "shared" layer has no indexer (no parameters,
  no indexer keys) and reuses the top-k selection of the last "full" layer before it; its
  attention still reads only the k selected keys. When the config does not list them:
  `index_topk_pattern` (a string of F / S, or a list of "full" / "shared"), else layer i runs its
  indexer iff max(i - `index_skip_topk_offset` + 1, 0) is a multiple of `index_topk_freq`
  (defaults 2 and 1: every layer, as in the released GLM-5 config). The first layer must run its
  own (HF raises otherwise);
- the indexer's RoPE is interleaved (same cost), `index_n_heads` defaults to 32.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..core.errors import ConfigError
from ..core.model.config import ConfigReader
from .deepseek_v32 import DeepseekV32ConfigParser

_PATTERN_LETTERS = {"F": "full", "S": "shared"}
_INDEXER_KINDS = frozenset(_PATTERN_LETTERS.values())


class GlmMoeDsaConfigParser(DeepseekV32ConfigParser):
    model_type = "glm_moe_dsa"
    architectures = frozenset({"GlmMoeDsaForCausalLM", "GlmMoeDsaModel"})
    index_heads_default: ClassVar[int] = 32

    def indexer_layers(self, r: ConfigReader, layers: int) -> frozenset[int]:
        """Layers whose `indexer_types` entry is "full" (see the module docstring)."""
        key, kinds = "indexer_types", r.config.get("indexer_types")
        if kinds is None and (pattern := r.config.get("index_topk_pattern")) is not None:
            key = "index_topk_pattern"
            kinds = (
                [_PATTERN_LETTERS.get(c, c) for c in pattern]
                if isinstance(pattern, str)
                else pattern
            )
        if kinds is None:
            freq = max(r.integer("index_topk_freq", 1, minimum=0), 1)
            offset = r.integer("index_skip_topk_offset", 2, minimum=0)
            return frozenset(i for i in range(layers) if max(i - offset + 1, 0) % freq == 0)
        if not _kinds_of(kinds, layers, _INDEXER_KINDS):
            raise ConfigError(
                f'{r.where}: \'{key}\' must give "full" or "shared" (F or S) for each of the '
                f"{layers} layers"
            )
        if kinds[0] != "full":
            raise ConfigError(f"{r.where}: '{key}': the first layer must run its own indexer")
        return frozenset(i for i, kind in enumerate(kinds) if kind == "full")


def _kinds_of(value: Any, layers: int, allowed: frozenset[str]) -> bool:
    """Whether `value` is a list of one of `allowed` per layer."""
    return (
        isinstance(value, list)
        and len(value) == layers
        and all(isinstance(kind, str) and kind in allowed for kind in value)
    )
