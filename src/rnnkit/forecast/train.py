"""The forecasting training loop.

The configuration (`ForecastConfig`, its defaults and the `forecast-<source>` presets) is
in `rnnkit.config`; the sizes a series gets (`plan_sizes`) in `rnnkit.forecast.series`.
Read top to bottom:

1. `_loss` is the one place the loss is computed.
2. `train_model` is the explicit loop: shuffled mini-batches of windows, the optimizer,
   clipping, the schedule, an evaluation on the validation windows after every epoch
   keeping the best parameters, early stopping, and (as in the PyTorch sine tutorial,
   with `carry_state`) the state carried from batch to batch and detached.

The `Forecaster` wrapper (`fit`, `predict`, `save`, `load`) is in `rnnkit.forecast.forecaster`.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.config import ForecastTrainConfig, SeriesConfig
from rnnkit.errors import ConfigError
from rnnkit.forecast.model import RNNForecaster
from rnnkit.nn.state import detach
from rnnkit.training.environment import progress
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor, set_lr

# ---------------------------------------------------------------------------------------
# the training loop
# ---------------------------------------------------------------------------------------


def _loss(mean: Tensor, scale: Tensor | None, target: Tensor, known: Tensor | None) -> Tensor:
    """The one place the loss is computed: squared error for the mean, plus, with a scale,
    the Gaussian negative log-likelihood of the target given the (detached) mean; only
    over the `known` targets when a mask (1.0 / 0.0, the target's shape) is given.

    Detaching keeps the mean's gradient that of squared error (as beta-NLL with beta = 1):
    the plain NLL lets the model buy a low loss by widening the scale on hard points
    instead of fitting them, and its point forecasts were clearly worse on sunspots.
    """
    if known is None:
        mse = F.mse_loss(mean, target)
        if scale is None:
            return mse
        return mse + F.gaussian_nll_loss(mean.detach(), target, scale**2)
    count = known.sum().clamp(min=1)
    loss = ((mean - target) ** 2 * known).sum() / count
    if scale is not None:
        nll = F.gaussian_nll_loss(mean.detach(), target, scale**2, reduction="none")
        loss = loss + (nll * known).sum() / count
    return loss


def _val_mse(model: RNNForecaster, xv: Tensor, yv: Tensor, mask: Tensor) -> float:
    """Mean squared error of the point forecast on the validation windows' unseen targets."""
    model.eval()
    with torch.no_grad():
        mean = model.forecast(xv, yv.shape[1])[0]  # (M, H, C)
    model.train()
    err = (mean - yv) ** 2 * mask  # (M, H, C)
    return float(err.sum() / mask.sum().clamp(min=1))


def train_model(
    model: RNNForecaster,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray, np.ndarray],
    series_cfg: SeriesConfig,
    train_cfg: ForecastTrainConfig,
    device: torch.device,
    quiet: bool = True,
) -> dict[str, Any]:
    """Fit `model` on training windows; keep the parameters best on validation.

    Args:
        model: a fresh `DirectForecaster` or `AutoregressiveForecaster` on `device`.
        train: inputs and targets, as the model's `training_pairs` makes them. direct:
            (M, L, I) and (M, H, C); autoregressive: the teacher-forced pair (M, L+H-1, I)
            and (M, L+H-1, I), target = input shifted by one. NaN targets (unknown) are
            left out of the loss.
        val: inputs (V, L, I), targets (V, H, C) and a mask (V, H, C) of the targets that
            no training window saw.
        series_cfg: batch size and `carry_state`.
        train_cfg: epochs or max_steps, optimizer, lr, schedule, clip, patience, seed.
        device: where to run.
        quiet: no progress bar.

    Returns:
        `history` (one dict per epoch), `best_state`, `last_state`, `best_epoch`, `steps`,
        `elapsed_s`, and the optimizer's state.
    """
    gen = torch.Generator().manual_seed(train_cfg.seed)
    x = torch.as_tensor(train[0], dtype=torch.float32, device=device)
    y = torch.as_tensor(train[1], dtype=torch.float32, device=device)
    known = None if bool(torch.isfinite(y).all()) else torch.isfinite(y).float()
    y = torch.nan_to_num(y)
    xv, yv, mv = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in val)
    n = len(x)
    bs = min(series_cfg.batch_size, n)
    per_epoch = -(-n // bs)
    total = train_cfg.max_steps if train_cfg.max_steps > 0 else train_cfg.epochs * per_epoch
    if total == 0:
        raise ConfigError(
            "a forecast needs train.epochs or train.max_steps above 0 (its fits have no "
            "time budget)"
        )
    opt = build_optimizer(
        model.parameters(), train_cfg.optimizer, train_cfg.lr, train_cfg.weight_decay
    )
    lr_factor(train_cfg.schedule, 0, total, train_cfg.warmup_steps)  # an unknown one fails here
    history: list[dict[str, float]] = []
    best = (float("inf"), 0, copy.deepcopy(model.state_dict()))
    state = None
    step, epoch, stale, elapsed = 0, 0, 0, 0.0
    bar = progress(range(total), total=total, desc="fit", quiet=quiet)
    model.train()
    while step < total:
        epoch += 1
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(device)
        loss_sum, count = 0.0, 0
        for start in range(0, n, bs):
            if step >= total:
                break
            idx = order[start : start + bs]
            if state is not None and (not series_cfg.carry_state or len(idx) != bs):
                state = None
            mean, scale, new_state = model(x[idx], state)  # (b, S, C) or (b, T, I)
            loss = _loss(mean, scale, y[idx], None if known is None else known[idx])
            factor = lr_factor(train_cfg.schedule, step, total, train_cfg.warmup_steps)
            set_lr(opt, train_cfg.lr, factor)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model.parameters(), train_cfg.clip)
            opt.step()
            if series_cfg.carry_state:  # as the PyTorch sine tutorial: carried, detached
                state = detach(new_state)
            loss_sum += loss.item() * len(idx)
            count += len(idx)
            step += 1
            bar.update(1)
        elapsed += time.perf_counter() - t0
        val_mse = _val_mse(model, xv, yv, mv)
        history.append(
            {
                "epoch": epoch,
                "step": step,
                "train_loss": loss_sum / max(count, 1),
                "val_mse": val_mse,
            }
        )
        if val_mse < best[0]:
            best, stale = (val_mse, epoch, copy.deepcopy(model.state_dict())), 0
        else:
            stale += 1
            if train_cfg.patience and stale >= train_cfg.patience:
                break
    bar.close()
    return {
        "history": history,
        "best_state": best[2],
        "best_epoch": best[1],
        "last_state": copy.deepcopy(model.state_dict()),
        "optimizer": opt.state_dict(),
        "steps": step,
        "elapsed_s": elapsed,
    }


__all__ = ["train_model"]
