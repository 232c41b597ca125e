"""Layer kinds, one module each (core/layers/<kind>.py), and the blocks built from them.

`MIXERS` is the registry of layer kinds, in the style of torch's flop_counter table: adding a
kind is one module and one row here. The property tests run every registered kind through the
invariants all of them must hold (tests/unit/test_layers.py).
"""

from core.layers.attention import Attention, QKNorm, windowed
from core.layers.blocks import Block, Branch, NormLayout, block_rows
from core.layers.compressed import CompressedAttention, Compressor, Indexer
from core.layers.hyper import HyperConnection
from core.layers.mixer import Mixer
from core.layers.mla import MlaAttention, MlaMode
from core.layers.mlp import DenseMlp
from core.layers.moe import Moe

MIXERS: dict[str, type] = {
    # token mixers
    "attention": Attention,
    "mla": MlaAttention,
    "compressed_attention": CompressedAttention,  # DeepSeek-V4: window + CSA / HCA compressors
    # channel mixers
    "mlp": DenseMlp,
    "moe": Moe,
}

__all__ = [
    "MIXERS",
    "Attention",
    "Block",
    "Branch",
    "CompressedAttention",
    "Compressor",
    "DenseMlp",
    "HyperConnection",
    "Indexer",
    "Mixer",
    "MlaAttention",
    "MlaMode",
    "Moe",
    "NormLayout",
    "QKNorm",
    "block_rows",
    "windowed",
]
