"""The automatic choice on rolling origins (`rnnkit.forecast.select`) and `--backtest N`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.forecast.auto import plan_origins
from rnnkit.forecast.forecaster import Forecast
from rnnkit.forecast.select import (
    COMBINATION,
    OriginRuns,
    band_factor,
    choose,
    final_forecast,
    plain_forecast,
)

FAST = ["--epochs", "2", "--hidden-size", "8", "--threads", "1", "--device", "cpu", "--quiet"]


def test_origins_step_by_the_horizon_and_close_up_on_a_short_history() -> None:
    assert plan_origins(200, 10) == [170, 180, 190]
    assert plan_origins(60, 12, 3) == [30, 39, 48]  # the earliest keeps half the history
    assert plan_origins(60, 12, 3, least=46) == [46, 47, 48]  # and `least` points
    assert plan_origins(60, 12, 3, least=48) == [48]
    assert plan_origins(60, 12, 3, least=49) == []
    assert plan_origins(10, 12) == []


def _runs(rng: np.random.Generator) -> OriginRuns:
    """Three origins of 6 steps; `good` is close to the truth, `bad` far, `mid` between."""
    truth = rng.normal(size=(3, 6, 1))
    runs = OriginRuns([10, 16, 22], truth)
    for name, noise in (("good", 0.1), ("mid", 0.5), ("bad", 3.0), ("worse", 5.0)):
        runs.forecasts[name] = truth + rng.normal(scale=noise, size=truth.shape)
    return runs


def test_the_lowest_mean_error_on_the_origins_is_chosen() -> None:
    runs = _runs(np.random.default_rng(0))
    choice = choose(runs)
    assert choice.members == ["good", "mid", "bad"]  # the best three, best first
    means = {k: choice.mean(k) for k in choice.scores}
    assert choice.chosen == min(means, key=lambda k: means[k]) == "good"
    combined = np.mean([runs.forecasts[m] for m in choice.members], axis=0)
    np.testing.assert_allclose(runs.forecasts[COMBINATION], combined)
    assert choice.recurrent is None  # no recurrent method among the candidates
    entry = choice.to_dict()["origin_mae"]
    assert isinstance(entry, dict) and len(entry["good"]["per_origin"]) == 3


def test_a_combination_wins_when_its_members_err_in_opposite_directions() -> None:
    truth = np.zeros((3, 4, 1))
    runs = OriginRuns([5, 9, 13], truth)
    runs.forecasts = {"up": truth + 1.0, "down": truth - 1.0, "near": truth - 0.5}
    choice = choose(runs)
    assert choice.chosen == COMBINATION and choice.members == ["near", "up", "down"]


def test_the_band_holds_80_percent_of_the_origin_targets() -> None:
    runs = _runs(np.random.default_rng(1))
    mean = runs.forecasts["mid"]
    factor = band_factor(runs, "mid")
    half = factor * np.sqrt(np.arange(1, 7))[None, :, None]
    inside = np.abs(runs.truth - mean) <= half + 1e-12
    assert inside.mean() == pytest.approx(0.8, abs=1 / inside.size + 1e-9)
    # a candidate with its own band keeps its shape, scaled
    runs.bands["mid"] = (mean - 0.1, mean + 0.1)
    inside = np.abs(runs.truth - mean) <= band_factor(runs, "mid") * 0.1 + 1e-12
    assert inside.mean() == pytest.approx(0.8, abs=1 / inside.size + 1e-9)


def test_the_final_forecast_combines_the_members_past_the_end() -> None:
    runs = _runs(np.random.default_rng(2))
    choice = choose(runs)
    finals = {
        n: plain_forecast(np.full((6, 1), float(i)), ["y"]) for i, n in enumerate(runs.forecasts)
    }
    out = final_forecast(choice, COMBINATION, finals)
    expected = np.mean([finals[m].mean for m in choice.members], axis=0)
    np.testing.assert_allclose(out.mean, expected)
    half = out.upper - out.mean
    assert isinstance(out, Forecast) and (np.diff(half[:, 0]) > 0).all()  # widens with the step


def _seasonal_csv(tmp_path: Path, n: int = 96) -> Path:
    t = np.arange(n)
    y = 20 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 12)
    y += np.random.default_rng(0).normal(0, 0.3, n)
    rows = ["date,value"] + [
        f"{2000 + i // 12}-{1 + i % 12:02d}-01,{v:.4f}" for i, v in enumerate(y)
    ]
    path = tmp_path / "monthly.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_run_reports_its_choice_and_the_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["forecast", str(_seasonal_csv(tmp_path)), "--backtest", "2", "--out", str(out)]
    assert main([*args, *FAST, "--set", "series.references=none"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads((out / "metrics.json").read_text())
    choice = metrics["choice"]
    assert "chosen " in last and metrics["origins"]["count"] == 3
    scores = choice["origin_mae"]
    assert {"naive", "seasonal_naive"} <= set(scores) and choice["chosen"] in scores
    assert choice["chosen"] == min(scores, key=lambda k: scores[k]["mean"])
    assert "recurrent" in metrics and metrics["recurrent"]["mae"]["mean"] > 0
    rolled = metrics["backtest"]
    assert len(rolled["origins"]) == len(rolled["per_origin"]) == 2
    assert rolled["origins"][-1] == "2007-01-01"  # the last origin is the run's test part
    assert rolled["per_origin"][-1]["model"]["mae"] == pytest.approx(
        metrics["model"]["mae"]["mean"]
    )
    assert set(rolled["mean"]["model"]) == {"mae", "rmse", "smape", "mase", "coverage80"}
    assert (out / "backtest.png").stat().st_size > 0 and (out / "best.pt").exists()


def test_too_many_backtest_origins_end_in_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["forecast", str(_seasonal_csv(tmp_path)), "--backtest", "9", "--out", str(out)]
    assert main([*args, *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "backtest on 9 origins" in err and "at most 6" in err
    assert not out.exists()


def test_a_saved_choice_forecasts_past_the_end_as_the_run_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = _seasonal_csv(tmp_path)
    out, again = tmp_path / "run", tmp_path / "again"
    args = ["--out", str(out), *FAST, "--set", "series.references=none", "--set", "train.epochs=1"]
    assert main(["forecast", str(full), *args]) == 0
    lines = full.read_text().splitlines()
    history = tmp_path / "history.csv"  # the run's history: all but the 12 test points
    history.write_text("\n".join(lines[:-12]) + "\n", encoding="utf-8")
    assert main(["forecast", str(history), "--checkpoint", str(out), "--out", str(again)]) == 0
    run = np.genfromtxt(out / "forecast.csv", delimiter=",", names=True, dtype=None)
    past = np.genfromtxt(again / "forecast.csv", delimiter=",", names=True, dtype=None)
    for key in ("value_forecast", "value_lower", "value_upper"):
        np.testing.assert_allclose(past[key], run[key], rtol=1e-5)
