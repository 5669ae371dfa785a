"""The `Forecaster` API: `fit(series)`, `predict(horizon)` with intervals, `save`, `load`.

`Forecaster.fit` encodes the series into model space (`SeriesEncoder`: optional
differencing, a scaler fit on the training part only, optional per-window normalisation)
and cuts sliding windows; splits them, keeping the last `val_size` points out for
validation; trains with `rnnkit.forecast.train.train_model`; calibrates the intervals on
the validation windows (one factor scales every interval so that the asked level, 80%, is
met on targets the model had not seen); and by default refits on every window for the best
number of steps. `Forecaster.predict` reads the last `lookback` points and decodes the
forecast back to the series' units.

What a method trains on and which model it builds is `rnnkit.forecast.methods` (the
network on windows, `RnnMethod`; the ES-RNN hybrid or its smoothing on origins,
`HybridMethod`); this is the estimator around one of them.
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
from rnnkit.config import ForecastConfig
from rnnkit.errors import CheckpointError, ConfigError, NumericalError
from rnnkit.forecast.auto import configure
from rnnkit.forecast.hybrid import FitModel
from rnnkit.forecast.methods import FitData, ForecastMethod, method_for
from rnnkit.forecast.series import Series, finite_series, infer_season, plan_sizes
from rnnkit.forecast.train import train_model
from rnnkit.forecast.transforms import Scaler, SeriesEncoder, Windows, series_values
from rnnkit.training.environment import (
    global_rng_kept,
    resolve_device,
    seed_everything,
)
from rnnkit.training.threads import tuned_threads

# Sample paths an autoregressive model draws for its intervals.
SAMPLE_PATHS = 200

# Keys of the language model's `model` table that forecast checkpoints written before the
# forecaster had its own `model` table carry; `Forecaster.load` drops them.
LEGACY_MODEL_KEYS = ("embedding_dim", "input_mode", "tie_weights")


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


class Forecaster:
    """Fit a recurrent forecaster on a series, forecast with intervals, save and load.

    Without a config it uses the generic defaults, `ForecastConfig()`.

    Example:
        >>> from rnnkit.config import forecast_config
        >>> from rnnkit.forecast.series import load_series
        >>> f = Forecaster(forecast_config("sunspots")).fit(load_series("sunspots").head(279))
        >>> out = f.predict(30)  # out.mean, out.lower, out.upper: (30, 1)
    """

    def __init__(self, config: ForecastConfig | None = None, quiet: bool = True) -> None:
        self.config = config or ForecastConfig()
        self.config.series.check()
        self.quiet = quiet
        self.model: FitModel | None = None
        self._method: ForecastMethod | None = None  # set by fit (once chosen) and load
        self.encoder: SeriesEncoder | None = None
        self.history_: Series | None = None
        self.season = self.config.series.season
        self.calibration = 1.0
        self.train_info: dict[str, Any] = {}
        self._last_state: dict[str, Tensor] | None = None
        self._optimizer_state: dict[str, Any] = {}
        self.path: Path | None = None  # the checkpoint `load` read, named in errors

    # -- sizes --------------------------------------------------------------------------

    @property
    def scaler(self) -> Scaler | None:
        """The fitted scaler (None before `fit` or `load`)."""
        return None if self.encoder is None else self.encoder.scaler

    @property
    def lookback(self) -> int:
        """Points of history each forecast reads."""
        return int(self.train_info.get("lookback", self.config.series.lookback))

    @property
    def horizon(self) -> int:
        """Points the model was trained to forecast."""
        return int(self.train_info.get("horizon", self.config.series.horizon))

    @property
    def method(self) -> ForecastMethod:
        """The fitted method (`rnnkit.forecast.methods`): what it trains on, which model."""
        if self._method is None:
            raise ConfigError("this Forecaster is not fitted; call fit(series) or load(path)")
        return self._method

    # -- fit ----------------------------------------------------------------------------

    def fit(self, series: Series | np.ndarray) -> Forecaster:
        """Fit on the whole of `series` (hold the test part out before calling).

        The keys left to "auto" are chosen from `series` (`rnnkit.forecast.auto`); with
        `series.method = "auto"` the recurrent method with the lowest MAE on the rolling
        origins (`rnnkit.forecast.select.recurrent_choice`) is fit. The scaler and the
        season are fit on `series` only; its last `val_size` points are kept out of
        training, to pick the best epoch and to calibrate the intervals. The caller's global
        random states and thread count are restored.
        """
        if not isinstance(series, Series):
            series = Series.from_array(series)
        series = finite_series(series, self.config.series.fill)  # inf: error; NaN: error or filled
        device = resolve_device(self.config.train.device)
        with tuned_threads(self.config.train.threads), global_rng_kept(device):
            t0 = time.perf_counter()
            if any(self.config.is_unset(k) for k in ForecastConfig.UNSET):
                self.config = configure(self.config, series).config  # once per run
            scores: dict[str, float] = {}
            if self.config.series.method == "auto":  # the choice sits above the estimator
                from rnnkit.forecast.select import recurrent_choice

                self.config.series.method, scores = recurrent_choice(self.config, series)
            self._method = method_for(self.config)
            dims, data, result = self._first_fit(series, device)
            self._finish(device, dims, data, result)
            note = self.config.recipe_note
            self.train_info["auto"] = f"auto: {note}" if note else ""
            if scores:
                self.train_info["candidates"] = scores
            self.train_info["fit_s"] = time.perf_counter() - t0
        return self

    def _first_fit(
        self, series: Series, device: torch.device
    ) -> tuple[dict[str, int], FitData, dict[str, Any]]:
        """Fit the method with the validation tail held out; score it there (`val_mae`, in
        the series' units) and calibrate the intervals. Returns the sizes, the data and the
        training result, for `_finish`."""
        cfg, method = self.config, self.method
        seed_everything(cfg.train.seed)
        # encode: sizes, the scaler and every window (or origin), in model space
        raw, encoder, dims = self._encode(series)
        data = method.prepare(raw, encoder, dims, len(raw) - dims["val_size"])
        model = self._fresh_model(dims, device, data)
        # train: keep the parameters best on validation
        batching = method.batching(len(data.pairs[0]))
        result = train_model(model, data.pairs, data.val, *batching, device, self.quiet)
        model.load_state_dict(result["best_state"])
        self.model = model
        # score and calibrate: on targets the model has not seen, before any refit
        self.val_mae, self.calibration = self._validate(
            data.windows, data.val_idx, data.unseen, raw
        )
        history, best_epoch = result["history"], result["best_epoch"]
        self.train_info.update(
            method=cfg.series.method,
            input_size=dims["input_size"],
            n_targets=dims["n_targets"],
            target_names=list(series.target_names),
            covariate_names=list(series.covariate_names),
            history=history,
            best_epoch=best_epoch,
            best_step=history[best_epoch - 1]["step"] if best_epoch else 0,
            train_windows=len(data.pairs[0]),
            val_windows=len(data.val[0]),
            val_mae=self.val_mae,
        )
        return dims, data, result

    def _finish(
        self, device: torch.device, dims: dict[str, int], data: FitData, result: dict[str, Any]
    ) -> None:
        """Refit on every window for the best epoch's steps (`series.refit`), record."""
        best_step = self.train_info["best_step"]
        refit = bool(self.config.series.refit and best_step > 0)
        if refit:
            # the validation tail holds the most recent, most telling points
            result = self._refit(dims, device, data, best_step)
        self._last_state = result.pop("last_state")
        result.pop("best_state")
        self.train_info.update(refit=refit, steps=result["steps"], elapsed_s=result["elapsed_s"])
        self._optimizer_state = result["optimizer"]

    def _encode(self, series: Series) -> tuple[np.ndarray, SeriesEncoder, dict[str, int]]:
        """Plan the sizes, infer the season, check the series fits the method and fit the
        encoder on `series`.

        Shape:
            Returns the raw values (N, I), the fitted encoder and the sizes: lookback,
            horizon, val_size, input_size (I), n_targets (C) and season.
        """
        s = self.config.series
        self.season = s.season or series.season or infer_season(series.target)
        sizes = plan_sizes(s, len(series), self.season)
        self.method.check(series, sizes)
        C = series.target.shape[1]
        raw = series_values(series)  # (N, I)
        lookback, horizon, val_size = sizes["lookback"], sizes["horizon"], sizes["val_size"]
        self.train_info = {"lookback": lookback, "horizon": horizon, "val_size": val_size}
        log = s.log == "yes"
        encoder = SeriesEncoder.fit(raw, C, lookback, self.method.transform, s.scaler, log)
        self.encoder, self.history_ = encoder, series
        extra = {"input_size": raw.shape[1], "n_targets": C, "season": int(self.season)}
        return raw, encoder, {**self.train_info, **extra}

    def _fresh_model(self, dims: dict[str, int], device: torch.device, data: FitData) -> FitModel:
        """A new model from the configured seed, so the refit starts from the same weights."""
        seed_everything(self.config.train.seed)
        return self.method.build(dims, device, data)

    def _refit(
        self, dims: dict[str, int], device: torch.device, data: FitData, steps: int
    ) -> dict[str, Any]:
        """Train a fresh model on every window for `steps` steps and keep its last state."""
        model = self._fresh_model(dims, device, data)
        batching = self.method.batching(len(data.all_pairs[0]))[0]
        refit_cfg = dataclasses.replace(self.config.train, max_steps=steps, patience=0)
        result = train_model(
            model, data.all_pairs, data.val, batching, refit_cfg, device, self.quiet
        )
        model.load_state_dict(result["last_state"])
        result["best_state"] = result["last_state"]
        self.model = model
        return result

    def _validate(
        self, win: Windows, idx: np.ndarray, unseen: np.ndarray, raw: np.ndarray
    ) -> tuple[float, float]:
        """The MAE on the unseen validation targets (in the series' units), and one factor
        for every interval so that 80% of those targets fall inside it (1.0 without
        intervals). Shape: unseen (V, H) bool for the windows `idx`."""
        if not unseen.any():
            return float("inf"), 1.0
        mean, lower, upper = self._decode_windows(win, idx, self.horizon, 0.8, 1.0)
        steps = win.origin[idx, None] + np.arange(self.horizon)  # (V, H)
        truth = raw[np.minimum(steps, len(raw) - 1)][..., : mean.shape[2]]  # (V, H, C)
        seen = np.repeat(unseen[:, :, None], mean.shape[2], axis=2)
        mae = float(np.abs(truth - mean)[seen].mean())
        if self.config.series.likelihood != "gaussian":
            return mae, 1.0
        above = truth >= mean
        half = np.where(above, upper - mean, mean - lower)  # (V, H, C)
        ratio = (np.abs(truth - mean) / np.maximum(half, 1e-12))[seen]
        return mae, float(np.quantile(ratio, 0.8))

    # -- predict ------------------------------------------------------------------------

    def _decode_windows(
        self, win: Windows, idx: np.ndarray, horizon: int, level: float, factor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forecast the windows `idx` and decode to the series' units; the interval's
        half-widths are scaled by `factor`.

        Shape:
            Returns mean, lower, upper, each (len(idx), horizon, C).
        """
        assert self.model is not None and self.encoder is not None
        model, enc = self.model, self.encoder
        device = next(model.parameters()).device
        x = torch.as_tensor(win.x[idx], dtype=torch.float32, device=device)  # (M, L, I)
        offset, last = win.offset[idx], win.last[idx]  # (M, 1, C), (M, C)
        gen = torch.Generator(device=device).manual_seed(self.config.train.seed)
        model.eval()
        mean_t, scale_t, paths_t = model.forecast(x, horizon, SAMPLE_PATHS, gen)
        outputs = [t for t in (mean_t, scale_t, paths_t) if t is not None]
        if not all(bool(torch.isfinite(t).all()) for t in outputs):
            raise self._not_finite("model's outputs are")  # before decoding spreads them
        center = enc.decode(mean_t.double().cpu().numpy(), offset, last, finish=False)
        mean = enc.finish(center)  # (M, H, C)
        if scale_t is not None:
            sd = enc.decode_scale(scale_t.double().cpu().numpy())  # (M, H, C)
            half = NormalDist().inv_cdf(0.5 + level / 2) * sd
            lower, upper = enc.finish(center - half), enc.finish(center + half)
        elif paths_t is not None:
            levels = enc.decode(paths_t.double().cpu().numpy(), offset, last)  # (S, M, H, C)
            lower = np.quantile(levels, 0.5 - level / 2, axis=0)
            upper = np.quantile(levels, 0.5 + level / 2, axis=0)
        else:
            self._check_finite(mean)
            nan = np.full_like(mean, np.nan)
            return mean, nan, nan
        lower = mean - factor * np.maximum(mean - lower, 0.0)
        upper = mean + factor * np.maximum(upper - mean, 0.0)
        self._check_finite(mean, lower, upper)
        return mean, lower, upper

    def _check_finite(self, *arrays: np.ndarray) -> None:
        """Raise `NumericalError` (naming the checkpoint when loaded) unless the decoded
        forecast and interval are finite. Shape: each (M, H, C)."""
        if not all(bool(np.isfinite(a).all()) for a in arrays):
            raise self._not_finite("forecast is" if len(arrays) == 1 else "forecast or interval is")

    def _not_finite(self, what: str) -> NumericalError:
        """The one-line error of a non-finite forecast, naming the checkpoint when loaded."""
        where = f"checkpoint {self.path}: " if self.path is not None else ""
        return NumericalError(
            f"{where}the {what} not finite (inf or NaN): the model's weights overflow; "
            "fit again with a smaller train.lr or with clipping (train.clip)"
        )

    def predict(
        self, horizon: int | None = None, series: Series | None = None, level: float = 0.8
    ) -> Forecast:
        """Forecast `horizon` steps past the end of `series` (default: the fitted series).

        A direct model forecasts at most the horizon it was trained for; an autoregressive
        one any number of steps. Covariates, if any, are read from the lookback only.

        Shape:
            Returns a `Forecast` with mean, lower and upper of shape (horizon, C).
        """
        if self.model is None or self.encoder is None:
            raise ConfigError("this Forecaster is not fitted; call fit(series) or load(path)")
        series = series if series is not None else self.history_
        if series is None:
            raise ConfigError("no history to forecast from; pass predict(series=...)")
        if not isinstance(series, Series):
            series = Series.from_array(series)
        series = finite_series(series, self.config.series.fill)
        horizon = horizon or self.horizon
        self.model.check_horizon(horizon)
        if not 0 < level < 1:
            raise ConfigError(f"interval level must be in (0, 1), got {level}")
        self._check_columns(series)
        win = self.method.last_window(self.model, self.encoder, series, self.lookback)
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
            raise ConfigError(
                f"this forecaster was fit on targets {want_t} and covariates {want_c}; the "
                f"series has {series.target_names} and {series.covariate_names}"
            )

    # -- save / load --------------------------------------------------------------------

    def checkpoint(self, which: str = "best", metrics: dict[str, Any] | None = None) -> dict:
        """The checkpoint dict: plain builtins and tensors, loadable with weights_only."""
        if self.model is None or self.encoder is None:
            raise ConfigError("this Forecaster is not fitted; nothing to save")
        state = self.model.state_dict() if which == "best" else self._last_state
        info = dict(self.train_info)
        payload: dict[str, Any] = {
            "task": "forecast",
            "config": self.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in (state or {}).items()},
            "scaler": self.encoder.scaler.to_dict(),
            "season": int(self.season),
            "calibration": float(self.calibration),
            "train_info": info,
            "step": int(info.get("steps", 0)),
            "epoch": int(info.get("best_epoch", 0) if which == "best" else len(info["history"])),
            "metrics": metrics or {},
        }
        if which == "last":
            payload["optimizer"] = self._optimizer_state
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
            raise CheckpointError(
                f"{path} holds a {ckpt.get('task')!r} checkpoint; pass one written by "
                "`rnnkit forecast`"
            )
        self = cls(ForecastConfig.from_dict(_without_legacy_keys(ckpt["config"])))
        s = self.config.series
        s.method = "rnn" if s.method == "auto" else s.method  # older checkpoints: rnn
        s.log = "no" if s.log == "auto" else s.log
        self.season = int(ckpt["season"])
        info = ckpt["train_info"]
        self._method = method_for(self.config)
        model = self.method.build({**info, "season": self.season}, torch.device("cpu"))
        model.load_state_dict(ckpt["model"])
        self.model = model.to(resolve_device(device))
        self.encoder = SeriesEncoder(
            Scaler(**ckpt["scaler"]),
            int(info["lookback"]),
            int(info["n_targets"]),
            self.method.transform,
            s.log == "yes",
        )
        self.calibration = float(ckpt["calibration"])
        self.train_info = dict(info)
        self.path = Path(path)
        return self


def _without_legacy_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's config without the LM `model` keys older forecast checkpoints carry."""
    model = {k: v for k, v in raw.get("model", {}).items() if k not in LEGACY_MODEL_KEYS}
    return {**raw, "model": model} if "model" in raw else dict(raw)


__all__ = ["Forecast", "Forecaster"]
