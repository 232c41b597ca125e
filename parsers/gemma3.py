"""Gemma 3 text decoder (`model_type: gemma3_text`; or the `text_config` of a `gemma3` config).

Ground truth: transformers `models/gemma3/modeling_gemma3.py` and `configuration_gemma3.py`:
Gemma 2's sandwich layout and (1 + gain) norms, plus per-head q/k RMSNorm (gains of head_dim);
`layer_types`, default from `sliding_window_pattern` (6): five local (sliding) layers, then one
global; `sliding_window` 512 (1B) or 1024; soft-capping only where the config sets it (none in the
released models); scaled, tied embeddings. Local and global layers differ in RoPE base only,
which costs the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.base_parser import decoder_dims
from ..core.layers import QKNorm
from ..core.model.config import ConfigReader, sliding_layers
from .gemma2 import Gemma2ConfigParser, Gemma2Dims, _softcap


class Gemma3ConfigParser(Gemma2ConfigParser):
    model_type = "gemma3_text"
    architectures = frozenset(
        {"Gemma3ForCausalLM", "Gemma3TextModel", "Gemma3ForConditionalGeneration"}
    )
    qk_norm = QKNorm.PER_HEAD

    def normalize_config(self, config: Mapping[str, Any]) -> Gemma2Dims:
        top = ConfigReader(config, self.model_type)
        text = config.get("text_config")
        r = top.section("text_config") if text is not None else top
        fields = decoder_dims(
            r,
            tie_default=True,
            act_key="hidden_activation",
            act_default="gelu_pytorch_tanh",
            head_dim_default=256,
            fallback=top if text is not None else None,
            hidden_divisible=True,
        )
        layers = fields["num_layers"]
        pattern = r.integer("sliding_window_pattern", 6)
        return Gemma2Dims(
            **fields,
            final_logit_softcapping=_softcap(r.config, "final_logit_softcapping", None),
            sliding_window=r.integer("sliding_window", 4096),
            sliding=tuple(
                sliding_layers(r, layers, [(i + 1) % pattern != 0 for i in range(layers)])
            ),
            attn_softcap=_softcap(r.config, "attn_logit_softcapping", None),
        )
