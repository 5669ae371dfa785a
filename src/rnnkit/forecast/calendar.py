"""A series' time labels as a calendar: parsing, the step between labels, and the checks a
time column passes before a forecast (`check_time_labels`).

A time column whose labels parse as dates (`2001-05-31`, `2001-05`, `1959Q2`, ISO date-times)
or as integers (years) must hold each time once, in increasing order, with one step between
consecutive labels: a number of calendar months (monthly, quarterly, yearly) or a fixed
duration (daily, weekly, a number of seconds or of years). Steps that are a multiple of that
step are missing rows (gaps): `with_gaps_inserted` adds them as empty rows for `series.fill`.
Other labels (free text, fractions) are not checked.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from rnnkit.errors import DataError
from rnnkit.timelabels import parse_time

DAY = 86400.0
# A series stepping one day whose only missing days are Saturdays and Sundays is business-daily.
WEEKEND = (5, 6)

# Days two labels may be apart in their months and still be a whole number of months apart
# (a month's first or last business day).
SLACK = 3

Point = datetime | int


@dataclass(frozen=True)
class Step:
    """The step between two labels: whole calendar months (0 when the labels are not the
    same day of their months) and the duration (seconds; the difference for integers)."""

    months: int
    seconds: float

    @property
    def key(self) -> tuple[str, float]:
        """What counts as the same step: months when aligned, else the duration."""
        return ("months", self.months) if self.months else ("seconds", self.seconds)


def parse_labels(labels: list[str], column: str = "time") -> list[Point] | None:
    """The labels as integers or datetimes; None when they are neither (free text).

    Raises:
        DataError: most labels are dates but one is not (a typo), naming its line.
    """
    if labels and all(s.strip().lstrip("-").isdigit() for s in labels):
        return [int(s) for s in labels]
    parsed = [parse_time(s) for s in labels]
    bad = [i for i, p in enumerate(parsed) if p is None]
    if not bad:
        return [p for p in parsed if p is not None]
    if len(bad) * 2 > len(labels):
        return None
    i = bad[0]
    raise DataError(
        f"time column {column!r}: line {i + 2} ({labels[i].strip()!r}) is not a date like the "
        "others (YYYY-MM-DD, YYYY-MM or YYYYQn); fix that label"
    )


def _month_end(t: datetime, slack: int = 0) -> bool:
    """Whether `t` lies within `slack` days of the end of its month."""
    return t.day >= calendar.monthrange(t.year, t.month)[1] - slack


def step_between(a: Point, b: Point) -> Step:
    """The step from label `a` to label `b` (`b` later)."""
    if isinstance(a, int) and isinstance(b, int):
        return Step(0, float(b - a))
    assert isinstance(a, datetime) and isinstance(b, datetime)  # one column holds one kind
    months = (b.year - a.year) * 12 + b.month - a.month
    same_day = abs(a.day - b.day) <= SLACK or (_month_end(a, SLACK) and _month_end(b, SLACK))
    aligned = months > 0 and same_day and a.time() == b.time()
    return Step(months if aligned else 0, (b - a).total_seconds())


def step_text(step: Step, dates: bool = True) -> str:
    """`monthly`, `quarterly`, `yearly`, `every 6 months`, `daily`, `weekly`, `every 3 days`,
    `every 3600 s`, or `a step of 5` for integer labels."""
    names = {1: "monthly", 3: "quarterly", 12: "yearly"}
    if step.months:
        return names.get(step.months, f"every {step.months} months")
    if not dates:
        return f"a step of {step.seconds:g}"
    days = step.seconds / DAY
    if days == 1:
        return "daily"
    if days == 7:
        return "weekly"
    return f"every {days:g} days" if days == int(days) else f"every {step.seconds:g} s"


def span_text(step: Step, dates: bool = True) -> str:
    """How far apart two labels are: `1 month`, `37 days`, `3600 s`, or `5` for integers."""
    if step.months:
        return f"{step.months} month{'s' if step.months > 1 else ''}"
    days = step.seconds / DAY
    if not dates:
        return f"{step.seconds:g}"
    if days == int(days):
        return f"{days:g} day{'s' if days != 1 else ''}"
    return f"{step.seconds:g} s"


def _multiple(step: Step, base: Step) -> int:
    """How many `base` steps `step` spans (1 for the same step), 0 when it is not a whole
    number of them."""
    if base.months:
        return step.months // base.months if step.months % base.months == 0 else 0
    ratio = step.seconds / base.seconds
    return round(ratio) if ratio >= 1 and abs(ratio - round(ratio)) < 1e-9 else 0


@dataclass
class TimeCheck:
    """A time column that passed: its points, the usual step and the rows after which
    labels are missing (`gaps`: row index -> missing labels)."""

    points: list[Point]
    base: Step
    gaps: dict[int, int]

    @property
    def missing(self) -> int:
        """How many labels are missing in all."""
        return sum(self.gaps.values())


def _check_order(labels: list[str], points: list[Point], column: str) -> None:
    """Raise on the first repeated time, or the first one earlier than the row before it."""
    seen: dict[Point, int] = {}
    for i, p in enumerate(points):
        if p in seen:
            raise DataError(
                f"time column {column!r} repeats {labels[i].strip()!r} at lines "
                f"{seen[p] + 2} and {i + 2}; keep one row per time (sum or average the "
                "duplicates)"
            )
        seen[p] = i
    for i in range(1, len(points)):
        if points[i] < points[i - 1]:  # type: ignore[operator]
            how = "runs backwards (newest first)" if i == 1 else "is not in increasing order"
            raise DataError(
                f"time column {column!r} {how}: line {i + 2} ({labels[i].strip()!r}) comes "
                f"after line {i + 1} ({labels[i - 1].strip()!r}); sort the rows oldest first"
            )


def _business_days(points: list[Point], gaps: dict[int, int]) -> bool:
    """Whether every missing day of a daily series is a Saturday or a Sunday."""
    for i, n in gaps.items():
        start = points[i]
        assert isinstance(start, datetime)
        if any((start + timedelta(days=k)).weekday() not in WEEKEND for k in range(1, n + 1)):
            return False
    return True


def check_time_labels(labels: list[str], column: str = "time") -> TimeCheck | None:
    """Check a time column (see the module's rules); None for labels that are not times.

    Raises:
        DataError: a repeated time, a time out of order, or a step that changes (naming
            the first place it does).
    """
    points = parse_labels(labels, column)
    if points is None or len(points) < 2:
        return None
    _check_order(labels, points, column)
    steps = [step_between(a, b) for a, b in pairwise(points)]
    key, _ = Counter(s.key for s in steps).most_common(1)[0]
    base = next(s for s in steps if s.key == key)
    dates = isinstance(points[0], datetime)
    gaps: dict[int, int] = {}
    for i, step in enumerate(steps):
        k = _multiple(step, base)
        if k == 0:
            raise DataError(
                f"time column {column!r} changes its step at line {i + 3}: "
                f"{labels[i + 1].strip()!r} comes {span_text(step, dates)} after "
                f"{labels[i].strip()!r} where the series steps {step_text(base, dates)}; "
                "a forecast needs one frequency: fix those labels or resample the series"
            )
        if k > 1:
            gaps[i] = k - 1
    if dates and base == Step(0, DAY) and gaps and _business_days(points, gaps):
        gaps = {}
    return TimeCheck(points, base, gaps)


def _add(point: Point, base: Step, k: int) -> Point:
    """`point` moved `k` steps of `base` on."""
    if isinstance(point, int):
        return point + k * int(base.seconds)
    if not base.months:
        return point + timedelta(seconds=k * base.seconds)
    months = point.month - 1 + k * base.months
    year, month = point.year + months // 12, months % 12 + 1
    last = calendar.monthrange(year, month)[1]
    day = last if _month_end(point) else min(point.day, last)
    return point.replace(year=year, month=month, day=day)


def format_like(point: Point, like: str) -> str:
    """`point` written as the label `like` is (`1959Q2`, `2001-05`, `2001-05-31`, ...)."""
    like = like.strip()
    if isinstance(point, int):
        return str(point)
    if len(like) == 6 and like[4] in "Qq":
        return f"{point.year:04d}{like[4]}{(point.month - 1) // 3 + 1}"
    if len(like) == 7:
        return f"{point.year:04d}-{point.month:02d}"
    if len(like) == 10:
        return point.date().isoformat()
    return point.isoformat(sep=like[10])[: len(like)]


def with_gaps_inserted(labels: list[str], check: TimeCheck) -> tuple[list[str], list[int]]:
    """The labels with the missing ones inserted, and the row each original label lands on.

    Shape:
        labels: N. Returns N + check.missing labels and N row indices.
    """
    out: list[str] = []
    rows: list[int] = []
    for i, label in enumerate(labels):
        rows.append(len(out))
        out.append(label)
        for k in range(1, check.gaps.get(i, 0) + 1):
            out.append(format_like(_add(check.points[i], check.base, k), label))
    return out, rows


__all__ = [
    "Step",
    "TimeCheck",
    "check_time_labels",
    "format_like",
    "parse_labels",
    "parse_time",
    "span_text",
    "step_between",
    "step_text",
    "with_gaps_inserted",
]
