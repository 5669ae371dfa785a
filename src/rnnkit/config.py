"""Configuration: typed dataclass tables, TOML presets and files, `--set table.key=value`.

One engine serves both tasks. A language-model run (`RunConfig`) has the tables `data`,
`model`, `train` and `generate`; a forecast (`ForecastConfig`) has `series`, `model` (its
own `ForecastModelConfig`) and `train`. Every table is a `Table`: each assignment, from a
preset, a config file, `--set` or Python, is converted to the field's type and checked, and
every closed choice is a `Literal` whose members are the valid values. Unknown keys are
errors that list the valid ones.

A value of 0 means "off" for the optional numeric keys (`max_tokens`, `max_steps`,
`time_budget`, `patience`, `top_k`, `embedding_dim` = same as `hidden_size`), because TOML
has no null.

Layering, for `rnnkit train` and `rnnkit forecast` alike: the task's defaults, then a
preset (shipped TOML file), then `--config FILE`, then the SOURCE argument, then `--set`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
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

Task = Literal["lm", "forecast"]
Level = Literal["char", "word"]
Normalize = Literal["none", "d2l", "newlines"]
Sampling = Literal["sequential", "random"]
EncodingErrors = Literal["strict", "replace", "ignore"]
Kind = Literal["rnn", "gru", "lstm"]
Impl = Literal["torch", "scratch", "fused"]
InputMode = Literal["embedding", "onehot"]
OptimizerName = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "cosine", "step"]
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["fp32", "bf16"]
Scaler = Literal["standard", "minmax", "none"]
Strategy = Literal["direct", "autoregressive"]
Transform = Literal["none", "diff", "window"]
Likelihood = Literal["gaussian", "mse"]
Fill = Literal["none", "linear", "ffill", "zero", "drop"]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _coerce(path: str, value: Any, typ: Any) -> Any:
    """Convert `value` to the field type `typ`, or raise naming the key and the fix."""
    origin = get_origin(typ)
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
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if typ is str:
            return str(value)
        if origin is list:
            (inner,) = get_args(typ)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v != ""] if inner is not str else [value]
            return [_coerce(path, v, inner) for v in value]
    except ConfigError:
        raise
    except (TypeError, ValueError):
        pass
    name = getattr(typ, "__name__", str(typ))
    raise ConfigError(f"{path} = {value!r} is not a valid {name}; fix the value in your config")


class Table:
    """A config table: assigning a field converts the value to its type and checks it."""

    NAME: ClassVar[str] = ""

    def __setattr__(self, key: str, value: Any) -> None:
        types = _hints(type(self))
        if key not in types or key == "NAME":
            raise ConfigError(
                f"unknown config key {self.NAME}.{key}; valid keys: "
                + ", ".join(f"{self.NAME}.{k}" for k in self.keys())
            )
        super().__setattr__(key, _coerce(f"{self.NAME}.{key}", value, types[key]))

    @classmethod
    def keys(cls) -> list[str]:
        """The table's keys, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]


@dataclass
class DataConfig(Table):
    """Where the text comes from, how it becomes tokens and how it is cut into batches.

    `min_freq` and `max_size` bound the vocabulary (rarer tokens, or those past the
    `max_size` most frequent, become `<unk>`; 0 = no cap); `nfc` composes the text to
    Unicode NFC first; `word_regex` (word level) is the regular expression whose matches
    are the tokens ("" = split on whitespace); `encoding_errors` says what to do with
    bytes that are not UTF-8.
    """

    NAME: ClassVar[str] = "data"
    source: str = "python-docs"
    level: Level = "char"
    normalize: Normalize = "none"
    max_tokens: int = 0
    split: list[float] = field(default_factory=lambda: [0.9, 0.05, 0.05])
    sampling: Sampling = "sequential"
    batch_size: int = 32
    num_steps: int = 35
    min_freq: int = 1
    max_size: int = 0
    nfc: bool = False
    word_regex: str = ""
    encoding_errors: EncodingErrors = "strict"


@dataclass
class CoreConfig(Table):
    """The recurrent core both tasks build (`rnnkit.nn.recurrent.build_rnn`): its kind,
    implementation and sizes. The `model` tables of both tasks start with these keys."""

    NAME: ClassVar[str] = "model"
    kind: Kind = "lstm"
    impl: Impl = "torch"
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0


@dataclass
class ModelConfig(CoreConfig):
    """The language model's architecture: the core, then the input and output layers."""

    embedding_dim: int = 0
    input_mode: InputMode = "embedding"
    tie_weights: bool = False


@dataclass
class TrainConfig(Table):
    """The optimisation: when to stop, how to step, where to run."""

    NAME: ClassVar[str] = "train"
    epochs: int = 10
    max_steps: int = 0
    time_budget: float = 0.0
    optimizer: OptimizerName = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    warmup_steps: int = 0
    clip: float = 1.0
    eval_every: int = 1
    patience: int = 0
    seed: int = 0
    threads: int = 0
    device: Device = "auto"
    precision: Precision = "fp32"


@dataclass
class GenerateConfig(Table):
    """Samples written during training."""

    NAME: ClassVar[str] = "generate"
    prefixes: list[str] = field(default_factory=lambda: ["The "])
    length: int = 100
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    every: int = 1


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
    """

    NAME: ClassVar[str] = "series"
    source: str = ""
    target: list[str] = field(default_factory=list)
    time_col: str = ""
    covariates: list[str] = field(default_factory=list)
    lookback: int = 0
    horizon: int = 0
    scaler: Scaler = "standard"
    strategy: Strategy = "autoregressive"
    transform: Transform = "none"
    likelihood: Likelihood = "gaussian"
    season: int = 0
    fill: Fill = "none"
    batch_size: int = 32
    val_size: int = 0
    skip: int = 0
    refit: bool = True
    init_std: float = 0.0
    carry_state: bool = False

    def check(self) -> SeriesConfig:
        """Raise `ConfigError` for a negative size (the choices are checked when set)."""
        for key in ("lookback", "horizon", "season", "val_size"):
            if getattr(self, key) < 0:
                raise ConfigError(f"series.{key} must be >= 0, got {getattr(self, key)}")
        if self.batch_size < 1:
            raise ConfigError(f"series.batch_size must be >= 1, got {self.batch_size}")
        return self

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
    preset: str

    @classmethod
    def tables(cls) -> tuple[str, ...]:
        """The names of the config's tables, in order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "preset")

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
    """A language-model run: the four tables plus the preset it started from."""

    TASK: ClassVar[Task] = "lm"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    preset: str = ""


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
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
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
) -> RunConfig:
    """Layer a run's configuration: preset (or `default`), config file, SOURCE, `--set`."""
    return _layered(RunConfig(), source, preset or "default", config_file, overrides)


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
    cfg = _layered(ForecastConfig(), source, preset, config_file, overrides)
    cfg.series.check()
    return cfg


def forecast_config(source: str = "", **tables: dict[str, Any]) -> ForecastConfig:
    """A forecast config for Python callers: `resolve_forecast(source)`, then `tables`.

    Example: `forecast_config("sunspots", model={"kind": "gru"}, series={"horizon": 10})`.
    """
    cfg = resolve_forecast(source or None)
    update(cfg, {k: v for k, v in tables.items() if v})
    cfg.series.check()
    return cfg


def to_json(cfg: _Config) -> str:
    """The resolved config as indented JSON (`config.json` in a run folder)."""
    return json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False)
