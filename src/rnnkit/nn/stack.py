"""`StackBase`, the shared base of the scratch and fused multi-layer stacks, and the three kinds.

A stack is two independent choices:

- the *kind* (`RNNKind`, `GRUKind`, `LSTMKind`): gates per cell (`num_chunks`), state parts
  (`state_parts`: h, or h and c) and the one-step update `step` of `rnnkit.nn.cells`;
- the *implementation*, which overrides one function, `_layer`: run one layer and
  direction over the whole sequence. `RecurrentStack` (rnnkit.nn.recurrent) steps through
  time with `step`; `FusedRecurrent` (rnnkit.nn.fused) runs a hand-written autograd layer.

So `RNN(RNNKind, RecurrentStack)` and `FusedRNN(RNNKind, FusedRecurrent)`. Everything else
is here, once: the constructor arguments and their checks, the parameters (named, shaped,
registered and initialised as `torch.nn` does, so one seed gives the same weights and a
`state_dict` moves between them unchanged), `layer_weights`, `extra_repr`, the checks of
input and initial state, and the layers x directions loop with dropout between layers.

Variable length: a stack also takes a `PackedSequence`, as `torch.nn` does, and returns a
packed output and each sequence's state at its own last step. Inside, the padded batch
runs with the lengths: the forward direction carries the state unchanged past a
sequence's end (`_stepwise`) or takes it at the last real step (`last_steps`); the reverse
direction runs on each sequence's own steps reversed (`reverse_padded`), so it starts at
the sequence's last real step. Outputs, states and gradients equal torch's on the same
packed input (tests/nn/test_packed.py).

Errors follow `torch.nn`: `ValueError` for bad constructor arguments or an input of the
wrong rank, `RuntimeError` for sizes that do not fit at forward time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnnkit.nn.cells import activation_for, check_sizes, gru_step, lstm_step, rnn_step
from rnnkit.nn.state import State, from_parts, parts

LayerState = tuple[Tensor | None, ...]
"""The initial state of one layer and direction: parts (B, H), None meaning zeros."""


def check_stack_args(num_layers: int, dropout: float) -> None:
    """Refuse a layer count or dropout a stack cannot have (ValueError, as torch.nn)."""
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def time_major_dropout(x: Tensor, p: float, tdim: int) -> Tensor:
    """Dropout between layers, drawing the mask in torch's time-major order.

    `torch.nn` draws its mask over a time-major (T, B, F) tensor; drawing ours the same way
    gives the same mask under the same seed, whatever the layout.

    Shape:
        x: (B, T, F) if tdim == 1 else (T, B, F). Returns the same.
    """
    if tdim == 0:
        return F.dropout(x, p, training=True)
    mask = x.new_empty(x.shape[1], x.shape[0], x.shape[2]).bernoulli_(1.0 - p)  # (T, B, F)
    return x * mask.transpose(0, 1) / (1.0 - p)  # (B, T, F)


def reverse_padded(x: Tensor, lengths: Tensor, tdim: int) -> Tensor:
    """Each sequence's first `L_b` steps in reverse order, its padding left where it is.

    Its own inverse. Token ids (no feature dimension) work too.

    Shape:
        x: (B, T, ...) if tdim == 1 else (T, B, ...). lengths: (B,) on x's device.
        Returns the shape of x.
    """
    steps = x.shape[tdim]
    t = torch.arange(steps, device=x.device)[None, :]  # (1, T)
    ends = lengths[:, None]  # (B, 1)
    index = torch.where(t < ends, ends - 1 - t, t)  # (B, T)
    if tdim == 0:
        index = index.t()  # (T, B)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(tdim, index)


def _direction_order(x: Tensor, lengths: Tensor | None, direction: int, tdim: int) -> Tensor:
    """With lengths, the reverse direction's input: each sequence reversed on its own steps
    (and back again for its output); anything else as it is."""
    return x if lengths is None or direction == 0 else reverse_padded(x, lengths, tdim)


def last_steps(x: Tensor, lengths: Tensor, tdim: int) -> Tensor:
    """Each sequence's value at its last real step `L_b - 1`.

    Shape:
        x: (B, T, H) if tdim == 1 else (T, B, H). lengths: (B,) on x's device.
        Returns (B, H).
    """
    rows = torch.arange(x.shape[1 - tdim], device=x.device)  # (B,)
    return x[rows, lengths - 1] if tdim == 1 else x[lengths - 1, rows]


def repack(output: Tensor, like: PackedSequence, batch_first: bool) -> PackedSequence:
    """A padded output packed as `like` is: the same batch sizes and sorting.

    Shape:
        output: (B, T, F) if batch_first else (T, B, F), in the caller's batch order.
        Returns a PackedSequence whose data is (sum L_b, F).
    """
    time_major = output.transpose(0, 1) if batch_first else output  # (T, B, F)
    if like.sorted_indices is not None:
        time_major = time_major.index_select(1, like.sorted_indices)  # longest first
    sizes = like.batch_sizes.tolist()
    data = torch.cat([time_major[t, :size] for t, size in enumerate(sizes)])  # (sum L, F)
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class StackBase(nn.Module):
    """Layers x directions of one cell kind: the parameters, the checks and the loop.

    The parameters of layer `l`, direction `d` are named as torch names them
    (`weight_ih_l0`, ..., `bias_hh_l1_reverse`) and returned by `layer_weights(l, d)`.

    Args:
        input_size: features per step, I (the vocabulary size for token-id input).
        hidden_size: state size, H.
        num_layers: stacked layers, L.
        bias: whether to add `b_ih` and `b_hh`.
        batch_first: (B, T, ...) tensors instead of (T, B, ...).
        dropout: dropout on the outputs of every layer but the last, in training only.
        bidirectional: add a reverse direction (D = 2).
        device: where the parameters live.
        dtype: the parameters' dtype.

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; floats, or token ids in [0, I)
        without the last dimension; or unbatched (T, I) floats. hx: h, or (h, c) for an
        LSTM, each (D*L, B, H), zeros when omitted. Returns output (T, B, D*H) (or
        (B, T, D*H)) and the final state shaped like hx.
    """

    mode: str = "rnn"
    num_chunks: int = 1
    state_parts: int = 1
    bias_optional: bool = True

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
        check_stack_args(num_layers, dropout)
        if not bias and not self.bias_optional:
            raise ValueError(
                f"{type(self).__name__} always has biases; for bias=False use impl='torch' "
                "or impl='scratch'"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        gates = self.num_chunks * hidden_size
        self._weight_names: list[list[tuple[str, ...]]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            shapes: list[tuple[int, ...]] = [(gates, layer_input), (gates, hidden_size)]
            shapes += [(gates,), (gates,)] if bias else []
            names_per_direction = []
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = tuple(
                    name + suffix for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                )
                # Registered in torch's order, so one seed gives both the same weights.
                for name, shape in zip(names, shapes, strict=False):
                    param = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
                    self.register_parameter(name, param)
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
        """`(weight_ih, weight_hh, bias_ih, bias_hh)` of one layer and direction.

        Shape:
            (G*H, I or D*H), (G*H, H), and (G*H,) each or None without bias.
        """
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

    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        if not isinstance(input, PackedSequence):
            return self._forward(input, hx, None)
        padded, lengths = pad_packed_sequence(input, batch_first=self.batch_first)
        output, state = self._forward(padded, hx, lengths.to(padded.device))
        return repack(output, input, self.batch_first), state

    def forward_padded(
        self, input: Tensor, lengths: Tensor, hx: State | None = None
    ) -> tuple[Tensor, State]:
        """A padded batch of sequences of `lengths` steps, without packing: the outputs
        (zeros past each sequence's end) and each sequence's state at its own ends.

        Shape:
            input: (B, T, I) floats or (B, T) ids ((T, B, ...) without batch_first).
            lengths: (B,) in [1, T]. Returns output (B, T, D*H) and the state, each part
            (D*L, B, H).
        """
        tdim = int(self.batch_first)
        lengths = lengths.to(input.device)
        output, state = self._forward(input, hx, lengths)
        live = torch.arange(output.shape[tdim], device=output.device)[None, :] < lengths[:, None]
        live = live if tdim == 1 else live.t()  # (B, T) or (T, B)
        return output * live.unsqueeze(-1).to(output.dtype), state

    def _forward(
        self, input: Tensor, hx: State | None, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        """`forward` on a tensor; with `lengths` (B,), each sequence stops at its own end
        (outputs past it are left unspecified)."""
        ids = not input.is_floating_point()
        unbatched = not ids and input.dim() == 2
        if input.dim() != (2 if ids else 3) and not unbatched:
            raise ValueError(
                f"{type(self).__name__} expects (B, T, {self.input_size}) floats or (B, T) "
                f"token ids, got {input.dtype} of shape {tuple(input.shape)}"
            )
        tdim = self._time_dim()  # the layers work with time on dimension tdim
        layout_changes = tdim != int(self.batch_first)
        if unbatched:
            x = input.unsqueeze(1 - tdim)  # (1, T, I) or (T, 1, I)
        else:
            x = input.transpose(0, 1) if layout_changes else input  # (B, T, ...) or (T, B, ...)
        steps, batch = x.shape[tdim], x.shape[1 - tdim]
        if steps == 0:
            raise RuntimeError(
                f"{type(self).__name__} got an empty sequence (T = 0), input of shape "
                f"{tuple(input.shape)}"
            )
        x = self._check_input(x, ids)
        initial = self._initial_state(hx, batch, unbatched)  # parts (D*L, B, H) or None
        if lengths is not None and bool((lengths == steps).all()):
            lengths = None  # no padding: the plain path

        finals: list[tuple[Tensor, ...]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state = tuple(None if part is None else part[k] for part in initial)
                seq = _direction_order(layer_input, lengths, direction, tdim)
                index = (layer, direction)
                out, final = self._layer(seq, state, index, ids and layer == 0, lengths)
                outputs.append(_direction_order(out, lengths, direction, tdim))
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = self._dropout(layer_input, tdim)  # (.., D*H)

        output = layer_input  # (.., D*H)
        final_parts = [torch.stack([f[j] for f in finals]) for j in range(self.state_parts)]
        if unbatched:
            output = output.squeeze(1 - tdim)  # (T, D*H)
            final_parts = [p.squeeze(1) for p in final_parts]  # (D*L, H)
        elif layout_changes:
            output = output.transpose(0, 1)
        return output, from_parts(final_parts)  # parts (D*L, B, H)

    def _layer(
        self,
        x: Tensor,
        state: LayerState,
        index: tuple[int, int],
        ids: bool,
        lengths: Tensor | None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Run layer `index = (layer, direction)` over `x`; the one function an
        implementation overrides.

        Without `lengths`, the reverse direction runs backwards in time. With `lengths`
        (B,), every direction runs forwards (the caller has reversed each sequence for the
        reverse one) and the final state is each sequence's at its step `L_b - 1`.

        Shape:
            x: (B, T, I) floats or (B, T) ids with time on dimension `_time_dim()`
            ((T, B, ...) when it is 0). state parts: (B, H) or None (zeros). Returns the
            outputs (.., H) in the layout of x, in time order for either direction, and the
            final state parts, (B, H) each.
        """
        raise NotImplementedError

    def _stepwise(
        self,
        x: Tensor,
        state: LayerState,
        index: tuple[int, int],
        ids: bool,
        tdim: int,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """`_layer` by `step` through time: the input projection of all steps at once, then
        one `step` per time step (backwards for the reverse direction without `lengths`;
        with them, a sequence's state stays as it is past its end).

        Shape:
            as `_layer`, with time on dimension `tdim`.
        """
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(*index)
        if ids:
            # one_hot(x) @ W_ih^T is row x of W_ih^T: a lookup, no one-hot tensor.
            gi = F.embedding(x, w_ih.t())  # (.., G*H)
            if b_ih is not None:
                gi = gi + b_ih
        else:
            gi = F.linear(x, w_ih, b_ih)  # (.., G*H)
        batch = gi.shape[1 - tdim]
        zeros = torch.zeros(batch, self.hidden_size, dtype=w_hh.dtype, device=gi.device)
        parts_t = tuple(zeros if part is None else part for part in state)  # (B, H) each
        steps = gi.shape[tdim]
        hs: list[Tensor] = [gi] * steps  # placeholders, each overwritten below
        live = None
        if lengths is not None:
            live = torch.arange(steps, device=gi.device)[:, None, None] < lengths[:, None]
        for t in reversed(range(steps)) if index[1] == 1 and live is None else range(steps):
            new = self.step(gi.select(tdim, t), parts_t, w_hh, b_hh)
            if live is not None:  # (T, B, 1): past its end a sequence keeps its state
                new = tuple(torch.where(live[t], n, p) for n, p in zip(new, parts_t, strict=True))
            parts_t = new
            hs[t] = parts_t[0]
        return torch.stack(hs, tdim), parts_t  # (.., H)

    def _time_dim(self) -> int:
        """Where time is for the layers: the caller's layout (1 if batch_first, else 0)."""
        return 1 if self.batch_first else 0

    def _check_input(self, x: Tensor, ids: bool) -> Tensor:
        """Refuse float input of the wrong width; returns the input the first layer reads."""
        if not ids and x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{type(self).__name__} expects {self.input_size} input features, "
                f"got {x.shape[-1]}; pass input_size={x.shape[-1]} or reshape the input"
            )
        return x

    def _dropout(self, x: Tensor, tdim: int) -> Tensor:
        """Dropout between layers (training only), with torch's mask under one seed."""
        return time_major_dropout(x, self.dropout, tdim)

    def _initial_state(self, hx: State | None, batch: int, unbatched: bool) -> LayerState:
        """The initial state as a tuple of parts, each (D*L, B, H), or Nones for zeros."""
        if hx is None:
            return (None,) * self.state_parts
        given = parts(hx)
        if len(given) != self.state_parts:
            raise RuntimeError(
                f"{type(self).__name__} expects a state of {self.state_parts} tensor(s), "
                f"got {len(given)}; an LSTM takes (h, c), the others take h"
            )
        if unbatched:
            given = tuple(p.unsqueeze(1) for p in given)  # (D*L, 1, H)
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        for part in given:
            if tuple(part.shape) != shape:
                raise RuntimeError(
                    f"{type(self).__name__} expects an initial state of shape {shape} "
                    f"(D*L, B, H), got {tuple(part.shape)}"
                )
        return given


# ---------------------------------------------------------------------------------------
# the kinds
# ---------------------------------------------------------------------------------------


class RNNKind(StackBase):
    """The Elman kind: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`, act = tanh or relu.

    Adds torch's `nonlinearity` argument, fourth as in `torch.nn.RNN`.
    """

    mode = "rnn"
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


class GRUKind(StackBase):
    """The GRU kind, gate order r, z, n (see `rnnkit.nn.cells.GRUCell`)."""

    mode = "gru"
    num_chunks = 3
    state_parts = 1

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        return (gru_step(gi, state[0], weight_hh, bias_hh),)


class LSTMKind(StackBase):
    """The LSTM kind, gate order i, f, g, o, state (h, c) (see `rnnkit.nn.cells.LSTMCell`)."""

    mode = "lstm"
    num_chunks = 4
    state_parts = 2

    def step(
        self, gi: Tensor, state: tuple[Tensor, ...], weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[Tensor, ...]:
        return lstm_step(gi, state[0], state[1], weight_hh, bias_hh)
