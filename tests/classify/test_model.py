"""SequenceClassifierNet: packing makes a sequence's logits the same alone and in a padded
batch, for every core; the four poolings read only each sequence's own steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnkit.classify.model import SequenceClassifierNet, pad_batch
from rnnkit.errors import ConfigError


def _inputs(tokens: bool, lengths: tuple[int, ...] = (3, 9, 14)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if tokens:
        return [rng.integers(0, 6, size=n) for n in lengths]
    return [rng.normal(size=(n, 2)).astype(np.float32) for n in lengths]


def _logits(net: SequenceClassifierNet, arrays: list[np.ndarray]) -> torch.Tensor:
    x, lengths = pad_batch(arrays)
    with torch.no_grad():
        return net(torch.as_tensor(x), torch.as_tensor(lengths))


POOLINGS = ["last", "mean", "max", "attention"]


# Every kind, pooling and input for the torch core; the scratch and fused cores on the
# poolings that read the final states (last) and every step (attention).
CASES = [
    (impl, kind, pooling, tokens, patch)
    for impl in ("torch", "scratch", "fused")
    for kind in ("rnn", "gru", "lstm")
    for pooling in (POOLINGS if impl == "torch" else ["last", "attention"])
    for tokens, patch in (
        [(True, 1), (False, 1), (False, 4)] if impl == "torch" else [(True, 1), (False, 4)]
    )
]


@pytest.mark.parametrize(("impl", "kind", "pooling", "tokens", "patch"), CASES)
def test_alone_equals_inside_a_padded_batch(
    impl: str, kind: str, pooling: str, tokens: bool, patch: int
) -> None:
    net = SequenceClassifierNet(
        6 if tokens else 2,
        3,
        tokens=tokens,
        kind=kind,
        impl=impl,
        hidden_size=8,
        num_layers=2,
        bidirectional=True,
        pooling=pooling,
        embed_size=4,
        patch=patch,
    ).eval()
    arrays = _inputs(tokens)
    batch = _logits(net, arrays)  # (3, 3)
    alone = torch.cat([_logits(net, [a]) for a in arrays])
    assert batch.shape == (3, 3)
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("impl", ["torch", "scratch", "fused"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_values_are_never_read(impl: str, pooling: str) -> None:
    net = SequenceClassifierNet(
        2, 2, tokens=False, hidden_size=8, pooling=pooling, impl=impl, bidirectional=True
    ).eval()
    arrays = _inputs(False, (4, 10))
    x, lengths = pad_batch(arrays)
    noisy = x.copy()
    noisy[0, 4:] = 1e3  # garbage past the first sequence's end
    with torch.no_grad():
        clean = net(torch.as_tensor(x), torch.as_tensor(lengths))
        dirty = net(torch.as_tensor(noisy), torch.as_tensor(lengths))
    torch.testing.assert_close(clean, dirty)


def test_the_poolings_differ_and_unknown_ones_fail() -> None:
    torch.manual_seed(0)
    arrays = _inputs(False)
    outs = []
    for pooling in POOLINGS:
        torch.manual_seed(0)
        net = SequenceClassifierNet(2, 3, tokens=False, hidden_size=8, pooling=pooling).eval()
        outs.append(_logits(net, arrays))
    for a, b in itertools.pairwise(outs):
        assert not torch.allclose(a, b)
    with pytest.raises(ConfigError, match="pooling"):
        SequenceClassifierNet(2, 3, tokens=False, pooling="sum")


def test_spec_rebuilds_the_same_network() -> None:
    net = SequenceClassifierNet(2, 3, tokens=False, kind="lstm", hidden_size=8, patch=2)
    twin = SequenceClassifierNet(**net.spec())
    twin.load_state_dict(net.state_dict())
    arrays = _inputs(False)
    torch.testing.assert_close(_logits(net.eval(), arrays), _logits(twin.eval(), arrays))


@pytest.mark.parametrize("impl", ["scratch", "fused"])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_every_core_gives_the_torch_cores_logits_and_gradients(
    impl: str, kind: str, pooling: str
) -> None:
    """The same weights in another core: the same logits and gradients on a padded batch."""
    spec = {"tokens": False, "kind": kind, "hidden_size": 8, "num_layers": 2}
    spec |= {"bidirectional": True, "pooling": pooling}
    torch.manual_seed(0)
    ref = SequenceClassifierNet(2, 3, impl="torch", **spec)
    ours = SequenceClassifierNet(2, 3, impl=impl, **spec)
    ours.load_state_dict(ref.state_dict())
    x, lengths = pad_batch(_inputs(False))
    for net in (ref, ours):
        net(torch.as_tensor(x), torch.as_tensor(lengths)).square().sum().backward()
    torch.testing.assert_close(
        _logits(ours.eval(), _inputs(False)), _logits(ref.eval(), _inputs(False))
    )
    grads = dict(ref.named_parameters())
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, grads[name].grad, atol=1e-5, rtol=1e-5)
