"""The automatic recipe: a character model's size, batches, learning rate and regularisation,
chosen from the corpus and the time budget.

`rnnkit train FILE` without `--preset` and `--config` leaves these keys to the recipe
(`RunConfig.recipe = "auto"`, `rnnkit.config.resolve.recipe_applies`); flags and `--set`
pin theirs (`RunConfig.pinned`). The choice is made once, when the run starts
(`apply_recipe`, from the training part's size and vocabulary and `train.time_budget`),
written to `config.json` as `recipe = "fixed"` with the one line that says what and why
(`recipe_note`), and kept by `--resume`. It is a pure function of the corpus and the
budget, so every rank of a torchrun run makes the same one; nothing is measured.

The rule, in two steps (`choose`):

1. **Passes.** How many times the budget lets the model read the training text:
   `passes = budget * tokens_per_second / train_tokens`, the speed estimated from the
   model's multiply-adds per token (`macs_per_token`) at `MACS_PER_SECOND`, the rate
   measured on a 2-core AMD EPYC (1 x 512 LSTM, 16 x 32 batches, bf16). A faster or slower
   CPU moves the passes by its speed ratio, at most one row of `REGIMES`.
2. **Regime** (`REGIMES`): the more passes, the more dropout (0 up to 3 passes, then 0.1,
   0.2, and 0.3 past 12). Batches stay small (16 x 32 at 5e-3): within minutes many small
   steps beat fewer large ones. The model stays a 1 x 512 LSTM: wider ones read the text
   too few times in minutes. A vocabulary of `WIDE_VOCAB` characters or more (Chinese)
   gets a 256-wide embedding and an adaptive softmax, which scores the frequent characters
   in full and the rare ones in clusters (exact log-probabilities), about twice the
   tokens/s at 5,000 characters; past 6 passes its rare characters' embeddings overfit,
   and `embedding_dropout = 0.1` holds them back.

The weight drop and locked dropout (`rnnkit.lm.model.RNNLM`) are not in the recipe: on the
development panel they did not pay for themselves within minutes (the weight drop costs a
fifth to a third of the tokens/s). Set them for longer runs.

The data stay as given: level, normalisation, split and the full training vocabulary are
the user's. Word-level runs keep the `words` preset (issue 19's tuned defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnkit.config import RunConfig, set_key
from rnnkit.text.corpora import Corpus

# Training multiply-adds per second (forward + backward + optimizer, counted as 3 x the
# forward's): the 1 x 512 LSTM at 16 x 32 under bf16 trained 20,400 tokens/s on 2 cores of
# an AMD EPYC (`benchmarks/char_lm.py`, The Time Machine).
MACS_PER_SECOND = 7.5e10
WIDE_VOCAB = 1000  # characters: at or above, a wider embedding and the adaptive softmax
DEFAULT_BUDGET = 150.0  # seconds assumed when the run has no time budget
WIDE_EMBEDDING_DROPOUT = 0.1  # for a wide vocabulary read more than 6 times
HIDDEN = 512  # the LSTM's width: wider ones read the text too few times in minutes
PATIENCE = 4  # evaluations without a better validation loss before a budgeted run stops
WARMUP_SHARE, MAX_WARMUP = 0.05, 50  # warm-up: this share of the expected steps, at most


@dataclass(frozen=True)
class Regime:
    """The dropout of runs that read the training text at most `max_passes` times."""

    name: str
    max_passes: float
    dropout: float


REGIMES: tuple[Regime, ...] = (
    Regime("large", 3.0, 0.0),
    Regime("medium", 6.0, 0.1),
    Regime("small", 12.0, 0.2),
    Regime("tiny", float("inf"), 0.3),
)
BATCH_SIZE, NUM_STEPS, LR = 16, 32, 5e-3  # many small steps: time is short


def macs_per_token(hidden: int, layers: int, embed: int, vocab: int, adaptive: bool) -> float:
    """Forward multiply-adds per token of an LSTM language model: the gates of each layer
    and the output layer (an adaptive softmax computes about a quarter of its rows)."""
    gates = 4 * hidden * (embed + hidden) + (layers - 1) * 4 * hidden * 2 * hidden
    head = hidden * vocab * (0.25 if adaptive else 1.0)
    return float(gates + head)


def passes(
    train_tokens: int, budget_s: float, macs: float, rate: float = 0.0, val_tokens: int = 0
) -> float:
    """How many times `budget_s` seconds let a model of `macs` per token read the text:
    at `rate` training tokens per second when measured (`rnnkit.lm.probe`), else at the
    rate `MACS_PER_SECOND` predicts. Each pass is followed by an evaluation of `val_tokens`
    (a forward pass only, about a third of a training token's cost), counted in the budget."""
    tokens_per_second = rate if rate > 0 else MACS_PER_SECOND / (3 * macs)
    train = max(train_tokens, 1)
    return budget_s * tokens_per_second / train / (1 + val_tokens / (3 * train))


def warmup_steps(n_passes: float, train_tokens: int, batch_tokens: int) -> int:
    """Warm-up steps: `WARMUP_SHARE` of the steps the run is expected to take, at most
    `MAX_WARMUP` (a short run on a slow machine must not spend itself warming up)."""
    expected = n_passes * train_tokens / max(batch_tokens, 1)
    return int(max(1, min(MAX_WARMUP, expected * WARMUP_SHARE)))


@dataclass(frozen=True)
class Recipe:
    """What the rule chose (`table.key` -> value), the passes it expects and its regime."""

    values: dict[str, Any]
    passes: float
    regime: str


def choose(
    train_tokens: int,
    vocab_size: int,
    budget_s: float,
    hidden: int = HIDDEN,
    layers: int = 1,
    rate: float = 0.0,
    val_tokens: int = 0,
) -> Recipe:
    """The recipe for a character corpus of `train_tokens` training characters and
    `vocab_size` distinct ones (with `<unk>`), trained for `budget_s` seconds; `hidden` and
    `layers` are the user's when they gave them (the passes are counted for that model);
    `rate` is the measured training tokens per second (0: predicted)."""
    budget = budget_s or DEFAULT_BUDGET
    wide = vocab_size >= WIDE_VOCAB
    embed = 256 if wide else 64
    macs = macs_per_token(hidden, layers, embed, vocab_size, wide)
    n = passes(train_tokens, budget, macs, rate, val_tokens)
    regime = next(r for r in REGIMES if n <= r.max_passes)
    values: dict[str, Any] = {
        "data.batch_size": BATCH_SIZE,
        "data.num_steps": NUM_STEPS,
        "model.kind": "lstm",
        "model.num_layers": layers,
        "model.hidden_size": hidden,
        "model.embedding_dim": embed,
        "model.output": "adaptive" if wide else "softmax",
        "model.dropout": regime.dropout,
        "model.weight_drop": 0.0,
        "model.locked_dropout": 0.0,
        "model.embedding_dropout": WIDE_EMBEDDING_DROPOUT if wide and n > 6 else 0.0,
        "train.optimizer": "adamw",
        "train.lr": LR,
        "train.weight_decay": 0.01,
        "train.schedule": "cosine",
        "train.warmup_steps": warmup_steps(n, train_tokens, BATCH_SIZE * NUM_STEPS),
        "train.patience": PATIENCE,
        "train.precision": "bf16",
        "train.epochs": 0,
        "generate.prefixes": [],
    }
    return Recipe(values, n, regime.name)


def apply_recipe(
    cfg: RunConfig,
    corpus: Corpus,
    measure: Callable[[RunConfig], float] | None = None,
    bf16: bool = True,
) -> float:
    """Choose the recipe for `corpus` and set every key of it that `cfg.chooses` (those
    `cfg.pinned` does not name): first at the predicted speed, then, with `measure` (the
    speed probe: training tokens per second of the model `cfg` now describes), again at the
    measured one. `bf16 = False` (no native bf16 here) makes the recipe's precision fp32.
    `cfg.recipe` becomes `fixed` and `cfg.recipe_note` the line that says what runs and
    why. Returns the passes announced (0.0 at word level, which keeps the words preset)."""
    if cfg.data.level != "char":
        cfg.recipe, cfg.recipe_note = "fixed", "word level: the words preset's settings"
        return 0.0
    m = cfg.model
    hidden = HIDDEN if cfg.chooses("model.hidden_size") else m.hidden_size
    layers = 1 if cfg.chooses("model.num_layers") else m.num_layers
    sizes = (len(corpus.train), len(corpus.vocab), cfg.train.time_budget, hidden, layers)
    recipe = choose(*sizes, val_tokens=len(corpus.val))
    _set_chosen(cfg, recipe, bf16)
    rate = measure(cfg) if measure is not None else 0.0
    if rate > 0:
        recipe = choose(*sizes, rate=rate, val_tokens=len(corpus.val))
        _set_chosen(cfg, recipe, bf16)
    kept = [key for key in recipe.values if not cfg.chooses(key)]
    cfg.recipe = "fixed"
    cfg.recipe_note = recipe_line(cfg, corpus, recipe, rate) + (
        f"; kept yours: {', '.join(kept)}" if kept else ""
    )
    return recipe.passes


def _set_chosen(cfg: RunConfig, recipe: Recipe, bf16: bool) -> None:
    """Set the recipe's keys that `cfg` leaves to it."""
    for key, value in recipe.values.items():
        if cfg.chooses(key):
            set_key(cfg, key, "fp32" if key == "train.precision" and not bf16 else value)


def recipe_line(cfg: RunConfig, corpus: Corpus, recipe: Recipe, rate: float) -> str:
    """The one line that says what runs (the config's values, the user's kept ones
    included) and why (the corpus, the budget, the speed and the passes)."""
    m, d, t = cfg.model, cfg.data, cfg.train
    speed = f" at {rate:,.0f} tokens/s measured" if rate > 0 else ""
    extra = f", embedding_dropout {m.embedding_dropout:g}" if m.embedding_dropout else ""
    return (
        f"{len(corpus.train):,} training chars, vocab {len(corpus.vocab):,}, "
        f"{t.time_budget or DEFAULT_BUDGET:g} s{speed} -> about {recipe.passes:.1f} passes, "
        f"a {recipe.regime} corpus: {m.kind} {m.num_layers}x{m.hidden_size}, embedding "
        f"{m.embedding_dim}, {m.output}, dropout {m.dropout:g}{extra}, batches "
        f"{d.batch_size}x{d.num_steps}, {t.optimizer} {t.lr:g} {t.schedule}, warm-up "
        f"{t.warmup_steps}, patience {t.patience}, {t.precision}"
    )
