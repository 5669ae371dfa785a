"""Resolution: a config is the task's defaults with an ordered list of layers applied.

Every command resolves the same way, later layers winning::

    preset -> --config FILE -> SOURCE -> flags -> --set

Each `Layer` is a plain mapping of `table.key` to a value (plus, from a preset or a saved
config, the top-level `preset`, `task`, `recipe`, `recipe_note` and `pinned`). The keys a
user pinned are the keys of the layers they chose (`pinned_keys`: preset, `--config`,
flags, `--set`; a key given its `UNSET` value asks for the choice instead); the automatic
recipe chooses the others (`_Config.chooses`). A language-model run adds two named steps:

* `starting_preset`, the words switch: without `--preset`, a run starts from the
  `default` preset, or from `words` when the layers above make its level `word` (or its
  SOURCE is a folder prepared at word level);
* `recipe_applies`, the automatic recipe's rule: without `--preset` and `--config`, a
  character-level run sets `recipe = "auto"`, so the keys it does not pin are chosen from
  the corpus when the run starts (`rnnkit.lm.recipe`).

A preset's sample prefixes belong to its own source (`own_prefixes`). `resume_config`
continues a saved run: its `config.json` as it was, then the user's layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rnnkit.config.fields import Recipe, Task, coerce
from rnnkit.config.presets import (
    DEFAULT_PRESET,
    WORD_PRESET,
    check_task,
    load_toml,
    parse_value,
    preset_raw,
    source_preset,
)
from rnnkit.config.tables import C, ClassifyConfig, ForecastConfig, RunConfig, _Config
from rnnkit.errors import CheckpointError, ConfigError

LayerKind = Literal["preset", "config", "source", "flags", "set"]
# The order of the layers, the same for every command: later wins.
LAYER_ORDER: tuple[LayerKind, ...] = ("preset", "config", "source", "flags", "set")
# The layers whose keys a user pinned (the automatic choices never change them).
PINNING: tuple[LayerKind, ...] = ("preset", "config", "flags", "set")


@dataclass(frozen=True)
class Layer:
    """One layer of a config: `values` maps `table.key` (or a top-level name) to a value;
    an error about a key calls it `names[key]` when given (the flag the user typed), else
    `table.key`."""

    kind: LayerKind
    values: Mapping[str, Any]
    names: Mapping[str, str] = field(default_factory=dict)


def flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A nested `{table: {key: value}}` mapping (a TOML file, a saved config) as the flat
    `{"table.key": value}` of a layer; top-level names that are not tables stay as they are
    (an empty table too, so that an unknown one is still an error)."""
    flat: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping) and value:
            flat.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    return flat


def _apply_top(cfg: _Config, name: str, value: Any) -> None:
    """A top-level name of a layer: `preset`, `task` (must be the config's), `recipe`,
    `recipe_note`, `pinned`, or an empty table."""
    if name == "task":
        check_task(str(value), cfg.TASK, "this config")
    elif name in ("preset", "recipe_note") or (name in cfg.NOT_TABLES and hasattr(cfg, name)):
        if name == "pinned":
            cfg.pinned = [str(v) for v in value]
        else:
            setattr(cfg, name, coerce(name, value, Recipe) if name == "recipe" else str(value))
    elif name not in cfg.tables():
        tables = ", ".join(cfg.tables())
        raise ConfigError(f"unknown config table {name!r}; valid tables: {tables}")
    elif not (isinstance(value, Mapping) and not value):
        raise ConfigError(f"config table {name!r} must be a table of key = value pairs")


def set_key(cfg: _Config, name: str, value: Any, spelled: str | None = None) -> None:
    """Set `table.key` of `cfg` to `value`; an error calls it `spelled` (a CLI flag) if given."""
    table, _, attr = name.partition(".")
    if table not in cfg.tables():
        raise ConfigError(
            f"unknown config table {table!r}; valid tables: {', '.join(cfg.tables())}"
        )
    getattr(cfg, table).assign(attr, value, spelled)


def apply_layer(cfg: C, layer: Layer) -> C:
    """Apply `layer`'s values to `cfg` in place, in order; returns `cfg`."""
    for name, value in layer.values.items():
        if "." in name:
            set_key(cfg, name, value, layer.names.get(name))
        else:
            _apply_top(cfg, name, value)
    return cfg


def update(cfg: C, raw: Mapping[str, Any]) -> C:
    """Apply a nested dict of `{table: {key: value}}` to `cfg` in place.

    A top-level `preset` names the preset; a top-level `task` (as preset files carry) must
    be the config's task.
    """
    return apply_layer(cfg, Layer("config", flatten(raw)))


# ------------------------------------------------------------------ the layers
def preset_layer(name: str, task: Task) -> Layer:
    """The shipped preset `name` (for `task`), naming itself in the config's `preset`."""
    raw = dict(preset_raw(name))
    check_task(str(raw.pop("task", "lm")), task, f"preset {name!r}")
    return Layer("preset", {**flatten(raw), "preset": name})


def file_layer(path: str | Path) -> Layer:
    """The TOML file `path` (`--config FILE`)."""
    return Layer("config", flatten(load_toml(path)))


def source_layer(cls: type[_Config], source: str) -> Layer:
    """The SOURCE argument: the `source` key of the task's source table."""
    return Layer("source", {f"{cls.SOURCE_TABLE}.source": source})


def set_layer(assignments: Sequence[str]) -> Layer:
    """The `table.key=value` strings of `--set`, values read as TOML (else as text)."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        table, dot, attr = name.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(
                f"override {item!r} must look like table.key=value (e.g. model.hidden_size=512)"
            )
        values.pop(f"{table}.{attr}", None)  # the last one given wins, in its place
        values[f"{table}.{attr}"] = parse_value(text.strip())
    return Layer("set", values)


def user_layers(
    cls: type[_Config],
    config_file: str | Path | None = None,
    source: str | None = None,
    flags: Layer | None = None,
    overrides: Sequence[str] | None = None,
) -> list[Layer]:
    """The layers above the preset, in order: `--config FILE`, SOURCE, flags, `--set`."""
    layers = [file_layer(config_file)] if config_file else []
    layers += [source_layer(cls, source)] if source else []
    layers += [flags] if flags is not None and flags.values else []
    return layers + ([set_layer(overrides)] if overrides else [])


def apply_layers(cfg: C, layers: Sequence[Layer]) -> C:
    """Apply `layers` to `cfg` in place; they must come in `LAYER_ORDER`."""
    ranks = [LAYER_ORDER.index(layer.kind) for layer in layers]
    if ranks != sorted(ranks):
        kinds = ", ".join(layer.kind for layer in layers)
        raise ValueError(f"layers must come in the order {', '.join(LAYER_ORDER)}; got {kinds}")
    for layer in layers:
        apply_layer(cfg, layer)
    return cfg


def build(cls: type[C], layers: Sequence[Layer]) -> C:
    """`cls()` (the task's defaults) with `layers` applied, in `LAYER_ORDER`."""
    return apply_layers(cls(), layers)


def pinned_keys(cfg: _Config, layers: Sequence[Layer]) -> list[str]:
    """The `table.key` names the `PINNING` layers of `layers` give, table by table (in the
    config's order), each table's keys sorted; a key whose resolved value is its `UNSET`
    marker (`--season 0`) is left to the choice."""
    given = {k for layer in layers if layer.kind in PINNING for k in layer.values if "." in k}
    given = {k for k in given if not cfg.is_unset(k)}
    order = {name: i for i, name in enumerate(cfg.tables())}
    return sorted(given, key=lambda k: (order.get(k.partition(".")[0], len(order)), k))


# ------------------------------------------------------------------ language models
def prepared_level(source: str) -> str:
    """The level of a folder written by `rnnkit prepare` ("" for any other source); read
    from its manifest here, as this package imports no text code."""
    if not source:
        return ""
    manifest = Path(source).expanduser() / "manifest.json"
    try:
        level = json.loads(manifest.read_text(encoding="utf-8")).get("level", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return str(level)


def starting_preset(layers: Sequence[Layer]) -> str:
    """The words switch: the preset a run without `--preset` starts from, `words` when
    `layers` (above the preset) make its level `word` or its SOURCE is a folder prepared at
    word level, else `default`."""
    cfg = build(RunConfig, [preset_layer(DEFAULT_PRESET, "lm"), *layers])
    word = "word" in (cfg.data.level, prepared_level(cfg.data.source))
    return WORD_PRESET if word else DEFAULT_PRESET


def recipe_applies(preset: str | None, config_file: str | Path | None, start: str) -> bool:
    """The automatic recipe's rule: it chooses the unpinned keys of a run given neither a
    preset nor a config file, at character level (a run that starts from `default`)."""
    return preset is None and config_file is None and start == DEFAULT_PRESET


def own_prefixes(cfg: RunConfig, preset: str) -> None:
    """A preset's sample prefixes belong to its own source: on another source, prefixes
    left as the preset set them become [] (taken from the corpus)."""
    own = load_preset(preset)
    if cfg.data.source != own.data.source and cfg.generate.prefixes == own.generate.prefixes:
        cfg.generate.prefixes = []


def load_preset(name: str) -> RunConfig:
    """The shipped language-model preset `name` as a `RunConfig`."""
    return build(RunConfig, [preset_layer(name, "lm")])


def resolve(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
    flags: Layer | None = None,
) -> RunConfig:
    """A language-model run's configuration: the preset (`preset`, else `starting_preset`),
    `config_file`, `source`, `flags` (a `Layer` of kind `flags`), then `overrides` (`--set`);
    `recipe = "auto"` and `pinned` when `recipe_applies`."""
    user = user_layers(RunConfig, config_file, source, flags, overrides)
    start = preset or starting_preset(user)
    cfg = build(RunConfig, [preset_layer(start, "lm"), *user])
    own_prefixes(cfg, start)
    if recipe_applies(preset, config_file, start):
        cfg.recipe, cfg.pinned = "auto", pinned_keys(cfg, user)
    return cfg


def resume_config(run_dir: str | Path, overrides: Sequence[Layer] = ()) -> RunConfig:
    """The config a resumed run continues with: the one saved in `run_dir` (its `last.pt`,
    the recipe's choice and note as made), then `overrides` (config file, SOURCE, flags,
    `--set` layers; a preset layer is refused: a resumed run keeps its own)."""
    return _resumed(RunConfig, run_dir, overrides, "a language model")


def _resumed(cls: type[C], run_dir: str | Path, overrides: Sequence[Layer], what: str) -> C:
    """The `cls` config saved in `run_dir`'s `last.pt`, then `overrides` (no preset).

    Raises:
        ConfigError: a preset layer among `overrides`.
        CheckpointError: the checkpoint is another task's (`what` names the wanted one).
    """
    from rnnkit.checkpoint import load_checkpoint  # torch, only when resuming

    if any(layer.kind == "preset" for layer in overrides):
        raise ConfigError("a resumed run keeps its own config; leave out the preset")
    ckpt = load_checkpoint(run_dir, prefer="last")
    found = ckpt.get("task", "lm")
    if found != cls.TASK:
        raise CheckpointError(f"{run_dir} is a {found!r} checkpoint, not {what}")
    return apply_layers(cls.from_dict(ckpt["config"]), overrides)


# ------------------------------------------------------------------ forecasts
def resolve_forecast(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
    flags: Layer | None = None,
) -> ForecastConfig:
    """A forecast's configuration: generic defaults, preset, config file, SOURCE, `flags`,
    `--set`. Without `preset` or `config_file`, a built-in SOURCE brings its own preset
    (`preset = ""`: none). `pinned`: the keys of the preset and the user's layers."""
    if preset is None and config_file is None and source:
        preset = source_preset(source)
    layers = [preset_layer(preset, "forecast")] if preset else []
    layers += user_layers(ForecastConfig, config_file, source, flags, overrides)
    cfg = build(ForecastConfig, layers)
    if cfg.recipe == "auto":
        cfg.pinned = pinned_keys(cfg, layers)
    return cfg


def forecast_config(source: str = "", **tables: dict[str, Any]) -> ForecastConfig:
    """A forecast config for Python callers: `resolve_forecast(source)` with `tables` as
    its flag layer (so they are pinned).

    Example: `forecast_config("sunspots", model={"kind": "gru"}, series={"horizon": 10})`.
    """
    given = Layer("flags", flatten({k: v for k, v in tables.items() if v}))
    return resolve_forecast(source or None, flags=given)


# ------------------------------------------------------------------ classification
def resolve_classify(
    source: str | None = None,
    preset: str | None = None,
    config_file: str | None = None,
    overrides: list[str] | None = None,
    flags: Layer | None = None,
) -> ClassifyConfig:
    """A classification's configuration: the defaults, `preset`, `config_file`, SOURCE,
    `flags`, `--set`. `recipe` stays `auto` (the default) unless a layer fixes it; the keys
    of the preset and the user's layers are `pinned`, the recipe leaves them as given."""
    layers = [preset_layer(preset, "classify")] if preset else []
    layers += user_layers(ClassifyConfig, config_file, source, flags, overrides)
    cfg = build(ClassifyConfig, layers)
    if cfg.recipe == "auto":
        cfg.pinned = pinned_keys(cfg, layers)
    return cfg


def resume_classify(run_dir: str | Path, overrides: Sequence[Layer] = ()) -> ClassifyConfig:
    """The config a resumed classification continues with: the one saved in `run_dir`'s
    `last.pt` (the recipe's choice and note as made), then `overrides` (no preset)."""
    return _resumed(ClassifyConfig, run_dir, overrides, "a classifier")


def apply_overrides(cfg: C, assignments: list[str]) -> C:
    """Apply `table.key=value` strings (the `--set` flag) to `cfg` in place."""
    return apply_layer(cfg, set_layer(assignments))


def to_json(cfg: _Config) -> str:
    """The resolved config as indented JSON (`config.json` in a run folder)."""
    return json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False)
