"""The installed command `transformer_roofline_analyzer`: runs the project's executable script of
that name (at the repository root; beside this module in an installed distribution), so the
command and `./transformer_roofline_analyzer` are one program."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent
# installed: a copy beside this module; in the repository: the script at the root
SCRIPT = next(
    path
    for path in (
        _HERE / "transformer_roofline_analyzer",
        _HERE.parent / "transformer_roofline_analyzer",
    )
    if path.is_file()
)


def load_script() -> ModuleType:
    """The executable script, loaded as a module (not as `__main__`, so it does not re-run
    itself): its `main(argv)` returns the exit code. Tests and tools/fuzz.py call it in-process."""
    loader = importlib.machinery.SourceFileLoader("transformer_roofline._script", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main() -> int:
    return load_script().main()
