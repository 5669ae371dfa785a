"""The command line end to end: train, generate, eval, info, presets, datasets, and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main

TEXT = "the quick brown fox jumps over the lazy dog. " * 60


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained once through the CLI."""
    base = tmp_path_factory.mktemp("cli")
    source = base / "fox.txt"
    source.write_text(TEXT, encoding="utf-8")
    out = base / "run"
    status = main(
        [
            "train",
            str(source),
            "--out",
            str(out),
            "--kind",
            "gru",
            "--hidden-size",
            "32",
            "--batch-size",
            "4",
            "--num-steps",
            "16",
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--threads",
            "1",
            "--quiet",
            "--set",
            "generate.length=5",
        ]
    )
    assert status == 0
    return out


def test_train_writes_the_run_folder(run_dir: Path) -> None:
    for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt", "curves.png", "samples.txt"):
        assert (run_dir / name).is_file()


def test_generate_streams_and_samples(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "--prefix",
                "the ",
                "--length",
                "20",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    first = capsys.readouterr().out
    assert first.startswith("the ") and len(first.strip()) == 24
    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "--prefix",
                "the ",
                "--length",
                "20",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == first
    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(run_dir / "best.pt"),
                "--prefix",
                "the ",
                "--num-samples",
                "3",
                "--length",
                "10",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.count("--- sample") == 3
    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "--prefix",
                "the",
                "--greedy",
                "--length",
                "10",
            ]
        )
        == 0
    )
    greedy = capsys.readouterr().out
    assert (
        main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "--prefix",
                "the",
                "--beam",
                "1",
                "--length",
                "10",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == greedy


def test_eval_and_info(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--checkpoint", str(run_dir), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "[test]" in out and "ppl" in out and "bits/token" in out
    assert main(["info", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for fact in (
        "format_version",
        "task             lm",
        "gru 1x32",
        "parameters",
        "vocab_size",
        "corpus_sha1",
        "best_val_ppl",
    ):
        assert fact in out


def test_listings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    assert "d2l-rnn" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "python-docs" in out and "timemachine" in out and "jaychou" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--set", "model.hiden=3"], "unknown config key model.hiden"),
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "/no/such/file.txt"], "/no/such/file.txt"),
        (["generate", "--checkpoint", "/no/such/run"], "does not exist"),
        (["info", "/no/such/run.pt"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_with_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_generate_options(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--length", "0"], ["--top-p", "0"], ["--temperature", "-1"]):
        assert main(["generate", "--checkpoint", str(run_dir), *extra]) == 2
        assert capsys.readouterr().err.startswith("rnnkit: error: ")


def test_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("rnnkit ")
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("train", "generate", "eval", "info", "verify", "presets", "datasets"):
        assert command in result.stdout
