"""Renderers: a `Report` in, text out (table, JSON, CSV). Nothing here computes or prints."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from core.ops import Cost
from core.report import Report
from core.roofline import HardwareResult, RowTiming
from core.rows import Row
from core.units import (
    format_bytes,
    format_flops,
    format_intensity,
    format_rate,
    format_seconds,
    format_share,
    json_number,
)

Hardware = Sequence[HardwareResult]

_TABLE_HEADERS = (
    "Layer",
    "Block Count",
    "FLOPs",
    "Weight Bytes",
    "Input Bytes",
    "Output Bytes",
    "Op. Intensity (FLOPs/B)",
)


def _cost_cells(cost: Cost) -> list[str]:
    return [
        format_flops(cost.flops),
        format_bytes(cost.weight_bytes),
        format_bytes(cost.input_bytes),
        format_bytes(cost.output_bytes),
        format_intensity(cost.operational_intensity),
    ]


def _block_count(row: Row, num_blocks: int) -> str:
    return f"{row.blocks} / {num_blocks}" if row.per_block else "once"


def describe_queries(report: Report) -> str:
    """'8 x (1024 cached + 1 input)', groups of identical queries in first-seen order."""
    groups = Counter(report.queries.queries)
    return ", ".join(f"{n} x ({c} cached + {i} input)" for (c, i), n in groups.items())


def storage_line(report: Report) -> str:
    parts = " + ".join(f"({part.name}) {format_bytes(part.bytes)}" for part in report.storage_parts)
    return f"Minimum Storage Requirement: {parts} = {format_bytes(report.storage_bytes)}"


def render_table(report: Report, hardware: Hardware = ()) -> str:
    headers = list(_TABLE_HEADERS)
    for result in hardware:
        headers += [f"Time ({result.hardware.name})", f"Bound ({result.hardware.name})"]
    body = []
    for i, row in enumerate(report.rows):
        cells = [row.name, _block_count(row, report.num_blocks), *_cost_cells(row.cost)]
        for result in hardware:
            cells += [format_seconds(result.rows[i].time_s), _bound_cell(result.rows[i])]
        body.append(cells)
    total = ["Total", "", *_cost_cells(report.total)]
    for result in hardware:
        total += [format_seconds(result.step_time_s), result.bound]
    body.append(total)
    header = (
        f"Model: {report.source} ({report.model_type}, {report.num_blocks} blocks, "
        f"{report.parameters['total']:,} parameters)\n"
        f"Formats: {report.precision.describe()}\n"
        f"Queries: {describe_queries(report)}\n"
        "Per-block values; Total = every row x its block count.\n"
    )
    table = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
    text = f"{header}\n{table}\n\n{storage_line(report)}\n"
    return text + (hardware_summary(hardware) if hardware else "")


_LATENCY = {"decode": "TPOT", "prefill": "TTFT", "mixed": "step"}


def hardware_summary(hardware: Hardware) -> str:
    """One row of totals per device, side by side, and the notes."""
    first = hardware[0]
    produced = "generated" if first.phase == "decode" else "processed"
    headers = [
        "Device",
        "Latency",
        f"Tokens/s ({produced})",
        "Bound",
        "Compute used",
        "Bandwidth used",
        "Memory needed / held",
        "Fits",
        "Min devices",
        "Max batch",
    ]
    body = [
        [
            r.hardware.name,
            f"{_LATENCY[r.phase]} {format_seconds(r.step_time_s)}",
            format_rate(r.tokens_per_s),
            r.bound,
            format_share(r.compute_utilization),
            format_share(r.bandwidth_utilization),
            f"{format_bytes(r.storage_bytes)} / {format_bytes(r.hardware.memory_bytes)}",
            "yes" if r.fits else "no",
            str(r.min_devices),
            str(r.max_batch),
        ]
        for r in hardware
    ]
    notes = sorted({note for r in hardware for note in r.notes})
    table = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
    lines = [
        "",
        f"On hardware: {first.phase} step, {first.execution.value} execution (ideal roofline "
        "x the spec's efficiency factors; time = sum over rows of max(compute, memory)):",
        "",
        table,
        "",
        "TPOT: time per output token (every query brings 1 token). TTFT: time to first token "
        "(no query has a cache). step: a mixed batch. Memory needed = weights + KV cache; "
        "Max batch: queries of this mix whose KV cache fits beside the weights on one device.",
        *[f"Note: {note}" for note in notes],
    ]
    return "\n".join(lines) + "\n"


def _bound_cell(timing: RowTiming) -> str:
    return "fused" if timing.fused else timing.bound


def _cost_json(cost: Cost) -> dict[str, Any]:
    return {
        "flops": cost.flops,
        "matmul_flops": cost.matmul_flops,
        "weight_bytes": json_number(cost.weight_bytes),
        "input_bytes": json_number(cost.input_bytes),
        "output_bytes": json_number(cost.output_bytes),
        "operational_intensity": cost.operational_intensity,
    }


def report_json(report: Report, hardware: Hardware = ()) -> dict[str, Any]:
    """The JSON document as a dict (stable keys; raw integers)."""
    precision = report.precision
    return {
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
            "quantized": {
                "categories": sorted(c.value for c in precision.quantized),
                "format": precision.quantized_format.name if precision.quantized_format else None,
                "activations": precision.quantized_activations,
            },
            "applied": precision.applied,
        },
        "queries": [{"cached_tokens": c, "input_tokens": n} for c, n in report.queries.queries],
        "layers": [
            {
                "name": row.name,
                "blocks": row.blocks,
                "per_block": row.per_block,
                "category": row.category.value,
                "params": row.params,
                **_cost_json(row.cost),
            }
            for row in report.rows
        ],
        "total": _cost_json(report.total),
        "parameters": report.parameters,
        "storage": {
            "weight_bytes": json_number(report.weight_bytes),
            "kv_cache_bytes": json_number(report.kv_cache_bytes),
            "total_bytes": json_number(report.storage_bytes),
            "parts": [
                {"name": part.name, "bytes": json_number(part.bytes)}
                for part in report.storage_parts
            ],
        },
        "hardware": [_hardware_json(result) for result in hardware],
    }


def _hardware_json(r: HardwareResult) -> dict[str, Any]:
    return {
        "name": r.hardware.name,
        "execution": r.execution.value,
        "phase": r.phase,
        "step_time_s": r.step_time_s,
        "tokens_per_s": r.tokens_per_s,
        "bound": r.bound,
        "compute_utilization": r.compute_utilization,
        "bandwidth_utilization": r.bandwidth_utilization,
        "storage_bytes": json_number(r.storage_bytes),
        "memory_bytes": r.hardware.memory_bytes,
        "fits": r.fits,
        "min_devices": r.min_devices,
        "max_batch": r.max_batch,
        "notes": list(r.notes),
        "layers": [
            {
                "name": t.name,
                "time_s": t.time_s,
                "bound": t.bound,
                "fused": t.fused,
                "compute_time_s": t.compute_s,
                "memory_time_s": t.memory_s,
                "peak": t.peak,
            }
            for t in r.rows
        ],
    }


def render_json(report: Report, hardware: Hardware = ()) -> str:
    return json.dumps(report_json(report, hardware), indent=2) + "\n"


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


def render_csv(report: Report, hardware: Hardware = ()) -> str:
    """One row per layer (per-block values and the block count) and a Total row (whole step);
    with hardware, a time and a bound column per device."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    extra = [f"{key}[{r.hardware.name}]" for r in hardware for key in ("time_s", "bound")]
    writer.writerow([*_CSV_HEADERS, *extra])
    for i, row in enumerate(report.rows):
        timing = [v for r in hardware for v in (f"{r.rows[i].time_s:.6g}", r.rows[i].bound)]
        writer.writerow([row.name, row.blocks, *_csv_cells(row.cost), *timing])
    totals = [v for r in hardware for v in (f"{r.step_time_s:.6g}", r.bound)]
    writer.writerow(["Total", "", *_csv_cells(report.total), *totals])
    return out.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
