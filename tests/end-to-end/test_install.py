"""Installing and running the tool as users do, offline.

- The wheel, installed into a fresh virtualenv beside another distribution that ships top-level
  `core` and `parsers` packages: the command runs from any directory with the bundled catalog and
  example specs, `import core` is the other distribution's, the API imports, and the version is
  pyproject's.
- `./transformer_roofline_analyzer` run by another interpreter (the system python3): from a
  checkout with a .venv it runs again with that .venv; without one it says what to run.

Each uses a bare interpreter, `python -m venv --without-pip`: it sees none of the dependencies.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "transformer_roofline_analyzer"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
# Offline, and pip sees neither this machine's configuration nor its package indexes.
ENV = {
    **{key: value for key, value in os.environ.items() if not key.startswith("PIP_")},
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INDEX": "1",
    "HF_HUB_OFFLINE": "1",
}
# A step on a bundled model, timed on both bundled example specs named as the README does.
STEP = [
    "--cached-tokens", "1024", "--input-tokens", "1", "--batch-size", "4", "--format", "csv",
    "--hardware", "examples/hardware/my-gpu.yaml", "my-gpu.json", "--", "meta-llama/Llama-3.1-8B",
]  # fmt: skip


def run(argv: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env={**ENV, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def bare_python(where: Path) -> Path:
    """A fresh virtualenv's interpreter: no pip, no numpy, no yaml."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True)
    python = where / "bin" / "python"
    assert run([python, "-c", "import yaml"], where).returncode != 0
    return python


def write_wheel(directory: Path, name: str, files: dict[str, str]) -> Path:
    """A minimal pure-Python wheel holding `files` (path -> text)."""
    info = f"{name}-1.0.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return wheel


def test_installed_beside_other_top_level_core_and_parsers(tmp_path: Path) -> None:
    if importlib.util.find_spec("poetry") is None and not os.environ.get("CI"):
        pytest.skip("poetry-core (the build backend, a dev dependency) is missing: make setup")
    dist = tmp_path / "dist"
    wheel = ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", dist, "."]
    built = run([sys.executable, "-m", "pip", *wheel], ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    (ours,) = dist.glob("transformer_roofline_analyzer-*.whl")
    with zipfile.ZipFile(ours) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert "transformer_roofline/core/hardware/examples/my-gpu.yaml" in archive.namelist()
    assert tops == {"transformer_roofline", f"transformer_roofline_analyzer-{VERSION}.dist-info"}
    other = write_wheel(
        dist,
        "other_dist",
        {"core/__init__.py": "WHO = 'other'\n", "parsers/__init__.py": "WHO = 'other'\n"},
    )

    venv = tmp_path / "venv"
    python = bare_python(venv)
    installed = run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", other, ours],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The dependencies come from this environment, after the venv's own site-packages.
    site = run([python, "-c", "import site; print(site.getsitepackages()[0])"], tmp_path)
    site = Path(site.stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz_deps.pth").write_text("\n".join(sorted(deps)) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = venv / "bin" / "transformer_roofline_analyzer"
    version = run([command, "--version"], elsewhere)
    assert version.stdout == f"transformer_roofline_analyzer {VERSION}\n", version.stderr
    step = run([command, *STEP], elsewhere, HF_HOME=str(tmp_path / "hf"))
    assert step.returncode == 0 and step.stderr == "", step.stderr
    assert step.stdout == run([sys.executable, SCRIPT, *STEP], ROOT).stdout
    assert "H100-SXM5-80GB-achievable" in step.stdout and "L40S-48GB-ideal" in step.stdout

    api = run(
        [
            python,
            "-c",
            "import core, parsers, transformer_roofline\n"
            "from transformer_roofline import __version__, analyze_model\n"
            "step = analyze_model('meta-llama/Llama-3.1-8B', cached_tokens=[1024])\n"
            "print(core.WHO, parsers.WHO, __version__, transformer_roofline.__file__)\n"
            "print(step.report.parameters['total'])",
        ],
        elsewhere,
    )
    assert api.returncode == 0, api.stderr
    who, who_too, version_text, where = api.stdout.splitlines()[0].split()
    assert (who, who_too, version_text) == ("other", "other", VERSION)
    assert Path(where).is_relative_to(site)
    assert int(api.stdout.splitlines()[1]) == 8_030_261_248  # Meta: 8.03B parameters


def test_checkout_script_runs_with_its_venv(tmp_path: Path) -> None:
    """Another interpreter runs the checkout's script: it runs again with the checkout's .venv
    (the bare interpreter could not read the YAML spec)."""
    if not (ROOT / ".venv" / "bin" / "python").is_file():
        pytest.skip("no .venv in this checkout: run `make setup`")
    python = bare_python(tmp_path / "bare")
    result = run([python, SCRIPT, *STEP], tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout == run([sys.executable, SCRIPT, *STEP], ROOT).stdout


def test_checkout_without_venv_says_what_to_run(tmp_path: Path) -> None:
    """A checkout without a .venv, run by a bare interpreter: what needs no dependency runs; what
    does says in one line what to run."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(SCRIPT, checkout)
    (checkout / "transformer_roofline").symlink_to(ROOT / "transformer_roofline")
    python = bare_python(tmp_path / "bare")
    script = checkout / SCRIPT.name
    version = run([python, script, "--version"], tmp_path)
    assert version.stdout == f"transformer_roofline_analyzer {VERSION}\n"
    plain = run([python, script, "--format", "csv", "--", "meta-llama/Llama-3.1-8B"], tmp_path)
    assert plain.returncode == 0 and plain.stderr == ""
    for argv, package in (
        (["--hardware", "my-gpu.yaml"], "pyyaml"),
        (["--sweep-batch-size", "1", "2"], "numpy"),
        (["--hardware", "H100-SXM5-80GB", "--plot", str(tmp_path / "r.png")], "matplotlib"),
    ):
        result = run([python, script, *argv, "--", "meta-llama/Llama-3.1-8B"], tmp_path)
        assert (result.returncode, result.stdout) == (8, "")
        assert result.stderr == (
            f"transformer_roofline_analyzer: error: {package} is not installed: "
            "run `make setup` first (or pip install .)\n"
        )


def test_version_is_pyprojects() -> None:
    import transformer_roofline

    assert transformer_roofline.__version__ == VERSION
    result = run([sys.executable, SCRIPT, "--version"], ROOT)
    assert (result.returncode, result.stdout) == (0, f"transformer_roofline_analyzer {VERSION}\n")


def test_dependencies_are_pyprojects() -> None:
    """The missing-dependency message names pyproject's runtime dependencies."""
    from transformer_roofline.core.errors import DEPENDENCIES

    names = {spec.split()[0].lower() for spec in PROJECT["dependencies"]}
    assert set(DEPENDENCIES.values()) == names


def test_bundled_example_specs_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From any directory, the example specs load by file name or repository path; an existing
    file wins; any other missing path is an error, never an example."""
    from transformer_roofline.core.errors import HardwareSpecError
    from transformer_roofline.core.hardware.specs import load_spec, resolve_hardware

    monkeypatch.chdir(tmp_path)
    example = load_spec(ROOT / "examples" / "hardware" / "my-gpu.yaml")
    assert example.name == "H100-SXM5-80GB-achievable"
    for name in ("my-gpu.yaml", "examples/hardware/my-gpu.yaml", "./my-gpu.yaml"):
        assert resolve_hardware(name) == example
    assert resolve_hardware("my-gpu.json").name == "L40S-48GB-ideal"
    for name in ("elsewhere/my-gpu.yaml", "hardware/my-gpu.yaml", "my-gpu.yml", "other.yaml"):
        with pytest.raises(HardwareSpecError, match="cannot read hardware spec"):
            resolve_hardware(name)
    own = (
        (ROOT / "examples" / "hardware" / "my-gpu.yaml")
        .read_text()
        .replace("H100-SXM5-80GB-achievable", "mine")
    )
    (tmp_path / "my-gpu.yaml").write_text(own)
    assert resolve_hardware("my-gpu.yaml").name == "mine"
