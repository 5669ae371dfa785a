"""The automatic configuration of a forecast: what `rnnkit forecast FILE` chooses from the
series when no preset pins it. Every choice is a rule on the history (never the held-out
test part), printed as one line and written to the run's config:

| key                | rule                                                                  |
|--------------------|-----------------------------------------------------------------------|
| `series.season`    | the time column's frequency (weekly 52, monthly 12, quarterly 4,      |
|                    | daily 7) when the autocorrelation of the differenced series at that   |
|                    | lag is at least 0.2; else the autocorrelation's highest peak above    |
|                    | 0.3 (a cycle, as sunspots' ~11 years); else none                      |
| `series.horizon`   | the season, else a tenth of the series (at most 100)                  |
| `series.log`       | yes for a positive series whose seasonal swing grows with its level   |
|                    | (correlation of each season's mean and spread >= 0.5, spread growing  |
|                    | by >= 20%)                                                            |
| `series.transform` | `diff` when a straight line explains >= 50% of the variance of the    |
|                    | (logged) series' moving average over a season (a trend); else `none`; |
|                    | for the hybrids `diff` means a damped trend in the smoothing          |
| `series.lookback`  | max(season, horizon, 8), at most half of the points left for fitting  |
| `series.origins`   | 3 rolling origins at the end of the history, a horizon apart (closer  |
|                    | when the history is short; the earliest keeps half of it)             |
| `series.val_size`  | the horizon, at most a fifth of what the earliest origin knows        |
| `series.method`    | `auto`: the candidates that fit before the earliest origin (`esrnn`,  |
|                    | `es`, and `rnn` with >= 8 full training windows), the references and  |
|                    | their combination are scored on the origins (`forecast.select`)       |
| `train.max_steps`  | at most 500 optimizer steps without a preset (long series)            |

Keys already set (by a preset, a config file, `--set` or a flag) are kept. The chosen
config has `recipe = "fixed"` and the printed line (without `auto: `) as `recipe_note`, as
the language models' recipe records its choice (`rnnkit.config.tables`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rnnkit.config import ForecastConfig, Method
from rnnkit.errors import DataError
from rnnkit.forecast.series import (
    Series,
    default_horizon,
    default_lookback,
    default_val_size,
    infer_season,
)

# Points per season of a time step, by the median gap between time labels in days.
CALENDAR: tuple[tuple[str, float, float, int], ...] = (
    ("daily", 0.5, 1.5, 7),
    ("weekly", 6.0, 8.0, 52),
    ("monthly", 27.0, 32.0, 12),
    ("quarterly", 88.0, 93.0, 4),
    ("yearly", 360.0, 370.0, 1),
)
SEASON_ACF = 0.2  # the calendar season is kept when the autocorrelation reaches this
TREND_R2 = 0.5
MULTIPLICATIVE_R = 0.5
MIN_WINDOWS = 8
MAX_STEPS = 500
# Rolling origins of the automatic choice: three average out one odd stretch of the
# history (one validation tail misleads the choice) while the candidates fitted before
# the earliest origin still see most of the history.
ORIGINS = 3


@dataclass
class AutoChoice:
    """The configuration the rules chose, why (one line), the candidate methods and the
    rolling origins they are scored on (`plan_origins`; empty when the method is pinned)."""

    config: ForecastConfig
    reasons: list[str] = field(default_factory=list)
    candidates: list[Method] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)

    @property
    def line(self) -> str:
        """The printed line, e.g. `auto: season 12 (monthly, ...), lookback 24, ...`."""
        return "auto: " + "; ".join(self.reasons) if self.reasons else ""


def _parse_date(label: str) -> date | None:
    """`2001-05-31`, `2001-05` or `1959Q2` as a date; None otherwise."""
    text = label.strip()
    try:
        if len(text) == 6 and text[4] in "Qq":
            return date(int(text[:4]), 3 * int(text[5]) - 2, 1)
        if len(text) == 7 and text[4] == "-":
            return date(int(text[:4]), int(text[5:7]), 1)
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def time_frequency(labels: list[str]) -> tuple[str, int]:
    """The frequency of a time column and its calendar season: ("monthly", 12), ("yearly",
    1) for integer years, ("", 0) when the labels are not dates."""
    if len(labels) < 3:
        return "", 0
    if all(s.strip().lstrip("-").isdigit() for s in labels):
        steps = np.diff([int(s) for s in labels])
        return ("yearly", 1) if len(steps) and np.median(steps) == 1 else ("", 0)
    dates = [_parse_date(s) for s in labels]
    if any(d is None for d in dates):
        return "", 0
    gaps = np.diff([d.toordinal() for d in dates if d is not None])
    gap = float(np.median(gaps))
    for name, lo, hi, season in CALENDAR:
        if lo <= gap <= hi:
            return name, season
    return "", 0


def future_dates(labels: list[str], horizon: int) -> list[str] | None:
    """The next `horizon` labels of a daily, weekly, monthly or quarterly ISO date column,
    in its format (`YYYY-MM-DD` or `YYYY-MM`); None for other columns."""
    freq, _ = time_frequency(labels)
    last = _parse_date(labels[-1]) if labels else None
    if last is None or freq not in ("daily", "weekly", "monthly", "quarterly"):
        return None
    out = []
    for k in range(1, horizon + 1):
        if freq in ("daily", "weekly"):
            d = date.fromordinal(last.toordinal() + k * (1 if freq == "daily" else 7))
        else:
            months = last.month - 1 + k * (1 if freq == "monthly" else 3)
            d = date(last.year + months // 12, months % 12 + 1, 1)
        out.append(d.isoformat()[: len(labels[-1].strip())])
    return out


def lag_acf(values: np.ndarray, lag: int) -> float:
    """The autocorrelation of the first differences at `lag` (0 when too short). Shape: (N,)."""
    x = np.diff(np.asarray(values, dtype=np.float64))
    if lag < 1 or len(x) < lag + 8:
        return 0.0
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom == 0.0:
        return 0.0
    return float(np.dot(x[:-lag], x[lag:]) / denom)


def _season(series: Series, values: np.ndarray) -> tuple[int, str]:
    """The season length and the reason, from the time column and the autocorrelation."""
    if series.season:
        return series.season, f"season {series.season} (the source's)"
    freq, calendar = time_frequency(series.time)
    if calendar > 1:
        acf = lag_acf(values, calendar)
        if acf >= SEASON_ACF:
            return calendar, f"season {calendar} ({freq}, autocorrelation {acf:.2f})"
    peak = infer_season(values)
    where = f"{freq} " if freq else ""
    if peak > 1:
        return peak, f"season {peak} ({where}cycle: autocorrelation peak)"
    return 1, f"no season ({where}no autocorrelation peak)"


def _multiplicative(values: np.ndarray, season: int) -> tuple[bool, float]:
    """Whether the seasonal swing grows with the level: the correlation of each full
    season's mean with its spread (around a line through it), and the growth of the spread."""
    n = len(values) // season
    if season <= 1 or n < 3 or not bool((values > 0).all()):
        return False, 0.0
    cycles = values[len(values) - n * season :].reshape(n, season)
    t = np.arange(season)
    spreads = []
    for c in cycles:
        fit = np.polyval(np.polyfit(t, c, 1), t)
        spreads.append(float(np.std(c - fit)))
    means, spreads_a = cycles.mean(axis=1), np.array(spreads)
    if spreads_a.std() == 0 or means.std() == 0:
        return False, 0.0
    r = float(np.corrcoef(means, spreads_a)[0, 1])
    half = n // 2
    growth = spreads_a[half:].mean() / max(spreads_a[:half].mean(), 1e-12)
    return bool(r >= MULTIPLICATIVE_R and growth >= 1.2), r


def trend_r2(values: np.ndarray, season: int = 1) -> float:
    """The share of variance a straight line explains, of the series' moving average over
    one season when it holds two (so a strong swing does not hide a trend). Shape: (N,)."""
    v = np.asarray(values, dtype=np.float64)
    if season > 1 and len(v) >= 2 * season:
        v = np.convolve(v, np.ones(season) / season, mode="valid")
    t = np.arange(len(v), dtype=np.float64)
    if len(v) < 3 or np.std(v) == 0:
        return 0.0
    fit = np.polyval(np.polyfit(t, v, 1), t)
    return float(1.0 - np.var(v - fit) / np.var(v))


def min_history(season: int) -> int:
    """The fewest history points the automatic configuration fits on: two seasons, or 10."""
    return max(2 * season, 10)


def max_horizon(series: Series, season: int = 0) -> int:
    """The longest test horizon that leaves `min_history` points of history, the season
    inferred on that history unless `season` is given; 0 when none does."""
    values = np.asarray(series.target[:, 0], dtype=np.float64)
    n = len(values)
    horizon = n - min_history(max(season, 1))
    for _ in range(4):  # a season inferred on a shorter history may need more of it
        if horizon < 1:
            return 0
        m = season or _season(series.head(n - horizon), values[: n - horizon])[0]
        if n - horizon >= min_history(m):
            return horizon
        horizon = n - min_history(m)
    return max(horizon, 0)


def _too_short(series: Series, n_history: int, season: int, hold_out: int, fixed: int) -> str:
    """The "history too short" message; with a test part, the longest horizon that fits."""
    what = f"season {season}" if season > 1 else "no season"
    head = (
        f"series {series.name!r} has {n_history} points of history; a forecast with {what} "
        f"needs at least {min_history(season)}"
    )
    if not hold_out:
        return head + ": use a longer series or a smaller series.horizon"
    most = max_horizon(series, fixed)
    fix = f"set series.horizon to {most} or less" if most else "use a longer series"
    return (
        f"{head} before the {hold_out} held out for testing: the longest horizon the "
        f"{len(series)} points allow is {most}; {fix}"
    )


def configure(cfg: ForecastConfig, series: Series, hold_out: int = 0) -> AutoChoice:
    """Fill the `UNSET` keys of a copy of `cfg` (the convention of `_Config.chooses`)
    from `series` minus its last `hold_out` points (the test part, never looked at).

    Raises:
        DataError: the history is shorter than `min_history`.
    """
    cfg = copy.deepcopy(cfg)
    s, out = cfg.series, AutoChoice(cfg)
    values = np.asarray(series.target[:, 0], dtype=np.float64)
    if cfg.is_unset("series.season"):
        s.season, why = _season(series, values[: max(len(values) - (hold_out or s.horizon), 0)])
        out.reasons.append(why)
    m = max(s.season, 1)
    if cfg.is_unset("series.horizon"):
        s.horizon = default_horizon(m, len(values))
    history = values[: max(len(values) - hold_out, 0)] if hold_out else values
    if len(history) < min_history(m):
        fixed = 0 if cfg.is_unset("series.season") else m
        raise DataError(_too_short(series, len(history), m, hold_out, fixed))
    if cfg.is_unset("series.log"):
        mult, r = _multiplicative(history, m)
        s.log = "yes" if mult else "no"
        if mult:
            out.reasons.append(f"log (seasonal swing grows with the level, r = {r:.2f})")
    if cfg.is_unset("series.transform"):
        r2 = trend_r2(np.log(history) if s.log == "yes" else history, m)
        s.transform = "diff" if r2 >= TREND_R2 else "none"
        out.reasons.append(f"transform {s.transform} (a line explains {r2:.0%})")
    n_fit = _plan_fit(cfg, len(history), out)
    if cfg.is_unset("series.lookback"):
        s.lookback = default_lookback(m, s.horizon, n_fit)
        out.reasons.append(f"lookback {s.lookback}")
    if not cfg.preset:  # a preset keeps its own training length
        _cap_steps(cfg, n_fit - s.lookback)
    if cfg.is_unset("series.method"):
        out.candidates = candidates(cfg, series, n_fit)
        if out.origins:
            out.reasons.append(
                f"method: best on {s.origins} rolling origins of "
                + ", ".join(out.candidates)
                + ", the references and their combination"
            )
        else:  # no origin leaves min_history before it: no choice to make
            s.method = out.candidates[0]
            out.reasons.append(f"method {s.method} (too short for a rolling origin)")
    if cfg.recipe == "auto":
        cfg.recipe, cfg.recipe_note = "fixed", "; ".join(out.reasons)
    return out


def plan_origins(n_history: int, horizon: int, count: int = ORIGINS, least: int = 1) -> list[int]:
    """The rolling origins at the end of a history of `n_history` points: how many points
    each knows, ascending, each followed by `horizon` points to score. The last is
    `n_history - horizon`; the others step back by the horizon, closer together when the
    history is short (the earliest knows at least half of the history and `least`
    points), and fewer when even one step does not fit; none when the last knows fewer
    than `least`.
    """
    last = n_history - horizon
    if last < max(least, 1):
        return []
    floor = max(n_history // 2, least)
    count = max(1, min(count, last - floor + 1))
    if count == 1:
        return [last]
    step = min(horizon, (last - floor) // (count - 1))
    return [last - k * step for k in reversed(range(count))]


def _plan_fit(cfg: ForecastConfig, n_history: int, out: AutoChoice) -> int:
    """Fix `series.origins` and `series.val_size` (when unset) and return the points a
    candidate fits on before its validation tail: what the earliest origin knows, minus
    the validation tail (the whole history when the method is pinned: no choice)."""
    s = cfg.series
    starts: list[int] = []
    if s.method == "auto":
        least = min_history(max(s.season, 1))
        starts = plan_origins(n_history, s.horizon, s.origins or ORIGINS, least)
        if cfg.is_unset("series.origins"):
            s.origins = len(starts)
    known = starts[0] if starts else n_history
    if cfg.is_unset("series.val_size"):
        diff = 1 if s.transform == "diff" else 0
        s.val_size = default_val_size(s.horizon, known, diff)
    out.origins = starts
    return known - s.val_size


def _cap_steps(cfg: ForecastConfig, windows: int) -> None:
    """Cap the optimizer steps of a long series at `MAX_STEPS` (unless steps are set)."""
    t = cfg.train
    per_epoch = -(-max(windows, 1) // cfg.series.batch_size)
    if t.max_steps == 0 and t.epochs * per_epoch > MAX_STEPS:
        t.max_steps = MAX_STEPS


def candidates(cfg: ForecastConfig, series: Series, n_fit: int) -> list[Method]:
    """The methods the history can fit: the hybrids for one target without covariates,
    the plain network when it gets at least `MIN_WINDOWS` full training windows."""
    s = cfg.series
    univariate = series.target.shape[1] == 1 and series.covariates.shape[1] == 0
    out: list[Method] = []
    if univariate and n_fit - s.lookback >= MIN_WINDOWS:
        out.append("esrnn")
    if univariate:
        out.append("es")
    diff = 1 if s.transform == "diff" else 0
    if n_fit - diff - s.lookback - s.horizon + 1 >= MIN_WINDOWS or not out:
        out.append("rnn")
    return out


__all__ = [
    "AutoChoice",
    "candidates",
    "configure",
    "future_dates",
    "max_horizon",
    "min_history",
    "plan_origins",
    "time_frequency",
]
