"""`plot_forecast` reads at a glance: every line its own colour, dashes and marker, date ticks
on calendar boundaries, the shown history window stated, the chosen method in the legend."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnkit import plots
from rnnkit.plots import date_ticks, plot_forecast, time_axis


def _months(n: int, year: int = 2000, day: bool = True) -> list[str]:
    return [f"{year + k // 12:04d}-{k % 12 + 1:02d}" + ("-01" if day else "") for k in range(n)]


def _draw(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, n: int = 120, **kw: Any) -> Any:
    """Draw a monthly forecast and return its figure (not saved)."""
    figures: list[Any] = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, then="": figures.append(fig) or path)
    labels, h = _months(n + 12), 12
    y = np.sin(np.arange(n + h) / 2)
    f = y[n:] + 0.1
    plot_forecast(labels[:n], y[:n], labels[n:], f, f - 1, f + 1, tmp_path / "f.png", **kw)
    return figures[0]


def test_the_plot_is_written(tmp_path: Path) -> None:
    labels = _months(60)
    y = np.cos(np.arange(60) / 3)
    refs = {"ETS(A,N,A)": y[48:], "ARIMA(1,0,0)": y[48:]}
    path = plot_forecast(
        labels[:48],
        y[:48],
        labels[48:],
        y[48:],
        y[48:] - 1,
        y[48:] + 1,
        tmp_path / "forecast.png",
        truth=y[48:],
        references=refs,
        label="chosen: ETS(A,N,A)",
        extra={"recurrent": y[48:] + 0.2},
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_line_is_its_own_and_the_chosen_one_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    same = np.zeros(12)  # three references that coincide, and an extra line
    refs = {"naive": same, "ETS": same, "ARIMA": same}
    fig = _draw(
        monkeypatch, tmp_path, references=refs, label="chosen: median of 3", extra={"rnn": same}
    )
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "chosen: median of 3" in names and {"naive", "ETS", "ARIMA", "rnn"} <= set(names)
    drawn = {ln.get_label(): ln for ln in ax.get_lines()}
    lines = [drawn[k] for k in ("chosen: median of 3", "naive", "ETS", "ARIMA", "rnn")]
    looks = {(ln.get_color(), str(ln.get_linestyle()), ln.get_marker()) for ln in lines}
    assert len(looks) == len(lines)  # no two look alike
    widths = [ln.get_linewidth() for ln in lines]
    orders = [ln.get_zorder() for ln in lines]
    assert widths == sorted(widths, reverse=True) and orders == sorted(orders)  # thinner on top


def test_the_shown_window_is_stated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trimmed = _draw(monkeypatch, tmp_path, n=300)
    notes = [t.get_text() for t in trimmed.axes[0].texts]
    assert notes == ["last 60 of 300 points of history shown"]
    whole = _draw(monkeypatch, tmp_path, n=40)
    assert len(whole.axes[0].texts) == 0


def test_long_monthly_series_tick_on_years() -> None:
    axis = time_axis(_months(120, day=False))
    assert axis.kind == "dates" and axis.tick_labels == [str(y) for y in range(2000, 2010)]


def test_short_series_tick_on_quarters_or_months() -> None:
    assert time_axis(_months(18)).tick_labels[:3] == ["2000 Q1", "2000 Q2", "2000 Q3"]
    assert time_axis(["2001Q1", "2001Q2", "2001Q3", "2001Q4", "2002Q1"]).tick_labels[0] == (
        "2001 Q1"
    )
    months = time_axis(_months(5, year=2010)).tick_labels
    assert months == ["Jan 2010", "Feb 2010", "Mar 2010", "Apr 2010", "May 2010"]


def test_date_ticks_fall_on_calendar_boundaries() -> None:
    years = date_ticks(datetime(1949, 1, 1), datetime(1960, 12, 1))
    assert all((t.month, t.day) == (1, 1) for t in years) and len(years) <= 10
    century = date_ticks(datetime(1700, 1, 1), datetime(2008, 1, 1))
    assert len(century) <= 10 and all(t.year % 50 == 0 for t in century)
    days = date_ticks(datetime(2020, 1, 1), datetime(2020, 1, 20))
    assert all(t.hour == 0 for t in days) and 3 <= len(days) <= 10


def test_numbers_and_free_text() -> None:
    years = time_axis([str(y) for y in range(1700, 2009)])
    assert years.kind == "numbers" and 4 <= len(years.ticks) <= 11
    assert all(t % 10 == 0 for t in years.ticks) and years.tick_labels[0] == f"{years.ticks[0]:g}"
    words = time_axis([f"w{i}" for i in range(30)])
    assert words.kind == "steps" and words.tick_labels[0] == "w0" and len(words.ticks) <= 11


def test_future_labels_that_are_not_times_continue_the_step() -> None:
    axis = time_axis([*_months(24), "+1", "+2"], n_known=24)
    assert axis.kind == "dates" and len(axis.x) == 26
    steps = np.diff(axis.x)
    assert steps[-1] == steps[-2] == np.median(steps[:23])
