"""The UCR/UEA `.ts` format (sktime's and the time-series classification archive's files).

A file is comment lines (`#`), header lines (`@problemName`, `@timeStamps`, `@missing`,
`@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel true A B ...`
or `false`), then `@data` and one line per series: its dimensions separated by `:`, each a
comma-separated list of values (`?` or `NaN` = missing), the class label last. Series may
differ in length (`@equalLength false`); within a series a shorter dimension is padded with
missing values. Time-stamped files (`@timeStamps true`) and regression files
(`@targetLabel`) are refused with a one-line `DataError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.classify.data import Sequences, make_sequences
from rnnkit.errors import DataError
from rnnkit.storage import storage_errors

MISSING = ("?", "nan", "NaN", "")


@dataclass
class _Header:
    """What the `@` lines declared."""

    labelled: bool | None = None
    labels: list[str] = field(default_factory=list)
    dimensions: int = 0


def _read_lines(path: Path) -> list[str]:
    with storage_errors(path, "read"):
        data = path.read_bytes()
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not UTF-8 text; give a .ts file as the archive writes it"
        ) from None


def _header_line(line: str, header: _Header, where: str) -> None:
    """Read one `@key value` line into `header`."""
    key, _, value = line[1:].partition(" ")
    key, words = key.lower(), value.split()
    flag = bool(words) and words[0].lower() == "true"
    if key == "timestamps" and flag:
        raise DataError(
            f"{where}: time-stamped .ts files are not supported; export the series without "
            "time stamps (@timeStamps false)"
        )
    if key == "targetlabel" and flag:
        raise DataError(
            f"{where}: this is a regression file (@targetLabel); classification needs "
            "@classLabel true with the class names"
        )
    if key == "classlabel":
        header.labelled = flag
        header.labels = words[1:] if flag else []
        if flag and not header.labels:
            raise DataError(f"{where}: @classLabel true names no classes; list them after it")
    if key == "dimensions" and words:
        try:
            header.dimensions = int(words[0])
        except ValueError:
            raise DataError(f"{where}: @dimensions {words[0]!r} is not a number; fix it") from None


def _values(text: str, where: str) -> np.ndarray:
    """One dimension's comma-separated values, missing ones NaN. Shape: (T,)."""
    out = []
    for v in text.split(","):
        v = v.strip()
        if v in MISSING:
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except ValueError:
            raise DataError(
                f"{where}: {v[:20]!r} is not a number; use numbers and ? for missing values"
            ) from None
    return np.array(out, dtype=np.float32)


def _series(parts: list[str], where: str) -> np.ndarray:
    """A series' dimensions as one `(T, C)` array (shorter dimensions padded with NaN)."""
    dims = [_values(p, where) for p in parts]
    steps = max(len(d) for d in dims)
    out = np.full((steps, len(dims)), np.nan, dtype=np.float32)
    for c, d in enumerate(dims):
        out[: len(d), c] = d
    return out


def read_ts(path: str | Path) -> Sequences:
    """Read a `.ts` file: one `(T_i, C)` float32 array per series, labels (if declared),
    ids `0, 1, ...` (the series' index in the file). Label names keep the declared order."""
    path = Path(path)
    header, labels = _Header(), []
    x: list[np.ndarray] = []
    in_data = False
    for number, raw in enumerate(_read_lines(path), 1):
        line, where = raw.strip(), f"{path} line {number}"
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{where}: data before @data; put @data above the series")
            in_data = line.lower() == "@data"
            _header_line(line, header, where)
            continue
        parts = line.split(":")
        if header.labelled:
            if len(parts) < 2:
                raise DataError(f"{where}: no class label after the values; end it with :LABEL")
            label = parts.pop().strip()
            if label not in header.labels:
                raise DataError(
                    f"{where}: class {label!r} is not among @classLabel "
                    f"{' '.join(header.labels)}; add it there or fix the line"
                )
            labels.append(label)
        series = _series(parts, where)
        if x and series.shape[1] != x[0].shape[1]:
            raise DataError(
                f"{where}: {series.shape[1]} dimensions, the first series has "
                f"{x[0].shape[1]}; give every series the same dimensions"
            )
        x.append(series)
    if not in_data or not x:
        raise DataError(f"{path} holds no series after @data; give a .ts file with data")
    names = header.labels if header.labelled else None
    return make_sequences(x, labels or None, [str(i) for i in range(len(x))], None, names)
