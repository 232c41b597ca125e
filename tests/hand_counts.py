"""Hand counts of a whole tiny Llama step, row by row, shared by the unit test that checks the
analyzer against them and the end-to-end checks of the goldens of the same config.

Model: h=8, H=2, H_kv=1, d=4, I=16, V=32, 2 layers, float16 (w=2), SiLU, untied lm_head.
Step: one query, 3 cached + 2 input tokens (T=2, L=5).
"""

from __future__ import annotations

import json
from pathlib import Path

CONFIG = json.loads(
    (Path(__file__).parent / "end-to-end/configs/tiny-llama/config.json").read_text()
)

# name: (blocks, FLOPs, weight B, input B, output B), per block; hand counts:
HAND = {
    # gather 2 rows of 8: 32 B of table read, 32 B written
    "Embedding": (1, 0, 32, 0, 32),
    # 2 rows x 8: 4*16 + 3*2 = 70 FLOPs; gain 8*2 = 16 B; in/out 16 elements = 32 B
    "Attn - RMSNorm": (2, 70, 16, 32, 32),
    # 8 -> (2+2*1)*4 = 16: 2*2*16*8 = 512; weight 128 el = 256 B; in 16 el; out 32 el
    "Attn - QKV_Proj": (2, 512, 256, 32, 64),
    # (2+1) heads x 4 dims x 2 tokens = 24 el, 3 FLOPs each; + cos/sin 2*2*4 = 16 el read
    "Attn - RoPE": (2, 72, 0, 80, 48),
    # 9 pairs, 5 keys: 2*2*(4+4)*9 = 288 + softmax 5*2*9 + 2*2*4 = 106; Q 16 el + KV 5*8 = 40 el
    "Attn - SDPA": (2, 394, 0, 112, 32),
    # 8 -> 8: 2*2*8*8 = 256; weight 64 el
    "Attn - O_Proj": (2, 256, 128, 32, 32),
    "Attn - ResidualAdd": (2, 16, 0, 64, 32),
    "Ffn - RMSNorm": (2, 70, 16, 32, 32),
    # 8 -> 32: 2*2*32*8 = 1024; weight 256 el; out 64 el
    "Ffn - GateUp_Proj": (2, 1024, 512, 32, 128),
    # (4+1) * 16 * 2 = 160; reads 64 el, writes 32 el
    "Ffn - ActMul": (2, 160, 0, 128, 64),
    # 16 -> 8: 2*2*8*16 = 512; weight 128 el
    "Ffn - Down_Proj": (2, 512, 256, 64, 32),
    "Ffn - ResidualAdd": (2, 16, 0, 64, 32),
    "Final RMSNorm": (1, 70, 16, 32, 32),
    # last token only: 1 x 8 -> 32: 2*32*8 = 512; weight 256 el = 512 B; out 32 el
    "LM Head": (1, 512, 512, 16, 64),
}
# embedding 256 + 2 blocks x (8+8 norms + 128 qkv + 64 o + 256 gate/up + 128 down = 592)
# + final norm 8 + lm_head 256
PARAMETERS = 256 + 2 * 592 + 8 + 256
# 2 layers x 5 tokens x (K and V of 1 head x 4) x 2 B
KV_BYTES = 2 * 5 * 8 * 2
