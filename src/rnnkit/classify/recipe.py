"""The automatic recipe of a classifier: core, width, depth, pooling, patching, dropout,
batch size, learning rate and patience, from the training part's shape and the budget.

`choose(stats, budget)` is a pure function (nothing is measured, so every run and every
rank make the same choice); `apply_recipe` writes the choice into a `recipe = "auto"`
config for the keys the user did not pin (`pinned`), sets `recipe = "fixed"` and puts its
one-line reason in `recipe_note`. The rule:

1. **Input.** Text reads its tokens through a 64-wide embedding; numeric
   series longer than `MAX_STEPS` steps are read in patches of `ceil(median / MAX_STEPS)`
   steps, so the core runs at most about `MAX_STEPS` steps (a 150-step series: 38).
2. **Core.** A bidirectional GRU, one layer, the `fused` implementation on a CPU (the same
   function as `torch`'s, 1.7-3.0x as fast on the series of the panel, 1.06x on a 128-wide
   text model: benchmarks/classify_cores.py; `torch` on CUDA), pooled over
   time by `max` when each step is a vector (tokens, several channels, or patches: a
   feature found anywhere counts), by `mean` when each step is one number
   (cross-validation inside the training files: `max` won on digits, GunPoint and
   JapaneseVowels, tied on BasicMotions, and lost on the 24 single values of
   ItalyPowerDemand; `attention` lost to both on digits, GunPoint and ItalyPowerDemand at
   the same 40 epochs, so it is never chosen);
   64 wide below `WIDE_FROM` training sequences, else 128; halved (down to 32) while the
   budget would give it fewer than `min_epochs(n)` epochs (`MIN_EPOCHS`, fewer for large
   parts: at least `MIN_SAMPLES` sequences seen, and 3 epochs), the speed estimated from
   its multiply-adds at `MACS_PER_SECOND` times the implementation's `IMPL_SPEED`.
3. **Optimisation.** AdamW at 3e-3 with weight decay 1e-4; batches of about a twentieth
   of the training part, a power of two in [8, 64]; dropout 0.2 below `WIDE_FROM`
   sequences, else 0.1; patience of about `PATIENCE_STEPS` optimizer steps, in epochs,
   within [20, 400].
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.classify.data import Kind, Sequences
from rnnkit.config.resolve import set_key
from rnnkit.config.tables import ClassifyConfig
from rnnkit.training.environment import resolve_device

MAX_STEPS = 40  # numeric series: patches keep the core's steps about this short
WIDE_FROM = 1000  # training sequences from which the core is 128 wide
MIN_EPOCHS = 10  # the budget should allow at least this many epochs
MIN_SAMPLES = 300_000  # ... or this many sequences seen, when that takes fewer epochs
MACS_PER_SECOND = 2e9  # training multiply-adds per second of a small torch GRU on a CPU
# The speed of each implementation relative to torch's, on the low side of what
# benchmarks/classify_cores.py measured for bidirectional GRU classifiers (fused 1.06-3.0x,
# scratch 0.73-1.03x; 2 threads, AMD EPYC).
IMPL_SPEED = {"torch": 1.0, "fused": 1.8, "scratch": 0.6}
PATIENCE_STEPS = 600
DEFAULT_BUDGET = 120.0  # seconds assumed without a time budget
# The keys the recipe chooses under recipe "auto" (unless pinned).
RECIPE_KEYS = (
    "model.kind",
    "model.impl",
    "model.hidden_size",
    "model.num_layers",
    "model.bidirectional",
    "model.pooling",
    "model.dropout",
    "model.embed_size",
    "model.patch",
    "train.batch_size",
    "train.lr",
    "train.weight_decay",
    "train.patience",
)


@dataclass(frozen=True)
class DataStats:
    """The shape of a training part: `n` sequences of `kind`, median and longest length,
    `inputs` (channels, or the vocabulary's size for text) and `classes`."""

    n: int
    kind: Kind
    median_length: float
    max_length: int
    inputs: int
    classes: int

    @classmethod
    def of(cls, train: Sequences, inputs: int) -> DataStats:
        """The stats of the (encoded) training part; `inputs` from the encoder."""
        lengths = train.lengths()
        return cls(
            n=len(train),
            kind=train.kind,
            median_length=float(np.median(lengths)),
            max_length=int(lengths.max()),
            inputs=inputs,
            classes=len(train.label_names),
        )


@dataclass(frozen=True)
class Recipe:
    """The chosen values of `RECIPE_KEYS` and the line that says what and why."""

    values: dict[str, Any]
    line: str


def _batch_size(n: int) -> int:
    return int(min(max(2 ** round(math.log2(max(n / 20, 1))), 8), 64))


def _epoch_macs(stats: DataStats, hidden: int, patch: int, embed: int) -> float:
    """Training multiply-adds of one epoch of a one-layer bidirectional GRU (x 3 for the
    backward pass)."""
    width = embed if stats.kind == "text" else stats.inputs * patch
    steps = stats.median_length / patch
    per_step = 2 * 3 * hidden * (width + hidden)
    return 3.0 * stats.n * steps * per_step


def min_epochs(n: int) -> float:
    """The epochs a budget should allow a part of `n` sequences: `MIN_EPOCHS`, or fewer
    (down to 3) when `MIN_SAMPLES` sequences seen take fewer."""
    return max(3.0, min(float(MIN_EPOCHS), MIN_SAMPLES / max(n, 1)))


def choose(stats: DataStats, budget: float, impl: str = "fused") -> Recipe:
    """The recipe for a training part of `stats` and a budget of `budget` seconds (0 =
    `DEFAULT_BUDGET`), for the core implementation `impl` (its speed counts). Pure: the
    same inputs give the same recipe."""
    budget = budget if budget > 0 else DEFAULT_BUDGET
    text = stats.kind == "text"
    patch = 1 if text else max(1, math.ceil(stats.median_length / MAX_STEPS))
    embed = 64
    hidden = 128 if stats.n >= WIDE_FROM else 64
    rate = MACS_PER_SECOND * IMPL_SPEED.get(impl, 1.0)
    epochs = budget * rate / _epoch_macs(stats, hidden, patch, embed)
    while hidden > 32 and epochs < min_epochs(stats.n):
        hidden //= 2
        epochs = budget * rate / _epoch_macs(stats, hidden, patch, embed)
    batch = _batch_size(stats.n)
    per_epoch = math.ceil(stats.n / batch)
    values = {
        "model.kind": "gru",
        "model.impl": impl,
        "model.hidden_size": hidden,
        "model.num_layers": 1,
        "model.bidirectional": True,
        "model.pooling": "max" if text or stats.inputs * patch > 1 else "mean",
        "model.dropout": 0.2 if stats.n < WIDE_FROM else 0.1,
        "model.embed_size": embed,
        "model.patch": patch,
        "train.batch_size": batch,
        "train.lr": 3e-3,
        "train.weight_decay": 1e-4,
        "train.patience": int(min(max(math.ceil(PATIENCE_STEPS / per_epoch), 20), 400)),
    }
    what = "texts" if text else "series"
    shape = f"{stats.inputs} {'symbols' if text else 'channels'}"
    line = (
        f"recipe: {stats.n} {what} of median length {stats.median_length:g} x {shape}, "
        f"{budget:g} s -> bidirectional GRU 1 x {hidden} ({impl})"
        + (f", patches of {patch} steps" if patch > 1 else "")
        + f", {values['model.pooling']} pooling, dropout {values['model.dropout']}, batch {batch}, "
        f"lr 3e-3, patience {values['train.patience']} epochs (about {epochs:,.0f} epochs fit "
        "the budget)"
    )
    return Recipe(values, line)


def _impl(cfg: ClassifyConfig) -> str:
    """The implementation the run will use: the pinned one, else `fused` on a CPU (the
    fastest there) and `torch` on CUDA (cuDNN)."""
    if not cfg.chooses("model.impl"):
        return cfg.model.impl
    return "fused" if resolve_device(cfg.train.device).type == "cpu" else "torch"


def apply_recipe(cfg: ClassifyConfig, stats: DataStats) -> ClassifyConfig:
    """A copy of `cfg` with the recipe's values for the keys `cfg.chooses`, `recipe`
    "fixed" and the recipe's line in `recipe_note`; a `fixed` config is returned as it is."""
    if cfg.recipe != "auto":
        return cfg
    out = copy.deepcopy(cfg)
    recipe = choose(stats, cfg.train.time_budget, _impl(cfg))
    for name, value in recipe.values.items():
        if name in RECIPE_KEYS and cfg.chooses(name):
            set_key(out, name, value)
    kept = [k for k in recipe.values if not cfg.chooses(k)]
    out.recipe = "fixed"
    out.recipe_note = recipe.line + (f"; kept as given: {', '.join(kept)}" if kept else "")
    return out
