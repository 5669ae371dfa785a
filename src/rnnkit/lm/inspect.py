"""Look inside a trained language model: states and gates per token, readable cells, saturation.

Karpathy, Johnson and Fei-Fei ("Visualizing and Understanding Recurrent Networks", 2015)
found cells of a character LSTM that a person can read (one is on inside quotes, one counts
the position in the line) and read from the gates' saturation how a layer uses its memory.
`torch.nn.LSTM` does not expose its gates, so `trace` loads the model's core weights, of any
implementation (torch, scratch, fused: they share parameter names, the mapping
`rnnkit.nn.parity` relies on), into a scratch stack and steps through the text with the
scratch cells' gate functions (`rnnkit.nn.cells.lstm_gates`, `gru_gates`), in float64::

    lm = rnnkit.load("runs/demo")
    t = trace(lm, open("some.py").read(), max_tokens=5000)
    t.layers[0].c            # (T, H) cell states after each token (LSTM)
    t.layers[0].gates["f"]   # (T, H) forget gate activations
    for match in readable_cells(t): print(match.name, match.cells[0])
    for sat in gate_saturation(t): print(sat.layer, sat.gate, sat.left.mean())

`readable_cells` correlates each cell's activation (the cell state c of an LSTM, the hidden
state h of a GRU or plain RNN) with simple properties of the text computed from its
characters alone (`text_properties`). A plain RNN has no gates: its trace holds states only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.lm.load import LoadedLM, load
from rnnkit.nn.cells import activation_for, gru_gates, lstm_gates, lstm_update, rnn_step
from rnnkit.nn.recurrent import build_rnn
from rnnkit.nn.stack import RNNKind, StackBase
from rnnkit.text.tokenize import WordTokenizer, normalize_text

GATE_NAMES: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "rnn": (),
}
"""The gates each kind records, in the order its step computes them."""
SIGMOID_GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ()}
"""The gates in (0, 1), whose saturation `gate_saturation` measures (g and n are tanh)."""
GATE_TITLES: dict[str, str] = {
    "i": "input gate",
    "f": "forget gate",
    "g": "candidate (tanh)",
    "o": "output gate",
    "r": "reset gate",
    "z": "update gate",
    "n": "candidate (tanh)",
}
PROPERTIES: dict[str, str] = {
    "quotes": "inside double quotes",
    "brackets": "inside brackets ()[]{}",
    "line_position": "position in the line (characters since the newline)",
    "indent": "indentation depth (leading spaces of the line)",
    "word": "inside a word (a letter)",
    "newline": "right after a newline",
}
"""The text properties `text_properties` computes, by name, with what each measures."""
READABLE_R = 0.3
"""A property no cell correlates with by |r| at least this much is reported as not tracked."""
LOW, HIGH = 0.1, 0.9
"""A sigmoid gate is left-saturated below LOW and right-saturated above HIGH (the paper's)."""


@dataclass
class LayerTrace:
    """One layer's values after each token, float32.

    Shape:
        h: (T, H) hidden states. c: (T, H) cell states (LSTM), else None.
        gates: name -> (T, H) activations (`GATE_NAMES`; empty for a plain RNN).
    """

    h: np.ndarray
    c: np.ndarray | None
    gates: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def cells(self) -> np.ndarray:
        """The activation a cell is read by: c for an LSTM, else h. Shape (T, H)."""
        return self.h if self.c is None else self.c


@dataclass
class Trace:
    """A model run over a text, token by token, from the zero state.

    `text` is the text as the model read it (normalised as its training text was; at word
    level also lower-cased if the model's tokenizer does so); token t is
    `text[spans[t][0]:spans[t][1]]`. `unknown` counts the tokens read as `<unk>`.

    Shape:
        ids: (T,) token ids. layers: L of `LayerTrace`, each array (T, H).
    """

    text: str
    tokens: list[str]
    spans: list[tuple[int, int]]
    ids: np.ndarray
    kind: str
    level: str
    layers: list[LayerTrace]
    unknown: int = 0

    @property
    def signal(self) -> str:
        """What `LayerTrace.cells` holds: "c" (LSTM cell state) or "h"."""
        return "c" if self.kind == "lstm" else "h"


@dataclass
class ReadableCell:
    """One cell's Pearson correlation `r` with one property."""

    layer: int
    cell: int
    r: float

    def __str__(self) -> str:
        return f"L{self.layer} #{self.cell} r={self.r:+.2f}"


@dataclass
class PropertyMatch:
    """The cells that follow the property `name` (of `PROPERTIES`) best, by |r| (`cells[0]`
    is the best); empty when the property does not vary over the text (no quotes in it)."""

    name: str
    description: str
    cells: list[ReadableCell]

    @property
    def tracked(self) -> bool:
        """Whether the best cell reaches |r| >= READABLE_R."""
        return bool(self.cells) and abs(self.cells[0].r) >= READABLE_R


@dataclass
class GateSaturation:
    """Per unit of one gate of one layer, the share of tokens it is saturated on.

    Shape:
        left: (H,) fraction of tokens with activation < LOW. right: (H,) fraction > HIGH.
    """

    layer: int
    gate: str
    left: np.ndarray
    right: np.ndarray


def load_for_inspect(path: str | Path) -> LoadedLM:
    """A language model to inspect: a run folder or `.pt` file. An ONNX export holds only the
    traced decoding step (weights transposed and folded), so it is refused, naming the fix."""
    p = Path(path)
    onnx_folder = p.is_dir() and (p / "model.onnx").is_file() and not any(p.glob("*.pt"))
    if p.suffix == ".onnx" or onnx_folder:
        raise CheckpointError(
            f"{path} is an ONNX export, which holds only the traced decoding step; inspecting "
            "needs the run's checkpoint: pass the run folder or its best.pt"
        )
    return load(path)


def tokens_of(lm: LoadedLM, text: str) -> tuple[str, list[str], list[tuple[int, int]]]:
    """The text as the model reads it (normalised as its training text), its tokens and each
    token's (start, end) in that text."""
    data = lm.config.data
    text = normalize_text(text, data.normalize, nfc=data.nfc)
    spec = lm.tokenizer
    if isinstance(spec, WordTokenizer):
        text, spans = spec.spans(text)
    else:
        spans = [(i, i + 1) for i in range(len(text))]
    return text, [text[a:b] for a, b in spans], spans


def scratch_core(lm: LoadedLM) -> StackBase:
    """The model's recurrent core as a scratch stack in float64 (weights loaded by name)."""
    model = lm.model
    core = build_rnn(
        model.kind,
        "scratch",
        input_size=model.vocab_size if model.embedding is None else model.embedding.embedding_dim,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        batch_first=True,
    )
    state = {k: v.detach().to("cpu", torch.float64) for k, v in model.core.state_dict().items()}
    core.load_state_dict(state)
    assert isinstance(core, StackBase)
    return core.double().eval()


StepFn = Callable[
    [Tensor, tuple[Tensor, ...], Tensor, Tensor | None],
    tuple[tuple[Tensor, ...], tuple[Tensor, ...]],
]


def _lstm(
    gi: Tensor, state: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One LSTM step: the new (h, c) and the gates (i, f, g, o). Shapes (B, H)."""
    gates = lstm_gates(gi, state[0], w_hh, b_hh)
    return lstm_update(gates, state[1]), gates


def _gru(
    gi: Tensor, state: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One GRU step: the new (h,) and the gates (r, z, n), as `gru_step` combines them."""
    r, z, n = gru_gates(gi, state[0], w_hh, b_hh)
    return ((1 - z) * n + z * state[0],), (r, z, n)


def _rnn(activation: Callable[[Tensor], Tensor]) -> StepFn:
    """One Elman step: the new (h,) and no gates."""

    def step(
        gi: Tensor, state: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        return (rnn_step(gi, state[0], w_hh, b_hh, activation),), ()

    return step


def _step_fn(core: StackBase) -> StepFn:
    """The step of the core's kind that also returns the activated gates."""
    if isinstance(core, RNNKind):
        return _rnn(activation_for(core.nonlinearity))
    return _lstm if core.mode == "lstm" else _gru


def _run_layer(core: StackBase, layer: int, x: Tensor, ids: bool) -> tuple[LayerTrace, Tensor]:
    """Run one layer over the whole sequence step by step, recording states and gates.

    Shape:
        x: (T,) token ids (one-hot input of layer 0) or (T, I) floats. Returns the layer's
        trace (T, H) arrays and its outputs h (T, H) in float64, the next layer's input.
    """
    w_ih, w_hh, b_ih, b_hh = core.layer_weights(layer, 0)
    if ids:  # one_hot(x) @ W_ih^T is row x of W_ih^T, as the scratch stack computes it
        gi = F.embedding(x, w_ih.t()) + (0 if b_ih is None else b_ih)  # (T, G*H)
    else:
        gi = F.linear(x, w_ih, b_ih)  # (T, G*H)
    step = _step_fn(core)
    zeros = torch.zeros(1, core.hidden_size, dtype=torch.float64)
    state: tuple[Tensor, ...] = (zeros,) * core.state_parts
    states: list[tuple[Tensor, ...]] = []
    gates: list[tuple[Tensor, ...]] = []
    for t in range(gi.shape[0]):
        state, acts = step(gi[t : t + 1], state, w_hh, b_hh)
        states.append(state)
        gates.append(acts)
    names = GATE_NAMES[core.mode]
    stacked = [torch.cat(list(part)) for part in zip(*states, strict=True)]  # (T, H) each
    trace = LayerTrace(
        h=stacked[0].numpy().astype(np.float32),
        c=stacked[1].numpy().astype(np.float32) if len(stacked) > 1 else None,
        gates={
            n: torch.cat([g[k] for g in gates]).numpy().astype(np.float32)
            for k, n in enumerate(names)
        },
    )
    return trace, stacked[0]


@torch.no_grad()
def trace(lm: LoadedLM, text: str, max_tokens: int | None = None) -> Trace:
    """Run `lm` over `text` (its first `max_tokens` tokens) from the zero state and record,
    after each token, every layer's hidden (and cell) state and gate activations.

    The core's weights are loaded into scratch cells and run in float64; the states equal
    the model's own forward pass within float32 rounding (tests/lm/test_inspect.py).

    Shape:
        Returns a `Trace` whose arrays are (T, H), T = the number of tokens read.
    """
    text, tokens, spans = tokens_of(lm, text)
    if max_tokens is not None:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
        tokens, spans = tokens[:max_tokens], spans[:max_tokens]
        text = text[: spans[-1][1]] if spans else ""
    if not tokens:
        raise ConfigError("the text has no tokens to inspect; give a longer or non-empty text")
    vocab = lm.vocab
    ids = np.array([vocab.token_to_idx.get(t, vocab.unk) for t in tokens], dtype=np.int64)
    unknown = sum(t not in vocab.token_to_idx for t in tokens)
    core = scratch_core(lm)
    model = lm.model
    x = torch.from_numpy(ids)  # (T,)
    layer_input: Tensor = x
    if model.embedding is not None:
        layer_input = model.embedding.weight.detach().to("cpu", torch.float64)[x]  # (T, E)
    layers = []
    for layer in range(core.num_layers):
        ids_in = layer == 0 and model.embedding is None
        layer_trace, layer_input = _run_layer(core, layer, layer_input, ids_in)
        layers.append(layer_trace)
    level = "word" if isinstance(lm.tokenizer, WordTokenizer) else "char"
    return Trace(text, tokens, spans, ids, model.kind, level, layers, unknown)


def text_properties(text: str) -> dict[str, np.ndarray]:
    """The `PROPERTIES` of every character of `text`, each as known once that character is
    read (what a left-to-right model can know): a quote that opens is inside, one that
    closes is outside; a newline is at position 0 with indentation 0.

    Quotes toggle at every `"` (a triple quote toggles three times: a docstring is inside);
    brackets count ()[]{} depth across lines (never below 0: a stray bracket in a comment
    or string shifts it until the next closer); indentation counts the line's leading
    spaces read so far.

    Shape:
        Returns name -> (N,) float64, N = len(text).
    """
    n = len(text)
    out = {name: np.zeros(n) for name in PROPERTIES}
    quotes = depth = position = indent = 0
    leading = True
    for j, ch in enumerate(text):
        if ch == "\n":
            position = indent = 0
            leading = True
        else:
            position += 1
            leading = leading and ch == " "
            indent += leading
        quotes ^= ch == '"'
        depth = max(0, depth + (ch in "([{") - (ch in ")]}"))
        row = (quotes, depth > 0, position, indent, ch.isalpha(), ch == "\n")
        for name, value in zip(PROPERTIES, row, strict=True):
            out[name][j] = value
    return out


def token_properties(t: Trace) -> dict[str, np.ndarray]:
    """The `PROPERTIES` per token: at each token's last character (a word token's property
    is the text's as the word ends).

    Shape:
        Returns name -> (T,) float64.
    """
    chars = text_properties(t.text)
    last = np.array([end - 1 for _, end in t.spans], dtype=np.int64)  # (T,)
    return {name: values[last] for name, values in chars.items()}


def correlations(signal: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Pearson r of each column of `signal` with `values`; 0 where either is constant.

    Shape:
        signal: (T, H). values: (T,). Returns (H,).
    """
    a = signal.astype(np.float64) - signal.mean(axis=0, dtype=np.float64)  # (T, H)
    b = values.astype(np.float64) - values.mean()  # (T,)
    denom = np.sqrt((a * a).sum(axis=0) * (b @ b))  # (H,)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (b @ a) / denom
    return np.where(denom > 0, r, 0.0)


def readable_cells(t: Trace, top: int = 4) -> list[PropertyMatch]:
    """For each of `PROPERTIES`, the `top` cells (over all layers) whose activation
    (`LayerTrace.cells`) correlates most with it by |r|, best first."""
    if top < 1:
        raise ConfigError(f"top must be at least 1, got {top}")
    matches = []
    for name, values in token_properties(t).items():
        cells: list[ReadableCell] = []
        if values.std() > 0:
            r = np.stack([correlations(layer.cells, values) for layer in t.layers])  # (L, H)
            order = np.argsort(-np.abs(r), axis=None)[:top]
            for flat in order:
                layer, cell = np.unravel_index(flat, r.shape)
                cells.append(ReadableCell(int(layer), int(cell), float(r[layer, cell])))
        matches.append(PropertyMatch(name, PROPERTIES[name], cells))
    return matches


def gate_saturation(t: Trace, low: float = LOW, high: float = HIGH) -> list[GateSaturation]:
    """Per layer and sigmoid gate (`SIGMOID_GATES`), each unit's fraction of tokens below
    `low` (left-saturated) and above `high` (right-saturated); empty for a plain RNN."""
    out = []
    for k, layer in enumerate(t.layers):
        for gate in SIGMOID_GATES[t.kind]:
            acts = layer.gates[gate]  # (T, H)
            out.append(GateSaturation(k, gate, (acts < low).mean(0), (acts > high).mean(0)))
    return out
