"""What a vision encoder runs outside its blocks: the patch embedding and the position table
before them; after them the final norm, the merge of neighbouring patches into image tokens and the
projector into the text model's width.

The encoder's queries are its attention sequences (one per image; Llama 4: one per tile), all
alike: S sequences of L positions (core/model/images.py). Per step, with T = S*L positions:

- `Patch_Embed`: a GEMM, [patches x (channels * patch pixels)] @ [.. x hidden] (a Conv2d/Conv3d
  whose stride equals its kernel is exactly this GEMM); Llama 4's class token is not a patch.
- `Pos_Embed`: the learned position table resampled to the image's grid and added
  (core/ops.py `position_embedding`); Llama 4's class token is held with it.
- optional LayerNorms before the blocks (Llama 4) and after them (MoonViT, Llama 4).
- the merge: `merge` neighbouring patches become one image token, concatenated (Qwen's 2x2
  spatial merge, MoonViT's 2x2, Llama 4's pixel shuffle: a reshape, no arithmetic, its copy not
  counted) or averaged (Gemma 4's 3x3 pooling, `pool`).
- the projector: `Step`s per image token, or per patch before the merge (`per_patch`: Qwen's and
  MoonViT's LayerNorm over each patch), and Qwen3-VL's DeepStack mergers, copies of the merger
  run on the hidden states after some of the blocks (their outputs are added into the first text
  layers; those adds are the text model's and not counted).

Under tensor parallelism every rank runs and holds all of these in full (`replicated`): only the
blocks' heads and MLP split. Under pipeline parallelism the embedding runs on the first stage,
the norm, merge and projector (DeepStack's mergers included) on the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .. import ops as formulas
from ..layers.ends import StoragePart
from ..model.builder import OpBuilder
from ..model.images import ImageGrid
from ..model.parallel import Comm, CommKind
from ..model.queries import QueryConfig
from ..model.rows import Category, Row


class StepKind(Enum):
    LINEAR = "linear"
    LAYERNORM = "layernorm"
    RMSNORM = "rmsnorm"
    ACT = "act"


@dataclass(frozen=True, slots=True)
class Step:
    """One op of a projector: a linear layer (`width` -> `out`), a norm or an activation over
    `width` features of each image token (or of each patch, `per_patch`)."""

    name: str
    kind: StepKind
    width: int
    out: int = 0
    bias: bool = False
    act: str = ""
    gains: int = 1  # RMSNorm: 0 for a norm without a scale
    per_patch: bool = False

    @classmethod
    def linear(cls, name: str, k: int, n: int, *, bias: bool) -> Step:
        return cls(name, StepKind.LINEAR, k, n, bias=bias)

    @classmethod
    def layernorm(cls, name: str, width: int, *, per_patch: bool = False) -> Step:
        return cls(name, StepKind.LAYERNORM, width, per_patch=per_patch)

    @classmethod
    def rmsnorm(cls, name: str, width: int, *, gains: int) -> Step:
        return cls(name, StepKind.RMSNORM, width, gains=gains)

    @classmethod
    def activation(cls, name: str, width: int, act: str) -> Step:
        return cls(name, StepKind.ACT, width, act=act)

    def row(self, ops: OpBuilder, tokens: int) -> Row:
        """This op over `tokens` rows, held and run whole by every tensor-parallel rank."""
        if self.kind is StepKind.LINEAR:
            return ops.set_op_proj_req(
                self.name,
                tokens,
                self.width,
                self.out,
                bias=self.bias,
                category=Category.OTHER,
                replicated=True,
            )
        if self.kind is StepKind.LAYERNORM:
            return ops.set_op_layernorm_req(self.name, tokens, self.width, replicated=True)
        if self.kind is StepKind.RMSNORM:
            return ops.set_op_rmsnorm_req(
                self.name, tokens, self.width, gains=self.gains, replicated=True
            )
        return ops.set_op_act_req(self.name, tokens, self.width, self.act, category=Category.OTHER)


@dataclass(frozen=True, slots=True)
class PositionTable:
    """A learned position table: `params` values; each position sums `taps` of its rows,
    weighted (interpolated) or not."""

    params: int
    taps: int
    weighted: bool


@dataclass(frozen=True)
class VisionEnds:
    """The ops of one vision encoder outside its blocks, for images of one `grid`."""

    hidden_size: int
    patch_in: int  # K of the patch-embedding GEMM: channels x patch pixels (x temporal patch)
    patch_bias: bool
    position: PositionTable
    merge: int  # encoder positions (patches) per image token
    projector: tuple[Step, ...]
    cls: bool = False  # one class token per sequence (Llama 4), dropped before the merge
    pre_norm: bool = False  # a LayerNorm after the embedding (Llama 4)
    final_norm: bool = False  # a LayerNorm after the blocks (MoonViT, Llama 4)
    pool: bool = False  # the merge averages (Gemma 4) instead of concatenating
    pool_scale: int = 0  # FLOPs per pooled element after the mean (Gemma 4: scale, standardize)
    deepstack: int = 0  # copies of `deepstack_steps` run on intermediate blocks (Qwen3-VL)
    deepstack_steps: tuple[Step, ...] = ()
    grid: ImageGrid | None = None  # the images' shape (set by the tower for each image size)
    position_rows: int = 0  # table rows one step reads (set with the grid)

    def _grid(self) -> ImageGrid:
        if self.grid is None:
            raise ValueError("vision ends used before an image size was set")
        return self.grid

    def embedding_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """The patch embedding and the position table (first stage)."""
        sequences, positions = queries.num_queries, queries.total_input_tokens
        patches = positions - (sequences if self.cls else 0)
        h, fmt = self.hidden_size, ops.precision.weight_for(Category.EMBEDDING)
        rows = [
            ops.set_op_proj_req(
                "Patch_Embed",
                patches,
                self.patch_in,
                h,
                bias=self.patch_bias,
                category=Category.EMBEDDING,
                replicated=True,
            )
        ]
        table = self.position
        cost = formulas.position_embedding(
            positions,
            h,
            taps=table.taps,
            weighted=table.weighted,
            rows_read=self.position_rows,
            w_weight=fmt.bytes,
            w_act=ops.act_bytes,
        )
        params = table.params + (h if self.cls else 0)  # the class token is held with the table
        rows.append(
            ops.set_op_elementwise_req(
                "Pos_Embed",
                cost,
                Category.EMBEDDING,
                params=params,
                param_bytes=params * fmt.bytes,
                replicated=True,
            )
        )
        if self.pre_norm:
            rows.append(ops.set_op_layernorm_req("Pre_LayerNorm", positions, h, replicated=True))
        return [row.once() for row in rows]

    def head_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """The final norm, the merge and the projector (last stage)."""
        grid, h = self._grid(), self.hidden_size
        sequences, positions = queries.num_queries, queries.total_input_tokens
        tokens = sequences * grid.tokens_per_sequence  # image tokens out
        rows: list[Row] = []
        if self.final_norm:
            rows.append(ops.set_op_layernorm_req("Final_LayerNorm", positions, h, replicated=True))
        if self.pool:
            cost = formulas.average_pool(tokens, self.merge, h, w=ops.act_bytes)
            cost = cost + formulas.scale(tokens * h) * self.pool_scale
            rows.append(ops.set_op_elementwise_req("Pool", cost, replicated=True))
        rows += [step_row(ops, step, tokens, self.merge) for step in self.projector]
        once = [row.once() for row in rows]
        if self.deepstack:
            once += [
                step_row(ops, step, tokens, self.merge).with_blocks(self.deepstack, per_block=False)
                for step in self.deepstack_steps
            ]
        return once

    def send_rows(self, ops: OpBuilder, queries: QueryConfig) -> list[Row]:
        """A pipeline stage hands its positions' activations to the next."""
        message = queries.total_input_tokens * self.hidden_size * ops.act_bytes
        return [
            ops.set_op_comm_req("Pipeline - Send", Comm(CommKind.SEND, message, 2), per_block=False)
        ]

    def storage(self, ops: OpBuilder, first: bool, last: bool) -> list[StoragePart]:
        """The weights outside the blocks: the embedding (first stage), the norm and projector
        (last stage). The same rows as the step's, whose parameters do not depend on the
        images."""
        one = QueryConfig.uniform(self._grid().sequences, 0, self._grid().sequence_tokens)
        parts = []
        for name, held, rows in (
            ("Patch embedding", first, self.embedding_rows(ops, one)),
            ("Projector", last, self.head_rows(ops, one)),
        ):
            weights = sum((row.param_bytes * row.blocks for row in rows), start=0)
            if held and weights:
                parts.append(StoragePart(name, weights))
        return parts


def step_row(ops: OpBuilder, step: Step, tokens: int, merge: int) -> Row:
    """`step` over the image tokens, or over their patches (`per_patch`)."""
    return step.row(ops, tokens * merge if step.per_patch else tokens)
