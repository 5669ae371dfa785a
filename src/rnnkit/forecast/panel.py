"""Many series in one CSV file (a panel), each read into its own `Series`.

Two layouts:

- long: one row per (series, time), an id column naming the series (`id_col`, or without
  it a column named as `ID_NAMES` lists), a time column and one value column;
- wide (`many=True`): a time column and one value column per series; a series may start
  late or end early (its empty cells at either end are left out).

Within each series the time labels pass `rnnkit.forecast.calendar.check_time_labels` (once
each, oldest first, one step); missing steps and empty cells inside a series are filled as
`series.fill` says, or refused. Every series of a panel must step alike (one frequency).
A series with one point, a time repeated within a series, or mixed frequencies are errors;
a series too short (or constant) is left out and listed in `Panel.skipped` with the
reason, and it is an error only when none is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.config import Fill
from rnnkit.errors import DataError
from rnnkit.forecast.calendar import check_time_labels, parse_labels, step_text
from rnnkit.forecast.series import (
    TIME_NAMES,
    Series,
    _number,
    _read_table,
    _regular_time,
    fill_missing,
)

ID_NAMES = ("id", "unique_id", "series", "series_id", "key")


@dataclass
class Panel:
    """Named single-target series (each `(N_i, 1)`, lengths may differ) and the series left
    out (id -> reason)."""

    series: list[Series]
    skipped: dict[str, str] = field(default_factory=dict)
    name: str = "panel"

    @property
    def ids(self) -> list[str]:
        """The series' names, in file order."""
        return [s.name for s in self.series]


def detect_id_col(header: list[str]) -> str:
    """The id column of a long CSV named as `ID_NAMES` lists (case-insensitive), or ""."""
    by_name = {h.strip().lower(): h for h in header}
    return next((by_name[n] for n in ID_NAMES if n in by_name), "")


def is_panel_csv(source: str, id_col: str = "", many: bool = False) -> bool:
    """Whether `source` is read as many series: `many`, `id_col`, or a CSV file whose
    header has an id column (`detect_id_col`)."""
    if many or id_col:
        return True
    path = Path(source)
    if path.suffix.lower() not in (".csv", ".tsv", ".txt") or not path.is_file():
        return False
    return bool(detect_id_col(_read_table(path)[0]))


def _time_column(header: list[str], rows: list[list[str]], time_col: str, skip: str) -> str:
    """The time column: `time_col`, else one with a usual name, else the first column
    (other than `skip`) that is not numeric; "" for none."""
    if time_col:
        _check_in(header, time_col)
        return time_col
    for name in header:
        if name != skip and name.strip().lower() in TIME_NAMES:
            return name
    for j, name in enumerate(header):
        if name != skip and any(_number(r[j]) is None for r in rows):
            return name
    return ""


def _check_in(header: list[str], name: str) -> None:
    if name not in header:
        raise DataError(f"column {name!r} is not in the file; its columns are: {', '.join(header)}")


def _values(rows: list[list[str]], col: int, name: str, lines: list[int]) -> np.ndarray:
    """The numbers of column `col` (NaN for missing cells). Shape: (N,)."""
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        v = _number(r[col])
        if v is None or np.isinf(v):
            raise DataError(
                f"column {name!r} is not a finite number at line {lines[i]} ({r[col].strip()!r}); "
                "fix that cell or name the value column with series.target"
            )
        out[i] = v
    return out


def _value_column(
    header: list[str], rows: list[list[str]], target: list[str], used: set[str]
) -> str:
    """The one value column of a long CSV: `target`, else the only numeric column left."""
    if target:
        if len(target) > 1:
            raise DataError("a panel forecasts one value column; name one in series.target")
        _check_in(header, target[0])
        return target[0]
    numeric = [
        h
        for j, h in enumerate(header)
        if h not in used and all(_number(r[j]) is not None for r in rows)
    ]
    if len(numeric) != 1:
        found = ", ".join(numeric) or "none"
        raise DataError(
            f"a panel needs one numeric value column (found: {found}); name it in series.target"
        )
    return numeric[0]


def _one_series(
    name: str, time: list[str], values: np.ndarray, lines: list[int], time_col: str, fill: Fill
) -> Series:
    """One series of a panel: its ends' empty cells dropped, its time checked, its gaps and
    inner empty cells filled as `fill` says. Shape: values (N,) -> target (N', 1)."""
    ok = np.flatnonzero(~np.isnan(values))
    if len(ok) <= 1:
        where = f" (line {lines[ok[0]]})" if len(ok) else ""
        raise DataError(
            f"series {name!r} has {len(ok)} point{'s' if len(ok) != 1 else ''}{where}; "
            "a series needs its history: add its points or drop its rows"
        )
    lo, hi = int(ok[0]), int(ok[-1]) + 1
    time, data = time[lo:hi], values[lo:hi, None]  # (N, 1)
    if time:
        _check_repeats(name, time, lines[lo:hi])
        time, data = _regular_time(Path(f"series {name}"), time, time_col, data, fill)
    if np.isnan(data).any():
        if fill == "none":
            raise DataError(
                f"series {name!r} has missing values inside its span; fill them with "
                "series.fill = linear, ffill, zero or drop"
            )
        data, keep = fill_missing(data, fill)
        time = [t for t, k in zip(time, keep, strict=False) if k] if time else []
    return Series(name, time, data, ["value"], np.zeros((len(data), 0)))


def _check_repeats(name: str, time: list[str], lines: list[int]) -> None:
    """Refuse a time given twice within one series, naming both lines."""
    seen: dict[str, int] = {}
    for t, line in zip(time, lines, strict=True):
        key = t.strip()
        if key in seen:
            raise DataError(
                f"series {name!r} repeats time {key!r} at lines {seen[key]} and {line}; "
                "keep one row per series and time"
            )
        seen[key] = line


def _check_frequency(series: list[Series]) -> None:
    """Refuse series that step differently (monthly beside quarterly)."""
    seen: dict[object, tuple[str, str]] = {}  # step -> (first series, its step in words)
    for s in series:
        check = check_time_labels(s.time) if len(s) > 1 and s.time else None
        if check is None:
            continue
        text = step_text(check.base, not isinstance(check.points[0], int))
        seen.setdefault(check.base.key, (s.name, text))
        if len(seen) > 1:
            first, first_text = next(iter(seen.values()))
            raise DataError(
                f"series {first!r} steps {first_text} but {s.name!r} steps {text}; a panel "
                "needs one frequency: resample them alike or forecast them apart"
            )


def read_long(
    path: str | Path,
    id_col: str = "",
    time_col: str = "",
    target: list[str] | None = None,
    fill: Fill = "none",
) -> Panel:
    """Read a long CSV: one row per series and time, the series named by `id_col` (default:
    a column named as `ID_NAMES` lists)."""
    path = Path(path)
    header, rows = _read_table(path)
    id_col = id_col or detect_id_col(header)
    if not id_col:
        raise DataError(
            f"{path.name} has no column named {', '.join(ID_NAMES)}; name its id column (id_col)"
        )
    _check_in(header, id_col)
    time_col = _time_column(header, rows, time_col, id_col)
    value = _value_column(header, rows, list(target or []), {id_col, time_col})
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r[header.index(id_col)].strip(), []).append(i)
    ti, vi = (header.index(time_col) if time_col else -1), header.index(value)
    series = []
    for name, idx in groups.items():
        part, lines = [rows[i] for i in idx], [i + 2 for i in idx]
        time = [r[ti].strip() for r in part] if ti >= 0 else []
        series.append(
            _one_series(name, time, _values(part, vi, value, lines), lines, time_col, fill)
        )
    _check_frequency(series)
    return Panel(series, name=path.stem)


def read_wide(
    path: str | Path, time_col: str = "", target: list[str] | None = None, fill: Fill = "none"
) -> Panel:
    """Read a wide CSV: a time column and one value column per series (`target`, default
    every other column that holds numbers)."""
    path = Path(path)
    header, rows = _read_table(path)
    time_col = _time_column(header, rows, time_col, "")
    time = [r[header.index(time_col)].strip() for r in rows] if time_col else []
    if time and parse_labels(time, time_col) is not None:
        check_time_labels(time, time_col)
    names = list(target or [h for h in header if h != time_col])
    lines = list(range(2, len(rows) + 2))
    series = []
    for name in names:
        _check_in(header, name)
        values = _values(rows, header.index(name), name, lines)
        series.append(_one_series(name, list(time), values, lines, time_col, fill))
    return Panel(series, name=path.stem)


def keep_long_enough(panel: Panel, needed: int) -> Panel:
    """The panel without the series shorter than `needed` points or constant (listed in
    `skipped` with the reason).

    Raises:
        DataError: no series is left.
    """
    kept, skipped = [], dict(panel.skipped)
    for s in panel.series:
        if len(s) < needed:
            skipped[s.name] = f"{len(s)} points, the panel's sizes need {needed}"
        elif bool(np.all(s.target == s.target[0])):
            skipped[s.name] = "constant"
        else:
            kept.append(s)
    if not kept:
        raise DataError(
            f"no series of {panel.name} has the {needed} points the panel's sizes need; "
            "use longer series or a smaller series.horizon"
        )
    return Panel(kept, skipped, panel.name)


__all__ = [
    "ID_NAMES",
    "Panel",
    "detect_id_col",
    "is_panel_csv",
    "keep_long_enough",
    "read_long",
    "read_wide",
]
