"""RNNLM: shapes, state handling, one-hot mode equal to d2l's RNNModel, and its errors."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.config import ModelConfig
from rnnkit.errors import RnnkitError
from rnnkit.lm.model import RNNLM
from rnnkit.nn.state import detach

V, H, B, T = 11, 6, 3, 7
COMBOS = list(itertools.product(["rnn", "gru", "lstm"], ["torch", "scratch"]))


def tokens(seed: int = 0) -> Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


class D2lRNNModel(nn.Module):
    """d2l's `RNNModel` (chapter 8.6), verbatim but for the dtype: the reference for onehot."""

    def __init__(self, rnn_layer: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.linear = nn.Linear(rnn_layer.hidden_size, vocab_size)

    def forward(self, inputs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        X = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float64)  # (T, B, V)
        Y, state = self.rnn(X, state)  # (T, B, H)
        return self.linear(Y.reshape((-1, Y.shape[-1]))), state  # (T*B, V)


@pytest.mark.parametrize(("kind", "impl"), COMBOS)
@pytest.mark.parametrize("input_mode", ["embedding", "onehot"])
def test_shapes_and_begin_state(kind: str, impl: str, input_mode: str) -> None:
    model = RNNLM(V, kind, H, num_layers=2, input_mode=input_mode, impl=impl)  # type: ignore[arg-type]
    logits, state = model(tokens())
    assert logits.shape == (B, T, V)
    zero = model.begin_state(B, "cpu")
    parts = state if isinstance(state, tuple) else (state,)
    zero_parts = zero if isinstance(zero, tuple) else (zero,)
    assert len(parts) == len(zero_parts) == (2 if kind == "lstm" else 1)
    for part, z in zip(parts, zero_parts, strict=True):
        assert part.shape == z.shape == (2, B, H)
        assert not z.any()
    torch.testing.assert_close(model(tokens(), zero)[0], logits)


@pytest.mark.parametrize(("kind", "impl"), COMBOS)
def test_state_carries_across_chunks(kind: str, impl: str) -> None:
    """Feeding a sequence in two chunks, carrying the state, equals feeding it at once."""
    model = RNNLM(V, kind, H, num_layers=2, impl=impl).double().eval()  # type: ignore[arg-type]
    x = tokens()
    whole, _ = model(x)
    first, state = model(x[:, :3])
    second, _ = model(x[:, 3:], detach(state))
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize(("kind", "impl"), COMBOS)
def test_onehot_mode_equals_d2l_rnn_model(kind: str, impl: str) -> None:
    """onehot RNNLM (torch: real one-hot; scratch: column lookup) == d2l's RNNModel, float64."""
    layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](V, H, num_layers=2)
    reference = D2lRNNModel(layer, V).double()
    model = RNNLM(V, kind, H, num_layers=2, input_mode="onehot", impl=impl).double()  # type: ignore[arg-type]
    renamed = {
        k.replace("rnn.", "core.").replace("linear.", "head."): v
        for k, v in reference.state_dict().items()
    }
    model.load_state_dict(renamed)

    x = tokens()
    gen = torch.Generator().manual_seed(1)
    h0 = torch.randn(2, B, H, generator=gen, dtype=torch.float64)
    state = (h0, h0.cos()) if kind == "lstm" else h0
    weights = torch.randn(B, T, V, generator=gen, dtype=torch.float64)

    ref_out, ref_state = reference(x, state)
    ref_logits = ref_out.reshape(T, B, V).transpose(0, 1)  # (B, T, V)
    (ref_logits * weights).sum().backward()
    logits, out_state = model(x, state)
    (logits * weights).sum().backward()

    close = {"atol": 1e-12, "rtol": 1e-12}
    torch.testing.assert_close(logits, ref_logits, **close)
    torch.testing.assert_close(out_state, ref_state, **close)
    ref_params = dict(reference.named_parameters())
    for name, p in model.named_parameters():
        ref_name = name.replace("core.", "rnn.").replace("head.", "linear.")
        torch.testing.assert_close(p.grad, ref_params[ref_name].grad, **close, msg=name)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_state_dict_moves_between_impls(kind: str) -> None:
    torch_model = RNNLM(V, kind, H, num_layers=2, embedding_dim=4).double()  # type: ignore[arg-type]
    scratch_model = RNNLM(V, kind, H, num_layers=2, embedding_dim=4, impl="scratch").double()  # type: ignore[arg-type]
    scratch_model.load_state_dict(torch_model.state_dict())
    torch.testing.assert_close(
        scratch_model(tokens())[0], torch_model(tokens())[0], atol=1e-12, rtol=1e-12
    )


def test_tie_weights_shares_the_table() -> None:
    model = RNNLM(V, "gru", H, tie_weights=True)
    assert model.embedding is not None
    assert model.head.weight is model.embedding.weight
    untied = RNNLM(V, "gru", H)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in untied.parameters()) - V * H


def test_dropout_only_in_training() -> None:
    model = RNNLM(V, "lstm", H, num_layers=2, dropout=0.5)
    model.eval()
    assert torch.equal(model(tokens())[0], model(tokens())[0])
    model.train()
    assert not torch.equal(model(tokens())[0], model(tokens())[0])


def test_from_config() -> None:
    cfg = ModelConfig(kind="gru", impl="scratch", hidden_size=8, num_layers=2, embedding_dim=5)
    model = RNNLM.from_config(cfg, vocab_size=V)
    assert (model.kind, model.impl, model.num_layers) == ("gru", "scratch", 2)
    assert model.embedding is not None and model.embedding.embedding_dim == 5
    assert model(tokens())[0].shape == (B, T, V)


def test_float_tokens_are_refused() -> None:
    with pytest.raises(RnnkitError, match=r"\(B, T\)"):
        RNNLM(V, hidden_size=H)(torch.zeros(B, T, V))
