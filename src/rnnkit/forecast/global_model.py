"""One network across many series, each normalised by its own exponential smoothing (the
ES-RNN of Smyl's M4 winner; the one-series version is `rnnkit.forecast.hybrid`).

Every series is first put in model space on its own: logarithms when it is positive
(`series.log` not `no`), else standardised (`PanelScale`). In model space each series `i`
keeps a level and, with a season of `m` points, seasonal terms, with its own learned
`alpha_i`, `gamma_i` and first season:

    l[t]     = alpha_i * (z[t] - s[t]) + (1 - alpha_i) * l[t-1]
    s[t + m] = gamma_i * (z[t] - l[t]) + (1 - gamma_i) * s[t]

One network, shared by all series, reads the deseasonalised window relative to the last
level and forecasts the remainder of the next `H` steps (as `HybridForecaster`). The
recursion runs on all series at once (a `(S,)` vector per step), so one training step
smooths every series and takes a few windows of each: the cost grows linearly with the
series. Series are left-aligned in a `(S, T)` matrix, padded with their last value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.config import CoreConfig, LogTransform
from rnnkit.forecast.model import DirectForecaster
from rnnkit.training.optim import clip_gradients, lr_factor, set_lr
from rnnkit.training.threads import step_done

STEPS = 400  # optimizer steps of a fit when train.max_steps is 0
PER_SERIES = 4  # windows each series gives a training step


@dataclass
class PanelScale:
    """How each series enters model space: `log(y)` when `log`, else `(y - shift) / scale`.

    Shape: each field (S,)."""

    log: np.ndarray
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, histories: list[np.ndarray], log: LogTransform = "auto") -> PanelScale:
        """Logarithms for a positive series (unless `log` is `no`), else its mean and
        standard deviation. Shape: histories: S arrays (N_i,)."""
        logs = np.array([log != "no" and bool(np.all(h > 0)) for h in histories])
        shift = np.array([float(np.mean(h)) for h in histories])
        scale = np.array([float(np.std(h)) or 1.0 for h in histories])
        return cls(logs, shift, scale)

    def encode(self, i: int, y: np.ndarray) -> np.ndarray:
        """Series `i` in model space. Shape: (N,) -> (N,)."""
        if self.log[i]:
            return np.log(np.maximum(y, 1e-12))
        return (y - self.shift[i]) / self.scale[i]

    def decode(self, i: int, z: np.ndarray) -> np.ndarray:
        """Back to the series' units. Shape: any."""
        if self.log[i]:
            return np.exp(np.clip(z, -700.0, 700.0))
        return z * self.scale[i] + self.shift[i]

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists for a checkpoint."""
        return {k: [float(v) for v in getattr(self, k)] for k in ("log", "shift", "scale")}

    @classmethod
    def from_dict(cls, raw: dict[str, list[float]]) -> PanelScale:
        """The scale `to_dict` wrote."""
        return cls(np.array(raw["log"], bool), np.array(raw["shift"]), np.array(raw["scale"]))


def padded(values: list[np.ndarray]) -> Tensor:
    """Left-aligned series in one matrix, each padded with its last value. Shape: (S, T)."""
    width = max(len(v) for v in values)
    out = np.empty((len(values), width), dtype=np.float32)
    for i, v in enumerate(values):
        out[i, : len(v)] = v
        out[i, len(v) :] = v[-1]
    return torch.from_numpy(out)


@dataclass
class Coefs:
    """Smoothing coefficients of some series, as the model holds them (logits).

    Shape: alpha, gamma (S,); season (S, m)."""

    alpha: Tensor
    gamma: Tensor
    season: Tensor


def smooth_panel(z: Tensor, coefs: Coefs) -> tuple[Tensor, Tensor]:
    """Level (S, T) and seasonal terms (S, T + m) of every series of `z (S, T)` at once."""
    alpha, gamma = torch.sigmoid(coefs.alpha), torch.sigmoid(coefs.gamma)
    m = coefs.season.shape[1]
    seas = list(coefs.season.unbind(1))  # m tensors (S,)
    lev = z[:, 0] - (seas[0] if m else 0.0)
    levels = []
    for t in range(z.shape[1]):
        s_t = seas[t] if m else 0.0
        lev = lev + alpha * (z[:, t] - s_t - lev)
        levels.append(lev)
        if m:
            seas.append(s_t + gamma * (z[:, t] - lev - s_t))
    season = torch.stack(seas, 1) if m else z.new_zeros(z.shape[0], z.shape[1])
    return torch.stack(levels, 1), season


class GlobalHybrid(nn.Module):
    """Per-series smoothing coefficients and one shared direct network.

    Args:
        n_series: S, the series whose coefficients are learned.
        season: m (<= 1: level only). lookback: L. horizon: H.
        core: the network's recurrent core.

    Shape:
        forward(z (S, T), series (B,), origins (B,)): the forecast (B, H) in model space.
    """

    def __init__(
        self, n_series: int, season: int, lookback: int, horizon: int, core: CoreConfig
    ) -> None:
        super().__init__()
        self.season = season if season > 1 else 0
        self.lookback, self.horizon = lookback, horizon
        self.alpha_logit = nn.Parameter(torch.zeros(n_series))  # alpha = 0.5 to start
        self.gamma_logit = nn.Parameter(torch.full((n_series,), -2.0))  # gamma ~ 0.12
        self.init_season = nn.Parameter(torch.zeros(n_series, self.season))
        self.net = DirectForecaster(
            input_size=1, n_targets=1, horizon=horizon, core=core, likelihood="mse"
        )

    def start_from(self, z: Tensor) -> None:
        """Start each first season from its first `m` points' deviations. Shape: (S, T)."""
        m = self.season
        if m and z.shape[1] >= m:
            with torch.no_grad():
                first = z[:, :m]
                self.init_season.copy_(first - first.mean(1, keepdim=True))

    def coefs(self) -> Coefs:
        """The learned coefficients of every series."""
        return Coefs(self.alpha_logit, self.gamma_logit, self.init_season)

    def new_coefs(self, z: Tensor) -> Coefs:
        """Coefficients for series the model has not seen: the median learned alpha and
        gamma, the first season from their first points. Shape: z (S', T)."""
        n = z.shape[0]
        alpha = self.alpha_logit.detach().median().expand(n).clone()
        gamma = self.gamma_logit.detach().median().expand(n).clone()
        m = self.season
        first = z[:, :m] if m and z.shape[1] >= m else z.new_zeros(n, m)
        return Coefs(alpha, gamma, first - first.mean(1, keepdim=True) if m else first)

    def forward(
        self, z: Tensor, series: Tensor, origins: Tensor, coefs: Coefs | None = None
    ) -> Tensor:
        """Forecast `H` steps of series `series[b]` from origin `origins[b]` (`z[:o]` known,
        `o >= L`). Shape: z (S, T); series, origins (B,) long -> (B, H)."""
        level, seas = smooth_panel(z, coefs or self.coefs())  # (S, T), (S, T + m)
        rows = series[:, None]
        last = level[series, origins - 1]  # (B,)
        base = last[:, None].expand(-1, self.horizon)
        if self.season:
            steps = torch.arange(self.horizon) % self.season
            base = base + seas[rows, origins[:, None] + steps]
        past = origins[:, None] - self.lookback + torch.arange(self.lookback)  # (B, L)
        x = z[rows, past] - last[:, None]
        if self.season:
            x = x - seas[rows, past]
        rest, _, _ = self.net(x[:, :, None])  # (B, H, 1)
        return base + rest[..., 0]


def train_global(
    model: GlobalHybrid,
    z: Tensor,
    last_origin: list[int],
    *,
    steps: int,
    lr: float,
    seed: int,
    clip: float = 1.0,
) -> list[float]:
    """Fit on windows pooled from all series: each step smooths every series and takes
    `PER_SERIES` origins of each in `lookback .. last_origin[i]` (so the targets end by
    `last_origin[i] + H`); the L1 loss in model space. Returns each step's loss.

    Shape:
        z: (S, T). last_origin: S ints (a series with last_origin < lookback gives none).
    """
    gen = torch.Generator().manual_seed(seed)
    hi = torch.tensor(last_origin)
    rows = torch.nonzero(hi >= model.lookback)[:, 0]
    if len(rows) == 0:
        return []
    z = z[:, : int(hi.max()) + model.horizon]
    series = rows.repeat_interleave(PER_SERIES)  # (B,)
    span = (hi[series] - model.lookback + 1).float()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ahead = torch.arange(model.horizon)
    losses = []
    for step in range(steps):
        t0 = time.perf_counter()
        set_lr(opt, lr, lr_factor("cosine", step, steps))  # the shared schedule mechanism
        origins = model.lookback + (torch.rand(len(series), generator=gen) * span).long()
        pred = model(z, series, origins)  # (B, H)
        loss = (pred - z[series[:, None], origins[:, None] + ahead]).abs().mean()
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            clip_gradients(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.detach()))
        step_done(time.perf_counter() - t0, len(series))  # adaptive threads (threads = 0)
    return losses


@torch.no_grad()
def forecast_at(
    model: GlobalHybrid, z: Tensor, origins: list[list[int]], coefs: Coefs | None = None
) -> list[np.ndarray]:
    """Series `i`'s forecasts from each of `origins[i]` in model space (`(K_i, H)`)."""
    model.eval()
    series = torch.tensor([i for i, o in enumerate(origins) for _ in o], dtype=torch.long)
    flat = torch.tensor([k for o in origins for k in o], dtype=torch.long)
    pred = model(z, series, flat, coefs).numpy().astype(np.float64)  # (B, H)
    out, at = [], 0
    for o in origins:
        out.append(pred[at : at + len(o)])
        at += len(o)
    return out


__all__ = [
    "PER_SERIES",
    "STEPS",
    "Coefs",
    "GlobalHybrid",
    "PanelScale",
    "forecast_at",
    "padded",
    "smooth_panel",
    "train_global",
]
