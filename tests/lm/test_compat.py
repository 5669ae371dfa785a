"""Against the fixtures written by the code before the restructure (194f425, see
tests/fixtures/README.md): seeded runs give the same losses bit for bit, and the old
checkpoint loads, generates the same text and resumes as a straight run would have."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import rnnkit
from conftest import tiny_lm_config
from rnnkit.checkpoint import load_checkpoint
from rnnkit.lm.train import train_lm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD_LM = FIXTURES / "lm-194f425"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected-194f425.json").read_text())

# The overrides of the fixture script, after its "train.epochs=3".
RUNS = {
    "gru_seq": (),
    "lstm_random_fused": ("model.kind=lstm", "model.impl=fused", "data.sampling=random"),
    "rnn_onehot_scratch": (
        "train.max_steps=100",
        "model.kind=rnn",
        "model.input_mode=onehot",
        "model.embedding_dim=0",
        "model.impl=scratch",
        "model.num_layers=2",
    ),
}


def quiet(_: str) -> None:
    """Swallow the readable lines."""


def assert_rows(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """The same steps and losses to 1e-6 relative: bit for bit on the CPU that recorded them,
    within rounding on another (AVX2 and AVX-512 kernels sum in different orders)."""
    assert [r["step"] for r in got] == [r["step"] for r in want]
    for key in ("train_loss", "val_loss"):
        assert [r[key] for r in got] == pytest.approx([r[key] for r in want], rel=1e-6), key


def rows_of(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("step", "train_loss", "val_loss")} for r in history]


@pytest.mark.parametrize("name", list(RUNS))
def test_seeded_runs_give_the_recorded_losses_exactly(tmp_path: Path, name: str) -> None:
    cfg = tiny_lm_config(tmp_path, "train.epochs=3", *RUNS[name])
    result = train_lm(cfg, out=tmp_path / name, quiet=True, echo=quiet)
    expected = EXPECTED[f"run_{name}"]
    assert result.stopped_by == expected["stop"]
    assert_rows(rows_of(result.history), expected["rows"])


def test_old_checkpoint_loads_and_generates_the_same_text() -> None:
    lm = rnnkit.load(OLD_LM)
    assert rnnkit.generate(lm, "the ", 40, temperature=0) == EXPECTED["lm_greedy"]


def test_old_checkpoint_resumes_as_the_straight_run(tmp_path: Path) -> None:
    """The old best.pt is the gru_seq run after 2 of its 3 epochs (the schedule is constant):
    resumed for one more epoch it gives the straight run's third row, and the checkpoint it
    writes has the old one's keys."""
    run = tmp_path / "old"
    run.mkdir()
    shutil.copy(OLD_LM / "best.pt", run / "last.pt")
    shutil.copy(OLD_LM / "best.pt", run / "best.pt")
    cfg = tiny_lm_config(tmp_path, "train.epochs=3")
    result = train_lm(cfg, resume=run, quiet=True, echo=quiet)
    assert_rows(rows_of(result.history), EXPECTED["run_gru_seq"]["rows"][2:])
    old = load_checkpoint(OLD_LM / "best.pt")
    new = load_checkpoint(run / "last.pt", prefer="last")
    assert set(new) == set(old)
    for key in ("progress", "scheduler", "rng", "corpus"):
        assert set(new[key]) == set(old[key]), key


def test_load_of_a_forecast_checkpoint_names_the_call_that_loads_it() -> None:
    with pytest.raises(rnnkit.RnnkitError, match=r"rnnkit\.Forecaster\.load"):
        rnnkit.load(FIXTURES / "forecast-direct-194f425")
    forecaster = rnnkit.Forecaster.load(FIXTURES / "forecast-direct-194f425")
    assert forecaster.horizon == 5
