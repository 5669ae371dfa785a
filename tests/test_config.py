"""Config tables, presets, TOML files and --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.config import (
    RunConfig,
    apply_overrides,
    list_presets,
    load_preset,
    resolve,
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
