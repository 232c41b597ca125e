"""Images in a text prompt: their tokens join the prefill, and the encoder runs before it.

With `--images N` in text mode every query of the step brings N images of one size in its new
input: its input tokens grow by N x the image tokens the family's processor makes of one image
(the tokens only: the few marker tokens around an image, e.g. Qwen's <|vision_start|> and
<|vision_end|>, are text the prompt's count holds). Before that step the vision encoder runs once
over all of the step's images (N x the queries), as `--mode vision` would analyze it, on the
devices of the first pipeline stage with the step's tensor-parallel split (as vLLM places it):
a `VisionPass`, its own report with its own rows, timed with the same roofline. The time to first
token is the encoder pass and then the prefill; the encoder's weights are held beside the first
stage's.

NB: the text decoder's attention over the image tokens is counted causal, like any prompt's;
Gemma 4's sliding layers let an image's tokens also see the later ones of the same image
(block-bidirectional): n(n - 1)/2 more pairs per image and sliding layer, not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..hardware.efficiency import Efficiency
from ..hardware.roofline import Execution, HardwareResult, on_hardware
from ..hardware.specs import HardwareSpec
from ..model.images import ImageBatch
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.report import Report, analyze
from ..ops import Number
from .tower import VisionTower


def with_image_tokens(queries: QueryConfig, per_query: ImageBatch) -> QueryConfig:
    """`queries` with each query's input grown by the tokens of its images."""
    extra = per_query.tokens
    return QueryConfig(tuple(((c, n + extra), count) for (c, n), count in queries.groups))


@dataclass(frozen=True)
class VisionPass:
    """The encoder's pass over a step's images: its report (one device of the split's
    tensor-parallel group) and, per device kind, its times."""

    report: Report
    hardware: tuple[HardwareResult, ...] = ()

    @property
    def weight_bytes(self) -> Number:
        """The encoder's weights one device holds."""
        return self.report.weight_bytes


def encoder_pass(
    tower: VisionTower,
    images: ImageBatch,
    parallel: Parallelism,
    devices: Sequence[tuple[HardwareSpec, Efficiency]],
    execution: Execution,
    source: str = "",
) -> VisionPass:
    """The encoder over `images` on the first pipeline stage's devices: the split's tensor
    parallelism only."""
    encoder = tower.encoder(images.grid)
    report = analyze(encoder, images.queries(), Parallelism(parallel.tp), source, images)
    return VisionPass(report, tuple(on_hardware(report, hw, execution, eff) for hw, eff in devices))


def ttft_with_images(step: HardwareResult, encoder: HardwareResult) -> tuple[float, float]:
    """(ideal, expected) time to first token: the encoder pass, then the prefill step through
    every pipeline stage."""
    return (
        encoder.latency_s + step.latency_s,
        encoder.expected_latency_s + step.expected_latency_s,
    )
