"""Multi-layer recurrent stacks (`RNN`, `GRU`, `LSTM`) over the scratch cells, and `build_rnn`.

The scratch stacks are drop-in twins of `torch.nn.RNN/GRU/LSTM`: the same constructor
arguments and defaults (`batch_first=False`), the same parameter names (`weight_ih_l0`,
`weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, with `_reverse` for the backward direction),
shapes, gate order and initialisation, and the same outputs and states.

`build_rnn(kind, impl)` is the one way rnnkit makes a recurrent core. Every core it returns
follows one interface (invariant 1 of docs/ARCHITECTURE.md)::

    output, state = core(x, state=None)
    x:      (B, T, I) floats, or (B, T) token ids in [0, I) meaning one-hot rows of width I
    output: (B, T, D*H)
    state:  h, or (h, c) for an LSTM, each (D*L, B, H)

and, for a padded batch of variable lengths, `core.forward_padded(x, lengths (B,), state)`
(outputs zero past each end, the state at each sequence's own ends); every core also takes
a `PackedSequence` as `torch.nn` does.

Token ids in, not one-hot vectors: the `torch` cores build a real one-hot tensor and hand it to
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
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.config.fields import Kind
from rnnkit.errors import ConfigError
from rnnkit.nn.cells import check_sizes
from rnnkit.nn.stack import GRUKind, LayerState, LSTMKind, RNNKind, StackBase, check_stack_args
from rnnkit.nn.state import State


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


class _TokenIdsInput(nn.Module):
    """What the three `torch.nn` cores add: token ids in, turned into a real one-hot input.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major when `batch_first=False`), or a
            `PackedSequence` of floats, passed to torch as it is (output packed too).
        hx: h, or (h, c) for an LSTM. Returns output (B, T, D*H) and the final state,
        each part (D*L, B, H).
    """

    input_size: int
    batch_first: bool
    weight_ih_l0: Tensor

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        if isinstance(input, PackedSequence):  # packed floats go to torch as they are
            return super().forward(input, hx)
        x = one_hot_input(input, self.input_size, self.weight_ih_l0.dtype)  # (B, T, I)
        return super().forward(x, hx)

    def forward_padded(
        self, input: Tensor, lengths: Tensor, hx: State | None = None
    ) -> tuple[Tensor, State]:
        """A padded batch of sequences of `lengths` steps (packed for torch inside): the
        outputs (zeros past each end) and each sequence's state at its own ends.

        Shape:
            input: (B, T, I) floats ((T, B, I) without batch_first). lengths: (B,).
            Returns output (B, T, D*H) and the state, each part (D*L, B, H).
        """
        steps = input.shape[int(self.batch_first)]
        lengths_cpu = lengths.detach().to("cpu", torch.int64)
        packed = pack_padded_sequence(
            input, lengths_cpu, batch_first=self.batch_first, enforce_sorted=False
        )
        out, state = self.forward(packed, hx)  # type: ignore[arg-type]
        padded, _ = pad_packed_sequence(out, self.batch_first, total_length=steps)  # type: ignore[arg-type]
        return padded, state


# The mixin's forward takes token ids or floats and an `rnnkit` State where torch's overloads
# take a Tensor or PackedSequence: a deliberate narrowing, hence the [misc] ignores below.
class TorchRNN(_TokenIdsInput, nn.RNN):  # type: ignore[misc]
    """`torch.nn.RNN` that also accepts token ids (see `_TokenIdsInput`)."""


class TorchGRU(_TokenIdsInput, nn.GRU):  # type: ignore[misc]
    """`torch.nn.GRU` that also accepts token ids (see `_TokenIdsInput`)."""


class TorchLSTM(_TokenIdsInput, nn.LSTM):  # type: ignore[misc]
    """`torch.nn.LSTM` that also accepts token ids (see `_TokenIdsInput`)."""


# ---------------------------------------------------------------------------------------
# scratch stacks
# ---------------------------------------------------------------------------------------


class RecurrentStack(StackBase):
    """The scratch implementation: each layer runs its kind's `step` through time.

    The parameters, checks and the layers x directions loop are `StackBase`'s; the kind
    (`RNNKind`, `GRUKind`, `LSTMKind`) gives `step`. The layers work batch-first whatever
    the caller's layout.

    Shape:
        input: (B, T, I) if batch_first else (T, B, I); floats, or token ids without the
        last dimension; or unbatched (T, I). hx: (D*L, B, H) (a pair for LSTM), zeros when
        omitted. Returns output (B, T, D*H) (time-major unless batch_first) and the final
        state, shaped like hx.
    """

    def _layer(
        self,
        x: Tensor,
        state: LayerState,
        index: tuple[int, int],
        ids: bool,
        lengths: Tensor | None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        return self._stepwise(x, state, index, ids, 1, lengths)

    def _time_dim(self) -> int:
        return 1

    def _dropout(self, x: Tensor, tdim: int) -> Tensor:
        # The mask is drawn over the batch-first tensor (not in torch's time-major order),
        # as it always was here, so that seeded scratch runs stay the same.
        return F.dropout(x, self.dropout, training=True)


class RNN(RNNKind, RecurrentStack):
    """Multi-layer Elman RNN, the scratch twin of `torch.nn.RNN`.

    Each layer and direction runs `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`,
    act = tanh or relu; layer l > 0 reads the (dropped-out, in training) outputs of layer
    l - 1, both directions concatenated.

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and h_n (D*L, B, H).
    """


class GRU(GRUKind, RecurrentStack):
    """Multi-layer GRU, the scratch twin of `torch.nn.GRU` (gate order r, z, n; see `GRUCell`).

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and h_n (D*L, B, H).
    """


class LSTM(LSTMKind, RecurrentStack):
    """Multi-layer LSTM, the scratch twin of `torch.nn.LSTM` (gate order i, f, g, o; see
    `LSTMCell`). No `proj_size`.

    Shape:
        input: (T, B, I), or (B, T, I) if batch_first; (T, B) / (B, T) token ids also work.
        hx: (h_0, c_0), each (D*L, B, H). Returns output (T, B, D*H) or (B, T, D*H), and
        (h_n, c_n), each (D*L, B, H).
    """


# ---------------------------------------------------------------------------------------
# the registry and build_rnn
# ---------------------------------------------------------------------------------------

CoreFactory = Callable[..., nn.Module]

KINDS: tuple[Kind, ...] = ("rnn", "gru", "lstm")

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
    impl: str = "torch",
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
        raise ConfigError(f"unknown impl {impl!r}; choose one of {sorted(IMPLS)}")
    cores = IMPLS[impl]
    if kind not in cores:
        raise ConfigError(f"unknown kind {kind!r} for impl {impl!r}; choose one of {sorted(cores)}")
    try:  # the stacks' own checks, here for every impl (torch's differ) and as RnnkitError
        check_sizes(input_size, hidden_size)
        check_stack_args(num_layers, dropout)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cores[kind](
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        dropout=dropout,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )
