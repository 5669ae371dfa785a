"""Multi-layer recurrent stacks (`RNN`, `GRU`, `LSTM`) over the scratch cells, and `build_rnn`.

The scratch stacks are drop-in twins of `torch.nn.RNN/GRU/LSTM`: the same constructor
arguments and defaults (`batch_first=False`), the same parameter names (`weight_ih_l0`,
`weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, with `_reverse` for the backward direction),
shapes, gate order and initialisation, and the same outputs and states.

`build_rnn(kind, impl)` is the one way rnnkit makes a recurrent core. Every core it returns
follows one interface (contract 1 of the architecture note)::

    output, state = core(x, state=None)
    x:      (B, T, I) floats, or (B, T) token ids in [0, I) meaning one-hot rows of width I
    output: (B, T, D*H)
    state:  h, or (h, c) for an LSTM, each (D*L, B, H)

Token ids (contract 4): the `torch` cores build a real one-hot tensor and hand it to
`torch.nn`, as d2l does; the scratch cores skip the multiplication by a one-hot matrix and
look up the columns of `W_ih` directly. Both give the same numbers.

Implementations are registered in `IMPLS`, a dict `impl -> {kind -> factory}`; a factory is
called with the keywords `input_size, hidden_size, num_layers, dropout, bidirectional,
batch_first`. `rnnkit.nn.fused` adds its own entry (`IMPLS["fused"] = {...}`) when imported;
`build_rnn` imports it on first use of `impl="fused"`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.nn.cells import activation_for, check_sizes, gru_step, lstm_step, rnn_step

State = Tensor | tuple[Tensor, Tensor]
Kind = Literal["rnn", "gru", "lstm"]
Impl = Literal["torch", "scratch", "fused"]


def one_hot_input(x: Tensor, width: int, dtype: torch.dtype) -> Tensor:
    """Token ids `(B, T)` as a real one-hot float tensor `(B, T, width)`; floats pass through.

    Shape:
        x: (B, T) integers in [0, width), or (B, T, width) floats. Returns (B, T, width).
    """
    if x.is_floating_point():
        return x
    return F.one_hot(x.long(), width).to(dtype)  # (B, T, I)


# ---------------------------------------------------------------------------------------
# torch.nn cores that also take token ids
# ---------------------------------------------------------------------------------------


class TorchRNN(nn.RNN):
    """`torch.nn.RNN` that also accepts token ids, turned into a real one-hot input.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major when `batch_first=False`).
        Returns output (B, T, D*H) and h (D*L, B, H).
    """

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        x = one_hot_input(input, self.input_size, self.weight_ih_l0.dtype)  # (B, T, I)
        return super().forward(x, hx)


class TorchGRU(nn.GRU):
    """`torch.nn.GRU` that also accepts token ids, turned into a real one-hot input.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major when `batch_first=False`).
        Returns output (B, T, D*H) and h (D*L, B, H).
    """

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        x = one_hot_input(input, self.input_size, self.weight_ih_l0.dtype)  # (B, T, I)
        return super().forward(x, hx)


class TorchLSTM(nn.LSTM):
    """`torch.nn.LSTM` that also accepts token ids, turned into a real one-hot input.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major when `batch_first=False`).
        Returns output (B, T, D*H) and (h, c), each (D*L, B, H).
    """

    def forward(  # type: ignore[override]
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x = one_hot_input(input, self.input_size, self.weight_ih_l0.dtype)  # (B, T, I)
        return super().forward(x, hx)


# ---------------------------------------------------------------------------------------
# scratch stacks
# ---------------------------------------------------------------------------------------


class RecurrentStack(nn.Module):
    """Layers x directions of one cell type, run step by step; the base of RNN, GRU and LSTM.

    Subclasses set `num_chunks` (gates per cell) and `state_parts` (1 for h, 2 for h and c)
    and implement `step`. The parameters of layer `l`, direction `d` are named as torch
    names them and returned by `layer_weights(l, d)`.

    Shape:
        input: (B, T, I) if batch_first else (T, B, I); floats, or token ids without the
        last dimension; or unbatched (T, I). hx: (D*L, B, H) (a pair for LSTM), zeros when
        omitted. Returns output (B, T, D*H) (time-major unless batch_first) and the final
        state, shaped like hx.
    """

    num_chunks: int = 1
    state_parts: int = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        if num_layers < 1:
            raise RnnkitError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        gates = self.num_chunks * hidden_size
        self._weight_names: list[list[tuple[str, str, str, str]]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            names_per_direction = []
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = (
                    f"weight_ih{suffix}",
                    f"weight_hh{suffix}",
                    f"bias_ih{suffix}",
                    f"bias_hh{suffix}",
                )
                # Registered in torch's order, so one seed gives both the same weights.
                self.register_parameter(
                    names[0], nn.Parameter(torch.empty(gates, layer_input, **factory))
                )
                self.register_parameter(
                    names[1], nn.Parameter(torch.empty(gates, hidden_size, **factory))
                )
                if bias:
                    self.register_parameter(names[2], nn.Parameter(torch.empty(gates, **factory)))
                    self.register_parameter(names[3], nn.Parameter(torch.empty(gates, **factory)))
                names_per_direction.append(names)
            self._weight_names.append(names_per_direction)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, in torch's order."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def layer_weights(
        self, layer: int, direction: int
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """`(weight_ih, weight_hh, bias_ih, bias_hh)` of one layer and direction."""
        w_ih, w_hh, b_ih, b_hh = self._weight_names[layer][direction]
        if not self.bias:
            return getattr(self, w_ih), getattr(self, w_hh), None, None
        return getattr(self, w_ih), getattr(self, w_hh), getattr(self, b_ih), getattr(self, b_hh)

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        """One time step from the input projection `gi (B, G*H)`; state parts are (B, H)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        defaults = {
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                extra += f", {name}={value}"
        return extra

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        ids = not input.is_floating_point()
        unbatched = not ids and input.dim() == 2
        if input.dim() != (2 if ids else 3) and not unbatched:
            raise RnnkitError(
                f"{type(self).__name__} expects (B, T, {self.input_size}) floats or (B, T) "
                f"token ids, got {input.dtype} of shape {tuple(input.shape)}"
            )
        if unbatched:
            x = input.unsqueeze(0)  # (1, T, I)
        else:
            x = input if self.batch_first else input.transpose(0, 1)  # (B, T, ...)
        batch, steps = x.shape[0], x.shape[1]
        if steps == 0:
            raise RnnkitError(f"{type(self).__name__} got an empty sequence (T = 0)")
        if not ids and x.shape[-1] != self.input_size:
            raise RnnkitError(
                f"{type(self).__name__} expects {self.input_size} input features, "
                f"got {x.shape[-1]}; pass input_size={x.shape[-1]} or reshape the input"
            )
        initial = self._initial_state(hx, x, batch, unbatched)  # parts (D*L, B, H)

        finals: list[tuple[Tensor, ...]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer, direction)
                if layer == 0 and ids:
                    # one_hot(x) @ W_ih^T is row x of W_ih^T: a lookup, no one-hot tensor.
                    gi = F.embedding(layer_input, w_ih.t())  # (B, T, G*H)
                    if b_ih is not None:
                        gi = gi + b_ih
                else:
                    gi = F.linear(layer_input, w_ih, b_ih)  # (B, T, G*H)
                k = layer * self.num_directions + direction
                state = tuple(part[k] for part in initial)  # (B, H) each
                out, state = self._scan(gi, state, w_hh, b_hh, reverse=direction == 1)
                outputs.append(out)
                finals.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, -1)  # (B, T, D*H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        output = layer_input  # (B, T, D*H)
        parts = [
            torch.stack([f[i] for f in finals]) for i in range(self.state_parts)
        ]  # (D*L, B, H)
        if unbatched:
            output, parts = output.squeeze(0), [p.squeeze(1) for p in parts]  # (T, D*H), (D*L, H)
        elif not self.batch_first:
            output = output.transpose(0, 1)  # (T, B, D*H)
        return output, (parts[0] if self.state_parts == 1 else (parts[0], parts[1]))

    def _scan(
        self,
        gi: Tensor,
        state: tuple[Tensor, ...],
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        reverse: bool,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Run `step` over the time axis of `gi (B, T, G*H)`; returns `(B, T, H)` and the state."""
        steps = gi.shape[1]
        hs: list[Tensor] = [gi] * steps  # placeholders, each overwritten below
        for t in reversed(range(steps)) if reverse else range(steps):
            state = self.step(gi[:, t], state, weight_hh, bias_hh)
            hs[t] = state[0]
        return torch.stack(hs, 1), state  # (B, T, H)

    def _initial_state(
        self, hx: State | None, x: Tensor, batch: int, unbatched: bool
    ) -> tuple[Tensor, ...]:
        """The initial state as a tuple of parts, each (D*L, B, H)."""
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            dtype = self.layer_weights(0, 0)[0].dtype
            zeros = torch.zeros(shape, dtype=dtype, device=x.device)
            return (zeros,) * self.state_parts
        parts = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(parts) != self.state_parts:
            raise RnnkitError(
                f"{type(self).__name__} expects a state of {self.state_parts} tensor(s), "
                f"got {len(parts)}; an LSTM takes (h, c), the others take h"
            )
        if unbatched:
            parts = tuple(p.unsqueeze(1) for p in parts)  # (D*L, 1, H)
        for part in parts:
            if tuple(part.shape) != shape:
                raise RnnkitError(
                    f"{type(self).__name__} expects an initial state of shape {shape} "
                    f"(D*L, B, H), got {tuple(part.shape)}"
                )
        return parts


class RNN(RecurrentStack):
    """Multi-layer Elman RNN, the scratch twin of `torch.nn.RNN`.

    Each layer and direction runs `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`,
    act = tanh or relu; layer l > 0 reads the (dropped-out, in training) outputs of layer
    l - 1, both directions concatenated.

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and h_n (D*L, B, H).
    """

    num_chunks = 1
    state_parts = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.nonlinearity = nonlinearity
        self._activation = activation_for(nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        return (rnn_step(gi, state[0], weight_hh, bias_hh, self._activation),)

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.nonlinearity == "tanh" else extra + ", nonlinearity='relu'"


class GRU(RecurrentStack):
    """Multi-layer GRU, the scratch twin of `torch.nn.GRU` (gate order r, z, n; see `GRUCell`).

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and h_n (D*L, B, H).
    """

    num_chunks = 3
    state_parts = 1

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        return (gru_step(gi, state[0], weight_hh, bias_hh),)


class LSTM(RecurrentStack):
    """Multi-layer LSTM, the scratch twin of `torch.nn.LSTM` (gate order i, f, g, o; see
    `LSTMCell`). No `proj_size`.

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (h_0, c_0), each (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and
        (h_n, c_n), each (D*L, B, H).
    """

    num_chunks = 4
    state_parts = 2

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        return lstm_step(gi, state[0], state[1], weight_hh, bias_hh)


# ---------------------------------------------------------------------------------------
# the registry and build_rnn
# ---------------------------------------------------------------------------------------

CoreFactory = Callable[..., nn.Module]

KINDS: tuple[str, ...] = ("rnn", "gru", "lstm")

IMPLS: dict[str, dict[str, CoreFactory]] = {
    "torch": {"rnn": TorchRNN, "gru": TorchGRU, "lstm": TorchLSTM},
    "scratch": {"rnn": RNN, "gru": GRU, "lstm": LSTM},
}

# Implementations in modules of their own, imported on first use; on import they add
# their entry to IMPLS.
_LAZY_IMPLS: dict[str, str] = {"fused": "rnnkit.nn.fused"}


def available_impls() -> list[str]:
    """Names of the registered implementations, importing the lazy ones that exist."""
    for name, module in _LAZY_IMPLS.items():
        if name not in IMPLS and importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return list(IMPLS)


def build_rnn(
    kind: Kind,
    impl: Impl = "torch",
    *,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    batch_first: bool = True,
) -> nn.Module:
    """A recurrent core of the given kind and implementation; all share one interface.

    Args:
        kind: "rnn" (tanh), "gru" or "lstm".
        impl: "torch" (`torch.nn` with one-hot for ids), "scratch" (this module), or any
            other registered in `IMPLS` ("fused").
        input_size: features per step, I (the vocabulary size for token-id input).
        hidden_size: state size, H.
        num_layers: stacked layers, L.
        dropout: dropout between layers, in training only.
        bidirectional: run a second, backward direction (D = 2).
        batch_first: (B, T, ...) tensors, as everything inside rnnkit uses.

    Shape:
        x: (B, T, I) floats, or (B, T) token ids in [0, I). state: h, or (h, c) for LSTM,
        each (D*L, B, H). Returns output (B, T, D*H) and the final state.
    """
    if impl not in IMPLS:
        available_impls()
    if impl not in IMPLS:
        raise RnnkitError(f"unknown impl {impl!r}; choose one of {sorted(IMPLS)}")
    cores = IMPLS[impl]
    if kind not in cores:
        raise RnnkitError(f"unknown kind {kind!r} for impl {impl!r}; choose one of {sorted(cores)}")
    if not 0.0 <= dropout < 1.0:
        raise RnnkitError(f"dropout must be in [0, 1), got {dropout}")
    check_sizes(input_size, hidden_size)
    if num_layers < 1:
        raise RnnkitError(f"num_layers must be at least 1, got {num_layers}")
    return cores[kind](
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        dropout=dropout,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )
