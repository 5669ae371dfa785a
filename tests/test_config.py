"""Config tables, presets, TOML files and --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.config import (
    CoreConfig,
    ForecastConfig,
    ForecastModelConfig,
    ModelConfig,
    RunConfig,
    apply_overrides,
    forecast_config,
    list_presets,
    load_preset,
    preset_task,
    resolve,
    resolve_forecast,
    to_json,
)
from rnnkit.errors import RnnkitError


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
        ("model.hidden_size=big", "not a valid int"),
        ("hidden_size=3", "must look like table.key=value"),
    ],
)
def test_bad_overrides_name_the_problem(item: str, message: str) -> None:
    with pytest.raises(RnnkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
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
    cfg["train"] = RunConfig().to_dict()["train"]
    cfg["model"].update(impl="torch")
    for layer in (OLD_FORECAST_DEFAULTS, OLD_SOURCE_DEFAULTS.get(source, {})):
        for table, values in layer.items():
            cfg[table].update(values)
    cfg["series"]["source"] = source
    return cfg


@pytest.mark.parametrize("source", ["", "sine", "noisy-sine", "sunspots", "co2", "x.csv"])
def test_forecast_defaults_and_presets_reproduce_the_old_tables(source: str) -> None:
    cfg = resolve_forecast(source or None).to_dict()
    cfg.pop("preset")
    assert cfg == _old_forecast_config(source)
    if source in OLD_SOURCE_DEFAULTS:
        assert preset_task(f"forecast-{source}") == "forecast"


def test_both_model_tables_start_with_the_core_keys() -> None:
    core = ["kind", "impl", "hidden_size", "num_layers", "dropout"]
    assert CoreConfig.keys() == ForecastModelConfig.keys() == core
    assert ModelConfig.keys() == [*core, "embedding_dim", "input_mode", "tie_weights"]
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
