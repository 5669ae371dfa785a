"""The model behind the playground: a torch checkpoint or an ONNX export, chosen once.

    backend = load_backend("runs/demo")           # a run folder or .pt: torch
    backend = load_backend("export/model.onnx")   # an export: numpy + onnxruntime, no torch

The routes only call `generate` / `stream` and read `vocab`, `level` and `normalize`; the
card reads `path`, `parameters` and `history`. Nothing here imports torch on the ONNX path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rnnkit.config import RunConfig
from rnnkit.errors import ConfigError
from rnnkit.lm.sampling_options import SamplingOptions
from rnnkit.runtime.onnx_lm import choose_backend
from rnnkit.text.tokenize import WordTokenizer
from rnnkit.text.vocab import Vocab

__all__ = ["Backend", "load_backend"]


@dataclass(frozen=True)
class Backend:
    """A loaded model (`lm`: a `LoadedLM` for torch, an `OnnxLM` for onnx) and its calls."""

    name: Literal["torch", "onnx"]
    lm: Any

    @property
    def vocab(self) -> Vocab:
        """The model's vocabulary."""
        return self.lm.vocab

    @property
    def config(self) -> RunConfig:
        """The resolved run config the model was trained with."""
        return self.lm.config

    @property
    def level(self) -> str:
        """`char` or `word`: how generated tokens are joined."""
        return str(self.lm.level)

    @property
    def tokenizer(self) -> str | WordTokenizer:
        """How a prefix is split: "char", or the model's `WordTokenizer`."""
        return self.lm.tokenizer  # type: ignore[no-any-return]

    @property
    def normalize(self) -> str:
        """The training text's normalisation, applied to every prefix."""
        return str(self.lm.normalize if self.name == "onnx" else self.config.data.normalize)

    @property
    def path(self) -> Path:
        """The file the model was read from (`best.pt`, `model.onnx`, ...)."""
        default = "model.onnx" if self.name == "onnx" else "checkpoint.pt"
        return Path(self.lm.path or default)

    @property
    def parameters(self) -> int | None:
        """The number of weights (None when an export's cannot be counted without `onnx`)."""
        if self.name == "onnx":
            from rnnkit.runtime.onnx_lm import parameter_count

            return parameter_count(self.lm)
        return sum(p.numel() for p in self.lm.model.parameters())

    @property
    def history(self) -> list[dict[str, Any]] | None:
        """The metrics rows of training: model.json's `history` for an export, None for a
        checkpoint (the card reads its run folder's metrics.jsonl)."""
        if self.name == "torch":
            return None
        rows = self.lm.meta.get("history")
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def generate(self, options: SamplingOptions) -> list[str]:
        """Every sample at once (beam search when `options.beam > 0`)."""
        if self.name == "onnx":
            from rnnkit.runtime import onnx_lm

            return onnx_lm.generate(self.lm, options=options)
        import rnnkit  # looked up on each call, so a patched `rnnkit.generate` is used

        return rnnkit.generate(self.lm, options=options)

    def stream(self, options: SamplingOptions) -> Iterator[list[str]]:
        """The new tokens of every sample, step by step (options are checked on the call)."""
        if self.name == "onnx":
            from rnnkit.runtime import onnx_lm

            return onnx_lm.stream(self.lm, options=options)
        import rnnkit

        return rnnkit.stream(self.lm, options=options)


def load_backend(
    checkpoint: str | Path, backend: str = "auto", *, device: str = "cpu", threads: int = 0
) -> Backend:
    """Load `checkpoint` with the backend `choose_backend` picks (`auto`, `torch`, `onnx`).

    Args:
        checkpoint: a run folder or `.pt` file (torch), an export folder or `model.onnx` (onnx).
        backend: as `rnnkit generate --backend`.
        device: where a torch model runs; an export runs on the CPU only.
        threads: onnxruntime intra-op threads of an export (0 = its default); torch's
            threads are process-wide and left to the caller.
    """
    chosen = choose_backend(checkpoint, backend)
    if chosen == "onnx":
        from rnnkit.runtime.onnx_lm import load_onnx

        if device == "cuda":
            raise ConfigError("the ONNX backend runs on the CPU; use --device cpu")
        return Backend("onnx", load_onnx(checkpoint, threads=threads))
    try:
        from rnnkit.lm.load import load
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ConfigError(
            f"{checkpoint} needs torch (not installed); install torch, or serve an ONNX "
            "export (model.onnx or its folder), which runs without it"
        ) from None
    return Backend("torch", load(checkpoint, device=device))
