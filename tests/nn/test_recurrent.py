"""Parity of the scratch stacks `RNN`, `GRU`, `LSTM` with `torch.nn`, and `build_rnn`.

The centrepiece: with the same weights, outputs, final states and the gradients of every
parameter, of the input and of the initial state equal torch's, for each kind x num_layers
x direction x initial state x batch_first, in float64 (1e-10) and float32 (1e-5).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit.nn as rnn
from rnnkit.errors import RnnkitError
from rnnkit.nn.fused import FusedGRU, FusedLSTM, FusedRNN

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
SCRATCH = {"rnn": rnn.RNN, "gru": rnn.GRU, "lstm": rnn.LSTM}
FUSED = {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
IN, H, B, T = 3, 4, 2, 5


def pair(kind: str, dtype: torch.dtype, **kwargs: object) -> tuple[nn.Module, nn.Module]:
    """A torch module and its scratch twin holding the same (random) weights."""
    reference = TORCH[kind](IN, H, **kwargs).to(dtype)
    scratch = SCRATCH[kind](IN, H, **kwargs).to(dtype)
    scratch.load_state_dict(reference.state_dict())
    return reference, scratch


def run(
    core: nn.Module, x: Tensor, state: tuple[Tensor, ...] | None, seed: int = 1
) -> tuple[Tensor, tuple[Tensor, ...], dict[str, Tensor]]:
    """Output, final state parts and the gradients of a random linear loss."""
    x = x.clone().requires_grad_(True)
    leaves = {"input": x}
    if state is not None:
        state = tuple(s.clone().requires_grad_(True) for s in state)
        leaves |= {f"state{i}": s for i, s in enumerate(state)}
        hx = state[0] if len(state) == 1 else state
        output, final = core(x, hx)
    else:
        output, final = core(x)
    finals = (final,) if isinstance(final, Tensor) else tuple(final)
    gen = torch.Generator().manual_seed(seed)
    loss = sum(
        (t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in (output, *finals)
    )
    leaves |= dict(core.named_parameters())
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return output, finals, dict(zip(leaves, grads, strict=True))


def assert_parity(reference: nn.Module, scratch: nn.Module, x: Tensor, state, tol: float) -> None:
    out_r, fin_r, grad_r = run(reference, x, state)
    out_s, fin_s, grad_s = run(scratch, x, state)
    close = {"atol": tol, "rtol": tol}
    torch.testing.assert_close(out_s, out_r, **close)
    torch.testing.assert_close(fin_s, fin_r, **close)
    assert grad_s.keys() == grad_r.keys()
    for name in grad_r:
        torch.testing.assert_close(grad_s[name], grad_r[name], **close, msg=name)


def inputs(
    kind: str, layers: int, bidirectional: bool, with_state: bool, batch_first: bool, dtype
) -> tuple[Tensor, tuple[Tensor, ...] | None]:
    gen = torch.Generator().manual_seed(0)
    shape = (B, T, IN) if batch_first else (T, B, IN)
    x = torch.randn(shape, generator=gen, dtype=dtype)
    if not with_state:
        return x, None
    d = 2 if bidirectional else 1
    parts = 2 if kind == "lstm" else 1
    state = tuple(torch.randn(d * layers, B, H, generator=gen, dtype=dtype) for _ in range(parts))
    return x, state


GRID = list(itertools.product(["rnn", "gru", "lstm"], [1, 2, 3], [False, True], [False, True]))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(("kind", "layers", "bidirectional", "with_state"), GRID)
def test_float64_parity(
    kind: str, layers: int, bidirectional: bool, with_state: bool, batch_first: bool
) -> None:
    kwargs = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
    reference, scratch = pair(kind, torch.float64, **kwargs)
    x, state = inputs(kind, layers, bidirectional, with_state, batch_first, torch.float64)
    assert_parity(reference, scratch, x, state, tol=1e-10)


@pytest.mark.parametrize(("kind", "layers", "bidirectional", "with_state"), GRID)
def test_float32_parity(kind: str, layers: int, bidirectional: bool, with_state: bool) -> None:
    kwargs = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": True}
    reference, scratch = pair(kind, torch.float32, **kwargs)
    x, state = inputs(kind, layers, bidirectional, with_state, True, torch.float32)
    assert_parity(reference, scratch, x, state, tol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_parity_without_bias(kind: str) -> None:
    reference, scratch = pair(kind, torch.float64, num_layers=2, bias=False, bidirectional=True)
    assert not any("bias" in name for name in scratch.state_dict())
    x, state = inputs(kind, 2, True, True, False, torch.float64)
    assert_parity(reference, scratch, x, state, tol=1e-10)


def test_relu_rnn_parity() -> None:
    reference, scratch = pair("rnn", torch.float64, num_layers=2, nonlinearity="relu")
    x, state = inputs("rnn", 2, False, True, False, torch.float64)
    assert_parity(reference, scratch, x, state, tol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_unbatched_input(kind: str) -> None:
    reference, scratch = pair(kind, torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(T, IN, dtype=torch.float64)  # (T, I)
    out_r, fin_r = reference(x)
    out_s, fin_s = scratch(x)
    assert out_s.shape == (T, 2 * H)
    torch.testing.assert_close(out_s, out_r, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(fin_s, fin_r, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_same_seed_same_weights(kind: str) -> None:
    """Registration and initialisation follow torch's order: one seed, the same weights."""
    torch.manual_seed(3)
    reference = TORCH[kind](IN, H, num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    scratch = SCRATCH[kind](IN, H, num_layers=2, bidirectional=True)
    assert list(scratch.state_dict()) == list(reference.state_dict())
    for name, value in reference.state_dict().items():
        assert torch.equal(scratch.state_dict()[name], value), name
    bound = 1 / H**0.5
    assert all(p.abs().max() <= bound for p in scratch.parameters())


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_state_dict_moves_both_ways(kind: str) -> None:
    x = torch.randn(T, B, IN, dtype=torch.float64)
    torch_core = TORCH[kind](IN, H, num_layers=2, bidirectional=True).double()
    scratch = SCRATCH[kind](IN, H, num_layers=2, bidirectional=True).double()
    scratch.load_state_dict(torch_core.state_dict())  # torch -> scratch
    torch.testing.assert_close(scratch(x)[0], torch_core(x)[0], atol=1e-10, rtol=1e-10)
    fresh_scratch = SCRATCH[kind](IN, H, num_layers=2, bidirectional=True).double()
    fresh_torch = TORCH[kind](IN, H, num_layers=2, bidirectional=True).double()
    fresh_torch.load_state_dict(fresh_scratch.state_dict())  # scratch -> torch
    torch.testing.assert_close(fresh_torch(x)[0], fresh_scratch(x)[0], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("impl", [nn.RNN, rnn.RNN])
def test_pytorch_docs_shapes(impl: type[nn.Module]) -> None:
    """The example of torch's documentation: a time-major (10, 3, 100) through 4 layers."""
    core = impl(100, 20, num_layers=4)
    output, h = core(torch.randn(10, 3, 100))
    assert output.shape == (10, 3, 20)
    assert h.shape == (4, 3, 20)


def test_dropout_between_layers_only_in_training() -> None:
    core = rnn.LSTM(IN, H, num_layers=2, dropout=0.5, batch_first=True)
    x = torch.randn(B, T, IN)
    core.eval()
    first, second = core(x)[0], core(x)[0]
    assert torch.equal(first, second)
    core.train()
    torch.manual_seed(0)
    trained = core(x)[0]
    assert not torch.equal(trained, first)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_gradcheck(kind: str) -> None:
    """Analytic gradients of the scratch stack (input, state, every weight) match numerics."""
    core = SCRATCH[kind](2, 2, num_layers=2, bidirectional=True, batch_first=True).double()
    names = [name for name, _ in core.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in core.parameters())
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)

    def f(x: Tensor, h0: Tensor, *weights: Tensor) -> Tensor:
        state = (h0, h0.tanh()) if kind == "lstm" else h0
        output, _ = torch.func.functional_call(
            core, dict(zip(names, weights, strict=True)), (x, state)
        )
        return output

    assert torch.autograd.gradcheck(f, (x, h0, *params))


# --- token ids: one-hot input (the ids go in, never a one-hot vector) -------------------------


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_token_ids_equal_literal_one_hot(kind: str, bidirectional: bool) -> None:
    """torch (real one-hot) and scratch (column lookup) both equal a literal one-hot run."""
    vocab = 7
    kwargs = {"input_size": vocab, "hidden_size": H, "num_layers": 2}
    kwargs |= {"bidirectional": bidirectional}
    reference = TORCH[kind](**kwargs, batch_first=True).double()
    ids = torch.randint(0, vocab, (B, T))
    one_hot = F.one_hot(ids, vocab).double()  # (B, T, V)
    out_ref, fin_ref, grads_ref = run(reference, one_hot, None)
    del grads_ref["input"]
    for impl in ("torch", "scratch"):
        core = rnn.build_rnn(kind, impl, **kwargs).double()
        core.load_state_dict(reference.state_dict())
        output, final = core(ids)
        finals = (final,) if isinstance(final, Tensor) else tuple(final)
        gen = torch.Generator().manual_seed(1)
        loss = sum(
            (t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum()
            for t in (output, *finals)
        )
        names, params = zip(*core.named_parameters(), strict=True)
        grads = dict(zip(names, torch.autograd.grad(loss, params), strict=True))
        assert grads.keys() == grads_ref.keys()
        torch.testing.assert_close(output, out_ref, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(finals, fin_ref, atol=1e-12, rtol=1e-12)
        for name in grads_ref:
            torch.testing.assert_close(grads[name], grads_ref[name], atol=1e-12, rtol=1e-12)


# --- build_rnn ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "impl"), list(itertools.product(["rnn", "gru", "lstm"], ["torch", "scratch"]))
)
def test_build_rnn_interface(kind: str, impl: str) -> None:
    core = rnn.build_rnn(kind, impl, input_size=IN, hidden_size=H, num_layers=2, bidirectional=True)
    assert core.batch_first
    output, state = core(torch.randn(B, T, IN))
    assert output.shape == (B, T, 2 * H)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == (2 if kind == "lstm" else 1)
    assert all(p.shape == (4, B, H) for p in parts)
    assert "weight_ih_l1_reverse" in core.state_dict()


def test_build_rnn_torch_is_torch() -> None:
    core = rnn.build_rnn("gru", input_size=IN, hidden_size=H)
    assert isinstance(core, nn.GRU)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": "lstmm", "impl": "torch"}, ["'lstmm'", "gru", "lstm", "rnn"]),
        ({"kind": "lstm", "impl": "numpy"}, ["'numpy'", "scratch", "torch"]),
    ],
)
def test_build_rnn_errors_list_valid_keys(kwargs: dict[str, str], words: list[str]) -> None:
    with pytest.raises(RnnkitError) as info:
        rnn.build_rnn(**kwargs, input_size=IN, hidden_size=H)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_layers": 0}, "num_layers must be at least 1, got 0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"hidden_size": 0}, "must be positive"),
    ],
)
@pytest.mark.parametrize("impl", ["torch", "scratch", "fused"])
def test_build_rnn_refuses_bad_sizes_as_rnnkit_errors(
    impl: str, kwargs: dict[str, object], message: str
) -> None:
    """User config reaches build_rnn: its mistakes read as one-line RnnkitErrors, any impl."""
    arguments = {"input_size": IN, "hidden_size": H, "num_layers": 2} | kwargs
    with pytest.raises(RnnkitError, match=message):
        rnn.build_rnn("gru", impl, **arguments)  # type: ignore[arg-type]


def raised(call: Callable[[], object]) -> BaseException:
    """The exception `call` raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as info:  # any type: the caller compares
        call()
    return info.value


# mistake -> (constructor arguments, input shape, initial state shape or None)
MISTAKES: dict[str, tuple[dict[str, object], tuple[int, ...], tuple[int, ...] | None]] = {
    "dropout out of range": ({"dropout": 1.5}, (B, T, IN), None),
    "dropout negative": ({"dropout": -0.1}, (B, T, IN), None),
    "no layers": ({"num_layers": 0}, (B, T, IN), None),
    "hidden size 0": ({"hidden_size": 0}, (B, T, IN), None),
    "input width": ({}, (B, T, IN + 1), None),
    "input rank": ({}, (B, T, IN, 1), None),
    "empty sequence": ({}, (B, 0, IN), None),
    "state layers": ({}, (B, T, IN), (1, B, H)),
    "unbatched input, batched state": ({}, (T, IN), (2, B, H)),
}


@pytest.mark.parametrize("impl", ["scratch", "fused"])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_errors_are_torchs(impl: str, kind: str, mistake: str) -> None:
    """A mistake `torch.nn` reports raises the same exception type here (not RnnkitError)."""
    kwargs, shape, state_shape = MISTAKES[mistake]
    x = torch.randn(shape)
    hx = None if state_shape is None else torch.zeros(state_shape)
    if hx is not None and kind == "lstm":
        hx = (hx, hx)
    arguments = {"input_size": IN, "hidden_size": H, "num_layers": 2, "batch_first": True}
    arguments |= kwargs
    ours = {"scratch": SCRATCH, "fused": FUSED}[impl][kind]
    expected = raised(lambda: TORCH[kind](**arguments)(x, hx))
    got = raised(lambda: ours(**arguments)(x, hx))
    assert type(got) is type(expected), (got, expected)


def test_bad_initial_state_is_a_clear_error() -> None:
    core = rnn.GRU(IN, H, num_layers=2, batch_first=True)
    with pytest.raises(RuntimeError, match=r"\(2, 2, 4\)"):
        core(torch.randn(B, T, IN), torch.zeros(1, B, H))
    with pytest.raises(RuntimeError, match="input features"):
        core(torch.randn(B, T, IN + 1))
    with pytest.raises(RuntimeError, match=r"a state of 1 tensor\(s\), got 2"):
        core(torch.randn(B, T, IN), (torch.zeros(2, B, H), torch.zeros(2, B, H)))
    with pytest.raises(ValueError, match="nonlinearity") as info:
        rnn.RNN(IN, H, nonlinearity="gelu")
    assert not isinstance(info.value, RnnkitError)
