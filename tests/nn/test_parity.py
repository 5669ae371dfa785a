"""`rnnkit.nn.parity.verify`, the check behind `rnnkit verify`."""

from __future__ import annotations

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.nn import GRU, IMPLS, LSTM, RNN
from rnnkit.nn.parity import compare, verify


def test_verify_prints_table_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify("float64", impls=("scratch",))
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.split()[:2] in (["lstm", "scratch"], ["gru", "scratch"])]
    assert len(rows) == 12
    assert all(line.endswith("ok") for line in rows)


class _SwappedGatesGRU(GRU):
    """A GRU with a bug: it swaps the reset and update gates."""

    def step(self, gi, state, weight_hh, bias_hh):  # type: ignore[no-untyped-def]
        r, z, n = weight_hh.chunk(3)
        return super().step(gi, state, torch.cat([z, r, n]), bias_hh)


def test_verify_fails_on_a_broken_impl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = {"rnn": RNN, "gru": _SwappedGatesGRU, "lstm": LSTM}
    monkeypatch.setitem(IMPLS, "broken", broken)
    assert compare("gru", "broken", 1, False).grad > 1e-3
    assert not verify("float64", impls=("broken",))
    assert "MISMATCH" in capsys.readouterr().out


def test_verify_rejects_unknown_names() -> None:
    with pytest.raises(RnnkitError, match="dtype"):
        verify("float16")
    with pytest.raises(RnnkitError, match="scratch"):
        verify(impls=("numpy",))
