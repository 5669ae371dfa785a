"""`rnnkit.decode`: `LoadedLM` and `OnnxLM` are both a `LanguageModel`; `load_backend` loads
either, and without torch a checkpoint is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnkit
from conftest import BLOCK_TORCH, tiny_lm_config
from rnnkit.decode import LanguageModel
from rnnkit.decode.backend import load_backend
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.lm.load import LoadedLM


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained character model's run folder."""
    from rnnkit.lm.train import train_lm

    root = tmp_path_factory.mktemp("decode")
    cfg = tiny_lm_config(root, "train.epochs=1", "data.normalize=d2l")
    train_lm(cfg, out=root / "run", quiet=True, echo=lambda _: None)
    return root / "run"


@pytest.fixture(scope="module")
def export(run: Path) -> Path:
    """The model of `run`, exported to ONNX."""
    pytest.importorskip("onnxruntime", reason="reading an export needs onnxruntime")
    pytest.importorskip("onnxscript", reason="exporting needs onnxscript")
    from rnnkit.lm.export import export_onnx

    export_onnx(run, run.parent / "export")
    return run.parent / "export"


def test_a_checkpoint_loads_as_a_language_model(run: Path) -> None:
    lm = load_backend(run)
    assert isinstance(lm, LoadedLM) and isinstance(lm, LanguageModel)
    typed: LanguageModel = lm  # mypy checks the protocol here
    assert typed.normalize == "d2l" and typed.level == "char" and typed.path == run / "best.pt"
    assert typed.parameters == rnnkit.info(run)["parameters"]
    assert [row["epoch"] for row in typed.history] == [1]
    greedy = rnnkit.generate(lm, "the ", 12, temperature=0)
    assert typed.generate("The ", 12, temperature=0) == greedy
    steps = list(typed.stream("the ", 5, seed=2, num_samples=2))
    assert len(steps) == 5 and all(len(tokens) == 2 for tokens in steps)


def test_an_export_loads_as_the_same_language_model(run: Path, export: Path) -> None:
    from rnnkit.runtime.onnx_lm import OnnxLM

    lm, torch_lm = load_backend(export), load_backend(run)
    assert isinstance(lm, OnnxLM) and isinstance(lm, LanguageModel)
    typed: LanguageModel = lm
    assert typed.normalize == torch_lm.normalize and typed.vocab == torch_lm.vocab
    assert typed.parameters == torch_lm.parameters
    assert typed.history == torch_lm.history
    greedy = typed.generate("The ", 12, temperature=0)
    assert greedy == torch_lm.generate("The ", 12, temperature=0)
    with pytest.raises(ConfigError, match="runs on the CPU"):
        load_backend(export, device="cuda")


def test_backend_choice_errors(run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'tf'; use auto, torch or onnx"):
        load_backend(run, "tf")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_backend(tmp_path / "nothing.pt")


def _without_torch(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    script = f"{BLOCK_TORCH}\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_checkpoint_without_torch_is_one_line(run: Path, tmp_path: Path) -> None:
    done = _without_torch(
        "from rnnkit.decode.backend import load_backend\n"
        "from rnnkit.errors import ConfigError\n"
        "try:\n"
        f"    load_backend({str(run)!r})\n"
        "except ConfigError as exc:\n"
        "    print('ERROR', exc)\n"
        "try:\n"
        f"    load_backend({str(tmp_path / 'nothing.pt')!r})\n"
        "except Exception as exc:\n"
        "    print('MISSING', type(exc).__name__)\n"
    )
    assert done.returncode == 0, done.stderr
    error, missing, torch_line = done.stdout.splitlines()
    assert error == (
        f"ERROR {run} needs torch (not installed); install torch, or pass an ONNX export "
        "(model.onnx or its folder), which runs without it"
    )
    assert missing == "MISSING CheckpointError"  # a missing file says so first
    assert torch_line == "TORCH False True"  # looked up, refused, never imported
    cli = _without_torch(
        f"import sys\nfrom rnnkit.cli import main\nsys.exit(main(['generate', '--checkpoint', "
        f"{str(run)!r}]))"
    )
    assert cli.returncode != 0 and cli.stderr.count("\n") == 1
    assert "needs torch (not installed)" in cli.stderr
