"""Transformer Roofline Analyzer: the import package of the `transformer-roofline-analyzer`
distribution.

`core/` (the mechanism and the Python API) and `parsers/` (one parser per model family) live at
the repository root, as the project's layout has them; this package holds them under one
distinctive name (here as links to them, in an installed distribution as copies), so that
installing the tool never adds, shadows or is shadowed by another distribution's top-level `core`
or `parsers`. Inside, every import between them is relative.

    from transformer_roofline import analyze_model, plan_model, sweep

The version has one source, `version` in pyproject.toml: `__version__` reads it from the
checkout's pyproject.toml when this package runs from a checkout (the code that runs is the
checkout's), else from the installed distribution's metadata (which the build wrote from it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

DISTRIBUTION = "transformer-roofline-analyzer"

__all__ = ["Analysis", "Scenario", "analyze_model", "load_model", "plan_model", "sweep"]

if TYPE_CHECKING:
    __version__: str
    from transformer_roofline.core.api import (
        Analysis,
        Scenario,
        analyze_model,
        load_model,
        plan_model,
        sweep,
    )


@cache
def version() -> str:
    """pyproject.toml's `version`: the checkout's when this package runs from one, else the
    installed distribution's ("unknown" for a copy that is neither)."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return str(project["version"])
    from importlib import metadata  # ~30 ms: only when the version is asked for

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def __getattr__(name: str) -> Any:
    """The API and `__version__`, on first use: `import transformer_roofline` alone stays
    cheap."""
    if name == "__version__":
        return version()
    if name in __all__:
        from transformer_roofline.core import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
