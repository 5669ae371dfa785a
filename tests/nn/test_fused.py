"""The fused cores `FusedRNN`, `FusedGRU`, `FusedLSTM` (`impl="fused"`) equal `torch.nn`.

With the same weights: outputs, final states and the gradients of every parameter, of the
input and of the initial state, for each kind x num_layers x initial state x float input
or token ids, in float64 (1e-10) and float32 (1e-5); truncated BPTT over two batches;
dropout between layers under one seed; gradcheck; state_dict both ways; registration.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from rnnkit.errors import RnnkitError
from rnnkit.nn import IMPLS, build_rnn
from rnnkit.nn.fused import FusedGRU, FusedLSTM, FusedRNN
from rnnkit.nn.parity import compare
from rnnkit.nn.state import detach

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
FUSED = {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
IN, H, B, T = 5, 4, 3, 6


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread, so a busy shared machine does not stall the threads' barriers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pair(
    kind: str, dtype: torch.dtype, input_size: int = IN, hidden_size: int = H, **kwargs: object
) -> tuple[nn.Module, nn.Module]:
    """A torch.nn module and its fused twin holding the same (random) weights."""
    reference = TORCH[kind](input_size, hidden_size, **kwargs).to(dtype)
    fused = FUSED[kind](input_size, hidden_size, **kwargs).to(dtype)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def run(
    core: nn.Module, x: Tensor, state: tuple[Tensor, ...] | None, seed: int = 1
) -> tuple[Tensor, tuple[Tensor, ...], dict[str, Tensor]]:
    """Output, final state parts and the gradients of a random linear loss of both."""
    leaves: dict[str, Tensor] = {}
    if x.is_floating_point():
        x = x.clone().requires_grad_(True)
        leaves["input"] = x
    if state is not None:
        state = tuple(s.clone().requires_grad_(True) for s in state)
        leaves |= {f"state{i}": s for i, s in enumerate(state)}
        output, final = core(x, state[0] if len(state) == 1 else state)
    else:
        output, final = core(x)
    finals = (final,) if isinstance(final, Tensor) else tuple(final)
    gen = torch.Generator().manual_seed(seed)
    # Drawn in float64 whatever the dtype, so runs in different dtypes weigh alike.
    loss = sum(
        (t * torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t.dtype)).sum()
        for t in (output, *finals)
    )
    leaves |= dict(core.named_parameters())
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return output, finals, dict(zip(leaves, grads, strict=True))


def assert_same(
    reference: nn.Module,
    fused: nn.Module,
    x_ref: Tensor,
    x_fused: Tensor,
    state: tuple[Tensor, ...] | None,
    tol: float,
) -> None:
    """Outputs and final states agree within `tol`, every gradient within `tol` of its scale.

    A weight gradient sums B*T terms, so its rounding grows with its size: the gradients
    are compared with an absolute tolerance of `tol` times their largest entry (when > 1).
    """
    out_r, fin_r, grad_r = run(reference, x_ref, state)
    out_f, fin_f, grad_f = run(fused, x_fused, state)
    close = {"atol": tol, "rtol": tol}
    torch.testing.assert_close(out_f, out_r, **close)
    torch.testing.assert_close(fin_f, fin_r, **close)
    if not x_fused.is_floating_point():
        grad_r.pop("input")  # the one-hot tensor's gradient has no twin for token ids
    assert grad_f.keys() == grad_r.keys()
    for name, expected in grad_r.items():
        scale = max(1.0, float(expected.abs().max()))
        torch.testing.assert_close(grad_f[name], expected, atol=tol * scale, rtol=tol, msg=name)


def inputs(
    kind: str,
    layers: int,
    with_state: bool,
    ids: bool,
    dtype: torch.dtype,
    batch_first: bool = True,
    directions: int = 1,
    input_size: int = IN,
    hidden_size: int = H,
    batch: int = B,
    steps: int = T,
    seed: int = 0,
) -> tuple[Tensor, Tensor, tuple[Tensor, ...] | None]:
    """(input for torch, input for fused, initial state): ids go to torch as one-hot."""
    gen = torch.Generator().manual_seed(seed)
    lead = (batch, steps) if batch_first else (steps, batch)
    if ids:
        x_fused = torch.randint(0, input_size, lead, generator=gen)  # (B, T)
        x_ref = F.one_hot(x_fused, input_size).to(dtype)  # (B, T, I)
    else:
        x_fused = x_ref = torch.randn(*lead, input_size, generator=gen, dtype=dtype)
    if not with_state:
        return x_ref, x_fused, None
    parts = 2 if kind == "lstm" else 1
    shape = (directions * layers, batch, hidden_size)
    state = tuple(torch.randn(shape, generator=gen, dtype=dtype) for _ in range(parts))
    return x_ref, x_fused, state


GRID = list(itertools.product(["rnn", "gru", "lstm"], [1, 2, 3], [False, True], [False, True]))


@pytest.mark.parametrize(("kind", "layers", "with_state", "ids"), GRID)
def test_float64_parity(kind: str, layers: int, with_state: bool, ids: bool) -> None:
    reference, fused = pair(kind, torch.float64, num_layers=layers, batch_first=True)
    x_ref, x_fused, state = inputs(kind, layers, with_state, ids, torch.float64)
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("ids", [False, True])
def test_time_major_and_bidirectional(kind: str, ids: bool) -> None:
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": False}
    reference, fused = pair(kind, torch.float64, **kwargs)
    x_ref, x_fused, state = inputs(kind, 2, True, ids, torch.float64, False, directions=2)
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-10)


def test_relu_rnn_parity() -> None:
    reference, fused = pair("rnn", torch.float64, num_layers=2, nonlinearity="relu")
    x_ref, x_fused, state = inputs("rnn", 2, True, False, torch.float64, batch_first=False)
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_float32_parity(kind: str) -> None:
    """d2l-like sizes, smaller: one-hot ids, 2 layers, 20 steps, float32 within 1e-5."""
    sizes = {"input_size": 28, "hidden_size": 32}
    reference, fused = pair(kind, torch.float32, **sizes, num_layers=2, batch_first=True)
    x_ref, x_fused, state = inputs(kind, 2, True, True, torch.float32, **sizes, steps=20)
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_truncated_bptt_two_batches(kind: str) -> None:
    """The state of one batch, detached, starts the next; both steps' gradients agree."""
    reference, fused = pair(kind, torch.float64, num_layers=2, batch_first=True)
    results = []
    for core, one_hot in ((reference, True), (fused, False)):
        core.zero_grad()
        state = None
        outputs = []
        for seed in (0, 1):
            gen = torch.Generator().manual_seed(seed)
            ids = torch.randint(0, IN, (B, T), generator=gen)
            x = F.one_hot(ids, IN).double() if one_hot else ids
            output, state = core(x, state)
            (output * torch.randn(output.shape, generator=gen, dtype=output.dtype)).sum().backward()
            state = detach(state)
            outputs.append(output.detach())
        grads = {name: p.grad.clone() for name, p in core.named_parameters()}
        results.append((outputs, state, grads))
    (out_r, state_r, grads_r), (out_f, state_f, grads_f) = results
    close = {"atol": 1e-10, "rtol": 1e-10}
    torch.testing.assert_close(out_f, out_r, **close)
    torch.testing.assert_close(state_f, state_r, **close)
    for name in grads_r:
        torch.testing.assert_close(grads_f[name], grads_r[name], **close, msg=name)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_gradcheck(kind: str) -> None:
    core = FUSED[kind](3, 2, num_layers=2, batch_first=True).double()
    parts = 2 if kind == "lstm" else 1
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(
        torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True) for _ in range(parts)
    )
    params = list(core.parameters())
    names = [name for name, _ in core.named_parameters()]

    def fn(x: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        hx, weights = rest[:parts], rest[parts:]
        params = dict(zip(names, weights, strict=True))
        output, final = functional_call(core, params, (x, hx[0] if parts == 1 else hx))
        return (output, *((final,) if isinstance(final, Tensor) else final))

    assert torch.autograd.gradcheck(fn, (x, *state, *params))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_gradcheck_token_ids(kind: str) -> None:
    core = FUSED[kind](4, 3, batch_first=True).double()
    ids = torch.tensor([[0, 3, 3, 1], [2, 0, 1, 3]])  # (B, T), repeated ids share a row
    names = [name for name, _ in core.named_parameters()]

    def fn(*weights: Tensor) -> Tensor:
        return functional_call(core, dict(zip(names, weights, strict=True)), (ids,))[0]

    assert torch.autograd.gradcheck(fn, tuple(core.parameters()))


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_state_dict_moves_both_ways_and_same_seed_same_weights(kind: str) -> None:
    torch.manual_seed(3)
    reference = TORCH[kind](IN, H, num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    fused = FUSED[kind](IN, H, num_layers=2, bidirectional=True)
    assert list(fused.state_dict()) == list(reference.state_dict())
    for name, tensor in reference.state_dict().items():
        assert torch.equal(fused.state_dict()[name], tensor), name
    other = TORCH[kind](IN, H, num_layers=2, bidirectional=True)
    other.load_state_dict(fused.state_dict())
    fused.load_state_dict(TORCH[kind](IN, H, num_layers=2, bidirectional=True).state_dict())


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_dropout_matches_torch_under_one_seed(kind: str) -> None:
    reference, fused = pair(kind, torch.float64, num_layers=3, dropout=0.5, batch_first=True)
    x = torch.randn(B, T, IN, dtype=torch.float64)
    torch.manual_seed(7)
    out_r, _ = reference(x)
    torch.manual_seed(7)
    out_f, _ = fused(x)
    torch.testing.assert_close(out_f, out_r, atol=1e-10, rtol=1e-10)
    torch.manual_seed(8)
    assert not torch.allclose(fused(x)[0], out_f)  # a new mask
    fused.eval()
    reference.eval()
    torch.testing.assert_close(fused(x)[0], reference(x)[0], atol=1e-10, rtol=1e-10)


def test_build_rnn_and_verify_know_fused() -> None:
    core = build_rnn("lstm", "fused", input_size=IN, hidden_size=H, num_layers=2)
    assert isinstance(core, FusedLSTM)
    assert core.batch_first
    assert IMPLS["fused"] == {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
    row = compare("gru", "fused", 2, True)
    assert row.ok(1e-10)


def test_unbatched_input_and_no_grad() -> None:
    reference, fused = pair("gru", torch.float64, num_layers=2)
    x = torch.randn(T, IN, dtype=torch.float64)  # (T, I)
    h = torch.randn(2, H, dtype=torch.float64)  # (L, H)
    with torch.no_grad():
        out_f, h_f = fused(x, h)
    out_r, h_r = reference(x, h)
    torch.testing.assert_close(out_f, out_r, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(h_f, h_r, atol=1e-10, rtol=1e-10)


def test_clear_errors() -> None:
    """Constructor mistakes are ValueErrors, forward-time sizes RuntimeErrors, as in torch."""
    with pytest.raises(ValueError, match="bias") as info:
        FusedRNN(IN, H, bias=False)
    assert not isinstance(info.value, RnnkitError)
    with pytest.raises(ValueError, match="nonlinearity"):
        FusedRNN(IN, H, nonlinearity="gelu")
    core = FusedLSTM(IN, H, batch_first=True)
    with pytest.raises(RuntimeError, match=r"\[0, 5\)"):
        core(torch.tensor([[0, 5]]))
    with pytest.raises(RuntimeError, match="input features"):
        core(torch.randn(B, T, IN + 1))
    with pytest.raises(ValueError, match="float64"):
        core(torch.randn(B, T, IN, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"\(h, c\)"):
        core(torch.randn(B, T, IN), torch.zeros(1, B, H))
    with pytest.raises(RuntimeError, match="shape"):
        core(torch.randn(B, T, IN), (torch.zeros(2, B, H), torch.zeros(2, B, H)))
    with pytest.raises(ValueError, match="token ids"):
        core(torch.randn(B, T, IN, 1))
    with pytest.raises(RuntimeError, match=r"empty batch \(B = 0\)"):
        core(torch.randn(0, T, IN))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("vocab", [28, 1028])
def test_float32_parity_at_d2l_size(kind: str, vocab: int) -> None:
    """The d2l shapes themselves: H = 256, batch 32, 35 steps, 2 layers, one-hot ids."""
    sizes = {"input_size": vocab, "hidden_size": 256}
    reference, fused = pair(kind, torch.float32, **sizes, num_layers=2, batch_first=True)
    x_ref, x_fused, state = inputs(kind, 2, True, True, torch.float32, **sizes, batch=32, steps=35)
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_token_ids_from_a_vocabulary_larger_than_the_batch(kind: str) -> None:
    """Fewer tokens than vocabulary entries (sampling) take the column-gather path."""
    sizes = {"input_size": 40, "hidden_size": H}
    reference, fused = pair(kind, torch.float64, **sizes, num_layers=2, batch_first=True)
    x_ref, x_fused, state = inputs(kind, 2, True, True, torch.float64, **sizes, steps=2)
    assert x_fused.numel() < 40
    assert_same(reference, fused, x_ref, x_fused, state, tol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize(("ids", "batch_first"), [(True, True), (False, False)])
def test_single_step_without_grad_matches_torch(kind: str, ids: bool, batch_first: bool) -> None:
    """Sampling feeds one step at a time under no_grad: the plain cell path, same numbers."""
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first}
    reference, fused = pair(kind, torch.float64, **kwargs)
    x_ref, x_fused, state = inputs(kind, 2, True, ids, torch.float64, batch_first, 2, steps=1)
    assert state is not None
    hx = state[0] if len(state) == 1 else state
    with torch.no_grad():
        out_r, final_r = reference(x_ref, hx)
        out_f, final_f = fused(x_fused, hx)
        out_zero, _ = fused(x_fused)  # no state: zeros
    close = {"atol": 1e-10, "rtol": 1e-10}
    torch.testing.assert_close(out_f, out_r, **close)
    torch.testing.assert_close(final_f, final_r, **close)
    torch.testing.assert_close(out_zero, reference(x_ref)[0].detach(), **close)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_language_model_trains_the_same_with_either_core(kind: str) -> None:
    """d2l's loop in small: one-hot RNNLM, SGD with clipping, state carried and detached."""
    from rnnkit.lm.model import RNNLM

    losses = []
    reference = None
    for impl in ("torch", "fused"):
        model = RNNLM(11, kind, hidden_size=8, num_layers=2, input_mode="onehot", impl=impl)
        model = model.double()
        if reference is None:
            reference = {name: t.clone() for name, t in model.state_dict().items()}
        model.load_state_dict(reference)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        gen = torch.Generator().manual_seed(0)
        state, trace = None, []
        for _ in range(4):
            tokens = torch.randint(0, 11, (3, 7), generator=gen)  # (B, T)
            logits, state = model(tokens[:, :-1], state)  # (B, T-1, V)
            loss = F.cross_entropy(logits.reshape(-1, 11), tokens[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            state = detach(state)
            trace.append(loss.item())
        losses.append(trace)
    assert losses[0] == pytest.approx(losses[1], abs=1e-10)
