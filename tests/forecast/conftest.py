"""Shared fixtures for the forecasting tests: tiny series and fast configurations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from rnnkit.config import ForecastConfig, forecast_config


def _tiny_config(**series: object) -> ForecastConfig:
    return forecast_config(
        "",
        series={"lookback": 8, "horizon": 5, "batch_size": 16}
        | {"method": "rnn", "transform": "none", "log": "no", **series},
        model={"hidden_size": 8},
        train={"epochs": 3, "threads": 1, "device": "cpu"},
    )


@pytest.fixture
def tiny() -> Callable[..., ForecastConfig]:
    """A factory of configurations that fit in well under a second on a tiny series;
    keyword arguments override the `series` table."""
    return _tiny_config


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    """A 60-row CSV: date, two seasonal targets and a covariate."""
    t = np.arange(60)
    rows = ["date,sales,visits,price"]
    for i in t:
        rows.append(
            f"{date(2020, 1, 1) + timedelta(days=int(i))},{10 + np.sin(i / 2):.4f},"
            f"{5 + np.cos(i / 2):.4f},{1 + 0.01 * i:.3f}"
        )
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
