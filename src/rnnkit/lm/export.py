"""Export a trained language model as one ONNX decoding step, for torch-free runtimes.

`rnnkit export RUN --format onnx --out DIR` writes three files into DIR:

- `model.onnx`: one step of the model, the contract of `rnnkit.runtime`::

      inputs:  tokens int64 (B, 1), h float32 (L, B, H) [, c float32 (L, B, H) for an LSTM]
      outputs: logits float32 (B, V), h_out (L, B, H) [, c_out (L, B, H) for an LSTM]

  with a dynamic batch dimension named "batch" on every input and output.
- `vocab.json`: the vocabulary, exactly `Vocab.to_json()` (counts included).
- `model.json`: what a runtime needs besides the weights (level, normalisation, sizes,
  opset) and what the playground shows (corpus, config, metrics, training history).

The traced step is `rnnkit.lm.step.LMStep`, the one generation runs, rebuilt from the
checkpoint's `state_dict` in float32 on the CPU: an embedding lookup (or, for one-hot input,
a lookup of the prepared columns of `W_ih`), then per layer the cell update in plain tensor
operations, then the head (for an adaptive softmax, its exact log-probabilities, which the
runtime samples from as logits). So every kind, depth, input mode and implementation (torch,
scratch, fused) exports the same way, with no custom autograd Function and no `nn.LSTM` in
the trace. Only `rnnkit export` imports this module; it needs the extra `export` (onnx,
onnxscript), which `check_exporter` asks for.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.lm.load import LoadedLM, load
from rnnkit.lm.step import LMStep
from rnnkit.storage import write_atomic

FORMAT = "rnnkit-onnx"
FORMAT_VERSION = 1
FORMATS: tuple[str, ...] = ("onnx",)
EXPORT_BATCH = 2
"""The example batch the step is traced with: not 1, which torch.export would specialise."""


def input_names(kind: str) -> list[str]:
    """The ONNX input names of a step of this kind: tokens, h (and c for an LSTM)."""
    return ["tokens", "h", "c"] if kind == "lstm" else ["tokens", "h"]


def output_names(kind: str) -> list[str]:
    """The ONNX output names of a step of this kind: logits, h_out (and c_out for an LSTM)."""
    return ["logits", "h_out", "c_out"] if kind == "lstm" else ["logits", "h_out"]


def check_exporter() -> None:
    """Refuse (one line) when the ONNX exporter's packages are missing."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the ONNX export needs {' and '.join(missing)}; install them with "
            "pip install 'rnnkit[export]'"
        )


class _HiddenStep(nn.Module):
    """The traced signature of an rnn or gru step: (tokens, h) -> (logits, h_out)."""

    def __init__(self, step: LMStep) -> None:
        super().__init__()
        self.lm_step = step

    def forward(self, tokens: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Shape: tokens (B, 1), h (L, B, H) -> logits (B, V), h_out (L, B, H)."""
        logits, h_out, _ = self.lm_step.step(tokens[:, 0], h.unbind(0), None)
        return logits, torch.stack(h_out)


class _LSTMStep(nn.Module):
    """The traced signature of an LSTM step: (tokens, h, c) -> (logits, h_out, c_out)."""

    def __init__(self, step: LMStep) -> None:
        super().__init__()
        self.lm_step = step

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Shape: tokens (B, 1), h, c (L, B, H) -> logits (B, V), h_out, c_out (L, B, H)."""
        logits, h_out, c_out = self.lm_step.step(tokens[:, 0], h.unbind(0), c.unbind(0))
        assert c_out is not None
        return logits, torch.stack(h_out), torch.stack(c_out)


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's warnings and log lines (optional torchvision ops, axis names)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_step(step: LMStep) -> tuple[bytes, int]:
    """Trace one step with torch's recommended (dynamo) ONNX exporter.

    Returns the serialised model (inputs and outputs named as `input_names` and
    `output_names`, batch dimension "batch") and its default-domain opset.
    """
    check_exporter()
    import onnx

    kind = step.kind
    module: nn.Module = _LSTMStep(step) if kind == "lstm" else _HiddenStep(step)
    state = torch.zeros(step.num_layers, EXPORT_BATCH, step.hidden_size)  # (L, B, H)
    tokens = torch.zeros(EXPORT_BATCH, 1, dtype=torch.int64)  # (B, 1)
    args: tuple[Tensor, ...] = (tokens, state, state.clone()) if kind == "lstm" else (tokens, state)
    batch = torch.export.Dim("batch", min=1)
    shapes: dict[str, dict[int, Any]] = {"tokens": {0: batch}, "h": {1: batch}}
    if kind == "lstm":
        shapes["c"] = {1: batch}
    module.eval()
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            input_names=input_names(kind),
            output_names=output_names(kind),
            dynamic_shapes=shapes,
            verbose=False,
        )
    assert program is not None
    proto = program.model_proto
    _name_batch_axes(proto, kind)
    onnx.checker.check_model(proto)
    opset = next(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx"))
    return proto.SerializeToString(), int(opset)


def _name_batch_axes(proto: Any, kind: str) -> None:
    """Name the batch axis of every graph input and output "batch" (the contract)."""
    axes = {"tokens": 0, "h": 1, "c": 1, "logits": 0, "h_out": 1, "c_out": 1}
    for value in [*proto.graph.input, *proto.graph.output]:
        if value.name in axes:
            dim = value.type.tensor_type.shape.dim[axes[value.name]]
            dim.dim_param = "batch"


def _finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def model_card(lm: LoadedLM, opset: int) -> dict[str, Any]:
    """The contents of `model.json` for a loaded model exported at `opset`."""
    data, model = lm.config.data, lm.config.model
    assert lm.path is not None
    return _finite(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "task": "lm",
            "opset": opset,
            "level": data.level,
            "normalize": data.normalize,
            "word_regex": data.word_regex,
            "kind": model.kind,
            "num_layers": model.num_layers,
            "hidden_size": model.hidden_size,
            "vocab_size": len(lm.vocab),
            "input_mode": model.input_mode,
            "inputs": input_names(model.kind),
            "outputs": output_names(model.kind),
            "corpus": dict(lm.corpus),
            "config": lm.config.to_dict(),
            "metrics": dict(lm.metrics),
            "best_metrics": dict(lm.best),
            "history": lm.history,
        }
    )


def export_onnx(run: str | Path, out: str | Path) -> dict[str, Any]:
    """Export the language model of `run` (a run folder or .pt file) into the folder `out`:
    `model.onnx`, `vocab.json` and `model.json` (see the module docstring).

    Returns the `model.json` dict.

    Raises:
        ConfigError: onnx or onnxscript is missing.
        CheckpointError: `run` holds no language model, or broken weights.
        StorageError: a file cannot be written.
    """
    check_exporter()
    lm = load(run)
    weights = {name: w.to("cpu", torch.float32) for name, w in lm.model.state_dict().items()}
    step = LMStep(weights, lm.model.kind, lm.model.num_layers, lm.model.cutoffs)
    onnx_bytes, opset = onnx_step(step)
    card = model_card(lm, opset)
    out = Path(out)
    write_atomic(out / "model.onnx", onnx_bytes)
    write_atomic(out / "vocab.json", lm.vocab.to_json())
    write_atomic(out / "model.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card
