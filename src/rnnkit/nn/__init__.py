"""Recurrent cores: scratch cells, multi-layer stacks and `build_rnn`."""

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.nn.recurrent import (
    GRU,
    IMPLS,
    KINDS,
    LSTM,
    RNN,
    RecurrentStack,
    TorchGRU,
    TorchLSTM,
    TorchRNN,
    available_impls,
    build_rnn,
)

__all__ = [
    "GRU",
    "IMPLS",
    "KINDS",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RecurrentStack",
    "TorchGRU",
    "TorchLSTM",
    "TorchRNN",
    "available_impls",
    "build_rnn",
]
