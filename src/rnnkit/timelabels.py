"""Time labels read as dates, shared by the forecast's time-column checks
(`rnnkit.forecast.calendar`) and the forecast plot's date ticks (`rnnkit.plots`)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_time(label: str) -> datetime | None:
    """`1959Q2`, `2001-05` or an ISO date / date-time as a naive (UTC) datetime; else None."""
    text = label.strip()
    try:
        if len(text) == 6 and text[4] in "Qq" and text[:4].isdigit():
            return datetime(int(text[:4]), 3 * int(text[5]) - 2, 1)
        if len(text) == 7 and text[4] == "-" and text[:4].isdigit():
            return datetime(int(text[:4]), int(text[5:7]), 1)
        if len(text) < 10 or text[4] != "-":
            return None
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


__all__ = ["parse_time"]
