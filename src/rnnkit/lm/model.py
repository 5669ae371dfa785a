"""The recurrent language model: token ids -> input layer -> recurrent core -> dropout -> logits.

::

    tokens (B, T) -> Embedding (V -> E) ---> core (L layers) -> dropout -> Linear (H -> V)
                  +-- onehot: ids as is --+     (B, T, H)                  logits (B, T, V)
                                                             or -> AdaptiveHead (H -> V)
                                                                  log-probs (B, T, V)

The core comes from `build_rnn`, so the model never branches on the implementation. In
one-hot mode the core receives the token ids themselves: the torch core builds a real
one-hot tensor, exactly as d2l's `RNNModel`, and the scratch and fused cores look up the
columns of `W_ih`. The model returns logits and state, never a loss (the loss is computed in
one place, the training recipe).

The output layer is a linear softmax or an adaptive softmax (`rnnkit.lm.adaptive`), whose
forward call returns log-probabilities: logits whose softmax is the same distribution, so
generation and scoring treat both alike. Given `targets`, the model returns only the
log-probability of each target, which the adaptive softmax computes without the full
distribution (training and held-out scoring).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import ModelConfig
from rnnkit.config.fields import InputMode
from rnnkit.errors import ConfigError
from rnnkit.lm.adaptive import AdaptiveHead, choose_cutoffs, resolve_output
from rnnkit.nn.recurrent import KINDS, build_rnn
from rnnkit.nn.state import State

INPUT_MODES: tuple[str, ...] = ("embedding", "onehot")


def _check_model(
    vocab_size: int, kind: str, input_mode: str, rates: dict[str, float], bidirectional: bool
) -> None:
    """Refuse a bidirectional model, an unknown kind or input mode, an empty vocabulary and
    dropout rates (`rates`, by config key) outside [0, 1)."""
    if bidirectional:
        raise ConfigError(
            "a language model cannot be bidirectional: the backward direction reads the "
            "very tokens it must predict; use bidirectional cores for encoders or forecasting"
        )
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; choose one of {list(KINDS)}")
    if input_mode not in INPUT_MODES:
        raise ConfigError(f"unknown input_mode {input_mode!r}; choose one of {list(INPUT_MODES)}")
    if vocab_size < 1:
        raise ConfigError(f"vocab_size must be positive, got {vocab_size}")
    for name, p in rates.items():
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"model.{name} must be in [0, 1), got {p}")


def _embedding_dim(
    input_mode: str,
    embedding_dim: int,
    hidden_size: int,
    tie_weights: bool,
    embedding_dropout: float,
) -> int:
    """E, the embedding width (0 = hidden_size), once the input settings agree."""
    if embedding_dropout and input_mode == "onehot":
        raise ConfigError(
            "model.embedding_dropout drops rows of an embedding table; set it to 0 with "
            "input_mode='onehot'"
        )
    if embedding_dim < 0:
        raise ConfigError(
            f"embedding_dim must be 0 (= hidden_size) or positive, got {embedding_dim}"
        )
    if input_mode == "onehot" and tie_weights:
        raise ConfigError(
            "tie_weights needs an embedding table to share; use input_mode='embedding' "
            "or tie_weights=False"
        )
    if input_mode == "onehot" and embedding_dim:
        raise ConfigError(
            f"embedding_dim={embedding_dim} has no effect with input_mode='onehot' (the "
            "core reads one-hot rows of width vocab_size); set embedding_dim=0"
        )
    embedding_dim = embedding_dim or hidden_size
    if tie_weights and embedding_dim != hidden_size:
        raise ConfigError(
            f"tie_weights requires embedding_dim == hidden_size, got {embedding_dim} and "
            f"{hidden_size}; set embedding_dim=0 (= hidden_size) or tie_weights=False"
        )
    return embedding_dim


def _build_head(
    output: str, hidden_size: int, vocab_size: int, cutoffs: Sequence[int]
) -> nn.Linear | AdaptiveHead:
    """The output layer H -> V: `AdaptiveHead` for the adaptive output, else a linear one."""
    if output == "adaptive":
        cuts = list(cutoffs) or choose_cutoffs(None, vocab_size)
        return AdaptiveHead(hidden_size, vocab_size, cuts)
    return nn.Linear(hidden_size, vocab_size)


class RNNLM(nn.Module):
    """A word- or character-level recurrent language model.

    Args:
        vocab_size: V, the number of token ids.
        kind: "rnn" (tanh), "gru" or "lstm".
        hidden_size: H, the state size of each layer.
        num_layers: L, stacked recurrent layers.
        dropout: dropout on the embedding output, between recurrent layers and before the
            output layer (training only), a fresh mask per element and step.
        weight_drop: DropConnect on the hidden-to-hidden weights `weight_hh_l*` (one mask
            per batch, AWD-LSTM's weight drop).
        locked_dropout: variational dropout on the core's input and output: one mask per
            sequence, the same at every step (on top of `dropout`; between layers there is
            only `dropout`).
        embedding_dropout: drops whole rows of the embedding table (every occurrence of a
            dropped token in the batch).
        embedding_dim: E, the embedding width; 0 means E = H. Embedding mode only.
        input_mode: "embedding" (a learned table) or "onehot" (d2l's `RNNModel`: the core
            reads one-hot rows of width V).
        tie_weights: share the embedding table with the output layer (needs E == H).
        impl: the core's implementation, "torch", "scratch" or "fused".
        output: "softmax" (a linear layer), "adaptive" (`AdaptiveHead`) or "auto"
            (adaptive for V >= `ADAPTIVE_MIN_VOCAB`; the training recipe also asks for word
            level, see `resolve_output`).
        cutoffs: the adaptive clusters' first ids; empty = `choose_cutoffs` for Zipf counts
            (the recipe passes the ones chosen from the training counts).
        bidirectional: refused; present only to explain why.

    Shape:
        tokens: (B, T) ids in [0, V). state: h or (h, c), each (L, B, H), zeros when omitted.
        targets (optional): (B, T) ids.
        Returns logits (B, T, V) (log-probabilities for the adaptive output), or with
        `targets` the log-probability of each target (B, T); and the final state.
    """

    def __init__(
        self,
        vocab_size: int,
        kind: Literal["rnn", "gru", "lstm"] = "lstm",
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        embedding_dim: int = 0,
        input_mode: InputMode = "embedding",
        tie_weights: bool = False,
        impl: Literal["torch", "scratch", "fused"] = "torch",
        output: Literal["auto", "softmax", "adaptive"] = "softmax",
        cutoffs: Sequence[int] = (),
        weight_drop: float = 0.0,
        locked_dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        *,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        rates = {
            "dropout": dropout,
            "weight_drop": weight_drop,
            "locked_dropout": locked_dropout,
            "embedding_dropout": embedding_dropout,
        }
        _check_model(vocab_size, kind, input_mode, rates, bidirectional)
        embedding_dim = _embedding_dim(
            input_mode, embedding_dim, hidden_size, tie_weights, embedding_dropout
        )
        self.vocab_size = vocab_size
        self.kind = kind
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.input_mode = input_mode
        self.tie_weights = tie_weights
        self.impl = impl
        self.weight_drop = weight_drop
        self.locked_dropout = locked_dropout
        self.embedding_dropout = embedding_dropout

        if input_mode == "embedding":
            self.embedding: nn.Embedding | None = nn.Embedding(vocab_size, embedding_dim)
            core_input = embedding_dim
        else:
            self.embedding = None
            core_input = vocab_size
        self.core = build_rnn(
            kind,
            impl,
            input_size=core_input,
            hidden_size=hidden_size,
            num_layers=num_layers,
            # Dropout between layers only exists with two or more (torch warns otherwise).
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = resolve_output(output, "word", vocab_size)
        self.head: nn.Linear | AdaptiveHead = _build_head(
            self.output, hidden_size, vocab_size, cutoffs
        )
        if tie_weights:
            assert self.embedding is not None
            self.head.weight = self.embedding.weight

    @classmethod
    def from_config(cls, model_cfg: ModelConfig, vocab_size: int) -> RNNLM:
        """The model a `[model]` config table describes, for a vocabulary of `vocab_size`:
        the table's keys are this constructor's keyword arguments."""
        return cls(vocab_size, **dataclasses.asdict(model_cfg))

    @property
    def cutoffs(self) -> list[int]:
        """The adaptive clusters' first ids ([] for the softmax output)."""
        return list(self.head.cutoffs) if isinstance(self.head, AdaptiveHead) else []

    def forward(
        self, tokens: Tensor, state: State | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, State]:
        if tokens.dim() != 2 or tokens.is_floating_point():
            raise ConfigError(
                f"RNNLM expects token ids of shape (B, T), got {tokens.dtype} of shape "
                f"{tuple(tokens.shape)}; add a batch dimension with tokens.unsqueeze(0)"
            )
        # Dropout on every non-recurrent connection (Zaremba et al. 2014): the embedding
        # output, between layers (inside the core) and before the head; the AWD-LSTM
        # regularisers (Merity et al. 2017) on top, in training only.
        x = tokens if self.embedding is None else self.dropout(self._embed(tokens))  # (B, T, E)
        output, state = self._run_core(self._locked(x), state)  # (B, T, H)
        hidden = self._locked(self.dropout(output))  # (B, T, H)
        if isinstance(self.head, AdaptiveHead):
            flat = hidden.reshape(-1, hidden.size(-1))  # (B*T, H)
            if targets is not None:
                picked = self.head.target_log_probs(flat, targets.reshape(-1))  # (B*T,)
                return picked.view(targets.shape), state  # (B, T)
            return self.head.log_probs(flat).view(*hidden.shape[:-1], -1), state  # (B, T, V)
        logits = self.head(hidden)  # (B, T, V)
        if targets is not None:
            log_probs = logits.float().log_softmax(dim=-1)  # (B, T, V)
            return log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1), state  # (B, T)
        return logits, state

    def _embed(self, tokens: Tensor) -> Tensor:
        """The embedding rows of `tokens`; in training, `embedding_dropout` zeroes whole
        rows of the table (a dropped token is dropped everywhere in the batch) and scales
        the others by 1 / (1 - p).

        Shape:
            tokens: (B, T) ids. Returns (B, T, E).
        """
        assert self.embedding is not None
        weight = self.embedding.weight  # (V, E)
        p = self.embedding_dropout
        if self.training and p > 0:
            keep = torch.empty_like(weight[:, :1]).bernoulli_(1 - p) / (1 - p)  # (V, 1)
            weight = weight * keep
        return nn.functional.embedding(tokens, weight)

    def _locked(self, x: Tensor) -> Tensor:
        """Locked (variational) dropout: one mask per sequence, the same at every step.

        Shape:
            x: (B, T, D). Returns (B, T, D).
        """
        p = self.locked_dropout
        if not self.training or p == 0:
            return x
        mask = torch.empty_like(x[:, :1]).bernoulli_(1 - p) / (1 - p)  # (B, 1, D)
        return x * mask

    def _run_core(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        """The core; in training, `weight_drop` (DropConnect) runs it on copies of its
        hidden-to-hidden weights with one mask per batch, so the parameters, their names
        (`weight_hh_l0`) and the saved weights stay the core's own.

        Shape:
            x: (B, T, I). Returns (B, T, H) and the final state.
        """
        p = self.weight_drop
        if not self.training or p == 0:
            return self.core(x, state)
        dropped = {
            name: nn.functional.dropout(w, p, training=True)
            for name, w in self.core.named_parameters()
            if name.startswith("weight_hh")
        }
        return torch.func.functional_call(self.core, dropped, (x, state), strict=False)

    def begin_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """The zero state for `batch_size` sequences: h, or (h, c) for an LSTM.

        Shape:
            Returns h or (h, c), each (L, B, H), in the model's dtype.
        """
        weight = self.head.weight
        device = weight.device if device is None else device
        shape = (self.num_layers, batch_size, self.hidden_size)
        h = torch.zeros(shape, dtype=weight.dtype, device=device)  # (L, B, H)
        return (h, torch.zeros_like(h)) if self.kind == "lstm" else h


def training_loss(
    net: nn.Module, X: torch.Tensor, Y: torch.Tensor, state: State | None, bf16: bool
) -> tuple[torch.Tensor, State]:
    """Mean cross-entropy of one batch and the model's final state, the forward pass under
    bf16 autocast when `bf16` (train.precision; weights, gradients and optimizer stay float32).

    An adaptive output is asked for the targets' log-probabilities only (`targets=Y`), which
    it computes without the full distribution.

    Shape:
        X, Y: (B, T) token ids. state: h or (h, c), each (L, B, H), or None for zeros.
        Returns a 0-dim loss and the final state.
    """
    adaptive = getattr(getattr(net, "module", net), "output", "softmax") == "adaptive"
    with torch.autocast(X.device.type, torch.bfloat16, enabled=bf16):
        if adaptive:
            picked, state = net(X, state, targets=Y)  # (B, T)
            return -picked.mean(), state
        logits, state = net(X, state)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
    return loss, state
