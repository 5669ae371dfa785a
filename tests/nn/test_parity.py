"""`rnnkit.nn.parity.verify`, the check behind `rnnkit verify`, and the command's table."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.errors import RnnkitError
from rnnkit.nn import GRU, IMPLS, LSTM, RNN, parity
from rnnkit.nn.parity import compare, verify


def test_verify_returns_rows_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    rows = verify("float64", impls=("scratch",))
    assert capsys.readouterr().out == ""  # the library prints nothing
    assert len(rows) == 18  # 3 kinds x 3 layer counts x 2 directions
    assert {(row.kind, row.impl) for row in rows} == {
        (kind, "scratch") for kind in ("rnn", "gru", "lstm")
    }
    assert all(row.ok() and row.tolerance == 1e-10 for row in rows)
    assert verify("float32", impls=("scratch",))[0].tolerance == 1e-5


class _SwappedGatesGRU(GRU):
    """A GRU with a bug: it swaps the reset and update gates."""

    def step(self, gi, state, weight_hh, bias_hh):  # type: ignore[no-untyped-def]
        r, z, n = weight_hh.chunk(3)
        return super().step(gi, state, torch.cat([z, r, n]), bias_hh)


def test_verify_fails_on_a_broken_impl(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {"rnn": RNN, "gru": _SwappedGatesGRU, "lstm": LSTM}
    monkeypatch.setitem(IMPLS, "broken", broken)
    assert compare("gru", "broken", 1, False).grad > 1e-3
    rows = verify("float64", impls=("broken",))
    assert {row.kind for row in rows if not row.ok()} == {"gru"}


def test_verify_rejects_unknown_names() -> None:
    with pytest.raises(RnnkitError, match="dtype"):
        verify("float16")
    with pytest.raises(RnnkitError, match="scratch"):
        verify(impls=("numpy",))


@pytest.mark.parametrize("impl", ["scratch", "broken"])
def test_cli_verify_prints_the_table_and_fails_on_a_mismatch(
    impl: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rnnkit verify` prints one line per row and exits 1 on any mismatch."""
    monkeypatch.setitem(IMPLS, "broken", {"rnn": RNN, "gru": _SwappedGatesGRU, "lstm": LSTM})
    monkeypatch.setattr(parity, "verify", lambda dtype: verify(dtype, impls=(impl,)))
    status = main(["verify"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "parity against torch.nn, float64, tolerance 1e-10 (max abs difference)"
    assert lines[1].split() == [
        "kind",
        "impl",
        "layers",
        "direction",
        "output",
        "state",
        "grad",
        "result",
    ]
    assert set(lines[2]) == {"-"}
    rows = lines[3:-1]
    assert len(rows) == 18
    assert rows[0].split()[:4] == ["rnn", impl, "1", "uni"]
    if impl == "scratch":
        assert status == 0
        assert all(row.endswith("  ok") for row in rows)
        assert lines[-1] == "all match"
    else:
        assert status == 1
        assert [row.split()[0] for row in rows if row.endswith("MISMATCH")] == ["gru"] * 6
        assert lines[-1] == "MISMATCH: some differences exceed the tolerance"
