"""Bad inputs to `rnnkit forecast` end in one line before any fitting, with no run folder
left behind: a horizon longer than the series allows, a time column that repeats a time,
runs backwards, changes its step or misses steps, a constant series, a non-numeric cell, an
empty file. Also the calendar rules themselves (`rnnkit.forecast.calendar`)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.config import ForecastConfig
from rnnkit.errors import DataError
from rnnkit.forecast.auto import configure, max_horizon, min_history
from rnnkit.forecast.calendar import (
    Step,
    check_time_labels,
    format_like,
    parse_time,
    step_text,
    with_gaps_inserted,
)
from rnnkit.forecast.series import Series, load_series, read_csv


def _months(n: int, year: int = 2000) -> list[str]:
    return [f"{year + k // 12:04d}-{k % 12 + 1:02d}-01" for k in range(n)]


def _values(n: int) -> list[str]:
    t = np.arange(n)
    return [f"{100 + 0.5 * i + 10 * np.sin(i * np.pi / 6):.3f}" for i in t]


def _write(path: Path, times: list[str], values: list[str]) -> Path:
    lines = ["date,value", *(f"{t},{v}" for t, v in zip(times, values, strict=True))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replaced(items: list[str], at: int, value: str) -> list[str]:
    out = list(items)
    out[at] = value
    return out


MONTHS, VALUES = _months(120), _values(120)
CASES = {
    "duplicate": (
        _replaced(MONTHS, 60, MONTHS[59]),
        VALUES,
        "repeats '2004-12-01' at lines 61 and 62; keep one row per time",
    ),
    "a day apart": (
        [*MONTHS[:60], "2004-12-02", *MONTHS[60:119]],
        VALUES,
        "changes its step at line 62: '2004-12-02' comes 1 day after '2004-12-01' where "
        "the series steps monthly",
    ),
    "a month off": (
        _replaced(MONTHS, 60, "2005-01-15"),
        VALUES,
        "'2005-01-15' comes 45 days after '2004-12-01' where the series steps monthly",
    ),
    "a week apart": (
        [*MONTHS[:60], "2004-12-08", *MONTHS[60:119]],
        VALUES,
        "'2004-12-08' comes 7 days after '2004-12-01' where the series steps monthly",
    ),
    "irregular": (
        [str(date(2020, 1, 1) + timedelta(days=int(d))) for d in np.cumsum([1, 2, 3] * 40)],
        VALUES,
        "changes its step at line",
    ),
    "gaps": (
        MONTHS[:50] + MONTHS[52:100] + MONTHS[101:],
        VALUES[:117],
        "misses 3 monthly steps of its time column 'date' (the first after line 51, "
        "'2004-02-01'); insert them as rows to fill with series.fill = linear",
    ),
    "backwards": (MONTHS[::-1], VALUES, "runs backwards (newest first)"),
    "unsorted": (
        [*MONTHS[:30], MONTHS[31], MONTHS[30], *MONTHS[32:]],
        VALUES,
        "is not in increasing order: line 33 ('2002-07-01') comes after line 32",
    ),
    "a typo": (_replaced(MONTHS, 7, "2000-13-01"), VALUES, "line 9 ('2000-13-01') is not a date"),
    "constant": (MONTHS, ["5.5"] * 120, "is constant (every value is 5.5): it needs no model"),
    "not a number": (
        MONTHS,
        _replaced(VALUES, 9, "n.a."),
        "column 'value' is not numeric (line 11",
    ),
}


def _run(tmp_path: Path, path: Path) -> tuple[int, Path]:
    out = tmp_path / "run"
    return main(["forecast", str(path), "--quiet", "--out", str(out)]), out


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_series_is_one_line_and_no_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    times, values, message = CASES[case]
    path = _write(tmp_path / "bad.csv", times, values)
    code, out = _run(tmp_path, path)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rnnkit: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("content", ["", "date,value\n", "\n\n"])
def test_an_empty_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    code, out = _run(tmp_path, path)
    err = capsys.readouterr().err
    assert code == 2 and "needs a header row and at least one data row" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_horizon_past_the_series_names_the_longest_it_allows(tmp_path: Path) -> None:
    """The issue's case, as a user runs it: the real stderr (warnings too) is one line."""
    path = _write(tmp_path / "long.csv", _months(300), _values(300))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(rnnkit.__file__).parents[1])}
    args = [str(path), "--horizon", "100000", "--quiet", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "rnnkit", "forecast", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "the longest horizon the 300 points allow is" in err and "set --horizon to" in err
    assert not out.exists()


@pytest.mark.parametrize(("n", "season"), [(300, 0), (40, 12), (15, 0), (9, 0)])
def test_max_horizon_is_the_longest_that_configures(n: int, season: int) -> None:
    series = Series("s", _months(n), np.array([float(v) for v in _values(n)]), ["v"], None)
    cfg = ForecastConfig()
    if season:
        cfg.series.season = season
    most = max_horizon(series, season)
    assert most == max(n - min_history(max(season, 1)), 0) or season == 0
    if most:
        configure(cfg, series, hold_out=most)  # fits
    with pytest.raises(DataError, match=f"the longest horizon the {n} points allow is {most}"):
        configure(cfg, series, hold_out=most + 1)


def test_gaps_are_filled_when_series_fill_asks(tmp_path: Path) -> None:
    times, values, _ = CASES["gaps"]
    path = _write(tmp_path / "gaps.csv", times, values)
    filled = read_csv(path, fill="linear")
    assert filled.time == MONTHS and len(filled) == 120
    row = MONTHS.index("2004-03-01")  # between the rows of 2004-02-01 and 2004-05-01
    before, after = float(VALUES[49]), float(VALUES[50])
    assert filled.target[row, 0] == pytest.approx(before + (after - before) / 3)
    assert len(read_csv(path, fill="drop")) == 117  # drop keeps the gaps as they are


def test_the_builtins_and_good_files_still_load(tmp_path: Path) -> None:
    for name in ("sine", "noisy-sine"):
        assert len(load_series(name)) > 0
    good = read_csv(_write(tmp_path / "ok.csv", MONTHS, VALUES))
    assert good.time == MONTHS


@pytest.mark.parametrize(
    ("labels", "base", "missing"),
    [
        (["2001Q1", "2001Q2", "2001Q4"], "quarterly", 1),
        (["2001-01-31", "2001-02-28", "2001-03-31", "2001-04-30"], "monthly", 0),
        (["2001-01-31", "2001-02-28", "2001-03-30", "2001-05-31"], "monthly", 1),  # business
        (["2001-01-02", "2001-02-01", "2001-03-01", "2001-04-02"], "monthly", 0),
        (["1700", "1701", "1703", "1704"], "a step of 1", 1),
        (["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00"], "every 3600 s", 0),
        (["2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"], "daily", 0),  # weekdays
        (["2020-01-01", "2020-01-08", "2020-01-22"], "weekly", 1),
        (["2001", "2002", "2003"], "a step of 1", 0),
    ],
)
def test_the_step_and_the_missing_labels(labels: list[str], base: str, missing: int) -> None:
    check = check_time_labels(labels)
    assert check is not None
    assert step_text(check.base, isinstance(check.points[0], datetime)) == base
    assert check.missing == missing


def test_free_text_labels_are_not_checked() -> None:
    assert check_time_labels(["a", "b", "a"]) is None
    assert check_time_labels(["0.2041", "0.4082", "0.6122"]) is None


def test_inserted_labels_keep_the_format() -> None:
    quarters = ["2001Q1", "2001Q2", "2001Q4"]
    check = check_time_labels(quarters)
    assert check is not None and check.base.months == 3 and check.missing == 1
    assert with_gaps_inserted(quarters, check) == (
        ["2001Q1", "2001Q2", "2001Q3", "2001Q4"],
        [0, 1, 3],
    )
    when = parse_time("2001-01-31")
    assert when is not None and format_like(when, "2001-02") == "2001-01"
    ends = ["2000-11-30", "2000-12-31", "2001-01-31", "2001-04-30"]
    check = check_time_labels(ends)
    assert check is not None and check.base == Step(1, 31 * 86400.0)
    assert with_gaps_inserted(ends, check)[0][3:5] == ["2001-02-28", "2001-03-31"]
