"""Importing the library changes nothing in the caller's process and loads only what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import rnnkit

# rnnkit modules that loading and sampling a model must never pull in.
HEAVY = (
    "rnnkit.lm.train",
    "rnnkit.training.distributed",
    "rnnkit.training.run_folder",
    "rnnkit.plots",
    "rnnkit.serve",
    "rnnkit.forecast",
    "matplotlib",
    "fastapi",
    "statsmodels",
)


def _modules_after(code: str) -> list[str]:
    """The module names loaded by a fresh interpreter that ran `code` (MPLBACKEND unset)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_and_load_pull_in_no_recipe_plots_or_server() -> None:
    loaded = _modules_after("import rnnkit; rnnkit.load; rnnkit.generate; rnnkit.evaluate")
    heavy = [m for m in loaded if m.startswith(HEAVY)]
    assert heavy == []
    assert "rnnkit.lm.load" in loaded  # the check above looked at a real import


def test_bare_import_does_not_load_torch() -> None:
    assert "torch" not in _modules_after("import rnnkit")


# The torch-free layers: decoding, the ONNX runtime, the config and the vocabulary.
TORCH_FREE = (
    "rnnkit.decode",
    "rnnkit.decode.options",
    "rnnkit.decode.prefix",
    "rnnkit.decode.protocol",
    "rnnkit.decode.backend",
    "rnnkit.runtime.onnx_lm",
    "rnnkit.config",
    "rnnkit.text.vocab",
)


def test_decoding_and_the_runtime_load_no_torch_lm_or_nn() -> None:
    loaded = _modules_after("\n".join(f"import {name}" for name in TORCH_FREE))
    assert [m for m in loaded if m.startswith(("torch", "rnnkit.lm", "rnnkit.nn"))] == []
    assert set(TORCH_FREE) <= set(loaded)  # the check above looked at real imports
    alone = _modules_after("import rnnkit.decode")
    assert [
        m for m in alone if m.startswith(("torch", "rnnkit.lm", "rnnkit.nn", "rnnkit.runtime"))
    ] == []


def test_plotting_leaves_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    # rcParams' raw entry: reading matplotlib.get_backend() would itself import pyplot
    raw = "dict.__getitem__(matplotlib.rcParams, 'backend')"
    code = (
        f"import matplotlib; before = {raw}\n"
        "import rnnkit.lm.train\n"
        "from rnnkit.plots import plot_curves\n"
        "rows = [{'epoch': 1, 'train_loss': 2.0, 'train_ppl': 7.4}]\n"
        f"plot_curves(rows, {str(tmp_path / 'curves.png')!r})\n"
        f"assert {raw} == before, before"
    )
    loaded = _modules_after(code)
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert "rnnkit.plots" in loaded and "matplotlib.pyplot" not in loaded


def test_public_names_resolve() -> None:
    assert set(rnnkit.__all__) == {"RnnkitError", "__version__", *rnnkit._EXPORTS}
    for name in rnnkit.__all__:
        assert getattr(rnnkit, name) is not None, name
