"""The ES-RNN hybrid (after Smyl's M4 winner): exponential smoothing normalises the series,
a recurrent network forecasts what is left, and both are trained together.

On the model-space series `z` (log-scaled for multiplicative series, see `SeriesEncoder`)
the smoothing keeps a level `l` and, with a season of `m` points, seasonal terms `s`:

    l[t]     = alpha * (z[t] - s[t]) + (1 - alpha) * l[t-1]
    s[t + m] = gamma * (z[t] - l[t]) + (1 - gamma) * s[t]

`alpha`, `gamma` and the first season `s[0:m]` are parameters. A forecast made at origin
`o` (the first forecast step; `z[:o]` is known) for step `h` is

    l[o-1] + s[o + h % m] + network(z[o-L:o] - s[o-L:o] - l[o-1])[h]

so the network reads the deseasonalised window relative to the last level and forecasts the
remainder. `use_network=False` is the smoothing part alone (level plus season, flat
beyond), with a learned scale per step for its interval.

The recursion runs on plain floats with a hand-written reverse pass (`Smoothing`,
checked against autograd in the tests): an autograd graph of `N` small steps costs about
0.5 ms a point and a training step runs the smoothing over the whole series.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import CoreConfig, Likelihood
from rnnkit.errors import ConfigError
from rnnkit.forecast.model import MIN_SCALE, DirectForecaster, RNNForecaster

# The smoothing's parameters, in the order of the Jacobians' columns; the first season
# follows them.
PARAMS = ("alpha", "beta", "gamma", "phi", "trend0")


def smooth(z: list[float], coef: list[float], init: list[float]) -> tuple[list[float], ...]:
    """Run the smoothing over `z`.

    `coef` holds alpha (level), beta (trend), gamma (season), phi (trend damping) and the
    first trend; beta = trend0 = 0 is the smoothing without a trend. Plain floats: the
    recursion is sequential, and Python floats are ~20x faster than NumPy scalars.

    Shape:
        z: (N,), coef: (5,), init: (m,) (m = 0: no season). Returns level and trend (N,),
        seasonal (N + m,; zeros without a season) and each step's error (N,).
    """
    n, m = len(z), len(init)
    alpha, beta, gamma, phi, b = coef
    seas = list(init) + [0.0] * n
    level, trend, errors = [0.0] * n, [0.0] * n, [0.0] * n
    lev = z[0] - seas[0]
    for t in range(n):
        s = seas[t]
        err = z[t] - s - (lev + phi * b)
        lev = lev + phi * b + alpha * err
        b = phi * b + alpha * beta * err
        level[t], trend[t], errors[t] = lev, b, err
        if m:
            seas[t + m] = s + gamma * (z[t] - lev - s)
    return level, trend, seas[: n + m], errors


def smooth_backward(
    z: list[float],
    coef: list[float],
    outs: tuple[list[float], ...],
    grads: tuple[list[float], list[float], list[float]],
    m: int,
) -> tuple[list[float], list[float]]:
    """Reverse-mode derivative of `smooth`: the gradients of `coef` and `init` given those
    of the level, trend and seasonal outputs (`grads`). Shape: returns (5,) and (m,)."""
    alpha, beta, gamma, phi, trend0 = coef
    level, trend, seas, errors = outs
    g_level, g_trend, g_seas = grads
    n = len(z)
    g_s = list(g_seas) if m else [0.0] * n  # adjoints of the seasonal terms
    g_alpha = g_beta = g_gamma = g_phi = 0.0
    a_lev = a_b = 0.0  # adjoints of the level and trend leaving step t
    for t in range(n - 1, -1, -1):
        err = errors[t]
        b_prev = trend[t - 1] if t else trend0
        g_new = a_lev + g_level[t]
        g_b = a_b + g_trend[t]
        g_st = 0.0
        if m:  # seas[t + m] = s + gamma * (z - new - s)
            g_up = g_s[t + m]
            g_new -= gamma * g_up
            g_st += (1.0 - gamma) * g_up
            g_gamma += (z[t] - level[t] - seas[t]) * g_up
        # b' = phi b + alpha beta err;  new = pred + alpha err;  err = z - s - pred
        g_err = alpha * beta * g_b + alpha * g_new
        g_alpha += err * (beta * g_b + g_new)
        g_beta += alpha * err * g_b
        g_pred = g_new - g_err
        g_st -= g_err
        g_phi += b_prev * (g_b + g_pred)
        a_lev, a_b = g_pred, phi * (g_b + g_pred)
        if m:
            g_s[t] += g_st
    if m:
        g_s[0] -= a_lev  # the first level is z[0] - s[0]
    return [g_alpha, g_beta, g_gamma, g_phi, a_b], (g_s[:m] if m else [])


class Smoothing(torch.autograd.Function):
    """`smooth` as an autograd function of (coef, init); `z` is data."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, coef: Tensor, init: Tensor) -> Any:
        """Shape: z (N,), coef (5,), init (m,). Returns level, trend (N,), seasonal (N+m,)."""
        zs, cs = z.detach().double().tolist(), coef.detach().double().tolist()
        outs = smooth(zs, cs, init.detach().double().tolist())
        ctx.saved = (zs, cs, outs, len(init))
        ctx.dtype = coef.dtype
        return tuple(torch.tensor(v, dtype=z.dtype, device=z.device) for v in outs[:3])

    @staticmethod
    def backward(ctx: Any, g_level: Tensor, g_trend: Tensor, g_seas: Tensor) -> Any:
        """The gradients of (coef, init), by `smooth_backward`."""
        zs, cs, outs, m = ctx.saved
        lev, trend, seas = (g.detach().double().tolist() for g in (g_level, g_trend, g_seas))
        g_coef, g_init = smooth_backward(zs, cs, outs, (lev, trend, seas), m)
        device = g_level.device
        return (
            None,
            torch.tensor(g_coef, dtype=ctx.dtype, device=device),
            torch.tensor(g_init, dtype=ctx.dtype, device=device),
        )


class HybridForecaster(nn.Module):
    """Exponential smoothing plus a direct recurrent forecaster of the remainder.

    Args:
        season: m, points per season (<= 1: level only).
        lookback: L, points the network reads (ignored without the network).
        horizon: H, steps forecast at once.
        core: the network's recurrent core.
        likelihood: "gaussian" (a scale per step, for the interval) or "mse".
        use_network: False = the smoothing part alone.
        trend: add a damped trend to the smoothing (for trending series).

    Shape:
        forward(z (N,), origins (B,)): mean and scale (B, H) in model space.
    """

    def __init__(
        self,
        *,
        season: int,
        lookback: int,
        horizon: int,
        core: CoreConfig | None = None,
        likelihood: Likelihood = "gaussian",
        use_network: bool = True,
        trend: bool = False,
    ) -> None:
        super().__init__()
        self.season = season if season > 1 else 0
        self.lookback = lookback if use_network else 0
        self.horizon = horizon
        self.likelihood = likelihood
        self.trend = trend
        self.alpha_logit = nn.Parameter(torch.tensor(0.0))  # alpha = 0.5 to start
        self.beta_logit = nn.Parameter(torch.tensor(-3.0))  # beta ~ 0.05
        self.gamma_logit = nn.Parameter(torch.tensor(-2.0))  # gamma ~ 0.12
        self.phi_logit = nn.Parameter(torch.tensor(2.0))  # phi ~ 0.98
        self.trend0 = nn.Parameter(torch.tensor(0.0))
        self.init_season = nn.Parameter(torch.zeros(self.season))
        self.net = (
            DirectForecaster(
                input_size=1, n_targets=1, horizon=horizon, core=core, likelihood=likelihood
            )
            if use_network
            else None
        )
        self.log_scale = nn.Parameter(torch.zeros(horizon))  # the interval without a network

    def start_from(self, z: np.ndarray) -> None:
        """Start the season from the first season's deviations from its mean, the trend from
        the change between the first two seasons (or first ten points). Shape: (N,)."""
        m = self.season
        with torch.no_grad():
            if m and len(z) >= m:
                first = torch.as_tensor(z[:m], dtype=torch.float32)
                self.init_season.copy_(first - first.mean())
            if self.trend and m and len(z) >= 2 * m:
                self.trend0.fill_(float(z[m : 2 * m].mean() - z[:m].mean()) / m)
            elif self.trend and len(z) > 1:
                k = min(len(z) - 1, 10)
                self.trend0.fill_(float(z[k] - z[0]) / k)

    def _coef(self) -> Tensor:
        """(alpha, beta, gamma, phi, trend0); without a trend beta = phi = trend0 = 0."""
        alpha = torch.sigmoid(self.alpha_logit)
        gamma = torch.sigmoid(self.gamma_logit)
        if not self.trend:
            zero = torch.zeros_like(alpha)
            return torch.stack([alpha, zero, gamma, zero, zero])
        beta = torch.sigmoid(self.beta_logit)
        phi = 0.8 + 0.2 * torch.sigmoid(self.phi_logit)
        return torch.stack([alpha, beta, gamma, phi, self.trend0])

    def smooth(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Level and trend (N,), seasonal terms (N + m,) of `z (N,)`, and the coefficients."""
        coef = self._coef()
        level, trend, seas = Smoothing.apply(z, coef, self.init_season)
        return level, trend, seas, coef

    def forward(self, z: Tensor, origins: Tensor) -> tuple[Tensor, Tensor | None]:
        """Forecast `horizon` steps from every origin (`z[:o]` known, `o >= lookback`).

        Shape:
            z: (N,), origins: (B,) long. Returns mean and scale (B, H); scale is None
            under "mse".
        """
        level, trend, seas, coef = self.smooth(z)  # (N,), (N,), (N + m,), (5,)
        last = level[origins - 1]  # (B,)
        steps = torch.arange(self.horizon, device=z.device)
        damped = torch.cumsum(coef[3] ** (steps + 1.0), 0)  # (H,) phi + ... + phi^(h+1)
        base = last[:, None] + trend[origins - 1, None] * damped  # (B, H)
        if self.season:
            base = base + seas[origins[:, None] + steps % self.season]
        if self.net is None:
            scale = F.softplus(self.log_scale).expand_as(base) + MIN_SCALE
            return base, (scale if self.likelihood == "gaussian" else None)
        past = origins[:, None] - self.lookback + torch.arange(self.lookback, device=z.device)
        x = z[past] - last[:, None]  # (B, L)
        if self.season:
            x = x - seas[past]
        rest, scale, _ = self.net(x[:, :, None])  # (B, H, 1)
        return base + rest[..., 0], (None if scale is None else scale[..., 0])

    def coefficients(self) -> dict[str, float]:
        """The learned smoothing coefficients, for the run's record."""
        return dict(zip(PARAMS, (float(c) for c in self._coef().detach()), strict=True))


class OriginForecaster(nn.Module):
    """A `HybridForecaster` on one series, driven like the window models by
    `rnnkit.forecast.train.train_model`: its inputs are window origins.

    Shape:
        forward(x (B, 1, 1) origins as floats): mean and scale (B, H, 1), no state.
    """

    z: Tensor  # (N,) the series in model space, a buffer

    def __init__(self, hybrid: HybridForecaster, z: np.ndarray) -> None:
        super().__init__()
        self.hybrid = hybrid
        self.register_buffer("z", torch.as_tensor(z, dtype=torch.float32), persistent=False)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Tensor | None, None]:
        """Forecast from the origins `x[:, 0, 0]`. Shape: mean and scale (B, H, 1)."""
        mean, scale = self.hybrid(self.z, x[:, 0, 0].round().long())
        return mean[..., None], (None if scale is None else scale[..., None]), None

    @torch.no_grad()
    def forecast(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None, None]:
        """The first `horizon` steps from every origin. Shape: (B, horizon, 1)."""
        mean, scale, _ = self(x)
        return mean[:, :horizon], (None if scale is None else scale[:, :horizon]), None

    def check_horizon(self, horizon: int) -> None:
        """The hybrid forecasts at most the horizon it was trained for."""
        if horizon > self.hybrid.horizon:
            raise ConfigError(
                f"this model forecasts at most {self.hybrid.horizon} steps, asked for "
                f"{horizon}; refit with a longer series.horizon"
            )


# What `rnnkit.forecast.train.train_model` fits: a window model or the hybrid on origins.
FitModel: TypeAlias = RNNForecaster | OriginForecaster


def origin_windows(
    z: np.ndarray, start: int, stop: int, horizon: int, known: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The origins `start..stop-1` and their targets, NaN outside `known = (lo, hi)`.

    Shape:
        z: (N,). Returns origins (B, 1, 1) as floats, targets (B, H, 1) and the mask of
        the known targets (B, H, 1).
    """
    origins = np.arange(start, stop)
    j = origins[:, None] + np.arange(horizon)  # (B, H)
    inside = (j >= known[0]) & (j < known[1])
    y = np.where(inside, z[np.minimum(j, len(z) - 1)], np.nan)
    return (
        origins[:, None, None].astype(np.float32),
        y[..., None],
        inside[..., None].astype(np.float32),
    )


__all__ = [
    "PARAMS",
    "FitModel",
    "HybridForecaster",
    "OriginForecaster",
    "Smoothing",
    "origin_windows",
    "smooth",
    "smooth_backward",
]
