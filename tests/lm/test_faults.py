"""Non-finite numbers are caught where they arise: a one-line `NumericalError` naming the
checkpoint and the fix, in generation (sampling, greedy, beam, stream), evaluation and
training, and the last good checkpoint is never overwritten."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

import rnnkit
from conftest import TINY_LM_SETTINGS, TINY_TEXT, tiny_lm_config
from rnnkit.cli import main
from rnnkit.errors import NumericalError, RnnkitError
from rnnkit.lm.generation import sample_next
from rnnkit.lm.load import LoadedLM
from rnnkit.lm.train import NOT_SAVED, train_lm
from rnnkit.training.distributed import DistContext, agree_flag

OVERFLOW = [
    "train.lr=1e30",
    "train.clip=0",
    "train.epochs=2",
]


def quiet(_: str) -> None:
    """Swallow the readable lines."""


def one_line_error(err: str) -> str:
    """The CLI's error line; fails unless stderr is exactly one `rnnkit: error:` line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LSTM trained for one epoch (the kind whose huge weights overflow only when
    generating: its forward call still gives finite logits)."""
    folder = tmp_path_factory.mktemp("faults")
    cfg = tiny_lm_config(folder, "model.kind=lstm", "train.epochs=1")
    train_lm(cfg, out=folder / "run", quiet=True, echo=quiet)
    return folder / "run"


@pytest.fixture
def poisoned(good_run: Path) -> Callable[[str], LoadedLM]:
    """A factory of freshly loaded models with broken weights: `nan`, `inf` or `huge`."""

    def make(how: str) -> LoadedLM:
        lm = rnnkit.load(good_run)
        with torch.no_grad():
            if how == "huge":
                for p in lm.model.parameters():
                    p.mul_(1e30)
            else:
                lm.model.head.weight[3, 0] = float(how)
        return lm

    return make


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_resume_with_an_overflowing_lr_is_one_line_and_keeps_last_pt(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # lstm: the weights stay finite and evaluation passes, only generation overflows (the
    # multinomial traceback of old); gru: the validation loss itself becomes NaN.
    cfg = tiny_lm_config(tmp_path, f"model.kind={kind}", "train.epochs=1")
    run = tmp_path / "run"
    train_lm(cfg, out=run, quiet=True, echo=quiet)
    files = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt", "metrics.jsonl")}
    capsys.readouterr()

    sets = [a for s in OVERFLOW for a in ("--set", s)]
    code = main(["train", "--resume", str(run), *sets, "--quiet"])

    line = one_line_error(capsys.readouterr().err)
    assert code != 0
    assert NOT_SAVED in line
    assert "train.lr" in line and "train.clip" in line
    for name, before in files.items():
        assert (run / name).read_bytes() == before, name
    lm = rnnkit.load(run / "last.pt")
    assert all(bool(torch.isfinite(p).all()) for p in lm.model.parameters())
    assert len(rnnkit.generate(lm, "the ", 5, seed=0)[0]) == 9


def test_a_nan_validation_loss_stops_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rnnkit.lm.train as recipe

    cfg = tiny_lm_config(tmp_path, "train.epochs=1")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    before = (tmp_path / "run" / "last.pt").read_bytes()
    metrics = (tmp_path / "run" / "metrics.jsonl").read_bytes()
    original = recipe.evaluate_tokens

    def nan_loss(*args: object, **kwargs: object) -> dict[str, float]:
        return {**original(*args, **kwargs), "loss": math.nan}  # type: ignore[arg-type]

    monkeypatch.setattr(recipe, "evaluate_tokens", nan_loss)
    cfg = tiny_lm_config(tmp_path, "train.epochs=2")
    where = "validation loss became nan at the evaluation after step"
    with pytest.raises(NumericalError, match=f"{where} .*; {NOT_SAVED}") as info:
        train_lm(cfg, resume=tmp_path / "run", quiet=True, echo=quiet)
    assert "\n" not in str(info.value)
    assert (tmp_path / "run" / "last.pt").read_bytes() == before
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == metrics


def test_one_process_agreement_is_the_flag_itself() -> None:
    ctx = DistContext()
    assert agree_flag(ctx, True) is True and agree_flag(ctx, False) is False


# --------------------------------------------------------------------------- generation


@pytest.mark.parametrize("how", ["nan", "inf", "huge"])
@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 1.0},
        {"temperature": 0.0},
        {"temperature": 0.7, "top_k": 5, "top_p": 0.9},
        {"beam": 3},
    ],
    ids=["sample", "greedy", "filtered", "beam"],
)
def test_generate_names_the_checkpoint_and_the_fix(
    poisoned: Callable[[str], LoadedLM], how: str, options: dict[str, float]
) -> None:
    lm = poisoned(how)
    with pytest.raises(NumericalError) as info:
        rnnkit.generate(lm, "the ", 8, seed=0, **options)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert str(lm.path) in message and "not finite" in message
    assert "train.lr" in message and "train.clip" in message


@pytest.mark.parametrize("prefix", ["the ", ""], ids=["prefix", "first-token"])
def test_stream_raises_on_its_first_step(poisoned: Callable[[str], LoadedLM], prefix: str) -> None:
    lm = poisoned("nan")
    steps = rnnkit.stream(lm, prefix, 8, seed=0)  # options are checked, nothing runs yet
    with pytest.raises(NumericalError, match="not finite") as info:
        for _ in steps:
            pass
    assert str(lm.path) in str(info.value)


def test_a_closed_stream_closes_the_sampler(good_run: Path) -> None:
    steps = rnnkit.stream(rnnkit.load(good_run), "the ", 8, seed=0)
    assert isinstance(steps, Iterator)
    next(steps)
    steps.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(steps)


def test_evaluate_names_the_checkpoint(poisoned: Callable[[str], LoadedLM]) -> None:
    lm = poisoned("nan")
    with pytest.raises(NumericalError, match="held-out loss is nan") as info:
        rnnkit.evaluate(lm)
    assert str(lm.path) in str(info.value) and "\n" not in str(info.value)


def test_the_cli_prints_a_generation_fault_on_one_line(
    good_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lm = rnnkit.load(good_run)
    broken = tmp_path / "broken.pt"
    ckpt = torch.load(lm.path, weights_only=True)  # type: ignore[arg-type]
    ckpt["model"] = {k: v * 1e30 for k, v in ckpt["model"].items()}
    torch.save(ckpt, broken)
    capsys.readouterr()
    code = main(["generate", "--checkpoint", str(broken), "--prefix", "the ", "--seed", "0"])
    line = one_line_error(capsys.readouterr().err)
    assert code != 0 and str(broken) in line and "not finite" in line


def test_sample_next_checks_once_and_keeps_masked_tokens() -> None:
    gen = torch.Generator().manual_seed(0)
    masked = torch.tensor([[0.0, -math.inf, 1.0], [2.0, 0.5, -math.inf]])  # (N, V)
    assert sample_next(masked, 1.0, 0, 1.0, gen).tolist() in ([0, 0], [0, 1], [2, 0], [2, 1])
    for bad in (math.nan, math.inf):
        logits = torch.tensor([[0.0, bad, 1.0], [0.0, 0.0, 0.0]])
        for temperature in (0.0, 1.0):
            with pytest.raises(NumericalError, match="not finite"):
                sample_next(logits, temperature, 0, 1.0, gen)
    with pytest.raises(NumericalError):  # finite logits that overflow once divided
        sample_next(torch.tensor([[3e38, 0.0]]), 0.5, 0, 1.0, gen)
    with pytest.raises(NumericalError):  # every token impossible
        sample_next(torch.full((1, 3), -math.inf), 1.0, 0, 1.0, gen)
    assert issubclass(NumericalError, RnnkitError)


# --------------------------------------------------------------------------- torchrun


@pytest.mark.slow
def test_two_ranks_stop_together_without_touching_last_pt(tmp_path: Path) -> None:
    """Under torchrun every rank finds (or hears of) the fault at once: no collective
    timeout, both exit non-zero, last.pt stays as it was."""
    source = tmp_path / "tiny.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    settings = [
        f"data.source={source}",
        *TINY_LM_SETTINGS,
        "model.kind=lstm",
        "model.dropout=0",
        "data.batch_size=2",
        "generate.every=0",
    ]
    sets = [a for s in settings for a in ("--set", s)]
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({"OMP_NUM_THREADS": "1", "RNNKIT_DIST_TIMEOUT": "60"})
    more = ["--set", "train.epochs=1", "--quiet"]
    run = tmp_path / "run"
    first = subprocess.run(
        [*base, "-m", "rnnkit", "train", *sets, *more, "--out", str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    before = (run / "last.pt").read_bytes()
    bad = [a for s in OVERFLOW for a in ("--set", s)]
    second = subprocess.run(
        [*base, "-m", "rnnkit", "train", "--resume", str(run), *bad, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,  # well under the collective timeout: nobody waits for it
    )
    assert second.returncode != 0
    assert NOT_SAVED in second.stderr
    assert "lost the other processes" not in second.stderr
    assert (run / "last.pt").read_bytes() == before
