"""One-token decoding steps of an `RNNLM` with plain tensor operations: the one step decoder
of generation, of the training run's logits probe and of the ONNX export.

Generation advances one token at a time. Calling the model for that costs far more than its
arithmetic: the module-call chain, a one-hot tensor for the torch core, and on CPU oneDNN's
fused RNN layer, which `torch.nn.LSTM` runs even for a single step and which sets itself up
on every call (about 0.7 ms per layer for one token, against 10 us of products). `LMStep`
takes the model's weights once (detached, transposed for row-major products, biases folded
in where the equations allow) and runs each step as a handful of tensor operations::

    token ids (B,) -> input rows (B, G*H) -> L x cell update -> head -> logits (B, V)

It computes what `model(tokens[:, None], state)` computes in eval mode (no dropout), within
float rounding: the parity tests compare the two for every kind, input mode and core. An
adaptive output gives log-probabilities, through the very function the model's forward
call uses (`rnnkit.lm.adaptive.adaptive_log_probs`). The operations are plain (lookups,
`addmm`, sigmoid, tanh, lerp): no custom autograd Function and no `nn.LSTM`, so the same
step traces to ONNX (`rnnkit.lm.export`, from the checkpoint's `state_dict`).

`Decoding` carries the state from step to step (and reorders it for beam search).
Weights are read when the step is built; build a new one after the model changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from rnnkit.errors import CheckpointError
from rnnkit.lm.adaptive import adaptive_log_probs
from rnnkit.lm.model import RNNLM
from rnnkit.nn.state import State

# Per layer: W_ih^T (I, G*H) (layer 0 of a one-hot model: the input table (V, G*H), whose
# row v is W_ih e_v + b), the input-side bias (G*H,), W_hh^T (H, G*H), b_hh (G*H,).
Layer = tuple[Tensor, Tensor, Tensor, Tensor]
_HEAD = ("weight", "bias", "cluster_weight", "cluster_bias")


def model_weights(model: RNNLM) -> dict[str, Tensor]:
    """The weights a step reads, by their `state_dict` names, detached (not copied)."""
    core, weights = model.core, {}
    for k in range(model.num_layers):
        for name in (f"weight_ih_l{k}", f"weight_hh_l{k}", f"bias_ih_l{k}", f"bias_hh_l{k}"):
            value = getattr(core, name, None)
            if value is not None:
                weights[f"core.{name}"] = value.detach()
    if model.embedding is not None:
        weights["embedding.weight"] = model.embedding.weight.detach()
    for name in _HEAD:
        if hasattr(model.head, name):
            weights[f"head.{name}"] = getattr(model.head, name).detach()
    return weights


def _weight(weights: Mapping[str, Tensor], name: str) -> Tensor:
    """`weights[name]`, or a one-line `CheckpointError` naming the missing key."""
    if name not in weights:
        raise CheckpointError(
            f"the checkpoint's weights lack {name!r}; it was not written by this "
            "model's `rnnkit train`"
        )
    return weights[name]


class LMStep:
    """One decoding step of an `RNNLM`, rebuilt from its weights (no autograd, no dropout).

    Args:
        weights: the model's weights by `state_dict` name (`model_weights`, or a
            checkpoint's `state_dict`; any implementation: the names are the same).
        kind: "rnn", "gru" or "lstm".
        num_layers: L.
        cutoffs: the adaptive output's cluster starts ([] for a softmax head).

    Shape:
        step: token ids (B,), h and c as L x (B, H) -> logits (B, V), the new h and c
    """

    def __init__(
        self, weights: Mapping[str, Tensor], kind: str, num_layers: int, cutoffs: Sequence[int]
    ) -> None:
        self.kind = kind
        self.num_layers = num_layers
        onehot = "embedding.weight" not in weights
        self.embedding = None if onehot else _weight(weights, "embedding.weight")  # (V, E)
        self.layers = [self._layer(weights, k, onehot and k == 0) for k in range(num_layers)]
        self.hidden_size = self.layers[0][2].size(0)
        self.head_weight = _weight(weights, "head.weight")  # (V, H)
        self.head_bias = _weight(weights, "head.bias")  # (V,)
        self.cutoffs = list(cutoffs)
        # W^T (H, V) for a softmax head (an adaptive one reads its weights untransposed).
        self.head_t = self.head_weight if cutoffs else self.head_weight.t().contiguous()
        # An adaptive output's cluster weight (k, H) and bias (k,).
        self.clusters = (
            (_weight(weights, "head.cluster_weight"), _weight(weights, "head.cluster_bias"))
            if cutoffs
            else None
        )

    @classmethod
    def of(cls, model: RNNLM) -> LMStep:
        """The step of a live model, its weights read now (later changes are not seen)."""
        return cls(model_weights(model), model.kind, model.num_layers, model.cutoffs)

    def _layer(self, weights: Mapping[str, Tensor], k: int, lookup: bool) -> Layer:
        """Layer k's prepared weights (see `Layer`)."""
        w_ih = _weight(weights, f"core.weight_ih_l{k}")  # (G*H, I)
        w_hh = _weight(weights, f"core.weight_hh_l{k}")  # (G*H, H)
        zeros = w_hh.new_zeros(w_hh.size(0))  # (G*H,)
        b_ih = weights.get(f"core.bias_ih_l{k}", zeros)
        b_hh = weights.get(f"core.bias_hh_l{k}", zeros)
        if self.kind != "gru":
            # rnn and lstm add both biases outside any gate: fold them into the input side.
            b_ih, b_hh = b_ih + b_hh, zeros
        w_ih_t = w_ih.t().contiguous()  # (I, G*H)
        if lookup:
            w_ih_t = w_ih_t + b_ih  # row v is W_ih e_v + b: the whole one-hot input side
        return w_ih_t, b_ih, w_hh.t().contiguous(), b_hh

    def begin(self, state: State | None, batch: int) -> tuple[list[Tensor], list[Tensor] | None]:
        """The state as the step reads it: h and c (an LSTM's, else None) as L x (B, H);
        `None` gives zeros for `batch` sequences."""
        if state is None:
            like = self.head_weight
            h = like.new_zeros(self.num_layers, batch, self.hidden_size)  # (L, B, H)
            state = (h, torch.zeros_like(h)) if self.kind == "lstm" else h
        h, c = (state[0], state[1]) if isinstance(state, tuple) else (state, None)
        return list(h.detach().unbind(0)), None if c is None else list(c.detach().unbind(0))

    def step(
        self, tokens: Tensor, h: Sequence[Tensor], c: Sequence[Tensor] | None
    ) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
        """Advance every sequence by one token.

        Shape:
            tokens (B,), h and c: L x (B, H) -> logits (B, V), h' and c': L x (B, H)
        """
        x, hs = tokens, []
        cs: list[Tensor] | None = None if c is None else []
        for k, (w_ih_t, b_ih, w_hh_t, b_hh) in enumerate(self.layers):
            if k > 0:
                gi = torch.addmm(b_ih, x, w_ih_t)  # (B, G*H)
            elif self.embedding is None:
                gi = w_ih_t.index_select(0, x)  # one-hot input: a row lookup, no product
            else:
                gi = torch.addmm(b_ih, self.embedding.index_select(0, x), w_ih_t)  # (B, G*H)
            if self.kind == "rnn":
                x = torch.tanh(gi.addmm_(h[k], w_hh_t))
            elif self.kind == "lstm":
                assert c is not None and cs is not None
                i, f, g, o = gi.addmm_(h[k], w_hh_t).chunk(4, dim=1)  # (B, H) each
                cs.append(torch.sigmoid(f).mul_(c[k]).addcmul_(torch.sigmoid(i), torch.tanh(g)))
                x = torch.sigmoid(o).mul_(torch.tanh(cs[-1]))
            else:
                x = _gru(gi, h[k], w_hh_t, b_hh)
            hs.append(x)
        if self.clusters is None:
            return torch.addmm(self.head_bias, x, self.head_t), hs, cs  # (B, V)
        cw, cb = self.clusters
        log_probs = adaptive_log_probs(x, self.head_weight, self.head_bias, cw, cb, self.cutoffs)
        return log_probs, hs, cs  # (B, V)


def _gru(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor) -> Tensor:
    """One GRU update (gate order r, z, n). Shape: gi (B, 3H), h (B, H) -> h' (B, H)."""
    gh = torch.addmm(b_hh, h, w_hh_t)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r.add_(h_r))
    z = torch.sigmoid(i_z.add_(h_z))
    n = torch.tanh(i_n.addcmul_(r, h_n))
    return torch.lerp(n, h, z)  # (1 - z) * n + z * h


class Decoding:
    """A running decode: an `LMStep` and the state it carries from token to token.

    Args:
        model: the language model; its weights are read now.
        state: the model's state to continue from, h or (h, c), each (L, B, H); `None`
            starts from zeros.
        batch: B, the number of sequences (used when `state` is `None`).

    Shape:
        step: token ids (B,) -> logits (B, V); the state advances in the decoding.
    """

    def __init__(self, model: RNNLM, state: State | None, batch: int) -> None:
        self.lm_step = LMStep.of(model)
        self.h, self.c = self.lm_step.begin(state, batch)

    def step(self, tokens: Tensor) -> Tensor:
        """Advance every sequence by one token and return the next-token logits.

        Shape:
            tokens (B,) -> logits (B, V)
        """
        logits, self.h, self.c = self.lm_step.step(tokens, self.h, self.c)
        return logits

    def select(self, rows: Tensor) -> None:
        """Keep (and reorder or repeat) the given batch rows of the state (beam search)."""
        self.h = [h.index_select(0, rows) for h in self.h]
        if self.c is not None:
            self.c = [c.index_select(0, rows) for c in self.c]
