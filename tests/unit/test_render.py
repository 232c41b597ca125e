"""Units, table, JSON and CSV renderings of a report."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

from conftest import catalog_config

from transformer_roofline.core.model.queries import QueryConfig
from transformer_roofline.core.model.report import analyze
from transformer_roofline.core.output.render import (
    render_csv,
    render_json,
    render_table,
    report_json,
    storage_line,
)
from transformer_roofline.core.output.units import (
    format_bytes,
    format_flops,
    format_intensity,
    json_number,
)
from transformer_roofline.parsers import LlamaConfigParser


def _report(cached=(1024,), new=(1,)):
    return analyze(
        LlamaConfigParser(catalog_config("meta-llama__Llama-3.1-8B")),
        QueryConfig.from_lists(cached, new),
        source="meta-llama/Llama-3.1-8B",
    )


def test_units() -> None:
    assert format_flops(999) == "999 FLOPs"
    assert format_flops(1234) == "1.23 kFLOPs"
    assert format_flops(2 * 10**12) == "2.00 TFLOPs"
    assert format_flops(10**30) == "1.00 QFLOPs"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(3 * 2**30) == "3.00 GiB"
    assert format_bytes(Fraction(17, 2)) == "8.50 B"
    assert format_intensity(1 / 3) == "0.33"
    assert json_number(Fraction(4, 2)) == 2 and isinstance(json_number(Fraction(4, 2)), int)
    assert json_number(Fraction(1, 2)) == 0.5


def test_json_schema_and_raw_integers() -> None:
    doc = json.loads(render_json(_report()))
    assert doc["model"] == {
        "source": "meta-llama/Llama-3.1-8B",
        "model_type": "llama",
        "dtype": "bfloat16",
        "num_blocks": 32,
    }
    assert doc["queries"] == [{"cached_tokens": 1024, "input_tokens": 1, "count": 1}]
    for layer in doc["layers"]:
        for key in ("flops", "weight_bytes", "input_bytes", "output_bytes", "blocks"):
            assert isinstance(layer[key], int), key
        assert isinstance(layer["operational_intensity"], float)
    assert {"flops", "weight_bytes", "input_bytes", "output_bytes"} <= set(doc["total"])
    assert doc["parameters"]["total"] == 8_030_261_248
    storage = doc["storage"]
    assert storage["total_bytes"] == storage["weight_bytes"] + storage["kv_cache_bytes"]
    assert sum(p["bytes"] for p in storage["parts"]) == storage["total_bytes"]


def test_csv_has_a_row_per_layer_and_a_total() -> None:
    report = _report()
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert rows[0][:3] == ["layer", "blocks", "flops"]
    assert [r[0] for r in rows[1:]] == [r.name for r in report.rows] + ["Total"]
    assert int(rows[-1][2]) == report.total.flops


def test_table_has_block_counts_total_and_storage() -> None:
    text = render_table(_report())
    assert "| Attn - SDPA " in text and "| 32 / 32 " in text and "| once " in text
    assert "| Total " in text
    assert text.rstrip().splitlines()[-1].startswith("Minimum Storage Requirement: (Attention)")


def test_storage_line_parts_add_up() -> None:
    line = storage_line(_report())
    # 32 layers x 1025 tokens x (K, V) x 8 heads x 128 x 2 B = 134,348,800 B = 128.12 MiB
    assert "(KV cache) 128.12 MiB" in line
    assert line.endswith("= 15.08 GiB")


def test_huge_token_counts_stay_exact() -> None:
    report = _report(cached=(10**12,), new=(10**12,))
    doc = report_json(report)
    # 32 layers x 2*10^12 tokens x K and V of 8 heads x 128 x 2 B
    assert doc["storage"]["kv_cache_bytes"] == 32 * 2 * 10**12 * 2 * 8 * 128 * 2
    assert doc["total"]["flops"] > 10**26
    # SDPA dominates: ~ 4 * 32 heads * 128 * (2*10^12)^2 / 2 * 32 layers ~ 7.9e29 = 794 RFLOPs
    assert "| Total              |               | 794.11 RFLOPs" in render_table(report)
