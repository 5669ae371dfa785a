"""LMStep / Decoding: one-token steps equal the model's own forward call, for every kind and
core."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor

from rnnkit.lm.model import RNNLM
from rnnkit.lm.step import Decoding

V, H, B, T = 13, 8, 4, 6
CASES = list(
    itertools.product(
        ["rnn", "gru", "lstm"],
        ["torch", "scratch", "fused"],
        [1, 2],
        [("onehot", 0, False), ("embedding", 5, False), ("embedding", 0, True)],
    )
)


def make(kind: str, impl: str, layers: int, mode: tuple[str, int, bool]) -> RNNLM:
    torch.manual_seed(0)
    input_mode, emb, tie = mode
    model = RNNLM(V, kind, H, layers, 0.3, emb, input_mode, tie, impl)  # type: ignore[arg-type]
    return model.double()


def ids(seed: int) -> Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("kind", "impl", "layers", "mode"), CASES)
def test_steps_equal_the_forward_call(
    kind: str, impl: str, layers: int, mode: tuple[str, int, bool]
) -> None:
    model = make(kind, impl, layers, mode)
    tokens = ids(1)
    with torch.no_grad():
        model.eval()
        _, state = model(ids(2), None)  # a non-zero state, as after a prefix
        stepper = Decoding(model, state, B)
        for t in range(T):
            want, state = model(tokens[:, t : t + 1], state)  # (B, 1, V)
            got = stepper.step(tokens[:, t])  # (B, V)
            torch.testing.assert_close(got, want[:, 0], rtol=1e-10, atol=1e-10)
    h = state[0] if isinstance(state, tuple) else state
    torch.testing.assert_close(torch.stack(stepper.h), h, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_no_state_starts_from_zeros_and_ignores_dropout(kind: str) -> None:
    model = make(kind, "torch", 2, ("embedding", 0, False))  # dropout 0.3, train mode
    tokens = ids(3)
    stepper = Decoding(model, None, B)
    got = stepper.step(tokens[:, 0])
    assert not got.requires_grad
    model.eval()
    with torch.no_grad():
        want, _ = model(tokens[:, :1])
    torch.testing.assert_close(got, want[:, 0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_select_reorders_the_state_rows(kind: str) -> None:
    model = make(kind, "torch", 2, ("onehot", 0, False)).eval()
    tokens = ids(4)
    rows = torch.tensor([3, 3, 0, 1])
    with torch.no_grad():
        _, state = model(tokens[:, :3])
        stepper = Decoding(model, state, B)
        stepper.select(rows)
        picked = tuple(s[:, rows] for s in state) if isinstance(state, tuple) else state[:, rows]
        want, _ = model(tokens[rows, 3:4], picked)
        got = stepper.step(tokens[rows, 3])
    torch.testing.assert_close(got, want[:, 0], rtol=1e-10, atol=1e-10)
