"""The interface every model family implements.

A parser does two things of its own: `normalize_config` (raw config dict -> frozen dims record,
once) and `get_layer_list` (one `Block` value per decoder layer, built from the layer kinds of
core/layers). The rest is shared: `ops(parallel)` binds the `set_op_*` vocabulary
(core/model/builder.py) to this model on one device of a split, `ends()` describes what runs
outside the blocks (core/layers/ends.py), and `core.model.report.analyze` turns the stack into a
report. A parser never changes after construction; parallelism is passed to the analysis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from .errors import ConfigError, UsageError, shown
from .layers.blocks import Block
from .layers.ends import ModelEnds
from .layers.mla import MlaMode
from .model.builder import OpBuilder
from .model.config import ConfigReader, attention_heads
from .model.formats import DataFormat
from .model.parallel import Parallelism
from .model.precision import resolve_precision


class TransformerMode(Enum):
    """Which tower of a model is analyzed: the text decoder (a parser) or the vision encoder
    (a vision tower, core/vision/tower.py)."""

    Text = "text"
    Vision = "vision"


@dataclass(frozen=True, kw_only=True)
class ModelDims:
    """Dimensions every decoder-only model has. Parsers extend it with their own fields; each field
    documents its config key and default where the parser fills it in."""

    hidden_size: int  # h: `hidden_size`
    num_layers: int  # `num_hidden_layers`
    vocab_size: int  # V: `vocab_size`
    tie_word_embeddings: bool  # lm_head shares the embedding matrix
    dtype: DataFormat  # `torch_dtype` / `dtype`, default float16
    final_logit_softcapping: bool = False  # `final_logit_softcapping` (Gemma 2)


@dataclass(frozen=True, kw_only=True)
class DecoderDims(ModelDims):
    """The dims of a decoder with grouped-query attention and a gated MLP (most families)."""

    num_heads: int  # H: `num_attention_heads`
    num_kv_heads: int  # H_kv: `num_key_value_heads`, default H
    head_dim: int  # d: `head_dim`, default the family's, else hidden_size // H
    intermediate_size: int  # I: `intermediate_size`
    hidden_act: str  # `hidden_act` (Gemma 2/3: `hidden_activation`)


def decoder_dims(
    r: ConfigReader,
    *,
    tie_default: bool = False,
    act_key: str = "hidden_act",
    act_default: str = "silu",
    head_dim_default: int | None = None,
    fallback: ConfigReader | None = None,
    hidden_divisible: bool = False,
) -> dict[str, Any]:
    """The `DecoderDims` fields read from `r` (keyword arguments for a dims dataclass);
    `hidden_divisible`: see `attention_heads`."""
    hidden = r.integer("hidden_size")
    heads, kv_heads, head_dim = attention_heads(
        r, hidden, head_dim_default, hidden_divisible=hidden_divisible
    )
    if fallback is not None:  # an enclosing config (multimodal) may say it instead
        tie_default = fallback.flag("tie_word_embeddings", tie_default)
    return {
        "hidden_size": hidden,
        "num_layers": r.layers(),
        "vocab_size": r.integer("vocab_size"),
        "tie_word_embeddings": r.flag("tie_word_embeddings", tie_default),
        "dtype": r.dtype(fallback=fallback),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "intermediate_size": r.integer("intermediate_size"),
        "hidden_act": r.activation(act_key, act_default),
    }


class BaseModelConfigParser(ABC):
    """Reads one family's config and states its decoder as a stack of blocks."""

    model_type: ClassVar[str]
    """The `model_type` this class is written for (its registry key)."""
    architectures: ClassVar[frozenset[str]]
    """The `architectures` entries of configs it models (HuggingFace class names)."""
    rmsnorm_unit_offset: ClassVar[bool] = False
    """Gemma's RMSNorm multiplies by (1 + gain) instead of gain."""
    embedding_scale: ClassVar[bool] = False
    """Gemma multiplies the embeddings by sqrt(hidden_size)."""
    tower: ClassVar[str] = "text"
    """What a report of it shows: the text decoder (a vision encoder's reports say "vision")."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        weight_dtype: str | None = None,
        activation_dtype: str | None = None,
        kv_cache_dtype: str | None = None,
        mla: MlaMode = MlaMode.AUTO,
    ) -> None:
        self.config = config
        self.mla_mode = mla  # the MLA cost model, for families with latent attention
        self.dims = self.normalize_config(config)
        self.precision = resolve_precision(
            self.dims.dtype,
            self.quantization_config(),
            layers=self.dims.num_layers,
            weight=weight_dtype,
            activation=activation_dtype,
            kv_cache=kv_cache_dtype,
        )
        self.layers: tuple[Block, ...] = tuple(self.get_layer_list())
        if len(self.layers) != self.dims.num_layers:
            raise AssertionError(f"{self.model_type}: get_layer_list gave the wrong depth")
        self.distinct_blocks: tuple[Block, ...] = tuple(dict.fromkeys(self.layers))
        self._kinds: dict[range, Counter[Block]] = {}

    # --- what each family provides -------------------------------------------------------------

    @abstractmethod
    def normalize_config(self, config: Mapping[str, Any]) -> ModelDims:
        """The dims the formulas use, read and validated once from the raw config."""

    @abstractmethod
    def get_layer_list(self) -> Sequence[Block]:
        """One `Block` per decoder layer, in order."""

    def quantization_config(self) -> Mapping[str, Any] | None:
        """The `quantization_config` that sets weight formats (a family may nest it)."""
        return quantization_section(self.config, "quantization_config")

    def context_limit(self) -> int | None:
        """The longest context the model was built for (`max_position_embeddings`, in the text
        config where the model nests one), or None when the config does not say."""
        text = self.config.get("text_config")
        for section in (text if isinstance(text, Mapping) else {}, self.config):
            value = section.get("max_position_embeddings")
            if type(value) is int and value > 0:
                return value
        return None

    def check_context(self, tokens: int) -> None:
        """One UsageError line when a query would reach `tokens` positions, beyond the model's
        `context_limit()` (generations, serving and plans; a single step is not checked)."""
        limit = self.context_limit()
        if limit is not None and tokens > limit:
            raise UsageError(
                f"a query reaches {tokens} tokens of context, beyond the model's limit "
                f"(max_position_embeddings = {limit})"
            )

    def ends(self) -> ModelEnds:
        """What runs outside the blocks: the embedding, the final norm, the LM head."""
        d = self.dims
        return ModelEnds(
            vocab_size=d.vocab_size,
            hidden_size=d.hidden_size,
            tied=d.tie_word_embeddings,
            embedding_scale=self.embedding_scale,
            final_softcap=d.final_logit_softcapping,
        )

    # --- shared ---------------------------------------------------------------------------------

    def ops(self, parallel: Parallelism) -> OpBuilder:
        """The `set_op_*` vocabulary bound to this model on one device of `parallel`."""
        return OpBuilder(self.precision, self.dims.hidden_size, parallel, self.rmsnorm_unit_offset)

    def check_split(self, parallel: Parallelism) -> None:
        """UsageError naming the first dimension `parallel` cannot cut."""
        for block in self.distinct_blocks:
            if problem := block.check(parallel):
                raise UsageError(f"{self.model_type}: --tensor-parallel {parallel.tp}: {problem}")
        if parallel.pp > self.dims.num_layers:
            raise UsageError(
                f"{self.model_type}: --pipeline-parallel {parallel.pp} exceeds the "
                f"{self.dims.num_layers} layers"
            )

    def block_kinds(self, layers: range) -> Counter[Block]:
        """The distinct blocks of `layers` and how many of each (cached: they never change)."""
        if layers not in self._kinds:
            self._kinds[layers] = Counter(self.layers[layers.start : layers.stop])
        return self._kinds[layers]


def quantization_section(config: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    """`config`'s quantization_config: an object, or absent/null (not quantized); anything else
    is one ConfigError line, not an unquantized model."""
    quantization = config.get("quantization_config")
    if quantization is not None and not isinstance(quantization, Mapping):
        raise ConfigError(f"{where}: must be an object (or null), got {shown(quantization)}")
    return quantization
