"""Packed (variable-length) batches through the scratch and fused stacks equal torch.nn's.

Each direction must start and end at a sequence's own real steps: outputs, final states and
the gradients of the input, the initial state and every weight are compared with torch's
packed run of the same weights.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.recurrent import IMPLS, available_impls
from rnnkit.nn.state import parts

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
LENGTHS = [5, 1, 7, 3, 7, 2]  # unsorted, with ties, a single step and the full length


def _run(core: nn.Module, x: Tensor, h0: tuple[Tensor, ...] | None, batch_first: bool) -> Tensor:
    """A scalar of every output and final state part, weighted so that no gradient cancels."""
    lengths = torch.tensor(LENGTHS)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    hx = None if h0 is None else (h0 if len(h0) == 2 else h0[0])
    out, state = core(packed, hx)
    padded, out_lengths = pad_packed_sequence(out, batch_first=batch_first)
    assert out_lengths.tolist() == LENGTHS
    gen = torch.Generator().manual_seed(1)
    loss = (padded * torch.randn(padded.shape, generator=gen, dtype=x.dtype)).sum()
    for part in parts(state):
        loss = loss + (part * torch.randn(part.shape, generator=gen, dtype=x.dtype)).sum()
    return torch.cat([padded.flatten(), *(p.flatten() for p in parts(state))]), loss


def _outputs_and_grads(
    core: nn.Module, x: Tensor, h0: tuple[Tensor, ...] | None, batch_first: bool
) -> list[Tensor]:
    x = x.clone().requires_grad_(True)
    h = None if h0 is None else tuple(p.clone().requires_grad_(True) for p in h0)
    values, loss = _run(core, x, h, batch_first)
    loss.backward()
    grads = [x.grad, *(p.grad for p in h or ())]
    grads += [p.grad for _, p in sorted(core.named_parameters())]
    return [values.detach(), *grads]


@pytest.mark.parametrize("impl", ["scratch", "fused"])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_equals_torch(impl: str, kind: str, num_layers: int, bidirectional: bool) -> None:
    available_impls()
    torch.manual_seed(0)
    ref = TORCH[kind](4, 5, num_layers, batch_first=True, bidirectional=bidirectional).double()
    ours = IMPLS[impl][kind](4, 5, num_layers, batch_first=True, bidirectional=bidirectional)
    ours = ours.double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(len(LENGTHS), max(LENGTHS), 4, dtype=torch.float64)
    d = 2 if bidirectional else 1
    state_parts = 2 if kind == "lstm" else 1
    for h0 in (
        None,
        tuple(torch.randn(d * num_layers, len(LENGTHS), 5).double() for _ in range(state_parts)),
    ):
        want = _outputs_and_grads(ref, x, h0, True)
        got = _outputs_and_grads(ours, x, h0, True)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("impl", ["scratch", "fused"])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_packed_float32_time_major(impl: str, kind: str) -> None:
    """float32, time-major: within 1e-6 (absolute and relative) of torch's packed run."""
    available_impls()
    torch.manual_seed(0)
    ref = TORCH[kind](3, 6, 2, bidirectional=True)
    ours = IMPLS[impl][kind](3, 6, 2, bidirectional=True)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(max(LENGTHS), len(LENGTHS), 3)
    for a, b in zip(
        _outputs_and_grads(ours, x, None, False),
        _outputs_and_grads(ref, x, None, False),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", ["scratch", "fused"])
def test_full_length_packed_takes_the_plain_path(impl: str) -> None:
    """Every sequence full length: the same numbers as the unpacked call."""
    available_impls()
    torch.manual_seed(0)
    core = IMPLS[impl]["lstm"](3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(2, 5, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 5]), batch_first=True)
    out, (h, c) = core(packed)
    plain, (h2, c2) = core(x)
    torch.testing.assert_close(pad_packed_sequence(out, batch_first=True)[0], plain)
    torch.testing.assert_close(h, h2)
    torch.testing.assert_close(c, c2)


@pytest.mark.parametrize("impl", ["torch", "scratch", "fused"])
def test_forward_padded_is_the_packed_run_padded_with_zeros(impl: str) -> None:
    """`forward_padded(x, lengths)` on every core: torch's packed outputs, zeros past each
    end, and the states at each sequence's own ends."""
    available_impls()
    torch.manual_seed(0)
    ref = nn.GRU(3, 4, 2, batch_first=True, bidirectional=True)
    core = IMPLS[impl]["gru"](3, 4, 2, batch_first=True, bidirectional=True)
    core.load_state_dict(ref.state_dict())
    x = torch.randn(len(LENGTHS), max(LENGTHS), 3)
    lengths = torch.tensor(LENGTHS)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, h_want = ref(packed)
    got, h_got = core.forward_padded(x, lengths)
    torch.testing.assert_close(got, pad_packed_sequence(want, batch_first=True)[0])
    torch.testing.assert_close(h_got, h_want)
