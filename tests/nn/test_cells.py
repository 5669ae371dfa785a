"""The scratch cells against torch's, and the mechanics of stepping cells through time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import rnnkit.nn as rnn
from rnnkit.errors import RnnkitError

IN, H, B, T = 3, 4, 2, 5
TOL = {"atol": 1e-10, "rtol": 1e-10}


def cell_pair(name: str, **kwargs: object) -> tuple[nn.Module, nn.Module]:
    reference = getattr(nn, name)(IN, H, **kwargs).double()
    scratch = getattr(rnn, name)(IN, H, **kwargs).double()
    scratch.load_state_dict(reference.state_dict())
    return reference, scratch


CELLS = [
    ("RNNCell", {}),
    ("RNNCell", {"nonlinearity": "relu"}),
    ("RNNCell", {"bias": False}),
    ("GRUCell", {}),
    ("GRUCell", {"bias": False}),
    ("LSTMCell", {}),
    ("LSTMCell", {"bias": False}),
]


def grads_of(cell: nn.Module, x: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None) -> list:
    out = cell(x, hx)
    parts = out if isinstance(out, tuple) else (out,)
    loss = sum(
        (p * torch.linspace(-1, 1, p.numel(), dtype=p.dtype).view_as(p)).sum() for p in parts
    )
    leaves = [x, *cell.parameters()]
    return [out, *torch.autograd.grad(loss, leaves)]


@pytest.mark.parametrize(("name", "kwargs"), CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_parity(name: str, kwargs: dict, batched: bool, with_state: bool) -> None:
    reference, scratch = cell_pair(name, **kwargs)
    lead = (B,) if batched else ()
    x = torch.randn(*lead, IN, dtype=torch.float64, requires_grad=True)
    hx = None
    if with_state:
        h = torch.randn(*lead, H, dtype=torch.float64)
        hx = (h, torch.randn_like(h)) if name == "LSTMCell" else h
    torch.testing.assert_close(grads_of(scratch, x, hx), grads_of(reference, x, hx), **TOL)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_state_dict_and_init(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(nn, name)(IN, H)
    torch.manual_seed(0)
    scratch = getattr(rnn, name)(IN, H)
    assert list(scratch.state_dict()) == list(reference.state_dict())
    for key, value in reference.state_dict().items():
        assert torch.equal(scratch.state_dict()[key], value), key
    reference.load_state_dict(getattr(rnn, name)(IN, H).state_dict())  # scratch -> torch


def test_stepping_lstm_cell_reproduces_lstm() -> None:
    lstm = nn.LSTM(IN, H, batch_first=True).double()
    cell = rnn.LSTMCell(IN, H).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    x = torch.randn(B, T, IN, dtype=torch.float64)
    h, c = torch.zeros(B, H, dtype=torch.float64), torch.zeros(B, H, dtype=torch.float64)
    outputs = []
    for t in range(T):
        h, c = cell(x[:, t], (h, c))
        outputs.append(h)
    expected, (h_n, c_n) = lstm(x)
    torch.testing.assert_close(torch.stack(outputs, 1), expected, **TOL)
    torch.testing.assert_close((h, c), (h_n[0], c_n[0]), **TOL)


@pytest.mark.parametrize(("cell_name", "stack"), [("GRUCell", nn.GRU), ("RNNCell", nn.RNN)])
def test_two_stacked_cells_reproduce_two_layer_stack(cell_name: str, stack: type) -> None:
    reference = stack(IN, H, num_layers=2, batch_first=True).double()
    scratch_stack = getattr(rnn, cell_name.removesuffix("Cell"))(IN, H, 2, batch_first=True)
    scratch_stack = scratch_stack.double()
    scratch_stack.load_state_dict(reference.state_dict())
    cells = [getattr(rnn, cell_name)(IN if layer == 0 else H, H).double() for layer in (0, 1)]
    for layer, cell in enumerate(cells):
        sd = reference.state_dict()
        cell.load_state_dict({k: sd[f"{k}_l{layer}"] for k in cell.state_dict()})
    x = torch.randn(B, T, IN, dtype=torch.float64)
    hs = [torch.zeros(B, H, dtype=torch.float64) for _ in cells]
    outputs = []
    for t in range(T):
        inp = x[:, t]
        for layer, cell in enumerate(cells):
            hs[layer] = cell(inp, hs[layer])
            inp = hs[layer]
        outputs.append(inp)
    for core in (reference, scratch_stack):
        expected, h_n = core(x)
        torch.testing.assert_close(torch.stack(outputs, 1), expected, **TOL)
        torch.testing.assert_close(torch.stack(hs), h_n, **TOL)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_gradcheck(name: str) -> None:
    cell = getattr(rnn, name)(2, 3).double()
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)

    def f(x: Tensor, h: Tensor) -> Tensor:
        out = cell(x, (h, h.sin()) if name == "LSTMCell" else h)
        return torch.cat(out, -1) if isinstance(out, tuple) else out

    assert torch.autograd.gradcheck(f, (x, h))


def raised(call: Callable[[], object]) -> BaseException:
    """The exception `call` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as info:  # any type: the caller compares
        call()
    return info.value


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("GRUCell", (torch.randn(B, T, IN),)),  # 3-D input
        ("GRUCell", (torch.randn(B, IN + 1),)),  # input width
        ("RNNCell", (torch.randn(IN + 1),)),  # unbatched input width
        ("GRUCell", (torch.randn(B, IN), torch.zeros(B, H + 1))),  # hidden size
        ("RNNCell", (torch.randn(B, IN), torch.zeros(B + 1, H))),  # batch size
        ("LSTMCell", (torch.randn(B, IN), (torch.zeros(B, H + 1), torch.zeros(B, H + 1)))),
    ],
)
def test_cell_errors_are_torchs(name: str, args: tuple) -> None:
    """A mistake torch's cell reports raises the same exception type here."""
    expected = raised(lambda: getattr(nn, name)(IN, H)(*args))
    got = raised(lambda: getattr(rnn, name)(IN, H)(*args))
    assert type(got) is type(expected), (got, expected)


def test_cell_errors() -> None:
    with pytest.raises(ValueError, match="relu") as info:
        rnn.RNNCell(IN, H, nonlinearity="sigmoid")
    assert not isinstance(info.value, RnnkitError)
    with pytest.raises(ValueError, match="positive"):
        rnn.GRUCell(0, H)
    with pytest.raises(RuntimeError, match="4 input features, got 3"):
        rnn.GRUCell(4, H)(torch.randn(B, 3))
    with pytest.raises(RuntimeError, match=r"2 tensor\(s\) of shape \(2, 4\)"):
        rnn.LSTMCell(IN, H)(torch.randn(B, IN), (torch.zeros(B, H),))
