"""Configuration: typed dataclass tables, TOML presets and files, `--set table.key=value`.

One engine serves both tasks. A language-model run (`RunConfig`) has the tables `data`,
`model`, `train` and `generate`; a forecast (`ForecastConfig`) has `series`, `model` (its
own `ForecastModelConfig`) and `train`. Every table is a `Table`: each assignment, from a
preset, a config file, `--set` or Python, is converted to the field's type and checked, and
every closed choice is a `Literal` whose members are the valid values. Unknown keys are
errors that list the valid ones. Every numeric key has its allowed range (a `Bound` in the
field's metadata), checked when set with the same wording as the sampling options::

    model.hidden_size must be an integer in [1, 65536], got -5      (--set, a config file)
    --hidden-size must be an integer in [1, 65536], got -5          (a CLI flag, `set_key`)

A value of 0 means "off" for the optional numeric keys (`max_tokens`, `epochs`, `max_steps`,
`time_budget`, `patience`, `top_k`, `embedding_dim` = same as `hidden_size`), because TOML
has no null.

Layering, for `rnnkit train` and `rnnkit forecast` alike: the task's defaults, then a
preset (shipped TOML file), then `--config FILE`, then the SOURCE argument, then `--set`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from rnnkit.errors import ConfigError
from rnnkit.storage import storage_errors

Task = Literal["lm", "forecast"]
Level = Literal["char", "word"]
Normalize = Literal["none", "d2l", "newlines"]
Sampling = Literal["sequential", "random"]
EncodingErrors = Literal["strict", "replace", "ignore"]
Kind = Literal["rnn", "gru", "lstm"]
Impl = Literal["torch", "scratch", "fused"]
InputMode = Literal["embedding", "onehot"]
Newlines = Literal["auto", "keep", "paragraphs", "drop"]
VocabRule = Literal["auto", "all"]
Output = Literal["auto", "softmax", "adaptive"]
OptimizerName = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "cosine", "step"]
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["fp32", "bf16"]
Scaler = Literal["standard", "minmax", "none"]
Strategy = Literal["direct", "autoregressive"]
Transform = Literal["auto", "none", "diff", "window"]
Method = Literal["auto", "rnn", "esrnn", "es"]
LogTransform = Literal["auto", "yes", "no"]
Likelihood = Literal["gaussian", "mse"]
Fill = Literal["none", "linear", "ffill", "zero", "drop"]
References = Literal["all", "ets", "arima", "none"]

# How saved configs from before the word tokenizer split words (rnnkit.text.tokenize's
# WHITESPACE_REGEX; this module imports no text code).
LEGACY_WORD_REGEX = r"\S+"
# The preset a run starts from when no preset is named and its level is word.
WORD_PRESET = "words"

# Upper ends of the ranges where a bigger value can only be a mistake.
MAX_WIDTH = 65_536  # hidden_size, embedding_dim
MAX_LAYERS = 1024
MAX_THREADS = 1024
MAX_SEED = 2**63 - 1  # what torch.manual_seed takes (NumPy's seed is taken modulo 2**32)


def number_text(x: float) -> str:
    """`10.0` as `10`, `0.5` as `0.5`, big integers in full."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def must_be(name: str, what: str, got: str, hint: str = "") -> str:
    """The one wording of a bad value: `{name} must be {what}, got {got}` (+ ` (hint)`);
    `got` is the value as `shown` quotes it (or a description, `3 characters`)."""
    message = f"{name} must be {what}, got {got}"
    return f"{message} ({hint})" if hint else message


@dataclass(frozen=True)
class Bound:
    """The values from `low` to `high`, both included unless `low_open` / `high_open`;
    `None` = no end."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        above = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        return not above

    def __str__(self) -> str:
        """`[1, 100000]`, `(0, 1]`, `[0, 1)`, `[0, inf)`; `any` when neither end is set."""
        if self.low is None and self.high is None:
            return "any"
        low, high = "(-inf", "inf)"
        if self.low is not None:
            low = ("(" if self.low_open else "[") + number_text(self.low)
        if self.high is not None:
            high = number_text(self.high) + (")" if self.high_open else "]")
        return f"{low}, {high}"

    def describe(self) -> str:
        """The range as the end of `must be an integer ...`: `in [1, 2000]`, or `` for any."""
        return "" if self.low is None and self.high is None else f"in {self}"

    def expects(self, integer: bool) -> str:
        """What a value must be: `an integer in [1, 2000]`, `a number in (0, 1]`."""
        kind = "an integer" if integer else "a number"
        return " ".join(filter(None, (kind, self.describe())))

    def narrow(self, other: Bound) -> Bound:
        """The values both bounds allow."""
        low, low_open = self.low, self.low_open
        if other.low is not None and (low is None or other.low > low):
            low, low_open = other.low, other.low_open
        elif other.low is not None and other.low == low:
            low_open = low_open or other.low_open
        high, high_open = self.high, self.high_open
        if other.high is not None and (high is None or other.high < high):
            high, high_open = other.high, other.high_open
        elif other.high is not None and other.high == high:
            high_open = high_open or other.high_open
        return Bound(low, high, low_open, high_open)


# A key's range and hint live in its field's metadata under these names (see `bounded`).
_BOUND, _HINT, _CHECK = "rnnkit.bound", "rnnkit.hint", "rnnkit.check"


def bounded(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, Any]:
    """A numeric field's metadata: its allowed range (each item's, for a list), a hint for
    the error message (`0 = off`) and an optional `check(name, value)` of the whole value."""
    return {_BOUND: Bound(low, high, low_open, high_open), _HINT: hint, _CHECK: check}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


@cache
def _meta(cls: type) -> dict[str, dict[str, Any]]:
    """Each field's range metadata; a subclass that only changes a default keeps it."""
    found: dict[str, dict[str, Any]] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if _BOUND in f.metadata:
                    found[f.name] = dict(f.metadata)
    return found


def field_bound(cls: type, key: str) -> Bound:
    """The allowed range of the numeric key `key` of the table class `cls`."""
    return _meta(cls)[key][_BOUND]


def _scalar(typ: Any, value: Any) -> Any:
    """`value` converted to `int` or `float` (finite), or `ValueError`."""
    if isinstance(value, bool):
        raise ValueError(value)
    if typ is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _given(value: Any) -> str:
    """A refused value as the message quotes it: a flag's text `'big'`, but `nan` as `nan`."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return shown(value)
        if not math.isfinite(number):
            return number_text(number)
    return shown(value)


def _coerce(path: str, value: Any, typ: Any, meta: dict[str, Any] | None = None) -> Any:
    """Convert `value` to the field type `typ` and check its range (from `meta`), or raise
    naming the key (as `path` spells it) and the fix."""
    origin = get_origin(typ)
    if meta is not None and (typ in (int, float) or origin is list):
        inner = get_args(typ)[0] if origin is list else typ
        bound: Bound = meta[_BOUND]
        what, hint = bound.expects(inner is int), meta[_HINT]
        items: Any = [value]
        if origin is list and isinstance(value, str):
            items = [v for v in value.split(",") if v != ""]
        elif origin is list:
            try:
                items = list(value)
            except TypeError:
                what = f"a list of numbers {bound.describe()}"
                raise ConfigError(must_be(path, what, shown(value))) from None
        out = []
        for item in items:
            try:
                number = _scalar(inner, item)
            except (TypeError, ValueError, OverflowError):
                raise ConfigError(must_be(path, what, _given(item), hint)) from None
            if number not in bound:
                given = shown(item) if isinstance(item, (int, float)) else number_text(number)
                raise ConfigError(must_be(path, what, given, hint))
            out.append(number)
        result = out if origin is list else out[0]
        if meta[_CHECK] is not None:
            meta[_CHECK](path, result)
        return result
    try:
        if origin is Literal:
            choices = get_args(typ)
            if str(value) not in choices:
                raise ConfigError(
                    f"{path} = {value!r} is not valid; choose one of {', '.join(choices)}"
                )
            return str(value)
        if typ is bool:
            if isinstance(value, str):
                low = value.lower()
                if low in ("true", "1", "yes"):
                    return True
                if low in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if typ in (int, float):
            return _scalar(typ, value)
        if typ is str:
            return str(value)
        if origin is list:
            (inner,) = get_args(typ)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v != ""] if inner is not str else [value]
            return [_coerce(path, v, inner) for v in value]
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        pass
    name = getattr(typ, "__name__", str(typ))
    raise ConfigError(f"{path} = {value!r} is not a valid {name}; fix the value in your config")


def _check_split(name: str, split: list[float]) -> None:
    """Three fractions (train, val, test) that sum to 1."""
    if len(split) != 3 or abs(sum(split) - 1.0) > 1e-6:
        what = "three numbers in [0, 1] (train, val, test) summing to 1"
        raise ConfigError(must_be(name, what, shown(split), "e.g. [0.9, 0.05, 0.05]"))


class Table:
    """A config table: assigning a field converts the value to its type and checks it."""

    NAME: ClassVar[str] = ""

    def __setattr__(self, key: str, value: Any) -> None:
        self.assign(key, value)

    def assign(self, key: str, value: Any, name: str | None = None) -> None:
        """Set `key` to `value`, converted and checked; errors call it `name` (a CLI flag's
        spelling), else `table.key`."""
        super().__setattr__(key, check_value(type(self), key, value, name))
        given = self.__dict__.get("_given")
        if given is not None:  # `given_keys` is listening
            given.add(key)

    def check(self) -> Table:
        """Check every key again (each is checked when set; this catches values written
        around `__setattr__`) and return the table."""
        for key in self.keys():
            self.assign(key, getattr(self, key))
        return self

    @classmethod
    def keys(cls) -> list[str]:
        """The table's keys, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]


def check_value(table: type[Table], key: str, value: Any, name: str | None = None) -> Any:
    """`value` converted to the type of the key `key` of `table` and checked (its choices,
    its range); errors call it `name` (a CLI flag's spelling), else `table.key`."""
    types = _hints(table)
    if key not in types or key == "NAME":
        raise ConfigError(
            f"unknown config key {table.NAME}.{key}; valid keys: "
            + ", ".join(f"{table.NAME}.{f.name}" for f in dataclasses.fields(table))
        )
    path = name or f"{table.NAME}.{key}"
    return _coerce(path, value, types[key], _meta(table).get(key))


@dataclass
class DataConfig(Table):
    """Where the text comes from, how it becomes tokens and how it is cut into batches.

    `min_freq` and `max_size` bound the vocabulary (rarer tokens, or those past the
    `max_size` most frequent, become `<unk>`; 0 = no cap); `nfc` composes the text to
    Unicode NFC first; `encoding_errors` says what to do with bytes that are not UTF-8.

    Word level (`rnnkit.text.tokenize.WordTokenizer`): `word_regex` is the regular
    expression whose matches are the tokens ("" = the default, which separates punctuation
    from words; `\\S+` splits at whitespace); `newlines` keeps line breaks as tokens
    (`keep`), a blank line as one token (`paragraphs`), none (`drop`), or chooses from the
    text (`auto`: `paragraphs` for hard-wrapped prose, else `keep`); `lowercase`
    lower-cases the text. `vocab = "auto"` caps a word vocabulary by the rule of
    `rnnkit.text.vocab.word_vocab_size` when neither `min_freq` nor `max_size` is set;
    `all` keeps every token they let through. A run records what `auto` chose.
    """

    NAME: ClassVar[str] = "data"
    source: str = "python-docs"
    level: Level = "char"
    normalize: Normalize = "none"
    max_tokens: int = field(default=0, metadata=bounded(0, hint="0 = use split"))
    split: list[float] = field(
        default_factory=lambda: [0.9, 0.05, 0.05], metadata=bounded(0, 1, check=_check_split)
    )
    sampling: Sampling = "sequential"
    batch_size: int = field(default=32, metadata=bounded(1))
    num_steps: int = field(default=35, metadata=bounded(1))
    min_freq: int = field(default=1, metadata=bounded(1))
    max_size: int = field(default=0, metadata=bounded(0, hint="0 = no cap"))
    nfc: bool = False
    word_regex: str = ""
    encoding_errors: EncodingErrors = "strict"
    newlines: Newlines = "auto"
    lowercase: bool = False
    vocab: VocabRule = "auto"


@dataclass
class CoreConfig(Table):
    """The recurrent core both tasks build (`rnnkit.nn.recurrent.build_rnn`): its kind,
    implementation and sizes. The `model` tables of both tasks start with these keys."""

    NAME: ClassVar[str] = "model"
    kind: Kind = "lstm"
    impl: Impl = "torch"
    hidden_size: int = field(default=256, metadata=bounded(1, MAX_WIDTH))
    num_layers: int = field(default=1, metadata=bounded(1, MAX_LAYERS))
    dropout: float = field(default=0.0, metadata=bounded(0, 1, high_open=True))


@dataclass
class ModelConfig(CoreConfig):
    """The language model's architecture: the core, then the input and output layers.

    `output` is the output layer: `softmax` (one linear layer over the vocabulary),
    `adaptive` (an adaptive softmax, `rnnkit.lm.adaptive`: frequent tokens in a head,
    rarer ones in clusters, exact log-probabilities) or `auto` (adaptive for a word
    vocabulary of 5,000 tokens or more, `rnnkit.lm.adaptive.ADAPTIVE_MIN_VOCAB`, else
    softmax). `cutoffs` are the
    first ids of the adaptive clusters ([] = chosen from the training counts). A run
    records what `auto` chose.

    Regularisation, in training only (`rnnkit.lm.model.RNNLM`): `dropout` is plain dropout
    (a fresh mask per element and step) on the embedding output, between layers and before
    the output layer; the AWD-LSTM regularisers add `weight_drop` (DropConnect on the
    hidden-to-hidden weights), `locked_dropout` (one mask per sequence on the core's input
    and output) and `embedding_dropout` (whole tokens' embeddings dropped).
    """

    embedding_dim: int = field(default=0, metadata=bounded(0, MAX_WIDTH, hint="0 = hidden_size"))
    input_mode: InputMode = "embedding"
    tie_weights: bool = False
    output: Output = "auto"
    cutoffs: list[int] = field(default_factory=list, metadata=bounded(1))
    weight_drop: float = field(default=0.0, metadata=bounded(0, 1, high_open=True))
    locked_dropout: float = field(default=0.0, metadata=bounded(0, 1, high_open=True))
    embedding_dropout: float = field(default=0.0, metadata=bounded(0, 1, high_open=True))


@dataclass
class TrainConfig(Table):
    """The optimisation: when to stop, how to step, where to run.

    A run stops at the first of its limits: `epochs`, `max_steps`, `time_budget` (seconds
    of training, `elapsed_s`) and `patience` (evaluations without a better validation
    loss); 0 turns each off, and at least one must be on. The schedule decays over
    whichever of them is furthest along.
    """

    NAME: ClassVar[str] = "train"
    epochs: int = field(default=10, metadata=bounded(0, hint="0 = no limit"))
    max_steps: int = field(default=0, metadata=bounded(0, hint="0 = off"))
    time_budget: float = field(default=0.0, metadata=bounded(0, hint="seconds; 0 = off"))
    optimizer: OptimizerName = "adam"
    lr: float = field(default=2e-3, metadata=bounded(0, low_open=True))
    weight_decay: float = field(default=0.0, metadata=bounded(0))
    schedule: Schedule = "constant"
    warmup_steps: int = field(default=0, metadata=bounded(0))
    clip: float = field(default=1.0, metadata=bounded(0, hint="0 = off"))
    eval_every: int = field(default=1, metadata=bounded(1))
    patience: int = field(default=0, metadata=bounded(0, hint="0 = off"))
    seed: int = field(default=0, metadata=bounded(0, MAX_SEED))
    threads: int = field(default=0, metadata=bounded(0, MAX_THREADS, hint="0 = torch default"))
    device: Device = "auto"
    precision: Precision = "fp32"


@dataclass
class GenerateConfig(Table):
    """Samples written during training: `prefixes = []` takes them from the corpus (the
    starts of a few validation lines, `rnnkit.text.corpora.corpus_prefixes`). A preset's own
    prefixes apply to its own source only (`resolve`)."""

    NAME: ClassVar[str] = "generate"
    prefixes: list[str] = field(default_factory=list)
    length: int = field(default=100, metadata=bounded(1, 100_000))
    temperature: float = field(default=1.0, metadata=bounded(0, hint="0 = greedy"))
    top_k: int = field(default=0, metadata=bounded(0, 2**31 - 1, hint="0 keeps every token"))
    top_p: float = field(
        default=1.0, metadata=bounded(0, 1, low_open=True, hint="1 keeps every token")
    )
    every: int = field(default=1, metadata=bounded(0, hint="epochs between samples; 0 = off"))


@dataclass
class SeriesConfig(Table):
    """The `series` table: what to forecast and how the values are prepared.

    `0` and `""` mean "choose from the series" (`rnnkit.forecast.series.plan_sizes`).
    `scaler` is fit on the training part only; `transform` is `diff` (forecast first
    differences, summed back onto the last value) or `window` (each window is taken
    relative to its last observed value, so trends are followed rather than flattened).
    `strategy` is `direct` (one head emits all `horizon` steps) or `autoregressive` (one
    step at a time, each forecast fed back as the next input). `season = 0` infers it.
    `val_size` (0 = min(horizon, a fifth of the history)) is the tail kept out of training
    to pick the best epoch and calibrate the intervals. `init_std > 0` draws every
    parameter from N(0, init_std) and `carry_state` carries the detached state from batch
    to batch: both reproduce the PyTorch sine-wave tutorial (`forecast-sine` preset).
    `references` picks the classical forecasts fit and scored beside the network on the
    same split (`rnnkit.forecast.references`, needs the `ts` extra): `all` (automatic ETS
    and ARIMA), `ets`, `arima` or `none`.
    `log` takes logarithms of a positive target first; `method` is `rnn` (the recurrent
    network on the transformed windows), `esrnn` (the ES-RNN hybrid: an
    exponential-smoothing level and season, the network forecasts the rest), `es` (the
    smoothing part alone) or `auto` (the best of them on the validation tail). `"auto"`
    for `transform`, `log` and `method` (like `0` for the sizes and the season) means
    "chosen from the series" (`rnnkit.forecast.auto`); the presets pin theirs.
    """

    NAME: ClassVar[str] = "series"
    source: str = ""
    target: list[str] = field(default_factory=list)
    time_col: str = ""
    covariates: list[str] = field(default_factory=list)
    lookback: int = field(default=0, metadata=bounded(0, hint="0 = chosen from the series"))
    horizon: int = field(default=0, metadata=bounded(0, hint="0 = chosen from the series"))
    scaler: Scaler = "standard"
    strategy: Strategy = "autoregressive"
    transform: Transform = "auto"
    log: LogTransform = "auto"
    method: Method = "auto"
    likelihood: Likelihood = "gaussian"
    season: int = field(default=0, metadata=bounded(0, hint="0 infers it"))
    fill: Fill = "none"
    batch_size: int = field(default=32, metadata=bounded(1))
    val_size: int = field(
        default=0, metadata=bounded(0, hint="0 = min(horizon, a fifth of the history)")
    )
    skip: int = field(default=0, metadata=bounded(0))
    refit: bool = True
    init_std: float = field(default=0.0, metadata=bounded(0, hint="0 = the default initialisation"))
    carry_state: bool = False
    references: References = "all"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON and checkpoint friendly)."""
        return dataclasses.asdict(self)


@dataclass
class ForecastModelConfig(CoreConfig):
    """The forecaster's recurrent core (its input and output layers follow the series);
    series are small, so the core is too."""

    hidden_size: int = 32


def _forecast_train() -> TrainConfig:
    """The generic forecasting optimisation (short series want more epochs than text)."""
    return TrainConfig(epochs=150, lr=3e-3, schedule="cosine", clip=1.0, weight_decay=0.0)


class _Config:
    """What both tasks' configs share: named tables, a `preset` name, dict round trips."""

    TASK: ClassVar[Task] = "lm"
    SOURCE_TABLE: ClassVar[str] = "data"  # the table whose `source` the SOURCE argument sets
    NOT_TABLES: ClassVar[tuple[str, ...]] = ("preset", "recipe", "pinned")
    preset: str

    @classmethod
    def tables(cls) -> tuple[str, ...]:
        """The names of the config's tables, in order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in cls.NOT_TABLES)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON and checkpoint friendly)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], raw: dict[str, Any]) -> C:
        """Build from a nested dict; unknown tables or keys are errors."""
        cfg = cls()
        update(cfg, raw)
        return cfg


C = TypeVar("C", bound=_Config)


@dataclass
class RunConfig(_Config):
    """A language-model run: the four tables plus the preset it started from.

    `recipe` is `"auto"` when the automatic recipe (`rnnkit.lm.recipe`) is to choose the
    keys not in `pinned` (those given by flags and `--set`) when the run starts; once it
    has chosen, `recipe` is the line that says what and why ("" = no recipe).
    """

    TASK: ClassVar[Task] = "lm"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    preset: str = ""
    recipe: str = ""
    pinned: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Build from a nested dict (a saved config); unknown tables or keys are errors.

        A config saved before the word tokenizer and the adaptive output (its `data` table
        has no `newlines`, its `model` table no `output`) keeps what it was trained with:
        words split at whitespace, line breaks dropped, every token kept, a full softmax.
        """
        cfg = super().from_dict(raw)
        data, model = raw.get("data"), raw.get("model")
        if not isinstance(data, dict) or "newlines" not in data:
            saved = data.get("word_regex") if isinstance(data, dict) else None
            cfg.data.word_regex = saved or LEGACY_WORD_REGEX
            cfg.data.newlines = "drop"
            cfg.data.vocab = "all"
        if not isinstance(model, dict) or "output" not in model:
            cfg.model.output = "softmax"
        return cfg


@dataclass
class ForecastConfig(_Config):
    """A forecast: the `series`, `model` and `train` tables plus the preset it started from.

    The defaults are the generic ones `rnnkit forecast FILE` uses for a series it knows
    nothing about; the built-in sources have presets named `forecast-<source>`.
    """

    TASK: ClassVar[Task] = "forecast"
    SOURCE_TABLE: ClassVar[str] = "series"
    series: SeriesConfig = field(default_factory=SeriesConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: TrainConfig = field(default_factory=_forecast_train)
    preset: str = ""


def update(cfg: _Config, raw: dict[str, Any]) -> _Config:
    """Apply a nested dict of `{table: {key: value}}` to `cfg` in place.

    A top-level `preset` names the preset; a top-level `task` (as preset files carry) must
    be the config's task.
    """
    tables = cfg.tables()
    for table, values in raw.items():
        if table == "preset":
            cfg.preset = str(values)
            continue
        if table in cfg.NOT_TABLES and hasattr(cfg, table):  # recipe, pinned (RunConfig)
            setattr(cfg, table, [str(v) for v in values] if table == "pinned" else str(values))
            continue
        if table == "task":
            _check_task(str(values), cfg.TASK, "this config")
            continue
        if table not in tables:
            raise ConfigError(f"unknown config table {table!r}; valid tables: {', '.join(tables)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config table {table!r} must be a table of key = value pairs")
        section = getattr(cfg, table)
        for key, value in values.items():
            setattr(section, key, value)
    return cfg


def set_key(cfg: _Config, key: str, value: Any, name: str | None = None) -> None:
    """Set `table.key` of `cfg` to `value`; an error calls it `name` (a CLI flag) if given."""
    table, _, attr = key.partition(".")
    if table not in cfg.tables():
        raise ConfigError(
            f"unknown config table {table!r}; valid tables: {', '.join(cfg.tables())}"
        )
    getattr(cfg, table).assign(attr, value, name)


def _check_task(found: str, wanted: Task, what: str) -> None:
    names = {"lm": "language-model", "forecast": "forecasting"}
    if found not in names:
        raise ConfigError(f"{what} has task = {found!r}; choose one of {', '.join(names)}")
    if found != wanted:
        command = "rnnkit forecast" if found == "forecast" else "rnnkit train"
        raise ConfigError(
            f"{what} is a {names[found]} config, not a {names[wanted]} one; use it with {command}"
        )


def _parse_value(text: str) -> Any:
    """Read a `--set` value as TOML (numbers, booleans, lists), else as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: C, assignments: list[str]) -> C:
    """Apply `table.key=value` strings (the `--set` flag) to `cfg` in place."""
    for item in assignments:
        key, sep, text = item.partition("=")
        table, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(
                f"--set {item!r} must look like table.key=value (e.g. model.hidden_size=512)"
            )
        update(cfg, {table: {name: _parse_value(text.strip())}})
    return cfg


def _preset_text(name: str) -> str:
    return (resources.files("rnnkit") / "presets" / f"{name}.toml").read_text(encoding="utf-8")


def list_presets() -> list[str]:
    """Names of the presets shipped inside the package (both tasks)."""
    folder = resources.files("rnnkit") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_task(name: str) -> Task:
    """The task a shipped preset is for (its `task` key; `lm` when absent)."""
    task = tomllib.loads(_preset_text(name)).get("task", "lm")
    return "forecast" if task == "forecast" else "lm"


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, with clear errors for missing or broken files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path")
    with storage_errors(path, "read"):
        text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _apply_preset(cfg: _Config, name: str) -> None:
    names = list_presets()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; available presets: {', '.join(names)}")
    raw = tomllib.loads(_preset_text(name))
    _check_task(str(raw.get("task", "lm")), cfg.TASK, f"preset {name!r}")
    update(cfg, raw)
    cfg.preset = name


def load_preset(name: str) -> RunConfig:
    """The shipped language-model preset `name` as a `RunConfig`."""
    cfg = RunConfig()
    _apply_preset(cfg, name)
    return cfg


def preset_description(name: str) -> str:
    """The first comment line of a preset file, used by `rnnkit presets`."""
    for line in _preset_text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def given_keys(cfg: _Config) -> Callable[[], list[str]]:
    """Listen to every assignment to `cfg`'s tables from now on; the returned function
    stops listening and gives the `table.key` names assigned (flags and `--set`)."""
    tables = {name: getattr(cfg, name) for name in cfg.tables()}
    for table in tables.values():
        object.__setattr__(table, "_given", set())

    def stop() -> list[str]:
        keys = [f"{n}.{k}" for n, t in tables.items() for k in sorted(t.__dict__.pop("_given"))]
        return keys

    return stop


def _layered(
    cfg: C,
    source: str | None,
    preset: str | None,
    config_file: str | None,
    overrides: list[str] | None,
) -> C:
    """`cfg` (the task's defaults) with the layers above them, in order: the preset, the
    config file, SOURCE (the `source` of the table `cfg.SOURCE_TABLE`), then `--set`."""
    if preset:
        _apply_preset(cfg, preset)
    if config_file:
        update(cfg, load_toml(config_file))
    if source:
        getattr(cfg, cfg.SOURCE_TABLE).source = source
    apply_overrides(cfg, overrides or [])
    return cfg


def resolve(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
    then: Callable[[RunConfig], None] | None = None,
) -> RunConfig:
    """Layer a run's configuration: preset (or `default`), config file, SOURCE, `--set`,
    then `then(cfg)` (the CLI's flags and its own `--set`).

    Without a preset, a run whose level ends up `word` (or whose source is a folder
    prepared at word level) starts from the `words` preset (the word-level defaults)
    instead of `default`, under the same layers. Without a preset and a config file, a
    character-level run leaves the keys its flags and `--set` do not give to the automatic
    recipe (`recipe = "auto"`, chosen from the corpus when the run starts).
    """

    def build(name: str) -> RunConfig:
        cfg = _layered(RunConfig(), source, name, config_file, None)
        stop = given_keys(cfg)
        apply_overrides(cfg, overrides or [])
        if then is not None:
            then(cfg)
        given = stop()
        _own_prefixes(cfg, name)
        if preset is None and config_file is None and name == "default":
            cfg.recipe, cfg.pinned = "auto", given
        return cfg

    cfg = build(preset or "default")
    if preset is None and "word" in (cfg.data.level, _prepared_level(cfg.data.source)):
        cfg = build(WORD_PRESET)
    return cfg


def _own_prefixes(cfg: RunConfig, preset: str) -> None:
    """A preset's sample prefixes belong to its own source: on another source, prefixes
    left as the preset set them become [] (taken from the corpus)."""
    own = load_preset(preset)
    if cfg.data.source != own.data.source and cfg.generate.prefixes == own.generate.prefixes:
        cfg.generate.prefixes = []


def _prepared_level(source: str) -> str:
    """The level of a folder written by `rnnkit prepare` ("" for any other source); read
    from its manifest here, as this module imports no text code."""
    if not source:
        return ""
    manifest = Path(source).expanduser() / "manifest.json"
    try:
        level = json.loads(manifest.read_text(encoding="utf-8")).get("level", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return str(level)


def source_preset(source: str) -> str | None:
    """The shipped `forecast-<source>` preset of a built-in series, if there is one."""
    name = f"forecast-{source}"
    return name if name in list_presets() else None


def resolve_forecast(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
) -> ForecastConfig:
    """Layer a forecast's configuration: generic defaults, preset, config file, SOURCE,
    `--set`. Without `preset` or `config_file`, a built-in SOURCE brings its own preset."""
    if preset is None and config_file is None and source:
        preset = source_preset(source)
    return _layered(ForecastConfig(), source, preset, config_file, overrides)


def forecast_config(source: str = "", **tables: dict[str, Any]) -> ForecastConfig:
    """A forecast config for Python callers: `resolve_forecast(source)`, then `tables`.

    Example: `forecast_config("sunspots", model={"kind": "gru"}, series={"horizon": 10})`.
    """
    cfg = resolve_forecast(source or None)
    update(cfg, {k: v for k, v in tables.items() if v})
    return cfg


def to_json(cfg: _Config) -> str:
    """The resolved config as indented JSON (`config.json` in a run folder)."""
    return json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False)
