"""The one error hierarchy of the analyzer, and the exit code of each kind.

Every error a user can cause (a bad argument, a missing or malformed config, an unsupported model)
is an `AnalyzerError` with a one-line message; the CLI prints it on stderr and exits with its code.
Anything else is a bug and is allowed to raise.
"""

from __future__ import annotations


class AnalyzerError(Exception):
    """A user-facing error: one line of text and a documented exit code."""

    exit_code = 1


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
}
