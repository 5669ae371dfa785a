"""The `Forecaster` API: `fit(series)`, `predict(horizon)` with intervals, `save`, `load`.

`Forecaster.fit` encodes the series into model space (`SeriesEncoder`: optional
differencing, a scaler fit on the training part only, optional per-window normalisation)
and cuts sliding windows; splits them, keeping the last `val_size` points out for
validation; trains with `rnnkit.forecast.train.train_model`; calibrates the intervals on
the validation windows (one factor scales every interval so that the asked level, 80%, is
met on targets the model had not seen); and by default refits on every window for the best
number of steps. `Forecaster.predict` reads the last `lookback` points and decodes the
forecast back to the series' units.

The `nn.Module`s are `rnnkit.forecast.model.DirectForecaster` and
`AutoregressiveForecaster`; this is the wrapper.
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
from rnnkit.config import ForecastConfig, ForecastTrainConfig, SeriesConfig
from rnnkit.errors import CheckpointError, ConfigError, NumericalError
from rnnkit.forecast.auto import configure
from rnnkit.forecast.hybrid import FitModel, HybridForecaster, OriginForecaster, origin_windows
from rnnkit.forecast.model import RNNForecaster, build_forecaster
from rnnkit.forecast.series import (
    Series,
    check_length,
    finite_series,
    infer_season,
    plan_sizes,
)
from rnnkit.forecast.train import train_model
from rnnkit.forecast.transforms import Scaler, SeriesEncoder, Windows, series_values
from rnnkit.training.environment import (
    global_rng_kept,
    resolve_device,
    seed_everything,
    set_threads,
    threads_kept,
)

# (inputs, targets) of every training window or origin.
Pairs = tuple[np.ndarray, np.ndarray]

# Batches per epoch of the hybrid methods, and their largest batch (`Forecaster._batching`).
HYBRID_BATCHES = 4
HYBRID_MAX_BATCH = 256

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


@dataclass
class _Split:
    """Which windows train and which validate.

    Shape:
        fit, val: window indices (F,) and (V,). unseen: (V, H) bool, the validation targets
        no training window saw. mask: (V, H, C) float32, `unseen` per target channel.
    """

    fit: np.ndarray
    val: np.ndarray
    unseen: np.ndarray
    mask: np.ndarray


def _split_windows(win: Windows, n_fit_raw: int, horizon: int) -> _Split:
    """Windows whose last target lies before raw row `n_fit_raw` train; the rest validate."""
    last_target = win.origin + horizon - 1  # (M,)
    fit_idx = np.flatnonzero(last_target < n_fit_raw)
    val_idx = np.flatnonzero(last_target >= n_fit_raw)
    unseen = (win.origin[val_idx, None] + np.arange(horizon)) >= n_fit_raw  # (V, H)
    C = win.offset.shape[2]
    mask = np.repeat(unseen[:, :, None], C, axis=2).astype(np.float32)  # (V, H, C)
    return _Split(fit_idx, val_idx, unseen, mask)


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

    def _build_model(self, dims: dict[str, Any], device: torch.device) -> FitModel:
        """The forecaster of the configured method and strategy for `dims` (`input_size`,
        `n_targets`, `horizon`, `lookback`), on `device`; shared by `fit` and `load`. The
        hybrid's series is empty until `_fresh_model` or `predict` sets it."""
        s = self.config.series
        if self.hybrid:
            hybrid = HybridForecaster(
                season=self.season,
                lookback=int(dims["lookback"]),
                horizon=int(dims["horizon"]),
                core=self.config.model,
                likelihood=s.likelihood,
                use_network=s.method == "esrnn",
                trend=s.transform == "diff",
            )
            return OriginForecaster(hybrid, np.zeros(0)).to(device)
        return build_forecaster(
            s.strategy,
            input_size=int(dims["input_size"]),
            n_targets=int(dims["n_targets"]),
            horizon=int(dims["horizon"]),
            core=self.config.model,
            likelihood=s.likelihood,
            init_std=s.init_std,
            skip_lookback=min(s.skip, int(dims["lookback"])),
        ).to(device)

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
        with threads_kept(), global_rng_kept(device):
            set_threads(self.config.train.threads)  # 1 by default: small matrices
            t0 = time.perf_counter()
            if any(self.config.is_unset(k) for k in ForecastConfig.UNSET):
                self.config = configure(self.config, series).config  # once per run
            scores: dict[str, float] = {}
            if self.config.series.method == "auto":  # the choice sits above the estimator
                from rnnkit.forecast.select import recurrent_choice

                self.config.series.method, scores = recurrent_choice(self.config, series)
            self._first_fit(series, device)
            self._finish(device)
            note = self.config.recipe_note
            self.train_info["auto"] = f"auto: {note}" if note else ""
            if scores:
                self.train_info["candidates"] = scores
            self.train_info["fit_s"] = time.perf_counter() - t0
        return self

    def _first_fit(self, series: Series, device: torch.device) -> None:
        """Fit the configured method with the validation tail held out; score it there
        (`val_mae`, in the series' units) and calibrate the intervals."""
        cfg, s = self.config, self.config.series
        seed_everything(cfg.train.seed)
        # encode: sizes, the scaler and every window (or origin), in model space
        raw, win, dims = self._encode(series)
        n_fit = len(raw) - dims["val_size"]
        if self.hybrid:  # sets the series the hybrid model reads, before it is built
            win, all_pairs, pairs, val = self._origin_data(raw, dims, n_fit)
            val_idx, unseen = np.arange(len(win.x)), val[2][..., 0] > 0
        model = self._fresh_model(dims, device)
        if isinstance(model, RNNForecaster):  # not self.hybrid
            split = _split_windows(win, n_fit, dims["horizon"])
            all_pairs = model.training_pairs(win.x, win.future)
            pairs = (all_pairs[0][split.fit], all_pairs[1][split.fit])
            val = (win.x[split.val], win.y[split.val], split.mask)
            val_idx, unseen = split.val, split.unseen
        # train: keep the parameters best on validation
        result = train_model(model, pairs, val, *self._batching(len(pairs[0])), device, self.quiet)
        model.load_state_dict(result["best_state"])
        self.model = model
        # score and calibrate: on targets the model has not seen, before any refit
        self.val_mae, self.calibration = self._validate(win, val_idx, unseen, raw)
        history, best_epoch = result["history"], result["best_epoch"]
        self._pending = (dims, all_pairs, val, result)
        self.train_info.update(
            method=s.method,
            input_size=dims["input_size"],
            n_targets=dims["n_targets"],
            target_names=list(series.target_names),
            covariate_names=list(series.covariate_names),
            history=history,
            best_epoch=best_epoch,
            best_step=history[best_epoch - 1]["step"] if best_epoch else 0,
            train_windows=len(pairs[0]),
            val_windows=len(val[0]),
            val_mae=self.val_mae,
        )

    def _finish(self, device: torch.device) -> None:
        """Refit on every window for the best epoch's steps (`series.refit`), record."""
        dims, pairs, val, result = self._pending
        best_step = self.train_info["best_step"]
        refit = bool(self.config.series.refit and best_step > 0)
        if refit:
            # the validation tail holds the most recent, most telling points
            result = self._refit(dims, device, pairs, val, best_step)
        self._last_state = result.pop("last_state")
        result.pop("best_state")
        self.train_info.update(refit=refit, steps=result["steps"], elapsed_s=result["elapsed_s"])
        self._optimizer_state = result["optimizer"]
        del self._pending

    @property
    def hybrid(self) -> bool:
        """Whether the method is the ES-RNN hybrid or its smoothing part alone."""
        return self.config.series.method in ("esrnn", "es")

    def _encode(self, series: Series) -> tuple[np.ndarray, Windows, dict[str, int]]:
        """Plan the sizes, infer the season, fit the encoder on `series` and cut every
        window of `lookback + horizon` rows (none for the hybrid methods).

        Shape:
            Returns the raw values (N, I), the windows (M = N' - L - H + 1 of them) and the
            sizes: lookback, horizon, val_size, input_size (I) and n_targets (C).
        """
        s = self.config.series
        self.season = s.season or series.season or infer_season(series.target)
        sizes = plan_sizes(s, len(series), self.season)
        lookback, horizon, val_size = sizes["lookback"], sizes["horizon"], sizes["val_size"]
        needed = sizes["needed"]
        if self.hybrid:  # origins need only their lookback before them and one target
            needed = (lookback if s.method == "esrnn" else 1) + val_size + 2
        check_length(
            len(series),
            needed,
            f"training (lookback {lookback} + horizon {horizon} + validation {val_size})",
            series.name,
        )
        C = series.target.shape[1]
        if self.hybrid and (C != 1 or series.covariates.shape[1]):
            raise ConfigError(
                f"series.method = {s.method} forecasts one target without covariates, got "
                f"{C} target(s) and {series.covariates.shape[1]} covariate(s); use "
                "series.method = rnn"
            )
        raw = series_values(series)  # (N, I)
        self.train_info = {"lookback": lookback, "horizon": horizon, "val_size": val_size}
        transform = "none" if self.hybrid else s.transform
        log = s.log == "yes"
        self.encoder = SeriesEncoder.fit(raw, C, lookback, transform, s.scaler, log)
        self.history_ = series
        dims = {**self.train_info, "input_size": raw.shape[1], "n_targets": C}
        if self.hybrid:
            return raw, _no_windows(), dims
        return raw, self.encoder.windows(raw, horizon), dims

    def _origin_data(
        self, raw: np.ndarray, dims: dict[str, int], n_fit: int
    ) -> tuple[Windows, Pairs, Pairs, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The hybrid's data: its model-space series and the forecast origins.

        Returns the validation origins as `Windows`, the (origins, targets) pairs of every
        origin and of those before `n_fit` (targets NaN where unknown), and the validation
        triple (origins, targets, mask of the unseen targets).
        """
        assert self.encoder is not None
        z = self.encoder.model_series(raw)[:, 0]  # (N,)
        self._z, self._n_fit = z, n_fit
        H, N = dims["horizon"], len(z)
        start = max(dims["lookback"], 1) if self.config.series.method == "esrnn" else 1
        x_all, y_all, _ = origin_windows(z, start, N, H, (0, N))
        x_fit, y_fit, _ = origin_windows(z, start, n_fit, H, (0, n_fit))
        first = max(start, n_fit - H + 1)
        x_val, y_val, m_val = origin_windows(z, first, N, H, (n_fit, N))
        V = len(x_val)
        origins = np.arange(first, N)
        win = Windows(x_val, y_val, np.zeros((V, 1, 1)), np.zeros((V, 1)), origins)
        return win, (x_all, y_all), (x_fit, y_fit), (x_val, np.nan_to_num(y_val), m_val)

    def _batching(self, n: int) -> tuple[SeriesConfig, ForecastTrainConfig]:
        """The series and train tables training reads for `n` windows or origins: the
        hybrids take every epoch in `HYBRID_BATCHES` batches of at most `HYBRID_MAX_BATCH`
        origins, as each batch reruns the smoothing over the whole series, and a step cap
        (`train.max_steps`) never makes them train longer than their epochs."""
        s, t = self.config.series, self.config.train
        if not self.hybrid:
            return s, t
        batch = min(max(s.batch_size, -(-n // HYBRID_BATCHES)), HYBRID_MAX_BATCH)
        steps = t.epochs * -(-n // batch)
        if t.max_steps and t.epochs and steps < t.max_steps:
            t = dataclasses.replace(t, max_steps=steps)
        return dataclasses.replace(s, batch_size=batch), t

    def _fresh_model(self, dims: dict[str, int], device: torch.device) -> FitModel:
        """A new model from the configured seed, so the refit starts from the same weights."""
        seed_everything(self.config.train.seed)
        model = self._build_model(dims, device)
        if isinstance(model, OriginForecaster):
            model.z = torch.as_tensor(self._z, dtype=torch.float32, device=device)
            model.hybrid.start_from(self._z[: self._n_fit])
        return model

    def _refit(
        self,
        dims: dict[str, int],
        device: torch.device,
        pairs: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray, np.ndarray],
        steps: int,
    ) -> dict[str, Any]:
        """Train a fresh model on every window for `steps` steps and keep its last state."""
        cfg = self.config
        model = self._fresh_model(dims, device)
        batching = self._batching(len(pairs[0]))[0]
        refit_cfg = dataclasses.replace(cfg.train, max_steps=steps, patience=0)
        result = train_model(model, pairs, val, batching, refit_cfg, device, self.quiet)
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
        win = self._last_window(series)
        mean, lower, upper = self._decode_windows(
            win, np.array([0]), horizon, level, self.calibration
        )
        return Forecast(mean[0], lower[0], upper[0], level, list(series.target_names))

    def _last_window(self, series: Series) -> Windows:
        """The window that forecasts past the end of `series`; the hybrid reads the whole
        series (its smoothing runs from the start), so it is set on the model."""
        assert self.encoder is not None and self.model is not None
        need = self.encoder.history_needed
        if isinstance(self.model, OriginForecaster):
            need = max(self.lookback, 1) + 1
        check_length(len(series), need, f"forecasting (lookback {self.lookback})", series.name)
        raw = series_values(series)
        if not isinstance(self.model, OriginForecaster):
            return self.encoder.last_window(raw)
        z = self.encoder.model_series(raw)[:, 0]  # (N,)
        self.model.z = torch.as_tensor(z, dtype=torch.float32, device=self.model.z.device)
        n = len(z)
        x = np.full((1, 1, 1), n, dtype=np.float32)
        return Windows(x, x, np.zeros((1, 1, 1)), np.zeros((1, 1)), np.array([n]))

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
        model = self._build_model(info, torch.device("cpu"))
        model.load_state_dict(ckpt["model"])
        self.model = model.to(resolve_device(device))
        self.encoder = SeriesEncoder(
            Scaler(**ckpt["scaler"]),
            int(info["lookback"]),
            int(info["n_targets"]),
            "none" if self.hybrid else s.transform,
            s.log == "yes",
        )
        self.calibration = float(ckpt["calibration"])
        self.train_info = dict(info)
        self.path = Path(path)
        return self


def _no_windows() -> Windows:
    """An empty `Windows` (the hybrid methods read origins, not windows)."""
    empty = np.zeros((0, 1, 1))
    return Windows(empty, empty, empty, np.zeros((0, 1)), np.zeros(0, dtype=np.int64))


def _without_legacy_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's config without the LM `model` keys older forecast checkpoints carry."""
    model = {k: v for k, v in raw.get("model", {}).items() if k not in LEGACY_MODEL_KEYS}
    return {**raw, "model": model} if "model" in raw else dict(raw)


__all__ = ["Forecast", "Forecaster"]
