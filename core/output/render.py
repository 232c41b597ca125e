"""Renderers: a `Report` (and its hardware results) in, text out (table, JSON, CSV). Nothing here
computes or prints."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ..layers.ends import StoragePart
from ..model.report import Report, Stage, shown_stage
from ..model.rows import Row
from ..ops import Cost
from .table import Column, table
from .terminal import PLAIN, Display
from .units import (
    format_bytes,
    format_flops,
    format_intensity,
    format_rate,
    format_seconds,
    format_share,
    json_number,
    tool_version,
)

if TYPE_CHECKING:  # a step without hardware does not import the hardware modules
    from ..hardware.roofline import HardwareResult, RowTiming
    from ..hardware.sizing import Fit

Hardware: TypeAlias = "Sequence[HardwareResult]"
Fits: TypeAlias = "Sequence[Fit | None]"

_TABLE_COLUMNS = (  # hidden to fit a width: outputs first, the layer never
    Column("Layer"),
    Column("Block Count", "Blocks", rank=8),
    Column("FLOPs", rank=2),
    Column("Weight Bytes", "Weights", rank=7),
    Column("Input Bytes", "Inputs", rank=9),
    Column("Output Bytes", "Outputs", rank=10),
    Column("Op. Intensity (FLOPs/B)", "FLOPs/B", rank=6),
)
_LATENCY = {"decode": "TPOT", "prefill": "TTFT", "mixed": "step", "encode": "encode"}
# `_max_batch`'s value when nothing is kept per query (a vision encoder): no bound from memory.
_UNBOUNDED_BATCH = 10**18


def _cost_cells(row_or_cost: Row | Cost) -> list[str]:
    if isinstance(row_or_cost, Row) and row_or_cost.comm is not None:
        comm = row_or_cost.comm
        return ["-", "-", "-", f"{comm.kind.value} {format_bytes(comm.message)}", "-"]
    cost = row_or_cost.cost if isinstance(row_or_cost, Row) else row_or_cost
    return [
        format_flops(cost.flops),
        format_bytes(cost.weight_bytes),
        format_bytes(cost.input_bytes),
        format_bytes(cost.output_bytes),
        format_intensity(cost.operational_intensity),
    ]


def _block_count(row: Row, stage: Stage) -> str:
    """'n / N': N is the stage's layers (all of them without pipeline parallelism); 'once' for
    an op outside the blocks ('n x' when it runs n times: Qwen3-VL's DeepStack mergers)."""
    if row.per_block:
        return f"{row.blocks} / {len(stage.layers)}"
    return "once" if row.blocks == 1 else f"{row.blocks} x"


def describe_queries(report: Report) -> str:
    """'8 x (1024 cached + 1 input)', groups of identical queries in first-seen order; a vision
    encoder's images: '2 images of 1080x1920 px, 2,304 tokens each'."""
    images = report.images
    if images is None:
        return report.queries.describe()
    if report.tower == "vision":
        return images.summary()
    return f"{report.queries.describe()} with {images.summary()} per query"


def _inputs_line(report: Report) -> str:
    """The table's line on the step's inputs: its queries, and what its images became."""
    images = report.images
    if images is None:
        return f"Queries: {describe_queries(report)}"
    if report.tower == "vision":
        return (
            f"Images: {images.describe()}; the encoder runs {images.sequences:,} sequence"
            f"{'s' if images.sequences > 1 else ''} of {images.grid.sequence_tokens:,} positions"
        )
    held = f" ({images.tokens:,} tokens)" if images.count > 1 else ""
    return (
        f"Queries: {report.queries.describe()}; each query's input holds "
        f"{images.describe()}{held}"
    )


def _title(report: Report) -> str:
    kind = f"{report.model_type} vision encoder" if report.tower == "vision" else report.model_type
    return (
        f"Model: {report.source} ({kind}, {report.num_blocks} blocks, "
        f"{report.parameters['total']:,} parameters)"
    )


def storage_line(report: Report, stage: Stage | None = None) -> str:
    stage = stage or shown_stage(report)
    text = " + ".join(_part_text(part) for part in stage.storage_parts)
    who = "" if report.parallel.devices == 1 else " per device"
    return f"Minimum Storage Requirement{who}: {text} = {format_bytes(stage.storage_bytes)}"


_STOPS_GROWING = {
    "window": ", bounded by its window",
    "remainder": ", bounded by its ratio",
    "fixed": ", fixed size",
}


def _part_text(part: StoragePart) -> str:
    """'(KV cache) 4.00 GiB'; a state that stops growing says so: '(Recurrent state, fixed
    size)'."""
    return f"({part.name}{_STOPS_GROWING.get(part.growth or '', '')}) {format_bytes(part.bytes)}"


def _bound_cell(timing: RowTiming) -> str:
    return "fused" if timing.fused else timing.bound


def device_columns(
    hardware: Hardware, make: Callable[[str, str], list[Column]]
) -> tuple[list[Column], str]:
    """Each device's columns (`make(name, tag)`: tag '' for one device, ' 1', ' 2', ... for
    several, for the short headers) and the legend of the tags."""
    if len(hardware) < 2:
        return [c for r in hardware for c in make(r.hardware.name, "")], ""
    columns = [c for k, r in enumerate(hardware, 1) for c in make(r.hardware.name, f" {k}")]
    names = ", ".join(f"{k} = {r.hardware.name}" for k, r in enumerate(hardware, 1))
    return columns, f"Devices: {names}."


def _timing_columns(name: str, tag: str) -> list[Column]:
    """The first device's time and bound are kept longest; other devices' times before the
    expected times and bounds."""
    first = tag in ("", " 1")
    return [
        Column(f"Time ({name})", f"Time{tag}", rank=0 if first else 2),
        Column(f"Expected ({name})", f"Expected{tag}", rank=3 if first else 5),
        Column(f"Bound ({name})", f"Bound{tag}", rank=1 if first else 4, bound=True),
    ]


def render_table(
    report: Report, hardware: Hardware = (), fits: Fits = (), display: Display = PLAIN
) -> str:
    stage = shown_stage(report, hardware)
    timing, legend = device_columns(hardware, _timing_columns)
    if len(hardware) == 1:
        legend = f"Time, Expected, Bound: on {hardware[0].hardware.name}."
    columns = [*_TABLE_COLUMNS, *timing]
    body = []
    for i, row in enumerate(stage.rows):
        cells = [row.name, _block_count(row, stage), *_cost_cells(row)]
        for result in hardware:
            t = result.stage_rows[stage.index][i]
            cells += [format_seconds(t.time_s), format_seconds(t.expected_s), _bound_cell(t)]
        body.append(cells)
    total = ["Total", "", *_cost_cells(stage.total)]
    for result in hardware:
        total += [
            format_seconds(result.stage_times_s[stage.index]),
            format_seconds(result.expected_stage_times_s[stage.index]),
            result.bound,
        ]
    body.append(total)
    lines = [
        _title(report),
        f"Formats: {report.precision.describe()}",
        _inputs_line(report),
    ]
    if report.parallel.devices > 1:
        where = (
            f", stage {stage.index} (layers {stage.layers.start}-{stage.layers.stop - 1})"
            if len(report.stages) > 1
            else ""
        )
        lines.append(
            f"Parallel: {report.parallel.label} = {report.parallel.devices} devices; the table "
            f"shows one device{where}."
        )
        lines += [f"Note: {note}" for note in report.notes]
    lines.append("Per-block values; Total = every row x its block count.")
    text = (
        "\n".join(display.fill(line) for line in lines)
        + f"\n\n{table(columns, body, display, legend)}\n\n"
        + display.fill(storage_line(report, stage), "  ")
        + "\n"
    )
    if report.parallel.devices > 1:
        text += parallel_summary(report, hardware, display)
    return text + (hardware_summary(hardware, fits, display) if hardware else "")


def parallel_summary(report: Report, hardware: Hardware = (), display: Display = PLAIN) -> str:
    """Per-device memory and the whole model, and each pipeline stage when there are several."""
    lines = [
        display.fill(
            f"Whole model: weights {format_bytes(report.model_weight_bytes)} + KV cache "
            f"{format_bytes(report.model_kv_cache_bytes)} = "
            f"{format_bytes(report.model_storage_bytes)}; the fullest device holds "
            f"{format_bytes(report.device_memory_bytes)}, of which "
            f"{format_bytes(max(s.replicated_weight_bytes for s in report.stages))} of weights "
            "every tensor-parallel rank replicates."
        )
    ]
    if len(report.stages) > 1:
        times, legend = device_columns(
            hardware,
            lambda name, tag: [
                Column(f"Time ({name})", f"Time{tag}", rank=0 if tag in ("", " 1") else 1)
            ],
        )
        columns = [
            Column("Stage"),
            Column("Layers"),
            Column("FLOPs", rank=3),
            Column("Weights", rank=2),
            Column("KV cache", rank=2),
            Column("Memory", rank=1),
            *times,
        ]
        body = [
            [
                str(stage.index),
                f"{stage.layers.start}-{stage.layers.stop - 1}",
                format_flops(stage.total.flops),
                format_bytes(stage.weight_bytes),
                format_bytes(stage.kv_cache_bytes),
                format_bytes(stage.storage_bytes),
                *[format_seconds(r.stage_times_s[stage.index]) for r in hardware],
            ]
            for stage in report.stages
        ]
        lines += [
            "",
            display.fill("Pipeline stages (one device each; the busiest sets the step time):"),
            "",
            table(columns, body, display, legend),
        ]
    return "\n".join(lines) + "\n"


def _fit_cell(fit: Fit | None) -> str:
    if fit is None:
        return "none <= 512"
    p = fit.parallel
    split = " x ".join(f"{name} {n}" for name, n in (("TP", p.tp), ("PP", p.pp)) if n > 1)
    return f"{p.devices} ({split})" if split else "1"


def hardware_summary(hardware: Hardware, fits: Fits = (), display: Display = PLAIN) -> str:
    """One row of totals per device, side by side, and the notes. With pipeline stages, a
    token's latency through every stage and the busiest stage's time (the throughput's) apart."""
    first = hardware[0]
    produced = "generated" if first.phase == "decode" else "processed"
    pipelined = any(len(r.stage_times_s) > 1 for r in hardware)
    times = [Column("Latency (ideal)", "Ideal", rank=3), Column("Expected")]
    if pipelined:
        times = [
            Column("Latency (ideal, all stages)", "Latency", rank=3),
            Column("Expected"),
            Column("Stage time (ideal, throughput)", "Stage", rank=4),
            Column("Expected", "Exp. stage", rank=2),
        ]
    columns = [  # hidden to fit a width: the utilizations first, the device never
        Column("Device"),
        *times,
        Column(f"Tokens/s ({produced}, ideal)", "Tok/s ideal", rank=4),
        Column("Expected tokens/s", "Exp. tok/s", rank=1),
        Column("Bound", rank=2, bound=True),
        Column("Compute used", "Compute", rank=6),
        Column("Bandwidth used", "Bandwidth", rank=7),
        Column("Memory needed / held", "Memory", rank=3),
        Column("Fits", rank=1),
        Column("Min devices", "Min dev.", rank=5),
        Column("Max batch", rank=5),
    ]
    body = [
        [
            r.hardware.name,
            f"{_LATENCY[r.phase]} {format_seconds(r.latency_s)}",
            format_seconds(r.expected_latency_s),
            *(
                [format_seconds(r.step_time_s), format_seconds(r.expected_step_time_s)]
                if pipelined
                else []
            ),
            format_rate(r.tokens_per_s),
            format_rate(r.expected_tokens_per_s),
            r.bound,
            format_share(r.compute_utilization),
            format_share(r.bandwidth_utilization),
            f"{format_bytes(r.storage_bytes)} / {format_bytes(r.hardware.memory_bytes)}",
            "yes" if r.fits else "no",
            _fit_cell(fits[i]) if fits else str(r.min_devices),
            "-" if r.max_batch >= _UNBOUNDED_BATCH else str(r.max_batch),
        ]
        for i, r in enumerate(hardware)
    ]
    notes = sorted({note for r in hardware for note in r.notes})
    paragraphs = [
        f"On hardware: {first.phase} step, {first.execution.value} execution. Ideal: the roofline, "
        "a bound (time = sum over rows of max(compute, memory) at the datasheet peaks x the "
        "spec's factors). Expected: what a real engine takes, the efficiency model's profile "
        + ", ".join(sorted({f"'{r.efficiency.profile}'" for r in hardware}))
        + " fitted on published measurements (tools/calibrate.py; README: calibration).",
        "TPOT: time per output token (every query brings 1 token). TTFT: time to first token "
        "(no query has a cache). step: a mixed batch. Memory needed = weights + KV cache of the "
        "fullest device; Min devices: the fewest devices (and their split, TP in powers of two) "
        "whose memory holds each one's share; Max batch: queries of this mix whose KV cache "
        "fits beside the weights.",
        *(
            [
                "Pipeline: the latency is a token's time through every stage, one after "
                "another; the stage time is the busiest stage's, which sets the tokens/s while "
                "the stages work on different micro-batches at once."
            ]
            if pipelined
            else []
        ),
        *(
            ["encode: one pass of the vision encoder over the images (tokens/s: its positions)."]
            if first.phase == "encode"
            else []
        ),
    ]
    lines = [
        "",
        display.fill(paragraphs[0]),
        "",
        table(columns, body, display),
        "",
        *[display.fill(paragraph) for paragraph in paragraphs[1:]],
        *[display.fill(f"Note: {note}", "  ") for note in notes],
    ]
    return "\n".join(lines) + "\n"


def _cost_json(cost: Cost) -> dict[str, Any]:
    return {
        "flops": cost.flops,
        "matmul_flops": cost.matmul_flops,
        "weight_bytes": json_number(cost.weight_bytes),
        "input_bytes": json_number(cost.input_bytes),
        "output_bytes": json_number(cost.output_bytes),
        "operational_intensity": cost.operational_intensity,
    }


def _row_json(row: Row) -> dict[str, Any]:
    data = {
        "name": row.name,
        "blocks": row.blocks,
        "per_block": row.per_block,
        "category": row.category.value,
        "params": row.params,
        **_cost_json(row.cost),
    }
    if row.comm is not None:
        data["comm"] = {
            "kind": row.comm.kind.value,
            "message_bytes": json_number(row.comm.message),
            "sent_bytes": json_number(row.comm.sent_bytes),
            "group": row.comm.group,
        }
    return data


def report_json(report: Report, hardware: Hardware = (), fits: Fits = ()) -> dict[str, Any]:
    """The JSON document as a dict (stable keys; raw integers). `layers`, `total` and `storage`
    are one device's (the whole step without parallelism)."""
    precision = report.precision
    stage = shown_stage(report, hardware)
    return {
        "version": tool_version(),
        "model": {
            "source": report.source,
            "model_type": report.model_type,
            "dtype": report.dtype,
            "num_blocks": report.num_blocks,
        },
        "precision": {
            "weight": precision.weight.name,
            "activation": precision.activation.name,
            "kv_cache": precision.kv_cache.name,
            "quantized": {  # every quantized category; the format when there is one
                "categories": sorted(c.value for g in precision.quantized for c in g.categories),
                "format": (
                    precision.quantized[0].fmt.name if len(precision.quantized) == 1 else None
                ),
                "activations": any(g.compute_peak for g in precision.quantized),
            },
            "quantized_groups": [
                {
                    "format": group.fmt.name,
                    "bits": json_number(group.fmt.bits),
                    "categories": sorted(c.value for c in group.categories),
                    "compute_peak": group.compute_peak,
                }
                for group in precision.quantized
            ],
            "applied": precision.applied,
        },
        "parallel": {
            "tensor": report.parallel.tp,
            "pipeline": report.parallel.pp,
            "expert": report.parallel.ep,
            "devices": report.parallel.devices,
            "stage_shown": stage.index,
            "notes": list(report.notes),
        },
        "queries": [
            {"cached_tokens": c, "input_tokens": n, "count": count}
            for (c, n), count in report.queries.groups
        ],
        "layers": [_row_json(row) for row in stage.rows],
        "total": _cost_json(stage.total),
        "parameters": report.parameters,
        "storage": {
            "weight_bytes": json_number(stage.weight_bytes),
            "kv_cache_bytes": json_number(stage.kv_cache_bytes),
            "total_bytes": json_number(stage.storage_bytes),
            "replicated_weight_bytes": json_number(stage.replicated_weight_bytes),
            "parts": [_part_json(part) for part in stage.storage_parts],
        },
        "model_storage": {
            "weight_bytes": json_number(report.model_weight_bytes),
            "kv_cache_bytes": json_number(report.model_kv_cache_bytes),
            "total_bytes": json_number(report.model_storage_bytes),
        },
        "stages": [
            {
                "index": s.index,
                "layers": [s.layers.start, s.layers.stop],
                "flops": s.total.flops,
                "weight_bytes": json_number(s.weight_bytes),
                "kv_cache_bytes": json_number(s.kv_cache_bytes),
            }
            for s in report.stages
        ],
        "hardware": [
            _hardware_json(result, stage.index, fits[i] if fits else None)
            for i, result in enumerate(hardware)
        ],
        **_images_json(report),
    }


def _images_json(report: Report) -> dict[str, Any]:
    """The images of the step (only when there are some): a vision encoder's, or those each
    query of a text prompt holds."""
    if report.images is None:
        return {}
    batch, grid = report.images, report.images.grid
    data = {
        "tower": report.tower,
        "images": {
            "count": batch.count,
            "per": "step" if report.tower == "vision" else "query",
            "height": grid.size[0],
            "width": grid.size[1],
            "resized": list(grid.resized),
            "grid": list(grid.grid),
            "sequences_per_image": grid.sequences,
            "positions_per_sequence": grid.sequence_tokens,
            "patches_per_image": grid.patches,
            "tokens_per_image": grid.tokens,
            "tokens": batch.tokens,
        },
    }
    return data


def _part_json(part: StoragePart) -> dict[str, Any]:
    data: dict[str, Any] = {"name": part.name, "bytes": json_number(part.bytes)}
    if part.growth is not None:
        data["growth"] = part.growth
    return data


def _hardware_json(r: HardwareResult, stage: int, fit: Fit | None) -> dict[str, Any]:
    from ..hardware.efficiency import parameter_values

    smallest = None
    if fit is not None:
        smallest = {
            "devices": fit.parallel.devices,
            "tensor": fit.parallel.tp,
            "pipeline": fit.parallel.pp,
            "expert": fit.parallel.ep,
            "step_time_s": fit.step_time_s,
        }
    return {
        "name": r.hardware.name,
        "execution": r.execution.value,
        "phase": r.phase,
        "step_time_s": r.step_time_s,
        "latency_s": r.latency_s,
        "tokens_per_s": r.tokens_per_s,
        "bound": r.bound,
        "compute_utilization": r.compute_utilization,
        "bandwidth_utilization": r.bandwidth_utilization,
        "storage_bytes": json_number(r.storage_bytes),
        "memory_bytes": r.hardware.memory_bytes,
        "fits": r.fits,
        "min_devices": fit.parallel.devices if fit else r.min_devices,
        "smallest_fit": smallest,
        "max_batch": r.max_batch,
        "busiest_stage": r.stage,
        "stage_times_s": list(r.stage_times_s),
        "expected_step_time_s": r.expected_step_time_s,
        "expected_latency_s": r.expected_latency_s,
        "expected_tokens_per_s": r.expected_tokens_per_s,
        "expected_stage_times_s": list(r.expected_stage_times_s),
        "efficiency": {
            "profile": r.efficiency.profile,
            "parameters": dict(parameter_values(r.efficiency)),
        },
        "notes": list(r.notes),
        "layers": [
            {
                "name": t.name,
                "time_s": t.time_s,
                "bound": t.bound,
                "fused": t.fused,
                "compute_time_s": t.compute_s,
                "memory_time_s": t.memory_s,
                "comm_time_s": t.comm_s,
                "peak": t.peak,
                "expected_time_s": t.expected_s,
            }
            for t in r.stage_rows[stage]
        ],
    }


def render_json(report: Report, hardware: Hardware = (), fits: Fits = ()) -> str:
    return json.dumps(report_json(report, hardware, fits), indent=2) + "\n"


_CSV_HEADERS = (
    "layer",
    "blocks",
    "flops",
    "matmul_flops",
    "weight_bytes",
    "input_bytes",
    "output_bytes",
    "operational_intensity",
)


def _csv_cells(cost: Cost) -> list[Any]:
    return [
        cost.flops,
        cost.matmul_flops,
        json_number(cost.weight_bytes),
        json_number(cost.input_bytes),
        json_number(cost.output_bytes),
        f"{cost.operational_intensity:.6g}",
    ]


_SUMMARY_KEYS = (  # the hardware summary, on the Total row (the JSON's names)
    "step_time_s",
    "expected_step_time_s",
    "tokens_per_s",
    "expected_tokens_per_s",
    "compute_utilization",
    "bandwidth_utilization",
    "storage_bytes",
    "memory_bytes",
    "fits",
    "min_devices",
    "max_batch",
)


def _summary_cells(r: HardwareResult, fit: Fit | None) -> list[Any]:
    return [
        f"{r.step_time_s:.6g}",
        f"{r.expected_step_time_s:.6g}",
        f"{r.tokens_per_s:.6g}",
        f"{r.expected_tokens_per_s:.6g}",
        f"{r.compute_utilization:.6g}",
        f"{r.bandwidth_utilization:.6g}",
        json_number(r.storage_bytes),
        r.hardware.memory_bytes,
        r.fits,
        fit.parallel.devices if fit else r.min_devices,
        r.max_batch,
    ]


def render_csv(report: Report, hardware: Hardware = (), fits: Fits = ()) -> str:
    """One row per layer (per-block values and the block count) and a Total row (whole step);
    with hardware, the ideal time, the bound and the expected time per device; with pipeline
    stages, the Total row's latency through every stage too (ideal and expected); and the hardware
    summary per device in columns that only the Total row fills (one table: any CSV reader
    takes it; the summary is the Total row's `step_time_s[<device>]`, ...)."""
    stage = shown_stage(report, hardware)
    pipelined = len(report.stages) > 1 and bool(hardware)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = ("time_s", "bound", "expected_time_s")
    extra = [f"{key}[{r.hardware.name}]" for r in hardware for key in keys]
    latency = [
        f"{key}[{r.hardware.name}]"
        for r in hardware
        for key in ("latency_s", "expected_latency_s")
        if pipelined
    ]
    summary = [f"{key}[{r.hardware.name}]" for r in hardware for key in _SUMMARY_KEYS]
    writer.writerow([*_CSV_HEADERS, *extra, *latency, *summary])
    blank = [""] * (len(latency) + len(summary))
    for i, row in enumerate(stage.rows):
        timing = [
            v
            for r in hardware
            for t in (r.stage_rows[stage.index][i],)
            for v in (f"{t.time_s:.6g}", t.bound, f"{t.expected_s:.6g}")
        ]
        writer.writerow([row.name, row.blocks, *_csv_cells(row.cost), *timing, *blank])
    totals = [
        v
        for r in hardware
        for v in (
            f"{r.stage_times_s[stage.index]:.6g}",
            r.bound,
            f"{r.expected_stage_times_s[stage.index]:.6g}",
        )
    ]
    latencies = [
        f"{v:.6g}" for r in hardware for v in (r.latency_s, r.expected_latency_s) if pipelined
    ]
    summaries = [
        v for i, r in enumerate(hardware) for v in _summary_cells(r, fits[i] if fits else None)
    ]
    writer.writerow(["Total", "", *_csv_cells(stage.total), *totals, *latencies, *summaries])
    return out.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
