"""How a step's kernels run (`--execution`): its own small module, so that naming it (the API's
signatures, the options) does not load the hardware catalog or the roofline."""

from __future__ import annotations

from enum import Enum


class Execution(Enum):
    """`FUSED`: norms, RoPE, activations and adds fused into neighbouring kernels (only their
    FLOPs take time), as serving engines run them; `EAGER`: every op its own kernel, as
    HuggingFace eager does."""

    FUSED = "fused"
    EAGER = "eager"
