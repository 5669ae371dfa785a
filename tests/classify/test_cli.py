"""`rnnkit classify` as a user runs it: each input kind, --print-config, --resume,
--checkpoint prediction, bad input (one line, exit 2, nothing written) and the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.config import resolve_classify

TINY = ["--max-epochs", "2", "--time-budget", "0", "--hidden-size", "8", "--embed-size", "4"]
TINY += ["--batch-size", "8", "--references", "none", "--threads", "1", "--quiet"]


def _classify(*args: str) -> int:
    return main(["classify", *args])


@pytest.mark.parametrize("kind", ["ts_pair", "text_csv", "numeric_csv"])
def test_each_input_kind_runs_from_the_cli(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data: Path = request.getfixturevalue(kind)
    out = tmp_path / "run"
    assert _classify(str(data), *TINY, "--out", str(out)) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("classify ") and "test accuracy" in line and str(out) in line
    assert {"best.pt", "last.pt", "metrics.json", "predictions.csv"} <= {
        p.name for p in out.iterdir()
    }
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "fixed" and config["model"]["hidden_size"] == 8
    assert "model.hidden_size" in config["pinned"]


def test_print_config_shows_the_layers_and_pins(
    text_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(text_csv), "--pooling", "max", "--set", "train.lr=0.01", "--print-config"]
    assert _classify(*args) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["data"]["source"] == str(text_csv) and cfg["model"]["pooling"] == "max"
    assert cfg["train"]["lr"] == 0.01 and cfg["recipe"] == "auto"
    assert cfg["pinned"] == ["model.pooling", "train.lr"]
    assert cfg["train"]["threads"] == 0 and cfg["train"]["time_budget"] == 120


def test_resume_continues_to_the_new_limit(ts_pair: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _classify(str(ts_pair), *TINY, "--out", str(out)) == 0
    assert _classify("--resume", str(out), "--max-epochs", "4", "--quiet") == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert json.loads((out / "config.json").read_text())["train"]["max_epochs"] == 4


def test_resume_of_several_seeds_keeps_their_numbers(ts_pair: Path, tmp_path: Path) -> None:
    """last.pt keeps the run's first seed, so a resume continues seed 1, not a seed 2."""
    out = tmp_path / "run"
    assert _classify(str(ts_pair), *TINY, "--seeds", "2", "--out", str(out)) == 0
    assert _classify("--resume", str(out), "--max-epochs", "3", "--quiet") == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["epoch"]) for r in rows] == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    seeds = json.loads((out / "metrics.json").read_text())["test"]["seeds"]
    assert [s["seed"] for s in seeds] == [0, 1]


def test_checkpoint_labels_new_data(
    numeric_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _classify(str(numeric_csv), *TINY, "--out", str(out)) == 0
    target = tmp_path / "labels.csv"
    assert _classify("--checkpoint", str(out), str(numeric_csv), "--out", str(target)) == 0
    assert "accuracy" in capsys.readouterr().out.splitlines()[-1]
    header = target.read_text().splitlines()[0]
    assert header == "id,label,predicted,p_1,p_2"


def test_bad_input_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("label,x\n1,0.5\n2\n", encoding="utf-8")
    out = tmp_path / "run"
    assert _classify(str(bad), *TINY, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1
    assert not out.exists()
    assert _classify(str(bad), "--hidden-size", "0", "--out", str(out)) == 2
    assert "--hidden-size must be an integer in [1, 65536], got 0" in capsys.readouterr().err
    assert _classify(str(tmp_path / "missing_TRAIN.ts"), "--out", str(out)) == 2
    assert not out.exists()


def test_bidirectional_is_a_classify_key_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve_classify("digits").model.bidirectional is True
    for command in (["train", "tiny"], ["forecast", "sine"]):
        assert main([*command, "--set", "model.bidirectional=true", "--print-config"]) == 2
        err = capsys.readouterr().err
        assert "unknown config key model.bidirectional" in err and err.count("\n") == 1
