"""Renderers of what users plan with: whole generations, serving at a concurrency, the plan.

An `Analysis` renders as its step (core/output/render.py) with, where asked for, a generation or
a serving section after it (table), a `"generation"` or `"serving"` key beside the step's (JSON),
or one row per device of the generation or serving figures instead of the layer rows (CSV). A
`Plan` renders on its own, through `PLAN_RENDERERS` by output format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .render import RENDERERS, render_table, report_json
from .table import Column, table
from .terminal import PLAIN, Display
from .units import format_bytes, format_rate, format_seconds, json_number, tool_version

if TYPE_CHECKING:  # a step without generation, serving or plan does not import them
    from ..api import Analysis
    from ..serving.generation import Generation
    from ..serving.plan import Deployment, Plan
    from ..serving.serving import Serving


def render_analysis(analysis: Analysis, fmt: str, display: Display = PLAIN) -> str:
    """The CLI's output of an analysis in `fmt` ("table", "json" or "csv"); a table fits
    `display`."""
    a = analysis
    if fmt == "json":
        document = report_json(a.report, a.hardware, a.fits)
        if a.vision is not None:
            from .vision import vision_json

            document["vision"] = vision_json(a, a.vision)
        if a.generation:
            document["generation"] = [generation_json(g) for g in a.generation]
        if a.serving:
            document["serving"] = [serving_json(s) for s in a.serving]
        return json.dumps(document, indent=2) + "\n"
    if fmt == "csv" and (a.generation or a.serving):
        rows = [generation_json(g) for g in a.generation] or [serving_json(s) for s in a.serving]
        return _csv(rows)
    if fmt == "csv":
        text = RENDERERS[fmt](a.report, a.hardware, a.fits)
        if a.vision is not None:
            from .vision import vision_csv

            text += vision_csv(a.vision)
        return text
    text = render_table(a.report, a.hardware, a.fits, display)
    if a.vision is not None:
        from .vision import vision_table

        text += vision_table(a, a.vision)
    if a.generation:
        text += generation_table(a.generation, display)
        if a.vision is not None:
            text += "With the images, TTFT includes the vision encoder's pass before the prefill.\n"
    if a.serving:
        text += serving_table(a.serving, display)
    return text


# --- whole generations --------------------------------------------------------------------------


def generation_json(g: Generation) -> dict[str, Any]:
    return {
        "hardware": g.hardware.name,
        "ttft_s": g.ttft_s,
        "tpot_s": g.tpot_s,
        "e2e_s": g.e2e_s,
        "output_tokens_per_s": g.output_tokens_per_s,
        "output_tokens_per_s_per_query": g.output_tokens_per_s_per_query,
        "expected_ttft_s": g.expected_ttft_s,
        "expected_tpot_s": g.expected_tpot_s,
        "expected_e2e_s": g.expected_e2e_s,
        "expected_output_tokens_per_s": g.expected_output_tokens_per_s,
        "expected_output_tokens_per_s_per_query": g.expected_output_tokens_per_s_per_query,
        "output_tokens": g.output_tokens,
        "decode_steps": g.steps,
        "evaluated_steps": g.evaluated,
        "peak_memory_bytes": json_number(g.peak_memory_bytes),
        "fits": g.fits,
        "queries": [
            {
                "cached_tokens": q.cached_tokens,
                "input_tokens": q.input_tokens,
                "output_tokens": q.output_tokens,
                "count": q.count,
                "e2e_s": q.e2e_s,
                "expected_e2e_s": q.expected_e2e_s,
            }
            for q in g.queries
        ],
    }


_GENERATION_COLUMNS = (  # hidden to fit a width: the ideal figures first
    Column("Device"),
    Column("TTFT (ideal)", "TTFT", rank=4),
    Column("Expected", "Exp. TTFT"),
    Column("TPOT (ideal)", "TPOT", rank=4),
    Column("Expected", "Exp. TPOT"),
    Column("End to end (ideal)", "E2E", rank=5),
    Column("Expected", "Exp. E2E", rank=1),
    Column("Output tokens/s (ideal)", "Tok/s", rank=5),
    Column("Expected", "Exp. tok/s", rank=1),
    Column("Expected per query", "Exp. per query", rank=3),
    Column("Peak memory", "Memory", rank=2),
    Column("Fits", rank=1),
)


def generation_table(generations: Sequence[Generation], display: Display = PLAIN) -> str:
    first = generations[0]
    body = [
        [
            g.hardware.name,
            format_seconds(g.ttft_s),
            format_seconds(g.expected_ttft_s),
            format_seconds(g.tpot_s),
            format_seconds(g.expected_tpot_s),
            format_seconds(g.e2e_s),
            format_seconds(g.expected_e2e_s),
            format_rate(g.output_tokens_per_s),
            format_rate(g.expected_output_tokens_per_s),
            format_rate(g.expected_output_tokens_per_s_per_query),
            format_bytes(g.peak_memory_bytes),
            "yes" if g.fits else "no",
        ]
        for g in generations
    ]
    outputs = sorted({q.output_tokens for q in first.queries})
    return (
        "\n".join(
            [
                "",
                display.fill(
                    f"Whole generation: {first.output_tokens:,} output tokens "
                    f"({'/'.join(map(str, outputs))} per query), {first.steps:,} decode steps "
                    f"after the prefill, summed exactly from {first.evaluated} evaluated steps."
                ),
                "",
                table(
                    _GENERATION_COLUMNS,
                    body,
                    display,
                    "Exp.: the expected estimate; the others: the ideal roofline.",
                ),
                "",
                display.fill(
                    "TTFT: the prefill step (expected: + the per-request and per-prompt-token "
                    "host overheads). TPOT: mean time per output token after the first, over "
                    "every query. End to end: until "
                    "the last query's last token; a query that is done leaves the batch. Output "
                    "tokens/s: every query's output over that time; per query: a query's output "
                    "over its own end to end, averaged. Peak memory: the fullest device at the "
                    "fullest step."
                ),
            ]
        )
        + "\n"
    )


# --- serving at a concurrency -------------------------------------------------------------------


def serving_json(s: Serving) -> dict[str, Any]:
    return {
        "hardware": s.hardware.name,
        "concurrency": s.concurrency,
        "devices": s.devices,
        "input_tokens": s.isl,
        "output_tokens": s.osl,
        "token_budget": s.token_budget,
        "ttft_s": s.ttft_s,
        "tpot_s": s.tpot_s,
        "e2e_s": s.e2e_s,
        "output_tokens_per_s": s.output_tokens_per_s,
        "output_tokens_per_s_per_gpu": s.output_tokens_per_s_per_gpu,
        "output_tokens_per_s_per_user": s.output_tokens_per_s_per_user,
        "requests_per_s": s.requests_per_s,
        "expected_ttft_s": s.expected_ttft_s,
        "expected_tpot_s": s.expected_tpot_s,
        "expected_e2e_s": s.expected_e2e_s,
        "expected_output_tokens_per_s": s.expected_output_tokens_per_s,
        "expected_output_tokens_per_s_per_gpu": s.expected_output_tokens_per_s_per_gpu,
        "expected_output_tokens_per_s_per_user": s.expected_output_tokens_per_s_per_user,
        "expected_requests_per_s": s.expected_requests_per_s,
        "max_concurrency": s.max_concurrency,
        "running": s.running,
        "fits": s.fits,
        "queue_s": s.queue_s,
        "expected_queue_s": s.expected_queue_s,
        "kv_pool_bytes": json_number(s.kv_pool_bytes),
        "request_state_bytes": json_number(s.request_state_bytes),
    }


_SERVING_COLUMNS = (  # hidden to fit a width: the ideal figures first
    Column("Device"),
    Column("TTFT (ideal)", "TTFT", rank=4),
    Column("Expected", "Exp. TTFT"),
    Column("TPOT (ideal)", "TPOT", rank=4),
    Column("Expected", "Exp. TPOT"),
    Column("End to end", "Exp. E2E", rank=2),
    Column("Output tokens/s (expected)", "Exp. tok/s", rank=1),
    Column("Per GPU", rank=1),
    Column("Per user", rank=2),
    Column("Requests/s", "Req/s", rank=3),
    Column("Running / fits", "Running/fits", rank=2),
)


def serving_table(servings: Sequence[Serving], display: Display = PLAIN) -> str:
    first = servings[0]
    body = [
        [
            s.hardware.name,
            format_seconds(s.ttft_s),
            format_seconds(s.expected_ttft_s),
            format_seconds(s.tpot_s),
            format_seconds(s.expected_tpot_s),
            format_seconds(s.expected_e2e_s),
            format_rate(s.expected_output_tokens_per_s),
            format_rate(s.expected_output_tokens_per_s_per_gpu),
            format_rate(s.expected_output_tokens_per_s_per_user),
            f"{s.expected_requests_per_s:.3g}",
            f"{s.running} / {s.max_concurrency}",
        ]
        for s in servings
    ]
    notes = [
        f"Note: on {s.hardware.name} only {s.max_concurrency} requests' caches fit: the other "
        f"{s.concurrency - s.running} wait, {format_seconds(s.expected_queue_s)} each "
        "(expected; in TTFT and end to end)"
        for s in servings
        if not s.fits
    ]
    return (
        "\n".join(
            [
                "",
                display.fill(
                    f"Serving at concurrency {first.concurrency}: {first.isl:,} input and "
                    f"{first.osl:,} output tokens per request, {first.devices} device(s) per "
                    f"replica, a token budget of {first.token_budget:,} per step (steady state "
                    "of continuous batching with chunked prefill; README: serving)."
                ),
                "",
                table(
                    _SERVING_COLUMNS,
                    body,
                    display,
                    "Exp.: the expected estimate; TTFT, TPOT: the ideal roofline; Per GPU, "
                    "Per user, Req/s: expected.",
                ),
                "",
                display.fill(
                    "End to end = TTFT + (output tokens - 1) x TPOT; requests/s = concurrency / "
                    "end to end (Little's law); per user: 1 / TPOT. Running / fits: requests "
                    "the KV-cache pool holds at once / the most whose full context fits."
                ),
                *[display.fill(note, "  ") for note in notes],
            ]
        )
        + "\n"
    )


# --- the plan -----------------------------------------------------------------------------------


def deployment_json(d: Deployment) -> dict[str, Any]:
    s = d.serving
    return {
        "hardware": d.hardware.name,
        "devices": d.devices,
        "tensor": d.parallel.tp,
        "pipeline": d.parallel.pp,
        "expert": d.parallel.ep,
        "concurrency": d.concurrency,
        "expected_ttft_s": s.expected_ttft_s,
        "expected_tpot_s": s.expected_tpot_s,
        "expected_output_tokens_per_s_per_gpu": s.expected_output_tokens_per_s_per_gpu,
        "expected_output_tokens_per_s_per_user": s.expected_output_tokens_per_s_per_user,
        "expected_requests_per_s": s.expected_requests_per_s,
        "ttft_s": s.ttft_s,
        "tpot_s": s.tpot_s,
        "max_concurrency": s.max_concurrency,
        "replicas": d.replicas,
        "gpus": d.gpus,
        "price_per_gpu_hour": d.price_per_gpu_hour,
        "cost_per_million_output_tokens": d.cost_per_million_output_tokens,
    }


def plan_json(p: Plan) -> str:
    """The targets, the best deployments and the Pareto front (the title is the table's)."""
    document = {
        "version": tool_version(),
        "targets": {
            "ttft_s": p.targets.ttft_s,
            "tpot_s": p.targets.tpot_s,
            "request_rate": p.targets.request_rate,
            "price_per_gpu_hour": p.targets.price_per_gpu_hour,
        },
        "input_tokens": p.isl,
        "output_tokens": p.osl,
        "evaluated": p.evaluated,
        "plan": [deployment_json(d) for d in p.best],
        "front": [deployment_json(d) for d in p.front],
    }
    return json.dumps(document, indent=2) + "\n"


def plan_csv(p: Plan) -> str:
    """One row per deployment of the plan, best first (no title line)."""
    return _csv([deployment_json(d) for d in p.best])


_PLAN_COLUMNS = [  # hidden to fit a width: requests/s and the device count (the split says
    # it) first; the GPUs and cost the user asked for last
    Column("Device"),
    Column("Devices", rank=4),
    Column("TP x PP x EP", "Split"),
    Column("Concurrency", "Conc."),
    Column("Expected TTFT", "TTFT", rank=2),
    Column("Expected TPOT", "TPOT", rank=2),
    Column("Tokens/s per GPU", "Tok/s/GPU"),
    Column("Tokens/s per user", "Tok/s/user", rank=3),
    Column("Requests/s", "Req/s", rank=4),
]
_FRONT_COLUMNS = [
    Column("Tokens/s per user", "Tok/s/user"),
    Column("Tokens/s per GPU", "Tok/s/GPU"),
    Column("Device"),
    Column("TP x PP x EP", "Split"),
    Column("Concurrency", "Conc."),
]


def _plan_row(d: Deployment) -> list[str]:
    s, par = d.serving, d.parallel
    row = [
        d.hardware.name,
        str(d.devices),
        f"{par.tp} x {par.pp} x {par.ep}",
        str(d.concurrency),
        format_seconds(s.expected_ttft_s),
        format_seconds(s.expected_tpot_s),
        format_rate(s.expected_output_tokens_per_s_per_gpu),
        format_rate(s.expected_output_tokens_per_s_per_user),
        f"{s.expected_requests_per_s:.3g}",
    ]
    if d.gpus is not None:
        row.append(f"{d.gpus} ({d.replicas} x {d.devices})")
    if d.cost_per_million_output_tokens is not None:
        row.append(f"${d.cost_per_million_output_tokens:.3f}")
    return row


def _plan_columns(p: Plan, d: Deployment) -> list[Column]:
    columns = list(_PLAN_COLUMNS)
    if d.gpus is not None:
        columns.append(Column(f"GPUs for {p.targets.request_rate:g} req/s", "GPUs", rank=1))
    if d.cost_per_million_output_tokens is not None:
        columns.append(Column("Cost per 1M output tokens", "$/1M tok", rank=1))
    return columns


def plan_table(p: Plan, title: str, top: int = 5, display: Display = PLAIN) -> str:
    targets = ", ".join(
        text
        for text in (
            f"TTFT <= {format_seconds(p.targets.ttft_s)}" if p.targets.ttft_s else "",
            f"TPOT <= {format_seconds(p.targets.tpot_s)}" if p.targets.tpot_s else "",
        )
        if text
    )
    best = list(p.best[:top])
    devices = {d.hardware.name for d in best}
    for d in p.best[top:]:  # and the best of every other device kind
        if d.hardware.name not in devices:
            best.append(d)
            devices.add(d.hardware.name)
    front = [
        [
            format_rate(d.serving.expected_output_tokens_per_s_per_user),
            format_rate(d.serving.expected_output_tokens_per_s_per_gpu),
            d.hardware.name,
            f"{d.parallel.tp} x {d.parallel.pp} x {d.parallel.ep}",
            str(d.concurrency),
        ]
        for d in p.front
    ]
    legend = "TTFT, TPOT: expected; Split: TP x PP x EP; Conc.: concurrency."
    return (
        "\n".join(
            [
                display.fill(
                    f"Plan for {title}: {p.isl:,} input and {p.osl:,} output tokens per "
                    f"request, {targets or 'no latency targets'} (expected estimate); "
                    f"{p.evaluated} serving states evaluated."
                ),
                "",
                display.fill(
                    f"Best deployments (the top {min(top, len(p.best))}, then the best of every "
                    "other device), by expected output tokens/s per GPU:"
                ),
                "",
                table(_plan_columns(p, best[0]), [_plan_row(d) for d in best], display, legend),
                "",
                display.fill("Pareto front: the most tokens/s per GPU for each speed a user sees:"),
                "",
                table(_FRONT_COLUMNS, front, display, "Split: TP x PP x EP; Conc.: concurrency."),
                "",
                display.fill(
                    "Each row is one replica (TP x PP x EP devices) serving that many concurrent "
                    "requests (README: the plan)."
                ),
            ]
        )
        + "\n"
    )


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    fields = [key for key, value in rows[0].items() if not isinstance(value, list)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row[f] is None else row[f] for f in fields])
    return out.getvalue()


def _plan_table(p: Plan, title: str, display: Display) -> str:
    return plan_table(p, title, display=display)


def _plan_json(p: Plan, title: str, display: Display) -> str:
    return plan_json(p)


def _plan_csv(p: Plan, title: str, display: Display) -> str:
    return plan_csv(p)


# format -> renderer of (plan, title, display); JSON and CSV take no title and no display
PLAN_RENDERERS: dict[str, Callable[[Plan, str, Display], str]] = {
    "table": _plan_table,
    "json": _plan_json,
    "csv": _plan_csv,
}
