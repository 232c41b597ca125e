"""Typed, validated reads from a raw config dict, with errors that name the key and model type.

Parsers normalise a config through a `ConfigReader` exactly once (`normalize_config`), so every
missing or ill-typed field becomes one clear `ConfigError` instead of a KeyError deep in a formula.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AnalyzerError, ConfigError, shown
from ..ops import ACT_FLOPS
from .formats import DataFormat, config_format

_REQUIRED: Any = object()

# Decoder layers a config may declare: far above any real model (the deepest have ~200), low
# enough that per-layer work stays instant.
MAX_LAYERS = 100_000
# Any integer a config holds (a width, a count, a context length): int32's largest, as the
# frameworks store them; far above any real model, low enough that every figure stays a finite
# float.
MAX_CONFIG_INTEGER = 2**31 - 1


# A config or spec file larger than this is not one (the largest real configs are ~100 KB).
MAX_FILE_BYTES = 64 * 2**20


def read_text(path: Path, error: type[AnalyzerError], what: str) -> str:
    """The text of `path`, a regular file of at most MAX_FILE_BYTES (a FIFO or a device would
    block or never end), or one `error` line saying why it cannot be read."""
    try:
        if not path.is_file():
            raise error(f"{path}: cannot read {what} (not a regular file)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error(f"{path}: {what} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what} ({shown(str(exc), 200)})") from None


def read_json(path: Path, error: type[AnalyzerError], what: str) -> Any:
    """The JSON value in `path`, or one `error` line saying where it is malformed."""
    text = read_text(path, error, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise error(f"{path}: {what} is nested too deeply to be a config") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise error(f"{path}: {what} holds a value JSON readers refuse ({exc})") from None


class ConfigReader:
    """Reads fields of one (sub-)config. `where` names it in errors, e.g. "llama4 config
    (text_config)". Never mutates the mapping it reads."""

    def __init__(self, config: Mapping[str, Any], model_type: str, where: str = "") -> None:
        self.config = config
        self.model_type = model_type
        self.where = f"{model_type} config" + (f" ({where})" if where else "")

    def _get(self, key: str, default: Any) -> Any:
        value = self.config.get(key)
        if value is None:
            if default is _REQUIRED:
                raise ConfigError(f"{self.where}: missing required field '{key}'")
            return default
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        """An integer >= `minimum`; required unless a `default` is given."""
        value = self._get(key, _REQUIRED if default is None else default)
        return self._check_integer(key, value, minimum)

    def optional_integer(self, key: str, *, minimum: int = 1) -> int | None:
        """An integer >= `minimum`, or None when the field is absent or null."""
        value = self._get(key, None)
        return None if value is None else self._check_integer(key, value, minimum)

    def _check_integer(self, key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"{self.where}: '{key}' must be an integer >= {minimum}, got {shown(value)}"
            )
        if value > MAX_CONFIG_INTEGER:
            raise ConfigError(
                f"{self.where}: '{key}' ({shown(value)}) exceeds the limit of "
                f"{MAX_CONFIG_INTEGER:,} for a config integer"
            )
        return value

    def layers(self, key: str = "num_hidden_layers") -> int:
        """The number of decoder layers, at most MAX_LAYERS."""
        layers = self.integer(key)
        if layers > MAX_LAYERS:
            raise ConfigError(
                f"{self.where}: '{key}' ({layers}) exceeds the limit of {MAX_LAYERS} layers"
            )
        return layers

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}: '{key}' must be true or false, got {shown(value)}")
        return value

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.where}: '{key}' must be a string, got {shown(value)}")
        return value

    def activation(self, key: str = "hidden_act", default: str = "silu") -> str:
        """An activation function name that `act_flops` knows."""
        act = self.text(key, default)
        if act not in ACT_FLOPS:
            raise ConfigError(
                f"{self.where}: unknown activation {act!r} in '{key}' "
                f"(supported: {', '.join(sorted(ACT_FLOPS))})"
            )
        return act

    def int_list(self, key: str, *, minimum: int = 0) -> list[int] | None:
        """A list of integers >= `minimum`, or None when absent."""
        value = self._get(key, None)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and minimum <= v <= MAX_CONFIG_INTEGER
            for v in value
        ):
            raise ConfigError(
                f"{self.where}: '{key}' must be a list of integers >= {minimum}, got {shown(value)}"
            )
        return value

    def layer_types(
        self, layers: int, allowed: frozenset[str], key: str = "layer_types"
    ) -> list[str] | None:
        """`layer_types` (or another per-layer list, e.g. `mlp_layer_types`): one of `allowed`
        per layer, or None when absent."""
        value = self._get(key, None)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) != layers
            or not all(isinstance(kind, str) and kind in allowed for kind in value)
        ):
            raise ConfigError(
                f"{self.where}: '{key}' must list one of {', '.join(sorted(allowed))} "
                f"for each of the {layers} layers"
            )
        return value

    def rotary_factor(self, default: float, kind: str | None = None) -> float:
        """The fraction of each head's dims RoPE rotates, `partial_rotary_factor`, found where
        transformers 5 looks (`convert_rope_params_to_dict`): in `rope_scaling` (the old name) or
        else `rope_parameters` (its `kind` entry where RoPE is set per layer type), else at the
        config's top level, else the family's `default`. A number in (0, 1]."""
        key = "rope_scaling" if self.config.get("rope_scaling") else "rope_parameters"
        rope, path = self.config.get(key), key
        if kind is not None and isinstance(rope, Mapping):
            rope, path = rope.get(kind), f"{key}.{kind}"
        if rope is not None and not isinstance(rope, Mapping):
            raise ConfigError(f"{self.where}: '{path}' must be an object, got {rope!r}")
        value = None if rope is None else rope.get("partial_rotary_factor")
        name = f"{path}.partial_rotary_factor"
        if value is None:
            value, name = self._get("partial_rotary_factor", default), "partial_rotary_factor"
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ConfigError(
                f"{self.where}: '{name}' must be a number in (0, 1], got {shown(value)}"
            )
        return value

    def section(self, key: str) -> ConfigReader:
        """A nested config object (e.g. llama4's `text_config`)."""
        value = self._get(key, _REQUIRED)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.where}: '{key}' must be an object, got {shown(value)}")
        return ConfigReader(value, self.model_type, key)

    def dtype(self, fallback: ConfigReader | None = None) -> DataFormat:
        """The weight dtype: `torch_dtype` (transformers 4) or `dtype` (transformers 5), then the
        same keys of `fallback` (an enclosing config), else float16 (HuggingFace's default)."""
        for reader in (self, fallback):
            if reader is None:
                continue
            for key in ("torch_dtype", "dtype"):
                value = reader.config.get(key)
                if value is not None:
                    return config_format(value, self.model_type, key)
        return config_format("float16", self.model_type, "dtype")


def attention_heads(
    reader: ConfigReader,
    hidden_size: int,
    head_dim_default: int | None = None,
    kv_heads_default: int | None = None,
    *,
    hidden_divisible: bool = False,
) -> tuple[int, int, int]:
    """(H, H_kv, d) from `num_attention_heads`, `num_key_value_heads` (default: the family's,
    else H, i.e. MHA) and `head_dim` (an explicit value wins; then the family's own default, e.g.
    256 for Gemma; else hidden_size // H, which must then divide). `hidden_divisible`: H must
    divide hidden_size even with a head_dim given, as the family's HF config class requires
    (`validate_architecture` of Llama, Gemma 2 and 3 in transformers 5)."""
    heads = reader.integer("num_attention_heads")
    kv_heads = reader.integer("num_key_value_heads", kv_heads_default or heads)
    if heads % kv_heads:
        raise ConfigError(
            f"{reader.where}: num_attention_heads ({heads}) is not a multiple of "
            f"num_key_value_heads ({kv_heads})"
        )
    head_dim = reader.optional_integer("head_dim") or head_dim_default
    if hidden_divisible and hidden_size % heads:
        raise ConfigError(
            f"{reader.where}: hidden_size ({hidden_size}) is not a multiple of "
            f"num_attention_heads ({heads}), as {reader.model_type} requires"
        )
    if head_dim is None:
        if hidden_size % heads:
            raise ConfigError(
                f"{reader.where}: hidden_size ({hidden_size}) is not a multiple of "
                f"num_attention_heads ({heads}) and no head_dim is given"
            )
        head_dim = hidden_size // heads
    return heads, kv_heads, head_dim


def top_k_of(reader: ConfigReader, key: str, default: int | None, num_experts: int) -> int:
    """Experts per token, at most the number of experts (required when `default` is None)."""
    top_k = reader.integer(key, default)
    if top_k > num_experts:
        raise ConfigError(
            f"{reader.where}: '{key}' ({top_k}) exceeds the number of experts ({num_experts})"
        )
    return top_k


_ATTENTION_KINDS = frozenset({"full_attention", "sliding_attention"})


def sliding_layers(reader: ConfigReader, layers: int, default: list[bool]) -> list[bool]:
    """Which layers use sliding-window attention: `layer_types` when the config lists them
    ("sliding_attention" / "full_attention"), else the family's `default`."""
    kinds = reader.layer_types(layers, _ATTENTION_KINDS)
    return default if kinds is None else [kind == "sliding_attention" for kind in kinds]
