"""Issue 30: adaptive threads keep a count only when it is faster, and look again when the
machine changes."""

from __future__ import annotations

import pytest
import torch

from rnnkit.training import threads as th
from rnnkit.training.environment import threads_kept
from rnnkit.training.threads import FixedThreads, ThreadTuner, tuner_for, usable_cores


def feed(tuner: ThreadTuner, speed: dict[int, float], seconds: float) -> None:
    """Steps of 0.05 s of step time whose work is the speed of the count in use."""
    for _ in range(int(seconds / 0.05)):
        tuner.step_done(0.05, 0.05 * speed[torch.get_num_threads()])


def test_the_tuner_moves_to_the_faster_count_and_back_when_the_machine_changes() -> None:
    with threads_kept():
        tuner = ThreadTuner(2)
        assert torch.get_num_threads() == 2
        alone = {2: 100.0, 1: 84.0}
        feed(tuner, alone, 30)
        assert tuner.count == 2 and torch.get_num_threads() == 2  # 1 was tried, not kept
        busy = {2: 36.0, 1: 77.0}  # another process started: 2 threads collapse
        feed(tuner, busy, 6)
        assert tuner.count == 1 and torch.get_num_threads() == 1
        feed(tuner, alone, th.MAX_WAIT_S + 8)  # it stopped: 2 is worth trying again
        assert tuner.count == 2


def test_a_trial_within_the_gain_is_not_kept() -> None:
    with threads_kept():
        tuner = ThreadTuner(2, start=1)
        feed(tuner, {1: 100.0, 2: 100.0 * (1 + th.GAIN / 2)}, 40)
        assert tuner.count == 1 and tuner.changes == 0


def test_fixed_threads_never_change_and_zero_means_adaptive() -> None:
    with threads_kept():
        fixed = tuner_for(1)
        assert isinstance(fixed, FixedThreads) and torch.get_num_threads() == 1
        fixed.start_at(2)
        fixed.step_done(10.0, 1.0)
        assert torch.get_num_threads() == 1
        adaptive = tuner_for(0)
        assert isinstance(adaptive, ThreadTuner) and adaptive.top == usable_cores()


def test_torchrun_processes_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(th.os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert usable_cores() == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert usable_cores() == 1
