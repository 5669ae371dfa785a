"""The sequence classifier: an embedding (tokens) or numeric channels, a recurrent core, a
pooling over time, dropout and a linear head. It returns logits, never the loss.

    tokens (B, T) -> embedding (B, T, E) ─┐
    values (B, T, C) -> patches (B, T/p, p*C) ┴-> packed -> core (rnn | gru | lstm; torch,
    scratch or fused; optionally bidirectional) -> outputs (B, T', D*H) -> pooling (last |
    mean | max | attention, over each sequence's own steps) -> dropout -> linear -> logits (B, K)

Variable length is done by the core's `forward_padded(x, lengths)`: `torch.nn`'s cores
pack the batch, the scratch and fused stacks run it with the lengths; none reads a padded
step, so a sequence's logits are the same alone and inside a padded batch (padding must be zeros for
`patch > 1`, which `pad_batch` gives). `last` pools the final state of each direction of the
top layer (each at the sequence's own ends). `attention` weighs the steps by a softmax of a
learned score `v . tanh(W h_t + b)` (padding masked out) and sums them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.nn.recurrent import build_rnn

POOLINGS = ("last", "mean", "max", "attention")


def pad_batch(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths, zero-padded at the end.

    Shape:
        arrays: N arrays `(T_i,)` (token ids) or `(T_i, C)`. Returns `(N, max T_i)` or
        `(N, max T_i, C)` of their dtype, and the lengths `(N,)` int64.
    """
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    first = arrays[0]
    out = np.zeros((len(arrays), int(lengths.max()), *first.shape[1:]), dtype=first.dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out, lengths


class SequenceClassifierNet(nn.Module):
    """A recurrent classifier of variable-length sequences.

    Args:
        input_size: the vocabulary's size (tokens) or the channels C (numeric).
        num_classes: K, the head's outputs.
        tokens: whether the input is token ids (an embedding reads them).
        kind: the core, `rnn`, `gru` or `lstm`.
        impl: its implementation, `torch`, `scratch` or `fused` (`rnnkit.nn.build_rnn`).
        hidden_size: H, per direction.
        num_layers: L.
        bidirectional: D = 2 when true.
        pooling: `last`, `mean`, `max` or `attention` over each sequence's steps.
        dropout: between layers and before the head.
        embed_size: E, the embedding's width (tokens only).
        patch: numeric only: `patch` consecutive steps read as one input of `patch * C`.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        tokens: bool,
        kind: str = "gru",
        impl: str = "torch",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "mean",
        dropout: float = 0.0,
        embed_size: int = 32,
        patch: int = 1,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        if tokens and patch != 1:
            raise ConfigError("patch applies to numeric series only; set patch = 1 for text")
        self._spec: dict[str, Any] = {
            "input_size": input_size,
            "num_classes": num_classes,
            "tokens": tokens,
            "kind": kind,
            "impl": impl,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "bidirectional": bidirectional,
            "pooling": pooling,
            "dropout": dropout,
            "embed_size": embed_size,
            "patch": patch,
        }
        self.tokens, self.pooling, self.patch = tokens, pooling, patch
        self.directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(input_size, embed_size) if tokens else None
        core_in = embed_size if tokens else input_size * patch
        self.core = build_rnn(
            kind,  # type: ignore[arg-type]
            impl,
            input_size=core_in,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        width = self.directions * hidden_size
        self.attention = None
        if pooling == "attention":  # a score per step: v . tanh(W h_t + b)
            self.attention = nn.Sequential(
                nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1, bias=False)
            )
        self.head = nn.Linear(width, num_classes)

    def spec(self) -> dict[str, Any]:
        """What rebuilds this network (with its `state_dict`): the constructor's arguments."""
        return dict(self._spec)

    def _inputs(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Embed tokens, or cut values into patches. Returns `(B, T', I')` and lengths."""
        if self.embedding is not None:
            return self.embedding(x), lengths
        if self.patch == 1:
            return x, lengths
        b, t, c = x.shape
        pad = (-t) % self.patch
        if pad:
            x = torch.cat([x, x.new_zeros(b, pad, c)], dim=1)
        x = x.reshape(b, (t + pad) // self.patch, self.patch * c)
        return x, (lengths + self.patch - 1) // self.patch

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits of each sequence's class.

        Shape:
            x: (B, T) token ids or (B, T, C) values, zero-padded past each length.
            lengths: (B,) steps of each sequence (>= 1). Returns logits (B, K).
        """
        inputs, steps = self._inputs(x, lengths)
        # (B, T', D*H), zeros past each end; every core has forward_padded (rnnkit.nn)
        seq, state = self.core.forward_padded(inputs, steps)  # type: ignore[operator]
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (D*L, B, H)
            pooled = torch.cat(list(h[-self.directions :]), dim=-1)  # (B, D*H)
        else:
            mask = torch.arange(seq.shape[1], device=seq.device)[None, :] < steps[:, None]
            mask = mask.unsqueeze(-1)  # (B, T', 1)
            if self.pooling == "mean":
                pooled = (seq * mask).sum(1) / steps[:, None].to(seq.dtype)
            elif self.attention is not None:
                scores = self.attention(seq).masked_fill(~mask, float("-inf"))  # (B, T', 1)
                pooled = (scores.softmax(1) * seq).sum(1)  # (B, D*H)
            else:
                pooled = seq.masked_fill(~mask, float("-inf")).amax(1)
        return self.head(self.dropout(pooled))
