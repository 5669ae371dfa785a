"""The forecasting methods `Forecaster` fits, behind one small protocol.

A method says how a series becomes training data and what model it trains:

- `RnnMethod` (`series.method = rnn`): the recurrent network on sliding windows of the
  encoded series (`SeriesEncoder`: log, scale, difference or per-window offset), built by
  `rnnkit.forecast.model.build_forecaster` for `series.strategy`.
- `HybridMethod` (`series.method = esrnn` or `es`): the ES-RNN hybrid, or its smoothing
  part alone, on forecast origins of the logged and scaled series
  (`rnnkit.forecast.hybrid.OriginForecaster`); one target, no covariates.

`method_for(config)` picks the class. A method holds only its config: what one fit
prepares is returned (`FitData`) and handed back to `build`, never kept between calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from rnnkit.config import ForecastConfig, ForecastTrainConfig, SeriesConfig
from rnnkit.errors import ConfigError
from rnnkit.forecast.hybrid import FitModel, HybridForecaster, OriginForecaster, origin_windows
from rnnkit.forecast.model import build_forecaster, window_pairs
from rnnkit.forecast.series import Series, check_length
from rnnkit.forecast.transforms import SeriesEncoder, Windows, series_values

# (inputs, targets) of every training window or origin.
Pairs = tuple[np.ndarray, np.ndarray]

# Batches per epoch of the hybrid methods, and their largest batch (`HybridMethod.batching`).
HYBRID_BATCHES = 4
HYBRID_MAX_BATCH = 256


@dataclass
class FitData:
    """What one fit trains and validates on, in model space.

    Shape:
        pairs: (inputs, targets) of the windows (or origins) whose targets lie before the
        validation tail; all_pairs: of every window (the refit's). val: inputs, targets
        (V, H, C) and the mask (V, H, C) of the targets no training window saw. windows:
        what validation decodes, val_idx (V,) its rows scored, unseen (V, H) bool. n_fit:
        raw points before the validation tail. z: (N,) the hybrid's model-space series
        (None for the network).
    """

    pairs: Pairs
    all_pairs: Pairs
    val: tuple[np.ndarray, np.ndarray, np.ndarray]
    windows: Windows
    val_idx: np.ndarray
    unseen: np.ndarray
    n_fit: int
    z: np.ndarray | None = None


class ForecastMethod(Protocol):
    """What `Forecaster` asks of a method. `dims` holds the sizes of one fit: lookback,
    horizon, val_size, input_size (I), n_targets (C) and season."""

    @property
    def name(self) -> str:
        """The config's `series.method`: "rnn", "esrnn" or "es"."""
        ...

    @property
    def transform(self) -> str:
        """What `SeriesEncoder` applies: "none", "diff" or "window"."""
        ...

    def check(self, series: Series, sizes: dict[str, int]) -> None:
        """Raise `RnnkitError` unless this method can train on `series` with `sizes`."""
        ...

    def prepare(
        self, raw: np.ndarray, encoder: SeriesEncoder, dims: dict[str, int], n_fit: int
    ) -> FitData:
        """The training and validation data of `raw (N, I)`; the last `N - n_fit` points
        validate."""
        ...

    def build(
        self, dims: dict[str, Any], device: torch.device, data: FitData | None = None
    ) -> FitModel:
        """An untrained model for `dims` on `device`, reading `data`'s series when given."""
        ...

    def batching(self, n: int) -> tuple[SeriesConfig, ForecastTrainConfig]:
        """The series and train tables training reads for `n` windows or origins."""
        ...

    def last_window(
        self, model: FitModel, encoder: SeriesEncoder, series: Series, lookback: int
    ) -> Windows:
        """The one window (or origin) that forecasts past the end of `series`."""
        ...


def _check_training_length(series: Series, sizes: dict[str, int], needed: int) -> None:
    """The "too short" error when `series` has fewer than `needed` points."""
    lookback, horizon, val_size = sizes["lookback"], sizes["horizon"], sizes["val_size"]
    what = f"training (lookback {lookback} + horizon {horizon} + validation {val_size})"
    check_length(len(series), needed, what, series.name)


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


class RnnMethod:
    """The recurrent network on sliding windows (`series.method = rnn`)."""

    name: str = "rnn"

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config

    @property
    def transform(self) -> str:
        """The configured `series.transform`."""
        return self.config.series.transform

    def check(self, series: Series, sizes: dict[str, int]) -> None:
        """Every window needs lookback + horizon points, validation its own tail."""
        _check_training_length(series, sizes, sizes["needed"])

    def prepare(
        self, raw: np.ndarray, encoder: SeriesEncoder, dims: dict[str, int], n_fit: int
    ) -> FitData:
        """Every window of `lookback + horizon` rows, split at raw row `n_fit`; the pairs
        are those the configured strategy trains on (`window_pairs`)."""
        H = dims["horizon"]
        win = encoder.windows(raw, H)
        split = _split_windows(win, n_fit, H)
        strategy = self.config.series.strategy
        all_pairs = window_pairs(strategy, win.x, win.future, dims["n_targets"])
        pairs = (all_pairs[0][split.fit], all_pairs[1][split.fit])
        val = (win.x[split.val], win.y[split.val], split.mask)
        return FitData(pairs, all_pairs, val, win, split.val, split.unseen, n_fit)

    def build(
        self, dims: dict[str, Any], device: torch.device, data: FitData | None = None
    ) -> FitModel:
        """The direct or autoregressive network for `dims` (`data` is not read)."""
        s = self.config.series
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

    def batching(self, n: int) -> tuple[SeriesConfig, ForecastTrainConfig]:
        """The configured tables, as they are."""
        return self.config.series, self.config.train

    def last_window(
        self, model: FitModel, encoder: SeriesEncoder, series: Series, lookback: int
    ) -> Windows:
        """The last `lookback` rows (one more with differencing), encoded."""
        need = encoder.history_needed
        check_length(len(series), need, f"forecasting (lookback {lookback})", series.name)
        return encoder.last_window(series_values(series))


class HybridMethod:
    """The ES-RNN hybrid (`series.method = esrnn`) or its smoothing alone (`es`), trained
    on forecast origins of the whole series (the smoothing runs from its start)."""

    transform: str = "none"  # the hybrid smooths the logged, scaled series itself

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config
        self.name: str = config.series.method

    def _first_origin(self, lookback: int) -> int:
        """The first origin: the network reads `lookback` points before it."""
        return max(lookback, 1) if self.name == "esrnn" else 1

    def check(self, series: Series, sizes: dict[str, int]) -> None:
        """Origins need only their lookback before them and one target; one target and
        no covariates."""
        first = sizes["lookback"] if self.name == "esrnn" else 1
        _check_training_length(series, sizes, first + sizes["val_size"] + 2)
        C, K = series.target.shape[1], series.covariates.shape[1]
        if C != 1 or K:
            raise ConfigError(
                f"series.method = {self.name} forecasts one target without covariates, got "
                f"{C} target(s) and {K} covariate(s); use series.method = rnn"
            )

    def prepare(
        self, raw: np.ndarray, encoder: SeriesEncoder, dims: dict[str, int], n_fit: int
    ) -> FitData:
        """The model-space series and the forecast origins: every origin, those before
        `n_fit` (targets NaN where unknown) and the validation origins (as `Windows`)."""
        z = encoder.model_series(raw)[:, 0]  # (N,)
        H, N = dims["horizon"], len(z)
        start = self._first_origin(dims["lookback"])
        x_all, y_all, _ = origin_windows(z, start, N, H, (0, N))
        x_fit, y_fit, _ = origin_windows(z, start, n_fit, H, (0, n_fit))
        first = max(start, n_fit - H + 1)
        x_val, y_val, m_val = origin_windows(z, first, N, H, (n_fit, N))
        V = len(x_val)
        origins = np.arange(first, N)
        win = Windows(x_val, y_val, np.zeros((V, 1, 1)), np.zeros((V, 1)), origins)
        val = (x_val, np.nan_to_num(y_val), m_val)
        unseen = m_val[..., 0] > 0  # (V, H)
        return FitData((x_fit, y_fit), (x_all, y_all), val, win, np.arange(V), unseen, n_fit, z)

    def build(
        self, dims: dict[str, Any], device: torch.device, data: FitData | None = None
    ) -> FitModel:
        """The hybrid on origins; its series is `data.z` with the smoothing started from
        the fitting part, or empty until `last_window` sets it (a loaded model)."""
        s = self.config.series
        hybrid = HybridForecaster(
            season=int(dims["season"]),
            lookback=int(dims["lookback"]),
            horizon=int(dims["horizon"]),
            core=self.config.model,
            likelihood=s.likelihood,
            use_network=self.name == "esrnn",
            trend=s.transform == "diff",
        )
        model = OriginForecaster(hybrid, np.zeros(0)).to(device)
        if data is not None and data.z is not None:
            model.z = torch.as_tensor(data.z, dtype=torch.float32, device=device)
            model.hybrid.start_from(data.z[: data.n_fit])
        return model

    def batching(self, n: int) -> tuple[SeriesConfig, ForecastTrainConfig]:
        """Every epoch in `HYBRID_BATCHES` batches of at most `HYBRID_MAX_BATCH` origins,
        as each batch reruns the smoothing over the whole series; a step cap
        (`train.max_steps`) never makes them train longer than their epochs."""
        s, t = self.config.series, self.config.train
        batch = min(max(s.batch_size, -(-n // HYBRID_BATCHES)), HYBRID_MAX_BATCH)
        steps = t.epochs * -(-n // batch)
        if t.max_steps and t.epochs and steps < t.max_steps:
            t = dataclasses.replace(t, max_steps=steps)
        return dataclasses.replace(s, batch_size=batch), t

    def last_window(
        self, model: FitModel, encoder: SeriesEncoder, series: Series, lookback: int
    ) -> Windows:
        """The origin past the end of `series`, whose model-space series is set on the
        model (the smoothing reads it from the start)."""
        assert isinstance(model, OriginForecaster)
        need = max(lookback, 1) + 1
        check_length(len(series), need, f"forecasting (lookback {lookback})", series.name)
        z = encoder.model_series(series_values(series))[:, 0]  # (N,)
        model.z = torch.as_tensor(z, dtype=torch.float32, device=model.z.device)
        n = len(z)
        x = np.full((1, 1, 1), n, dtype=np.float32)
        return Windows(x, x, np.zeros((1, 1, 1)), np.zeros((1, 1)), np.array([n]))


def method_for(config: ForecastConfig) -> ForecastMethod:
    """The method of `config.series.method` ("rnn", "esrnn" or "es"; "auto" is decided
    before, by `Forecaster.fit`)."""
    method = config.series.method
    if method in ("esrnn", "es"):
        return HybridMethod(config)
    if method == "rnn":
        return RnnMethod(config)
    raise ConfigError(
        f"series.method = {method!r} names no single method; use rnn, esrnn or es "
        "(auto is chosen by Forecaster.fit)"
    )


__all__ = [
    "HYBRID_BATCHES",
    "HYBRID_MAX_BATCH",
    "FitData",
    "ForecastMethod",
    "HybridMethod",
    "Pairs",
    "RnnMethod",
    "method_for",
]
