"""Renderers of the vision encoder's pass over a text prompt's images (core/vision/prompt.py):
after the step's output, the encoder's own report (table: its rows, storage and times; JSON: a
`"vision"` key beside the step's; CSV: its rows after the step's, named "Vision - ...") and the
time to first token with the images."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from .render import render_csv, render_table, report_json
from .table import markdown_table
from .units import format_bytes, format_seconds, json_number

if TYPE_CHECKING:
    from ..api import Analysis
    from ..vision.prompt import VisionPass


def _ttft_rows(analysis: Analysis, vision: VisionPass) -> list[dict[str, Any]]:
    """Per device: the encoder, the step, their sum and the memory with the encoder's weights."""
    memory = analysis.report.device_memory_bytes_with(vision.weight_bytes)
    rows = []
    for step, encoder in zip(analysis.hardware, vision.hardware, strict=True):
        rows.append(
            {
                "hardware": step.hardware.name,
                "encoder_s": encoder.latency_s,
                "expected_encoder_s": encoder.expected_latency_s,
                "step_s": step.latency_s,
                "expected_step_s": step.expected_latency_s,
                "ttft_s": encoder.latency_s + step.latency_s,
                "expected_ttft_s": encoder.expected_latency_s + step.expected_latency_s,
                "memory_bytes": json_number(memory),
                "fits": memory <= step.hardware.memory_bytes,
            }
        )
    return rows


def vision_table(analysis: Analysis, vision: VisionPass) -> str:
    parallel = vision.report.parallel
    text = (
        "\nVision encoder: it runs over the step's images before the step, on the first "
        f"pipeline stage's devices (TP {parallel.tp}); their tokens are in the queries' input "
        "above.\n\n" + render_table(vision.report, vision.hardware)
    )
    if not vision.hardware:
        return text
    headers = [
        "Device",
        "Encoder (ideal)",
        "Expected",
        "Step (ideal)",
        "Expected",
        "TTFT with images (ideal)",
        "Expected",
        "Memory needed / held",
        "Fits",
    ]
    body = [
        [
            row["hardware"],
            format_seconds(row["encoder_s"]),
            format_seconds(row["expected_encoder_s"]),
            format_seconds(row["step_s"]),
            format_seconds(row["expected_step_s"]),
            format_seconds(row["ttft_s"]),
            format_seconds(row["expected_ttft_s"]),
            f"{format_bytes(row['memory_bytes'])} / {format_bytes(step.hardware.memory_bytes)}",
            "yes" if row["fits"] else "no",
        ]
        for row, step in zip(_ttft_rows(analysis, vision), analysis.hardware, strict=True)
    ]
    return (
        text + "\nWith the images: the encoder pass, then the step (every pipeline stage); memory: "
        "the fullest device with the encoder's weights on the first stage's.\n\n"
        + markdown_table(headers, body)
        + "\n"
    )


def vision_json(analysis: Analysis, vision: VisionPass) -> dict[str, Any]:
    document = report_json(vision.report, vision.hardware)
    document.pop("version")  # the enclosing document carries it
    document["ttft_with_images"] = _ttft_rows(analysis, vision)
    return document


def vision_csv(vision: VisionPass) -> str:
    """The encoder's CSV rows (header dropped), each named "Vision - <layer>"."""
    rows = list(csv.reader(io.StringIO(render_csv(vision.report, vision.hardware))))[1:]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([f"Vision - {row[0]}", *row[1:]])
    return out.getvalue()
