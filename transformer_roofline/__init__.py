"""Transformer Roofline Analyzer: the import package of the `transformer-roofline-analyzer`
distribution.

`core/` (the mechanism and the Python API) and `parsers/` (one parser per model family) live at
the repository root, as the project's layout has them; this package holds them under one
distinctive name (here as links to them, in an installed distribution as copies), so that
installing the tool never adds, shadows or is shadowed by another distribution's top-level `core`
or `parsers`. Inside, every import between them is relative.

    from transformer_roofline import analyze_model, plan_model, sweep
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = ["Analysis", "Scenario", "analyze_model", "load_model", "plan_model", "sweep"]

if TYPE_CHECKING:
    from transformer_roofline.core.api import (
        Analysis,
        Scenario,
        analyze_model,
        load_model,
        plan_model,
        sweep,
    )


def __getattr__(name: str) -> Any:
    """The API, imported on first use: `import transformer_roofline` alone stays cheap."""
    if name in __all__:
        from transformer_roofline.core import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
