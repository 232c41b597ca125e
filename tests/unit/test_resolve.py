"""Config resolution: path, directory, bundled catalog, Hub (offline here), and clear failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transformer_roofline.core.errors import ConfigError, ConfigNotFoundError, did_you_mean
from transformer_roofline.core.resolve import catalog, catalog_aliases, resolve_config

ROOT = Path(__file__).resolve().parent.parent.parent


def test_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert resolve_config(str(tmp_path / "config.json")).config == {"model_type": "llama"}
    resolved = resolve_config(str(tmp_path))
    assert resolved.origin == "file" and resolved.config == {"model_type": "llama"}


def test_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFoundError, match=r"directory has no config\.json"):
        resolve_config(str(tmp_path))


@pytest.mark.parametrize("name", ["path/to/config.json", "./nothing.json", "a/b/c"])
def test_missing_path_is_not_sent_to_the_hub(name: str) -> None:
    with pytest.raises(ConfigNotFoundError, match="no such file or directory"):
        resolve_config(name)


def test_malformed_json_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text('{\n  "model_type": "llama",\n  "hidden_size": ,\n}')
    with pytest.raises(ConfigError, match=r"malformed JSON at line 3, column 18"):
        resolve_config(str(bad))


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must be a JSON object, got list"):
        resolve_config(str(bad))


def test_catalog_by_hub_name() -> None:
    names = catalog()
    assert "meta-llama/Llama-3.1-8B" in names
    resolved = resolve_config("meta-llama/Llama-3.1-8B")
    assert resolved.origin == "catalog" and resolved.config["model_type"] == "llama"
    assert resolve_config("META-LLAMA/llama-3.1-8b").origin == "catalog"


def test_every_llama_reference_config_is_bundled() -> None:
    llama = {n for n, p in catalog().items() if json.loads(p.read_text())["model_type"] == "llama"}
    assert len(llama) == 8
    assert {
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    } <= set(catalog())


def test_unknown_hub_name_fails_fast_offline(monkeypatch, tmp_path: Path) -> None:
    # No network in tests: the Hub path runs with HF_HUB_OFFLINE and an empty cache.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(ConfigNotFoundError) as caught:
        resolve_config("some-org/some-model-that-is-not-bundled")
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "not a file" in message and "bundled catalog (see --list-models)" in message
    assert "Hub could not be reached" in message and "\n" not in message


def test_unreachable_hub_fails_fast_without_retries(monkeypatch, tmp_path: Path) -> None:
    # Online mode, but the endpoint is a closed local port: the probe fails at once and only the
    # (empty) cache is asked, instead of the Hub client's 5 retries with back-off (~25 s).
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(ConfigNotFoundError, match="Hub could not be reached"):
        resolve_config("some-org/another-model")
    assert time.monotonic() - start < 10


def _cache_tiny_llama(hf_home: Path) -> None:
    """The tiny Llama's config.json in an HF cache, as hub repo some-org/cached-model (the layout:
    hub/models--<org>--<name>/{refs/main, snapshots/<revision>/})."""
    repo = hf_home / "hub" / "models--some-org--cached-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    config = ROOT / "tests" / "end-to-end" / "configs" / "tiny-llama" / "config.json"
    (repo / "snapshots" / "abc123" / "config.json").write_text(config.read_text())


def _python(args: list[str], env: dict[str, str]) -> str:
    """stdout of a fresh interpreter run with `args` in the repository, which must succeed."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_hub_name_in_the_hf_cache_resolves_offline(tmp_path: Path) -> None:
    """A fresh process (the Hub client reads its cache location at import): the CLI finds a hub
    name in the HF cache with HF_HUB_OFFLINE set, without network."""
    _cache_tiny_llama(tmp_path)
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    cli = [str(ROOT / "transformer_roofline_analyzer"), "--format", "json", "--"]
    doc = json.loads(_python([*cli, "some-org/cached-model"], env))
    assert doc["model"]["source"] == "some-org/cached-model"
    assert doc["parameters"]["total"] == 1704  # the tiny Llama of tests/hand_counts.py


# --- the environment is left as found --------------------------------------------------------


def _unreachable_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Online mode (no HF_HUB_OFFLINE), an endpoint on a closed local port: the lookup takes the
    path that used to set HF_HUB_OFFLINE, and never the network."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    for key in (
        "TRANSFORMERS_NO_ADVISORY_WARNINGS",
        "TRANSFORMERS_VERBOSITY",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize("offline", [False, True])
def test_a_failed_hub_lookup_leaves_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: bool
) -> None:
    _unreachable_hub(monkeypatch, tmp_path)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = dict(os.environ)
    with pytest.raises(ConfigNotFoundError, match="Hub could not be reached"):
        resolve_config("some-org/model-nobody-bundled")
    assert dict(os.environ) == before


def test_other_lookups_leave_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _unreachable_hub(monkeypatch, tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    before = dict(os.environ)
    resolve_config("meta-llama/Llama-3.1-8B")
    resolve_config("meta-llama/Llama-4-Scout-17B-16E")
    resolve_config(str(tmp_path))
    for bad in ("./missing.json", str(tmp_path / "nothing")):
        with pytest.raises(ConfigNotFoundError):
            resolve_config(bad)
    assert dict(os.environ) == before


def test_a_hub_lookup_from_the_cache_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    """A fresh process (the Hub client reads its cache location when imported), online mode with
    the Hub unreachable: the config comes from the HF cache, and os.environ is unchanged after
    that success and after a failure."""
    _cache_tiny_llama(tmp_path)
    script = (
        "import json, os\n"
        "from transformer_roofline.core.resolve import resolve_config\n"
        "before = dict(os.environ)\n"
        "found = resolve_config('some-org/cached-model')\n"
        "after_success = dict(os.environ)\n"
        "try:\n"
        "    resolve_config('some-org/not-cached')\n"
        "except Exception as exc:\n"
        "    failure = type(exc).__name__\n"
        "print(json.dumps([found.origin, found.config['hidden_size'], failure,\n"
        "                  after_success == before, dict(os.environ) == before]))\n"
    )
    skip = {"HF_HUB_OFFLINE", "TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS"}
    env = {key: value for key, value in os.environ.items() if key not in skip}
    env |= {"HF_HOME": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9"}
    outcome = json.loads(_python(["-c", script], env))
    assert outcome == ["hub", 8, "ConfigNotFoundError", True, True]


# --- aliases of bundled configs --------------------------------------------------------------


def test_aliases_name_bundled_configs_and_are_not_bundled_themselves() -> None:
    aliases, names = catalog_aliases(), catalog()
    assert aliases == {
        "meta-llama/Llama-4-Maverick-17B-128E": "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        "meta-llama/Llama-4-Scout-17B-16E": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    }
    assert list(aliases) == sorted(aliases)
    for alias, target in aliases.items():
        assert target in names and alias not in names
        resolved = resolve_config(alias)
        assert (resolved.source, resolved.origin) == (alias, "catalog")
        assert resolved.config == resolve_config(target).config
        assert resolve_config(alias.upper()).config == resolved.config


# Llama4TextConfig's defaults in transformers 5.24 (models/llama4/configuration_llama4.py),
# typed by hand: the class is documented with @auto_docstring(checkpoint=
# "meta-llama/Llama-4-Scout-17B-16E"), "Instantiating a configuration with the defaults will yield
# a similar configuration to that of the meta-llama/Llama-4-Scout-17B-16E", the BASE checkpoint.
# Every field that sets a shape (and the layer pattern) is here; a bundled Scout that differs from
# the base fails.
SCOUT_BASE_SHAPES = {
    "vocab_size": 202048,
    "hidden_size": 5120,
    "intermediate_size": 8192,  # each expert
    "intermediate_size_mlp": 16384,  # the dense MLP (interleaved layers)
    "num_hidden_layers": 48,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "num_local_experts": 16,
    "num_experts_per_tok": 1,
    "interleave_moe_layer_step": 1,
    "use_qk_norm": True,
    "attention_chunk_size": 8192,
    "attention_bias": False,
    "hidden_act": "silu",
}
SCOUT_BASE_DEFAULTS = {"tie_word_embeddings": False, "no_rope_layer_interval": 4}


def test_the_scout_alias_has_the_shapes_transformers_documents_for_the_base_checkpoint() -> None:
    config = resolve_config("meta-llama/Llama-4-Scout-17B-16E").config
    text = config["text_config"]
    assert {key: text[key] for key in SCOUT_BASE_SHAPES} == SCOUT_BASE_SHAPES
    # left to the defaults above: untied, a NoPE layer every 4th (no explicit no_rope_layers)
    assert config.get("tie_word_embeddings", False) is False and not text.get("no_rope_layers")
    assert "no_rope_layer_interval" not in text and "tie_word_embeddings" not in text
    assert text["torch_dtype"] == config["torch_dtype"] == "bfloat16"


@pytest.mark.parametrize(
    ("alias", "card_total_b"),
    [("meta-llama/Llama-4-Scout-17B-16E", 109), ("meta-llama/Llama-4-Maverick-17B-128E", 400)],
)
def test_llama4_aliases_have_the_model_cards_parameters(alias: str, card_total_b: int) -> None:
    """Meta's Llama 4 model card gives one architecture row per model for its pretrained and
    instruction-tuned checkpoints alike: 17B activated, 109B (Scout, with the vision encoder) and
    400B (Maverick) in total, BF16 weights. The bundled -Instruct configs the aliases point to
    count exactly that (HF-measured figures, tests/reference)."""
    from conftest import REFERENCE

    stem = catalog_aliases()[alias].replace("/", "__")
    ref = REFERENCE[stem]
    moe = ref["moe"]
    one_expert_per_layer = moe["num_moe_layers"] * moe["params_per_expert"]
    active = ref["parameters"]["total"] - ref["parameters"]["mlp_routed_experts"]
    assert round((active + one_expert_per_layer) / 1e9) == 17
    # Scout's card total counts its vision encoder, 871,932,416 parameters (HF-measured:
    # tests/reference/measured-next.json); Maverick's bundled copy is text-only (~0.9B less)
    vision = 108_641_793_536 - 107_769_861_120 if "Scout" in alias else 0
    assert (ref["parameters"]["total"] + vision) / 1e9 == pytest.approx(card_total_b, rel=0.005)
    assert ref["dtype"] == "bfloat16"


# --- "did you mean" --------------------------------------------------------------------------


def test_an_unknown_hub_name_names_the_closest_bundled_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ConfigNotFoundError) as caught:
        resolve_config("meta-llama/Llama-3.1-8B-Instruct")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "meta-llama/Llama-3.1-8B-Instruct: not a file, not in the bundled catalog (see "
        "--list-models; did you mean meta-llama/Llama-3.1-8B, "
    )
    assert "), and the Hugging Face Hub could not be reached (" in message
    # an alias is a name like any other; a name like none gets no suggestion
    with pytest.raises(ConfigNotFoundError, match=r"Scout-17B-16E-Instruct, [^ ]+Scout-17B-16E or"):
        resolve_config("meta-llama/Llama-4-Scout-17B")
    with pytest.raises(ConfigNotFoundError) as caught:
        resolve_config("some-org/zzzz")
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # a typo, any case
        ("meta-llama/llama-3.1-8c", "meta-llama/Llama-3.1-8B"),
        # the org left out
        ("Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf"),
        # a sibling that is not bundled: the bundled one of that name first
        ("Qwen/Qwen3-8B-Instruct", "Qwen/Qwen3-8B"),
        ("openai/gpt-oss-20", "openai/gpt-oss-20b"),
    ],
)
def test_closest_model_names(typed: str, expected: str) -> None:
    hint = did_you_mean(typed, list(catalog()))
    assert hint.startswith(f"did you mean {expected}")


def test_did_you_mean_ranks_and_lists() -> None:
    names = ["Alpha-1", "Beta-2", "Alpha-10", "Gamma"]
    assert did_you_mean("alpha-1", names) == "did you mean Alpha-1 or Alpha-10?"
    assert did_you_mean("BETA", names) == "did you mean Beta-2?"  # a leading part matches
    assert did_you_mean("org/gamma", names) == "did you mean Gamma?"  # the org is dropped
    assert did_you_mean("alpha", names, n=1) == "did you mean Alpha-1?"  # ties: first listed
    assert did_you_mean("zzz", names) == ""


# --- hostile Hub answers ----------------------------------------------------------------------


def test_a_malformed_cached_config_is_an_invalid_config_not_a_missing_one(tmp_path: Path) -> None:
    """Found in the HF cache but not JSON: exit 4 (invalid config), as a malformed local file."""
    _cache_tiny_llama(tmp_path)
    snapshot = tmp_path / "hub" / "models--some-org--cached-model" / "snapshots" / "abc123"
    (snapshot / "config.json").write_text('{"model_type": "llama", ')
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "transformer_roofline_analyzer"),
            "--",
            "some-org/cached-model",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 4 and result.stderr.count("\n") == 1
    assert "not a valid JSON file" in result.stderr


def test_a_stalling_hub_endpoint_gives_up_at_the_deadline(tmp_path: Path) -> None:
    """An endpoint that accepts connections and never answers: one line after the deadline
    (shortened to 2 s here), not a hang. A fresh process: the Hub client reads its endpoint at
    import."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # accepts into the backlog, never reads or answers
    code = (
        "import transformer_roofline.core.resolve as r\n"
        "r._HUB_DEADLINE_S = 2.0\n"
        "try:\n"
        "    r.resolve_config('some-org/stalled-model')\n"
        "except r.ConfigNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path),
        "HF_ENDPOINT": f"http://127.0.0.1:{server.getsockname()[1]}",
    }
    env.pop("HF_HUB_OFFLINE", None)
    start = time.monotonic()
    try:
        out = _python(["-c", code], env)
    finally:
        server.close()
    assert "did not answer within 2 s" in out
    assert time.monotonic() - start < 20
