"""Checkpoints and seeded fits from before the restructure (commit 194f425): the two fixture
forecast checkpoints still load and forecast the recorded numbers, and a fresh fit with the
fixtures' configuration reproduces them exactly (see tests/fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.config import forecast_config
from rnnkit.forecast.forecaster import Forecast, Forecaster
from rnnkit.forecast.series import Series

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STRATEGIES = ("direct", "autoregressive")


def _wave() -> Series:
    """The fixtures' series: `sin(t / 3) + 0.02 t` for t = 0..79, as written to wave.csv."""
    vals = np.loadtxt(FIXTURES / "wave.csv", delimiter=",").reshape(-1, 1)  # (80, 1)
    return Series("wave", [], vals, ["y0"], np.zeros((80, 0)))


def _expected(strategy: str) -> dict[str, np.ndarray]:
    raw = json.loads((FIXTURES / "expected-194f425.json").read_text(encoding="utf-8"))
    return {k: np.array(v) for k, v in raw[f"forecast_{strategy}"].items()}


def _assert_recorded(pred: Forecast, strategy: str) -> None:
    for key, want in _expected(strategy).items():
        got = getattr(pred, key)
        assert got.shape == want.shape == (5, 1)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=key)  # across CPUs


def test_wave_csv_is_the_readme_series() -> None:
    t = np.arange(80)
    assert np.array_equal(_wave().target, (np.sin(t / 3) + 0.02 * t)[:, None])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_old_checkpoint_loads_and_forecasts_the_recorded_numbers(strategy: str) -> None:
    path = FIXTURES / f"forecast-{strategy}-194f425"
    raw = torch.load(path / "best.pt", weights_only=True)["config"]
    assert {"embedding_dim", "input_mode", "tie_weights"} <= set(raw["model"])  # LM keys
    f = Forecaster.load(path)
    assert f.config.model.hidden_size == 8 and f.config.series.lookback == 8
    assert f.model is not None and f.model.strategy == strategy
    _assert_recorded(f.predict(5, series=_wave()), strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_seeded_fit_reproduces_the_recorded_numbers(strategy: str) -> None:
    cfg = forecast_config(
        "",
        # the defaults of 194f425: the plain network, no transform (no automatic choice)
        series={"lookback": 8, "horizon": 5, "batch_size": 16, "strategy": strategy}
        | {"method": "rnn", "transform": "none", "log": "no"},
        model={"hidden_size": 8},
        train={"epochs": 3, "threads": 1, "device": "cpu"},
    )
    _assert_recorded(Forecaster(cfg).fit(_wave()).predict(5), strategy)
