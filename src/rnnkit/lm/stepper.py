"""One-token decoding steps for `RNNLM` with plain tensor operations.

Generation advances one token at a time. Calling the model for that costs far more than its
arithmetic: the module-call chain, a one-hot tensor for the torch core, and on CPU oneDNN's
fused RNN layer, which `torch.nn.LSTM` runs even for a single step and which sets itself up
on every call (about 0.7 ms per layer for one token, against 10 us of products). `Stepper`
takes the model's weights once (detached, transposed for row-major products, biases folded
in where the equations allow) and runs each step as a handful of tensor operations::

    token ids (B,) -> input rows (B, G*H) -> L x cell update -> head -> logits (B, V)

It computes what `model(tokens[:, None], state)` computes in eval mode (no dropout), within
float rounding: the parity tests compare the two for every kind, input mode and core. An
adaptive output gives log-probabilities, through the very function the model's forward
call uses (`rnnkit.lm.adaptive.adaptive_log_probs`).
Weights are read when the stepper is built; build a new one after the model changes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.lm.adaptive import AdaptiveHead, adaptive_log_probs
from rnnkit.lm.model import RNNLM
from rnnkit.nn.state import State


class Stepper:
    """Greedy- and sampling-speed single steps of an `RNNLM` (no autograd, no dropout).

    Args:
        model: the language model; its weights are copied out now.
        state: the model's state to continue from, h or (h, c), each (L, B, H); `None`
            starts from zeros.
        batch: B, the number of sequences (used when `state` is `None`).

    Shape:
        step: token ids (B,) -> logits (B, V); the state advances in the stepper.
    """

    def __init__(self, model: RNNLM, state: State | None, batch: int) -> None:
        self.kind = model.kind
        core = model.core
        self.first_is_lookup = model.embedding is None
        self.embedding = None if model.embedding is None else model.embedding.weight.detach()
        # Per layer: W_ih^T (I, G*H), input-side bias (G*H,), W_hh^T (H, G*H), b_hh (G*H,).
        self.layers: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        for k in range(model.num_layers):
            w_ih = getattr(core, f"weight_ih_l{k}").detach()  # (G*H, I)
            w_hh = getattr(core, f"weight_hh_l{k}").detach()  # (G*H, H)
            zeros = w_hh.new_zeros(w_hh.size(0))  # (G*H,)
            b_ih = getattr(core, f"bias_ih_l{k}", None)
            b_hh = getattr(core, f"bias_hh_l{k}", None)
            b_ih = zeros if b_ih is None else b_ih.detach()
            b_hh = zeros if b_hh is None else b_hh.detach()
            if self.kind != "gru":
                # rnn and lstm add both biases outside any gate: fold them into the input side.
                b_ih, b_hh = b_ih + b_hh, zeros
            w_ih_t = w_ih.t().contiguous()  # (I, G*H)
            if k == 0 and self.first_is_lookup:
                w_ih_t = w_ih_t + b_ih  # row v is W_ih e_v + b: the whole one-hot input side
            self.layers.append((w_ih_t, b_ih, w_hh.t().contiguous(), b_hh))
        head = model.head
        self.adaptive: tuple[Tensor, Tensor, Tensor, Tensor, list[int]] | None = None
        if isinstance(head, AdaptiveHead):
            self.adaptive = (
                head.weight.detach(),  # (V, H)
                head.bias.detach(),  # (V,)
                head.cluster_weight.detach(),  # (k, H)
                head.cluster_bias.detach(),  # (k,)
                head.cutoffs,
            )
        else:
            self.head_weight = head.weight.detach().t().contiguous()  # (H, V)
            self.head_bias = head.bias.detach()  # (V,)
        if state is None:
            state = model.begin_state(batch)
        h, c = (state[0], state[1]) if isinstance(state, tuple) else (state, None)
        self.h = list(h.detach().unbind(0))  # L x (B, H)
        self.c = None if c is None else list(c.detach().unbind(0))  # L x (B, H)

    def _input(self, k: int, x: Tensor) -> Tensor:
        """The input side of layer k, `x W_ih^T + b`. Shape: ids (B,) or (B, I) -> (B, G*H)."""
        w_ih_t, b_ih, _, _ = self.layers[k]
        if k == 0 and self.first_is_lookup:
            return w_ih_t.index_select(0, x)  # one-hot input: a row lookup, no product
        if k == 0:
            x = self.embedding.index_select(0, x)  # type: ignore[union-attr]  # (B, E)
        return torch.addmm(b_ih, x, w_ih_t)

    def step(self, tokens: Tensor) -> Tensor:
        """Advance every sequence by one token and return the next-token logits.

        Shape:
            tokens (B,) -> logits (B, V)
        """
        x: Tensor = tokens
        for k, (_, _, w_hh_t, b_hh) in enumerate(self.layers):
            gi = self._input(k, x)  # (B, G*H)
            h = self.h[k]
            if self.kind == "rnn":
                h = torch.tanh(gi.addmm_(h, w_hh_t))
            elif self.kind == "lstm":
                gates = gi.addmm_(h, w_hh_t)  # (B, 4H): i, f, g, o
                i, f, g, o = gates.chunk(4, dim=1)
                assert self.c is not None
                c = torch.sigmoid(f).mul_(self.c[k]).addcmul_(torch.sigmoid(i), torch.tanh(g))
                self.c[k] = c
                h = torch.sigmoid(o).mul_(torch.tanh(c))
            else:
                gh = torch.addmm(b_hh, h, w_hh_t)  # (B, 3H): r, z, n
                i_r, i_z, i_n = gi.chunk(3, dim=1)
                h_r, h_z, h_n = gh.chunk(3, dim=1)
                r = torch.sigmoid(i_r.add_(h_r))
                z = torch.sigmoid(i_z.add_(h_z))
                n = torch.tanh(i_n.addcmul_(r, h_n))
                h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
            self.h[k] = h
            x = h
        if self.adaptive is not None:
            return adaptive_log_probs(x, *self.adaptive)  # (B, V) log-probabilities
        return torch.addmm(self.head_bias, x, self.head_weight)  # (B, V)

    def select(self, rows: Tensor) -> None:
        """Keep (and reorder or repeat) the given batch rows of the state (beam search)."""
        self.h = [h.index_select(0, rows) for h in self.h]
        if self.c is not None:
            self.c = [c.index_select(0, rows) for c in self.c]
