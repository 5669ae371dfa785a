"""Series loading, bad input, seasons and the series config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.config import SeriesConfig
from rnnkit.errors import RnnkitError
from rnnkit.forecast.series import (
    Series,
    fill_missing,
    infer_season,
    load_series,
    read_csv,
)


def test_csv_columns(csv_path: Path) -> None:
    s = read_csv(csv_path, covariates=["price"])
    assert s.target_names == ["sales", "visits"]
    assert s.covariate_names == ["price"]
    assert s.target.shape == (60, 2) and s.covariates.shape == (60, 1)
    assert s.time[0] == "2020-01-01"  # `date` is picked as the time column
    one = read_csv(csv_path, target=["visits"], time_col="date")
    assert one.target.shape == (60, 1) and one.covariates.shape == (60, 0)


def test_unknown_column_names_the_columns(csv_path: Path) -> None:
    with pytest.raises(RnnkitError, match=r"'revenue' is not in shop.csv.*sales, visits"):
        read_csv(csv_path, target=["revenue"])


def test_non_numeric_column_is_named(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("t,a,b\n1,1.0,x\n2,2.0,y\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"column 'b' is not numeric \(line 2: 'x'\)"):
        read_csv(p, target=["a", "b"], time_col="t")


def test_missing_values_reported_with_lines_then_filled(tmp_path: Path) -> None:
    p = tmp_path / "gaps.csv"
    p.write_text("t,v\n1,1\n2,\n3,3\n4,NA\n5,5\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"'v' at lines 3, 5; fill them with series.fill"):
        read_csv(p, time_col="t")
    lin = read_csv(p, time_col="t", fill="linear")
    assert lin.target.ravel().tolist() == [1, 2, 3, 4, 5]
    ff = read_csv(p, time_col="t", fill="ffill")
    assert ff.target.ravel().tolist() == [1, 1, 3, 3, 5]
    dropped = read_csv(p, time_col="t", fill="drop")
    assert dropped.time == ["1", "3", "5"]


def test_fill_missing_leading_gap() -> None:
    v = np.array([[np.nan], [2.0], [np.nan]])
    assert fill_missing(v, "ffill")[0].ravel().tolist() == [2.0, 2.0, 2.0]
    assert fill_missing(v, "zero")[0].ravel().tolist() == [0.0, 2.0, 0.0]


def test_missing_file_and_builtins() -> None:
    with pytest.raises(RnnkitError, match="not a file nor a built-in source"):
        load_series("no-such.csv")
    with pytest.raises(RnnkitError, match="built in"):
        load_series("sine", target=["x"])
    assert len(load_series("sine")) == 200
    noisy = load_series("noisy-sine")
    assert noisy.target.shape == (1000, 1)
    assert np.allclose(noisy.target, load_series("noisy-sine").target)  # fixed noise


def test_statsmodels_sources() -> None:
    pytest.importorskip("statsmodels")
    sun = load_series("sunspots")
    assert len(sun) == 309 and sun.time[0] == "1700" and sun.season == 11
    co2 = load_series("co2")
    assert len(co2) == 526 and co2.time[0] == "1958-03" and co2.time[-1] == "2001-12"
    assert not np.isnan(co2.target).any() and co2.season == 12


def test_infer_season() -> None:
    t = np.arange(240)
    x = np.sin(2 * np.pi * t / 12) + 0.05 * t
    assert infer_season(x) == 12
    assert infer_season(np.random.default_rng(0).normal(size=200)) == 1


def test_series_config_checks_choices() -> None:
    with pytest.raises(RnnkitError, match=r"series\.strategy"):
        SeriesConfig(strategy="sideways").check()
    assert Series.from_array(np.zeros(5)).target.shape == (5, 1)
