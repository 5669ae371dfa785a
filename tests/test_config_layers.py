"""The resolution's layers, the "chosen automatically" convention, `resume_config` and the
forecast's own train table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import tiny_lm_config
from rnnkit.checkpoint import load_checkpoint
from rnnkit.cli import main
from rnnkit.config import (
    ForecastConfig,
    ForecastTrainConfig,
    Layer,
    RunConfig,
    TrainConfig,
    recipe_applies,
    resolve,
    resolve_classify,
    resolve_forecast,
    resume_config,
    starting_preset,
)
from rnnkit.config.resolve import build, set_layer, user_layers
from rnnkit.errors import CheckpointError, ConfigError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_layers_apply_in_order_and_later_wins(tmp_path: Path) -> None:
    file = tmp_path / "f.toml"
    file.write_text("[model]\nhidden_size = 64\nnum_layers = 2\n", encoding="utf-8")
    flags = Layer("flags", {"model.hidden_size": "32", "train.lr": "0.5"})
    cfg = resolve("x.txt", "d2l-rnn", str(file), ["model.hidden_size=16"], flags)
    assert (cfg.model.hidden_size, cfg.model.num_layers, cfg.train.lr) == (16, 2, 0.5)
    assert cfg.data.source == "x.txt" and cfg.preset == "d2l-rnn"
    with pytest.raises(ValueError, match="layers must come in the order"):
        build(RunConfig, [set_layer(["train.lr=1"]), flags])


def test_pinned_is_the_keys_of_the_flag_and_set_layers() -> None:
    flags = Layer("flags", {"train.lr": "0.1", "data.batch_size": "4"}, {"train.lr": "--lr"})
    cfg = resolve("x.txt", overrides=["model.dropout=0.1"], flags=flags)
    assert cfg.recipe == "auto"
    assert cfg.pinned == ["data.batch_size", "model.dropout", "train.lr"]
    # a preset or a config file: no recipe, nothing pinned
    assert resolve("x.txt", "default", flags=flags).pinned == []


def test_one_convention_chooses_the_unpinned_keys_of_every_task(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('task = "classify"\n[model]\nhidden_size = 48\n', encoding="utf-8")
    flags = Layer("flags", {"train.lr": "0.01"})
    classify = resolve_classify("x.csv", config_file=str(file), flags=flags)
    assert classify.pinned == ["model.hidden_size", "train.lr"]  # the config file pins too
    assert not classify.chooses("model.hidden_size") and classify.chooses("model.pooling")
    lm = resolve("x.txt", flags=flags)
    assert not lm.chooses("train.lr") and lm.chooses("model.hidden_size")
    # a forecast key given its "not set" marker asks for the choice; a value pins it
    forecast = resolve_forecast("x.csv", flags=Layer("flags", {"series.season": "0"}))
    assert forecast.pinned == [] and forecast.chooses("series.season")
    forecast = resolve_forecast("x.csv", overrides=["series.season=12", "series.log=auto"])
    assert forecast.pinned == ["series.season"] and forecast.chooses("series.log")
    # fixed: nothing is chosen; a saved forecast config from before `pinned` still loads
    assert not ForecastConfig.from_dict({"series": {"season": 4}}).chooses("series.lookback")


def test_the_words_switch_and_the_recipe_rule_are_named_steps() -> None:
    word = user_layers(RunConfig, flags=Layer("flags", {"data.level": "word"}))
    assert starting_preset(word) == "words" and starting_preset([]) == "default"
    cfg = resolve("x.txt", flags=Layer("flags", {"data.level": "word"}))
    assert cfg.preset == "words" and cfg.recipe == "fixed"
    assert recipe_applies(None, None, "default")
    assert not recipe_applies("default", None, "default")
    assert not recipe_applies(None, "f.toml", "default")
    assert not recipe_applies(None, None, "words")


def test_train_and_forecast_apply_flags_then_set(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["train", "x.txt", "--lr", "0.5", "--set", "train.lr=0.25"],
        ["forecast", "sine", "--lr", "0.5", "--set", "train.lr=0.25"],
    ):
        assert main([*argv, "--print-config"]) == 0
        assert json.loads(capsys.readouterr().out)["train"]["lr"] == 0.25


def test_an_old_recipe_sentence_loads_as_fixed_plus_its_note() -> None:
    raw = RunConfig().to_dict() | {"recipe": "300 training chars ... adamw 0.005 cosine, bf16"}
    del raw["recipe_note"]
    cfg = RunConfig.from_dict(raw)
    assert (cfg.recipe, cfg.recipe_note) == ("fixed", raw["recipe"])
    old = RunConfig.from_dict(load_checkpoint(FIXTURES / "lm-65d8068")["config"])
    assert (old.recipe, old.recipe_note) == ("fixed", "")
    assert RunConfig.from_dict(RunConfig().to_dict() | {"recipe": "auto"}).recipe == "auto"


def test_resume_config_keeps_the_saved_run_and_applies_the_layers(tmp_path: Path) -> None:
    from rnnkit.lm.train import train_lm

    cfg = tiny_lm_config(tmp_path, "train.epochs=1")
    cfg.recipe, cfg.recipe_note = "fixed", "chosen before"
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lambda _: None)
    layers = user_layers(RunConfig, flags=Layer("flags", {"train.epochs": 2}))
    again = resume_config(tmp_path / "run", layers)
    assert again.train.epochs == 2 and again.recipe_note == "chosen before"
    assert again.model == cfg.model
    with pytest.raises(ConfigError, match="keeps its own config"):
        resume_config(tmp_path / "run", [Layer("preset", {"preset": "default"})])
    with pytest.raises(CheckpointError, match="not a language model"):
        resume_config(FIXTURES / "forecast-65d8068" / "best.pt")
    result = train_lm(resume=tmp_path / "run", quiet=True, echo=lambda _: None)
    assert result.history[-1]["epoch"] == 1  # the saved config: one epoch, already done


def test_a_forecast_has_its_own_train_table() -> None:
    assert set(ForecastTrainConfig.keys()) == set(TrainConfig.keys()) - {
        "time_budget",
        "eval_every",
        "precision",
    }
    for item in ("train.time_budget=5", "train.eval_every=2", "train.precision=bf16"):
        with pytest.raises(ConfigError, match=r"unknown config key train\.\w+; valid keys: "):
            resolve_forecast("sine", overrides=[item])
    # a saved forecast config from before keeps loading; its threads = 0 meant one thread
    old = ForecastConfig().to_dict()
    old["train"] |= {"time_budget": 0.0, "eval_every": 1, "precision": "fp32", "threads": 0}
    del old["recipe"], old["recipe_note"]
    cfg = ForecastConfig.from_dict(old)
    assert cfg.train.threads == 1 and cfg.recipe == "fixed"
