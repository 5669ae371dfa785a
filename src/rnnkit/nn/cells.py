"""Scratch recurrent cells written from their update equations: `RNNCell`, `GRUCell`, `LSTMCell`.

Each cell is a drop-in twin of its `torch.nn` namesake: the same constructor arguments, the
same parameters (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`) with the same shapes, gate
order (GRU r, z, n; LSTM i, f, g, o) and initialisation (uniform in +-1/sqrt(H), drawn in
the same order, so one seed gives both the same weights), so a `state_dict` moves between
them unchanged.

The one-step updates (`rnn_step`, `gru_step`, `lstm_step`) take the input projection
`W_ih x + b_ih` already computed: a cell computes it for one step, while the stacks in
`rnnkit.nn.recurrent` compute it for a whole sequence at once (or look it up, for token ids)
and then run the very same step function through time. The gated steps are built from
`gru_gates` and `lstm_gates` (+ `lstm_update`), which return the activated gates in the open:
`rnnkit.lm.inspect` reads a trained model's gates through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn.state import State, parts

Activation = Callable[[Tensor], Tensor]

NONLINEARITIES: dict[str, Activation] = {"tanh": torch.tanh, "relu": torch.relu}
"""The activations of an Elman RNN by name, for the scratch and the fused cores alike."""


def activation_for(nonlinearity: str) -> Activation:
    """The activation function called `nonlinearity` ("tanh" or "relu"); ValueError if unknown."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(NONLINEARITIES)}"
        )
    return NONLINEARITIES[nonlinearity]


def rnn_step(
    gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, activation: Activation
) -> Tensor:
    """One Elman step: `h' = act(gi + W_hh h + b_hh)`, where `gi = W_ih x + b_ih`.

    Shape:
        gi: (B, H). h: (B, H). weight_hh: (H, H). Returns h': (B, H).
    """
    return activation(gi + F.linear(h, weight_hh, bias_hh))


def gru_step(gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One GRU step (gate order r, z, n); `gi = W_ih x + b_ih` stacks the three input parts.

    Shape:
        gi: (B, 3H). h: (B, H). weight_hh: (3H, H). Returns h': (B, H).
    """
    _, z, n = gru_gates(gi, h, weight_hh, bias_hh)
    return (1 - z) * n + z * h


def gru_gates(
    gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """The gates of one GRU step, activated: reset r and update z (sigmoid), candidate n
    (tanh); `gru_step` is `(1 - z) * n + z * h` of these.

    Shape:
        gi: (B, 3H). h: (B, H). weight_hh: (3H, H). Returns r, z, n: (B, H) each.
    """
    gh = F.linear(h, weight_hh, bias_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = gh.chunk(3, dim=-1)  # (B, H) each
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return r, z, n


def lstm_step(
    gi: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One LSTM step (gate order i, f, g, o); `gi = W_ih x + b_ih` stacks the four input parts.

    Shape:
        gi: (B, 4H). h, c: (B, H). weight_hh: (4H, H). Returns (h', c'): (B, H) each.
    """
    return lstm_update(lstm_gates(gi, h, weight_hh, bias_hh), c)


def lstm_gates(
    gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The gates of one LSTM step, activated: input i, forget f, output o (sigmoid) and the
    candidate g (tanh), in that stacking order i, f, g, o.

    Shape:
        gi: (B, 4H). h: (B, H). weight_hh: (4H, H). Returns i, f, g, o: (B, H) each.
    """
    gates = gi + F.linear(h, weight_hh, bias_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)  # (B, H) each
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_update(gates: tuple[Tensor, Tensor, Tensor, Tensor], c: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM state update from activated gates (i, f, g, o): `c' = f c + i g`,
    `h' = o tanh(c')`.

    Shape:
        gates: four (B, H). c: (B, H). Returns (h', c'): (B, H) each.
    """
    i, f, g, o = gates
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


def check_sizes(input_size: int, hidden_size: int) -> None:
    """Refuse sizes a recurrent layer cannot have (ValueError, as torch.nn's stacks)."""
    if input_size <= 0 or hidden_size <= 0:
        raise ValueError(
            f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
        )


class _CellBase(nn.Module):
    """Parameters, initialisation and unbatched-input handling shared by the three cells."""

    num_chunks: int = 1
    state_parts: int = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = self.num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, device=device, dtype=dtype))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, device=device, dtype=dtype))
            self.bias_hh = nn.Parameter(torch.empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, in torch's order."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        return extra if self.bias else extra + ", bias=False"

    def _batched(self, x: Tensor, hx: State | None) -> tuple[Tensor, tuple[Tensor, ...], bool]:
        """The input and state parts with a batch dimension, zeros for a missing state, and
        whether the input was unbatched (torch's cells accept both).

        Raises what torch's cells raise: ValueError for an input that is not 1-D or 2-D,
        RuntimeError for sizes that do not fit.

        Shape:
            x: (B, I) or (I,). hx: h or (h, c), each (B, H) or (H,), or None.
            Returns x (B, I), the state parts (B, H) each, and the flag.
        """
        name = type(self).__name__
        if x.dim() not in (1, 2):
            raise ValueError(
                f"{name} expects input (B, {self.input_size}) or ({self.input_size},), got "
                f"shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name} expects {self.input_size} input features, got {x.shape[-1]}"
            )
        unbatched = x.dim() == 1
        x = x.unsqueeze(0) if unbatched else x  # (B, I)
        count = self.state_parts
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)  # (B, H)
            return x, (zeros,) * count, unbatched
        given = parts(hx)
        given = tuple(part.unsqueeze(0) for part in given) if unbatched else given
        shape = (x.shape[0], self.hidden_size)
        if len(given) != count or any(tuple(part.shape) != shape for part in given):
            raise RuntimeError(
                f"{name} expects a state of {count} tensor(s) of shape {shape} (B, H) for an "
                f"input of shape {tuple(x.shape)}, got {[tuple(p.shape) for p in given]}"
            )
        return x, given, unbatched


class RNNCell(_CellBase):
    """Elman cell: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`, act = tanh or relu.

    Args:
        input_size: features per step, I.
        hidden_size: state size, H.
        bias: whether to add `b_ih` and `b_hh`.
        nonlinearity: "tanh" or "relu".

    Shape:
        input: (B, I) or (I,). hx: (B, H) or (H,), zeros when omitted. Returns h': (B, H) or (H,).
    """

    num_chunks = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.nonlinearity = nonlinearity
        self._activation = activation_for(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._batched(input, hx)  # (B, I), (B, H)
        gi = F.linear(x, self.weight_ih, self.bias_ih)  # (B, H)
        h = rnn_step(gi, h, self.weight_hh, self.bias_hh, self._activation)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.nonlinearity == "tanh" else extra + ", nonlinearity='relu'"


class GRUCell(_CellBase):
    """Gated recurrent unit, gate order r, z, n as in torch:

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Args:
        input_size: features per step, I.
        hidden_size: state size, H.
        bias: whether to add `b_ih` and `b_hh`.

    Shape:
        input: (B, I) or (I,). hx: (B, H) or (H,), zeros when omitted. Returns h': (B, H) or (H,).
    """

    num_chunks = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._batched(input, hx)  # (B, I), (B, H)
        gi = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 3H)
        h = gru_step(gi, h, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """Long short-term memory cell, gate order i, f, g, o as in torch:

        i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f  = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o  = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')

    Args:
        input_size: features per step, I.
        hidden_size: state size, H.
        bias: whether to add `b_ih` and `b_hh`.

    Shape:
        input: (B, I) or (I,). hx: a pair (h, c), each (B, H) or (H,), zeros when omitted.
        Returns (h', c'), each (B, H) or (H,).
    """

    num_chunks = 4
    state_parts = 2

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._batched(input, hx)  # (B, I), (B, H) each
        gi = F.linear(x, self.weight_ih, self.bias_ih)  # (B, 4H)
        h, c = lstm_step(gi, h, c, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)
