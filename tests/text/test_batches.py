"""Tests for rnnkit.text.batches: sequential and random batch iterators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import data_table
from rnnkit.errors import RnnkitError
from rnnkit.text.batches import BatchIterator
from rnnkit.text.corpora import load_corpus

REFERENCE = Path(os.environ.get("RNNKIT_DATA", "/nonexistent")).expanduser()


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_d2l_time_machine_parity(sampling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REFERENCE / "timemachine.txt").is_file():
        pytest.skip("reference data absent: set RNNKIT_DATA to the folder with timemachine.txt")
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    corpus = load_corpus(data_table("timemachine", normalize="d2l", max_tokens=10_000))
    it = BatchIterator(corpus.train, 32, 35, sampling, gen())  # type: ignore[arg-type]
    assert len(it) == 8 and it.tokens_per_epoch == 8_960
    for epoch in range(3):
        batches = list(it)
        assert len(batches) == 8, epoch
        assert all(x.shape == y.shape == (32, 35) for x, y in batches)
        assert all(x.dtype == y.dtype == torch.long for x, y in batches)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 400),
    batch_size=st.integers(1, 6),
    num_steps=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    random_offset=st.booleans(),
)
def test_sequential_streams(
    n: int, batch_size: int, num_steps: int, seed: int, random_offset: bool
) -> None:
    tokens = np.arange(n, dtype=np.int32)  # each id is its own position
    try:
        it = BatchIterator(tokens, batch_size, num_steps, "sequential", gen(seed), random_offset)
    except RnnkitError as exc:
        max_offset = num_steps if random_offset else 0
        assert n < batch_size * num_steps + 1 + max_offset
        assert "needs at least" in str(exc)
        return
    batches = list(it)
    assert len(batches) == len(it) >= 1
    X = torch.cat([x for x, _ in batches], dim=1)  # (B, len*T): the streams
    Y = torch.cat([y for _, y in batches], dim=1)
    assert torch.equal(Y, X + 1)  # Y is X shifted by one
    # batch k+1 continues batch k row by row: each row is consecutive positions
    assert torch.equal(X[:, 1:] - X[:, :-1], torch.ones_like(X[:, 1:]))
    # each position appears exactly once per epoch
    assert X.unique().numel() == X.numel()
    offset = int(X[0, 0])
    assert 0 <= offset <= (num_steps if random_offset else 0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 400),
    batch_size=st.integers(1, 6),
    num_steps=st.integers(1, 9),
    seed=st.integers(0, 2**31),
)
def test_random_windows(n: int, batch_size: int, num_steps: int, seed: int) -> None:
    tokens = np.arange(n, dtype=np.int64)
    try:
        it = BatchIterator(tokens, batch_size, num_steps, "random", gen(seed))
    except RnnkitError:
        assert n < batch_size * num_steps + num_steps
        return
    batches = list(it)
    assert len(batches) == len(it)
    X = torch.cat([x for x, _ in batches])  # (len*B, T): the windows
    Y = torch.cat([y for _, y in batches])
    assert torch.equal(Y, X + 1)
    assert torch.equal(X[:, 1:] - X[:, :-1], torch.ones_like(X[:, 1:]))
    starts = X[:, 0]
    offset = int(starts.min()) % num_steps
    assert offset <= num_steps - 1
    assert bool(((starts - offset) % num_steps == 0).all())  # aligned: no overlap
    assert starts.unique().numel() == starts.numel()


def test_random_is_shuffled_and_generator_driven() -> None:
    tokens = np.arange(10_000)
    first = [x for x, _ in BatchIterator(tokens, 8, 10, "random", gen(1))]
    again = [x for x, _ in BatchIterator(tokens, 8, 10, "random", gen(1))]
    other = [x for x, _ in BatchIterator(tokens, 8, 10, "random", gen(2))]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    starts = torch.cat(first)[:, 0]
    assert not bool((starts[1:] > starts[:-1]).all())  # not in corpus order


def test_resume_continues_the_same_stream() -> None:
    tokens = np.arange(5_000)
    g = gen(7)
    it = BatchIterator(tokens, 4, 16, "sequential", g)
    list(it)  # epoch 0
    saved = g.get_state()
    expected = [x for x, _ in it]  # epoch 1
    g2 = torch.Generator()
    g2.set_state(saved)
    resumed = [x for x, _ in BatchIterator(tokens, 4, 16, "sequential", g2)]
    assert all(torch.equal(a, b) for a, b in zip(expected, resumed, strict=True))


def test_too_short_and_bad_arguments() -> None:
    with pytest.raises(RnnkitError, match="needs at least 1156 tokens, this part has 1000"):
        BatchIterator(np.arange(1_000), 32, 35, "sequential")
    BatchIterator(np.arange(1_156), 32, 35, "sequential")
    BatchIterator(np.arange(1_121), 32, 35, "sequential", random_offset=False)
    with pytest.raises(RnnkitError, match="unknown sampling"):
        BatchIterator(np.arange(100), 2, 2, "shuffle")  # type: ignore[arg-type]
    with pytest.raises(RnnkitError, match="1-D integer"):
        BatchIterator(np.zeros((10, 2), dtype=np.int64), 2, 2)
