"""The flags are generated from the config fields: every flag's default is its field's."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from rnnkit.cli import (
    CLASSIFY_KEYS,
    FORECAST_KEYS,
    INFERENCE_KEYS,
    PREPARE_KEYS,
    TRAIN_FLAGS,
    TRAIN_KEYS,
    build_parser,
)
from rnnkit.config import ClassifyConfig, DataConfig, ForecastConfig, RunConfig
from rnnkit.config.flags import default_text, field_default, flag_name, table_keys
from rnnkit.config.tables import InferenceConfig, ServeConfig
from rnnkit.decode.options import SamplingOptions

# command -> (its tables, the keys it has a flag for, layered: default None, "not given")
KEYED = {
    "train": (RunConfig.table_types(), TRAIN_KEYS, True),
    "forecast": (ForecastConfig.table_types(), FORECAST_KEYS, True),
    "classify": (ClassifyConfig.table_types(), CLASSIFY_KEYS, True),
    "prepare": ({"data": DataConfig}, [f"data.{k}" for k in PREPARE_KEYS], False),
    "generate": ({"inference": InferenceConfig}, list(INFERENCE_KEYS), False),
    "eval": ({"inference": InferenceConfig}, ["inference.device"], False),
    "serve": ({"serve": ServeConfig}, table_keys(ServeConfig), False),
}
# Flags that set no config key: the command's own arguments.
NOT_KEYS = {
    "help", "preset", "config", "set", "out", "resume", "quiet", "print-config", "checkpoint",
    "backend", "seeds", "backtest", "split", "force", "greedy", "dtype", "format", "version",
    "id-col", "many",
}  # fmt: skip


def _options(command: str) -> dict[str, argparse.Action]:
    """The `--flag` actions of `rnnkit COMMAND`, by flag name."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = sub.choices[command]._actions
    return {s[2:]: a for a in actions for s in a.option_strings if s.startswith("--")}


@pytest.mark.parametrize("command", list(KEYED))
def test_every_flag_default_is_its_fields(command: str) -> None:
    tables, keys, layered = KEYED[command]
    options = _options(command)
    for key in keys:
        table, _, name = key.partition(".")
        action, want = options[flag_name(key)], field_default(tables[table], name)
        assert action.default == (None if layered else want), key
        assert f"default {default_text(want)})" in action.help, key
    sampling = {f.name.replace("_", "-"): f.default for f in fields(SamplingOptions)}
    covered = {flag_name(k) for k in keys} | (sampling.keys() if command == "generate" else set())
    assert set(options) - covered <= NOT_KEYS, "a flag set by hand, not from its field"


def test_the_sampling_flags_default_to_the_options() -> None:
    options = _options("generate")
    for f in fields(SamplingOptions):
        assert options[f.name.replace("_", "-")].default == f.default, f.name
    assert options["length"].default == SamplingOptions().length == 100


def test_flag_names_are_the_key_names() -> None:
    assert TRAIN_FLAGS["hidden-size"] == ("model.hidden_size",)
    assert all(flag_name(key) == flag for flag, (key,) in TRAIN_FLAGS.items())
