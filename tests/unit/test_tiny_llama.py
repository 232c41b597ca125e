"""The analyzer against a whole tiny Llama counted by hand (tests/hand_counts.py)."""

from __future__ import annotations

from hand_counts import CONFIG, HAND, KV_BYTES, PARAMETERS

from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.ops import Cost
from transformer_roofline.parsers import LlamaConfigParser


def report():
    return analyze(LlamaConfigParser(CONFIG), QueryConfig.from_lists((3,), (2,)))


def test_every_row_matches_the_hand_count() -> None:
    rows = {
        r.name: (
            r.blocks,
            r.cost.flops,
            r.cost.weight_bytes,
            r.cost.input_bytes,
            r.cost.output_bytes,
        )
        for r in report().rows
    }
    assert rows == HAND


def test_totals_parameters_and_storage() -> None:
    r = report()
    blocks, *fields = zip(*HAND.values(), strict=True)
    expected = [sum(b * f for b, f in zip(blocks, column, strict=True)) for column in fields]
    assert [r.total.flops, r.total.weight_bytes, r.total.input_bytes, r.total.output_bytes] == (
        expected
    )
    assert r.parameters["total"] == PARAMETERS
    assert r.weight_bytes == 2 * PARAMETERS
    assert r.kv_cache_bytes == KV_BYTES
    assert sum(part.bytes for part in r.storage_parts) == 2 * PARAMETERS + KV_BYTES


def test_totals_by_hand() -> None:
    # FLOPs: 2 blocks x (70+512+72+394+256+16+70+1024+160+512+16 = 3102) + 70 + 512 = 6786
    r = report()
    assert r.total == Cost(
        flops=6786,
        matmul_flops=2 * (512 + 288 + 256 + 1024 + 512) + 512,
        weight_bytes=32 + 2 * (16 + 256 + 128 + 16 + 512 + 256) + 16 + 512,
        input_bytes=0 + 2 * (32 + 32 + 80 + 112 + 32 + 64 + 32 + 32 + 128 + 64 + 64) + 32 + 16,
        output_bytes=32 + 2 * (32 + 64 + 48 + 32 + 32 + 32 + 32 + 128 + 64 + 32 + 32) + 32 + 64,
    )
