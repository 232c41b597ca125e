"""The one error hierarchy of the analyzer, and the exit code of each kind.

Every error a user can cause (a bad argument, a missing or malformed config, an unsupported model)
is an `AnalyzerError` with a one-line message; the CLI prints it on stderr and exits with its code.
Anything else is a bug and is allowed to raise.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from difflib import SequenceMatcher

MESSAGE_LIMIT = 400  # characters of an error line: a value quoted in it is cut, not the line


class AnalyzerError(Exception):
    """A user-facing error: one line of text and a documented exit code. A message longer than
    MESSAGE_LIMIT is cut there (a value quoted whole should go through `shown` first)."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        line = " ".join(str(message).split())  # one line, whatever a quoted value held
        if len(line) > MESSAGE_LIMIT:
            line = line[: MESSAGE_LIMIT - 1] + "…"
        super().__init__(line)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxtuple = 3, 6, 6, 6
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 50, 50, 40


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)` for an error message, cut to `limit` characters (a config's 100,000-entry
    list is quoted by its start)."""
    text = _SHORT.repr(value)  # bounded however large or deep the value (a YAML alias bomb)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class UsageError(AnalyzerError):
    """Bad command-line input: token lists, batch size, unknown format names."""

    exit_code = 2


class ConfigNotFoundError(AnalyzerError):
    """The model argument is not a file, not in the bundled catalog, and not on the Hub."""

    exit_code = 3


class ConfigError(AnalyzerError):
    """The config was found but cannot be used: malformed JSON, missing or invalid fields."""

    exit_code = 4


class UnsupportedModelError(AnalyzerError):
    """The config is well formed but names an architecture or mode this version does not model."""

    exit_code = 5


class HardwareSpecError(AnalyzerError):
    """A hardware name or spec file that cannot be used."""

    exit_code = 6


class InfeasibleError(AnalyzerError):
    """A valid question with no answer: no deployment of the plan meets its targets."""

    exit_code = 7


class DependencyError(AnalyzerError):
    """A runtime dependency is not installed: the script run from a checkout without its .venv
    (no `make setup` yet), or an install made without dependencies."""

    exit_code = 8

    @classmethod
    def missing(cls, module: str) -> DependencyError:
        package = DEPENDENCIES.get(module.partition(".")[0], module)
        return cls(f"{package} is not installed: run `make setup` first (or pip install .)")


# pyproject.toml's runtime dependencies by import name (each is imported only where needed).
DEPENDENCIES = {
    "matplotlib": "matplotlib",
    "numpy": "numpy",
    "transformers": "transformers",
    "yaml": "pyyaml",
}

EXIT_CODES: dict[int, str] = {
    0: "success",
    UsageError.exit_code: "bad command-line arguments (token lists, batch size, option values)",
    ConfigNotFoundError.exit_code: "config not found: not a file, not bundled, Hub unreachable",
    ConfigError.exit_code: "invalid config: malformed JSON, missing or invalid field",
    UnsupportedModelError.exit_code: "unsupported model type, architecture or mode (vision on a "
    "model without a vision tower)",
    HardwareSpecError.exit_code: "unknown hardware name or invalid hardware spec",
    InfeasibleError.exit_code: "--plan: no deployment meets the targets (the message names the "
    "binding one)",
    DependencyError.exit_code: "a dependency is not installed: run `make setup` first (or pip "
    "install .)",
}


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> str:
    """'did you mean A, B or C?' for a mistyped `name`: the `n` names of `known` most like it
    (difflib's ratio, at least its usual 0.6 cutoff, case-insensitive), best first, in `known`'s
    order on ties; "" when none is close. Each known name is also compared without an org prefix
    ("meta-llama/") and by its leading '-'-separated parts ("H100" of "H100-SXM5-80GB"), so that a
    name typed short or without its org still finds its match."""
    typed = {name.lower(), name.lower().rpartition("/")[2]}
    scores: dict[str, float] = {}
    for candidate in known:
        bare = candidate.lower().rpartition("/")[2]
        parts = bare.split("-")
        forms = {candidate.lower(), *("-".join(parts[:i]) for i in range(1, len(parts) + 1))}
        best = max(SequenceMatcher(None, t, f).ratio() for t in typed for f in forms)
        if best >= 0.6:
            scores[candidate] = max(best, scores.get(candidate, 0.0))
    close = sorted(scores, key=lambda c: -scores[c])[:n]
    if not close:
        return ""
    listed = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f"did you mean {listed}?"
