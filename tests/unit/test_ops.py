"""Each cost formula on tiny, hand-countable dimensions; the arithmetic is in the comments."""

from __future__ import annotations

from fractions import Fraction

from transformer_roofline.core import ops
from transformer_roofline.core.model.masks import AttentionPattern, MaskKind
from transformer_roofline.core.ops import Cost


def test_gemm_without_and_with_bias() -> None:
    # [3 x 4] @ [4 x 5]: 3*5 outputs of 4 multiply-adds = 60 MACs = 120 FLOPs
    # weight 4*5 = 20 elements, input 3*4 = 12, output 3*5 = 15; 2 bytes each
    assert ops.gemm(3, 4, 5, w_weight=2, w_act=2) == Cost(120, 120, 40, 24, 30)
    # a bias adds 3*5 = 15 FLOPs (not matmul) and 5 weights
    assert ops.gemm(3, 4, 5, w_weight=2, w_act=2, bias=True) == Cost(135, 120, 50, 24, 30)


def test_gemm_weight_format_apart_from_activations() -> None:
    # mxfp4 weights: 17/32 bytes per element, 4*32 = 128 elements -> 68 bytes exactly
    cost = ops.gemm(1, 4, 32, w_weight=Fraction(17, 32), w_act=2)
    assert cost.weight_bytes == 68
    assert cost.input_bytes == 8 and cost.output_bytes == 64


def test_rope() -> None:
    # 2 tokens x 3 heads x 4 dims = 24 rotated elements, 3 FLOPs each = 72
    # reads 24 elements + cos and sin rows (2 * 2 tokens * 4) = 40 elements = 80 B; writes 48 B
    assert ops.rope(2, 3, 4, w=2) == Cost(72, 0, 0, 80, 48)


def test_rmsnorm() -> None:
    # 2 rows of 8: 4 FLOPs per element (square, sum, scale, gain) = 64, + 3 per row = 70
    assert ops.rmsnorm(2, 8, w_act=2, w_weight=2) == Cost(70, 0, 16, 32, 32)
    # gain-less L2 norm: 3 per element = 48 + 6 = 54, no weights
    assert ops.rmsnorm(2, 8, w_act=2, w_weight=2, gains=0) == Cost(54, 0, 0, 32, 32)
    # Gemma's (1 + g): 5 per element = 80 + 6 = 86
    assert ops.rmsnorm(2, 8, w_act=2, w_weight=2, unit_offset=True).flops == 86


def test_act_mul_silu() -> None:
    # silu = 4 FLOPs, then * up = 1: 5 per element; 2 tokens x 16 = 32 elements -> 160
    # reads gate and up (64 elements = 128 B), writes 32 elements = 64 B
    assert ops.act_mul(2, 16, "silu", w=2) == Cost(160, 0, 0, 128, 64)


def test_residual_add_and_combine() -> None:
    # 2 x 8 = 16 adds; reads two operands (64 B), writes one (32 B)
    assert ops.elementwise_sum(2, 8, w=2) == Cost(16, 0, 0, 64, 32)
    # MoE combine, top-2 + shared, 2 tokens x 8: per element 2 mults + 2 adds = 4 -> 64
    # reads 3 outputs (3 * 16 elements) + 2 scores per token (4) = 52 elements = 104 B
    assert ops.moe_combine(2, 8, top_k=2, shared=True, w=2) == Cost(64, 0, 0, 104, 32)


def test_embedding_is_a_gather() -> None:
    assert ops.embedding(3, 8, w=2) == Cost(0, 0, 48, 0, 48)


def test_sdpa_full_gqa() -> None:
    # 1 query, 3 cached + 2 new: 9 pairs (see test_attention), 5 keys. 2 query heads, 1 KV head,
    # head_dim 4. QK^T + PV: 2 * 2 heads * (4 + 4) * 9 = 288. Softmax 5 * 2 * 9 = 90,
    # + normalising 2 tokens * 2 heads * 4 = 16 -> 394.
    # Q: 2 * 2 * 4 = 16 elements; K, V: 5 keys * 1 head * 8 = 40 -> 56 elements = 112 B
    # Out: 16 elements = 32 B
    cost = ops.sdpa(
        [((3, 2), 1)], AttentionPattern(), heads=2, kv_heads=1, qk_dim=4, v_dim=4, w_act=2, w_kv=2
    )
    assert cost == Cost(394, 288, 0, 112, 32)
    # three such queries cost three times as much (groups of identical queries)
    triple = ops.sdpa(
        [((3, 2), 3)], AttentionPattern(), heads=2, kv_heads=1, qk_dim=4, v_dim=4, w_act=2, w_kv=2
    )
    assert triple == cost * 3


def test_sdpa_kv_width_is_separate_and_window_clips() -> None:
    # window 2 at decode after 10 cached: 2 pairs, 2 keys; 1 head, head_dim 2
    # matmul 2 * 1 * 4 * 2 = 16; softmax 5*2 + 1*1*2 = 12; K/V 2 keys * 4 values * 1 B (fp8)
    cost = ops.sdpa(
        [((10, 1), 1)],
        AttentionPattern(MaskKind.SLIDING, 2),
        heads=1,
        kv_heads=1,
        qk_dim=2,
        v_dim=2,
        w_act=2,
        w_kv=1,
    )
    assert cost == Cost(28, 16, 0, 2 * 2 + 8, 4)


def test_layernorm() -> None:
    # 2 rows of 8: 7 FLOPs per element with a bias (mean, subtract, square, accumulate, scale,
    # gain, bias) = 112, + 4 per row = 120; gain and bias 16 el = 32 B
    assert ops.layernorm(2, 8, w_act=2, w_weight=2, bias=True) == Cost(120, 0, 32, 32, 32)
    # without the bias: 6 per element = 96 + 8
    assert ops.layernorm(2, 8, w_act=2, w_weight=2, bias=False) == Cost(104, 0, 16, 32, 32)


def test_lightning_indexer_causal_with_top_k() -> None:
    # ratio 1 (DSA): two queries: (4 cached, 2 new) and 3 x (0 cached, 3 new); 2 heads of dim 3,
    # top 2. (token, key) pairs: 5 + 6 = 11, and 3 x (1 + 2 + 3) = 18 -> 29; new tokens 2 + 9 = 11
    # per (head, pair): q.k 3 multiply-adds = 6 (matmul), relu 1, the weighted sum's multiply-add 2
    # -> matmul 2*6*29 = 348, + 2*3*29 = 174; per (token, head) the folded scale: 2*11 = 22
    # reads q and w 11*2*(3+1) = 88 el and the keys 6 + 3*3 = 15 x 3 = 45 el (fp8: 1 B each)
    # indices: min(p+1, 2) -> 2 + 2, and 3 x (1 + 2 + 2): 19 x 4 B
    cost = ops.lightning_indexer([((4, 2), 1), ((0, 3), 3)], heads=2, head_dim=3, top_k=2,
                                 w_act=2, w_key=1)  # fmt: skip
    assert cost == Cost(348 + 174 + 22, 348, 0, 88 * 2 + 45, 19 * 4)


def test_lightning_indexer_over_compressed_keys() -> None:
    # ratio 2: 5 cached + 4 new at positions 5..8 see floor((p+1)/2) = 3, 3, 4, 4 keys -> 14
    # scores; top 2 keeps 2 each -> 8 indices. 1 head of dim 2: matmul 2*2*14 = 56, relu and the
    # weighted sum 3*14 = 42, the folded scale 4 -> 102. Reads q and w 4*(2+1) = 12 el (24 B)
    # and the floor(9/2) = 4 keys of 2 (8 B at 1 B); writes 8 x 4 B
    cost = ops.lightning_indexer([((5, 4), 1)], heads=1, head_dim=2, top_k=2, ratio=2,
                                 w_act=2, w_key=1)  # fmt: skip
    assert cost == Cost(102, 56, 0, 24 + 8, 32)


def test_cost_algebra() -> None:
    a, b = Cost(1, 1, 2, 3, 4), Cost(10, 0, 20, 30, 40)
    assert a + b == Cost(11, 1, 22, 33, 44)
    assert a * 3 == 3 * a == Cost(3, 3, 6, 9, 12)
    assert (a + b).total_bytes == 99
    assert Cost().operational_intensity == 0.0


def test_expected_distinct_experts() -> None:
    # one token touches exactly its top-k; many tokens touch about all of them
    assert ops.expected_distinct_experts(16, 2, 1) == 2
    assert abs(ops.expected_distinct_experts(16, 2, 10_000) - 16) < 1e-9
    # two tokens, top-1 of 2: 2 * (1 - 1/4) = 1.5
    assert ops.expected_distinct_experts(2, 1, 2) == 1.5


def test_ssd_scan_decode_step() -> None:
    # 2 queries of 5 cached + 1: H = 2 heads of P = 3, N = 4, so 24 state elements per query.
    # per query: dt and decays 8 x 2 heads = 16; dt x and D x: 3 x 6 values = 18; the step:
    # 3 x 24 (decay, input, add) + 2 x 24 (readout, matmul) = 120 -> 154; x 2 queries = 308
    # reads x 6 + B, C 2 x 1 x 4 + dt 2 = 16 values at 2 B and the state 24 x 4 B: 128 per query;
    # writes y 6 x 2 B and the state 96 B: 108 per query. Weights: A_log, D, dt_bias 3 x 2 x 2 B.
    cost = ops.ssd_scan(
        [((5, 1), 2)],
        heads=2,
        head_dim=3,
        state_size=4,
        groups=1,
        chunk=8,
        w_act=2,
        w_state=4,
        w_weight=2,
    )
    assert cost == Cost(308, 96, 12, 256, 216)


def test_ssd_scan_chunked_prefill() -> None:
    # 5 new tokens (nothing cached) in chunks of 2, 2, 1: 3 + 3 + 1 = 7 causal in-chunk pairs.
    # matmul: scores 2 x N 4 x G 1 x 7 = 56, weighted sums 2 x P 3 x H 2 x 7 = 84, chunk states
    # and readouts 2 x 2 x 5 tokens x 24 = 480 -> 620. Elementwise: decay mask 3 x 2 x 7 = 42,
    # B * decay 5 x 2 x 4 = 40, passing 2 x 3 chunks x 24 = 144, decay scale and add 2 x 5 x 6
    # = 60, dt and decays 8 x 5 x 2 = 80, dt x and D x 3 x 5 x 6 = 90 -> 456; total 1076.
    # reads 5 x 16 values x 2 B = 160 and the 3 chunk states 3 x 24 x 4 B = 288 (no state yet);
    # writes y 5 x 6 x 2 B = 60, the chunk states 288 and the final state 96.
    cost = ops.ssd_scan(
        [((0, 5), 1)],
        heads=2,
        head_dim=3,
        state_size=4,
        groups=1,
        chunk=2,
        w_act=2,
        w_state=4,
        w_weight=2,
    )
    assert cost == Cost(1076, 620, 12, 448, 444)
