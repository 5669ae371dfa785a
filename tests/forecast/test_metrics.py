"""Forecast metrics and baselines on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.errors import RnnkitError
from rnnkit.forecast.baselines import naive_forecast, seasonal_naive_forecast
from rnnkit.metrics import coverage, forecast_metrics, mae, mase, rmse, smape


def test_mae_rmse() -> None:
    y, f = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    assert mae(y, f) == pytest.approx(1.0)
    assert rmse(y, f) == pytest.approx(math.sqrt(5 / 3))


def test_smape_range_and_zero() -> None:
    assert smape([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert smape([0.0], [0.0]) == 0.0  # 0/0 counts as a perfect forecast
    assert smape([1.0], [-1.0]) == pytest.approx(200.0)
    assert smape([100.0], [50.0]) == pytest.approx(200 * 50 / 150)


def test_mase_scales_by_seasonal_naive_in_sample() -> None:
    train = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 3.0])
    # season 2: in-sample errors |1-1|, |2-2|, |1-1|, |3-2| -> mean 0.25
    assert mase([1.0], [1.5], train, season=2) == pytest.approx(0.5 / 0.25)
    # season 1: diffs 1,1,1,1,2 -> mean 1.2
    assert mase([1.0], [1.5], train, season=1) == pytest.approx(0.5 / 1.2)


def test_multivariate_and_dict() -> None:
    y = np.array([[1.0, 10.0], [2.0, 20.0]])
    f = y + np.array([[1.0, 0.0], [1.0, 0.0]])
    train = np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0]])
    out = forecast_metrics(y, f, train, season=1)
    assert out["mae"] == pytest.approx(0.5)
    assert out["mase"] == pytest.approx((1.0 / 1.0 + 0.0 / 10.0) / 2)
    assert set(out) == {"mae", "rmse", "smape", "mase"}


def test_coverage() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert coverage(y, y - 1, y + 1) == 1.0
    assert coverage(y, np.array([0, 0, 5, 5.0]), np.array([9, 9, 9, 9.0])) == 0.5


def test_naive_baselines() -> None:
    hist = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert naive_forecast(hist, 3).ravel().tolist() == [5.0, 5.0, 5.0]
    assert seasonal_naive_forecast(hist, 5, 2).ravel().tolist() == [4.0, 5.0, 4.0, 5.0, 4.0]
    assert seasonal_naive_forecast(hist, 2, 1).ravel().tolist() == [5.0, 5.0]
    with pytest.raises(RnnkitError, match="full season"):
        seasonal_naive_forecast(hist, 2, 12)
