"""Run configuration: four dataclass tables, TOML presets and files, `--set table.key=value`.

A value of 0 means "off" for the optional numeric keys (`max_tokens`, `max_steps`,
`time_budget`, `patience`, `top_k`, `embedding_dim` = same as `hidden_size`), because TOML
has no null.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from rnnkit.errors import RnnkitError

CHOICES: dict[str, tuple[str, ...]] = {
    "data.level": ("char", "word"),
    "data.normalize": ("none", "d2l", "newlines"),
    "data.sampling": ("sequential", "random"),
    "model.kind": ("rnn", "gru", "lstm"),
    "model.impl": ("torch", "scratch", "fused"),
    "model.input_mode": ("embedding", "onehot"),
    "train.optimizer": ("sgd", "adam", "adamw"),
    "train.schedule": ("constant", "cosine", "step"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.precision": ("fp32", "bf16"),
}


@dataclass
class DataConfig:
    """Where the text comes from and how it is cut into batches."""

    source: str = "python-docs"
    level: str = "char"
    normalize: str = "none"
    max_tokens: int = 0
    split: list[float] = field(default_factory=lambda: [0.9, 0.05, 0.05])
    sampling: str = "sequential"
    batch_size: int = 32
    num_steps: int = 35


@dataclass
class ModelConfig:
    """The language model's architecture."""

    kind: str = "lstm"
    impl: str = "torch"
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    embedding_dim: int = 0
    input_mode: str = "embedding"
    tie_weights: bool = False


@dataclass
class TrainConfig:
    """The optimisation: when to stop, how to step, where to run."""

    epochs: int = 10
    max_steps: int = 0
    time_budget: float = 0.0
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    clip: float = 1.0
    eval_every: int = 1
    patience: int = 0
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    precision: str = "fp32"


@dataclass
class GenerateConfig:
    """Samples written during training."""

    prefixes: list[str] = field(default_factory=lambda: ["The "])
    length: int = 100
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    every: int = 1


@dataclass
class RunConfig:
    """A whole run: the four tables plus the preset it started from."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    preset: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON and checkpoint friendly)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Build from a nested dict; unknown tables or keys are errors."""
        cfg = cls()
        update(cfg, raw)
        return cfg


TABLES = ("data", "model", "train", "generate")


def _field_types(obj: Any) -> dict[str, Any]:
    return get_type_hints(type(obj))


def _coerce(path: str, value: Any, typ: Any) -> Any:
    """Convert `value` to the field type `typ`, or raise naming the key."""
    origin = get_origin(typ)
    try:
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
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if typ is float:
            return float(value)
        if typ is str:
            value = str(value)
            if path in CHOICES and value not in CHOICES[path]:
                raise RnnkitError(
                    f"{path} = {value!r} is not valid; choose one of {', '.join(CHOICES[path])}"
                )
            return value
        if origin is list:
            (inner,) = get_args(typ)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v != ""] if inner is not str else [value]
            return [_coerce(path, v, inner) for v in value]
    except RnnkitError:
        raise
    except (TypeError, ValueError):
        pass
    name = getattr(typ, "__name__", str(typ))
    raise RnnkitError(f"{path} = {value!r} is not a valid {name}; fix the value in your config")


def update(cfg: RunConfig, raw: dict[str, Any]) -> RunConfig:
    """Apply a nested dict of `{table: {key: value}}` to `cfg` in place."""
    for table, values in raw.items():
        if table == "preset":
            cfg.preset = str(values)
            continue
        if table not in TABLES:
            raise RnnkitError(f"unknown config table {table!r}; valid tables: {', '.join(TABLES)}")
        if not isinstance(values, dict):
            raise RnnkitError(f"config table {table!r} must be a table of key = value pairs")
        section = getattr(cfg, table)
        types = _field_types(section)
        for key, value in values.items():
            if key not in types:
                raise RnnkitError(
                    f"unknown config key {table}.{key}; valid keys: "
                    + ", ".join(f"{table}.{k}" for k in types)
                )
            setattr(section, key, _coerce(f"{table}.{key}", value, types[key]))
    return cfg


def _parse_value(text: str) -> Any:
    """Read a `--set` value as TOML (numbers, booleans, lists), else as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: RunConfig, assignments: list[str]) -> RunConfig:
    """Apply `table.key=value` strings (the `--set` flag) to `cfg` in place."""
    for item in assignments:
        key, sep, text = item.partition("=")
        table, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise RnnkitError(
                f"--set {item!r} must look like table.key=value (e.g. model.hidden_size=512)"
            )
        update(cfg, {table: {name: _parse_value(text.strip())}})
    return cfg


def list_presets() -> list[str]:
    """Names of the presets shipped inside the package."""
    folder = resources.files("rnnkit") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, with clear errors for missing or broken files."""
    path = Path(path)
    if not path.is_file():
        raise RnnkitError(f"config file {path} does not exist; check the path")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RnnkitError(f"config file {path} is not valid TOML: {exc}") from None


def load_preset(name: str) -> RunConfig:
    """The shipped preset `name` as a `RunConfig`."""
    names = list_presets()
    if name not in names:
        raise RnnkitError(f"unknown preset {name!r}; available presets: {', '.join(names)}")
    text = (resources.files("rnnkit") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    cfg = RunConfig.from_dict(tomllib.loads(text))
    cfg.preset = name
    return cfg


def preset_description(name: str) -> str:
    """The first comment line of a preset file, used by `rnnkit presets`."""
    text = (resources.files("rnnkit") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def resolve(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """Layer a run's configuration: preset (or `default`), config file, SOURCE, `--set`."""
    cfg = load_preset(preset or "default")
    if config_file:
        update(cfg, load_toml(config_file))
    if source:
        cfg.data.source = source
    apply_overrides(cfg, overrides or [])
    return cfg


def to_json(cfg: RunConfig) -> str:
    """The resolved config as indented JSON (`config.json` in a run folder)."""
    return json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False)
