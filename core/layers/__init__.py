"""Layer kinds, one module each (core/layers/<kind>.py), and the blocks built from them.

`MIXERS` is the registry of layer kinds, in the style of torch's flop_counter table: adding a
kind is one module and one row here. The property tests run every registered kind through the
invariants all of them must hold (tests/unit/test_layers.py).
"""

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

MIXERS: dict[str, type] = {
    # token mixers
    "attention": Attention,
    "mla": MlaAttention,  # with an optional DSA indexer (core/layers/dsa.py): DeepSeek-V3.2, GLM-5
    "mamba2": Mamba2,
    "gated_deltanet": GatedDeltaNet,
    "compressed_attention": CompressedAttention,  # DeepSeek-V4: window + CSA / HCA compressors
    # channel mixers
    "mlp": DenseMlp,
    "moe": Moe,
    "moe_dense": MoeWithDense,  # routed experts beside a dense MLP, each with its norms (Gemma 4)
    "per_layer_input": PerLayerInput,  # per-layer input embeddings mixed in (Gemma 4's PLE)
}

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
