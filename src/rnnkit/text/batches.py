"""Batch iterators over a token array: sequential (stateful, truncated BPTT) and random.

Sequential sampling cuts the tokens into B parallel streams; batch k+1 continues batch k
row by row, so the hidden state can be carried across batches::

    tokens  a b c d e f g h i j k l m n o p q r s t u v w x      (offset 0, B=2, T=3)

    row 0   a b c | d e f | g h i | j k
    row 1   l m n | o p q | r s t | u v w
            batch0  batch1  batch2  (a partial batch is dropped)

    Y is X shifted by one token: batch0 X = [[a b c], [l m n]], Y = [[b c d], [m n o]].

Random sampling takes non-overlapping windows of length T from a random offset and shuffles
them, so consecutive batches are unrelated and the state is reset for each.

All randomness comes from the `torch.Generator` given (saved in checkpoints), so a resumed
run draws the same offsets and orders. Both follow d2l 0.17's `seq_data_iter_*`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from rnnkit.config.fields import Sampling
from rnnkit.errors import ConfigError, RnnkitError

SAMPLINGS = ("sequential", "random")


def _as_tokens(tokens: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = tokens.numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(
            f"tokens must be a 1-D integer array of token ids, got shape {arr.shape} "
            f"dtype {arr.dtype}; pass a Corpus part such as corpus.train"
        )
    return arr


def _long(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.int64))  # astype copies: contiguous, owned


class BatchIterator:
    """Batches `(X, Y)` of token ids for language modelling, batch-first.

    Args:
        tokens: token ids, `(N,)`.
        batch_size: B, rows per batch.
        num_steps: T, time steps per batch.
        sampling: `sequential` (B parallel streams, consecutive batches continue each row)
            or `random` (shuffled non-overlapping windows).
        generator: the source of all randomness (offsets, shuffles); a fresh default
            generator when None.
        random_offset: start each epoch at a random offset (d2l: in `[0, T]` for
            sequential, `[0, T-1]` for random); False starts at 0 (evaluation).

    Shape:
        each iteration yields `X (B, T)` and `Y (B, T)` LongTensors, `Y[:, t]` the token
        after `X[:, t]`. `len(it)` batches per epoch, the same every epoch.
    """

    def __init__(
        self,
        tokens: np.ndarray | torch.Tensor,
        batch_size: int,
        num_steps: int,
        sampling: Sampling = "sequential",
        generator: torch.Generator | None = None,
        random_offset: bool = True,
    ) -> None:
        if sampling not in SAMPLINGS:
            raise ConfigError(f"unknown sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}")
        if batch_size < 1 or num_steps < 1:
            raise ConfigError(
                f"batch_size and num_steps must be >= 1, got {batch_size} and {num_steps}"
            )
        self.tokens = _as_tokens(tokens)
        self.batch_size = batch_size
        self.num_steps = num_steps
        self.sampling = sampling
        self.generator = generator if generator is not None else torch.Generator()
        self.random_offset = random_offset
        # The largest offset an epoch may draw; len() assumes it, so it never changes.
        if sampling == "sequential":
            self.max_offset = num_steps if random_offset else 0
            rows = (len(self.tokens) - 1 - self.max_offset) // batch_size
            self.num_batches = max(rows, 0) // num_steps
            needed = batch_size * num_steps + 1 + self.max_offset
        else:
            self.max_offset = num_steps - 1 if random_offset else 0
            windows = (len(self.tokens) - 1 - self.max_offset) // num_steps
            self.num_batches = max(windows, 0) // batch_size
            needed = batch_size * num_steps + 1 + self.max_offset
        if self.num_batches < 1:
            raise ConfigError(
                f"corpus too short for one batch: {sampling} sampling with "
                f"batch_size={batch_size}, num_steps={num_steps} needs at least {needed} "
                f"tokens, this part has {len(self.tokens)}; use more text or a smaller "
                "batch_size / num_steps"
            )

    def __len__(self) -> int:
        return self.num_batches

    @property
    def tokens_per_epoch(self) -> int:
        """Input tokens in one epoch: `len(self) * B * T`."""
        return self.num_batches * self.batch_size * self.num_steps

    def _offset(self) -> int:
        if self.max_offset == 0:
            return 0
        return int(torch.randint(0, self.max_offset + 1, (1,), generator=self.generator))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Draw this epoch's randomness now, not at the first next(), so that the generator
        # state after iter() is well defined.
        if self.sampling == "sequential":
            return self._sequential(self._offset())
        offset = self._offset()
        windows = (len(self.tokens) - 1 - offset) // self.num_steps
        order = torch.randperm(windows, generator=self.generator).numpy()
        return self._random(offset, order)

    def _sequential(self, offset: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        B, T = self.batch_size, self.num_steps
        row_len = (len(self.tokens) - 1 - offset) // B  # as d2l: rows as long as they fit
        Xs = self.tokens[offset : offset + B * row_len].reshape(B, row_len)  # (B, L) view
        Ys = self.tokens[offset + 1 : offset + 1 + B * row_len].reshape(B, row_len)
        for k in range(self.num_batches):
            cols = slice(k * T, (k + 1) * T)
            yield _long(Xs[:, cols]), _long(Ys[:, cols])  # (B, T), (B, T)

    def _random(
        self, offset: int, order: np.ndarray
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        B, T = self.batch_size, self.num_steps
        steps = np.arange(T)
        for k in range(self.num_batches):
            starts = offset + order[k * B : (k + 1) * B] * T  # (B,)
            idx = starts[:, None] + steps  # (B, T)
            yield _long(self.tokens[idx]), _long(self.tokens[idx + 1])


class RankBatches:
    """Rank `rank`'s rows of the batches one process draws with `batch_size * world_size`.

    Every rank draws the same offsets and orders from the same seeded generator and keeps
    rows `rank * batch_size .. (rank + 1) * batch_size - 1`, so the ranks' rows are disjoint
    and together equal one process's batch of `batch_size * world_size` rows.

    Shape:
        each iteration yields `X (B, T)` and `Y (B, T)` LongTensors, B = `batch_size`.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        batch_size: int,
        num_steps: int,
        sampling: Sampling,
        generator: torch.Generator,
        rank: int,
        world_size: int,
    ) -> None:
        try:
            self.whole = BatchIterator(
                tokens, batch_size * world_size, num_steps, sampling, generator
            )
        except RnnkitError as exc:
            raise ConfigError(
                f"{world_size} processes x batch_size {batch_size} read "
                f"{batch_size * world_size} rows per step: {exc}"
            ) from None
        self.rows = slice(rank * batch_size, (rank + 1) * batch_size)

    def __len__(self) -> int:
        return len(self.whole)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        whole = iter(self.whole)  # draws the epoch's offset and order now, as BatchIterator
        return ((X[self.rows], Y[self.rows]) for X, Y in whole)  # (B, T), (B, T)


def rank_batches(
    tokens: np.ndarray,
    batch_size: int,
    num_steps: int,
    sampling: Sampling,
    generator: torch.Generator,
    rank: int = 0,
    world_size: int = 1,
) -> BatchIterator | RankBatches:
    """The training batches of rank `rank` of `world_size` (a plain `BatchIterator` for one)."""
    if world_size == 1:
        return BatchIterator(tokens, batch_size, num_steps, sampling, generator)
    return RankBatches(tokens, batch_size, num_steps, sampling, generator, rank, world_size)
