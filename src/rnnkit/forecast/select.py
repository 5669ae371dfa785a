"""The automatic choice of a forecast (`series.method = "auto"`), above the estimator.

Every candidate forecasts from the same rolling origins at the end of the history
(`rnnkit.forecast.auto.plan_origins`, `series.origins` of them, each a horizon long, never
in the test part): the recurrent methods (`esrnn`, `es`, `rnn`; each fit once on what the
earliest origin knows, then forecasting from every origin with the points known there),
the naive and seasonal naive forecasts, the classical references (ETS and ARIMA, refit at
every origin) and the combination of the best `COMBINED` of them (the mean of their
forecasts, the M4 competition's lesson). The one with the lowest mean MAE over the
origins is chosen; the best recurrent method is reported beside it (the ablation).

Intervals are calibrated on the same origins (split conformal): a recurrent method keeps
the shape of its own band, scaled so that 80% of the origins' targets fall inside; every
other forecast gets a band growing with the square root of the step, sized the same way.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.config import ForecastConfig, Method
from rnnkit.errors import DataError
from rnnkit.forecast.auto import candidates, min_history, plan_origins
from rnnkit.forecast.baselines import naive_forecast, seasonal_naive_forecast
from rnnkit.forecast.forecaster import Forecast, Forecaster
from rnnkit.forecast.references import RefForecast, refit_reference
from rnnkit.forecast.series import Series

COMBINED = 3  # members of the combination: the best three candidates on the origins
COMBINATION = "combination"
MARGIN = 0.1  # how much better than the combination a single candidate must be
LEVEL = 0.8
RECURRENT: tuple[Method, ...] = ("esrnn", "es", "rnn")


@dataclass
class OriginRuns:
    """Every candidate's forecasts from the rolling origins and the truth after them.

    Shape:
        truth and each forecast: (K, H, C) for K origins; `bands` holds (lower, upper),
        each (K, H, C), for the candidates with their own intervals (the recurrent ones).
    """

    starts: list[int]
    truth: np.ndarray
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    specs: dict[str, str] = field(default_factory=dict)  # the references' models


def origin_runs(cfg: ForecastConfig, history: Series) -> OriginRuns:
    """The rolling origins of a history (`series.origins` of them, `series.horizon`
    apart at most) and the truth after each, with no forecasts yet."""
    s = cfg.series
    horizon = s.horizon
    starts = plan_origins(len(history), horizon, s.origins, min_history(max(s.season, 1)))
    if not starts:
        raise DataError(
            f"series {history.name!r} has {len(history)} points of history, too few for a "
            f"rolling origin {horizon} steps from its end; use a smaller series.horizon"
        )
    y = history.target  # (N, C)
    truth = np.stack([y[o : o + horizon] for o in starts])  # (K, H, C)
    return OriginRuns(starts, truth)


def add_references(
    runs: OriginRuns, history: Series, season: int, references: dict[str, RefForecast]
) -> None:
    """Add naive, seasonal naive (with a season) and the classical `references` (fit on
    all the history), each refit at every origin on the points known there; the
    references keep the models they chose on all the history (searching again at every
    origin would cost as many searches)."""
    y, horizon = history.target, runs.truth.shape[1]
    runs.forecasts["naive"] = np.stack([naive_forecast(y[:o], horizon) for o in runs.starts])
    if season > 1:
        runs.forecasts["seasonal_naive"] = np.stack(
            [seasonal_naive_forecast(y[:o], horizon, season) for o in runs.starts]
        )
    for name, ref in references.items():
        try:
            fits = [refit_reference(ref.spec, y[:o], horizon, season) for o in runs.starts]
        except DataError as exc:  # a model that fails on a shorter history is left out
            runs.skipped[name] = f"at a rolling origin: {exc}"
            continue
        runs.forecasts[name] = np.stack(fits)
        runs.specs[name] = ref.spec


def recurrent_methods(cfg: ForecastConfig, history: Series, starts: list[int]) -> list[Method]:
    """The recurrent methods the points before the earliest origin can fit (`auto.candidates`)."""
    if cfg.series.method != "auto":
        return [cfg.series.method]
    return candidates(cfg, history, starts[0] - cfg.series.val_size)


def add_recurrent(
    runs: OriginRuns, cfg: ForecastConfig, history: Series, methods: list[Method], quiet: bool
) -> None:
    """Fit each of `methods` once on what the earliest origin knows and forecast from
    every origin (the model reads the points known there); a method the history is too
    short for is skipped with its reason."""
    horizon = runs.truth.shape[1]
    for method in methods:
        try:
            fc = Forecaster(_with_method(cfg, method), quiet).fit(history.head(runs.starts[0]))
            preds = [fc.predict(horizon, history.head(o), LEVEL) for o in runs.starts]
        except DataError as exc:
            runs.skipped[method] = str(exc)
            continue
        runs.forecasts[method] = np.stack([p.mean for p in preds])
        if all(np.isfinite(p.lower).all() for p in preds):
            lower, upper = np.stack([p.lower for p in preds]), np.stack([p.upper for p in preds])
            runs.bands[method] = (lower, upper)


def _with_method(cfg: ForecastConfig, method: Method) -> ForecastConfig:
    """A copy of `cfg` fitting `method`."""
    out = copy.deepcopy(cfg)
    out.series.method = method
    return out


@dataclass
class Choice:
    """What the origins chose: the winner, the best recurrent method, the combination's
    members, every candidate's MAE per origin and the interval factor of each candidate
    (`band_factor`)."""

    chosen: str
    recurrent: str | None
    members: list[str]
    scores: dict[str, list[float]]
    factors: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)

    def mean(self, name: str) -> float:
        """A candidate's mean MAE over the origins."""
        return float(np.mean(self.scores[name]))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Choice:
        """The choice `to_dict` recorded (in a checkpoint's `train_info`)."""
        scores = {k: list(v["per_origin"]) for k, v in raw["origin_mae"].items()}
        members = list(raw["combination"])
        return cls(raw["chosen"], raw["recurrent"], members, scores, dict(raw["factors"]))

    def to_dict(self) -> dict[str, Any]:
        """The `metrics.json` entry."""
        return {
            "chosen": self.chosen,
            "recurrent": self.recurrent,
            "combination": self.members,
            "skipped": self.skipped,
            "factors": self.factors,
            "origin_mae": {
                k: {"per_origin": v, "mean": self.mean(k)} for k, v in self.scores.items()
            },
        }


def choose(runs: OriginRuns) -> Choice:
    """Score every candidate of `runs` on the origins, add the combination of the best
    `COMBINED`, and pick the lowest mean MAE; the combination unless a single candidate
    beats it by more than `MARGIN` (a lowest score among several noisy ones is partly
    luck; the combination's is less so)."""
    if not runs.forecasts:
        raise DataError("no forecast could be made from the rolling origins; see the reasons above")
    scores = {name: _origin_mae(runs.truth, f) for name, f in runs.forecasts.items()}
    ranked = sorted(scores, key=lambda k: float(np.mean(scores[k])))
    members = ranked[:COMBINED] if len(ranked) >= 2 else []
    if members:
        runs.forecasts[COMBINATION] = np.mean([runs.forecasts[m] for m in members], axis=0)
        scores[COMBINATION] = _origin_mae(runs.truth, runs.forecasts[COMBINATION])
    chosen = ranked[0]
    if members and np.mean(scores[COMBINATION]) <= np.mean(scores[chosen]) * (1 + MARGIN):
        chosen = COMBINATION
    recurrent = [k for k in ranked if k in RECURRENT]
    factors = {name: band_factor(runs, name) for name in scores}
    best = recurrent[0] if recurrent else None
    return Choice(chosen, best, members, scores, factors, dict(runs.skipped))


def _origin_mae(truth: np.ndarray, forecast: np.ndarray) -> list[float]:
    """The MAE of each origin. Shape: truth, forecast (K, H, C)."""
    return [float(v) for v in np.abs(truth - forecast).mean(axis=(1, 2))]


def _sqrt_steps(horizon: int) -> np.ndarray:
    """The half-width shape of a band without its own: sqrt(step), shape (H, 1)."""
    return np.sqrt(np.arange(1, horizon + 1, dtype=np.float64))[:, None]


def band_factor(runs: OriginRuns, name: str) -> float:
    """The factor that puts 80% of the origins' targets inside the candidate's band: its
    own half-widths (on the side of each target) or `sqrt(step)`."""
    truth, mean = runs.truth, runs.forecasts[name]
    if name in runs.bands:
        lower, upper = runs.bands[name]
        half = np.where(truth >= mean, upper - mean, mean - lower)
    else:
        half = np.broadcast_to(_sqrt_steps(truth.shape[1]), truth.shape)
    ratio = np.abs(truth - mean) / np.maximum(half, 1e-12)
    return float(np.quantile(ratio, LEVEL))


def final_forecast(choice: Choice, name: str, finals: dict[str, Forecast]) -> Forecast:
    """The forecast past the end of the history of candidate `name` (or the combination
    of `choice.members`), with its band calibrated on the origins.

    Args:
        finals: each needed candidate's forecast past the end (a reference's without band).
    """
    if name == COMBINATION:
        first = finals[choice.members[0]]
        mean = np.mean([finals[m].mean for m in choice.members], axis=0)
    else:
        first = finals[name]
        mean = first.mean
    factor = choice.factors[name]
    if name in RECURRENT and np.isfinite(first.lower).all():
        lower = mean - factor * np.maximum(mean - first.lower, 0.0)
        upper = mean + factor * np.maximum(first.upper - mean, 0.0)
    else:
        half = factor * _sqrt_steps(len(mean))  # (H, 1)
        lower, upper = mean - half, mean + half
    return Forecast(mean, lower, upper, LEVEL, list(first.target_names))


def needed_finals(choice: Choice) -> list[str]:
    """The candidates whose forecast past the end is made: the combination's members
    (its best is the best single candidate) and the best recurrent method (the
    ablation); the chosen one is among them."""
    names = choice.members or [choice.chosen]
    extra = [choice.recurrent] if choice.recurrent else []
    return list(dict.fromkeys(names + extra))


def plain_forecast(mean: np.ndarray, names: list[str]) -> Forecast:
    """A point forecast `(H, C)` as a `Forecast` without band (NaN bounds)."""
    nan = np.full_like(mean, math.nan)
    return Forecast(mean, nan, nan, LEVEL, names)


def recurrent_choice(
    cfg: ForecastConfig, history: Series, quiet: bool = True
) -> tuple[Method, dict[str, float]]:
    """The recurrent method (of `auto.candidates`) with the lowest mean MAE on the rolling
    origins of `history`, and every candidate's; what `Forecaster.fit` uses for
    `series.method = "auto"` (the estimator alone: no references)."""
    runs = origin_runs(cfg, history)
    add_recurrent(runs, cfg, history, recurrent_methods(cfg, history, runs.starts), quiet)
    if not runs.forecasts:
        raise DataError("; ".join(runs.skipped.values()) or "no recurrent method could fit")
    scores = {
        name: float(np.mean(_origin_mae(runs.truth, f))) for name, f in runs.forecasts.items()
    }
    best = min(scores, key=lambda k: scores[k])
    return next(m for m in RECURRENT if m == best), scores


@dataclass
class Chosen:
    """The outcome of `fit_choice`: the chosen forecast, the best recurrent method's
    fitted forecaster and forecast (None when none could fit), and the choice."""

    forecast: Forecast
    forecaster: Forecaster | None
    recurrent: Forecast | None
    choice: Choice
    members: dict[str, Forecaster] = field(default_factory=dict)  # every recurrent fit
    candidates: dict[str, Forecast] = field(default_factory=dict)  # every forecast made


def fit_choice(
    cfg: ForecastConfig,
    history: Series,
    references: OriginRuns,
    finals: dict[str, Forecast],
    quiet: bool = True,
) -> Chosen:
    """Score every candidate on the rolling origins of `history`, choose, and fit the
    recurrent methods the choice needs on all of `history`.

    Args:
        references: `origin_runs` with `add_references` done (shared by the seeds; copied).
        finals: the references' forecasts past the end of `history` (name -> Forecast).
    """
    runs = copy.deepcopy(references)
    add_recurrent(runs, cfg, history, recurrent_methods(cfg, history, runs.starts), quiet)
    choice = choose(runs)
    finals = dict(finals)
    fitted: dict[str, Forecaster] = {}
    for name in needed_finals(choice):
        if name in RECURRENT:
            fitted[name] = Forecaster(_with_method(cfg, name), quiet).fit(history)
            fitted[name].train_info["choice"] = {
                **choice.to_dict(),
                "specs": runs.specs,
                "season": cfg.series.season,
            }
            finals[name] = fitted[name].predict(cfg.series.horizon, level=LEVEL)
    made = [*finals, *([COMBINATION] if choice.members else [])]
    forecasts = {n: final_forecast(choice, n, finals) for n in made if n in choice.factors}
    best = choice.recurrent
    recurrent = forecasts[best] if best else None
    return Chosen(
        forecasts[choice.chosen],
        fitted.get(best) if best else None,
        recurrent,
        choice,
        fitted,
        forecasts,
    )


def forecast_past_end(
    recorded: dict[str, Any],
    fitted: dict[str, Forecaster],
    series: Series,
    horizon: int,
    made: dict[str, Forecast] | None = None,
) -> Forecast:
    """The chosen forecast past the end of `series` from a saved run, no retraining: the
    baselines and references (the recorded models) refit on `series`, the recurrent
    members (`fitted`, by method) forecasting from it, combined and banded as chosen.

    `made` holds candidates already forecast past the end (the global model of a panel).

    Raises:
        DataError: a recurrent member of the choice is missing from `fitted`.
    """
    choice = Choice.from_dict(recorded)
    names = choice.members if choice.chosen == COMBINATION else [choice.chosen]
    y, season, target = series.target, int(recorded["season"]), list(series.target_names)
    finals: dict[str, Forecast] = dict(made or {})
    for name in names:
        if name in finals:
            continue
        if name in RECURRENT:
            if name not in fitted:
                raise DataError(
                    f"the chosen forecast needs the fitted {name} model (member-{name}.pt "
                    "in the run folder); pass the run folder as the checkpoint"
                )
            finals[name] = fitted[name].predict(horizon, series, LEVEL)
        elif name == "naive":
            finals[name] = plain_forecast(naive_forecast(y, horizon), target)
        elif name == "seasonal_naive":
            finals[name] = plain_forecast(seasonal_naive_forecast(y, horizon, season), target)
        else:
            spec = recorded["specs"][name]
            finals[name] = plain_forecast(refit_reference(spec, y, horizon, season), target)
    return final_forecast(choice, choice.chosen, finals)


__all__ = [
    "COMBINATION",
    "Choice",
    "Chosen",
    "OriginRuns",
    "add_recurrent",
    "add_references",
    "band_factor",
    "choose",
    "final_forecast",
    "fit_choice",
    "forecast_past_end",
    "origin_runs",
    "plain_forecast",
    "recurrent_choice",
]
