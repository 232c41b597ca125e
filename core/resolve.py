"""Config resolution: the model argument -> the raw config dict, in this order:

1. an existing path: a `config.json` file, or a directory holding one (HuggingFace layout);
2. the bundled catalog of real HuggingFace configs (`core/catalog/<org>__<name>.json`), by hub name
   or by an explicit alias (`CATALOG_ALIASES`);
3. the HuggingFace Hub through transformers (imported only here), honouring the HF cache,
   `HF_TOKEN` and `HF_HUB_OFFLINE`; remote code is never enabled. `os.environ` is left as found.

A name found nowhere fails with one line that names the closest bundled names.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, ConfigNotFoundError, did_you_mean
from .model.config import read_json

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"

# A hub repo id: "name" or "namespace/name" of letters, digits, '-', '_', '.'.
_REPO_ID = r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$"
# Seconds the Hub client may wait for an answer (its own default is 10 per request), and seconds
# the reachability probe waits before the Hub is taken as unreachable.
_HUB_TIMEOUT_S = "4"
_HUB_PROBE_TIMEOUT_S = 3.0
# Set while transformers is imported and asked, unless the user set them: one line on failure
# (no import-time advice about PyTorch), and the Hub timeouts above. The Hub client reads them
# when first imported.
# The whole lookup of one config on the Hub, retries included: past it the CLI says so.
_HUB_DEADLINE_S = 30.0
T = TypeVar("T")

_HUB_ENV = {
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_ETAG_TIMEOUT": _HUB_TIMEOUT_S,
    "HF_HUB_DOWNLOAD_TIMEOUT": _HUB_TIMEOUT_S,
}

# Sibling checkpoints bundled under another name (alias -> catalog name). A row only where the
# sibling's text decoder is shown to have the same shapes and the same dtype as the bundled
# config; the evidence is in core/catalog/SOURCES.md ("Aliases") and tests/unit/test_resolve.py.
# The bundled file's other fields (its context limit, RoPE scaling) apply to the alias.
CATALOG_ALIASES: dict[str, str] = {
    "meta-llama/Llama-4-Scout-17B-16E": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "meta-llama/Llama-4-Maverick-17B-128E": "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
}


@dataclass(frozen=True)
class ResolvedConfig:
    source: str  # what the user typed
    origin: str  # "file", "catalog" or "hub"
    config: dict[str, Any]


def catalog() -> dict[str, Path]:
    """Bundled configs by hub name ("meta-llama/Llama-3.1-8B"), sorted."""
    return {path.stem.replace("__", "/", 1): path for path in sorted(CATALOG_DIR.glob("*.json"))}


def catalog_aliases() -> dict[str, str]:
    """Other hub names a bundled config answers to (alias -> catalog name), sorted by alias."""
    return dict(sorted(CATALOG_ALIASES.items()))


def load_config_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; one clear error for unreadable, malformed or non-object JSON."""
    config = read_json(path, ConfigError, "config")
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config must be a JSON object, got {type(config).__name__}")
    return config


def resolve_config(name: str) -> ResolvedConfig:
    path = Path(name).expanduser()
    mode = _file_mode(path)
    if mode is not None and stat.S_ISDIR(mode):
        if _file_mode(path / "config.json") is None:
            raise ConfigNotFoundError(f"{name}: directory has no config.json")
        return ResolvedConfig(name, "file", load_config_file(path / "config.json"))
    if mode is not None:  # a regular file, or one `load_config_file` refuses (a FIFO, a device)
        return ResolvedConfig(name, "file", load_config_file(path))
    bundled = _catalog_lookup(name)
    if bundled is not None:
        return ResolvedConfig(name, "catalog", load_config_file(bundled))
    if not re.match(_REPO_ID, name) or name.endswith(".json"):
        raise ConfigNotFoundError(
            f"{name}: no such file or directory, and not a model name (see --list-models)"
        )
    return ResolvedConfig(name, "hub", _fetch_from_hub(name))


def _file_mode(path: Path) -> int | None:
    """st_mode of `path`, None where nothing is there; a path the system cannot look up (a
    name too long, a permission denied) is one line."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigNotFoundError(f"{path}: cannot look it up ({exc.strerror})") from None


def _catalog_lookup(name: str) -> Path | None:
    """The bundled file of a hub name or alias, case-insensitive."""
    entries = catalog()
    folded = {key.lower(): path for key, path in entries.items()}
    folded |= {alias.lower(): entries[target] for alias, target in CATALOG_ALIASES.items()}
    return folded.get(name.lower())


@contextmanager
def _defaults_in_environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ where the user has not set them, for the block only: afterwards
    os.environ holds exactly what it held before (success or failure)."""
    added = [key for key in values if key not in os.environ]
    try:
        for key in added:
            os.environ[key] = values[key]
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _hub_reachable(timeout_s: float = _HUB_PROBE_TIMEOUT_S) -> bool:
    """Can a TCP connection to the Hub endpoint open within `timeout_s` (DNS included)? Probed in
    a thread so that a hanging resolver cannot hold the CLI past the timeout."""
    import socket
    import threading
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    reached: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            reached.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(reached)


def _within(seconds: float, work: Callable[[], T]) -> T:
    """`work()`, or TimeoutError after `seconds` (it runs in a daemon thread, left behind: a
    stalled endpoint holds a socket the client's own timeouts do not always cover)."""
    import threading

    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if failed:
        raise failed[0]
    if not done:
        raise TimeoutError
    return done[0]


def _fetch_from_hub(name: str) -> dict[str, Any]:
    """config.json of hub repo `name`, via transformers: the HF cache, `HF_TOKEN` and
    `HF_HUB_OFFLINE` apply. When the Hub cannot be reached, only the cache is asked
    (`local_files_only`), so the answer comes in seconds instead of after the client's retries."""
    reachable = os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "") and _hub_reachable()
    try:
        with _defaults_in_environment(_HUB_ENV):
            from transformers import PretrainedConfig

            config, _ = _within(
                _HUB_DEADLINE_S,
                lambda: PretrainedConfig.get_config_dict(name, local_files_only=not reachable),
            )
    except TimeoutError:
        raise ConfigNotFoundError(
            f"{name}: not a file, not in the bundled catalog (see --list-models), and the "
            f"Hugging Face Hub did not answer within {_HUB_DEADLINE_S:g} s"
        ) from None
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "not a valid JSON file" in reason:  # found (in the cache or on the Hub), malformed
            raise ConfigError(f"{name}: {reason[:200]}") from None
        where = "could not be reached" if not reachable else "could not provide it"
        hint = did_you_mean(name, [*catalog(), *CATALOG_ALIASES])
        see = f"see --list-models; {hint}" if hint else "see --list-models"
        raise ConfigNotFoundError(
            f"{name}: not a file, not in the bundled catalog ({see}), and the "
            f"Hugging Face Hub {where} ({reason[:200]})"
        ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"{name}: the Hub's config.json is not a JSON object")
    return config
