"""Renderers: a `Report` in, text out (table, JSON, CSV). Nothing here computes or prints."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from tabulate import tabulate

from core.ops import Cost
from core.report import Report
from core.rows import Row
from core.units import format_bytes, format_flops, format_intensity, json_number

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


def render_table(report: Report) -> str:
    body = [
        [row.name, _block_count(row, report.num_blocks), *_cost_cells(row.cost)]
        for row in report.rows
    ]
    body.append(["Total", "", *_cost_cells(report.total)])
    header = (
        f"Model: {report.source} ({report.model_type}, {report.dtype}, "
        f"{report.num_blocks} blocks, {report.parameters['total']:,} parameters)\n"
        f"Queries: {describe_queries(report)}\n"
        "Per-block values; Total = every row x its block count.\n"
    )
    table = tabulate(body, headers=_TABLE_HEADERS, tablefmt="github", disable_numparse=True)
    return f"{header}\n{table}\n\n{storage_line(report)}\n"


def _cost_json(cost: Cost) -> dict[str, Any]:
    return {
        "flops": cost.flops,
        "matmul_flops": cost.matmul_flops,
        "weight_bytes": json_number(cost.weight_bytes),
        "input_bytes": json_number(cost.input_bytes),
        "output_bytes": json_number(cost.output_bytes),
        "operational_intensity": cost.operational_intensity,
    }


def report_json(report: Report) -> dict[str, Any]:
    """The JSON document as a dict (stable keys; raw integers)."""
    return {
        "model": {
            "source": report.source,
            "model_type": report.model_type,
            "dtype": report.dtype,
            "num_blocks": report.num_blocks,
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
    }


def render_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2) + "\n"


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


def render_csv(report: Report) -> str:
    """One row per layer (per-block values and the block count) and a Total row (whole step)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_HEADERS)
    for row in report.rows:
        writer.writerow([row.name, row.blocks, *_csv_cells(row.cost)])
    writer.writerow(["Total", "", *_csv_cells(report.total)])
    return out.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
