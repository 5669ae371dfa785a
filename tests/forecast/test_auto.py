"""The automatic configuration: the frequency of a time column, the season, log and trend
rules, the lookback of short series, keys already set kept, and the end to end promise:
`rnnkit forecast FILE` on a short trending seasonal CSV beats seasonal naive, no options."""

from __future__ import annotations

import csv as csv_module
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.config import ForecastConfig
from rnnkit.errors import DataError
from rnnkit.forecast.auto import configure, future_dates, time_frequency
from rnnkit.forecast.series import Series


@pytest.mark.parametrize(
    ("labels", "want"),
    [
        (["2001-01-01", "2001-02-01", "2001-03-01", "2001-04-01"], ("monthly", 12)),
        (["2001-01", "2001-02", "2001-03"], ("monthly", 12)),
        (["1959Q1", "1959Q2", "1959Q3", "1959Q4"], ("quarterly", 4)),
        (["1959-01-01", "1959-04-01", "1959-07-01"], ("quarterly", 4)),
        (["2020-01-04", "2020-01-11", "2020-01-18"], ("weekly", 52)),
        (["2020-01-01", "2020-01-02", "2020-01-03"], ("daily", 7)),
        (["1871", "1872", "1873"], ("yearly", 1)),
        (["a", "b", "c"], ("", 0)),
        (["0", "1"], ("", 0)),
    ],
)
def test_time_frequency(labels: list[str], want: tuple[str, int]) -> None:
    assert time_frequency(labels) == want


def test_future_dates_continue_the_calendar() -> None:
    months = ["2019-10-01", "2019-11-01", "2019-12-01"]
    assert future_dates(months, 2) == ["2020-01-01", "2020-02-01"]
    assert future_dates(["2019-08", "2019-09", "2019-10"], 1) == ["2019-11"]
    assert future_dates(["1959-04-01", "1959-07-01", "1959-10-01"], 1) == ["1960-01-01"]
    assert future_dates(["2020-12-19", "2020-12-26", "2021-01-02"], 1) == ["2021-01-09"]
    assert future_dates(["1871", "1872", "1873"], 1) is None
    assert future_dates(["a", "b", "c"], 1) is None


def _monthly(values: np.ndarray) -> Series:
    times = [f"{1990 + i // 12}-{1 + i % 12:02d}-01" for i in range(len(values))]
    return Series("s", times, values[:, None], ["y"], np.zeros((len(values), 0)))


def _airline(n: int, seed: int = 0) -> np.ndarray:
    """Trend times a yearly swing, plus noise: the classic multiplicative shape."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    return (100 + 2 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) + noise


def test_rules_on_a_multiplicative_trending_seasonal_series() -> None:
    choice = configure(ForecastConfig(), _monthly(_airline(144)), hold_out=36)
    s = choice.config.series
    assert (s.season, s.horizon, s.log, s.transform) == (12, 12, "yes", "diff")
    assert s.lookback == 12 and choice.candidates == ["esrnn", "es", "rnn"]
    assert choice.line.startswith("auto: season 12 (monthly")


def test_rules_on_noise_choose_nothing() -> None:
    noise = 10 + np.random.default_rng(1).normal(0, 1, 120)
    s = configure(ForecastConfig(), _monthly(noise), hold_out=12).config.series
    assert (s.season, s.log, s.transform) == (1, "no", "none")


def test_keys_already_set_are_kept() -> None:
    cfg = ForecastConfig()
    cfg.series.season, cfg.series.transform, cfg.series.lookback = 4, "window", 7
    cfg.series.log = "no"
    choice = configure(cfg, _monthly(_airline(144)), hold_out=12)
    s = choice.config.series
    assert (s.season, s.transform, s.lookback, s.log) == (4, "window", 7, "no")
    assert "season" not in choice.line and cfg.series.method == "auto"  # cfg is not changed


def test_too_short_names_the_minimum() -> None:
    cfg = ForecastConfig()
    cfg.series.season = 12
    with pytest.raises(DataError, match=r"18 points of history.*season 12 needs at least 24 bef"):
        configure(cfg, _monthly(_airline(30)), hold_out=12)
    with pytest.raises(DataError, match=r"8 points of history.*no season needs at least 10"):
        configure(ForecastConfig(), _monthly(_airline(20)), hold_out=12)


def _csv(path: Path, values: np.ndarray) -> Path:
    rows = ["month,sales"] + [
        f"{2015 + i // 12}-{1 + i % 12:02d}-01,{v:.3f}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_short_seasonal_csv_beats_seasonal_naive_with_no_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _csv(tmp_path / "sales.csv", _airline(36, seed=3))
    out = tmp_path / "run"
    args = ["--threads", "1", "--set", "series.references=none", "--out", str(out)]
    assert main(["forecast", str(csv), *args]) == 0
    printed = capsys.readouterr().out
    assert "auto: season 12 (monthly" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["horizon"] == 12 and metrics["season"] == 12
    assert metrics["model"]["mae"]["mean"] < metrics["seasonal_naive"]["mae"]
    assert json.loads((out / "config.json").read_text())["series"]["season"] == 12
    # forecasting past the end from the saved run: the chosen method, no retraining
    future = tmp_path / "future"
    assert main(["forecast", str(csv), "--checkpoint", str(out), "--out", str(future)]) == 0
    rows = list(csv_module.DictReader((future / "forecast.csv").open()))
    assert [rows[0]["time"], rows[-1]["time"]] == ["2018-01-01", "2018-12-01"]
    assert all(float(r["sales_lower"]) <= float(r["sales_forecast"]) for r in rows)
