"""Config resolution: path, directory, bundled catalog, Hub (offline here), and clear failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transformer_roofline.core.errors import ConfigError, ConfigNotFoundError
from transformer_roofline.core.resolve import catalog, resolve_config

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


def test_a_hub_name_in_the_hf_cache_resolves_offline(tmp_path: Path) -> None:
    """A fresh process (the Hub client reads its cache location at import): the CLI finds a hub
    name in the HF cache with HF_HUB_OFFLINE set, without network."""
    # The HF cache layout: hub/models--<org>--<name>/{refs/main, snapshots/<revision>/}
    repo = tmp_path / "hub" / "models--some-org--cached-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    config = ROOT / "tests" / "end-to-end" / "configs" / "tiny-llama" / "config.json"
    (repo / "snapshots" / "abc123" / "config.json").write_text(config.read_text())
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "transformer_roofline_analyzer"),
            "--format",
            "json",
            "--",
            "some-org/cached-model",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"]["source"] == "some-org/cached-model"
    assert doc["parameters"]["total"] == 1704  # the tiny Llama of tests/hand_counts.py
