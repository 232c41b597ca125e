"""Invariants every registered layer kind holds (core/layers MIXERS), on small examples.

A new kind gets an example here (a test fails until it does) and then has to satisfy, for any
batch: its FLOPs are additive over queries (a batch costs the sum of its queries, as every op
runs per token or per (token, key) pair); a fixed state is the same at 1k and 1M tokens; a
window never holds more than its size; one device of a tensor-parallel split does 1/TP of the
matrix FLOPs of the split GEMMs, and at least its share of everything else;
degrees of one change nothing.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_roofline.core.layers import (
    MIXERS,
    Attention,
    CompressedAttention,
    DenseMlp,
    DsaIndexer,
    GatedDeltaNet,
    Mamba2,
    MlaAttention,
    MlaMode,
    Moe,
    MoeWithDense,
    PerLayerInput,
    QKNorm,
)
from transformer_roofline.core.layers.compressed import Compressor, Indexer
from transformer_roofline.core.layers.mixer import Mixer
from transformer_roofline.core.model.builder import OpBuilder
from transformer_roofline.core.model.formats import lookup_format
from transformer_roofline.core.model.masks import AttentionPattern
from transformer_roofline.core.model.parallel import Parallelism
from transformer_roofline.core.model.precision import Precision
from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.rows import OpKind
from transformer_roofline.core.model.state import Growth

BF16 = lookup_format("bfloat16")
PRECISION = Precision(BF16, BF16, BF16)
HIDDEN = 32

# One or more examples per registered kind, each splittable over 2 and 4 ranks.
EXAMPLES: dict[str, list[Mixer]] = {
    "attention": [
        Attention(8, 4, 8),
        Attention(8, 2, 8, AttentionPattern.sliding(6), qk_norm=QKNorm.PER_HEAD, sink=True),
        Attention(4, 4, 8, AttentionPattern.chunked(5), output_gate=True, v_head_dim=4),
    ],
    "mla": [
        MlaAttention(8, 16, 12, 8, 4, 8, MlaMode.ABSORBED),
        MlaAttention(4, None, 12, 8, 4, 8, MlaMode.EXPANDED),
        MlaAttention(
            8,
            16,
            12,
            8,
            4,
            8,
            MlaMode.ABSORBED,
            pattern=AttentionPattern.top_k(6),
            indexer=DsaIndexer(2, 8, 4, 16, 6),
        ),
    ],
    "compressed_attention": [
        CompressedAttention(8, 16, 4, 12, 4, 6, 8),
        CompressedAttention(8, 16, 4, 12, 4, 6, 8, Compressor(4, True, Indexer(4, 8, 3))),
        CompressedAttention(4, 8, 4, 12, 4, 6, 5, Compressor(16)),
    ],
    "gated_deltanet": [GatedDeltaNet(4, 8, 4, 6, 4), GatedDeltaNet(4, 4, 8, 8, 3, chunk=4)],
    "mamba2": [Mamba2(8, 4, 6, 4, 4, 4), Mamba2(4, 8, 4, 2, 3, 5, bias=True)],
    "mlp": [DenseMlp(64, "silu"), DenseMlp(48, "relu2", gated=False)],
    "moe_dense": [
        MoeWithDense(DenseMlp(32, "gelu_pytorch_tanh"), Moe(8, 2, 16, "gelu_pytorch_tanh")),
        MoeWithDense(
            DenseMlp(16, "silu"), Moe(4, 1, 8, "silu"), router_norm=True, expert_scale=True
        ),
    ],
    "per_layer_input": [PerLayerInput(8, "gelu_pytorch_tanh")],
    "moe": [
        Moe(8, 2, 16, "silu"),
        Moe(4, 1, 16, "silu", shared_intermediate=32, shared_gate=True),
        Moe(4, 2, 8, "relu2", gated=False, shared_intermediate=8),
    ],
}
ALL = [(kind, mixer) for kind, mixers in EXAMPLES.items() for mixer in mixers]
IDS = [f"{kind}-{i}" for kind, mixers in EXAMPLES.items() for i in range(len(mixers))]

queries = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 9)), min_size=1, max_size=4)


def _ops(tp: int = 1) -> OpBuilder:
    return OpBuilder(PRECISION, HIDDEN, Parallelism(tp))


def _batch(qs: list[tuple[int, int]]) -> QueryConfig:
    return QueryConfig.from_lists([c for c, _ in qs], [n for _, n in qs])


def test_every_registered_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(MIXERS)
    for kind, mixers in EXAMPLES.items():
        assert all(isinstance(mixer, MIXERS[kind]) for mixer in mixers)


@pytest.mark.parametrize(("kind", "mixer"), ALL, ids=IDS)
@settings(max_examples=30, deadline=None)
@given(qs=queries)
def test_flops_are_additive_over_queries(kind: str, mixer: Mixer, qs) -> None:
    if isinstance(mixer, MlaAttention) and mixer.mode is MlaMode.AUTO:
        pytest.skip("auto mode picks a cost model per query shape")
    batch = sum(row.cost.flops for row in mixer.rows(_ops(), _batch(qs)))
    alone = sum(row.cost.flops for q in qs for row in mixer.rows(_ops(), _batch([q])))
    assert batch == alone


@pytest.mark.parametrize(("kind", "mixer"), ALL, ids=IDS)
def test_states_grow_by_their_rule(kind: str, mixer: Mixer) -> None:
    for state in mixer.states(1):
        short, long = state.units(1_000), state.units(1_000_000)
        if state.growth is Growth.FIXED:
            assert short == long == 1
        elif state.growth is Growth.WINDOW:
            assert long == state.size - 1
        elif state.growth is Growth.REMAINDER:
            assert short == 1_000 % state.size and long == 1_000_000 % state.size
        else:
            assert long > short


@pytest.mark.parametrize(("kind", "mixer"), ALL, ids=IDS)
@pytest.mark.parametrize("tp", [2, 4])
def test_one_rank_does_its_share_of_the_split_rows(kind: str, mixer: Mixer, tp: int) -> None:
    assert mixer.check(Parallelism(tp)) is None
    batch = _batch([(7, 3), (20, 1)])
    single = {row.name: row for row in mixer.rows(_ops(), batch)}
    split = [row for row in mixer.rows(_ops(tp), batch) if row.comm is None]
    # states split too, except what a rank must replicate (fewer KV heads than ranks, MLA's latent)
    pairs = list(zip(mixer.states(1), mixer.states(tp), strict=True))
    assert all(whole.values <= share.values * tp for whole, share in pairs)
    exact = all(whole.values == share.values * tp for whole, share in pairs)
    for row in split:
        whole = single[row.name]
        assert whole.cost.flops <= row.cost.flops * tp, row.name  # never less than its share
        if row.replicated:  # every rank holds all of its parameters
            assert row.params == whole.params, row.name
        elif row.kind is OpKind.GEMM and exact:  # weight GEMMs split exactly (columns or rows);
            # a row-parallel GEMM's bias is whole on every rank
            assert row.cost.matmul_flops * tp == whole.cost.matmul_flops, row.name
            assert whole.param_bytes <= Fraction(row.param_bytes) * tp, row.name


@pytest.mark.parametrize(("kind", "mixer"), ALL, ids=IDS)
def test_degree_one_is_the_single_device(kind: str, mixer: Mixer) -> None:
    batch = _batch([(5, 2)])
    plain = mixer.rows(OpBuilder(PRECISION, HIDDEN), batch)
    assert plain == mixer.rows(_ops(1), batch)
    assert all(row.comm is None for row in plain)
