"""Fixtures shared across the test packages: a tiny corpus, a tiny LM config, a tiny series.

Each is small enough that a model trains on it in about a second on one thread.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnnkit.config import ClassifyConfig, DataConfig, RunConfig, apply_overrides, update
from rnnkit.text.tokenize import WHITESPACE_REGEX

TINY_TEXT = (
    "the time traveller (for so it will be convenient to speak of him) was expounding a "
    "recondite matter to us. his grey eyes shone and twinkled, and his usually pale face "
    "was flushed and animated. the fire burned brightly, and the soft radiance of the "
    "incandescent lights in the lilies of silver caught the bubbles that flashed and "
    "passed in our glasses.\n"
) * 12

# A GRU language model that trains on TINY_TEXT in about a second on one thread.
TINY_LM_SETTINGS = (
    "data.batch_size=4",
    "data.num_steps=16",
    "model.kind=gru",
    "model.hidden_size=24",
    "model.embedding_dim=8",
    "model.dropout=0.2",
    "train.epochs=2",
    "train.optimizer=adam",
    "train.lr=0.01",
    "train.threads=1",
    "generate.length=10",
    "generate.prefixes=['the ']",
)


# Code for a `python -c` subprocess: importing torch (or any torch.*) fails, and at exit the
# interpreter prints `TORCH <torch in sys.modules> <an import was tried>`.
BLOCK_TORCH = """
import sys
class _NoTorch:
    tried = False
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            _NoTorch.tried = True
            raise ImportError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, _NoTorch())
import atexit
atexit.register(lambda: print("TORCH", "torch" in sys.modules, _NoTorch.tried, flush=True))
"""


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    """Every test starts from the same global random state (Python, NumPy, torch)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def data_table(source: str | Path, **keys: Any) -> DataConfig:
    """The `[data]` table `load_corpus` / `prepare` read, with `source` and `keys` set and
    the defaults their keyword arguments had: words split at whitespace with line breaks
    dropped, every token kept (`vocab = "all"`)."""
    legacy = {"word_regex": WHITESPACE_REGEX, "newlines": "drop", "vocab": "all"}
    return DataConfig(source=str(source), **(legacy | keys))


def tiny_lm_config(folder: Path, *overrides: str, text: str = TINY_TEXT) -> RunConfig:
    """A tiny LM config whose corpus is `text` written to `folder/tiny.txt`; `overrides`
    are `--set` strings applied last."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "tiny.txt"
    source.write_text(text, encoding="utf-8")
    cfg = RunConfig()
    apply_overrides(cfg, [f"data.source={source}", *TINY_LM_SETTINGS, *overrides])
    return cfg


@pytest.fixture
def tiny_lm(tmp_path: Path) -> Callable[..., RunConfig]:
    """Factory of tiny LM configs in this test's folder (see `tiny_lm_config`)."""
    return lambda *overrides: tiny_lm_config(tmp_path, *overrides)


def wave_values(n: int = 80, channels: int = 1) -> np.ndarray:
    """A gently trending sine, `(n, channels)`: the tiny series of the forecasting tests."""
    t = np.arange(n)
    return np.stack([np.sin(t / 3 + c) + 0.02 * t for c in range(channels)], axis=1)


# --- classification: tiny .ts files and a run of about a second ---------------------------

TS_HEADER = """# a tiny problem
@problemName Tiny
@timeStamps false
@missing true
@univariate {univariate}
@dimensions {dims}
@equalLength {equal}
@classLabel true up down
@data
"""


def _series(rng: np.random.Generator, label: str, steps: int, dims: int) -> str:
    trend = np.linspace(0, 1, steps) * (1 if label == "up" else -1)
    parts = []
    for _ in range(dims):
        values = trend + 0.1 * rng.normal(size=steps)
        parts.append(",".join(f"{v:.4f}" for v in values))
    return ":".join(parts) + f":{label}"


def write_ts(path: Path, n: int, dims: int = 1, equal: bool = True, seed: int = 0) -> Path:
    """A `.ts` file of `n` rising ("up") and falling ("down") series, one missing value."""
    rng = np.random.default_rng(seed)
    header = TS_HEADER.format(
        univariate=str(dims == 1).lower(), dims=dims, equal=str(equal).lower()
    )
    lines = []
    for i in range(n):
        steps = 12 if equal else int(rng.integers(6, 16))
        lines.append(_series(rng, "up" if i % 2 else "down", steps, dims))
    lines[0] = lines[0].replace(",", ",?,", 1) if not equal else lines[0]
    first = lines[1].split(",")
    first[2] = "?"
    lines[1] = ",".join(first)
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_config(**tables: dict[str, object]) -> ClassifyConfig:
    """A classification of about a second: a small GRU, a few epochs, one thread, no
    references, recipe fixed; `tables` (e.g. `train={"seeds": 2}`) change keys."""
    base: dict[str, dict[str, object]] = {
        "data": {"references": "none"},
        "model": {"hidden_size": 8, "embed_size": 4},
        "train": {"time_budget": 0.0, "max_epochs": 4, "threads": 1, "batch_size": 8},
    }
    for name, values in tables.items():
        base[name] = {**base.get(name, {}), **values}
    cfg = update(ClassifyConfig(), base)
    cfg.recipe = "fixed"
    return cfg


def chromium() -> str | None:
    """The headless browser the browser tests drive: `$RNNKIT_CHROMIUM`, else the first
    Chromium or Chrome on the PATH; None when there is none (the tests skip)."""
    given = os.environ.get("RNNKIT_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None
