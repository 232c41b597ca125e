"""Attention masks: closed forms against brute-force enumeration of (query, key) pairs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from transformer_roofline.core.layers.attention import Attention
from transformer_roofline.core.model.masks import AttentionPattern, MaskKind


def _visible(kind: MaskKind, size: int, p: int, key: int) -> bool:
    """Does the token at position p see the key at position `key`? (The definition, spelled out.)"""
    if key > p:
        return False
    if kind is MaskKind.SLIDING:
        return p - key < size
    if kind is MaskKind.CHUNKED:
        return key // size == p // size
    return True


def _enumerate(kind: MaskKind, size: int, cached: int, new: int) -> tuple[int, int]:
    pairs, keys = 0, set()
    for p in range(cached, cached + new):
        for key in range(p + 1):
            if _visible(kind, size, p, key):
                pairs += 1
                keys.add(key)
    return pairs, len(keys)


def _attention(pattern: AttentionPattern) -> Attention:
    """One attention layer (2 heads, 1 KV head of 4) over `pattern`: its cache is the state."""
    return Attention(heads=2, kv_heads=1, head_dim=4, pattern=pattern)


patterns = st.one_of(
    st.just(AttentionPattern()),
    st.integers(1, 9).map(lambda w: AttentionPattern(MaskKind.SLIDING, w)),
    st.integers(1, 9).map(lambda c: AttentionPattern(MaskKind.CHUNKED, c)),
)


@given(patterns, st.integers(0, 30), st.integers(1, 12))
def test_pairs_and_keys_match_enumeration(pattern: AttentionPattern, cached: int, new: int) -> None:
    assert (pattern.pairs(cached, new), pattern.keys_read(cached, new)) == _enumerate(
        pattern.kind, pattern.size, cached, new
    )


def test_full_attention_hand_counts() -> None:
    # 3 cached + 2 new: token 3 sees 4 keys, token 4 sees 5 -> 9 = n*c + n(n+1)/2 = 6 + 3
    assert AttentionPattern().pairs(3, 2) == 9
    assert AttentionPattern().keys_read(3, 2) == 5
    # decode after 511 cached: 512 keys
    assert AttentionPattern().pairs(511, 1) == 512


def test_window_clips_pairs_and_cache() -> None:
    window = AttentionPattern(MaskKind.SLIDING, 4)
    # positions 10, 11 each see the last 4 keys: 8 pairs, keys 7..11 = 5 distinct
    assert window.pairs(10, 2) == 8
    assert window.keys_read(10, 2) == 5
    # the cache keeps window - 1 = 3 tokens once past the window (HF DynamicSlidingWindowLayer)
    (kv,) = _attention(window).states(1)
    assert (kv.units(12), kv.units(2)) == (3, 2)


def test_chunks_restart() -> None:
    chunked = AttentionPattern(MaskKind.CHUNKED, 4)
    # prefill of 6 tokens: chunk 0 = 1+2+3+4, chunk 1 = 1+2 -> 13
    assert chunked.pairs(0, 6) == 13
    # decode at position 9 (chunk 8..11): sees keys 8, 9 -> 2 pairs and 2 keys
    assert chunked.pairs(9, 1) == 2
    assert chunked.keys_read(9, 1) == 2


@given(st.integers(0, 200), st.integers(1, 50), st.integers(1, 500))
def test_window_larger_than_context_changes_nothing(cached: int, new: int, extra: int) -> None:
    window = AttentionPattern(MaskKind.SLIDING, cached + new + extra)
    full = AttentionPattern()
    assert window.pairs(cached, new) == full.pairs(cached, new)
    assert window.keys_read(cached, new) == full.keys_read(cached, new)
    (held,), (whole,) = _attention(window).states(1), _attention(full).states(1)
    assert held.units(cached + new) == whole.units(cached + new) == cached + new
