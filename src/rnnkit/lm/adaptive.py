"""The adaptive softmax output layer, and the rules that choose it and its clusters.

An adaptive softmax (Grave et al. 2017) splits the vocabulary, in frequency order (the ids
of `rnnkit.text.vocab.Vocab`), at `cutoffs` c_1 < ... < c_k::

    head       ids [0, c_1) and one entry per cluster     log p_head    (N, c_1 + k)
    cluster i  ids [c_i, c_(i+1))  (c_(k+1) = V)          log p_i       (N, n_i)

    log p(w) = log p_head(w)                          for w < c_1
             = log p_head(cluster i) + log p_i(w)     for w in cluster i

Every position needs the head, but a cluster only where the target falls in it, so
training and held-out scoring (`AdaptiveHead.target_log_probs`) cost the head plus a
small share of the rest instead of all V rows. The probabilities are exact, not an
estimate: `AdaptiveHead.log_probs` gives the whole distribution (generation), which sums
to 1, so perplexities compare with a full softmax's.

Each token's output vector is a row of `weight` (V, H), as in a linear layer, so the layer
ties with the embedding whenever a linear one can (embedding width == hidden size): the
head's token rows and every cluster's rows are then the embedding's rows. (PyTorch's
`nn.AdaptiveLogSoftmaxWithLoss` shrinks each cluster to width H / 4^i, which makes it
cheaper but leaves the clusters untied; with tied rows, full width costs little, since a
cluster is computed only for its own targets.)

The rules: `resolve_output` picks the layer (`auto`: adaptive for a word vocabulary of
`ADAPTIVE_MIN_VOCAB` tokens or more) and `choose_cutoffs` the clusters from the training
counts (the cheapest split by `output_cost`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations, pairwise
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ConfigError

ADAPTIVE_MIN_VOCAB = 5_000
"""`output = "auto"` takes the adaptive softmax for word vocabularies at least this big."""
MAX_CLUSTERS = 3
MIN_SHORTLIST = 256
CLUSTER_COST = 64
"""The fixed cost of a cluster, in rows per training token (selecting and gathering its
positions), so that tiny clusters do not pay."""


def resolve_output(output: str, level: str, vocab_size: int) -> Literal["softmax", "adaptive"]:
    """`softmax` or `adaptive`: `output` itself, or for `auto` adaptive exactly when the
    level is word and the vocabulary has at least `ADAPTIVE_MIN_VOCAB` tokens (character
    models keep the full softmax)."""
    if output == "auto":
        return "adaptive" if level == "word" and vocab_size >= ADAPTIVE_MIN_VOCAB else "softmax"
    if output == "softmax":
        return "softmax"
    if output == "adaptive":
        return "adaptive"
    raise ConfigError(f"unknown output {output!r}; choose auto, softmax or adaptive")


def output_cost(shares: Sequence[float], cutoffs: Sequence[int], vocab_size: int) -> float:
    """Rows of the output layer computed per training token with these cutoffs: the head
    (c_1 + k rows) for every token, cluster i (n_i rows + `CLUSTER_COST`) for the share of
    tokens whose target is in it. `shares[j]` is the share of the tokens with id below j
    (cumulative, `shares[V] = 1`)."""
    bounds = [*cutoffs, vocab_size]
    cost = float(cutoffs[0] + len(cutoffs))
    for lo, hi in pairwise(bounds):
        cost += (shares[hi] - shares[lo]) * (hi - lo + CLUSTER_COST)
    return cost


def choose_cutoffs(counts: Sequence[int] | None, vocab_size: int) -> list[int]:
    """The cutoffs with the least `output_cost` for token counts in id order.

    Candidates: up to `MAX_CLUSTERS` clusters with cutoffs on a grid of sizes growing by
    sqrt(2) from `MIN_SHORTLIST` (multiples of 64). Without counts (or all zero) the
    tokens are taken as Zipf-distributed (count of id r proportional to 1 / (r + 1)).
    """
    if vocab_size <= MIN_SHORTLIST + 1:
        raise ConfigError(
            f"an adaptive softmax needs more than {MIN_SHORTLIST + 1} tokens, the vocabulary "
            f"has {vocab_size}; use model.output = 'softmax'"
        )
    weights = [float(c) for c in counts] if counts is not None else []
    if len(weights) != vocab_size or sum(weights) <= 0:
        weights = [1.0 / (r + 1) for r in range(vocab_size)]
    total = sum(weights)
    shares = [0.0]
    for w in weights:
        shares.append(shares[-1] + w / total)
    grid: list[int] = []
    size = float(MIN_SHORTLIST)
    while size < vocab_size:
        point = int(round(size / 64) * 64)
        if point < vocab_size and point not in grid:
            grid.append(point)
        size *= math.sqrt(2)
    best = [grid[0]]
    best_cost = output_cost(shares, best, vocab_size)
    for k in range(1, MAX_CLUSTERS + 1):
        for cut in combinations(grid, k):
            cost = output_cost(shares, cut, vocab_size)
            if cost < best_cost:
                best, best_cost = list(cut), cost
    return best


def check_cutoffs(cutoffs: Sequence[int], vocab_size: int) -> list[int]:
    """The cutoffs as a list, refused unless strictly increasing inside (0, vocab_size)."""
    cuts = [int(c) for c in cutoffs]
    if not cuts or cuts[0] <= 0 or cuts[-1] >= vocab_size or any(a >= b for a, b in pairwise(cuts)):
        raise ConfigError(
            f"model.cutoffs must be increasing token ids between 0 and the vocabulary size "
            f"{vocab_size}, got {cuts}; leave them empty ([]) to choose them from the counts"
        )
    return cuts


def adaptive_log_probs(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    cluster_weight: Tensor,
    cluster_bias: Tensor,
    cutoffs: Sequence[int],
) -> Tensor:
    """The whole distribution of an adaptive softmax, as log-probabilities.

    Shape:
        x (N, H), weight (V, H), bias (V,), cluster_weight (k, H), cluster_bias (k,)
        -> (N, V), float32 (or x's dtype if wider); each row's exp sums to 1.
    """
    shortlist = cutoffs[0]
    head_weight = torch.cat([weight[:shortlist], cluster_weight])  # (c_1 + k, H)
    head_bias = torch.cat([bias[:shortlist], cluster_bias])  # (c_1 + k,)
    head = _log_softmax(F.linear(x, head_weight, head_bias))  # (N, c_1 + k)
    parts = [head[:, :shortlist]]
    for i, (lo, hi) in enumerate(pairwise([*cutoffs, weight.size(0)])):
        tail = _log_softmax(F.linear(x, weight[lo:hi], bias[lo:hi]))  # (N, n_i)
        parts.append(tail + head[:, shortlist + i : shortlist + i + 1])
    return torch.cat(parts, dim=1)  # (N, V)


def _log_softmax(logits: Tensor) -> Tensor:
    """log_softmax over the last dimension, in float32 at least (bf16 logits are widened)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return logits.log_softmax(dim=-1)


class AdaptiveHead(nn.Module):
    """An adaptive softmax over `vocab_size` tokens split at `cutoffs` (see the module).

    Args:
        in_features: H, the width of the hidden states it reads.
        vocab_size: V.
        cutoffs: the first id of each cluster, increasing, inside (0, V).

    Attributes:
        weight, bias: the output row and bias of every token, (V, H) and (V,), as
            `nn.Linear(H, V)` holds them (so `weight` can be the embedding's).
        cluster_weight, cluster_bias: the head's row and bias of each cluster, (k, H), (k,).
    """

    def __init__(self, in_features: int, vocab_size: int, cutoffs: Sequence[int]) -> None:
        super().__init__()
        self.cutoffs = check_cutoffs(cutoffs, vocab_size)
        self.in_features = in_features
        self.vocab_size = vocab_size
        k = len(self.cutoffs)
        self.weight = nn.Parameter(torch.empty(vocab_size, in_features))
        self.bias = nn.Parameter(torch.empty(vocab_size))
        self.cluster_weight = nn.Parameter(torch.empty(k, in_features))
        self.cluster_bias = nn.Parameter(torch.empty(k))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """`nn.Linear`'s initialisation for the token rows and the cluster rows alike."""
        bound = 1.0 / math.sqrt(self.in_features)
        for w in (self.weight, self.cluster_weight):
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        for b in (self.bias, self.cluster_bias):
            nn.init.uniform_(b, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, vocab_size={self.vocab_size}, cutoffs={self.cutoffs}"
        )

    def log_probs(self, x: Tensor) -> Tensor:
        """Log-probabilities of every token. Shape: x (N, H) -> (N, V)."""
        return adaptive_log_probs(
            x, self.weight, self.bias, self.cluster_weight, self.cluster_bias, self.cutoffs
        )

    def target_log_probs(self, x: Tensor, target: Tensor) -> Tensor:
        """The log-probability of each position's target, computing a cluster only for the
        positions whose target is in it. Shape: x (N, H), target (N,) -> (N,) float32."""
        shortlist = self.cutoffs[0]
        head_weight = torch.cat([self.weight[:shortlist], self.cluster_weight])
        head_bias = torch.cat([self.bias[:shortlist], self.cluster_bias])
        head = _log_softmax(F.linear(x, head_weight, head_bias))  # (N, c_1 + k)
        edges = torch.tensor(self.cutoffs, dtype=target.dtype, device=target.device)  # (k,)
        cluster = torch.bucketize(target, edges, right=True)  # (N,) 0 = head, i + 1 = cluster i
        in_head = torch.where(cluster == 0, target, shortlist + cluster - 1)  # (N,)
        out = head.gather(1, in_head.unsqueeze(1)).squeeze(1)  # (N,)
        bounds = [*self.cutoffs, self.vocab_size]
        for i, (lo, hi) in enumerate(pairwise(bounds)):
            rows = (cluster == i + 1).nonzero().squeeze(1)  # (n,)
            if rows.numel() == 0:
                continue
            logits = F.linear(x.index_select(0, rows), self.weight[lo:hi], self.bias[lo:hi])
            tail = _log_softmax(logits)  # (n, n_i)
            picked = tail.gather(1, (target.index_select(0, rows) - lo).unsqueeze(1)).squeeze(1)
            out = out.index_add(0, rows, picked.to(out.dtype))
        return out
