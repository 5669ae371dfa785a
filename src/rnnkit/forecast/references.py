"""Classical reference forecasts fit beside every `rnnkit forecast` run: automatic ETS and
automatic ARIMA from statsmodels (the optional `ts` extra, imported inside the functions).

Each searches a small grid on one column and keeps the lowest AICc; a fit that fails or
gives a non-finite AICc (statsmodels' is infinite when a model has too many parameters for
the points) or forecast is passed over. While the grid runs, statsmodels' warnings are
silenced and BLAS runs on one thread (`threadpoolctl`, in the `ts` extra). Seasonal models
need a season of at most `MAX_SEASON` (longer seasons get non-seasonal models only, as in
R's `forecast::ets`).

- ETS (`ETSModel`): error {A, M} x trend {N, A, Ad} x season {N, A, M}; a seasonal model
  needs two full seasons, multiplicative error or season a strictly positive series.
- ARIMA (`ARIMA`): AICc is not comparable across differencing orders, so these are chosen
  first. Seasonal differencing D = 1 when the STL seasonal strength exceeds 0.64 (the rule
  of Hyndman and Athanasopoulos' `nsdiffs`), d = 1 when a KPSS test (level, 5%) rejects
  stationarity of the (seasonally differenced) series. Then p, q in 0..2 and, with three
  full seasons, two seasonal orders: (0,1,1) and (1,1,0) with D = 1, (0,0,0) and (1,0,0)
  without: at most 18 fits. A constant when nothing is differenced, a drift when one
  difference is taken, neither with two.

A multi-column history is fit column by column. `reference_forecasts` leaves out a
reference that cannot be fit (too short, constant, every fit failed) and records why.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import get_args

import numpy as np

from rnnkit.config import References
from rnnkit.errors import ConfigError, DataError

MIN_POINTS = 10
MAX_SEASON = 24
NOT_INSTALLED = "statsmodels not installed (pip install rnnkit[ts])"

# A candidate fit: returns (AICc, forecast (H,)).
Fit = Callable[[], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class RefForecast:
    """A reference's point forecast, its chosen model and the seconds its search took.

    Shape:
        mean: (H,) for a 1-d history, (H, C) for an (N, C) one. `spec` joins the columns'
        models with "; ".
    """

    mean: np.ndarray
    spec: str
    fit_s: float


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence statsmodels' convergence and numpy warnings for the duration, and run BLAS on
    one thread (`threadpoolctl`, when installed): the fits' matrices are tiny, and a busy
    machine makes threaded BLAS calls many times slower (10 s instead of 2 s for ETS)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), _one_blas_thread():
        warnings.simplefilter("ignore")
        yield


def _one_blas_thread() -> AbstractContextManager[object]:
    """Limit BLAS to one thread until exit, the previous limits restored (no-op without
    `threadpoolctl`)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _load(*modules: str) -> None:
    """Import statsmodels' `modules` before the clock starts: `fit_s` times the fits only."""
    for name in modules:
        importlib.import_module(name)


def _checked(y: np.ndarray, what: str) -> np.ndarray:
    """`y` as finite float64 `(N,)` with at least `MIN_POINTS` points and two values."""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        raise DataError(f"{what}: the history has non-finite values; fill them first")
    if len(y) < MIN_POINTS:
        raise DataError(f"{what}: needs at least {MIN_POINTS} points, the history has {len(y)}")
    if np.ptp(y) == 0:
        raise DataError(f"{what}: the history is constant (the naive forecast is exact)")
    return y


def _lowest_aicc(candidates: dict[str, Fit], what: str) -> tuple[np.ndarray, str]:
    """Run every candidate; return the forecast and name of the one with the lowest AICc."""
    best: tuple[float, np.ndarray, str] | None = None
    with _quiet():
        for spec, fit in candidates.items():
            try:
                aicc, fc = fit()
            except Exception:  # statsmodels fails in many ways: pass the fit over
                continue
            fc = np.asarray(fc, dtype=np.float64)
            if np.isfinite(aicc) and np.isfinite(fc).all() and (best is None or aicc < best[0]):
                best = (float(aicc), fc, spec)
    if best is None:
        raise DataError(f"{what}: every fit of the grid failed")
    return best[1], best[2]


def _per_column(
    fit_column: Callable[[np.ndarray, int, int], tuple[np.ndarray, str]],
    history: np.ndarray,
    horizon: int,
    season: int,
) -> RefForecast:
    """Fit `fit_column` on each column of `history` (N,) or (N, C) and stack the forecasts."""
    if horizon < 1:
        raise ConfigError(f"a reference forecast needs a horizon of at least 1, got {horizon}")
    h = np.asarray(history, dtype=np.float64)
    cols = h.reshape(len(h), -1)  # (N, C)
    t0 = time.perf_counter()
    fits = []
    for j in range(cols.shape[1]):
        try:
            fits.append(fit_column(cols[:, j], horizon, season))
        except DataError as exc:
            raise DataError(f"column {j}: {exc}" if cols.shape[1] > 1 else str(exc)) from None
    mean = np.stack([fc for fc, _ in fits], axis=1)  # (H, C)
    spec = "; ".join(s for _, s in fits)
    return RefForecast(mean[:, 0] if h.ndim == 1 else mean, spec, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------
# ETS
# ---------------------------------------------------------------------------------------


def _ets_fit(y: np.ndarray, horizon: int, season: int, error: str, trend: str, seas: str) -> Fit:
    """One ETS candidate; `trend` is N, A or Ad, `seas` N, A or M, `error` A or M."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    names = {"A": "add", "M": "mul", "N": None, "Ad": "add"}

    def fit() -> tuple[float, np.ndarray]:
        res = ETSModel(
            y,
            error=names[error],
            trend=names[trend],
            damped_trend=trend == "Ad",
            seasonal=names[seas],
            seasonal_periods=season if seas != "N" else None,
        ).fit(disp=False)
        return res.aicc, res.forecast(horizon)

    return fit


def _ets_column(y: np.ndarray, horizon: int, season: int) -> tuple[np.ndarray, str]:
    """The lowest-AICc ETS model of one column: (forecast (H,), "ETS(E,T,S)")."""
    y = _checked(y, "ETS")
    positive = bool((y > 0).all())
    seasonal = 1 < season <= MAX_SEASON and len(y) >= 2 * season
    errors = ("A", "M") if positive else ("A",)
    seasons = ("N", *(("A", "M") if positive else ("A",))) if seasonal else ("N",)
    grid = itertools.product(errors, ("N", "A", "Ad"), seasons)
    candidates = {f"ETS({e},{t},{s})": _ets_fit(y, horizon, season, e, t, s) for e, t, s in grid}
    return _lowest_aicc(candidates, "ETS")


def auto_ets(history: np.ndarray, horizon: int, season: int) -> RefForecast:
    """Automatic ETS: the lowest-AICc exponential smoothing model, per column.

    Shape:
        history: (N,) or (N, C). Returns a `RefForecast` with mean (H,) or (H, C).
    """
    _load("statsmodels.tsa.exponential_smoothing.ets")
    return _per_column(_ets_column, history, horizon, season)


# ---------------------------------------------------------------------------------------
# ARIMA
# ---------------------------------------------------------------------------------------


def _seasonal_diffs(y: np.ndarray, season: int) -> int:
    """1 when the STL seasonal strength `1 - var(R) / var(S + R)` exceeds 0.64, else 0."""
    from statsmodels.tsa.seasonal import STL

    with _quiet():
        parts = STL(y, period=season).fit()
    spread = np.var(parts.seasonal + parts.resid)
    strength = 1.0 - np.var(parts.resid) / spread if spread > 0 else 0.0
    return int(strength > 0.64)


def _diffs(y: np.ndarray) -> int:
    """1 when a KPSS test (level stationarity) rejects at 5%, else 0."""
    from statsmodels.tsa.stattools import kpss

    if np.ptp(y) == 0:
        return 0
    with _quiet():
        p_value = kpss(y, regression="c", nlags="auto")[1]
    return int(p_value < 0.05)


def _differencing(y: np.ndarray, season: int) -> tuple[int, int]:
    """(d, D) by the rules above; a test that fails on this series is a `DataError`."""
    try:
        big_d = _seasonal_diffs(y, season) if season > 1 else 0
        return _diffs(y[season:] - y[:-season] if big_d else y), big_d
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise DataError(f"ARIMA: choosing the differencing failed ({exc})") from None


def _arima_fit(
    y: np.ndarray, horizon: int, order: tuple[int, int, int], seasonal: tuple[int, int, int, int]
) -> Fit:
    """One ARIMA candidate: a constant with no differencing, a drift with one, else none."""
    from statsmodels.tsa.arima.model import ARIMA

    trend = ("c", "t", "n")[min(order[1] + seasonal[1], 2)]

    def fit() -> tuple[float, np.ndarray]:
        res = ARIMA(y, order=order, seasonal_order=seasonal, trend=trend).fit()
        return res.aicc, res.forecast(horizon)

    return fit


def _arima_spec(order: tuple[int, int, int], seasonal: tuple[int, int, int, int]) -> str:
    spec = "ARIMA({},{},{})".format(*order)
    return spec + ("({},{},{})[{}]".format(*seasonal) if any(seasonal[:3]) else "")


def _arima_column(y: np.ndarray, horizon: int, season: int) -> tuple[np.ndarray, str]:
    """The lowest-AICc ARIMA model of one column: (forecast (H,), "ARIMA(p,d,q)(P,D,Q)[m]")."""
    y = _checked(y, "ARIMA")
    m = season if 1 < season <= MAX_SEASON and len(y) >= 3 * season else 1
    d, big_d = _differencing(y, m)
    seasons = [(0, 0, 0, 0)]
    if m > 1:
        seasons = [(0, 1, 1, m), (1, 1, 0, m)] if big_d else [*seasons, (1, 0, 0, m)]
    candidates = {
        _arima_spec((p, d, q), s): _arima_fit(y, horizon, (p, d, q), s)
        for p, q, s in itertools.product(range(3), range(3), seasons)
    }
    return _lowest_aicc(candidates, "ARIMA")


def auto_arima(history: np.ndarray, horizon: int, season: int) -> RefForecast:
    """Automatic ARIMA: differencing by rule, then the lowest-AICc orders, per column.

    Shape:
        history: (N,) or (N, C). Returns a `RefForecast` with mean (H,) or (H, C).
    """
    _load("statsmodels.tsa.arima.model", "statsmodels.tsa.seasonal", "statsmodels.tsa.stattools")
    return _per_column(_arima_column, history, horizon, season)


# ---------------------------------------------------------------------------------------
# all of them
# ---------------------------------------------------------------------------------------

FITTERS: dict[str, Callable[[np.ndarray, int, int], RefForecast]] = {
    "ets": auto_ets,
    "arima": auto_arima,
}


_ETS_SPEC = re.compile(r"ETS\((A|M),(N|A|Ad),(N|A|M)\)$")
_ARIMA_SPEC = re.compile(r"ARIMA\((\d),(\d),(\d)\)(?:\((\d),(\d),(\d)\)\[(\d+)\])?$")


def _spec_fit(spec: str, y: np.ndarray, horizon: int, season: int) -> Fit:
    """The fit of one column's model named by `spec` (as `auto_ets` / `auto_arima` name it)."""
    if ets := _ETS_SPEC.match(spec):
        e, t, s = ets.groups()
        return _ets_fit(y, horizon, season, e, t, s)
    if arima := _ARIMA_SPEC.match(spec):
        p, d, q, sp, sd, sq, m = (int(v) if v else 0 for v in arima.groups())
        return _arima_fit(y, horizon, (p, d, q), (sp, sd, sq, m))
    raise ConfigError(f"unknown reference model {spec!r}")


def refit_reference(spec: str, history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Refit the model(s) `spec` names (one per column, joined by "; ") on `history` and
    forecast: the references at a rolling origin keep the models chosen on all the history.

    Raises:
        DataError: a column's fit failed or gave a non-finite forecast.
    Shape:
        history: (N, C). Returns (H, C).
    """
    cols = np.asarray(history, dtype=np.float64).reshape(len(history), -1)  # (N, C)
    out = []
    for j, one in enumerate(spec.split("; ")):
        fc = _lowest_aicc({one: _spec_fit(one, cols[:, j], horizon, season)}, one)[0]
        out.append(fc)
    return np.stack(out, axis=1)


def statsmodels_installed() -> bool:
    """Whether statsmodels can be imported (found without importing it)."""
    return importlib.util.find_spec("statsmodels") is not None


def reference_forecasts(
    history: np.ndarray,
    horizon: int,
    season: int,
    which: References = "all",
    skipped: dict[str, str] | None = None,
) -> dict[str, RefForecast]:
    """The references `which` names (`all`, `ets`, `arima` or `none`), fit on `history`.

    A reference that cannot be fit is left out and its reason written into `skipped`
    (name -> reason); without statsmodels every one is left out that way.

    Shape:
        history: (N, C). Each forecast's mean: (H, C).
    """
    if which not in get_args(References):
        raise ConfigError(
            f"series.references = {which!r} is not valid; "
            f"choose one of {', '.join(get_args(References))}"
        )
    names = list(FITTERS) if which == "all" else [] if which == "none" else [which]
    reasons = skipped if skipped is not None else {}
    if names and not statsmodels_installed():
        reasons.update(dict.fromkeys(names, NOT_INSTALLED))
        return {}
    h = np.asarray(history, dtype=np.float64)
    h = h.reshape(len(h), -1)  # (N, C)
    out: dict[str, RefForecast] = {}
    for name in names:
        try:
            out[name] = FITTERS[name](h, horizon, season)
        except DataError as exc:
            reasons[name] = str(exc)
    return out
