"""Non-finite numbers in forecasting: inf in the inputs is always a one-line error naming
the column and row, NaN one unless `series.fill` fills it, and a model whose forecast or
interval is not finite raises `NumericalError` instead of writing NaNs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import wave_values
from rnnkit.cli import main
from rnnkit.config import ForecastConfig, forecast_config
from rnnkit.errors import DataError, NumericalError
from rnnkit.forecast.forecaster import Forecaster
from rnnkit.forecast.series import Series, finite_series, read_csv


def tiny_config(**series: object) -> ForecastConfig:
    """A configuration that fits in well under a second on `wave_values`."""
    return forecast_config(
        "",
        series={"lookback": 8, "horizon": 5, "batch_size": 16, **series},
        model={"hidden_size": 8},
        train={"epochs": 2, "threads": 1, "device": "cpu"},
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved gaussian forecaster (mean and interval) of the tiny wave."""
    folder = tmp_path_factory.mktemp("forecast-faults")
    Forecaster(tiny_config(likelihood="gaussian")).fit(wave_values()).save(folder / "f.pt")
    return folder / "f.pt"


def write_csv(path: Path, cells: dict[int, str]) -> Path:
    """A 40-row CSV `date,sales` whose rows `cells` (0-based) hold the given text."""
    rows = ["date,sales"]
    for i, v in enumerate(wave_values(40)[:, 0]):
        rows.append(f"d{i},{cells.get(i, f'{v:.4f}')}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999"])
@pytest.mark.parametrize("fill", ["none", "linear"])
def test_inf_in_a_csv_names_the_column_and_line(tmp_path: Path, cell: str, fill: str) -> None:
    path = write_csv(tmp_path / "shop.csv", {6: cell})
    with pytest.raises(DataError, match=r"infinite values: 'sales' at lines 8;") as info:
        read_csv(path, fill=fill)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_the_cli_prints_an_inf_input_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "shop.csv", {6: "inf"})
    code = main(["forecast", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'sales' at lines 8" in err


@pytest.mark.parametrize("fill", ["none", "linear", "drop"])
def test_inf_in_an_array_is_always_an_error(fill: str) -> None:
    values = wave_values(40)
    values[12, 0] = math.inf
    with pytest.raises(DataError, match=r"infinite value at column 'value' row 12;"):
        Forecaster(tiny_config(fill=fill)).fit(values)


def test_inf_written_into_a_series_later_is_caught_by_fit_and_predict(fitted: Path) -> None:
    series = Series.from_array(wave_values(40))
    series.target[30, 0] = -math.inf
    with pytest.raises(DataError, match=r"column 'value' row 30;"):
        Forecaster(tiny_config()).fit(series)
    with pytest.raises(DataError, match=r"column 'value' row 30;"):
        Forecaster.load(fitted).predict(5, series=series)


def test_nan_is_an_error_only_without_a_fill(fitted: Path) -> None:
    values = wave_values(40)
    values[[9, 20], 0] = math.nan
    with pytest.raises(DataError, match=r"missing value \(NaN\) at column 'value' row 9, and 1"):
        Forecaster(tiny_config()).fit(values)
    with pytest.raises(DataError, match=r"series\.fill"):
        Forecaster.load(fitted).predict(5, series=Series.from_array(values))
    out = Forecaster(tiny_config(fill="linear")).fit(values).predict(5)
    assert np.isfinite(out.mean).all()


def test_fill_keeps_time_labels_in_step_with_the_rows() -> None:
    labels = [f"t{i}" for i in range(6)]
    target = np.array([1.0, math.nan, 3.0, 4.0, math.nan, 6.0])
    series = Series("s", labels, target, ["y"], np.zeros((6, 0)))
    with pytest.raises(DataError, match=r"column 'y' row 1 \(time 't1'\), and 1 more cell;"):
        finite_series(series, "none")
    dropped = finite_series(series, "drop")
    assert dropped.time == ["t0", "t2", "t3", "t5"] and dropped.target[:, 0].tolist() == [
        1.0,
        3.0,
        4.0,
        6.0,
    ]
    assert finite_series(series, "linear").target[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    clean = Series.from_array(np.arange(5.0))
    assert finite_series(clean, "none") is clean


# --------------------------------------------------------------------------- predictions


@pytest.mark.parametrize("part", ["mean", "interval"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_forecast_names_the_checkpoint(
    fitted: Path, monkeypatch: pytest.MonkeyPatch, part: str, bad: float
) -> None:
    f = Forecaster.load(fitted)
    assert f.model is not None
    forecast = f.model.forecast

    def broken(*args: object, **kwargs: object) -> tuple:
        mean, scale, paths = forecast(*args, **kwargs)  # type: ignore[arg-type]
        if part == "mean":
            mean = torch.full_like(mean, bad)
        elif scale is not None:  # a direct model's standard deviations
            scale = torch.full_like(scale, bad)
        else:  # an autoregressive model's sample paths
            paths = torch.full_like(paths, bad)
        return mean, scale, paths

    monkeypatch.setattr(f.model, "forecast", broken)
    with pytest.raises(NumericalError, match="not finite") as info:
        f.predict(5, series=Series.from_array(wave_values()))
    message = str(info.value)
    assert "\n" not in message and str(fitted) in message and "train.lr" in message


def test_a_point_forecast_without_interval_is_still_fine(fitted: Path) -> None:
    f = Forecaster(tiny_config(likelihood="mse")).fit(wave_values())
    out = f.predict(5)
    assert np.isfinite(out.mean).all() and np.isnan(out.lower).all()
