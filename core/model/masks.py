"""Which keys a new token attends to, and how many tokens a layer's KV cache holds.

A query with c cached and n new tokens puts its new tokens at positions c .. c+n-1; the token at
position p attends causally to keys at positions <= p, further limited by the layer's mask:

- full:    keys 0 .. p                                  (p + 1 keys)
- sliding: the last W positions, keys p-W+1 .. p         (min(p + 1, W) keys)
- chunked: keys of p's own chunk of C tokens, C*floor(p/C) .. p   ((p mod C) + 1 keys)
- top-k:   K keys of 0 .. p chosen by a selector (DeepSeek's DSA indexer)   (min(p + 1, K) keys)
- bidirectional (an encoder: vision towers): every key of the sequence, before and after p
  (c + n keys); nothing is kept between steps (an encoder runs once over its input)
- compressed (`CompressedKeys`, DeepSeek-V4): a sliding window, plus the entries a compressor
  made of every r tokens before p + 1 (floor((p + 1) / r)), all of them or the K an indexer picks

NB: what the cache holds follows HuggingFace's cache layers: a full layer keeps every token; sliding
    and chunked layers keep the last W-1 (C-1) tokens, enough for the next token's window together
    with its own key (transformers `DynamicSlidingWindowLayer`, used for both). A top-k layer
    keeps every token (any of them may be selected later).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class MaskKind(Enum):
    FULL = "full"
    SLIDING = "sliding"
    CHUNKED = "chunked"
    TOP_K = "top_k"
    BIDIRECTIONAL = "bidirectional"


@dataclass(frozen=True)
class ContextPieces:
    """Where a decode step's cost stops being affine in the context length L (one query, one new
    token per step; core/serving/generation.py sums steps piece by piece):

    - `points`: kinks of min(L, size) (a window or a top-k fills up): affine on either side;
    - `cycles`: sawtooth resets every C tokens (chunked attention restarts at L = mC + 1);
    - `periods`: costs that depend on L mod r (a compressor closes a window every r tokens and
      attends to floor(L / r) entries): affine along each residue class of L mod r.
    """

    points: frozenset[int] = frozenset()
    cycles: frozenset[int] = frozenset()
    periods: frozenset[int] = frozenset()

    def __or__(self, other: ContextPieces) -> ContextPieces:
        return ContextPieces(
            self.points | other.points, self.cycles | other.cycles, self.periods | other.periods
        )


NO_PIECES = ContextPieces()


@dataclass(frozen=True, slots=True)
class AttentionPattern:
    kind: MaskKind = MaskKind.FULL
    size: int = 0  # W, C or K; unused for FULL and BIDIRECTIONAL

    def __post_init__(self) -> None:
        if self.kind not in (MaskKind.FULL, MaskKind.BIDIRECTIONAL) and self.size < 1:
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

    @classmethod
    def bidirectional(cls) -> AttentionPattern:
        """An encoder's attention: every token of a sequence sees all of it (no causal mask)."""
        return cls(MaskKind.BIDIRECTIONAL)

    @property
    def label(self) -> str:
        if self.kind is MaskKind.FULL:
            return "global"
        if self.kind is MaskKind.BIDIRECTIONAL:
            return "bidirectional"
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
        Full attention: n*c + n(n+1)/2. Bidirectional: n*(c + n), every key of the sequence."""
        if self.kind is MaskKind.BIDIRECTIONAL:
            return new * (cached + new)
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

    def pieces(self) -> ContextPieces:
        """Where a decode step over this mask stops being affine in the context (and, for the
        cache it holds, where it stops growing)."""
        if self.kind in (MaskKind.SLIDING, MaskKind.TOP_K):
            return ContextPieces(points=frozenset({self.size - 1, self.size}))
        if self.kind is MaskKind.CHUNKED:
            return ContextPieces(cycles=frozenset({self.size}))
        return NO_PIECES


FULL_ATTENTION = AttentionPattern()


class KeyPattern(Protocol):
    """What the attention formula (core/ops.py `sdpa`) needs of a mask."""

    @property
    def label(self) -> str: ...

    def pairs(self, cached: int, new: int) -> int: ...

    def keys_read(self, cached: int, new: int) -> int: ...

    def pieces(self) -> ContextPieces: ...


def compressed_entries_before(x: int, ratio: int, cap: int | None = None) -> int:
    """Sum over positions p = 0 .. x-1 of min(cap, floor((p + 1) / ratio)): the compressed entries
    the first x tokens see (a token sees the windows of `ratio` tokens closed up to and including
    itself), at most `cap` each. Closed form: with x = a*r + b (0 <= b < r), the uncapped sum is
    r * a(a-1)/2 + a(b+1); past x = cap*r - 1 every token sees exactly `cap`."""
    if cap is not None and x >= cap * ratio:
        return compressed_entries_before(cap * ratio - 1, ratio) + cap * (x - cap * ratio + 1)
    a, b = divmod(x, ratio)
    return ratio * a * (a - 1) // 2 + a * (b + 1)


@dataclass(frozen=True, slots=True)
class CompressedKeys:
    """DeepSeek-V4's compressed attention (CSA / HCA): each token attends to its sliding window of
    `window` keys plus compressed entries, one per `ratio` tokens closed at or before it; all of
    them (HCA), or the `top_k` an indexer selects (CSA).

    NB: HF's eager code scores every compressed entry and masks the unselected ones; a sparse kernel
        (and this count) attends to min(top_k, entries) of them. They agree while the context is
        at most top_k * ratio tokens (2048 for DeepSeek-V4-Flash)."""

    window: int
    ratio: int
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.window < 1 or self.ratio < 1 or (self.top_k is not None and self.top_k < 1):
            raise ValueError(f"compressed attention needs positive sizes, got {self}")

    @property
    def label(self) -> str:
        top = "" if self.top_k is None else f" top {self.top_k}"
        return f"window {self.window} + 1/{self.ratio}{top}"

    def pairs(self, cached: int, new: int) -> int:
        """Window pairs plus, per new token at p, min(top_k, floor((p + 1) / ratio)) entries."""
        window = AttentionPattern.sliding(self.window).pairs(cached, new)
        end = cached + new
        entries = compressed_entries_before(end, self.ratio, self.top_k)
        return window + entries - compressed_entries_before(cached, self.ratio, self.top_k)

    def pieces(self) -> ContextPieces:
        """The window's kink, the top-k's (once floor(L / ratio) reaches it), and L mod ratio."""
        window = AttentionPattern.sliding(self.window).pieces()
        points = frozenset() if self.top_k is None else frozenset({self.top_k * self.ratio})
        return window | ContextPieces(points=points, periods=frozenset({self.ratio}))

    def keys_read(self, cached: int, new: int) -> int:
        """The window's keys plus the compressed entries read: every entry there is once the step
        ends (HCA), at most top_k per new token (CSA: the same bound as a top-k layer)."""
        window = AttentionPattern.sliding(self.window).keys_read(cached, new)
        entries = (cached + new) // self.ratio
        return window + (entries if self.top_k is None else min(entries, new * self.top_k))
