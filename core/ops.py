"""Pure cost formulas: each op returns a `Cost`; nothing here mutates anything.

Conventions (stated once, repeated beside each formula where it matters):
- A FLOP is one arithmetic operation; a multiply-add is 2 FLOPs, as every hardware peak counts it.
  Transcendentals (exp, tanh, erf, rsqrt) count as 1.
- `matmul_flops` is the part of `flops` done as matrix products (tensor-core work): 2*M*N*K per
  GEMM, QK^T and PV in attention. Bias adds, norms, softmax and activations are not in it.
- Bytes are counted at the widths given (bytes per element, exact). Each operand is read from memory
  once and each result written once: weights are read once per step whatever the number of tokens,
  and intermediate tiles that stay on chip (FlashAttention's scores) are not memory traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from .errors import ConfigError
from .model.masks import KeyPattern, compressed_entries_before

Number = int | Fraction
"""An exact count. FLOPs are always ints; bytes are ints, or Fractions under sub-byte formats."""

# FLOPs per element of each activation function, counting +, -, *, / and one per transcendental
# (exp, tanh, erf) as one FLOP each.
# NB: silu(x) = x / (1 + exp(-x)): negate, exp, add, divide = 4.
#     gelu(x) = x/2 * (1 + erf(x / sqrt 2)): divide, erf, add, multiply, halve = 5.
#     gelu_tanh(x) = x/2 * (1 + tanh(c * (x + 0.044715 x^3))): x^3 (2), *0.044715, +x, *c, tanh,
#     +1, *x, *0.5 = 9.   relu = 1 (a compare).   relu2 = relu(x)^2 = 2.   sigmoid = 4.
#     gpt_oss_swiglu (GptOssExperts._apply_gate, applied to the gate and up halves): clamp gate (1),
#     clamp up (2), gate * alpha (1), sigmoid (4), gate * sigmoid (1), up + 1 (1) = 10; the
#     multiply of the two halves is ActMul's + 1.
#     silu_clamped (DeepSeek-V4's experts and shared expert with `swiglu_limit`): clamp gate from
#     above (1), clamp up on both sides (2), silu (4) = 7; the multiply is ActMul's + 1.
ACT_FLOPS: dict[str, int] = {
    "silu": 4,
    "swish": 4,
    "sigmoid": 4,
    "gelu": 5,
    "gelu_pytorch_tanh": 9,
    "gelu_new": 9,
    "gelu_fast": 9,
    "gelu_tanh": 9,
    "relu": 1,
    "relu2": 2,
    "gpt_oss_swiglu": 10,
    "silu_clamped": 7,
}


def act_flops(act: str) -> int:
    """FLOPs per element of the activation function `act` (a HuggingFace `hidden_act` name)."""
    try:
        return ACT_FLOPS[act]
    except KeyError:
        raise ConfigError(
            f"unknown activation {act!r} (supported: {', '.join(sorted(ACT_FLOPS))})"
        ) from None


@dataclass(frozen=True, slots=True)
class Cost:
    """The work and memory traffic of one op (or a sum of ops)."""

    flops: int = 0
    matmul_flops: int = 0
    weight_bytes: Number = 0
    input_bytes: Number = 0
    output_bytes: Number = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.flops + other.flops,
            self.matmul_flops + other.matmul_flops,
            self.weight_bytes + other.weight_bytes,
            self.input_bytes + other.input_bytes,
            self.output_bytes + other.output_bytes,
        )

    def __mul__(self, times: int) -> Cost:
        return Cost(
            self.flops * times,
            self.matmul_flops * times,
            self.weight_bytes * times,
            self.input_bytes * times,
            self.output_bytes * times,
        )

    __rmul__ = __mul__

    @property
    def total_bytes(self) -> Number:
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def operational_intensity(self) -> float:
        """FLOPs per byte of memory traffic (0 when the op moves nothing)."""
        moved = self.total_bytes
        return float(self.flops / moved) if moved else 0.0


def gemm(
    m: int,
    k: int,
    n: int,
    *,
    w_weight: Number,
    w_act: Number,
    bias: bool = False,
    w_bias: Number | None = None,
) -> Cost:
    """[m x k] activations times a [k x n] weight (+ a bias of n, at `w_bias`, default the
    weight's width: quantized weights keep 16-bit biases).

    NB: FLOPs = 2*m*n*k (+ m*n for the bias add). The weight (k*n, + n bias) is read once; the
        input m*k is read and the output m*n written once.
    """
    bias_bytes = n * (w_weight if w_bias is None else w_bias) if bias else 0
    return Cost(
        flops=2 * m * n * k + (m * n if bias else 0),
        matmul_flops=2 * m * n * k,
        weight_bytes=k * n * w_weight + bias_bytes,
        input_bytes=m * k * w_act,
        output_bytes=m * n * w_act,
    )


def rope(tokens: int, heads: int, rot_dim: int, *, w: Number) -> Cost:
    """Rotary embedding of `heads` head vectors per token (q heads + k heads), `rot_dim` rotated
    dimensions each: x*cos + rotate_half(x)*sin.

    NB: 3 FLOPs per rotated element (2 multiplies, 1 add; rotate_half's negation is a sign flip).
        Reads the elements and the cos and sin rows of each token (2*tokens*rot_dim), writes the
        elements.
    """
    elements = tokens * heads * rot_dim
    return Cost(
        flops=3 * elements,
        input_bytes=(elements + 2 * tokens * rot_dim) * w,
        output_bytes=elements * w,
    )


def rmsnorm(
    rows: int,
    width: int,
    *,
    w_act: Number,
    w_weight: Number,
    gains: int = 1,
    unit_offset: bool = False,
) -> Cost:
    """RMSNorm of `rows` vectors of `width`: x / sqrt(mean(x^2) + eps) * g.

    NB: per element: square, accumulate, scale by 1/rms = 3 FLOPs, +1 for the gain g, +1 more when
        the gain is (1 + g) (Gemma). Per row: mean, + eps, rsqrt = 3 FLOPs. `gains` distinct gain
        vectors of `width` are read as weights (2 when one row covers both q and k norms; 0 for a
        gain-less L2 norm such as Llama 4's q/k norm).
    """
    per_element = 3 + (1 if gains else 0) + (1 if unit_offset else 0)
    elements = rows * width
    return Cost(
        flops=per_element * elements + 3 * rows,
        weight_bytes=gains * width * w_weight,
        input_bytes=elements * w_act,
        output_bytes=elements * w_act,
    )


def layernorm(rows: int, width: int, *, w_act: Number, w_weight: Number, bias: bool) -> Cost:
    """LayerNorm of `rows` vectors of `width`: (x - mean(x)) / sqrt(var(x) + eps) * g (+ b).

    NB: per element: accumulate for the mean, subtract it, square, accumulate for the variance,
        scale by 1/std, gain = 6 FLOPs, +1 for the bias. Per row: the two divides by the width,
        + eps, rsqrt = 4 FLOPs. The gain (and bias) are read once as weights.
    """
    elements = rows * width
    return Cost(
        flops=(7 if bias else 6) * elements + 4 * rows,
        weight_bytes=(2 if bias else 1) * width * w_weight,
        input_bytes=elements * w_act,
        output_bytes=elements * w_act,
    )


def position_embedding(
    tokens: int,
    width: int,
    *,
    taps: int,
    weighted: bool,
    rows_read: int,
    w_weight: Number,
    w_act: Number,
) -> Cost:
    """A learned position table added to `tokens` patch embeddings of `width`: each token gets the
    sum of `taps` table rows (bilinear resampling: 4 rows weighted by the interpolation weights,
    bicubic: 16; a plain lookup: 1 row per axis, unweighted).

    NB: per element, `taps` adds (summing the rows and adding the sum to the embedding), and with
        `weighted` one multiply per row. The table rows the step touches (`rows_read`, at most
        the table) are read once as weights; the embeddings are read and written once. The
        interpolation indices and weights (computed once per image size) are not counted.
    """
    elements = tokens * width
    return Cost(
        flops=(2 if weighted else 1) * taps * elements,
        weight_bytes=rows_read * width * w_weight,
        input_bytes=elements * w_act,
        output_bytes=elements * w_act,
    )


def average_pool(outputs: int, window: int, width: int, *, w: Number) -> Cost:
    """The mean of `window` vectors of `width` into each of `outputs` vectors (Gemma 4's 3x3
    pooling of vision patches into soft tokens).

    NB: window - 1 adds and one multiply by 1/window = `window` FLOPs per output element. Reads
        the window's vectors, writes the outputs. (HF runs it as a one-hot matmul in float32,
        2*outputs*inputs*width FLOPs over every input position; an engine averages.)
    """
    elements = outputs * width
    return Cost(
        flops=window * elements,
        input_bytes=window * elements * w,
        output_bytes=elements * w,
    )


def act_mul(tokens: int, width: int, act: str, *, w: Number) -> Cost:
    """Gated activation act(gate) * up over `width` features per token.

    NB: (act_flops(act) + 1) * width FLOPs per token (the activation, then one multiply).
        Reads gate and up, writes one result.
    """
    elements = tokens * width
    return Cost(
        flops=(act_flops(act) + 1) * elements,
        input_bytes=2 * elements * w,
        output_bytes=elements * w,
    )


def activation(tokens: int, width: int, act: str, *, w: Number) -> Cost:
    """A plain (ungated) activation act(x) over `width` features per token (Nemotron's relu2 MLP).

    NB: act_flops(act) FLOPs per element; reads and writes each element once.
    """
    elements = tokens * width
    return Cost(
        flops=act_flops(act) * elements, input_bytes=elements * w, output_bytes=elements * w
    )


def gate_scale(tokens: int, width: int, act: str, *, w: Number) -> Cost:
    """Each token's `width` features scaled by act(one gate logit of that token) (Qwen MoE's
    sigmoid-gated shared expert).

    NB: act_flops(act) per token + 1 multiply per element. Reads the features and the logit,
    writes the result.
    """
    elements = tokens * width
    return Cost(
        flops=act_flops(act) * tokens + elements,
        input_bytes=(elements + tokens) * w,
        output_bytes=elements * w,
    )


def elementwise_sum(tokens: int, width: int, *, operands: int = 2, w: Number) -> Cost:
    """Sum of `operands` tensors of tokens x width (a residual add is operands=2).

    NB: (operands - 1) adds per element; reads every operand, writes one result.
    """
    elements = tokens * width
    return Cost(
        flops=(operands - 1) * elements,
        input_bytes=operands * elements * w,
        output_bytes=elements * w,
    )


def moe_combine(tokens: int, width: int, *, top_k: int, shared: bool, w: Number) -> Cost:
    """Combine of a MoE layer: each token's top_k expert outputs weighted by their router scores
    and summed, plus the shared expert's output when there is one.

    NB: top_k multiplies and top_k - 1 adds per element, + 1 add for a shared expert. Reads every
        expert output and the top_k scores per token; writes one result.
    """
    operands = top_k + (1 if shared else 0)
    elements = tokens * width
    return Cost(
        flops=(top_k + operands - 1) * elements,
        input_bytes=(operands * elements + tokens * top_k) * w,
        output_bytes=elements * w,
    )


def expert_scale(tokens: int, top_k: int, experts: int, *, w_weight: Number) -> Cost:
    """Each of a token's top_k routing weights times its expert's learned scale (Gemma 4's
    `per_expert_scale`).

    NB: 1 multiply per (token, chosen expert); the E scales are read once (weights); the routing
        weights (top_k numbers per token) are not counted as traffic.
    """
    return Cost(flops=tokens * top_k, weight_bytes=experts * w_weight)


def embedding(tokens: int, width: int, *, w: Number) -> Cost:
    """Gather of one embedding row per token.

    NB: no FLOPs; reads `tokens` rows of the table (weight traffic), writes them. Token ids (a few
        bytes per token) are not counted.
    """
    return Cost(weight_bytes=tokens * width * w, output_bytes=tokens * width * w)


def causal_conv1d(
    tokens: int,
    channels: int,
    kernel: int,
    *,
    queries: int,
    act: str | None,
    bias: bool,
    w_act: Number,
    w_weight: Number,
) -> Cost:
    """Depthwise causal convolution over time (the short conv of Mamba-2 and Gated DeltaNet):
    each of `channels` features of a new token is a `kernel`-tap weighted sum of its last
    `kernel` inputs, the first kernel - 1 of which come from the query's conv state; then `act`.

    NB: 2*kernel FLOPs per output element (kernel multiply-adds, as torch's conv FLOP formula
        counts them), + 1 for a bias, + act_flops(act). Not a GEMM: no matmul FLOPs. Weights
        channels*kernel (+ channels bias). Reads the tokens' inputs and each of the `queries`'
        conv states ((kernel - 1) x channels), writes the outputs and the updated states.
    """
    elements = tokens * channels
    per_element = 2 * kernel + (1 if bias else 0) + (act_flops(act) if act else 0)
    state = queries * (kernel - 1) * channels
    return Cost(
        flops=per_element * elements,
        weight_bytes=(channels * kernel + (channels if bias else 0)) * w_weight,
        input_bytes=(elements + state) * w_act,
        output_bytes=(elements + state) * w_act,
    )


def delta_gates(tokens: int, heads: int, *, w_act: Number, w_weight: Number) -> Cost:
    """Gated DeltaNet's per-head gates from the b and a projections: beta = sigmoid(b) and
    g = -exp(A_log) * softplus(a + dt_bias), for each of `heads` value heads of each token.

    NB: sigmoid 4 + (add, softplus as exp, add, log, exp(A_log), negate, multiply) 7 = 11 FLOPs
        per (token, head). Reads A_log and dt_bias (2 per head) as weights, a and b; writes
        beta and g.
    """
    elements = tokens * heads
    return Cost(
        flops=(act_flops("sigmoid") + 7) * elements,
        weight_bytes=2 * heads * w_weight,
        input_bytes=2 * elements * w_act,
        output_bytes=2 * elements * w_act,
    )


def gated_delta_rule(
    queries: Iterable[tuple[tuple[int, int], int]],
    *,
    key_heads: int,
    value_heads: int,
    key_dim: int,
    value_dim: int,
    chunk: int,
    w_act: Number,
    w_state: Number,
) -> Cost:
    """The gated delta rule of Gated DeltaNet (Qwen3.5, Qwen3-Next) on `value_heads` heads, each
    keeping a key_dim x value_dim state S; q and k heads are shared by value_heads / key_heads
    value heads. `queries` are ((cached, input), count) groups.

    A query bringing one token takes one recurrent step per head (HF's
    torch_recurrent_gated_delta_rule, FLA's fused_recurrent kernel):
        S = S * exp(g);  kv = S^T k;  delta = (v - kv) * beta;  S += k delta^T;  o = S^T q
    NB: 7*dk*dv + 2*dv + 1 FLOPs per (token, head): the decay (dk*dv), the two reads of S
        (2*dk*dv each), the rank-1 write (2*dk*dv), delta (2*dv), exp(g) (1). Matrix-vector work
        on the vector units: no matmul FLOPs (HF's FlopCounterMode sees none either).
    A query bringing more tokens runs the chunked form (HF's torch_chunk_gated_delta_rule, FLA's
    chunk kernel) over ceil(n / C) chunks of C = `chunk` tokens, the last one padded to C, as
    both tile it. Per (chunk, head):
    NB: matmul FLOPs 4*C^2*dk (K_beta K^T and Q K^T) + 2*C^2*dv (the intra-chunk product with
        the new values) + 6*C*dk*dv (the reads of S, W S and Q S, and the write K^T V): the
        products FlopCounterMode sees as bmm; plus C*(C-1)*(dk+dv) for the two unit-triangular
        solves of the UT transform (torch.linalg.solve_triangular: matrix work, on tensor cores
        in FLA, that the counter does not see). Elementwise 4*C^2 (pairwise decays: subtract,
        exp; the two masked products) + 4*C*dk + 3*C*dv (beta scaling, the decays of q, k and
        k_beta, the new values, the output sum) + 5*C (cumulative decays and their exps)
        + 2*dk*dv + 1 (the state's decay and update).
        Reads q and k (n*key_heads*dk each), v (n*value_heads*dv), g and beta (2*n*value_heads)
        and, for a query with a context, its state (value_heads*dk*dv at `w_state`, float32 as
        HF keeps it); writes the output (n*value_heads*dv) and every query's state.
    """
    dk, dv, c = key_dim, value_dim, chunk
    step = 7 * dk * dv + 2 * dv + 1
    chunk_matmul = 4 * c * c * dk + 2 * c * c * dv + 6 * c * dk * dv + c * (c - 1) * (dk + dv)
    chunk_other = 4 * c * c + 4 * c * dk + 3 * c * dv + 5 * c + 2 * dk * dv + 1
    state = value_heads * dk * dv * w_state
    flops = matmul = tokens = states_read = states_written = 0
    for (cached, new), count in queries:
        tokens += count * new
        states_written += count
        states_read += count if cached else 0
        if new == 1:
            flops += count * value_heads * step
        else:
            chunks = count * value_heads * -(-new // c)
            matmul += chunks * chunk_matmul
            flops += chunks * (chunk_matmul + chunk_other)
    per_token_in = 2 * key_heads * dk + value_heads * dv + 2 * value_heads
    return Cost(
        flops=flops,
        matmul_flops=matmul,
        input_bytes=tokens * per_token_in * w_act + states_read * state,
        output_bytes=tokens * value_heads * dv * w_act + states_written * state,
    )


# FLOPs of softmax per (query head, key) score: scale, running max, subtract, exp, accumulate.
SOFTMAX_FLOPS_PER_SCORE = 5
# Logit soft-capping per score: cap * tanh(score / cap): divide, tanh, multiply.
SOFTCAP_FLOPS_PER_SCORE = 3


def sdpa(
    queries: Iterable[tuple[tuple[int, int], int]],
    pattern: KeyPattern,
    *,
    heads: int,
    kv_heads: int,
    qk_dim: int,
    v_dim: int,
    w_act: Number,
    w_kv: Number,
    softcap: bool = False,
    sink: bool = False,
    shared_kv: bool = False,
) -> Cost:
    """Scaled dot-product attention, FlashAttention style (scores never reach memory), causal.

    `queries` are ((cached, input), count) groups of identical queries.
    For query q with c cached and n new tokens, the new tokens attend to P_q (query, key) pairs
    (n*c + n(n+1)/2 under full attention, clipped by a sliding window or chunk: see
    core/attention.py) and read the K and V of K_q distinct keys.

    NB: QK^T is 2*qk_dim FLOPs and PV 2*v_dim FLOPs per (head, pair), for every *query* head (GQA
        shares K/V across heads but not the arithmetic). Softmax: 5 FLOPs per score (+3 with
        logit soft-capping), and one divide per output element (T*heads*v_dim). An attention sink
        adds one logit per (head, token): 3 FLOPs (subtract, exp, accumulate).
        Reads Q (T*heads*qk_dim) and the K and V of the distinct keys (K_q*kv_heads*(qk_dim+v_dim)
        at the KV-cache width; K_q*kv_heads*qk_dim with `shared_kv`, when V is part of K, as in
        MLA's latent attention); writes the output (T*heads*v_dim).
    """
    pairs = keys = tokens = 0
    for (cached, new), count in queries:
        pairs += count * pattern.pairs(cached, new)
        keys += count * pattern.keys_read(cached, new)
        tokens += count * new
    matmul = 2 * heads * (qk_dim + v_dim) * pairs
    per_score = SOFTMAX_FLOPS_PER_SCORE + (SOFTCAP_FLOPS_PER_SCORE if softcap else 0)
    softmax = (
        per_score * heads * pairs + tokens * heads * v_dim + (3 * tokens * heads if sink else 0)
    )
    return Cost(
        flops=matmul + softmax,
        matmul_flops=matmul,
        input_bytes=tokens * heads * qk_dim * w_act
        + keys * kv_heads * (qk_dim if shared_kv else qk_dim + v_dim) * w_kv,
        output_bytes=tokens * heads * v_dim * w_act,
    )


# Bytes of one selected key index (int32, as the indexers' top-k kernels return them).
INDEX_BYTES = 4


def lightning_indexer(
    queries: Iterable[tuple[tuple[int, int], int]],
    *,
    heads: int,
    head_dim: int,
    top_k: int,
    ratio: int = 1,
    w_act: Number,
    w_key: Number,
) -> Cost:
    """The lightning indexer of DeepSeek Sparse Attention: each new token t at position p scores
    every key s closed at or before it, I(t, s) = sum_h w[t, h] * relu(q[t, h] . k[s]), and keeps
    the `top_k` best. A key is one token (`ratio` 1: DeepSeek-V3.2's and GLM-5's DSA, which score
    every token of the context) or one compressed entry per `ratio` tokens (DeepSeek-V4's CSA):
    token p sees floor((p + 1) / ratio) keys. `queries` are ((cached, input), count) groups.

    NB: per (head, token, key): q.k is 2*head_dim FLOPs, the matmul part (HF's scorer matmul,
        the tensor-core tile of the engines' logits kernels); relu 1 and the head-weighted sum 2
        (a multiply-add, vector work after the tile; HF's V4 scorer multiplies and sums, its DSA
        code runs it as a [1 x heads] matmul: not matmul FLOPs here). Per (token, head): 1
        multiply, both scales (softmax_scale, heads^-1/2) folded into w as DeepSeek's inference
        code does (HF scales every score). Causal: token p scores only the keys before it
        (ratio 1: n*c + n(n+1)/2 pairs; HF's eager code scores the whole rectangle and masks
        it). Every key is scored whatever top-k keeps: the part of sparse attention that grows
        with the context. The top-k selection is compares, not arithmetic: not counted. Reads q
        and w (T*heads*(head_dim + 1)) at the activation width and every key of the context
        once (floor((c+n)/ratio) per query, head_dim values at the key cache width); writes the
        selected indices, min(floor((p + 1) / ratio), top_k) int32 per token: the scores stay on
        chip (an engine that writes them out for a separate top-k kernel moves more).
    """
    scores = keys = tokens = indices = 0
    for (cached, new), count in queries:
        end = cached + new
        scores += count * (
            compressed_entries_before(end, ratio) - compressed_entries_before(cached, ratio)
        )
        indices += count * (
            compressed_entries_before(end, ratio, top_k)
            - compressed_entries_before(cached, ratio, top_k)
        )
        keys += count * (end // ratio)
        tokens += count * new
    matmul = 2 * heads * head_dim * scores
    return Cost(
        flops=matmul + 3 * heads * scores + heads * tokens,
        matmul_flops=matmul,
        input_bytes=tokens * heads * (head_dim + 1) * w_act + keys * head_dim * w_key,
        output_bytes=indices * INDEX_BYTES,
    )


def compress_pool(windows: int, slots: int, width: int, *, w_act: Number, w_bias: Number) -> Cost:
    """DeepSeek-V4's compressor closing `windows` windows: each of the `width` channels of an
    entry is sum_s softmax_s(gate_s + position_bias_s) * kv_s over the window's `slots` source
    tokens (r, or 2r when consecutive windows overlap as in CSA).

    NB: 7 FLOPs per (window, slot, channel): the bias add, softmax's running max, subtract, exp
        and accumulate (4), the multiply-add into the sum (2); + 1 divide per output element.
        Reads the kv and gate of every slot (2*slots*width per window) at the activation width;
        the position bias (slots*width, float32 in HF) is a weight, read once; writes `width`
        per window.
    """
    return Cost(
        flops=windows * (7 * slots * width + width),
        weight_bytes=slots * width * w_bias,
        input_bytes=windows * 2 * slots * width * w_act,
        output_bytes=windows * width * w_act,
    )


def hyper_weights(tokens: int, streams: int, iters: int, *, w: Number) -> Cost:
    """The mixing weights of manifold-constrained hyper-connections (mHC, DeepSeek-V4's
    `DeepseekV4HyperConnection`) from each token's (2 + n) * n projected logits x, n = `streams`:
    pre = sigmoid(a*x + b) + eps (n), post = 2*sigmoid(a*x + b) (n), comb = softmax(a*x + b) +
    eps (n x n, by rows), made doubly stochastic by Sinkhorn-Knopp: one column normalisation,
    then `iters` - 1 (row, column) pairs.

    NB: scale and bias 2 FLOPs per logit; sigmoid 4 + 1 (eps, or the doubling) per pre and post
        weight; softmax 5 per comb entry (max, subtract, exp, sum, divide) + 1 eps; each
        normalisation of the n x n matrix n*n adds, n eps adds and n*n divides. Reads the
        logits and writes the weights at `w` (HF keeps them in float32).
    """
    n, logits = streams, (2 + streams) * streams
    per_token = 2 * logits + 10 * n + 6 * n * n + (2 * iters - 1) * (2 * n * n + n)
    return Cost(
        flops=tokens * per_token, input_bytes=tokens * logits * w, output_bytes=tokens * logits * w
    )


def hyper_head_weights(tokens: int, streams: int, *, w: Number) -> Cost:
    """The final collapse weights of mHC (`DeepseekV4HyperHead`): pre = sigmoid(a*x + b) + eps
    over n = `streams` logits per token.

    NB: scale, bias, sigmoid (4) and eps = 7 FLOPs per weight; reads the logits, writes the
        weights at `w`.
    """
    return Cost(
        flops=7 * tokens * streams,
        input_bytes=tokens * streams * w,
        output_bytes=tokens * streams * w,
    )


def hyper_collapse(tokens: int, streams: int, width: int, *, w: Number) -> Cost:
    """The input of a branch under mHC: the n = `streams` residual streams of `width` summed with
    their `pre` weights.

    NB: n multiplies and n - 1 adds per output element. Reads the streams and the n weights,
        writes one stream.
    """
    return Cost(
        flops=tokens * width * (2 * streams - 1),
        input_bytes=tokens * (streams * width + streams) * w,
        output_bytes=tokens * width * w,
    )


def hyper_expand(tokens: int, streams: int, width: int, *, w: Number) -> Cost:
    """The residual update of mHC after a branch (it replaces the residual add): new streams =
    post (x) branch output + comb^T @ streams, n = `streams`.

    NB: comb^T @ streams is a matmul of 2*n*n*width FLOPs per token (HF's bmm); post (x) output
        is n*width multiplies and the add n*width more. Reads the streams, the branch output and
        the n + n*n weights; writes the n streams.
    """
    n = streams
    matmul = tokens * 2 * n * n * width
    return Cost(
        flops=matmul + tokens * 2 * n * width,
        matmul_flops=matmul,
        input_bytes=tokens * (n * width + width + n + n * n) * w,
        output_bytes=tokens * n * width * w,
    )


def logit_softcap(elements: int) -> Cost:
    """cap * tanh(x / cap) on `elements` values (Gemma 2's final logits), fused into the GEMM
    that produces them. NB: divide, tanh, multiply = 3 FLOPs per element; no extra traffic."""
    return Cost(flops=SOFTCAP_FLOPS_PER_SCORE * elements)


def scale(elements: int) -> Cost:
    """A constant multiply fused into the op that produces `elements` values (Gemma's embedding
    times sqrt(hidden)). NB: 1 FLOP per element; no extra traffic."""
    return Cost(flops=elements)


def expected_distinct_experts(num_experts: int, top_k: int, tokens: int) -> float:
    """Experts that at least one of `tokens` tokens routes to, in expectation under uniform routing:
    E * (1 - (1 - k/E)^T). k for one token, about E for a long prefill."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


# FLOPs per (token, head) of Mamba-2's scalar step work: dt + dt_bias and softplus (add, exp, add,
# log = 4), dt * A (1), and the decays derived from it (3: exp(dt A) in the recurrent form; the
# cumulative sum and the two exps of the decays to the chunk's ends in the chunked form).
SSD_FLOPS_PER_HEAD = 8
# FLOPs per (token, head, head_dim element): x * dt (1) and the skip connection y + D x (2).
SSD_FLOPS_PER_VALUE = 3


def ssd_scan(
    queries: Iterable[tuple[tuple[int, int], int]],
    *,
    heads: int,
    head_dim: int,
    state_size: int,
    groups: int,
    chunk: int,
    w_act: Number,
    w_state: Number,
    w_weight: Number,
) -> Cost:
    """Mamba-2's selective state-space scan (SSD) on `heads` heads of `head_dim` values, each
    keeping a head_dim x state_size state S; B and C (state_size each per token) are shared by
    the heads of each of `groups` groups. `queries` are ((cached, input), count) groups.

    A query's n new tokens run one of two forms (as HF's NemotronHMamba2Mixer and the mamba_ssm /
    vLLM kernels choose):
    - n == 1, the recurrent step (`selective_state_update`): per head,
      S <- S * exp(dt A) + (dt x) B^T, then y = S C + D x.
      NB: per state element (head, p, n): decay multiply, input multiply, add = 3 FLOPs, and the
          readout S C = 2 FLOPs, a batched matrix-vector product: matmul FLOPs (HF runs it as a
          bmm, which FlopCounterMode counts).
    - n > 1, the chunked SSD form (chunks of `chunk` tokens; the last one may be shorter):
      inside each chunk an attention-like pass, across chunks a recurrence of chunk states.
      NB: like causal attention within a chunk, the (l >= s) pairs of each chunk are counted:
          scores C_l . B_s = 2*state_size per (pair, group) (B and C belong to groups, as the
          kernels compute them), the decay mask exp(A_l - A_s) and its multiply = 3 per
          (pair, head), the weighted sum of values = 2*head_dim per (pair, head); chunk states
          sum_l decay_l B_l x_l^T = 2 per (token, state element) + 1 per (token, head, n) for
          B * decay; the state passed from chunk to chunk (S * decay + chunk state) = 2 per
          (chunk, state element), a sequential scan; the output from each chunk's start state,
          C_l . S = 2 per (token, state element), then its decay scale and the add to the
          in-chunk part = 2 per (token, head, p). Matmul FLOPs: the scores, the weighted sums,
          the chunk states and the readout (the kernels' tensor-core work).
          HF's PyTorch form (what FlopCounterMode sees: its einsums are bmm) differs: with
          c = ceil(n / chunk) chunks padded to full length, per head, it counts
          2*c*chunk^2*H*(N + P) for the in-chunk scores and sums (the whole square, per head),
          4*c*chunk*H*P*N for the chunk states and readout, and 2*(c + 1)^2*H*P*N for the
          passing of states between chunks, an einsum over all chunk pairs.
    Both forms: SSD_FLOPS_PER_HEAD per (token, head) and SSD_FLOPS_PER_VALUE per (token, head,
    head_dim element) (see above).
    Traffic: reads every token's x (H*P), B and C (2*G*N) and dt (H) at the activation width,
    the query's state (H*P*N at `w_state`) when it has cached tokens, and the weights A_log, D
    and dt_bias (3*H); writes y (H*P) and the new state. The chunked form also writes each
    chunk's state and reads it back (c*H*P*N each way at `w_state`): the kernels pass them
    between their passes through memory.
    """
    values = heads * head_dim
    elements = values * state_size  # of one query's state
    per_token_in = values + 2 * groups * state_size + heads
    flops = matmul = 0
    read = written = 0
    for (cached, new), count in queries:
        flops += count * new * (SSD_FLOPS_PER_HEAD * heads + SSD_FLOPS_PER_VALUE * values)
        if new == 1:
            step_matmul = 2 * elements
            step = 3 * elements + step_matmul
            chunk_states = 0
        else:
            full, rest = divmod(new, chunk)
            chunks = full + (1 if rest else 0)
            pairs = full * chunk * (chunk + 1) // 2 + rest * (rest + 1) // 2
            step_matmul = (
                2 * state_size * groups * pairs
                + 2 * head_dim * heads * pairs
                + 2 * 2 * new * elements  # chunk states and the readout from them
            )
            step = (
                step_matmul
                + 3 * heads * pairs
                + new * heads * state_size
                + 2 * chunks * elements
                + 2 * new * values
            )
            chunk_states = chunks * elements
        flops += count * step
        matmul += count * step_matmul
        read += count * (new * per_token_in * w_act + (elements if cached else 0) * w_state)
        read += count * chunk_states * w_state
        written += count * (new * values * w_act + (elements + chunk_states) * w_state)
    return Cost(
        flops=flops,
        matmul_flops=matmul,
        weight_bytes=3 * heads * w_weight,
        input_bytes=read,
        output_bytes=written,
    )
