"""The process a training loop runs in: seeding, device, threads, progress bars and Ctrl-C.

Nothing here knows about language models or series.
"""

from __future__ import annotations

import random
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rnnkit.errors import ConfigError

T = TypeVar("T")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global generators (model init and dropout draw from it)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is visible; use device cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs natively on `device`: always on CUDA; on a CPU only with
    AVX-512 BF16 or AMX, without which oneDNN refuses a bf16 LSTM (and bf16 would be slower
    than fp32 anyway)."""
    if device.type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def set_threads(threads: int) -> int:
    """Set torch's intra-op thread count (0 keeps torch's default); returns the count in use."""
    if threads < 0:
        raise ConfigError(f"threads must be >= 0 (0 = torch default), got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@contextmanager
def global_rng_kept(device: torch.device) -> Iterator[None]:
    """A scope to seed and draw in: the global torch (CPU, and every GPU when `device` is
    CUDA), Python and NumPy generators come back as they were on leaving it."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    gpus = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=gpus):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextmanager
def threads_kept() -> Iterator[None]:
    """A scope to change torch's intra-op thread count in: it comes back on leaving."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def progress(iterable: Iterable[T] | None, total: int | None, desc: str, quiet: bool) -> tqdm:
    """A tqdm bar on stderr, off when `quiet` or when stderr is not a terminal."""
    disable = quiet or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, file=sys.stderr)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Interrupt:
    """Turns the first Ctrl-C into a flag (`hit`) a training loop checks after each step.

    A context manager: entering installs the SIGINT handler, leaving restores the one that
    was there before. A second Ctrl-C raises `KeyboardInterrupt` at once. Outside the main
    thread, where signal handlers cannot be installed, Ctrl-C is left alone.
    """

    def __init__(self) -> None:
        self.hit = False
        self._old: Any = None
        self._installed = False

    def __enter__(self) -> Interrupt:
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        except ValueError:  # not in the main thread: leave Ctrl-C alone
            self._installed = False
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.hit:  # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> None:
        if self._installed:  # None: the old handler was not set from Python; use the default
            signal.signal(signal.SIGINT, signal.SIG_DFL if self._old is None else self._old)
            self._installed = False
