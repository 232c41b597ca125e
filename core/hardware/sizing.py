"""The smallest deployment that holds a model and a batch: device counts and splits."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..model.parallel import Parallelism
from ..model.queries import QueryConfig
from ..model.report import LayerStack, analyze
from .roofline import Execution, on_hardware
from .specs import HardwareSpec

# Tensor-parallel degrees tried: powers of two, as engines and interconnect domains use.
TP_DEGREES = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Fit:
    parallel: Parallelism
    step_time_s: float
    device_memory_bytes: int | float


def smallest_fit(
    parser: LayerStack,
    queries: QueryConfig,
    hw: HardwareSpec,
    *,
    execution: Execution = Execution.FUSED,
    expert_parallel: bool = False,
    max_devices: int = 512,
) -> Fit | None:
    """The fewest devices of `hw` whose memory holds one device's share (weights + KV cache) of
    `queries`, over TP in powers of two and any PP; among the splits of that size that fit, the
    fastest. With `expert_parallel`, MoE experts are spread over the TP ranks (EP = TP)."""
    for devices in range(1, max_devices + 1):
        fits = []
        for tp in TP_DEGREES:
            if devices % tp:
                continue
            ep = tp if expert_parallel else 1
            split = Parallelism(tp, devices // tp, ep)
            try:
                report = analyze(parser, queries, split)
            except UsageError:
                continue
            if report.device_memory_bytes <= hw.memory_bytes:
                result = on_hardware(report, hw, execution)
                fits.append(Fit(split, result.step_time_s, float(result.storage_bytes)))
        if fits:
            return min(fits, key=lambda fit: fit.step_time_s)
    return None
