"""Config tables, presets, TOML files and --set overrides."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

import pytest

from rnnkit.cli import main
from rnnkit.config import (
    Bound,
    CoreConfig,
    ForecastConfig,
    ForecastModelConfig,
    GenerateConfig,
    ModelConfig,
    RunConfig,
    apply_overrides,
    check_value,
    field_bound,
    forecast_config,
    list_presets,
    load_preset,
    preset_task,
    resolve,
    resolve_forecast,
    set_key,
    to_json,
)
from rnnkit.config.tables import LEGACY_FORECAST_TRAIN_KEYS
from rnnkit.decode.options import LIMITS
from rnnkit.errors import ConfigError, RnnkitError


def test_shipped_presets_load_and_follow_the_book() -> None:
    assert {"default", "d2l-rnn", "d2l-deep-lstm", "d2l-jaychou", "timemachine"} <= set(
        list_presets()
    )
    rnn = load_preset("d2l-rnn")
    assert (rnn.data.max_tokens, rnn.data.batch_size, rnn.data.num_steps) == (10000, 32, 35)
    assert (rnn.model.kind, rnn.model.hidden_size, rnn.model.input_mode) == ("rnn", 256, "onehot")
    assert (rnn.train.optimizer, rnn.train.lr, rnn.train.clip, rnn.train.epochs) == (
        "sgd",
        1.0,
        1.0,
        500,
    )
    deep = load_preset("d2l-deep-lstm")
    assert (deep.model.kind, deep.model.num_layers, deep.train.lr) == ("lstm", 2, 2.0)
    jay = load_preset("d2l-jaychou")
    assert (jay.data.normalize, jay.train.clip, jay.train.epochs) == ("newlines", 0.01, 250)
    assert jay.generate.prefixes == ["分开", "不分开"]


def test_overrides_are_typed() -> None:
    cfg = apply_overrides(
        RunConfig(),
        [
            "model.hidden_size=512",
            "train.lr=0.5",
            "model.tie_weights=true",
            "data.split=[0.8,0.1,0.1]",
        ],
    )
    assert cfg.model.hidden_size == 512 and cfg.train.lr == 0.5 and cfg.model.tie_weights
    assert cfg.data.split == [0.8, 0.1, 0.1]
    cfg = apply_overrides(RunConfig(), ["generate.prefixes=['a', 'b']", "data.source=my text.txt"])
    assert cfg.generate.prefixes == ["a", "b"] and cfg.data.source == "my text.txt"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("model.hiden_size=3", "unknown config key model.hiden_size; valid keys: model.kind"),
        ("modle.kind=rnn", "unknown config table 'modle'"),
        ("model.kind=transformer", "choose one of rnn, gru, lstm"),
        ("model.hidden_size=big", "model.hidden_size must be an integer in [1, 65536], got 'big'"),
        ("model.tie_weights=maybe", "model.tie_weights = 'maybe' is not a valid bool"),
        ("hidden_size=3", "must look like table.key=value"),
    ],
)
def test_bad_overrides_name_the_problem(item: str, message: str) -> None:
    with pytest.raises(RnnkitError, match=re.escape(message)):
        apply_overrides(RunConfig(), [item])


def test_resolve_layers_preset_file_source_and_set(tmp_path: Path) -> None:
    file = tmp_path / "run.toml"
    file.write_text('[model]\nkind = "gru"\nhidden_size = 64\n[train]\nepochs = 3\n')
    cfg = resolve("some.txt", "d2l-rnn", str(file), ["train.epochs=7"])
    assert cfg.preset == "d2l-rnn" and cfg.data.source == "some.txt"
    assert (cfg.model.kind, cfg.model.hidden_size, cfg.train.epochs) == ("gru", 64, 7)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert '"kind": "gru"' in to_json(cfg)


def test_bad_files_and_presets(tmp_path: Path) -> None:
    with pytest.raises(RnnkitError, match="does not exist"):
        resolve(config_file=str(tmp_path / "missing.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\n")
    with pytest.raises(RnnkitError, match="not valid TOML"):
        resolve(config_file=str(broken))
    with pytest.raises(RnnkitError, match="unknown preset 'nope'; available presets: "):
        load_preset("nope")


# The forecasting defaults and per-source settings as they were before the two config
# engines became one (rnnkit.forecast.train's FORECAST_DEFAULTS and SOURCE_DEFAULTS).
OLD_FORECAST_DEFAULTS = {
    "series": {"lookback": 0, "horizon": 0, "strategy": "autoregressive"},
    "model": {"kind": "lstm", "hidden_size": 32, "num_layers": 1, "dropout": 0.0},
    "train": {"epochs": 150, "lr": 3e-3, "schedule": "cosine", "clip": 1.0, "weight_decay": 0.0},
}
OLD_SOURCE_DEFAULTS = {
    "sine": {
        "series": {
            "lookback": 1,
            "horizon": 49,
            "strategy": "autoregressive",
            "likelihood": "mse",
            "scaler": "none",
            "batch_size": 1,
            "init_std": 0.001,
            "carry_state": True,
            "refit": False,
        },
        "model": {"kind": "rnn", "hidden_size": 16},
        "train": {"max_steps": 6000, "lr": 0.01, "schedule": "constant", "clip": 0.0},
    },
    "noisy-sine": {"series": {"lookback": 32, "horizon": 400, "val_size": 100}},
    "sunspots": {"series": {"lookback": 20, "horizon": 30}},
    "co2": {"series": {"lookback": 24, "horizon": 60, "transform": "diff"}},
}


def _old_forecast_config(source: str) -> dict:
    """What the old engine resolved for `source` (generic tables, then the source's)."""
    cfg = ForecastConfig().to_dict()
    cfg.pop("preset")
    cfg.pop("pinned")
    # The forecast's own train table drops the keys it never read; its threads were 1, and
    # are adaptive now (issue 30: threads = 0 means adaptive for every task).
    old_train = RunConfig().to_dict()["train"] | {"threads": 0}
    cfg["train"] = {k: v for k, v in old_train.items() if k not in LEGACY_FORECAST_TRAIN_KEYS}
    cfg["model"].update(impl="torch")
    if source in OLD_SOURCE_DEFAULTS:  # the presets pin the old engine's choices: no "auto"
        cfg["series"].update(method="rnn", log="no", transform="none")
    for layer in (OLD_FORECAST_DEFAULTS, OLD_SOURCE_DEFAULTS.get(source, {})):
        for table, values in layer.items():
            cfg[table].update(values)
    cfg["series"]["source"] = source
    return cfg


@pytest.mark.parametrize("source", ["", "sine", "noisy-sine", "sunspots", "co2", "x.csv"])
def test_forecast_defaults_and_presets_reproduce_the_old_tables(source: str) -> None:
    cfg = resolve_forecast(source or None).to_dict()
    cfg.pop("preset")
    pinned = cfg.pop("pinned")  # new: the keys the preset gives, the unset ones left out
    assert cfg == _old_forecast_config(source)
    preset = OLD_SOURCE_DEFAULTS.get(source, {}).get("series", {})
    assert {"series.lookback", "series.horizon"} & set(pinned) == {
        f"series.{k}" for k in ("lookback", "horizon") if preset.get(k)
    }
    if source in OLD_SOURCE_DEFAULTS:
        assert preset_task(f"forecast-{source}") == "forecast"


def test_both_model_tables_start_with_the_core_keys() -> None:
    core = ["kind", "impl", "hidden_size", "num_layers", "dropout"]
    assert CoreConfig.keys() == ForecastModelConfig.keys() == core
    lm_keys = ["embedding_dim", "input_mode", "tie_weights", "output", "cutoffs"]
    lm_keys += ["weight_drop", "locked_dropout", "embedding_dropout"]
    assert ModelConfig.keys() == [*core, *lm_keys]
    assert list(RunConfig().to_dict()["model"]) == ModelConfig.keys()  # config.json order
    assert (ModelConfig().hidden_size, ForecastModelConfig().hidden_size) == (256, 32)
    with pytest.raises(RnnkitError, match=r"unknown config key model\.embedding_dim"):
        ForecastModelConfig().embedding_dim = 8


def test_resolve_forecast_layers(tmp_path: Path) -> None:
    assert resolve_forecast("sunspots").preset == "forecast-sunspots"
    cfg = resolve_forecast("sunspots", "forecast-co2", overrides=["series.horizon=5"])
    assert (cfg.preset, cfg.series.transform, cfg.series.horizon) == ("forecast-co2", "diff", 5)
    assert cfg.series.source == "sunspots"
    file = tmp_path / "f.toml"
    file.write_text('[model]\nkind = "gru"\n[series]\nsource = "ignored"\n')
    cfg = resolve_forecast("sunspots", config_file=str(file))
    assert (cfg.preset, cfg.series.lookback, cfg.model.kind) == ("", 0, "gru")
    assert cfg.series.source == "sunspots"  # SOURCE comes after the file
    assert ForecastConfig.from_dict(cfg.to_dict()) == cfg
    assert forecast_config("sine", model={"hidden_size": 4}).model.hidden_size == 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: resolve(preset="forecast-sine"), "is a forecasting config, not a language-model"),
        (lambda: resolve_forecast(preset="timemachine"), "is a language-model config"),
        (
            lambda: apply_overrides(ForecastConfig(), ["model.input_mode=onehot"]),
            "unknown config key model.input_mode; valid keys: model.kind, model.impl, "
            "model.hidden_size, model.num_layers, model.dropout",
        ),
        (lambda: forecast_config(series={"strategy": "sideways"}), "series.strategy"),
        (lambda: apply_overrides(ForecastConfig(), ["data.level=word"]), "valid tables: series"),
    ],
)
def test_forecast_config_errors(call: object, message: str) -> None:
    with pytest.raises(RnnkitError, match=message):
        call()  # type: ignore[operator]


# Range errors: `{name} must be {an integer|a number} in RANGE, got VALUE (hint)`, when set.
RANGE_ERRORS = [
    ("model.hidden_size=-5", "model.hidden_size must be an integer in [1, 65536], got -5"),
    ("model.hidden_size=3.5", "model.hidden_size must be an integer in [1, 65536], got 3.5"),
    ("model.num_layers=0", "model.num_layers must be an integer in [1, 1024], got 0"),
    ("model.dropout=1.5", "model.dropout must be a number in [0, 1), got 1.5"),
    ("model.dropout=1", "model.dropout must be a number in [0, 1), got 1"),
    (
        "model.embedding_dim=-1",
        "model.embedding_dim must be an integer in [0, 65536], got -1 (0 = hidden_size)",
    ),
    ("train.lr=-1", "train.lr must be a number in (0, inf), got -1"),
    ("train.lr=0", "train.lr must be a number in (0, inf), got 0"),
    ("train.lr=nan", "train.lr must be a number in (0, inf), got nan"),
    ("train.clip=inf", "train.clip must be a number in [0, inf), got inf (0 = off)"),
    ("train.lr=true", "train.lr must be a number in (0, inf), got True"),
    ("train.threads=-2", "train.threads must be an integer in [0, 1024], got -2 (0 = adaptive"),
    ("train.epochs=-1", "train.epochs must be an integer in [0, inf), got -1 (0 = no limit)"),
    ("train.seed=-1", "train.seed must be an integer in [0, 9223372036854775807], got -1"),
    ("data.batch_size=0", "data.batch_size must be an integer in [1, inf), got 0"),
    ("data.max_tokens=-1", "data.max_tokens must be an integer in [0, inf), got -1 (0 = use"),
    (
        "data.split=[0.5,0.6,0.1]",
        "data.split must be three numbers in [0, 1] (train, val, test) summing to 1, "
        "got [0.5, 0.6, 0.1]",
    ),
    ("data.split=[1.5,-0.5,0]", "data.split must be a number in [0, 1], got 1.5"),
    ("data.split=[0.5,'x',0.5]", "data.split must be a number in [0, 1], got 'x'"),
    ("generate.top_p=0", "generate.top_p must be a number in (0, 1], got 0 (1 keeps every"),
    ("generate.length=0", "generate.length must be an integer in [1, 100000], got 0"),
]


@pytest.mark.parametrize(("item", "message"), RANGE_ERRORS)
def test_numbers_out_of_range_fail_when_set(item: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(RunConfig(), [item])
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("series.horizon=-1", "series.horizon must be an integer in [0, inf), got -1 (0 = chosen"),
        ("series.batch_size=0", "series.batch_size must be an integer in [1, inf), got 0"),
        ("series.init_std=-0.5", "series.init_std must be a number in [0, inf), got -0.5"),
        ("model.hidden_size=0", "model.hidden_size must be an integer in [1, 65536], got 0"),
    ],
)
def test_forecast_numbers_out_of_range(item: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(ForecastConfig(), [item])
    assert str(caught.value).startswith(message)


def test_good_values_at_the_ends_of_each_range_pass() -> None:
    cfg = apply_overrides(
        RunConfig(),
        [
            "model.hidden_size=65536",
            "model.dropout=0.999",
            "train.lr=1e-12",
            "train.threads=0",
            "data.split=[1.0,0.0,0.0]",
            "generate.top_p=1",
            "model.num_layers=1.0",  # a whole float is an integer
        ],
    )
    assert cfg.model.hidden_size == 65536 and cfg.data.split == [1.0, 0.0, 0.0]
    assert cfg.model.num_layers == 1 and isinstance(cfg.model.num_layers, int)


def test_every_numeric_key_has_a_range() -> None:
    """Each int / float (or list of them) key of both tasks says its allowed range."""
    tables = [*get_type_hints(RunConfig).values(), *get_type_hints(ForecastConfig).values()]
    for table in tables:
        if not (isinstance(table, type) and dataclasses.is_dataclass(table)):
            continue
        for name, hint in get_type_hints(table).items():
            inner = get_args(hint)[0] if get_origin(hint) is list else hint
            if inner in (int, float) and name != "NAME":
                assert isinstance(field_bound(table, name), Bound), f"{table.NAME}.{name}"
                default = getattr(table(), name)
                check_value(table, name, default)  # every default lies in its range


def test_the_generate_table_and_sampling_share_their_ranges() -> None:
    for name in ("length", "temperature", "top_k", "top_p"):
        assert getattr(LIMITS, name) == field_bound(GenerateConfig, name)


def test_bound_with_an_open_top() -> None:
    bound = Bound(0, 1, high_open=True)
    assert (0 in bound, 0.5 in bound, 1 in bound) == (True, True, False)
    assert str(bound) == "[0, 1)" and bound.expects(integer=False) == "a number in [0, 1)"
    assert Bound(0, 2).narrow(Bound(high=1, high_open=True)) == bound
    assert Bound(0, 1).narrow(Bound(0, 1, high_open=True)) == bound
    assert Bound().expects(integer=True) == "an integer"


def _message(call: object) -> str:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


def test_each_entry_point_spells_the_name_its_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wanted = "must be an integer in [1, 65536], got -5"
    # --set and config files: table.key
    assert _message(lambda: resolve(overrides=["model.hidden_size=-5"])) == (
        f"model.hidden_size {wanted}"
    )
    file = tmp_path / "bad.toml"
    file.write_text("[model]\nhidden_size = -5\n", encoding="utf-8")
    assert _message(lambda: resolve(config_file=str(file))) == f"model.hidden_size {wanted}"
    # Python: the attribute, forecast_config's tables, set_key with an entry point's name
    cfg = RunConfig()

    def assign() -> None:
        cfg.model.hidden_size = -5

    assert _message(assign) == f"model.hidden_size {wanted}"
    assert _message(lambda: forecast_config(model={"hidden_size": -5})) == (
        f"model.hidden_size {wanted}"
    )
    assert _message(lambda: set_key(cfg, "model.hidden_size", "-5", "--hidden-size")) == (
        f"--hidden-size {wanted}"
    )
    assert cfg.model.hidden_size == 256  # a refused value leaves the key as it was
    # the CLI: the flag, for train and forecast alike; --set keeps table.key
    for argv, name in (
        (["train", "x.txt", "--hidden-size", "-5"], "--hidden-size"),
        (["forecast", "sine", "--hidden-size", "-5"], "--hidden-size"),
        (["train", "x.txt", "--set", "model.hidden_size=-5"], "model.hidden_size"),
        (["forecast", "sine", "--set", "model.hidden_size=-5"], "model.hidden_size"),
    ):
        assert main([*argv, "--print-config"]) == 2
        assert capsys.readouterr().err == f"rnnkit: error: {name} {wanted}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "x.txt", "--lr", "nan"], "--lr must be a number in (0, inf), got nan"),
        (["train", "x.txt", "--batch-size", "four"], "--batch-size must be an integer in"),
        (["train", "x.txt", "--dropout", "1"], "--dropout must be a number in [0, 1), got 1"),
        (["train", "x.txt", "--kind", "tcn"], "--kind = 'tcn' is not valid; choose one of rnn"),
        (["forecast", "sine", "--horizon", "-1"], "--horizon must be an integer in [0, inf)"),
        (["forecast", "sine", "--scaler", "robust"], "--scaler = 'robust' is not valid"),
        (["forecast", "sine", "--seeds", "0"], "--seeds must be an integer in [1, 1000], got 0"),
    ],
)
def test_flags_are_checked_as_their_keys(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--print-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rnnkit: error: {message}") and err.count("\n") == 1


def test_good_flags_keep_their_values(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "x.txt", "--hidden-size", "64", "--lr", "1e-3", "--dropout", "0.5"]
    assert main([*argv, "--kind", "gru", "--print-config"]) == 0
    cfg = RunConfig.from_dict(json.loads(capsys.readouterr().out))
    assert (cfg.model.hidden_size, cfg.train.lr, cfg.model.dropout) == (64, 1e-3, 0.5)
    assert cfg.model.kind == "gru"
    argv = ["forecast", "sine", "--horizon", "7", "--target", "a", "b", "--kind", "gru"]
    assert main([*argv, "--print-config"]) == 0
    cfg = ForecastConfig.from_dict(json.loads(capsys.readouterr().out))
    assert (cfg.series.horizon, cfg.series.target, cfg.model.kind) == (7, ["a", "b"], "gru")
