"""Threads that fit the machine as it is: `threads = 0` means adaptive.

A training loop asks for a `ThreadTuner` (`tuner_for`) and reports each step's seconds to it
(`ThreadTuner.step_done`). The tuner starts from the usable cores (`usable_cores`, shared out
among the processes of a torchrun run on this machine) and, every few seconds of training,
measures the step rate at the current count against one more or one fewer thread, keeping a
change only when it is at least `GAIN` faster. A kept count is tried again after a wait that
doubles up to `MAX_WAIT_S`; a rate that moves by more than `SHIFT` (another process started or
stopped) starts a new comparison at once. `threads = N > 0` is fixed: no tuner, no changes, so
seeded runs with a fixed count stay bit-identical; adaptive runs may differ across machines.

Measured on a 2-core AMD EPYC (torch 2.13.0+cpu, issue 30): the Time Machine preset ran 18,784
tokens/s at 2 threads and 15,709 at 1 alone, but 6,792 at 2 and 14,421 at 1 beside one busy
process, so no fixed count is right in both situations.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from rnnkit.training.environment import threads_kept

GAIN = 0.05  # a trial count is kept when its rate is at least this much higher
SHIFT = 0.2  # a rate that moves this much from its reference starts a new comparison
BASE_S = 1.5  # seconds of steps measured at the current count before a trial
TRIAL_S = 0.75  # seconds of steps measured at the trial count
FIRST_WAIT_S = 4.0  # seconds between the first comparisons
MAX_WAIT_S = 32.0  # the longest wait between two comparisons
WINDOW_S = 1.0  # the rate is watched in windows of this many seconds


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), shared out among the
    processes a torchrun run starts on this machine (`LOCAL_WORLD_SIZE`)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cores // max(local, 1))


class _Window:
    """Step seconds and work accumulated until `seconds` of steps were seen."""

    def __init__(self, seconds: float) -> None:
        self.target, self.seconds, self.work = seconds, 0.0, 0.0

    def add(self, seconds: float, work: float) -> float | None:
        """Add one step; returns the window's rate (work per second) once it is full."""
        self.seconds += seconds
        self.work += work
        if self.seconds < self.target:
            return None
        return self.work / self.seconds


class ThreadTuner:
    """Adapts torch's intra-op thread count to the step rate while a loop trains.

    Phases: `base` measures the current count, `trial` one neighbour (more threads, or
    fewer when the count is at the top), `hold` runs at the kept count, watching the rate.
    The first step after a change is not counted (it rebuilds kernels for the new count).
    """

    def __init__(self, top: int, start: int | None = None) -> None:
        self.top = max(1, top)
        self.count = min(start or self.top, self.top)
        self.wait = FIRST_WAIT_S
        self.reference = 0.0  # the rate the kept count ran at
        self.phase, self.window = "base", _Window(BASE_S)
        self.skip = 1  # steps not counted after a change
        self.held = 0.0  # seconds of steps since the hold began
        self.last_trial = -1  # the direction tried last (+1 or -1)
        self.changes = 0
        self.probed = False
        torch.set_num_threads(self.count)

    def candidates(self) -> list[int]:
        """The counts worth measuring before a run starts: all usable cores and half."""
        return sorted({self.top, max(1, self.top // 2)}, reverse=True)

    def start_at(self, count: int) -> None:
        """Start from `count` (a speed probe found it best) and measure it afresh."""
        self.count = min(max(1, count), self.top)
        self.probed = True  # the first comparison is the probe's: no trial after the base
        self._begin("base", BASE_S, self.count)

    def step_done(self, seconds: float, work: float = 1.0) -> None:
        """Report one step: its seconds and its work (tokens, windows, or 1)."""
        if self.top == 1:
            return
        if self.skip:
            self.skip -= 1
            return
        rate = self.window.add(seconds, work)
        if self.phase == "hold":
            self.held += seconds
        if rate is not None:
            self._full(rate)

    def _full(self, rate: float) -> None:
        """A measuring window is full: move to the next phase."""
        if self.phase == "base":
            self.reference = rate
            if self.probed:
                self.probed = False
                self._hold()
            else:
                self._start_trial()
        elif self.phase == "trial":
            if rate >= (1 + GAIN) * self.reference:
                self.count, self.reference, self.wait = self.trial, rate, FIRST_WAIT_S
                self.changes += 1
            else:
                self.wait = min(2 * self.wait, MAX_WAIT_S)
            self._hold()
        elif abs(rate / self.reference - 1) > SHIFT:  # the machine changed: look again soon
            self.wait = FIRST_WAIT_S
            self._begin("base", BASE_S, self.count)
        elif self.held >= self.wait:
            self._begin("base", BASE_S, self.count)
        else:
            self.window = _Window(WINDOW_S)

    def _start_trial(self) -> None:
        """Try one more thread or one fewer, alternating where both are possible."""
        up, down = self.count + 1 <= self.top, self.count - 1 >= 1
        direction = 1 if up and (not down or self.last_trial != 1) else -1
        self.last_trial = direction
        self.trial = self.count + direction
        self._begin("trial", TRIAL_S, self.trial)

    def _hold(self) -> None:
        """Run at the kept count and watch its rate."""
        self.held = 0.0
        self._begin("hold", WINDOW_S, self.count)

    def _begin(self, phase: str, seconds: float, count: int) -> None:
        self.phase, self.window = phase, _Window(seconds)
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
            self.skip = 1


class FixedThreads:
    """`threads = N > 0`: the count is set once and kept; steps are not watched."""

    def __init__(self, count: int) -> None:
        self.count = count
        torch.set_num_threads(count)

    def candidates(self) -> list[int]:
        """Only the fixed count."""
        return [self.count]

    def start_at(self, count: int) -> None:
        """The count stays fixed."""

    def step_done(self, seconds: float, work: float = 1.0) -> None:
        """Nothing to adapt."""


def tuner_for(threads: int, start: int | None = None) -> ThreadTuner | FixedThreads:
    """A tuner for a loop: `threads = 0` adapts (from `start`, else the usable cores),
    `threads = N > 0` is fixed at N."""
    if threads > 0:
        return FixedThreads(threads)
    return ThreadTuner(usable_cores(), start)


_active: list[ThreadTuner | FixedThreads] = []  # the tuners of the open `tuned_threads` scopes
_settled: dict[int, int] = {}  # usable cores -> the count the last adaptive scope ended at


@contextmanager
def tuned_threads(threads: int) -> Iterator[ThreadTuner | FixedThreads]:
    """A scope whose loops report their steps with `step_done`: `threads = 0` adapts, from
    the count an earlier scope of this process settled on (a forecast fits many small
    models in a row), `threads = N > 0` is fixed. torch's count comes back on leaving."""
    top = usable_cores()
    with threads_kept():
        tuner = tuner_for(threads, _settled.get(top))
        _active.append(tuner)
        try:
            yield tuner
        finally:
            _active.pop()
            if isinstance(tuner, ThreadTuner):
                _settled[top] = tuner.count


def step_done(seconds: float, work: float = 1.0) -> None:
    """Report a training step to the innermost `tuned_threads` scope (none: nothing)."""
    if _active:
        _active[-1].step_done(seconds, work)
