"""The recurrent forecasters: a recurrent core and a linear head that forecast a (multivariate)
series, one class per strategy.

- `DirectForecaster`: the core reads the lookback window and its last output feeds one head
  that emits every step of the horizon at once, `(B, horizon, C)`.
- `AutoregressiveForecaster`: the head reads every step's output and predicts the next value
  of every input channel, `(B, T, I)`; training is teacher forced, and `rollout` feeds each
  forecast back as the next input (the loop of the PyTorch sine tutorial). Covariates are
  inputs, so this strategy forecasts them too; only the target channels are scored.

`build_forecaster(strategy, ...)` picks the class. Both share `RNNForecaster`, the base that
holds the core and the head, so their parameter names (`core.*`, `head.*`, and the direct
model's optional `skip.*`) are those of checkpoints written before the split. Both take the
core as one `CoreConfig` (the forecast's `[model]` table), `ForecastModelConfig()` by default.

With the Gaussian likelihood the head also emits a scale per value (softplus, floored),
from which prediction intervals are drawn. The modules return predictions and state,
never the loss.

    lookback x (B, L, I) -> core -> output (B, L, H) -> head -> mean, scale
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import CoreConfig, ForecastModelConfig, Likelihood
from rnnkit.errors import ConfigError
from rnnkit.nn.recurrent import build_rnn
from rnnkit.nn.state import State, repeat_rows

MIN_SCALE = 1e-3

# What `forecast` returns: the target means (B, H, C), their scales (B, H, C) or None, and
# sample paths of the targets (S, B, H, C) or None.
ModelForecast = tuple[Tensor, Tensor | None, Tensor | None]


class RNNForecaster(nn.Module):
    """The shared base: a recurrent core and a linear head of `out_steps x out_channels`
    values (each with a scale under the Gaussian likelihood). Build one of the two
    subclasses, or let `build_forecaster` choose.

    Args:
        input_size: channels per step, I (targets first, then covariates).
        n_targets: target channels, C (<= I).
        head_shape: the head emits `(out_steps, out_channels)` values per row.
        core: the core's kind, implementation, hidden size H, layers and dropout; None =
            `ForecastModelConfig()` (an LSTM of 32).
        likelihood: "gaussian" (mean and scale) or "mse" (mean only).
    """

    strategy: ClassVar[str] = ""

    def __init__(
        self,
        input_size: int,
        n_targets: int,
        head_shape: tuple[int, int],
        core: CoreConfig | None,
        likelihood: Likelihood,
    ) -> None:
        super().__init__()
        core = ForecastModelConfig() if core is None else core
        if likelihood not in ("gaussian", "mse"):
            raise ConfigError(f"unknown likelihood {likelihood!r}; choose gaussian or mse")
        if not 1 <= n_targets <= input_size:
            raise ConfigError(f"n_targets must be in [1, {input_size}], got {n_targets}")
        self.input_size = input_size
        self.n_targets = n_targets
        self.likelihood = likelihood
        self.out_steps, self.out_channels = head_shape
        self.core = build_rnn(
            core.kind,
            core.impl,
            input_size=input_size,
            hidden_size=core.hidden_size,
            num_layers=core.num_layers,
            dropout=core.dropout,
        )
        per_value = 2 if likelihood == "gaussian" else 1
        self.head = nn.Linear(core.hidden_size, self.out_steps * self.out_channels * per_value)

    def _init_normal(self, std: float) -> None:
        """Draw every parameter from N(0, std) (the PyTorch sine tutorial's init); no-op at 0."""
        if std > 0:
            for p in self.parameters():
                nn.init.normal_(p, mean=0.0, std=std)

    def _split(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """Head output `(..., S*C*k)` into mean and scale, each `(..., S, C)`."""
        if self.likelihood == "gaussian":
            mean, raw = y.chunk(2, dim=-1)  # (..., S*C) each
            scale = F.softplus(raw) + MIN_SCALE
            shape = (*y.shape[:-1], self.out_steps, self.out_channels)
            return mean.reshape(shape), scale.reshape(shape)
        return y.reshape(*y.shape[:-1], self.out_steps, self.out_channels), None

    def forecast(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> ModelForecast:
        """Forecast the targets `horizon` steps past each window of `x (B, L, I)`."""
        raise NotImplementedError

    def training_pairs(self, x: np.ndarray, future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (input, target) pairs this model is trained on, from the lookback rows
        `x (M, L, I)` and the future rows `future (M, H, I)` of every window."""
        raise NotImplementedError

    def check_horizon(self, horizon: int) -> None:
        """Raise `RnnkitError` when this model cannot forecast `horizon` steps."""


class DirectForecaster(RNNForecaster):
    """One head emits every step of the horizon from the core's last output.

    Args:
        input_size, n_targets, core, likelihood: as in `RNNForecaster`.
        horizon: steps the head emits.
        init_std: when > 0, every parameter is drawn from N(0, init_std).
        skip_lookback: when > 0, a linear term from the last that many target values is
            added to the forecast mean.

    Shape:
        x: (B, T, I). Returns mean and scale (B, horizon, C); scale is None for "mse".
    """

    strategy: ClassVar[str] = "direct"

    def __init__(
        self,
        *,
        input_size: int,
        n_targets: int,
        horizon: int,
        core: CoreConfig | None = None,
        likelihood: Likelihood = "gaussian",
        init_std: float = 0.0,
        skip_lookback: int = 0,
    ) -> None:
        if horizon < 1:
            raise ConfigError(f"horizon must be at least 1, got {horizon}")
        super().__init__(input_size, n_targets, (horizon, n_targets), core, likelihood)
        self.horizon = horizon
        # A linear map from the last `skip_lookback` target values straight to the forecast
        # (an AR term beside the recurrent one, as LSTNet's highway).
        self.skip_lookback = skip_lookback
        self.skip = (
            nn.Linear(skip_lookback * n_targets, horizon * n_targets) if skip_lookback else None
        )
        self._init_normal(init_std)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, Tensor | None, State]:
        """Read `x (B, T, I)`; mean and scale of every horizon step, `(B, horizon, C)`."""
        out, state = self.core(x, state)  # (B, T, H)
        mean, scale = self._split(self.head(out[:, -1]))  # (B, horizon, C)
        if self.skip is not None:
            recent = x[:, -self.skip_lookback :, : self.n_targets].flatten(1)  # (B, k*C)
            mean = mean + self.skip(recent).view_as(mean)  # (B, horizon, C)
        return mean, scale, state

    @torch.no_grad()
    def forecast(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> ModelForecast:
        """The first `horizon` steps of one pass; intervals come from the scale head, so
        `samples` and `generator` are not used.

        Shape:
            x: (B, L, I). Returns mean and scale (B, horizon, C) and no sample paths.
        """
        mean, scale, _ = self(x)  # (B, H', C)
        return mean[:, :horizon], (None if scale is None else scale[:, :horizon]), None

    def training_pairs(self, x: np.ndarray, future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lookback `(M, L, I)` and the future targets `(M, H, C)`."""
        return window_pairs("direct", x, future, self.n_targets)

    def check_horizon(self, horizon: int) -> None:
        """A direct model forecasts at most the horizon it was trained for."""
        if horizon > self.horizon:
            raise ConfigError(
                f"this direct model forecasts at most {self.horizon} steps, asked for {horizon}; "
                "refit with a longer series.horizon or series.strategy = autoregressive"
            )


class AutoregressiveForecaster(RNNForecaster):
    """The head predicts the next value of every input channel at every step; `rollout`
    feeds each forecast back as the next input, for any number of steps.

    Args:
        input_size, n_targets, core, likelihood: as in `RNNForecaster`.
        init_std: when > 0, every parameter is drawn from N(0, init_std).

    Shape:
        x: (B, T, I). Returns mean and scale (B, T, I), the prediction of step t + 1 at
        step t; scale is None for "mse".
    """

    strategy: ClassVar[str] = "autoregressive"

    def __init__(
        self,
        *,
        input_size: int,
        n_targets: int,
        core: CoreConfig | None = None,
        likelihood: Likelihood = "gaussian",
        init_std: float = 0.0,
    ) -> None:
        super().__init__(input_size, n_targets, (1, input_size), core, likelihood)
        self._init_normal(init_std)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, Tensor | None, State]:
        """Read `x (B, T, I)`; the next-step mean and scale at every step, `(B, T, I)`."""
        out, state = self.core(x, state)  # (B, T, H)
        mean, scale = self._split(self.head(out))  # (B, T, 1, I)
        mean = mean.squeeze(-2)  # (B, T, I)
        return mean, (scale.squeeze(-2) if scale is not None else None), state

    @torch.no_grad()
    def forecast(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> ModelForecast:
        """The target channels of `rollout`: the point path and, with `samples > 0` and the
        Gaussian likelihood, the sample paths (the intervals come from those).

        Shape:
            x: (B, L, I). Returns mean (B, horizon, C), no scale, and paths (S, B, horizon, C)
            or None.
        """
        point, sampled = self.rollout(x, horizon, samples=samples, generator=generator)
        C = self.n_targets
        return point[..., :C], None, (None if sampled is None else sampled[..., :C])

    def training_pairs(self, x: np.ndarray, future: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Teacher forcing: input row t predicts row t + 1, over the whole window.

        Shape:
            x: (M, L, I), future: (M, H, I). Returns two arrays (M, L+H-1, I).
        """
        return window_pairs("autoregressive", x, future, self.n_targets)

    @torch.no_grad()
    def rollout(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Autoregressive forecast: read `x` once, then feed each forecast back.

        The point path feeds back the mean (the loop of the PyTorch sine tutorial); with
        `samples > 0` and the Gaussian likelihood, that many sample paths feed back a draw
        from N(mean, scale), which carries the uncertainty of early steps into later ones.

        Shape:
            x: (B, L, I). Returns the point path (B, horizon, I) and the sample paths
            (S, B, horizon, I) or None.
        """
        B = x.shape[0]
        S = samples if self.likelihood == "gaussian" else 0
        mean, scale, state = self(x)  # (B, L, I)
        step_mean = mean[:, -1:]  # (B, 1, I)
        # Point path and sample paths run as one batch: rows [0, B) are the point path.
        if S:
            assert scale is not None  # a gaussian likelihood has a scale
            step_scale = scale[:, -1:]
            state = repeat_rows(state, S + 1)
            noise = self._noise(S * B, x, generator)  # (S*B, 1, I)
            nxt = torch.cat(
                [step_mean, (step_mean + step_scale * noise.view(S, B, 1, -1)).flatten(0, 1)]
            )  # ((S+1)*B, 1, I)
        else:
            nxt = step_mean
        steps = [nxt]
        for _ in range(horizon - 1):
            mean, scale, state = self(nxt, state)  # (rows, 1, I)
            if S:
                draw = mean[B:] + scale[B:] * self._noise(S * B, x, generator)  # (S*B, 1, I)
                nxt = torch.cat([mean[:B], draw])
            else:
                nxt = mean
            steps.append(nxt)
        paths = torch.cat(steps, dim=1)  # (rows, horizon, I)
        point = paths[:B]  # (B, horizon, I)
        sampled = paths[B:].view(S, B, horizon, -1) if S else None  # (S, B, horizon, I)
        return point, sampled

    def _noise(self, rows: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """Standard normal draws `(rows, 1, I)` on `like`'s device and dtype."""
        return torch.randn(
            (rows, 1, self.input_size), generator=generator, device=like.device, dtype=like.dtype
        )


def _check_strategy(strategy: str) -> None:
    """Raise `ConfigError` unless `strategy` is "direct" or "autoregressive"."""
    if strategy not in ("direct", "autoregressive"):
        raise ConfigError(f"unknown strategy {strategy!r}; choose direct or autoregressive")


def window_pairs(
    strategy: str, x: np.ndarray, future: np.ndarray, n_targets: int
) -> tuple[np.ndarray, np.ndarray]:
    """The (input, target) pairs a model of `strategy` trains on, from the lookback rows of
    every window and the rows after it (each class's `training_pairs`, without a model).

    Shape:
        x: (M, L, I), future: (M, H, I). direct: returns x and the future targets
        (M, H, C); autoregressive (teacher forcing, input row t predicts row t + 1): two
        arrays (M, L+H-1, I).
    """
    _check_strategy(strategy)
    if strategy == "direct":
        return x, future[:, :, :n_targets]
    full = np.concatenate([x, future], axis=1)  # (M, L+H, I)
    return full[:, :-1], full[:, 1:]


def build_forecaster(
    strategy: str, *, horizon: int, skip_lookback: int = 0, **common: Any
) -> RNNForecaster:
    """The forecaster of `strategy` ("direct" or "autoregressive").

    `common` are the keyword arguments both classes take: `input_size`, `n_targets`,
    `core`, `likelihood` and `init_std`. The autoregressive model forecasts any horizon and
    has no skip term, so it ignores `horizon` and `skip_lookback`.
    """
    _check_strategy(strategy)
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1, got {horizon}")
    if strategy == "direct":
        return DirectForecaster(horizon=horizon, skip_lookback=skip_lookback, **common)
    return AutoregressiveForecaster(**common)


__all__ = [
    "AutoregressiveForecaster",
    "DirectForecaster",
    "RNNForecaster",
    "build_forecaster",
    "window_pairs",
]
