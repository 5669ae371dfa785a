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


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--length", "0"], "--length must be an integer in [1, 100000], got 0"),
        (["--top-p", "0"], "--top-p must be a number in (0, 1], got 0.0 (1 keeps every token)"),
        (["--temperature", "-1"], "--temperature must be a number in [0, inf), got -1.0"),
        (["--top-k", "-1"], "--top-k must be an integer in [0, 2147483647], got -1"),
        (["--num-samples", "-3"], "--num-samples must be an integer in [1, 1024], got -3"),
        (["--beam", "-1"], "--beam must be an integer in [0, 1024], got -1"),
        (
            ["--beam", "2", "--num-samples", "3"],
            "--num-samples must be an integer in [1, 2] when --beam is 2, got 3",
        ),
    ],
)
def test_bad_generate_options(
    run_dir: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--checkpoint", str(run_dir), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"rnnkit: error: {message}") and err.count("\n") == 1


def test_negative_num_samples_fails_as_a_command(run_dir: Path) -> None:
    argv = ["generate", "--checkpoint", str(run_dir), "--num-samples", "-3", "--seed", "0"]
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", *argv], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr == (
        "rnnkit: error: --num-samples must be an integer in [1, 1024], got -3\n"
    )


def test_generate_prints_what_the_library_returns(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import rnnkit

    source = tmp_path / "fox.txt"
    source.write_text(TEXT, encoding="utf-8")
    words = tmp_path / "words"
    argv = ["train", str(source), "--out", str(words), "--level", "word", "--epochs", "1"]
    argv += ["--batch-size", "4", "--num-steps", "8", "--hidden-size", "16", "--threads", "1"]
    assert main([*argv, "--quiet", "--set", "generate.length=3"]) == 0
    capsys.readouterr()
    for folder, prefix in ((run_dir, "the "), (words, "the quick"), (words, "the "), (words, "")):
        for extra in ([], ["--num-samples", "2"], ["--beam", "2"]):
            argv = ["generate", "--checkpoint", str(folder), "--prefix", prefix, "--length", "6"]
            assert main([*argv, "--seed", "5", *extra]) == 0
            out = capsys.readouterr().out
            num_samples = 2 if "--num-samples" in extra else 1
            expected = rnnkit.generate(
                rnnkit.load(folder),
                prefix,
                6,
                seed=5,
                num_samples=num_samples,
                beam=2 if "--beam" in extra else 0,
            )
            texts = [line for line in out.splitlines() if not line.startswith("--- sample")]
            assert texts == expected, (folder.name, prefix, extra)


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


def test_argparse_refusals_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", "x.txt", "--lr"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "rnnkit train: error: argument --lr: expected one argument; see rnnkit train --help\n"
    )
    with pytest.raises(SystemExit):
        main(["generate", "--checkpoint", "x", "--device", "gpu"])
    err = capsys.readouterr().err
    assert err.startswith("rnnkit generate: error: argument --device: invalid choice")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--checkpoint", "x", "--length", "abc"], "--length must be an integer in"),
        (
            ["generate", "--checkpoint", "x", "--temperature", "nan"],
            "--temperature must be a number in [0, inf), got nan (0 = greedy)",
        ),
        (
            ["generate", "--checkpoint", "x", "--threads", "-1"],
            "--threads must be an integer in [0, 1024], got -1 (0 = torch default)",
        ),
        (
            ["prepare", "x.txt", "--out", "o", "--split", "0.5,0.6"],
            "--split must be three numbers in [0, 1] (train, val, test) summing to 1, "
            "got [0.5, 0.6]",
        ),
        (
            ["prepare", "x.txt", "--out", "o", "--min-freq", "0"],
            "--min-freq must be an integer in [1, inf), got 0",
        ),
        (
            ["serve", "--checkpoint", "x", "--port", "70000"],
            "--port must be an integer in [0, 65535], got 70000 (0 = any free port)",
        ),
        (["serve", "--checkpoint", "x", "--workers", "0"], "--workers must be an integer in"),
    ],
)
def test_flag_values_are_checked_before_any_work(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2  # before the (missing) checkpoint or source is read
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"rnnkit: error: {message}") and err.count("\n") == 1
