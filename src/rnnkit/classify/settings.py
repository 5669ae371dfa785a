"""The settings of a classification run, one small dataclass until the config tables land.

Every field maps onto one key of the coming `classify` config tables (the name after the
table, e.g. `model.hidden_size` -> `hidden_size`). With `recipe = "auto"` the keys the
recipe owns (`RECIPE_KEYS`) are chosen from the data and the budget unless the user pinned
them (`pinned`, the keys given by flags or `--set`); with `recipe = "fixed"` the values
here are used as they are. The recipe's one-line reason lands in `recipe_note`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from rnnkit.errors import ConfigError

Pooling = Literal["last", "mean", "max"]
CoreKind = Literal["rnn", "gru", "lstm"]
ClassWeights = Literal["auto", "balanced", "none"]
References = Literal["auto", "none"]

# The keys `rnnkit.classify.recipe` chooses under recipe "auto".
RECIPE_KEYS = (
    "kind",
    "hidden_size",
    "num_layers",
    "bidirectional",
    "pooling",
    "dropout",
    "embed_size",
    "patch",
    "batch_size",
    "lr",
    "weight_decay",
    "patience",
)


@dataclass
class ClassifySettings:
    """What `run_classify` reads. Ranges are checked by `check`.

    Data: `test` (a test file; "" = paired / the dataset's own / a stratified 80/20 split),
    `label_col` ("" = by name), `level` (text: char or word), `val_fraction` (validation
    part carved from the training part, stratified), `references` (auto | none).
    Model: `kind` (rnn | gru | lstm, the torch core), `hidden_size`, `num_layers`,
    `bidirectional`, `pooling` (last | mean | max), `dropout`, `embed_size` (text),
    `patch` (numeric: steps read as one input vector).
    Training: `time_budget` (seconds per seed), `max_epochs` (0 = no limit), `batch_size`,
    `optimizer`, `lr`, `weight_decay`, `clip`, `warmup_steps`, `patience` (epochs without a
    better validation loss; 0 = off), `class_weights` (auto: balanced when the largest class
    is over 1.5 times the smallest), `seed`, `seeds`, `threads` (0 = torch's default),
    `device` (auto | cpu | cuda).
    """

    test: str = ""
    label_col: str = ""
    level: Literal["char", "word"] = "char"
    val_fraction: float = 0.2
    references: References = "auto"
    kind: CoreKind = "gru"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    pooling: Pooling = "mean"
    dropout: float = 0.1
    embed_size: int = 32
    patch: int = 1
    time_budget: float = 120.0
    max_epochs: int = 0
    batch_size: int = 32
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clip: float = 1.0
    warmup_steps: int = 20
    patience: int = 30
    class_weights: ClassWeights = "auto"
    seed: int = 0
    seeds: int = 1
    threads: int = 0
    device: str = "auto"
    recipe: Literal["auto", "fixed"] = "auto"
    recipe_note: str = ""
    pinned: frozenset[str] = field(default_factory=frozenset)

    def check(self) -> ClassifySettings:
        """Refuse values out of range (a `ConfigError` naming the key and the fix)."""
        _in(self.val_fraction, "val_fraction", 0.01, 0.5)
        _in(self.hidden_size, "hidden_size", 1, 65536)
        _in(self.num_layers, "num_layers", 1, 16)
        _in(self.dropout, "dropout", 0.0, 0.9)
        _in(self.embed_size, "embed_size", 1, 4096)
        _in(self.patch, "patch", 1, 4096)
        _in(self.time_budget, "time_budget", 0.0, 1e7)
        _in(self.max_epochs, "max_epochs", 0, 10**9)
        _in(self.batch_size, "batch_size", 1, 65536)
        _in(self.lr, "lr", 1e-8, 10.0)
        _in(self.weight_decay, "weight_decay", 0.0, 1.0)
        _in(self.clip, "clip", 0.0, 1e6)
        _in(self.warmup_steps, "warmup_steps", 0, 10**9)
        _in(self.patience, "patience", 0, 10**9)
        _in(self.seeds, "seeds", 1, 1000)
        _in(self.threads, "threads", 0, 1024)
        for key, value, allowed in (
            ("kind", self.kind, ("rnn", "gru", "lstm")),
            ("pooling", self.pooling, ("last", "mean", "max")),
            ("class_weights", self.class_weights, ("auto", "balanced", "none")),
            ("references", self.references, ("auto", "none")),
            ("level", self.level, ("char", "word")),
            ("recipe", self.recipe, ("auto", "fixed")),
        ):
            if value not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        if self.time_budget <= 0 and self.max_epochs <= 0:
            raise ConfigError("give time_budget or max_epochs above 0; a run needs a limit")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins for `config.json` and checkpoints (`pinned` as a sorted list)."""
        d = dataclasses.asdict(self)
        d["pinned"] = sorted(self.pinned)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifySettings:
        """Rebuild what `to_dict` wrote; unknown keys are an error naming the valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"unknown classify settings {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        values = dict(d)
        values["pinned"] = frozenset(values.get("pinned", ()))
        return cls(**values)


def _in(value: float, key: str, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{key} must be in [{low:g}, {high:g}], got {value}")
