"""Property: whatever value an option gets, `rnnkit` ends cleanly.

`rnnkit.cli.main(argv)` runs in-process with random values (integers of any size, floats
with nan / inf, numbers written as text, arbitrary strings) for every config key and flag
on cheap paths: `--print-config` (train and forecast), a one-step training run on a tiny
corpus, and generation from the stored fixture checkpoint. Each run must end with exit
status 0, or a non-zero status and exactly one line on stderr, without a traceback.

What argparse itself refuses (a flag whose value starts with `-` and is not a plain negative
number, so argparse reads it as another flag) raises `SystemExit(2)`; it counts as a clear
error because `rnnkit.cli`'s parser prints one line (`rnnkit train: error: ...; see rnnkit
train --help`, no usage block), which this file checks like any other error.

Derandomised and bounded (`max_examples`), so the file runs the same cases every time in
well under 20 s. Valid values that would be slow (a hidden size of 60,000, 100,000 tokens)
are drawn only where nothing runs (`--print-config`); the runs draw small valid values
among the bad ones.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_lm_config
from rnnkit.cli import FORECAST_FLAGS, TRAIN_FLAGS, main
from rnnkit.config import ForecastConfig, RunConfig

LM_FIXTURE = Path(__file__).parent / "fixtures" / "lm-194f425"

Capture = pytest.CaptureFixture[str]


def _settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        derandomize=True,
        database=None,
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _text(value: object) -> str:
    """A drawn value as a user types it."""
    return (
        value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    )


# Anything a user might type for a value, good or bad.
ANY_VALUE = st.one_of(
    st.integers(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.sampled_from(
        [
            *("nan", "inf", "-inf", "1e999", "", "true", "[1, 2]", "[0.5,0.6,0.1]", "0x10"),
            *("1_000", "1e3", "-0", "3.5", "none", "lstm", "fused", "cuda", "'x'", "a,b", "="),
        ]
    ),
    st.text(max_size=8),
).map(_text)


def _keys(config: type[RunConfig] | type[ForecastConfig]) -> list[str]:
    """Every `table.key` of a task's config."""
    cfg = config()
    return [f"{t}.{f.name}" for t in cfg.tables() for f in dataclasses.fields(getattr(cfg, t))]


def _run(argv: list[str], capsys: Capture) -> tuple[int, str, str]:
    """`main(argv)`'s exit status (argparse's SystemExit included), stdout and stderr."""
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def _assert_clean(argv: list[str], capsys: Capture) -> int:
    """Run `argv`: exit 0, or non-zero with exactly one stderr line and no traceback."""
    status, _, err = _run(argv, capsys)
    if status != 0:
        lines = err.splitlines()
        assert len(lines) == 1, (argv, err)
        assert lines[0].startswith("rnnkit") and "error: " in lines[0], (argv, err)
        assert "Traceback" not in err, (argv, err)
    return status


@_settings(120)
@given(key=st.sampled_from(_keys(RunConfig)), value=ANY_VALUE)
def test_train_set_any_key(capsys: Capture, key: str, value: str) -> None:
    _assert_clean(["train", "tiny.txt", "--print-config", "--set", f"{key}={value}"], capsys)


@_settings(80)
@given(key=st.sampled_from(_keys(ForecastConfig)), value=ANY_VALUE)
def test_forecast_set_any_key(capsys: Capture, key: str, value: str) -> None:
    _assert_clean(["forecast", "sine", "--print-config", "--set", f"{key}={value}"], capsys)


FLAG_ARGV = st.one_of(
    st.tuples(st.just("train"), st.sampled_from(sorted(TRAIN_FLAGS))),
    st.tuples(st.just("forecast"), st.sampled_from([*sorted(FORECAST_FLAGS), "seeds"])),
)


@_settings(120)
@given(command_flag=FLAG_ARGV, value=ANY_VALUE, joined=st.booleans())
def test_any_flag_value(
    capsys: Capture, command_flag: tuple[str, str], value: str, joined: bool
) -> None:
    command, flag = command_flag
    source = "tiny.txt" if command == "train" else "sine"
    given_as = [f"--{flag}={value}"] if joined else [f"--{flag}", value]
    status = _assert_clean([command, source, "--print-config", *given_as], capsys)
    key = TRAIN_FLAGS[flag][0] if command == "train" else FORECAST_FLAGS.get(flag, ("",))[0]
    if status != 0 and key and not value.startswith("-"):
        # a refused value is named by its flag, never by the key behind it
        assert key not in capsys.readouterr().err


def _small_int(low: int, high: int) -> st.SearchStrategy[str]:
    """Small valid-or-not integers, plus junk: the values a training run may draw."""
    return st.one_of(
        st.integers(low, high).map(str),
        st.sampled_from(["0", "-1", "x", "1.5", "nan", str(2**70), ""]),
    )


RUN_FLAGS = {
    "hidden-size": _small_int(-2, 24),
    "batch-size": _small_int(-1, 6),
    "num-steps": _small_int(-1, 16),
    "embedding-dim": _small_int(-1, 8),
    "num-layers": _small_int(0, 2),
    "epochs": _small_int(0, 2),
    "dropout": st.one_of(st.floats(-0.5, 1.5), st.sampled_from(["nan", "inf", "x"])).map(_text),
    "lr": st.one_of(st.floats(-1, 10), st.sampled_from(["nan", "1e999", "0"])).map(_text),
    "clip": st.one_of(st.floats(-1, 5), st.sampled_from(["inf", "x"])).map(_text),
    "kind": st.sampled_from(["rnn", "gru", "lstm", "tcn", ""]),
    "impl": st.sampled_from(["torch", "scratch", "fused", "jax"]),
    "input-mode": st.sampled_from(["embedding", "onehot", "bag"]),
    "sampling": st.sampled_from(["sequential", "random", "shuffled"]),
}


def _tiny_config(folder: Path) -> Path:
    """The tiny LM config as a TOML file (flags come after a config file; `--set` would
    come after the flags and hide them)."""
    cfg = tiny_lm_config(folder).to_dict()
    lines = []
    for table in RunConfig.tables():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in cfg[table].items()]
    path = folder / "tiny.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@_settings(20)
@given(
    flags=st.dictionaries(st.sampled_from(sorted(RUN_FLAGS)), st.just(""), max_size=4).flatmap(
        lambda chosen: st.fixed_dictionaries({flag: RUN_FLAGS[flag] for flag in chosen})
    )
)
def test_one_training_step_with_random_flags(capsys: Capture, flags: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        argv = ["train", "--config", str(_tiny_config(base))]
        argv += ["--max-steps", "1", "--quiet", "--out", str(base / "run")]
        for flag, value in flags.items():
            argv.append(f"--{flag}={value}")
        _assert_clean(argv, capsys)


def _sampling_int(low: int, high: int) -> st.SearchStrategy[str]:
    """Small integers (cheap to run, mostly valid), integers of any size, and junk."""
    small = st.integers(low, high).map(str)
    return st.one_of(small, small, st.integers().map(str), st.sampled_from(["x", "1.5", ""]))


GENERATE_FLAGS = {
    "length": st.one_of(st.integers(1, 12).map(str), st.sampled_from(["0", "100001", "x"])),
    "num-samples": _sampling_int(-1, 3),
    "beam": _sampling_int(-1, 3),
    "top-k": _sampling_int(-1, 50),
    "top-p": st.one_of(st.floats(0, 1), st.floats(-0.5, 1.5), st.just("nan")).map(_text),
    "temperature": st.one_of(
        st.floats(0, 3), st.floats(0, 3), st.floats(allow_nan=True, allow_infinity=True)
    ).map(_text),
    "seed": st.one_of(st.integers().map(str), st.sampled_from(["x", "1.5"])),
    "prefix": st.text(max_size=6),
    "threads": st.sampled_from(["1", "1", "-1", "x", "5000"]),
}


@_settings(40)
@given(
    flags=st.dictionaries(st.sampled_from(sorted(GENERATE_FLAGS)), st.just(""), max_size=5).flatmap(
        lambda chosen: st.fixed_dictionaries({flag: GENERATE_FLAGS[flag] for flag in chosen})
    ),
    greedy=st.booleans(),
)
def test_generate_with_random_sampling_flags(
    capsys: Capture, flags: dict[str, str], greedy: bool
) -> None:
    argv = ["generate", "--checkpoint", str(LM_FIXTURE), "--length", "5"]
    for flag, value in flags.items():
        argv.append(f"--{flag}={value}")
    _assert_clean([*argv, *(["--greedy"] if greedy else [])], capsys)
