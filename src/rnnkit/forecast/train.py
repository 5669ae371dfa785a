"""The forecasting training loop.

The configuration (`ForecastConfig`, its defaults and the `forecast-<source>` presets) is
in `rnnkit.config`; the sizes a series gets (`plan_sizes`) in `rnnkit.forecast.series`.
Read top to bottom:

1. `_loss` is the one place the loss is computed.
2. `_fit_batch` is one optimizer step (the schedule, clipping, and, as in the PyTorch sine
   tutorial with `carry_state`, the state carried from batch to batch and detached);
   `_fit_epoch` one pass over the shuffled mini-batches of windows.
3. `train_model` is the explicit loop: epochs, an evaluation on the validation windows
   after every epoch keeping the best parameters, early stopping.

The `Forecaster` wrapper (`fit`, `predict`, `save`, `load`) is in `rnnkit.forecast.forecaster`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.config import ForecastTrainConfig, SeriesConfig
from rnnkit.errors import ConfigError
from rnnkit.forecast.hybrid import FitModel
from rnnkit.nn.state import State, detach
from rnnkit.training.environment import progress
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor, set_lr
from rnnkit.training.threads import step_done

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


def _val_mse(model: FitModel, xv: Tensor, yv: Tensor, mask: Tensor) -> float:
    """Mean squared error of the point forecast on the validation windows' unseen targets."""
    model.eval()
    with torch.no_grad():
        mean = model.forecast(xv, yv.shape[1])[0]  # (M, H, C)
    model.train()
    err = (mean - yv) ** 2 * mask  # (M, H, C)
    return float(err.sum() / mask.sum().clamp(min=1))


_Windows = tuple[Tensor, Tensor, Tensor | None]  # inputs, targets (NaN -> 0), known mask


def _as_tensors(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray, np.ndarray],
    device: torch.device,
) -> tuple[_Windows, tuple[Tensor, Tensor, Tensor]]:
    """The training windows (targets' NaNs zeroed, a known mask if any) and validation ones."""
    x = torch.as_tensor(train[0], dtype=torch.float32, device=device)
    y = torch.as_tensor(train[1], dtype=torch.float32, device=device)
    known = None if bool(torch.isfinite(y).all()) else torch.isfinite(y).float()
    y = torch.nan_to_num(y)
    xv, yv, mv = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in val)
    return (x, y, known), (xv, yv, mv)


def _total_steps(train_cfg: ForecastTrainConfig, per_epoch: int) -> int:
    """The optimizer steps to take: `max_steps`, else `epochs` passes of `per_epoch`."""
    total = train_cfg.max_steps if train_cfg.max_steps > 0 else train_cfg.epochs * per_epoch
    if total == 0:
        raise ConfigError(
            "a forecast needs train.epochs or train.max_steps above 0 (its fits have no "
            "time budget)"
        )
    return total


@dataclass
class _Loop:
    """The loop's fixed parts and where it stands: steps taken, the state carried on."""

    model: FitModel
    opt: torch.optim.Optimizer
    series_cfg: SeriesConfig
    train_cfg: ForecastTrainConfig
    batch_size: int
    total: int  # optimizer steps in all
    bar: Any  # the progress bar, one tick per step
    step: int = 0
    state: State | None = None  # carried from batch to batch with `carry_state`


def _fit_batch(loop: _Loop, x: Tensor, y: Tensor, known: Tensor | None) -> float:
    """One optimizer step on a batch of windows `x (b, T, I)`; returns its loss."""
    t0 = time.perf_counter()
    mean, scale, new_state = loop.model(x, loop.state)  # (b, S, C) or (b, T, I)
    loss = _loss(mean, scale, y, known)
    cfg = loop.train_cfg
    factor = lr_factor(cfg.schedule, loop.step, loop.total, cfg.warmup_steps)
    set_lr(loop.opt, cfg.lr, factor)
    loop.opt.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(loop.model.parameters(), cfg.clip)
    loop.opt.step()
    # As the PyTorch sine tutorial: carried, detached; a short last batch carries nothing (its
    # rows are not the next batch's).
    full = len(x) == loop.batch_size
    loop.state = detach(new_state) if loop.series_cfg.carry_state and full else None
    loop.step += 1
    loop.bar.update(1)
    value = loss.item()
    step_done(time.perf_counter() - t0, len(x))  # adaptive threads (train.threads = 0)
    return value


def _fit_epoch(loop: _Loop, windows: _Windows, order: Tensor) -> float:
    """One pass over the windows in `order`, ending early at the last step; the mean loss."""
    x, y, known = windows
    bs = loop.batch_size
    loss_sum, count = 0.0, 0
    for start in range(0, len(order), bs):
        if loop.step >= loop.total:
            break
        idx = order[start : start + bs]
        if loop.state is not None and (not loop.series_cfg.carry_state or len(idx) != bs):
            loop.state = None
        loss = _fit_batch(loop, x[idx], y[idx], None if known is None else known[idx])
        loss_sum += loss * len(idx)
        count += len(idx)
    return loss_sum / max(count, 1)


def train_model(
    model: FitModel,
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
    windows, (xv, yv, mv) = _as_tensors(train, val, device)
    n = len(windows[0])
    bs = min(series_cfg.batch_size, n)
    total = _total_steps(train_cfg, -(-n // bs))
    opt = build_optimizer(
        model.parameters(), train_cfg.optimizer, train_cfg.lr, train_cfg.weight_decay
    )
    lr_factor(train_cfg.schedule, 0, total, train_cfg.warmup_steps)  # an unknown one fails here
    history: list[dict[str, float]] = []
    best = (float("inf"), 0, copy.deepcopy(model.state_dict()))
    epoch, stale, elapsed = 0, 0, 0.0
    bar = progress(range(total), total=total, desc="fit", quiet=quiet)
    loop = _Loop(model, opt, series_cfg, train_cfg, bs, total, bar)
    model.train()
    while loop.step < total:
        epoch += 1
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(device)
        train_loss = _fit_epoch(loop, windows, order)
        elapsed += time.perf_counter() - t0
        val_mse = _val_mse(model, xv, yv, mv)
        history.append(
            {"epoch": epoch, "step": loop.step, "train_loss": train_loss, "val_mse": val_mse}
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
        "steps": loop.step,
        "elapsed_s": elapsed,
    }


__all__ = ["train_model"]
