"""Layer kinds, one module each (core/layers/<kind>.py), and the blocks built from them.

`MIXERS` is the registry of layer kinds, in the style of torch's flop_counter table: adding a
kind is one module and one row here. The property tests run every registered kind through the
invariants all of them must hold (tests/unit/test_layers.py).

Both the registry and the names below are imported on first use (core/lazy.py): a model pays
only for the layer kinds it builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..lazy import LazyTable, exports

if TYPE_CHECKING:
    from .attention import Attention, QKNorm, windowed
    from .blocks import Block, Branch, NormKind, NormLayout, block_rows
    from .compressed import CompressedAttention, Compressor, Indexer
    from .dsa import DsaIndexer
    from .gated_deltanet import GatedDeltaNet
    from .hyper import HyperConnection
    from .mamba2 import Mamba2
    from .mixer import Mixer
    from .mla import MlaAttention, MlaMode
    from .mlp import DenseMlp
    from .moe import Moe
    from .moe_dense import MoeWithDense
    from .per_layer_inputs import PerLayerEmbedding, PerLayerInput

MIXERS: LazyTable[type] = LazyTable(
    __name__,
    {
        # token mixers
        "attention": "attention:Attention",
        "mla": "mla:MlaAttention",  # with an optional DSA indexer (dsa.py): DeepSeek-V3.2, GLM-5
        "mamba2": "mamba2:Mamba2",
        "gated_deltanet": "gated_deltanet:GatedDeltaNet",
        "compressed_attention": "compressed:CompressedAttention",  # DeepSeek-V4: window + CSA/HCA
        # channel mixers
        "mlp": "mlp:DenseMlp",
        "moe": "moe:Moe",
        "moe_dense": "moe_dense:MoeWithDense",  # routed experts beside a dense MLP (Gemma 4)
        "per_layer_input": "per_layer_inputs:PerLayerInput",  # Gemma 4's per-layer inputs (PLE)
    },
)

_EXPORTS = exports(
    __name__,
    {
        "attention": ("Attention", "QKNorm", "windowed"),
        "blocks": ("Block", "Branch", "NormKind", "NormLayout", "block_rows"),
        "compressed": ("CompressedAttention", "Compressor", "Indexer"),
        "dsa": ("DsaIndexer",),
        "gated_deltanet": ("GatedDeltaNet",),
        "hyper": ("HyperConnection",),
        "mamba2": ("Mamba2",),
        "mixer": ("Mixer",),
        "mla": ("MlaAttention", "MlaMode"),
        "mlp": ("DenseMlp",),
        "moe": ("Moe",),
        "moe_dense": ("MoeWithDense",),
        "per_layer_inputs": ("PerLayerEmbedding", "PerLayerInput"),
    },
)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return _EXPORTS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIXERS",
    "Attention",
    "Block",
    "Branch",
    "CompressedAttention",
    "Compressor",
    "DenseMlp",
    "DsaIndexer",
    "GatedDeltaNet",
    "HyperConnection",
    "Indexer",
    "Mamba2",
    "Mixer",
    "MlaAttention",
    "MlaMode",
    "Moe",
    "MoeWithDense",
    "NormKind",
    "NormLayout",
    "PerLayerEmbedding",
    "PerLayerInput",
    "QKNorm",
    "block_rows",
    "windowed",
]
