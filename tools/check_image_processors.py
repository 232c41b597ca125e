"""Cross-check the vision towers' image grids against HF's image processors on random sizes
(developer tool; needs torch and transformers: run with the scratch virtualenv of
measure_next.py, from tools/).

    /tmp/ref/bin/python tools/check_image_processors.py --configs ../shared/reference/configs-next

For each family, N random image sizes (uniform up to 4000 and 12000 px a side, and elongated
ones) go through HF's own sizing functions (Qwen's `smart_resize` with the checkpoints' pixel
bounds, Gemma 4's `get_aspect_ratio_preserving_size`, Kimi's `navit_resize`, Llama 4's
`get_best_fit` on torch tensors, the last two executed from HF's source as measure_next.py does)
and through the tool's `image_grid`; the image tokens must be equal. Prints the sizes that differ
and a summary; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch
import transformers
from measure_next import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS, _hf_functions
from transformers.models.gemma4.image_processing_pil_gemma4 import (
    get_aspect_ratio_preserving_size,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from transformer_roofline.core.api import load_vision


def hf_tokens(family: str, height: int, width: int, helpers: dict) -> int:
    if family == "qwen":
        h, w = smart_resize(height, width, 32, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS)
        return (h // 16) * (w // 16) // 4
    if family == "gemma4":
        h, w = get_aspect_ratio_preserving_size(height, width, 16, 2520, 3)
        return (h // 16) * (w // 16) // 9
    if family == "kimi":
        _, (h, w) = helpers["navit_resize"](height, width, 14, 2, 16384, 512)
        return (h // 14) * (w // 14) // 4
    canvas = helpers["get_best_fit"]((height, width), helpers["canvases"], False)
    rows, cols = int(canvas[0]) // 336, int(canvas[1]) // 336
    return (rows * cols + (1 if rows * cols > 1 else 0)) * 144


def sizes(rng: random.Random, count: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.4:
            out.append((rng.randint(1, 4000), rng.randint(1, 4000)))
        elif kind < 0.7:
            out.append((rng.randint(1, 12000), rng.randint(1, 12000)))
        else:  # elongated
            short = rng.randint(1, 400)
            long = short * rng.randint(1, 150) + rng.randint(0, 30)
            out.append((short, long) if rng.random() < 0.5 else (long, short))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=Path, required=True, help="configs-next folder")
    parser.add_argument("--count", type=int, default=3000, help="sizes per family")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    helpers = {
        **_hf_functions(
            "transformers.models.kimi_k25.image_processing_kimi_k25", ("navit_resize",)
        ),
        **_hf_functions(
            "transformers.models.llama4.image_processing_llama4",
            ("get_factors", "find_supported_resolutions", "get_best_fit"),
        ),
    }
    tile = transformers.image_utils.SizeDict(height=336, width=336)
    helpers["canvases"] = torch.tensor(helpers["find_supported_resolutions"](16, tile))
    towers = {
        "qwen": args.configs / "Qwen__Qwen3-VL-8B-Instruct.json",
        "gemma4": args.configs / "google__gemma-4-26B-A4B.json",
        "kimi": args.configs / "moonshotai__Kimi-K2.5.json",
        "llama4": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    }
    rng, failures = random.Random(args.seed), 0
    for family, model in towers.items():
        tower = load_vision(model)[1]
        checked = differ = 0
        for height, width in sizes(rng, args.count):
            if family == "qwen" and max(height, width) / min(height, width) > 200:
                continue  # the processor refuses it (so does the tool)
            checked += 1
            ours, theirs = tower.image_grid(height, width).tokens, hf_tokens(
                family, height, width, helpers
            )
            if ours != theirs:
                differ += 1
                print(f"{family} {height}x{width}: {ours} tokens, HF {theirs}")
        print(f"{family}: {checked} sizes, {differ} differ", flush=True)
        failures += differ
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
