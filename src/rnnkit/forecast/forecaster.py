"""The `Forecaster` API: `fit(series)`, `predict(horizon)` with intervals, `save`, `load`.

`Forecaster.fit` turns the series into model space (optional differencing, a scaler fit on
the training part only, optional per-window normalisation), cuts sliding windows, keeps
the last `val_size` points out for validation, and runs `rnnkit.forecast.train.train_model`
(then, by default, refits on every window for the best number of steps). The intervals are
calibrated on the validation windows: one factor scales every interval so that the asked
level (80%) is met on targets the model had not seen. `Forecaster.predict` reads the last
`lookback` points and decodes the forecast back to the series' units.

The `nn.Module` is `rnnkit.forecast.model.RNNForecaster`; this is the wrapper.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.errors import RnnkitError
from rnnkit.forecast.model import RNNForecaster
from rnnkit.forecast.series import Scaler, Series, check_length, infer_season, sliding_windows
from rnnkit.forecast.train import ForecastConfig, forecast_config, plan_sizes, train_model
from rnnkit.training.runtime import resolve_device, seed_everything, set_threads


@dataclass
class Forecast:
    """A forecast in the series' units: point forecast and a `level` prediction interval.

    Shape:
        mean, lower, upper: (horizon, C). lower/upper are NaN without an interval.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    target_names: list[str]


# ---------------------------------------------------------------------------------------
# model space: differencing, scaling, windows
# ---------------------------------------------------------------------------------------


def _raw_values(series: Series) -> np.ndarray:
    return np.concatenate([series.target, series.covariates], axis=1)  # (N, I)


def _differenced(values: np.ndarray, n_targets: int, diff: bool) -> np.ndarray:
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
        x: (M, L, I) lookback inputs, offset taken off the targets. y: (M, H, C) future
        targets, offset taken off. offset: (M, 1, C) (zeros without `window`). last: (M, C)
        the raw target level at each window's last input (for undoing differences).
        origin: (M,) index, in the raw series, of each window's first forecast step.
    """

    x: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    last: np.ndarray
    origin: np.ndarray


# ---------------------------------------------------------------------------------------
# the Forecaster
# ---------------------------------------------------------------------------------------


class Forecaster:
    """Fit a recurrent forecaster on a series, forecast with intervals, save and load.

    Example:
        >>> from rnnkit.forecast.series import load_series
        >>> f = Forecaster(forecast_config("sunspots")).fit(load_series("sunspots").head(279))
        >>> out = f.predict(30)  # out.mean, out.lower, out.upper: (30, 1)
    """

    def __init__(self, config: ForecastConfig | None = None, quiet: bool = True) -> None:
        self.config = config or forecast_config()
        self.config.series.check()
        self.quiet = quiet
        self.model: RNNForecaster | None = None
        self.scaler: Scaler | None = None
        self.history_: Series | None = None
        self.season = self.config.series.season
        self.calibration = 1.0
        self.train_info: dict[str, Any] = {}
        self._last_state: dict[str, Tensor] | None = None

    # -- sizes --------------------------------------------------------------------------

    @property
    def _diff(self) -> bool:
        return self.config.series.transform == "diff"

    @property
    def lookback(self) -> int:
        """Points of history each forecast reads."""
        return int(self.train_info.get("lookback", self.config.series.lookback))

    @property
    def horizon(self) -> int:
        """Points the model was trained to forecast."""
        return int(self.train_info.get("horizon", self.config.series.horizon))

    def _windows(self, raw: np.ndarray, n_targets: int, length: int) -> Windows:
        """Every window of `lookback + length` rows of `raw (N, I)`, in model space."""
        assert self.scaler is not None
        L, C = self.lookback, n_targets
        z = self.scaler.transform(_differenced(raw, C, self._diff))  # (N', I)
        w = sliding_windows(z, L + length)  # (M, L+length, I)
        shift = 1 if self._diff else 0
        origin = np.arange(len(w)) + L + shift  # raw index of the first forecast step
        last = raw[origin - 1, :C]  # (M, C)
        if self.config.series.transform == "window":
            offset = w[:, L - 1 : L, :C].copy()  # (M, 1, C)
        else:
            offset = np.zeros((len(w), 1, C))
        w = w.copy()
        w[:, :, :C] -= offset
        return Windows(w[:, :L], w[:, L:, :C], offset, last, origin)

    # -- fit ----------------------------------------------------------------------------

    def fit(self, series: Series | np.ndarray) -> Forecaster:
        """Fit on the whole of `series` (hold the test part out before calling).

        The scaler and the season are fit on `series` only; its last `val_size` points
        are kept out of the training windows, to pick the best epoch and to calibrate
        the intervals.
        """
        if not isinstance(series, Series):
            series = Series.from_array(series)
        cfg, s = self.config, self.config.series
        seed_everything(cfg.train.seed)
        set_threads(cfg.train.threads)
        device = resolve_device(cfg.train.device)
        self.season = s.season or series.season or infer_season(series.target)
        sizes = plan_sizes(s, len(series), self.season)
        lookback, horizon, val_size = sizes["lookback"], sizes["horizon"], sizes["val_size"]
        check_length(
            len(series),
            sizes["needed"],
            f"training (lookback {lookback} + horizon {horizon} + validation {val_size})",
            series.name,
        )
        C = series.target.shape[1]
        n_in = C + series.covariates.shape[1]
        raw = _raw_values(series)  # (N, I)
        self.train_info = {"lookback": lookback, "horizon": horizon, "val_size": val_size}
        self.scaler = Scaler.fit(_differenced(raw, C, self._diff), s.scaler)
        self.history_ = series
        win = self._windows(raw, C, horizon)
        n_fit_raw = len(raw) - val_size  # raw rows the training windows may use as targets
        last_target = win.origin + horizon - 1  # (M,)
        fit_idx = np.flatnonzero(last_target < n_fit_raw)
        val_idx = np.flatnonzero(last_target >= n_fit_raw)
        unseen = (win.origin[val_idx, None] + np.arange(horizon)) >= n_fit_raw  # (V, H)
        mask = np.repeat(unseen[:, :, None], C, axis=2).astype(np.float32)  # (V, H, C)
        if s.strategy == "direct":
            pairs = (win.x, win.y)
        else:
            # Teacher forcing: the input row t predicts row t + 1, over the whole window.
            full = np.concatenate([win.x, self._future_inputs(raw, win, horizon)], axis=1)
            pairs = (full[:, :-1], full[:, 1:])  # (M, L+H-1, I) each
        val = (win.x[val_idx], win.y[val_idx], mask)

        def new_model() -> RNNForecaster:
            seed_everything(cfg.train.seed)  # the refit starts from the same weights
            return RNNForecaster(
                input_size=n_in,
                n_targets=C,
                horizon=horizon,
                kind=cfg.model.kind,  # type: ignore[arg-type]
                hidden_size=cfg.model.hidden_size,
                num_layers=cfg.model.num_layers,
                dropout=cfg.model.dropout,
                strategy=s.strategy,  # type: ignore[arg-type]
                likelihood=s.likelihood,  # type: ignore[arg-type]
                impl=cfg.model.impl,
                init_std=s.init_std,
                skip_lookback=min(s.skip, lookback),
            ).to(device)

        t0 = time.perf_counter()
        model = new_model()
        train = (pairs[0][fit_idx], pairs[1][fit_idx])
        result = train_model(model, train, val, s, cfg.train, device, self.quiet)
        model.load_state_dict(result["best_state"])
        self.model = model
        # Intervals are calibrated on targets the model has not seen, before any refit.
        self.calibration = self._calibrate(win, val_idx, raw, unseen)
        history, best_epoch = result["history"], result["best_epoch"]
        best_step = history[best_epoch - 1]["step"] if best_epoch else 0
        if s.refit and best_step > 0:
            # Refit on every window (the validation tail holds the most recent, most
            # telling points) for as many steps as the best epoch of the first fit.
            model = new_model()
            refit_cfg = dataclasses.replace(cfg.train, max_steps=best_step, patience=0)
            result = train_model(model, pairs, val, s, refit_cfg, device, self.quiet)
            model.load_state_dict(result["last_state"])
            result["best_state"] = result["last_state"]
            self.model = model
        self._last_state = result.pop("last_state")
        result.pop("best_state")
        self.train_info.update(
            input_size=n_in,
            n_targets=C,
            target_names=list(series.target_names),
            covariate_names=list(series.covariate_names),
            history=history,
            best_epoch=best_epoch,
            best_step=best_step,
            refit=bool(s.refit and best_step > 0),
            steps=result["steps"],
            elapsed_s=result["elapsed_s"],
            train_windows=len(fit_idx),
            val_windows=len(val_idx),
        )
        self.train_info["fit_s"] = time.perf_counter() - t0
        self._optimizer_state = result["optimizer"]
        return self

    def _future_inputs(self, raw: np.ndarray, win: Windows, horizon: int) -> np.ndarray:
        """The future rows of every window with all input channels (for teacher forcing).

        Shape:
            Returns (M, H, I): targets (offset taken off) and covariates, in model space.
        """
        assert self.scaler is not None
        C = win.y.shape[2]
        z = self.scaler.transform(_differenced(raw, C, self._diff))  # (N', I)
        w = sliding_windows(z, self.lookback + horizon)[:, self.lookback :].copy()  # (M, H, I)
        w[:, :, :C] -= win.offset
        return w

    def _calibrate(
        self, win: Windows, val_idx: np.ndarray, raw: np.ndarray, unseen: np.ndarray
    ) -> float:
        """One factor for every interval so that 80% of the unseen validation targets fall
        inside it (1.0 without intervals or validation targets)."""
        if self.config.series.likelihood != "gaussian" or not unseen.any():
            return 1.0
        mean, lower, upper = self._decode_windows(win, val_idx, self.horizon, 0.8, 1.0)
        truth = raw[win.origin[val_idx, None] + np.arange(self.horizon)][..., : mean.shape[2]]
        above = truth >= mean
        half = np.where(above, upper - mean, mean - lower)  # (V, H, C)
        ratio = np.abs(truth - mean) / np.maximum(half, 1e-12)
        ratio = ratio[np.repeat(unseen[:, :, None], mean.shape[2], axis=2)]
        return float(np.quantile(ratio, 0.8)) if ratio.size else 1.0

    # -- predict ------------------------------------------------------------------------

    def _decode_windows(
        self, win: Windows, idx: np.ndarray, horizon: int, level: float, factor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forecast the windows `idx` and decode to the series' units.

        Shape:
            Returns mean, lower, upper, each (len(idx), horizon, C).
        """
        assert self.model is not None and self.scaler is not None
        model, C = self.model, self.model.n_targets
        device = next(model.parameters()).device
        x = torch.as_tensor(win.x[idx], dtype=torch.float32, device=device)  # (M, L, I)
        offset, last = win.offset[idx], win.last[idx]  # (M, 1, C), (M, C)
        model.eval()
        with torch.no_grad():
            if model.strategy == "direct":
                mean_t, scale_t, _ = model(x)  # (M, H', C)
                mean_z = mean_t[:, :horizon].double().cpu().numpy()
                scale_z = None if scale_t is None else scale_t[:, :horizon].double().cpu().numpy()
                paths = None
            else:
                gen = torch.Generator(device=device).manual_seed(self.config.train.seed)
                point, sampled = model.rollout(x, horizon, samples=200, generator=gen)
                mean_z = point[..., :C].double().cpu().numpy()  # (M, H, C)
                paths = None if sampled is None else sampled[..., :C].double().cpu().numpy()
                scale_z = None
        mean = self._to_units(mean_z, offset, last)  # (M, H, C)
        nan = np.full_like(mean, np.nan)
        if scale_z is not None:
            sd = scale_z * np.array(self.scaler.scale[:C])  # (M, H, C)
            if self._diff:  # independent steps: variances add up along the horizon
                sd = np.sqrt(np.cumsum(sd**2, axis=1))
            half = NormalDist().inv_cdf(0.5 + level / 2) * sd
            lower, upper = mean - half, mean + half
        elif paths is not None:
            levels = self._to_units(paths, offset, last)  # (S, M, H, C)
            lower = np.quantile(levels, 0.5 - level / 2, axis=0)
            upper = np.quantile(levels, 0.5 + level / 2, axis=0)
        else:
            return mean, nan, nan
        lower = mean - factor * np.maximum(mean - lower, 0.0)
        upper = mean + factor * np.maximum(upper - mean, 0.0)
        return mean, lower, upper

    def _to_units(self, z: np.ndarray, offset: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Model-space target forecasts `(..., M, H, C)` back to the series' units."""
        assert self.scaler is not None
        C = z.shape[-1]
        v = self.scaler.inverse(z + offset, slice(0, C))
        if self._diff:
            v = last[:, None, :] + np.cumsum(v, axis=-2)
        return v

    def predict(
        self, horizon: int | None = None, series: Series | None = None, level: float = 0.8
    ) -> Forecast:
        """Forecast `horizon` steps past the end of `series` (default: the fitted series).

        A direct model forecasts at most the horizon it was trained for; an autoregressive
        one any number of steps. Covariates, if any, are read from the lookback only.

        Shape:
            Returns a `Forecast` with mean, lower and upper of shape (horizon, C).
        """
        if self.model is None or self.scaler is None:
            raise RnnkitError("this Forecaster is not fitted; call fit(series) or load(path)")
        series = series if series is not None else self.history_
        if series is None:
            raise RnnkitError("no history to forecast from; pass predict(series=...)")
        if not isinstance(series, Series):
            series = Series.from_array(series)
        horizon = horizon or self.horizon
        if self.model.strategy == "direct" and horizon > self.horizon:
            raise RnnkitError(
                f"this direct model forecasts at most {self.horizon} steps, asked for {horizon}; "
                "refit with a longer --horizon or --strategy autoregressive"
            )
        if not 0 < level < 1:
            raise RnnkitError(f"interval level must be in (0, 1), got {level}")
        self._check_columns(series)
        need = self.lookback + (1 if self._diff else 0)
        check_length(len(series), need, f"forecasting (lookback {self.lookback})", series.name)
        raw = _raw_values(series)[-need:]  # (need, I)
        pad = np.zeros((1, raw.shape[1]))  # a dummy future row so one window forms
        win = self._windows(np.concatenate([raw, pad]), series.target.shape[1], 1)
        mean, lower, upper = self._decode_windows(
            win, np.array([0]), horizon, level, self.calibration
        )
        return Forecast(mean[0], lower[0], upper[0], level, list(series.target_names))

    def _check_columns(self, series: Series) -> None:
        want_t = self.train_info.get("target_names")
        want_c = self.train_info.get("covariate_names", [])
        if want_t is not None and (
            series.target.shape[1] != len(want_t) or series.covariates.shape[1] != len(want_c)
        ):
            raise RnnkitError(
                f"this forecaster was fit on targets {want_t} and covariates {want_c}; the "
                f"series has {series.target_names} and {series.covariate_names}"
            )

    # -- save / load --------------------------------------------------------------------

    def checkpoint(self, which: str = "best", metrics: dict[str, Any] | None = None) -> dict:
        """The checkpoint dict: plain builtins and tensors, loadable with weights_only."""
        if self.model is None or self.scaler is None:
            raise RnnkitError("this Forecaster is not fitted; nothing to save")
        state = self.model.state_dict() if which == "best" else self._last_state
        info = {k: v for k, v in self.train_info.items()}
        payload: dict[str, Any] = {
            "task": "forecast",
            "config": self.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in (state or {}).items()},
            "scaler": self.scaler.to_dict(),
            "season": int(self.season),
            "calibration": float(self.calibration),
            "train_info": info,
            "step": int(info.get("steps", 0)),
            "epoch": int(info.get("best_epoch", 0) if which == "best" else len(info["history"])),
            "metrics": metrics or {},
        }
        if which == "last":
            payload["optimizer"] = getattr(self, "_optimizer_state", {})
        return payload

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write `best.pt` and `last.pt` into a folder, or the best model to a `.pt` file."""
        path = Path(path)
        if path.suffix == ".pt":
            return save_checkpoint(path, self.checkpoint("best", metrics))
        save_checkpoint(path / "last.pt", self.checkpoint("last", metrics))
        return save_checkpoint(path / "best.pt", self.checkpoint("best", metrics))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Forecaster:
        """A fitted Forecaster from a run folder (`best.pt`, else `last.pt`) or a file."""
        ckpt = load_checkpoint(path, map_location="cpu")
        if ckpt.get("task") != "forecast":
            raise RnnkitError(
                f"{path} holds a {ckpt.get('task')!r} checkpoint; pass one written by "
                "`rnnkit forecast`"
            )
        self = cls(ForecastConfig.from_dict(ckpt["config"]))
        info = ckpt["train_info"]
        s, m = self.config.series, self.config.model
        model = RNNForecaster(
            input_size=info["input_size"],
            n_targets=info["n_targets"],
            horizon=info["horizon"],
            kind=m.kind,  # type: ignore[arg-type]
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            strategy=s.strategy,  # type: ignore[arg-type]
            likelihood=s.likelihood,  # type: ignore[arg-type]
            impl=m.impl,
            skip_lookback=min(s.skip, int(info["lookback"])),
        )
        model.load_state_dict(ckpt["model"])
        self.model = model.to(resolve_device(device))
        self.scaler = Scaler(**ckpt["scaler"])
        self.season = int(ckpt["season"])
        self.calibration = float(ckpt["calibration"])
        self.train_info = dict(info)
        self._last_state = None
        return self


def load_forecaster(path: str | Path, device: str = "cpu") -> Forecaster:
    """`Forecaster.load`, as a function."""
    return Forecaster.load(path, device)


__all__ = ["Forecast", "Forecaster", "Windows", "load_forecaster"]
