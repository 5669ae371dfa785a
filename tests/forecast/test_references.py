"""The classical references: automatic ETS and ARIMA, what is skipped and why, and their
place in a forecast run (metrics.json, forecast.csv, the summary line)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import wave_values
from rnnkit.cli import main
from rnnkit.config import forecast_config
from rnnkit.errors import ConfigError
from rnnkit.forecast import references
from rnnkit.forecast.baselines import naive_forecast
from rnnkit.metrics import mae

pytest.importorskip("statsmodels")

FAST = ["--lookback", "8", "--horizon", "5", "--epochs", "2", "--hidden-size", "8"]
FAST += ["--threads", "1", "--device", "cpu", "--quiet", "--set", "series.season=1"]


def _monthly(n: int = 60) -> np.ndarray:
    """A positive trending monthly series whose seasonal swing grows with its level, (n,)."""
    t = np.arange(n)
    noise = np.random.default_rng(0).normal(0.0, 0.02, n)
    return (50 + 1.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(noise)


def test_ets_picks_a_seasonal_model_and_beats_naive() -> None:
    y = _monthly()
    history, truth = y[:-12], y[-12:]
    ref = references.auto_ets(history, 12, 12)
    assert ref.mean.shape == (12,) and ref.fit_s > 0
    assert ref.spec.startswith("ETS(") and ref.spec[-2] in "AM", ref.spec  # seasonal
    assert mae(truth, ref.mean) < mae(truth, naive_forecast(history, 12)[:, 0])


def test_arima_differences_a_random_walk_and_not_white_noise() -> None:
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(0.0, 1.0, 120))
    ref = references.auto_arima(walk, 6, 1)
    assert ref.spec.startswith("ARIMA(") and ref.spec.split(",")[1] == "1", ref.spec
    assert ref.mean.shape == (6,) and np.isfinite(ref.mean).all()
    assert references._diffs(rng.normal(0.0, 1.0, 120)) == 0


def test_columns_are_fit_one_by_one_and_stacked() -> None:
    history = wave_values(40, channels=2)  # (40, 2)
    ref = references.auto_ets(history, 4, 1)
    assert ref.mean.shape == (4, 2) and ref.spec.count("ETS(") == 2 and "; " in ref.spec


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        (np.full((50, 1), 3.0), "the history is constant"),
        (np.arange(5.0).reshape(5, 1), "needs at least 10 points, the history has 5"),
    ],
)
def test_an_unfittable_history_is_skipped_with_its_reason(history: np.ndarray, reason: str) -> None:
    skipped: dict[str, str] = {}
    assert references.reference_forecasts(history, 3, 12, "all", skipped) == {}
    assert set(skipped) == {"ets", "arima"}
    assert all(reason in why for why in skipped.values()), skipped


def test_without_statsmodels_every_reference_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(references, "statsmodels_installed", lambda: False)
    skipped: dict[str, str] = {}
    assert references.reference_forecasts(wave_values(40), 3, 1, "ets", skipped) == {}
    assert skipped == {"ets": references.NOT_INSTALLED}


def test_none_fits_nothing_and_bad_choices_are_one_line_errors() -> None:
    skipped: dict[str, str] = {}
    assert references.reference_forecasts(wave_values(40), 3, 1, "none", skipped) == {}
    assert skipped == {}
    assert forecast_config("", series={"references": "none"}).series.references == "none"
    with pytest.raises(ConfigError, match=r"series\.references = 'theta' is not valid"):
        forecast_config("", series={"references": "theta"})


def _csv(tmp_path: Path) -> Path:
    rows = ["time,value"] + [f"{i},{v:.6f}" for i, v in enumerate(wave_values(60)[:, 0])]
    path = tmp_path / "wave.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_forecast_run_scores_the_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["forecast", str(_csv(tmp_path)), "--out", str(out), *FAST]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads((out / "metrics.json").read_text())
    refs = metrics["references"]
    assert set(refs) == {"ets", "arima"} and "references_skipped" not in metrics
    for name, prefix in (("ets", "ETS("), ("arima", "ARIMA(")):
        assert set(refs[name]) == {*metrics["seasonal_naive"], "spec", "fit_s"}
        assert refs[name]["spec"].startswith(prefix) and refs[name]["mae"] >= 0
        assert f"| {refs[name]['spec']} MAE {refs[name]['mae']:.4g}" in last
    tail = last[last.index("| naive MAE") :]  # the columns after the chosen forecast's
    assert tail.index("seasonal naive") < tail.index("ETS(") < tail.index("ARIMA(")
    row = next(csv.DictReader((out / "forecast.csv").open()))
    assert {"value_ets", "value_arima", "value_seasonal_naive"} <= set(row)


def test_references_none_leaves_them_out_of_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["forecast", str(_csv(tmp_path)), "--out", str(out), *FAST]
    assert main([*argv, "--set", "series.references=none"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["references"] == {} and "references_skipped" not in metrics
    assert "ETS" not in last and "ARIMA" not in last
    assert "value_ets" not in next(csv.DictReader((out / "forecast.csv").open()))
