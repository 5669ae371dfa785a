"""Model space: the invertible transforms between a series' values and what a forecaster reads.

`Scaler` is the per-column affine scaling fit on the training part, `sliding_windows` cuts
every contiguous window, `difference` takes first differences of the targets. A
`SeriesEncoder` holds a fitted scaler and the series settings and does the round trip:

    raw values (N, I) -> difference -> scale -> windows (M, L + length, I)
                      -> minus each window's last target level (transform "window")
    model-space forecast (M, H, C) -> plus offset -> unscale -> cumulative sum onto the
                                      last level (transform "diff") -> the series' units
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args

import numpy as np

from rnnkit.config import Scaler as ScalerKind
from rnnkit.errors import ConfigError, DataError
from rnnkit.forecast.series import Series


@dataclass
class Scaler:
    """Per-column affine scaling `(x - offset) / scale`, fit on the training part only."""

    kind: str
    offset: list[float]
    scale: list[float]

    @classmethod
    def fit(cls, values: np.ndarray, kind: str) -> Scaler:
        """Fit on `values (N, C)`: `standard` (mean, std), `minmax` (min, range), `none`."""
        kinds = get_args(ScalerKind)
        if kind not in kinds:
            raise ConfigError(f"unknown scaler {kind!r}; choose one of {', '.join(kinds)}")
        v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)  # (N, C)
        if kind == "standard":
            offset, scale = v.mean(axis=0), v.std(axis=0)
        elif kind == "minmax":
            offset, scale = v.min(axis=0), v.max(axis=0) - v.min(axis=0)
        else:
            offset, scale = np.zeros(v.shape[1]), np.ones(v.shape[1])
        scale = np.where(scale > 1e-12, scale, 1.0)  # a constant column stays as it is
        return cls(kind, [float(o) for o in offset], [float(s) for s in scale])

    def transform(self, values: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """Scale `values (..., C')` with the statistics of columns `cols`."""
        off, sc = np.array(self.offset)[cols], np.array(self.scale)[cols]
        return (values - off) / sc

    def inverse(self, values: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """Undo `transform` for columns `cols`."""
        off, sc = np.array(self.offset)[cols], np.array(self.scale)[cols]
        return values * sc + off

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (checkpoint friendly)."""
        return asdict(self)


def sliding_windows(values: np.ndarray, length: int) -> np.ndarray:
    """Every contiguous window of `length` rows, as a copy.

    Shape:
        values: (N, C). Returns (N - length + 1, length, C).
    """
    v = np.ascontiguousarray(values)
    view = np.lib.stride_tricks.sliding_window_view(v, length, axis=0)  # (M, C, length)
    return np.ascontiguousarray(view.transpose(0, 2, 1))  # (M, length, C)


def series_values(series: Series) -> np.ndarray:
    """Targets then covariates side by side, `(N, C + K)`: the rows a model reads."""
    return np.concatenate([series.target, series.covariates], axis=1)  # (N, I)


def log_targets(values: np.ndarray, n_targets: int, log: bool) -> np.ndarray:
    """The natural logarithm of the target columns when `log` (covariates kept).

    Shape:
        values: (N, I). Returns (N, I).
    """
    if not log:
        return values
    out = np.array(values, dtype=np.float64)
    out[:, :n_targets] = np.log(out[:, :n_targets])
    return out


def difference(values: np.ndarray, n_targets: int, diff: bool) -> np.ndarray:
    """First differences of the target columns (covariates kept as levels).

    Shape:
        values: (N, I). Returns (N - 1, I) with `diff`, else (N, I).
    """
    if not diff:
        return values
    out = values[1:].copy()  # (N - 1, I)
    out[:, :n_targets] = values[1:, :n_targets] - values[:-1, :n_targets]
    return out


@dataclass
class Windows:
    """Windows in model space plus what decoding needs.

    Shape:
        x: (M, L, I) lookback inputs, offset taken off the targets. future: (M, H, I) the
        rows after the lookback, offset taken off the targets. y: (M, H, C) their targets.
        offset: (M, 1, C) (zeros without the "window" transform). last: (M, C) the raw
        target level at each window's last input (for undoing differences). origin: (M,)
        index, in the raw series, of each window's first forecast step.
    """

    x: np.ndarray
    future: np.ndarray
    offset: np.ndarray
    last: np.ndarray
    origin: np.ndarray

    @property
    def y(self) -> np.ndarray:
        """The future targets, `(M, H, C)`."""
        return self.future[:, :, : self.offset.shape[2]]


@dataclass
class SeriesEncoder:
    """The fitted round trip between a series' values and model space.

    Args:
        scaler: fit on the (differenced) training values.
        lookback: rows each window reads, L.
        n_targets: target channels, C (the first C columns; the rest are covariates).
        transform: "none", "diff" (forecast first differences) or "window" (each window
            relative to its last observed target value).
        log: take logarithms of the (positive) targets before everything else.
    """

    scaler: Scaler
    lookback: int
    n_targets: int
    transform: str = "none"
    log: bool = False

    @classmethod
    def fit(
        cls,
        raw: np.ndarray,
        n_targets: int,
        lookback: int,
        transform: str,
        scaler: str,
        log: bool = False,
    ) -> SeriesEncoder:
        """Fit the scaler of kind `scaler` on `raw (N, I)`, logged and differenced when asked."""
        if log and not bool((raw[:, :n_targets] > 0).all()):
            raise DataError(
                "series.log = yes needs a positive target (a value is zero or negative); "
                "set series.log = no"
            )
        values = difference(log_targets(raw, n_targets, log), n_targets, transform == "diff")
        return cls(Scaler.fit(values, scaler), lookback, n_targets, transform, log)

    @property
    def diff(self) -> bool:
        """Whether the model reads first differences of the targets."""
        return self.transform == "diff"

    @property
    def history_needed(self) -> int:
        """Raw rows one forecast reads: the lookback, plus one to difference from."""
        return self.lookback + (1 if self.diff else 0)

    def model_series(self, raw: np.ndarray) -> np.ndarray:
        """`raw (N, I)` in model space, before differencing: logged (if asked) and scaled
        (the hybrid's input; its scaler is fit without differencing). Shape: (N, I)."""
        return self.scaler.transform(log_targets(raw, self.n_targets, self.log))

    def finish(self, v: np.ndarray) -> np.ndarray:
        """Undo the log (if any): the last step of decoding. Shape: any."""
        return np.exp(v) if self.log else v

    def windows(self, raw: np.ndarray, length: int) -> Windows:
        """Every window of `lookback + length` rows of `raw (N, I)`, in model space."""
        L, C = self.lookback, self.n_targets
        raw = log_targets(raw, C, self.log)
        z = self.scaler.transform(difference(raw, C, self.diff))  # (N', I)
        w = sliding_windows(z, L + length)  # (M, L+length, I)
        shift = 1 if self.diff else 0
        origin = np.arange(len(w)) + L + shift  # raw index of the first forecast step
        last = raw[origin - 1, :C]  # (M, C)
        if self.transform == "window":
            offset = w[:, L - 1 : L, :C].copy()  # (M, 1, C)
        else:
            offset = np.zeros((len(w), 1, C))
        w = w.copy()
        w[:, :, :C] -= offset
        return Windows(w[:, :L], w[:, L:], offset, last, origin)

    def last_window(self, raw: np.ndarray) -> Windows:
        """The one window that forecasts past the end of `raw (N, I)`, `N >= history_needed`."""
        tail = raw[-self.history_needed :]  # (need, I)
        pad = tail[-1:]  # a dummy future row so one window forms
        return self.windows(np.concatenate([tail, pad]), 1)

    def decode(
        self, z: np.ndarray, offset: np.ndarray, last: np.ndarray, finish: bool = True
    ) -> np.ndarray:
        """Model-space target forecasts `(..., M, H, C)` back to the series' units
        (`finish=False`: stop before undoing the log)."""
        C = z.shape[-1]
        v = self.scaler.inverse(z + offset, slice(0, C))
        if self.diff:
            v = last[:, None, :] + np.cumsum(v, axis=-2)
        return self.finish(v) if finish else v

    def decode_scale(self, scale: np.ndarray) -> np.ndarray:
        """Model-space standard deviations `(M, H, C)` in the series' units (log units with
        `log`); with differencing the steps are independent, so variances add up along the
        horizon."""
        sd = scale * np.array(self.scaler.scale[: self.n_targets])  # (M, H, C)
        if self.diff:
            sd = np.sqrt(np.cumsum(sd**2, axis=1))
        return sd


__all__ = [
    "Scaler",
    "SeriesEncoder",
    "Windows",
    "difference",
    "log_targets",
    "series_values",
    "sliding_windows",
]
