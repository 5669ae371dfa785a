"""Metric definitions shared by the training loops, `eval` and the benchmarks.

Language models: perplexity and bits per token from mean cross-entropy in nats.
Forecasts: MAE, RMSE, sMAPE (percent, 0 to 200), MASE (scaled by the in-sample MAE of the
seasonal naive forecast) and the empirical coverage of a prediction interval.
"""

from __future__ import annotations

import math

import numpy as np


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats); `inf` when it overflows."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def bits_per_token(loss: float) -> float:
    """Mean cross-entropy in bits (`loss / ln 2`): bits per character at char level."""
    return loss / math.log(2)


# ---------------------------------------------------------------------------------------
# forecasting
# ---------------------------------------------------------------------------------------


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 `(N, C)`; a 1-d series is one column."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"truth {t.shape} and forecast {p.shape} differ in shape")
    return t.reshape(len(t), -1), p.reshape(len(p), -1)  # (N, C)


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over every point and target column."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over every point and target column."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE in percent, 0 to 200: `200 * mean(|y - f| / (|y| + |f|))`, 0/0 = 0."""
    t, p = _pair(y_true, y_pred)
    den = np.abs(t) + np.abs(p)
    ratio = np.divide(np.abs(t - p), den, out=np.zeros_like(den), where=den > 0)
    return float(200.0 * np.mean(ratio))


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample MAE of the seasonal
    naive forecast (`y[t] = y[t - season]`) on the training part, per column, then averaged.

    Shape:
        y_true, y_pred: (N,) or (N, C); y_train: (M,) or (M, C) with M > season.
    """
    t, p = _pair(y_true, y_pred)
    train = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)  # (M, C)
    m = max(int(season), 1)
    if len(train) <= m:
        raise ValueError(f"MASE needs more than {m} training points, got {len(train)}")
    scale = np.mean(np.abs(train[m:] - train[:-m]), axis=0)  # (C,)
    err = np.mean(np.abs(t - p), axis=0)  # (C,)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), math.inf)
    return float(np.mean(ratio))


def coverage(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of true points inside `[lower, upper]` (the empirical interval coverage)."""
    t, lo = _pair(y_true, lower)
    _, hi = _pair(y_true, upper)
    return float(np.mean((t >= lo) & (t <= hi)))


def forecast_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season: int = 1
) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of one forecast, as a dict keyed by lower-case name."""
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "smape": smape(y_true, y_pred),
        "mase": mase(y_true, y_pred, y_train, season),
    }
