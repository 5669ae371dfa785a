"""The classification fit loop, over the shared training pieces (`rnnkit.training.optim`).

`fit` trains a `SequenceClassifierNet` on the training part's mini-batches (shuffled by
its own seeded generator), with the optimizer, warm-up and a cosine schedule that follows
the time budget (`lr_factor`'s `time_fraction`), gradient clipping and, for imbalanced
labels, class weights in the loss. After every epoch it scores the validation part (carved
from the training data; the test part never reaches this module) and keeps the best
parameters: the highest validation accuracy, ties broken by the lower validation loss.
It stops at the first of: the time budget, `max_epochs`, a plateau, or a Ctrl-C
(`interrupt.hit`); `FitResult.stop_reason` says which. A plateau is `patience` epochs
without a lower validation loss; the fit then anneals, its learning rate falling linearly to
0 over `patience` more epochs (still selecting), and stops: a run that plateaus early in a
long budget would otherwise stop at its peak learning rate, never annealed (the cosine
schedule follows the budget). Given the `FitResult` of a stopped fit (`start`), `fit`
continues it: the same optimizer state, shuffling generator, clock, best parameters,
patience count and annealing.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.classify.model import SequenceClassifierNet, pad_batch
from rnnkit.config.tables import ClassifyTrainConfig
from rnnkit.errors import NumericalError
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor, set_lr
from rnnkit.training.threads import step_done

IMBALANCE = 1.5  # class_weights "auto": balanced when the largest class is this much larger
EVAL_BATCH = 512


@dataclass
class Part:
    """One part of the data on the device, zero-padded once.

    Shape:
        x: (N, T_max) token ids or (N, T_max, C) values. lengths: (N,). y: (N,) classes.
    """

    x: Tensor
    lengths: Tensor
    y: Tensor

    @classmethod
    def of(cls, arrays: list[np.ndarray], y: np.ndarray, device: torch.device) -> Part:
        """Pad `arrays` (each `(T_i,)` or `(T_i, C)`) and move them and `y` to `device`."""
        x, lengths = pad_batch(arrays)
        return cls(
            torch.as_tensor(x, device=device),
            torch.as_tensor(lengths, device=device),
            torch.as_tensor(y, dtype=torch.int64, device=device),
        )

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The rows `idx`, trimmed to their longest sequence: `(x, lengths, y)`."""
        lengths = self.lengths[idx]
        steps = int(lengths.max())
        return self.x[idx, :steps], lengths, self.y[idx]


@dataclass
class FitResult:
    """What `fit` returns: one dict per epoch (`epoch`, `step`, `train_loss`, `val_loss`,
    `val_accuracy`, `lr`, `elapsed_s`, and `tokens` and `train_s`: the steps of the
    sequences trained on and the seconds of the training steps), the best and last
    parameters, and how it ended."""

    history: list[dict[str, float]]
    best_state: dict[str, Tensor]
    last_state: dict[str, Tensor]
    best_epoch: int
    steps: int
    elapsed_s: float
    stop_reason: str
    optimizer: dict[str, Any] = field(default_factory=dict)
    generator: Tensor | None = None  # the shuffling generator's state after the last epoch

    def best_key(self) -> tuple[float, float]:
        """The best epoch's selection key: (validation accuracy, minus validation loss)."""
        if not self.history:
            return (-math.inf, -math.inf)
        row = self.history[self.best_epoch - 1]
        return (row["val_accuracy"], -row["val_loss"])

    def plateau(self, patience: int) -> tuple[float, int, int | None]:
        """The lowest validation loss so far, the epochs since it, and the step after the
        first epoch that ended `patience` epochs without a lower one (None: none did)."""
        lowest, stale, at = math.inf, 0, None
        for row in self.history:
            stale = 0 if row["val_loss"] < lowest else stale + 1
            lowest = min(lowest, row["val_loss"])
            if at is None and patience and stale >= patience:
                at = int(row["step"])
        return lowest, stale, at

    def tokens_per_s(self) -> float:
        """Training speed: sequence steps per second of training steps (0 if not recorded)."""
        seconds = sum(row.get("train_s", 0.0) for row in self.history)
        tokens = sum(row.get("tokens", 0) for row in self.history)
        return tokens / seconds if seconds > 0 else 0.0


def class_weights(y: np.ndarray, num_classes: int, mode: str) -> np.ndarray | None:
    """Per-class loss weights `(K,)`: `balanced` gives `N / (K * n_c)` (a missing class 0);
    `auto` does so when the largest class is over `IMBALANCE` times the smallest; `none`
    gives None."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    present = counts[counts > 0]
    if mode == "none" or (mode == "auto" and present.max() <= IMBALANCE * present.min()):
        return None
    weights = np.where(counts > 0, len(y) / (len(present) * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def evaluate(
    model: SequenceClassifierNet, part: Part, weight: Tensor | None = None
) -> tuple[Tensor, float]:
    """Class probabilities of every row and the mean (weighted) cross-entropy, in eval mode.

    Shape:
        returns probabilities (N, K) on the part's device and the loss.
    """
    was_training = model.training
    model.eval()
    order = torch.argsort(part.lengths.cpu(), stable=True).to(part.lengths.device)
    logits = []
    with torch.no_grad():
        for start in range(0, len(part), EVAL_BATCH):
            x, lengths, _ = part.batch(order[start : start + EVAL_BATCH])
            logits.append(model(x, lengths))
    model.train(was_training)
    out = torch.empty_like(torch.cat(logits))
    out[order] = torch.cat(logits)  # (N, K) back in the part's order
    loss = float(F.cross_entropy(out, part.y, weight=weight)) if len(part.y) else math.nan
    return out.softmax(-1), loss


@dataclass
class _Clock:
    """The fit's time and step counters and its limits."""

    budget: float
    total_steps: int
    anneal_steps: int = 0  # steps of the annealing after a plateau
    anneal_at: int | None = None  # the step the annealing started at (None: no plateau yet)
    start: float = field(default_factory=time.perf_counter)
    step: int = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def fraction(self) -> float:
        return self.elapsed / self.budget if self.budget > 0 else 0.0

    def lr_factor(self, warmup_steps: int) -> float:
        """The cosine schedule's factor now, by steps or time, whichever is further along,
        times the annealing's linear fall after a plateau."""
        factor = lr_factor("cosine", self.step, self.total_steps, warmup_steps, self.fraction())
        if self.anneal_at is None:
            return factor
        return factor * max(0.0, 1.0 - (self.step - self.anneal_at) / max(self.anneal_steps, 1))

    def annealed(self) -> bool:
        """Whether the annealing after a plateau has run its course."""
        return self.anneal_at is not None and self.step >= self.anneal_at + self.anneal_steps

    def out_of_time(self) -> bool:
        return self.budget > 0 and self.elapsed >= self.budget


def _train_epoch(
    model: SequenceClassifierNet,
    opt: torch.optim.Optimizer,
    part: Part,
    order: Tensor,
    s: ClassifyTrainConfig,
    weight: Tensor | None,
    clock: _Clock,
    stop: Callable[[], bool],
) -> tuple[float, int]:
    """One pass over `part` in `order`; returns the mean training loss and the tokens read
    (the steps of every sequence trained on). Stops early (between steps) when the budget
    is spent or `stop()` says so."""
    total, count = torch.zeros((), device=part.y.device), 0
    tokens = torch.zeros((), dtype=torch.int64, device=part.y.device)
    for start in range(0, len(order), s.batch_size):
        t0 = time.perf_counter()
        x, lengths, y = part.batch(order[start : start + s.batch_size])
        tokens += lengths.sum()
        loss = F.cross_entropy(model(x, lengths), y, weight=weight)
        set_lr(opt, s.lr, clock.lr_factor(s.warmup_steps))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), s.clip)
        opt.step()
        total += loss.detach() * len(y)
        count += len(y)
        clock.step += 1
        step_done(time.perf_counter() - t0, len(y))  # adaptive threads (train.threads = 0)
        if clock.out_of_time() or clock.annealed() or stop():
            break
    mean = float(total) / max(count, 1)
    if not math.isfinite(mean):
        raise NumericalError(
            f"the training loss became {mean} at step {clock.step}; lower lr or raise clip"
        )
    return mean, int(tokens)


def _why_stopped(s: ClassifyTrainConfig, epoch: int, clock: _Clock, fresh: bool) -> str:
    """Why the fit stops before epoch `epoch + 1` ("" = it goes on; a fresh fit always
    runs one epoch)."""
    if fresh and epoch == 0:
        return ""
    if clock.out_of_time():
        return "time budget"
    if clock.annealed():
        return f"plateau ({s.patience} epochs without a lower validation loss, then annealed)"
    if s.max_epochs > 0 and epoch >= s.max_epochs:
        return "max epochs"
    return ""


def _start(
    model: SequenceClassifierNet, opt: torch.optim.Optimizer, start: FitResult | None
) -> tuple[list[dict[str, float]], dict[str, Tensor], int]:
    """The history, best parameters and best epoch to go on from: `start`'s (its last
    parameters and optimizer state loaded into `model` and `opt`), or a fresh fit's."""
    if start is None:
        return [], copy.deepcopy(model.state_dict()), 0
    model.load_state_dict(start.last_state)
    if start.optimizer:
        opt.load_state_dict(start.optimizer)
    return list(start.history), copy.deepcopy(start.best_state), start.best_epoch


def fit(
    model: SequenceClassifierNet,
    train: Part,
    val: Part,
    s: ClassifyTrainConfig,
    weight: Tensor | None = None,
    stop: Callable[[], bool] = lambda: False,
    on_epoch: Callable[[dict[str, float]], None] = lambda row: None,
    start: FitResult | None = None,
) -> FitResult:
    """Train `model` on `train`, select on `val` (see the module docstring).

    Args:
        model: a fresh network on the parts' device.
        train, val: the training and validation parts.
        s: batch size, optimizer, lr, weight decay, clip, warm-up, time budget,
            max_epochs, patience and seed (of the shuffling generator).
        weight: class weights `(K,)` for the loss, or None.
        stop: polled after every step (Ctrl-C); true ends the fit as "interrupted".
        on_epoch: called with each epoch's history row.
        start: a stopped fit of the same model to continue (resume), or None.
    """
    gen = torch.Generator().manual_seed(s.seed)
    opt = build_optimizer(model.parameters(), s.optimizer, s.lr, s.weight_decay)
    per_epoch = -(-len(train) // s.batch_size)
    clock = _Clock(s.time_budget, s.max_epochs * per_epoch, s.patience * per_epoch)
    history, best_state, best_epoch = _start(model, opt, start)
    best_key = start.best_key() if start else (-math.inf, math.inf)
    lowest, stale, clock.anneal_at = start.plateau(s.patience) if start else (math.inf, 0, None)
    if start is not None:
        clock.start -= start.elapsed_s
        clock.step = start.steps
        if start.generator is not None:
            gen.set_state(start.generator)
    epoch = len(history)
    model.train()
    while not (reason := _why_stopped(s, epoch, clock, start is None)):
        epoch += 1
        order = torch.randperm(len(train), generator=gen).to(train.y.device)
        began = time.perf_counter()
        train_loss, tokens = _train_epoch(model, opt, train, order, s, weight, clock, stop)
        train_s = time.perf_counter() - began
        probs, val_loss = evaluate(model, val, weight)
        val_acc = float((probs.argmax(-1) == val.y).float().mean())
        row = {
            "epoch": epoch,
            "step": clock.step,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "lr": opt.param_groups[0]["lr"],
            "elapsed_s": round(clock.elapsed, 3),
            "tokens": tokens,
            "train_s": round(train_s, 4),
        }
        history.append(row)
        on_epoch(row)
        if (val_acc, -val_loss) > best_key:
            best_key, best_epoch = (val_acc, -val_loss), epoch
            best_state = copy.deepcopy(model.state_dict())
        stale = 0 if val_loss < lowest else stale + 1
        lowest = min(lowest, val_loss)
        if clock.anneal_at is None and s.patience and stale >= s.patience:
            clock.anneal_at = clock.step  # a plateau: anneal, then stop
        if stop():
            reason = "interrupted"
            break
    return FitResult(
        history=history,
        best_state=best_state,
        last_state=copy.deepcopy(model.state_dict()),
        best_epoch=best_epoch,
        steps=clock.step,
        elapsed_s=clock.elapsed,
        stop_reason=reason,
        optimizer=opt.state_dict(),
        generator=gen.get_state(),
    )
