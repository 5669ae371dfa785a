"""Leaf helpers of the training loops: clipping, LR schedules, optimizers, devices."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.training.environment import resolve_device
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor, set_lr


def test_clipping_really_applies() -> None:
    layer = nn.Linear(4, 4)
    layer(torch.ones(2, 4)).sum().mul(100).backward()
    norm_before = clip_gradients(layer.parameters(), 0.01)
    after = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in layer.parameters()]))
    assert norm_before > 1.0
    assert after == pytest.approx(0.01, rel=1e-4)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 100.0, float("nan")])
def test_clipping_leaves_the_gradients_of_clip_grad_norm_to_the_bit(scale: float) -> None:
    # On the CPU the scaling is skipped when its factor is 1: the gradients must not differ.
    grads = []
    for clip in (clip_gradients, nn.utils.clip_grad_norm_):
        torch.manual_seed(0)
        layer = nn.Linear(8, 3)
        layer(torch.randn(5, 8)).sum().mul(1.0 if math.isnan(scale) else scale).backward()
        if math.isnan(scale):  # one NaN entry: clipping spreads it to every gradient
            layer.weight.grad[0, 0] = scale
        norm = clip(layer.parameters(), 1.0)
        grads.append((norm, [p.grad.clone() for p in layer.parameters()]))
    (ours, mine), (theirs, reference) = grads
    if math.isnan(scale):  # NaN gradients: every entry NaN after clipping, as torch leaves
        assert ours.isnan() and theirs.isnan()
        assert all(g.isnan().all() for g in [*mine, *reference])
        return
    assert torch.equal(ours, theirs)
    assert all(torch.equal(a, b) for a, b in zip(mine, reference, strict=True))


def test_schedules_warm_up_then_decay() -> None:
    assert lr_factor("constant", 5, 100) == 1.0
    assert lr_factor("cosine", 0, 100, warmup_steps=10) == pytest.approx(0.1)
    assert lr_factor("cosine", 10, 110, warmup_steps=10) == pytest.approx(1.0)
    assert lr_factor("cosine", 110, 110, warmup_steps=10) == pytest.approx(0.0, abs=1e-9)
    assert lr_factor("step", 80, 100) == pytest.approx(0.01)
    with pytest.raises(RnnkitError, match="unknown schedule 'linear'"):
        lr_factor("linear", 0, 10)


@pytest.mark.parametrize(("schedule", "warmup"), [("cosine", 0), ("cosine", 7), ("step", 3)])
def test_set_lr_gives_the_rates_of_lambda_lr_to_the_bit(schedule: str, warmup: int) -> None:
    total, base = 50, 3e-3
    ours = build_optimizer(nn.Linear(2, 2).parameters(), "adam", base)
    theirs = build_optimizer(nn.Linear(2, 2).parameters(), "adam", base)
    sched = torch.optim.lr_scheduler.LambdaLR(
        theirs, lambda step: lr_factor(schedule, step, total, warmup)
    )
    for step in range(total):
        set_lr(ours, base, lr_factor(schedule, step, total, warmup))  # before the step
        assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"]
        theirs.step()
        sched.step()


def test_optimizer_and_device_errors() -> None:
    with pytest.raises(RnnkitError, match="choose one of sgd, adam, adamw"):
        build_optimizer(nn.Linear(1, 1).parameters(), "rmsprop", 0.1)
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RnnkitError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_uses_the_fused_kernel_and_steps_like_the_plain_one(name: str) -> None:
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    fused = build_optimizer(a.parameters(), name, 1e-2, weight_decay=0.1)
    plain = type(fused)(b.parameters(), lr=1e-2, weight_decay=0.1)
    assert fused.defaults["fused"] is True
    assert not plain.defaults["fused"]
    x = torch.randn(8, 5)
    for _ in range(3):
        for model, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
