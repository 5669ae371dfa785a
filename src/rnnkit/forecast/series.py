"""Time series for forecasting: loading (CSV files and built-in sources), missing values,
season inference and length checks. The `series` config table is
`rnnkit.config.SeriesConfig`; scaling, differencing and windows (model space) are in
`rnnkit.forecast.transforms`.

A `Series` keeps its target columns `(N, C)` and covariate columns `(N, K)` apart, with one
time label per row. Built-in sources:

- `sine`: `sin(t)` on the grid of the PyTorch sine tutorial (step 10/49), 200 points,
  horizon 49.
- `noisy-sine`: d2l's `sin(0.01 t) + N(0, 0.2)`, t = 1..1000, trained on the first 600.
- `sunspots`, `co2`: the datasets statsmodels ships inside its package (the optional
  `rnnkit[ts]` extra), read from its CSV files with no network and no pandas.

A CSV's time column must hold each time once, oldest first, with one step between rows
(`rnnkit.forecast.calendar`); missing steps are refused unless `series.fill` fills them
(`drop` keeps them missing). A constant series is refused: its forecast is the constant.

`plan_sizes` fills in the lookback, horizon and validation size a series gets, and
`check_length` says when it is too short for them.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import numpy as np

from rnnkit.config import Fill, SeriesConfig
from rnnkit.errors import DataError
from rnnkit.forecast.calendar import check_time_labels, step_text, with_gaps_inserted
from rnnkit.storage import storage_errors

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
TIME_NAMES = frozenset({"date", "time", "timestamp", "datetime", "ds", "year", "month", "week"})


@dataclass
class Series:
    """One multivariate series: targets `(N, C)`, covariates `(N, K)`, N time labels.

    Shape:
        target: (N, C) float64. covariates: (N, K) float64, K may be 0. time: N labels.
    """

    name: str
    time: list[str]
    target: np.ndarray
    target_names: list[str]
    covariates: np.ndarray
    covariate_names: list[str] = field(default_factory=list)
    season: int = 0

    def __post_init__(self) -> None:
        self.target = np.asarray(self.target, dtype=np.float64).reshape(len(self.target), -1)
        n = len(self.target)
        if self.covariates is None or np.size(self.covariates) == 0:
            self.covariates = np.zeros((n, 0))
        self.covariates = np.asarray(self.covariates, dtype=np.float64).reshape(n, -1)
        if not self.time:
            self.time = [str(i) for i in range(n)]
        if len(self.time) != n:
            raise DataError(f"series {self.name!r}: {len(self.time)} time labels for {n} rows")
        check_no_inf(self)

    def __len__(self) -> int:
        return len(self.target)

    def head(self, n: int) -> Series:
        """The first `n` rows (the training part when the last rows are held out)."""
        return Series(
            self.name,
            self.time[:n],
            self.target[:n],
            list(self.target_names),
            self.covariates[:n],
            list(self.covariate_names),
            self.season,
        )

    def tail(self, n: int) -> Series:
        """The last `n` rows."""
        start = len(self) - n
        return Series(
            self.name,
            self.time[start:],
            self.target[start:],
            list(self.target_names),
            self.covariates[start:],
            list(self.covariate_names),
            self.season,
        )

    @classmethod
    def from_array(cls, values: Any, name: str = "series", season: int = 0) -> Series:
        """A target-only series from a 1-d `(N,)` or 2-d `(N, C)` array."""
        arr = np.asarray(values, dtype=np.float64)
        arr = arr.reshape(len(arr), -1)  # (N, C)
        names = ["value"] if arr.shape[1] == 1 else [f"value{i}" for i in range(arr.shape[1])]
        return cls(name, [], arr, names, np.zeros((len(arr), 0)), [], season)


# ---------------------------------------------------------------------------------------
# non-finite values
# ---------------------------------------------------------------------------------------


def _first_where(series: Series, bad: np.ndarray) -> str:
    """Where the first True of `bad (N, C + K)` lies: its column, row and time label."""
    row, col = (int(v) for v in np.argwhere(bad)[0])
    names = [*series.target_names, *series.covariate_names]
    name = names[col] if col < len(names) else f"#{col}"
    label = series.time[row]
    when = f" (time {label!r})" if label != str(row) else ""
    more = int(bad.sum()) - 1
    others = f", and {more} more cell{'s' if more != 1 else ''}" if more else ""
    return f"column {name!r} row {row}{when}{others}"


def _values(series: Series) -> np.ndarray:
    """Targets then covariates side by side. Shape: (N, C + K)."""
    return np.concatenate([series.target, series.covariates], axis=1)


def check_no_inf(series: Series) -> None:
    """Raise `DataError` naming the first infinite cell: inf is never a missing value."""
    values = _values(series)  # (N, C + K)
    bad = np.isinf(values)
    if bad.any():
        raise DataError(
            f"series {series.name!r} has an infinite value at {_first_where(series, bad)}; "
            "replace it with a number (or leave the cell empty and set series.fill)"
        )


def finite_series(series: Series, fill: Fill) -> Series:
    """`series` with every value finite: inf is an error; NaN (missing) is an error naming the
    cell when `fill` is `none`, else it is filled as `fill` says (`drop` removes its rows).

    Shape:
        series (N, C) targets, (N, K) covariates -> (N', C), (N', K); N' = N but for `drop`
    """
    check_no_inf(series)
    values = _values(series)  # (N, C + K)
    missing = np.isnan(values)
    if not missing.any():
        return series
    if fill == "none":
        raise DataError(
            f"series {series.name!r} has a missing value (NaN) at "
            f"{_first_where(series, missing)}; fill it with series.fill = linear, "
            "ffill, zero or drop"
        )
    filled, keep = fill_missing(values, fill)  # (N', C + K), (N,)
    C = series.target.shape[1]
    time = [t for t, k in zip(series.time, keep, strict=True) if k]
    return Series(
        series.name,
        time,
        filled[:, :C],
        list(series.target_names),
        filled[:, C:],
        list(series.covariate_names),
        series.season,
    )


# ---------------------------------------------------------------------------------------
# built-in sources
# ---------------------------------------------------------------------------------------


def sine_series() -> Series:
    """`sin(t)` on the PyTorch sine tutorial's grid (`linspace(s, s + 10, 50)` has step
    10/49), 200 points."""
    t = np.arange(200) * (10.0 / 49.0)
    return Series("sine", [f"{v:.4f}" for v in t], np.sin(t), ["sin"], np.zeros((200, 0)))


def noisy_sine_series(seed: int = 0) -> Series:
    """d2l's `sin(0.01 t) + N(0, 0.2)` for t = 1..1000 (fixed noise seed)."""
    t = np.arange(1, 1001, dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, 0.2, size=t.shape)
    values = np.sin(0.01 * t) + noise
    return Series("noisy-sine", [str(int(v)) for v in t], values, ["x"], np.zeros((1000, 0)))


def _statsmodels_csv(name: str) -> Path:
    """Path of a CSV shipped inside statsmodels, found without importing it."""
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"source {name!r} reads the data shipped with statsmodels, which is not installed; "
            "install the extra: pip install 'rnnkit[ts]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / name / f"{name}.csv"
    if not path.is_file():
        raise DataError(f"statsmodels has no {path.name}; reinstall it: pip install 'rnnkit[ts]'")
    return path


def sunspots_series() -> Series:
    """Yearly sunspot activity 1700-2008 (309 points), season 11."""
    with _statsmodels_csv("sunspots").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    years = [str(int(float(r["YEAR"]))) for r in rows]
    values = np.array([float(r["SUNACTIVITY"]) for r in rows])
    return Series("sunspots", years, values, ["SUNACTIVITY"], np.zeros((len(rows), 0)), [], 11)


def co2_series() -> Series:
    """Monthly means of the weekly Mauna Loa CO2 series, 1958-03 to 2001-12 (526 points),
    months without a reading interpolated linearly; season 12."""
    sums: dict[str, list[float]] = {}
    with _statsmodels_csv("co2").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            month = f"{row['date'][:4]}-{row['date'][4:6]}"
            bucket = sums.setdefault(month, [])
            if row["co2"].strip():
                bucket.append(float(row["co2"]))
    first, last = min(sums), max(sums)
    months: list[str] = []
    y, m = int(first[:4]), int(first[5:])
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    values = np.array([np.mean(sums[k]) if sums.get(k) else np.nan for k in months])
    values = fill_missing(values.reshape(-1, 1), "linear")[0]  # (N, 1)
    return Series("co2", months, values, ["co2"], np.zeros((len(months), 0)), [], 12)


BUILTINS = {
    "sine": sine_series,
    "noisy-sine": noisy_sine_series,
    "sunspots": sunspots_series,
    "co2": co2_series,
}


# ---------------------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    """A float, NaN for a missing-value marker, None when the text is not a number."""
    cell = text.strip()
    if cell.lower() in MISSING:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return None


def _rows_text(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def fill_missing(values: np.ndarray, fill: Fill) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaNs column by column; returns the filled values and the kept-row mask.

    `linear` interpolates (and extends the end values), `ffill` carries the last value
    forward (the first values backward), `zero` writes 0, `drop` removes the rows.

    Shape:
        values: (N, C). Returns (N', C) and a boolean mask (N,).
    """
    fills = [f for f in get_args(Fill) if f != "none"]
    if fill not in fills:
        raise DataError(f"series.fill {fill!r} does not fill; choose one of {', '.join(fills)}")
    values = np.array(values, dtype=np.float64)
    bad = np.isnan(values)  # (N, C)
    keep = np.ones(len(values), dtype=bool)
    if not bad.any():
        return values, keep
    if fill == "drop":
        keep = ~bad.any(axis=1)
        return values[keep], keep
    if fill == "zero":
        values[bad] = 0.0
        return values, keep
    idx = np.arange(len(values))
    for c in range(values.shape[1]):
        ok = ~bad[:, c]
        if not ok.any():
            raise DataError(f"column {c} has no values at all; nothing to fill from")
        if fill == "linear":
            values[:, c] = np.interp(idx, idx[ok], values[ok, c])
        else:  # ffill: index of the last valid row at or before each row
            last = np.maximum.accumulate(np.where(ok, idx, -1))
            last[last < 0] = idx[ok][0]
            values[:, c] = values[last, c]
    return values, keep


def _pick_time_col(header: list[str], rows: list[list[str]]) -> str:
    """Default time column: one with a usual name, else the first column if non-numeric."""
    for name in header:
        if name.strip().lower() in TIME_NAMES:
            return name
    first = [r[0] for r in rows if r]
    if first and any(_number(v) is None for v in first):
        return header[0]
    return ""


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header (stripped) and the data rows of a CSV file, blank rows left out."""
    if not path.is_file():
        raise DataError(
            f"{path} is not a file nor a built-in source; sources: {', '.join(BUILTINS)}, "
            "or a CSV path"
        )
    try:
        with storage_errors(path, "read"), path.open(newline="", encoding="utf-8-sig") as fh:
            table = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DataError(f"{path} is not a readable CSV: {exc}") from None
    if len(table) < 2:
        raise DataError(f"{path} needs a header row and at least one data row")
    header = [h.strip() for h in table[0]]
    rows = table[1:]
    width = len(header)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise DataError(
                f"{path}: row {i + 2} has {len(r)} cells but the header has {width}; fix that row"
            )
    return header, rows


def _target_columns(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    target: list[str] | None,
    time_col: str,
    covariates: list[str],
) -> list[str]:
    """The target columns: `target`, else every numeric column but the time and covariates;
    every column named must be in `header`."""
    for name in [*(target or []), *covariates, *([time_col] if time_col else [])]:
        if name not in header:
            raise DataError(
                f"column {name!r} is not in {path.name}; its columns are: {', '.join(header)}"
            )
    if target:
        return list(target)
    used = {time_col, *covariates}
    targets = [h for h in header if h not in used and _number_column(rows, header, h)]
    if not targets:
        others = [h for h in header if h not in used]
        if others:  # the most numeric of them names its first cell that is not a number
            col = max(
                others, key=lambda h: sum(_number(r[header.index(h)]) is not None for r in rows)
            )
            _parse_columns(header, rows, [col])
        raise DataError(f"{path.name} has no numeric column to forecast; name one: series.target")
    return targets


def _parse_columns(
    header: list[str], rows: list[list[str]], columns: list[str]
) -> tuple[np.ndarray, dict[str, list[int]], dict[str, list[int]]]:
    """The values of `columns`, `(N, len(columns))`, with the line numbers of the missing
    and of the infinite cells of each column."""
    data = np.empty((len(rows), len(columns)))
    missing: dict[str, list[int]] = {}
    infinite: dict[str, list[int]] = {}
    for j, name in enumerate(columns):
        col = header.index(name)
        for i, r in enumerate(rows):
            value = _number(r[col])
            if value is None:
                raise DataError(
                    f"column {name!r} is not numeric (line {i + 2}: {r[col].strip()!r}); "
                    "pick numeric columns with series.target / series.covariates"
                )
            if math.isnan(value):
                missing.setdefault(name, []).append(i + 2)
            elif math.isinf(value):
                infinite.setdefault(name, []).append(i + 2)
            data[i, j] = value
    return data, missing, infinite


def _check_cells(
    path: Path, missing: dict[str, list[int]], infinite: dict[str, list[int]], fill: Fill
) -> None:
    """Refuse infinite cells, and missing ones unless `fill` fills them, naming their lines."""
    if infinite:
        where = "; ".join(f"{k!r} at lines {_rows_text(v)}" for k, v in infinite.items())
        raise DataError(
            f"{path.name} has infinite values: {where}; replace them with numbers "
            "(inf is never filled; an empty cell is a missing value series.fill can fill)"
        )
    if missing and fill == "none":
        where = "; ".join(f"{k!r} at lines {_rows_text(v)}" for k, v in missing.items())
        raise DataError(
            f"{path.name} has missing values: {where}; fill them with series.fill = linear, "
            "ffill, zero or drop"
        )


def read_csv(
    path: str | Path,
    target: list[str] | None = None,
    time_col: str = "",
    covariates: list[str] | None = None,
    fill: Fill = "none",
) -> Series:
    """Read a CSV with a header row into a `Series`.

    Args:
        path: the file.
        target: target columns; default every numeric column but the time and covariates.
        time_col: the time column; default a column named like `date`/`time`/`year`, else
            the first column when it is not numeric, else row numbers.
        covariates: extra input columns the model sees but does not forecast.
        fill: what to do with missing cells: `none` reports them with their line numbers,
            `linear`, `ffill`, `zero` or `drop` fill them. Missing time steps (a gap in a
            regular date or integer time column) are inserted as empty rows and filled the
            same way (`drop` leaves the gap; `none` reports it).

    Raises:
        DataError: an unreadable file, a non-numeric cell, missing cells with `fill` none,
            a time column that repeats a time, runs backwards, changes its step or (with
            `fill` none) misses steps, or a constant series.
    """
    path = Path(path)
    header, rows = _read_table(path)
    covariates = list(covariates or [])
    time_col = time_col or _pick_time_col(header, rows)
    targets = _target_columns(path, header, rows, target, time_col, covariates)
    data, missing, infinite = _parse_columns(header, rows, [*targets, *covariates])
    time = [r[header.index(time_col)].strip() for r in rows] if time_col else []
    _check_cells(path, missing, infinite, fill)
    time, data = _regular_time(path, time, time_col, data, fill)
    if missing or np.isnan(data).any():
        data, keep = fill_missing(data, fill)
        time = [t for t, k in zip(time, keep, strict=False) if k] if time else []
    n_t = len(targets)
    series = Series(path.stem, time, data[:, :n_t], targets, data[:, n_t:], covariates)
    check_not_constant(series)
    return series


def _regular_time(
    path: Path, time: list[str], time_col: str, data: np.ndarray, fill: Fill
) -> tuple[list[str], np.ndarray]:
    """Check the time column (`calendar.check_time_labels`); insert the rows of missing
    steps as empty rows for `fill` to fill (`drop` keeps the gaps), else refuse them.

    Shape:
        data: (N, K). Returns N' labels and (N', K), N' = N + the missing steps.
    """
    check = check_time_labels(time, time_col) if time else None
    if check is None or not check.missing or fill == "drop":
        return time, data
    if fill == "none":
        first = min(check.gaps)
        dates = isinstance(check.points[0], datetime)
        raise DataError(
            f"{path.name} misses {check.missing} {step_text(check.base, dates)} "
            f"step{'s' if check.missing > 1 else ''} of "
            f"its time column {time_col!r} (the first after line {first + 2}, "
            f"{time[first]!r}); insert them as rows to fill with series.fill = linear, ffill "
            "or zero, or resample the series to one regular step"
        )
    labels, rows = with_gaps_inserted(time, check)
    full = np.full((len(labels), data.shape[1]), np.nan)  # (N', K)
    full[rows] = data
    return labels, full


def check_not_constant(series: Series) -> None:
    """Raise `DataError` when every target is constant: such a series needs no model."""
    t = series.target  # (N, C)
    if len(t) > 1 and bool(np.all(t == t[0])):
        value = ", ".join(f"{v:g}" for v in t[0])
        raise DataError(
            f"series {series.name!r} is constant (every value is {value}): it needs no model, "
            "its forecast is that constant; forecast a series that varies"
        )


def _number_column(rows: list[list[str]], header: list[str], name: str) -> bool:
    col = header.index(name)
    return all(_number(r[col]) is not None for r in rows)


def load_series(
    source: str,
    target: list[str] | None = None,
    time_col: str = "",
    covariates: list[str] | None = None,
    fill: Fill = "none",
) -> Series:
    """A built-in source by name (`sine`, `noisy-sine`, `sunspots`, `co2`) or a CSV path."""
    if source in BUILTINS:
        if target or covariates or time_col:
            raise DataError(
                f"source {source!r} is built in; series.target, series.time_col and "
                "series.covariates are for CSV files"
            )
        return BUILTINS[source]()
    return read_csv(source, target, time_col, covariates, fill)


# ---------------------------------------------------------------------------------------
# season, sizes, length checks
# ---------------------------------------------------------------------------------------


def infer_season(values: np.ndarray, max_lag: int = 0) -> int:
    """The lag (>= 2) of the highest local peak of the autocorrelation of the first
    differences, if that peak exceeds 0.3; else 1 (no season: plain naive).

    Shape:
        values: (N,) or (N, C); the first column is used.
    """
    if len(values) < 9:  # too short to show a season (and an empty one has no column)
        return 1
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)[:, 0]
    x = np.diff(x)
    x = x - x.mean()
    n = len(x)
    max_lag = max_lag or min(n // 3, 400)
    denom = float(np.dot(x, x))
    if n < 8 or denom == 0.0 or max_lag < 3:
        return 1
    acf = np.array([np.dot(x[:-k], x[k:]) / denom for k in range(1, max_lag + 1)])  # lag 1..
    best, best_val = 1, 0.3
    for k in range(2, max_lag):  # acf[k - 1] is lag k
        if acf[k - 1] > acf[k - 2] and acf[k - 1] >= acf[k] and acf[k - 1] > best_val:
            best, best_val = k, float(acf[k - 1])
    return best


def default_horizon(season: int, n_history: int) -> int:
    """The horizon of a series that names none: the season, else a tenth of the history
    (at most 100)."""
    return max(1, min(season if season > 1 else n_history // 10, 100))


def default_lookback(season: int, horizon: int, n_fit: int) -> int:
    """The lookback of a series that names none: max(season, horizon, 8), at most half of
    the `n_fit` points a candidate fits on (at least 2)."""
    return max(2, min(max(season, horizon, 8), (n_fit - 1) // 2))


def default_val_size(horizon: int, n_known: int, diff: int) -> int:
    """The validation tail: the horizon, at most a fifth of the `n_known` points."""
    return min(horizon, max(1, (n_known - diff) // 5))


def plan_sizes(cfg: SeriesConfig, n_history: int, season: int = 1) -> dict[str, int]:
    """Lookback, horizon and validation size for a history of `n_history` points, and the
    points training needs: the config's (`rnnkit.forecast.auto.configure` fixes them once
    per run), a `0` filled by the rules `configure` uses (`default_horizon`, ...).
    """
    season = max(int(season), 1)
    horizon = cfg.horizon or default_horizon(season, n_history)
    diff = 1 if cfg.transform == "diff" else 0
    val_size = cfg.val_size or default_val_size(horizon, n_history, diff)
    lookback = cfg.lookback or default_lookback(season, horizon, n_history - val_size)
    needed = lookback + horizon + val_size + diff
    return {"lookback": lookback, "horizon": horizon, "val_size": val_size, "needed": needed}


def check_length(n: int, needed: int, what: str, name: str) -> None:
    """Raise the "too short" error naming how long the series must be."""
    if n < needed:
        raise DataError(
            f"series {name!r} has {n} points but {what} needs at least {needed}; "
            "use a longer series or a smaller series.lookback / series.horizon"
        )
