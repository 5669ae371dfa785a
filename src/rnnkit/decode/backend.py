"""Which backend reads a trained model, and loading it: said once for the command line
(`rnnkit generate`, `rnnkit serve`) and the playground.

    lm = load_backend("runs/demo")            # a run folder or .pt: torch (`LoadedLM`)
    lm = load_backend("export/model.onnx")    # an export: numpy + onnxruntime (`OnnxLM`)

Both are a `LanguageModel`. The torch and runtime modules are imported inside
`load_backend`, only for the backend chosen, so an export loads without torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from rnnkit.decode.protocol import LanguageModel
from rnnkit.errors import ConfigError

__all__ = ["BACKENDS", "choose_backend", "installed", "is_export", "load_backend"]

BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx")


def installed(name: str) -> bool:
    """Whether the package `name` can be imported (looked up, not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def is_export(path: str | Path) -> bool:
    """Whether `path` is an export: a `.onnx` file, or a folder with model.json and model.onnx."""
    path = Path(path)
    if path.is_dir():
        return (path / "model.json").is_file() and (path / "model.onnx").is_file()
    return path.suffix == ".onnx"


def choose_backend(path: str | Path, backend: str = "auto") -> Literal["torch", "onnx"]:
    """Which backend reads `path`: `torch` (a `.pt` or a run folder) or `onnx` (an export).

    `auto`: a `.onnx` file is onnx; a folder with `best.pt`/`last.pt` is torch when torch is
    installed, else onnx if the folder also holds an export; anything else is torch.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; use auto, torch or onnx")
    if backend != "auto":
        return "torch" if backend == "torch" else "onnx"
    path = Path(path)
    if path.is_dir():
        has_pt = (path / "best.pt").is_file() or (path / "last.pt").is_file()
        if is_export(path) and not (has_pt and installed("torch")):
            return "onnx"
        return "torch"
    return "onnx" if path.suffix == ".onnx" else "torch"


def load_backend(
    path: str | Path, backend: str = "auto", *, device: str = "cpu", threads: int = 0
) -> LanguageModel:
    """Load `path` with the backend `choose_backend` picks (`auto`, `torch`, `onnx`).

    Args:
        path: a run folder or `.pt` file (torch), an export folder or `model.onnx` (onnx).
        backend: as `rnnkit generate --backend`.
        device: where a torch model runs; an export runs on the CPU only.
        threads: onnxruntime intra-op threads of an export (0 = its default); torch's
            threads are process-wide and left to the caller.

    Raises:
        ConfigError: an unknown backend, an export asked to run on cuda, or a torch
            checkpoint where torch is not installed.
        CheckpointError: the file is missing or holds no language model.
    """
    if choose_backend(path, backend) == "onnx":
        if device == "cuda":
            raise ConfigError("the ONNX backend runs on the CPU; use the cpu device")
        from rnnkit.runtime.onnx_lm import load_onnx

        return load_onnx(path, threads=threads)
    from rnnkit.checkpoint import resolve_checkpoint_path

    resolve_checkpoint_path(path)  # a missing file says so first
    if not installed("torch"):
        raise ConfigError(
            f"{path} needs torch (not installed); install torch, or pass an ONNX export "
            "(model.onnx or its folder), which runs without it"
        )
    from rnnkit.lm.load import load

    return load(path, device=device)
