"""Metric definitions shared by the training loops, `eval` and the benchmarks.

Language models: perplexity and bits per token from mean cross-entropy in nats.
Forecasts: MAE, RMSE, sMAPE (percent, 0 to 200), MASE (scaled by the in-sample MAE of the
seasonal naive forecast) and the empirical coverage of a prediction interval.
Classification: the confusion matrix, accuracy, macro F1 and per-class precision / recall.
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


# ---------------------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class); a true label of -1 (unknown) counts nowhere.

    Shape:
        y_true, y_pred: (N,) class indices. Returns (K, K) int64, rows = true classes.
    """
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    keep = t >= 0
    flat = t[keep] * num_classes + p[keep]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, -1)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of predictions equal to the true class (a true label of -1 is never right)."""
    t = np.asarray(y_true)
    return float(np.mean(t == np.asarray(y_pred))) if len(t) else math.nan


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of each class from a confusion matrix (0 where undefined).

    Shape:
        cm: (K, K), rows = true classes. Returns three (K,) float64 arrays.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """The unweighted mean F1 over the classes present in `y_true` or `y_pred`."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    f1 = per_class_scores(cm)[2]
    return float(f1[present].mean()) if present.any() else math.nan
