"""Export a trained language model as one ONNX decoding step, for torch-free runtimes.

`rnnkit export RUN --format onnx --out DIR` writes three files into DIR:

- `model.onnx`: one step of the model, the contract of `rnnkit.runtime`::

      inputs:  tokens int64 (B, 1), h float32 (L, B, H) [, c float32 (L, B, H) for an LSTM]
      outputs: logits float32 (B, V), h_out (L, B, H) [, c_out (L, B, H) for an LSTM]

  with a dynamic batch dimension named "batch" on every input and output.
- `vocab.json`: the vocabulary, exactly `Vocab.to_json()` (counts included).
- `model.json`: what a runtime needs besides the weights (level, normalisation, sizes,
  opset) and what the playground shows (corpus, config, metrics, training history).

The traced module is not the model itself but a plain step function rebuilt from its
`state_dict` and config, as `rnnkit.lm.stepper` does: an embedding lookup (or, for one-hot
input, a lookup of the columns of `W_ih`), then per layer the cell equations of
`rnnkit.nn.cells` (`rnn_step`, `gru_step`, `lstm_step`), then the head (for an adaptive
softmax, its exact log-probabilities, which the runtime samples from as logits). So every kind,
depth, input mode and implementation (torch, scratch, fused) exports the same way, with no
custom autograd Function and no `nn.LSTM` in the trace. Only `rnnkit export` imports this
module; it needs the extra `export` (onnx, onnxscript).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import ModelConfig
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.lm.adaptive import adaptive_log_probs
from rnnkit.lm.load import LoadedLM, load
from rnnkit.nn.cells import gru_step, lstm_step, rnn_step
from rnnkit.storage import storage_errors, write_atomic

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
    missing = [name for name in ("onnx", "onnxscript") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"rnnkit export --format onnx needs {' and '.join(missing)}; install them with "
            "pip install 'rnnkit[export]'"
        )


class LMStep(nn.Module):
    """One decoding step of an `RNNLM`, rebuilt from its weights as plain tensor operations.

    Args:
        state_dict: the `RNNLM`'s state_dict (any implementation; the same key names).
        model_cfg: its `[model]` config table.
        vocab_size: V.

    Shape:
        step: tokens (B, 1) int64, h (L, B, H), c (L, B, H) or None
        -> logits (B, V), h' (L, B, H), c' (L, B, H) or None
    """

    def __init__(
        self, state_dict: Mapping[str, Tensor], model_cfg: ModelConfig, vocab_size: int
    ) -> None:
        super().__init__()
        self.kind = model_cfg.kind
        self.num_layers = model_cfg.num_layers
        self.hidden_size = model_cfg.hidden_size
        self.onehot = model_cfg.input_mode == "onehot"

        def weight(name: str) -> Tensor:
            if name not in state_dict:
                raise CheckpointError(
                    f"the checkpoint's weights lack {name!r}; it was not written by this "
                    "model's `rnnkit train`"
                )
            return state_dict[name].detach().to("cpu", torch.float32).clone()

        if not self.onehot:
            self.register_buffer("embedding", weight("embedding.weight"))  # (V, E)
        for k in range(self.num_layers):
            w_ih = weight(f"core.weight_ih_l{k}")  # (G*H, I)
            w_hh = weight(f"core.weight_hh_l{k}")  # (G*H, H)
            zeros = torch.zeros(w_hh.size(0))  # (G*H,)
            has_bias = f"core.bias_ih_l{k}" in state_dict
            b_ih = weight(f"core.bias_ih_l{k}") if has_bias else zeros
            b_hh = weight(f"core.bias_hh_l{k}") if has_bias else zeros.clone()
            if k == 0 and self.onehot:
                # Row v is W_ih e_v + b_ih: the whole input side of a one-hot token.
                self.register_buffer("input_table", w_ih.t().contiguous() + b_ih)  # (V, G*H)
            else:
                self.register_buffer(f"weight_ih_l{k}", w_ih)
                self.register_buffer(f"bias_ih_l{k}", b_ih)
            self.register_buffer(f"weight_hh_l{k}", w_hh)
            self.register_buffer(f"bias_hh_l{k}", b_hh)
        self.register_buffer("head_weight", weight("head.weight"))  # (V, H)
        self.register_buffer("head_bias", weight("head.bias"))  # (V,)
        # An adaptive output: the step gives its exact log-probabilities as the logits.
        self.cutoffs = list(model_cfg.cutoffs) if model_cfg.output == "adaptive" else []
        if self.cutoffs:
            self.register_buffer("cluster_weight", weight("head.cluster_weight"))  # (k, H)
            self.register_buffer("cluster_bias", weight("head.cluster_bias"))  # (k,)
        if self.head_weight.size(0) != vocab_size:
            raise CheckpointError(
                f"the checkpoint's head has {self.head_weight.size(0)} outputs but its "
                f"vocabulary {vocab_size} tokens; the checkpoint is inconsistent"
            )

    def _buffer(self, name: str) -> Tensor:
        """The buffer called `name`."""
        value = getattr(self, name)
        assert isinstance(value, Tensor)
        return value

    def step(
        self, tokens: Tensor, h: Tensor, c: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One step for every sequence.

        Shape:
            tokens (B, 1), h (L, B, H), c (L, B, H) or None
            -> logits (B, V), h' (L, B, H), c' (L, B, H) or None
        """
        ids = tokens[:, 0]  # (B,)
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        x = ids
        for k in range(self.num_layers):
            if k == 0 and self.onehot:
                gi = F.embedding(ids, self._buffer("input_table"))  # (B, G*H)
            else:
                if k == 0:
                    x = F.embedding(ids, self._buffer("embedding"))  # (B, E)
                w_ih, b_ih = self._buffer(f"weight_ih_l{k}"), self._buffer(f"bias_ih_l{k}")
                gi = F.linear(x, w_ih, b_ih)  # (B, G*H)
            w_hh, b_hh = self._buffer(f"weight_hh_l{k}"), self._buffer(f"bias_hh_l{k}")
            if self.kind == "lstm":
                assert c is not None
                x, c_k = lstm_step(gi, h[k], c[k], w_hh, b_hh)  # (B, H) each
                cs.append(c_k)
            elif self.kind == "gru":
                x = gru_step(gi, h[k], w_hh, b_hh)  # (B, H)
            else:
                x = rnn_step(gi, h[k], w_hh, b_hh, torch.tanh)  # (B, H)
            hs.append(x)
        w, b = self._buffer("head_weight"), self._buffer("head_bias")
        if self.cutoffs:
            cw, cb = self._buffer("cluster_weight"), self._buffer("cluster_bias")
            logits = adaptive_log_probs(x, w, b, cw, cb, self.cutoffs)  # (B, V) log-probs
        else:
            logits = F.linear(x, w, b)  # (B, V)
        return logits, torch.stack(hs), torch.stack(cs) if cs else None


class _HiddenStep(nn.Module):
    """The traced signature of an rnn or gru step: (tokens, h) -> (logits, h_out)."""

    def __init__(self, core: LMStep) -> None:
        super().__init__()
        self.core = core

    def forward(self, tokens: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Shape: tokens (B, 1), h (L, B, H) -> logits (B, V), h_out (L, B, H)."""
        logits, h_out, _ = self.core.step(tokens, h, None)
        return logits, h_out


class _LSTMStep(nn.Module):
    """The traced signature of an LSTM step: (tokens, h, c) -> (logits, h_out, c_out)."""

    def __init__(self, core: LMStep) -> None:
        super().__init__()
        self.core = core

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Shape: tokens (B, 1), h, c (L, B, H) -> logits (B, V), h_out, c_out (L, B, H)."""
        logits, h_out, c_out = self.core.step(tokens, h, c)
        assert c_out is not None
        return logits, h_out, c_out


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


def read_history(run_folder: Path) -> list[dict[str, Any]]:
    """The rows of `run_folder/metrics.jsonl` (empty without one; unreadable lines skipped)."""
    path = run_folder / "metrics.jsonl"
    if not path.is_file():
        return []
    with storage_errors(path, "read"):
        text = path.read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


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
            "history": read_history(lm.path.parent),
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
    step = LMStep(lm.model.state_dict(), lm.config.model, len(lm.vocab))
    onnx_bytes, opset = onnx_step(step)
    card = model_card(lm, opset)
    out = Path(out)
    write_atomic(out / "model.onnx", onnx_bytes)
    write_atomic(out / "vocab.json", lm.vocab.to_json())
    write_atomic(out / "model.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card
