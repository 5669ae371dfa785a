"""The config tables of each task, their keys, defaults, ranges and help.

A language-model run (`RunConfig`) has the tables `data`, `model`, `train` and `generate`;
a forecast (`ForecastConfig`) has `series`, `model` (its own `ForecastModelConfig`) and
`train` (its own `ForecastTrainConfig`: only the keys a forecast reads); a classification
(`ClassifyConfig`) has its own `data`, `model` and `train` tables. A value of 0 means
"off" for the optional numeric keys (`max_tokens`, `epochs`, `max_steps`, `time_budget`,
`patience`, `top_k`, `embedding_dim` = same as `hidden_size`), because TOML has no null.

"Chosen automatically", one convention for every task (`_Config.chooses`): a key is
chosen for the user when the config's `recipe` is `auto` and the key is not in `pinned`.
`pinned` is filled at resolution: the keys the user's layers give (a preset, `--config`,
flags, `--set`; `rnnkit.config.resolve.pinned_keys`), except a key given its `UNSET`
value, which asks for the choice. `recipe` becomes `fixed` once the task's recipe has
chosen, and `recipe_note` is the one line that says what was chosen and why; all three are
written to `config.json` and every checkpoint and kept by `--resume`. A forecast's chosen
keys have no usable default (a season or a horizon depends on the series), so their table
value is an `UNSET` marker (`auto`, 0) that the recipe always replaces.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from rnnkit.config.fields import (
    MAX_LAYERS,
    MAX_SEED,
    MAX_THREADS,
    MAX_WIDTH,
    ClassReferences,
    ClassWeights,
    Device,
    EncodingErrors,
    Fill,
    Impl,
    InputMode,
    Kind,
    Level,
    Likelihood,
    LogTransform,
    Method,
    Newlines,
    Normalize,
    OptimizerName,
    Output,
    Pooling,
    Precision,
    Recipe,
    References,
    Sampling,
    Scaler,
    Schedule,
    Strategy,
    Table,
    Task,
    Transform,
    VocabRule,
    check_split,
    hints,
    key,
)

# How saved configs from before the word tokenizer split words (rnnkit.text.tokenize's
# WHITESPACE_REGEX; this package imports no text code).
LEGACY_WORD_REGEX = r"\S+"
# The `train` keys a forecast never read; saved forecast configs from before its own train
# table carry them (and meant one thread by `threads = 0`).
LEGACY_FORECAST_TRAIN_KEYS = ("time_budget", "eval_every", "precision")

# Hints the error messages of several keys share.
_SECONDS = "seconds; 0 = off"
_TORCH_THREADS = "0 = torch default"
_ADAPTIVE = "0 = adaptive: the count that trains fastest now"
_ALL_TOKENS = "0 keeps every token"
_FROM_SERIES = "0 = chosen from the series"


def _fraction() -> dict[str, Any]:
    """The range of a dropout probability: [0, 1)."""
    return {"low": 0, "high": 1, "high_open": True}


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
    source: str = key("python-docs", "named corpus (see `rnnkit datasets`) or a path")
    level: Level = key("char", "char or word tokens")
    normalize: Normalize = key("none", "none, d2l (letters only, lower case) or newlines")
    max_tokens: int = key(0, "train on the first N tokens", low=0, hint="0 = use split")
    split: list[float] = key(
        [0.9, 0.05, 0.05], "train,val,test fractions", low=0, high=1, check=check_split
    )
    sampling: Sampling = key("sequential", "sequential or random batches")
    batch_size: int = key(32, "parallel streams per batch", low=1)
    num_steps: int = key(35, "time steps per batch (BPTT length)", low=1)
    min_freq: int = key(1, "rarer training tokens become <unk>", low=1)
    max_size: int = key(0, "keep at most N vocabulary entries", low=0, hint="0 = no cap")
    nfc: bool = key(False, "compose the text to Unicode NFC first")
    word_regex: str = key("", "word tokens ('' = the default pattern)")
    encoding_errors: EncodingErrors = key("strict", "what to do with bytes that are not UTF-8")
    newlines: Newlines = key("auto", "line breaks of word-level text")
    lowercase: bool = key(False, "lower-case words")
    vocab: VocabRule = key("auto", "auto: a word vocabulary capped by its size; all: no cap")


@dataclass
class CoreConfig(Table):
    """The recurrent core both tasks build (`rnnkit.nn.recurrent.build_rnn`): its kind,
    implementation and sizes. The `model` tables of both tasks start with these keys."""

    NAME: ClassVar[str] = "model"
    kind: Kind = key("lstm", "rnn, gru or lstm")
    impl: Impl = key("torch", "torch, scratch or fused")
    hidden_size: int = key(256, "hidden units per layer", low=1, high=MAX_WIDTH)
    num_layers: int = key(1, "stacked recurrent layers", low=1, high=MAX_LAYERS)
    dropout: float = key(0.0, "dropout probability", low=0, high=1, high_open=True)


@dataclass
class ModelConfig(CoreConfig):
    """The language model's architecture: the core, then the input and output layers.

    `output` is the output layer: `softmax` (one linear layer over the vocabulary),
    `adaptive` (an adaptive softmax, `rnnkit.lm.adaptive`: frequent tokens in a head,
    rarer ones in clusters, exact log-probabilities) or `auto` (adaptive for a word
    vocabulary of 5,000 tokens or more, `rnnkit.lm.adaptive.ADAPTIVE_MIN_VOCAB`, else
    softmax). `cutoffs` are the first ids of the adaptive clusters ([] = chosen from the
    training counts). A run records what `auto` chose.

    Regularisation, in training only (`rnnkit.lm.model.RNNLM`): `dropout` is plain dropout
    (a fresh mask per element and step) on the embedding output, between layers and before
    the output layer; the AWD-LSTM regularisers add `weight_drop` (DropConnect on the
    hidden-to-hidden weights), `locked_dropout` (one mask per sequence on the core's input
    and output) and `embedding_dropout` (whole tokens' embeddings dropped).
    """

    embedding_dim: int = key(0, "embedding size", low=0, high=MAX_WIDTH, hint="0 = hidden_size")
    input_mode: InputMode = key("embedding", "embedding or onehot")
    tie_weights: bool = key(False, "tie input/output")
    output: Output = key("auto", "softmax, adaptive, or auto (adaptive for big word vocabularies)")
    cutoffs: list[int] = key([], "first ids of the adaptive clusters ([] = chosen)", low=1)
    weight_drop: float = key(0.0, "DropConnect on the hidden-to-hidden weights", **_fraction())
    locked_dropout: float = key(0.0, "one dropout mask per sequence", **_fraction())
    embedding_dropout: float = key(0.0, "whole tokens' embeddings dropped", **_fraction())


@dataclass
class TrainConfig(Table):
    """The optimisation of a language model: when to stop, how to step, where to run.

    A run stops at the first of its limits: `epochs`, `max_steps`, `time_budget` and
    `patience` (evaluations without a better validation loss); 0 turns each off, and at
    least one must be on. The schedule decays over whichever of them is furthest along.

    `time_budget` is the wall-clock time from the first training step to the summary line:
    evaluations, checkpoints and samples count, and the loop stops early enough to pay for
    the run's end (the longest evaluation so far, with its checkpoints and samples; under a
    budget one evaluation reads at most the validation tokens 5% of the budget allows).
    Reading and preparing the corpus (and the recipe's speed probe) come before it and are
    reported apart; `--resume` continues the same clock. `threads = 0` adapts the count to
    the machine as it is (`rnnkit.training.threads`), `N > 0` fixes it.
    """

    NAME: ClassVar[str] = "train"
    epochs: int = key(10, "passes over the training text", low=0, hint="0 = no limit")
    max_steps: int = key(0, "stop after N optimizer steps", low=0, hint="0 = off")
    time_budget: float = key(
        0.0, "stop after N wall-clock seconds of training", low=0, hint=_SECONDS
    )
    optimizer: OptimizerName = key("adam", "sgd, adam or adamw")
    lr: float = key(2e-3, "learning rate", low=0, low_open=True)
    weight_decay: float = key(0.0, "weight decay", low=0)
    schedule: Schedule = key("constant", "constant, cosine or step")
    warmup_steps: int = key(0, "steps of linear warm-up", low=0)
    clip: float = key(1.0, "clip gradients to this global norm", low=0, hint="0 = off")
    eval_every: int = key(1, "epochs between evaluations", low=1)
    patience: int = key(0, "early stopping after N evaluations without gain", low=0, hint="0 = off")
    seed: int = key(0, "random seed", low=0, high=MAX_SEED)
    threads: int = key(0, "torch threads", low=0, high=MAX_THREADS, hint=_ADAPTIVE)
    device: Device = key("auto", "auto, cpu or cuda")
    precision: Precision = key("fp32", "fp32, or bf16 autocast for the training step")


@dataclass
class GenerateConfig(Table):
    """Samples written during training: `prefixes = []` takes them from the corpus (the
    starts of a few validation lines, `rnnkit.text.corpora.corpus_prefixes`). A preset's own
    prefixes apply to its own source only (`rnnkit.config.resolve.own_prefixes`)."""

    NAME: ClassVar[str] = "generate"
    prefixes: list[str] = key([], "texts to continue ([] = from the corpus)")
    length: int = key(100, "tokens per sample", low=1, high=100_000)
    temperature: float = key(1.0, "0 means greedy", low=0, hint="0 = greedy")
    top_k: int = key(0, "sample from the k most likely", low=0, high=2**31 - 1, hint=_ALL_TOKENS)
    top_p: float = key(
        1.0, "nucleus sampling mass", low=0, high=1, low_open=True, hint="1 keeps every token"
    )
    every: int = key(1, "epochs between samples", low=0, hint="epochs between samples; 0 = off")


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
    smoothing part alone) or `auto` (the best of those, the references and their
    combination on `origins` rolling origins, `rnnkit.forecast.select`). `"auto"`
    for `transform`, `log` and `method` (like `0` for the sizes and the season) means
    "chosen from the series" (`rnnkit.forecast.auto`); the presets pin theirs.
    """

    NAME: ClassVar[str] = "series"
    source: str = key("", "sine, noisy-sine, sunspots, co2 or a CSV path")
    target: list[str] = key([], "CSV target column(s) ([] = all numeric)")
    time_col: str = key("", "CSV time column")
    covariates: list[str] = key([], "CSV covariate column(s)")
    lookback: int = key(0, "points of history each forecast reads", low=0, hint=_FROM_SERIES)
    horizon: int = key(0, "points to forecast (and hold out)", low=0, hint=_FROM_SERIES)
    scaler: Scaler = key("standard", "scaling fit on the training part")
    strategy: Strategy = key("autoregressive", "one step at a time, or one multi-step head")
    transform: Transform = key("auto", "first differences or per-window levels")
    log: LogTransform = key("auto", "logarithms of a positive target first")
    method: Method = key("auto", "the network, the ES-RNN hybrid, smoothing alone, or the best")
    likelihood: Likelihood = key("gaussian", "gaussian gives intervals")
    season: int = key(0, "season length for seasonal naive and MASE", low=0, hint="0 infers it")
    fill: Fill = key("none", "what to do with missing CSV cells")
    batch_size: int = key(32, "training windows per batch", low=1)
    val_size: int = key(
        0, "tail kept out of training", low=0, hint="0 = min(horizon, a fifth of the history)"
    )
    skip: int = key(0, "points skipped at the start of the series", low=0)
    refit: bool = key(True, "refit on all history after validation")
    init_std: float = key(
        0.0, "draw each parameter from N(0, init_std)", low=0, hint="0 = the default initialisation"
    )
    carry_state: bool = key(False, "carry the state from batch to batch")
    references: References = key("all", "classical forecasts scored beside the network")
    origins: int = key(
        0,
        "rolling origins the automatic choice scores candidates on",
        low=0,
        hint="0 = 3 where the history allows",
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON and checkpoint friendly)."""
        return dataclasses.asdict(self)


@dataclass
class ForecastModelConfig(CoreConfig):
    """The forecaster's recurrent core (its input and output layers follow the series);
    series are small, so the core is too."""

    hidden_size: int = 32


@dataclass
class ForecastTrainConfig(Table):
    """The optimisation of a forecaster: only the keys `rnnkit.forecast` reads (no time
    budget, evaluation interval or bf16: a forecast evaluates every epoch, in fp32). Short
    series want more epochs than text; small matrices one thread."""

    NAME: ClassVar[str] = "train"
    epochs: int = key(150, "passes over the training windows", low=0, hint="0 = no limit")
    max_steps: int = key(0, "stop after N optimizer steps", low=0, hint="0 = off")
    optimizer: OptimizerName = key("adam", "sgd, adam or adamw")
    lr: float = key(3e-3, "learning rate", low=0, low_open=True)
    weight_decay: float = key(0.0, "weight decay", low=0)
    schedule: Schedule = key("cosine", "constant, cosine or step")
    warmup_steps: int = key(0, "steps of linear warm-up", low=0)
    clip: float = key(1.0, "clip gradients to this global norm", low=0, hint="0 = off")
    patience: int = key(0, "early stopping after N epochs without gain", low=0, hint="0 = off")
    seed: int = key(0, "random seed (of the first fit)", low=0, high=MAX_SEED)
    threads: int = key(0, "torch threads", low=0, high=MAX_THREADS, hint=_ADAPTIVE)
    device: Device = key("auto", "auto, cpu or cuda")


@dataclass
class InferenceConfig(Table):
    """How `rnnkit generate` and `rnnkit eval` run a trained model (flags only; no config
    file sets it). On the CPU by default, as `rnnkit.load`: a trained model is small, and
    training is where a GPU pays (`train.device = "auto"`)."""

    NAME: ClassVar[str] = "inference"
    device: Device = key("cpu", "auto, cpu or cuda (an ONNX export runs on the cpu)")
    threads: int = key(
        0, "torch / onnxruntime threads", low=0, high=MAX_THREADS, hint=_TORCH_THREADS
    )


@dataclass
class ServeConfig(InferenceConfig):
    """How `rnnkit serve` runs: the inference keys (one thread per request suits small
    models), the address and the request pool."""

    NAME: ClassVar[str] = "serve"
    threads: int = 1
    host: str = key("127.0.0.1", "address to bind (a loopback address serves this machine only)")
    port: int = key(8000, "port", low=0, high=65535, hint="0 = any free port")
    workers: int = key(2, "requests generating at once", low=1)
    queue_size: int = key(128, "requests that may wait (then 429)", low=0)


class _Config:
    """What every task's config shares: named tables, a `preset` name, the automatic
    choice's mode and note, dict round trips."""

    TASK: ClassVar[Task] = "lm"
    SOURCE_TABLE: ClassVar[str] = "data"  # the table whose `source` the SOURCE argument sets
    NOT_TABLES: ClassVar[tuple[str, ...]] = ("preset", "recipe", "recipe_note", "pinned")
    # The values that mark a key as not set, to be chosen (`table.key` -> value).
    UNSET: ClassVar[dict[str, object]] = {}
    preset: str
    recipe: Recipe
    recipe_note: str
    pinned: list[str]

    def is_unset(self, key: str) -> bool:
        """Whether `key` (`table.key`) holds its `UNSET` marker (it asks for a choice)."""
        table, _, name = key.partition(".")
        return key in self.UNSET and getattr(getattr(self, table), name) == self.UNSET[key]

    def chooses(self, key: str) -> bool:
        """Whether the automatic recipe chooses `key` (`table.key`): `recipe` is `auto`
        and the user did not pin it."""
        return self.recipe == "auto" and key not in self.pinned

    @classmethod
    def tables(cls) -> tuple[str, ...]:
        """The names of the config's tables, in order."""
        names = (f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return tuple(n for n in names if n not in cls.NOT_TABLES)

    @classmethod
    def table_types(cls) -> dict[str, type[Table]]:
        """Each table's name and class."""
        types = hints(cls)
        return {name: types[name] for name in cls.tables()}

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON and checkpoint friendly)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], raw: dict[str, Any]) -> C:
        """Build from a nested dict (a saved config); unknown tables or keys are errors. A
        `recipe` saved as a sentence (before `recipe_note`) loads as `fixed` plus the note."""
        from rnnkit.config.resolve import update

        raw = dict(raw)
        recipe = raw.get("recipe")
        if isinstance(recipe, str) and recipe not in ("auto", "fixed"):
            raw["recipe"], raw["recipe_note"] = "fixed", raw.get("recipe_note") or recipe
        cfg = cls()
        update(cfg, raw)
        return cfg


C = TypeVar("C", bound=_Config)


@dataclass
class RunConfig(_Config):
    """A language-model run: the four tables plus the preset it started from.

    `recipe = "auto"`: the automatic recipe (`rnnkit.lm.recipe`) chooses the keys not in
    `pinned` (those the user's flags and `--set` give) when the run starts; it then becomes
    `fixed`, and `recipe_note` the line that says what and why ("" = no recipe).
    """

    TASK: ClassVar[Task] = "lm"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    preset: str = ""
    recipe: Recipe = "fixed"
    recipe_note: str = ""
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
    nothing about; the built-in sources have presets named `forecast-<source>`. `recipe`
    is `auto` until `rnnkit.forecast.auto` has chosen the `UNSET` keys that are not pinned
    (from the series, when the run starts); `recipe_note` is the line that says what.
    """

    TASK: ClassVar[Task] = "forecast"
    SOURCE_TABLE: ClassVar[str] = "series"
    UNSET: ClassVar[dict[str, object]] = {
        "series.season": 0,
        "series.horizon": 0,
        "series.lookback": 0,
        "series.log": "auto",
        "series.transform": "auto",
        "series.method": "auto",
        "series.origins": 0,
        "series.val_size": 0,
    }
    series: SeriesConfig = field(default_factory=SeriesConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: ForecastTrainConfig = field(default_factory=ForecastTrainConfig)
    preset: str = ""
    recipe: Recipe = "auto"
    recipe_note: str = ""
    pinned: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ForecastConfig:
        """Build from a nested dict (a saved config); unknown tables or keys are errors. A
        config saved before `recipe` had made its choices (`fixed`). One saved before the
        forecast's own train table drops the keys it never read
        (`LEGACY_FORECAST_TRAIN_KEYS`), and its `threads = 0` (then one thread) is 1."""
        raw = {"recipe": "fixed", **raw}
        train = raw.get("train")
        if isinstance(train, dict) and any(k in train for k in LEGACY_FORECAST_TRAIN_KEYS):
            train = {k: v for k, v in train.items() if k not in LEGACY_FORECAST_TRAIN_KEYS}
            train["threads"] = train.get("threads") or 1
            raw = {**raw, "train": train}
        return super().from_dict(raw)


# ------------------------------------------------------------------ classification
@dataclass
class ClassifyDataConfig(Table):
    """What to classify: `source` (a `.ts` file, a CSV/TSV table, a folder of IDX images or
    of class subfolders of texts, or `digits` / `first-names` / `fashion-mnist`), its test
    part and how the validation part is carved.

    `test = ""` takes the `NAME_TEST.ts` beside a `NAME_TRAIN.ts`, a folder's own test part
    (IDX `t10k` files, a `test/` subfolder), a named dataset's own split, or a stratified
    80/20 split (seeded by `train.seed`). `val_fraction` of the training part (stratified)
    selects the epoch; the test part only scores.
    `references` fits the classical references beside the network (`rnnkit.classify.
    references`: majority, TF-IDF + logistic regression, MiniRocket or its fallback).
    """

    NAME: ClassVar[str] = "data"
    source: str = key(
        "",
        "a .ts file, a CSV/TSV table, an IDX or class folder, digits, first-names or fashion-mnist",
    )
    test: str = key(
        "", "a test file or folder ('' = the paired _TEST.ts, the data's own, or 80/20)"
    )
    label_col: str = key("", "the label column ('' = label, class or target; column 0)")
    level: Level = key("char", "text tokens: char or word")
    val_fraction: float = key(
        0.2, "stratified validation part of the training part", low=0.01, high=0.5
    )
    references: ClassReferences = key("auto", "classical references scored beside: auto or none")


@dataclass
class ClassifyModelConfig(Table):
    """The classifier (`rnnkit.classify.model.SequenceClassifierNet`): a recurrent core over
    an embedding (text) or standardised channels (series, read `patch` steps at a time),
    pooled over time, then a linear layer. The automatic recipe chooses the keys not pinned
    (`rnnkit.classify.recipe`); the defaults are its usual choice."""

    NAME: ClassVar[str] = "model"
    kind: Kind = key("gru", "rnn, gru or lstm")
    impl: Impl = key("torch", "torch, scratch or fused (all mask padding)")
    hidden_size: int = key(64, "hidden units per layer and direction", low=1, high=MAX_WIDTH)
    num_layers: int = key(1, "stacked recurrent layers", low=1, high=MAX_LAYERS)
    bidirectional: bool = key(True, "read each sequence both ways")
    pooling: Pooling = key("max", "over time: last, mean, max or attention")
    dropout: float = key(0.1, "dropout probability", **_fraction())
    embed_size: int = key(64, "token embedding size (text)", low=1, high=MAX_WIDTH)
    patch: int = key(1, "series steps read as one input (numeric)", low=1, high=4096)


@dataclass
class ClassifyTrainConfig(Table):
    """The optimisation of a classifier: each of `seeds` seeds gets the whole
    `time_budget` on the same split; a fit stops at the budget, `max_epochs` or `patience`
    epochs without a lower validation loss (0 turns each off; one must be on). Small
    recurrent models run fastest on one thread."""

    NAME: ClassVar[str] = "train"
    time_budget: float = key(120.0, "seconds of training per seed", low=0, hint=_SECONDS)
    max_epochs: int = key(0, "passes over the training part", low=0, hint="0 = no limit")
    batch_size: int = key(32, "sequences per batch", low=1, high=65_536)
    optimizer: OptimizerName = key("adamw", "sgd, adam or adamw")
    lr: float = key(3e-3, "learning rate", low=0, low_open=True, high=10)
    weight_decay: float = key(1e-4, "weight decay", low=0)
    clip: float = key(1.0, "clip gradients to this global norm", low=0, hint="0 = off")
    warmup_steps: int = key(20, "steps of linear warm-up", low=0)
    patience: int = key(30, "early stopping after N epochs without gain", low=0, hint="0 = off")
    class_weights: ClassWeights = key("auto", "loss weights: auto (when imbalanced), balanced")
    seed: int = key(0, "random seed (of the split and the first fit)", low=0, high=MAX_SEED)
    seeds: int = key(1, "fits with seeds seed, seed + 1, ... (median reported)", low=1, high=1000)
    threads: int = key(0, "torch threads", low=0, high=MAX_THREADS, hint=_ADAPTIVE)
    device: Device = key("auto", "auto, cpu or cuda")


@dataclass
class ClassifyConfig(_Config):
    """A classification run: the `data`, `model` and `train` tables.

    `recipe = "auto"`: the automatic recipe (`rnnkit.classify.recipe`) chooses the model
    and optimisation keys not in `pinned` (those the user's layers give) from the
    training part and the budget when the run starts; it then becomes `fixed`, and
    `recipe_note` the line that says what and why.
    """

    TASK: ClassVar[Task] = "classify"
    data: ClassifyDataConfig = field(default_factory=ClassifyDataConfig)
    model: ClassifyModelConfig = field(default_factory=ClassifyModelConfig)
    train: ClassifyTrainConfig = field(default_factory=ClassifyTrainConfig)
    preset: str = ""
    recipe: Recipe = "auto"
    recipe_note: str = ""
    pinned: list[str] = field(default_factory=list)
