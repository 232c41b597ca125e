"""Literal tables whose rows are imported on first use, so that a run pays only for what it uses.

`PARSER_REGISTRY` (parsers/__init__.py) and `MIXERS` (core/layers/__init__.py) stay one literal
table each, written `key: "module:Name"` with the module relative to the table's package; a row's
module is imported the first time the row is looked up. A CLI run on a Llama config so imports
the Llama parser and the layer kinds it builds, not the other families (benchmarks/bench.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class LazyTable(Mapping[str, V], Generic[V]):
    """A read-only mapping of `key -> "module:Name"` rows (modules relative to `package`)."""

    def __init__(self, package: str, rows: Mapping[str, str]) -> None:
        self._package = package
        self._rows = dict(rows)
        self._loaded: dict[str, V] = {}

    def __getitem__(self, key: str) -> V:
        value = self._loaded.get(key)
        if value is None:
            module, _, name = self._rows[key].partition(":")
            path = f"{self._package}.{module}"
            __import__(path)  # not importlib.import_module: `python -X importtime` lists this
            value = getattr(sys.modules[path], name)
            self._loaded[key] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, key: str) -> str:
        """The row's reference, "module:Name", without importing it."""
        return self._rows[key]

    def __repr__(self) -> str:
        return f"LazyTable({self._rows!r})"


def exports(package: str, modules: Mapping[str, tuple[str, ...]]) -> LazyTable[Any]:
    """A package's public names, `{module: names}` inverted to name -> "module:name": back a
    module-level `__getattr__` with it to import each submodule when one of its names is used."""
    return LazyTable(
        package, {name: f"{m}:{name}" for m, names in modules.items() for name in names}
    )
