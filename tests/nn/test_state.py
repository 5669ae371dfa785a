"""`rnnkit.nn.state`: the one State alias and the hidden-state helpers, on h and on (h, c)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from rnnkit.nn import build_rnn
from rnnkit.nn.state import (
    State,
    detach,
    from_list,
    from_parts,
    parts,
    repeat_rows,
    select_rows,
    to_list,
)

L, B, H = 2, 3, 4


def states() -> list[State]:
    h = torch.randn(L, B, H, requires_grad=True) * 1.0  # non-leaf: has a graph behind it
    return [h, (h, h + 1.0)]


@pytest.mark.parametrize("state", states(), ids=["h", "(h, c)"])
def test_helpers_keep_the_form(state: State) -> None:
    count = 1 if isinstance(state, Tensor) else 2
    for result in (detach(state), select_rows(state, torch.tensor([2, 0])), repeat_rows(state, 2)):
        assert isinstance(result, Tensor) == isinstance(state, Tensor)
        assert len(parts(result)) == count
    assert all(not part.requires_grad for part in parts(detach(state)))
    assert all(part.grad_fn is not None for part in parts(state))


@pytest.mark.parametrize("state", states(), ids=["h", "(h, c)"])
def test_rows(state: State) -> None:
    picked = select_rows(state, torch.tensor([2, 0, 2]))
    tiled = repeat_rows(state, 2)
    for part, chosen, tiles in zip(parts(state), parts(picked), parts(tiled), strict=True):
        assert torch.equal(chosen, part[:, [2, 0, 2]])  # (L, 3, H)
        assert torch.equal(tiles, torch.cat([part, part], 1))  # (L, 2B, H): the batch tiled


@pytest.mark.parametrize("state", states(), ids=["h", "(h, c)"])
def test_list_round_trip(state: State) -> None:
    items = to_list(state)
    assert all(t.device.type == "cpu" and not t.requires_grad for t in items)
    back = from_list(items, "cpu")
    assert back is not None
    for a, b in zip(parts(back), parts(state), strict=True):
        assert torch.equal(a, b)
    assert isinstance(back, Tensor) == isinstance(state, Tensor)


def test_none_passes_through() -> None:
    assert detach(None) is None
    assert select_rows(None, torch.tensor([0])) is None
    assert repeat_rows(None, 3) is None
    assert to_list(None) == []
    assert from_list([], "cpu") is None


def test_from_parts_refuses_other_lengths() -> None:
    h = torch.zeros(L, B, H)
    assert from_parts([h]) is h
    assert from_parts([h, h]) == (h, h)
    with pytest.raises(ValueError, match="got 3"):
        from_parts([h, h, h])


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_a_core_state_round_trips(kind: str) -> None:
    """What a core returns goes through the helpers and back into the core."""
    core = build_rnn(kind, "scratch", input_size=2, hidden_size=H, num_layers=L)
    _, state = core(torch.randn(B, 5, 2))
    restored = from_list(to_list(select_rows(state, torch.tensor([1]))), "cpu")
    output, _ = core(torch.randn(1, 5, 2), restored)
    assert output.shape == (1, 5, H)
