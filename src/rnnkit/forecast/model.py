"""RNNForecaster: a recurrent core and a linear head that forecast a (multivariate) series.

Two strategies share the module:

- `direct`: the core reads the lookback window and its last output feeds one head that
  emits every step of the horizon at once, `(B, horizon, C)`.
- `autoregressive`: the head reads every step's output and predicts the next value of
  every input channel, `(B, T, I)`; training is teacher forced, and `rollout` feeds each
  forecast back as the next input (the seed example's loop). Covariates are inputs, so in
  this strategy they are forecast too; only the target channels are scored.

With the Gaussian likelihood the head also emits a scale per value (softplus, floored),
from which prediction intervals are drawn. The module returns predictions and state,
never the loss.

    lookback x (B, L, I) -> core -> output (B, L, H) -> head -> mean, scale
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import RnnkitError
from rnnkit.nn.recurrent import build_rnn

State = Tensor | tuple[Tensor, Tensor]
Strategy = Literal["direct", "autoregressive"]
Likelihood = Literal["gaussian", "mse"]
MIN_SCALE = 1e-3


class RNNForecaster(nn.Module):
    """Recurrent core + linear head for point forecasts and (optionally) Gaussian scales.

    Args:
        input_size: channels per step, I (targets first, then covariates).
        n_targets: target channels, C (<= I).
        horizon: steps the direct head emits (ignored by `autoregressive`).
        kind: "rnn", "gru" or "lstm".
        hidden_size: state size, H.
        num_layers: stacked layers.
        dropout: between layers.
        strategy: "direct" or "autoregressive".
        likelihood: "gaussian" (mean and scale) or "mse" (mean only).
        impl: the core's implementation ("torch", "scratch", ...).
        init_std: when > 0, every parameter is drawn from N(0, init_std) (the seed's init).
        skip_lookback: when > 0 (direct only), a linear term from the last that many target
            values is added to the forecast mean.

    Shape:
        x: (B, T, I). direct: mean and scale (B, horizon, C). autoregressive: mean and
        scale (B, T, I), the prediction of step t + 1 at step t. scale is None for "mse".
    """

    def __init__(
        self,
        *,
        input_size: int,
        n_targets: int,
        horizon: int,
        kind: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        strategy: Strategy = "direct",
        likelihood: Likelihood = "gaussian",
        impl: str = "torch",
        init_std: float = 0.0,
        skip_lookback: int = 0,
    ) -> None:
        super().__init__()
        if strategy not in ("direct", "autoregressive"):
            raise RnnkitError(f"unknown strategy {strategy!r}; choose direct or autoregressive")
        if likelihood not in ("gaussian", "mse"):
            raise RnnkitError(f"unknown likelihood {likelihood!r}; choose gaussian or mse")
        if not 1 <= n_targets <= input_size:
            raise RnnkitError(f"n_targets must be in [1, {input_size}], got {n_targets}")
        if horizon < 1:
            raise RnnkitError(f"horizon must be at least 1, got {horizon}")
        self.input_size = input_size
        self.n_targets = n_targets
        self.horizon = horizon
        self.strategy = strategy
        self.likelihood = likelihood
        self.core = build_rnn(
            kind,  # type: ignore[arg-type]
            impl,  # type: ignore[arg-type]
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
        )
        # Direct: all horizon steps of the targets; autoregressive: one step of every channel.
        self.out_steps = horizon if strategy == "direct" else 1
        self.out_channels = n_targets if strategy == "direct" else input_size
        per_value = 2 if likelihood == "gaussian" else 1
        self.head = nn.Linear(hidden_size, self.out_steps * self.out_channels * per_value)
        # A linear map from the last `skip_lookback` target values straight to the direct
        # forecast (an AR term beside the recurrent one, as LSTNet's highway).
        self.skip_lookback = skip_lookback if strategy == "direct" else 0
        self.skip = (
            nn.Linear(self.skip_lookback * n_targets, horizon * n_targets)
            if self.skip_lookback
            else None
        )
        if init_std > 0:
            for p in self.parameters():
                nn.init.normal_(p, mean=0.0, std=init_std)

    def _split(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """Head output `(..., S*C*k)` into mean and scale, each `(..., S, C)`."""
        if self.likelihood == "gaussian":
            mean, raw = y.chunk(2, dim=-1)  # (..., S*C) each
            scale = F.softplus(raw) + MIN_SCALE
            shape = (*y.shape[:-1], self.out_steps, self.out_channels)
            return mean.reshape(shape), scale.reshape(shape)
        return y.reshape(*y.shape[:-1], self.out_steps, self.out_channels), None

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, Tensor | None, State]:
        """One pass over `x`; see the class docstring for the strategies' output shapes."""
        out, state = self.core(x, state)  # (B, T, H)
        if self.strategy == "direct":
            mean, scale = self._split(self.head(out[:, -1]))  # (B, horizon, C)
            if self.skip is not None:
                recent = x[:, -self.skip_lookback :, : self.n_targets].flatten(1)  # (B, k*C)
                mean = mean + self.skip(recent).view_as(mean)  # (B, horizon, C)
            return mean, scale, state
        mean, scale = self._split(self.head(out))  # (B, T, 1, I)
        mean = mean.squeeze(-2)  # (B, T, I)
        return mean, (scale.squeeze(-2) if scale is not None else None), state

    @torch.no_grad()
    def rollout(
        self,
        x: Tensor,
        horizon: int,
        samples: int = 0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Autoregressive forecast: read `x` once, then feed each forecast back.

        The point path feeds back the mean (the seed's loop); with `samples > 0` and the
        Gaussian likelihood, that many sample paths feed back a draw from N(mean, scale),
        which carries the uncertainty of early steps into later ones.

        Shape:
            x: (B, L, I). Returns the point path (B, horizon, I) and the sample paths
            (S, B, horizon, I) or None.
        """
        if self.strategy != "autoregressive":
            raise RnnkitError("rollout needs strategy 'autoregressive'; direct models use forward")
        B = x.shape[0]
        S = samples if self.likelihood == "gaussian" else 0
        mean, scale, state = self(x)  # (B, L, I)
        step_mean = mean[:, -1:]  # (B, 1, I)
        step_scale = scale[:, -1:] if scale is not None else None
        # Point path and sample paths run as one batch: rows [0, B) are the point path.
        if S:
            state = _repeat_state(state, S + 1)
            noise = torch.randn(
                (S * B, 1, self.input_size), generator=generator, device=x.device, dtype=x.dtype
            )
            nxt = torch.cat(
                [step_mean, (step_mean + step_scale * noise.view(S, B, 1, -1)).flatten(0, 1)]
            )  # ((S+1)*B, 1, I)
        else:
            nxt = step_mean
        steps = [nxt]
        for _ in range(horizon - 1):
            mean, scale, state = self(nxt, state)  # (rows, 1, I)
            if S:
                noise = torch.randn(
                    (S * B, 1, self.input_size),
                    generator=generator,
                    device=x.device,
                    dtype=x.dtype,
                )
                draw = mean[B:] + scale[B:] * noise  # (S*B, 1, I)
                nxt = torch.cat([mean[:B], draw])
            else:
                nxt = mean
            steps.append(nxt)
        paths = torch.cat(steps, dim=1)  # (rows, horizon, I)
        point = paths[:B]  # (B, horizon, I)
        sampled = paths[B:].view(S, B, horizon, -1) if S else None  # (S, B, horizon, I)
        return point, sampled


def _repeat_state(state: State, times: int) -> State:
    """Tile a state along the batch: `(D*L, B, H)` -> `(D*L, times*B, H)`."""
    if isinstance(state, tuple):
        return tuple(s.repeat(1, times, 1) for s in state)  # type: ignore[return-value]
    return state.repeat(1, times, 1)
