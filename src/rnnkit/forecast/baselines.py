"""Naive baselines computed beside every forecast: naive (repeat the last value) and
seasonal naive (repeat the last season)."""

from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """Every future step equals the last observed value.

    Shape:
        history: (N, C). Returns (horizon, C).
    """
    h = np.asarray(history, dtype=np.float64).reshape(len(history), -1)  # (N, C)
    if len(h) == 0:
        raise ConfigError("the naive forecast needs at least one observed point")
    return np.repeat(h[-1:], horizon, axis=0)  # (horizon, C)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Step `k` (0-based) equals the value one season before it: `y[N + k - season * j]`
    for the smallest `j` that lands inside the history. `season <= 1` is the naive forecast.

    Shape:
        history: (N, C). Returns (horizon, C).
    """
    h = np.asarray(history, dtype=np.float64).reshape(len(history), -1)  # (N, C)
    if season <= 1:
        return naive_forecast(h, horizon)
    if len(h) < season:
        raise ConfigError(
            f"the seasonal naive forecast needs a full season ({season} points), "
            f"got {len(h)}; give a smaller season"
        )
    last = h[-season:]  # (season, C)
    reps = -(-horizon // season)
    return np.tile(last, (reps, 1))[:horizon]  # (horizon, C)
