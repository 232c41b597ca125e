"""Which keys a new token attends to, and how many tokens a layer's KV cache holds.

A query with c cached and n new tokens puts its new tokens at positions c .. c+n-1; the token at
position p attends causally to keys at positions <= p, further limited by the layer's mask:

- full:    keys 0 .. p                                  (p + 1 keys)
- sliding: the last W positions, keys p-W+1 .. p         (min(p + 1, W) keys)
- chunked: keys of p's own chunk of C tokens, C*floor(p/C) .. p   ((p mod C) + 1 keys)
- top-k:   K keys of 0 .. p chosen by a selector (DeepSeek's DSA indexer)   (min(p + 1, K) keys)

NB: what the cache holds follows HuggingFace's cache layers: a full layer keeps every token; sliding
    and chunked layers keep the last W-1 (C-1) tokens, enough for the next token's window together
    with its own key (transformers `DynamicSlidingWindowLayer`, used for both). A top-k layer
    keeps every token (any of them may be selected later).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MaskKind(Enum):
    FULL = "full"
    SLIDING = "sliding"
    CHUNKED = "chunked"
    TOP_K = "top_k"


@dataclass(frozen=True, slots=True)
class AttentionPattern:
    kind: MaskKind = MaskKind.FULL
    size: int = 0  # W, C or K; unused for FULL

    def __post_init__(self) -> None:
        if self.kind is not MaskKind.FULL and self.size < 1:
            raise ValueError(f"{self.kind.value} attention needs a positive size, got {self.size}")

    @classmethod
    def sliding(cls, window: int | None) -> AttentionPattern:
        """A sliding window of `window` keys, or full attention when `window` is None."""
        return cls() if window is None else cls(MaskKind.SLIDING, window)

    @classmethod
    def chunked(cls, chunk: int | None) -> AttentionPattern:
        """Attention within chunks of `chunk` tokens, or full attention when `chunk` is None."""
        return cls() if chunk is None else cls(MaskKind.CHUNKED, chunk)

    @classmethod
    def top_k(cls, keys: int) -> AttentionPattern:
        """Attention over `keys` selected keys of the causal context (all of them while shorter)."""
        return cls(MaskKind.TOP_K, keys)

    @property
    def label(self) -> str:
        if self.kind is MaskKind.FULL:
            return "global"
        names = {MaskKind.SLIDING: "window", MaskKind.CHUNKED: "chunk", MaskKind.TOP_K: "top"}
        return f"{names[self.kind]} {self.size}"

    def _keys_before(self, x: int) -> int:
        """Sum over positions p = 0 .. x-1 of the keys token p attends to (closed form)."""
        if self.kind is MaskKind.FULL or x <= self.size:
            return x * (x + 1) // 2  # 1 + 2 + ... + x
        w = self.size
        if self.kind in (MaskKind.SLIDING, MaskKind.TOP_K):
            return w * (w + 1) // 2 + (x - w) * w  # ramp to W, then W per token
        chunks, rest = divmod(x, w)  # every whole chunk is a ramp 1..C, then a partial ramp
        return chunks * (w * (w + 1) // 2) + rest * (rest + 1) // 2

    def pairs(self, cached: int, new: int) -> int:
        """(query, key) pairs the `new` tokens attend to: the causal pairs, clipped by the mask.
        Full attention: n*c + n(n+1)/2."""
        return self._keys_before(cached + new) - self._keys_before(cached)

    def keys_read(self, cached: int, new: int) -> int:
        """Distinct key positions the new tokens attend to: whose K and V are read this step."""
        end = cached + new
        if self.kind is MaskKind.SLIDING:
            return end - max(0, cached - self.size + 1)
        if self.kind is MaskKind.CHUNKED:
            return end - self.size * (cached // self.size)
        if self.kind is MaskKind.TOP_K:
            # NB: which keys the selector picks is data; the union of the new tokens' picks is
            #     at most every key and at most K per new token: that bound is counted.
            return min(end, new * self.size)
        return end

    def tokens_held(self, length: int) -> int:
        """Tokens this layer's KV cache holds once the context is `length` tokens long."""
        if self.kind in (MaskKind.FULL, MaskKind.TOP_K):
            return length
        return min(length, self.size - 1)


FULL_ATTENTION = AttentionPattern()
