"""The language-model training loop: run folder, exact resume, NaN guard, Ctrl-C, stop rules,
and a run that leaves the caller's process (global generators, threads, SIGINT) as it found it."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit.lm.train as lm_train
from conftest import tiny_lm_config
from rnnkit.checkpoint import load_checkpoint
from rnnkit.config import RunConfig
from rnnkit.errors import RnnkitError
from rnnkit.lm.train import NOT_SAVED, train_lm
from rnnkit.training.environment import Interrupt, bf16_supported


def tiny_config(tmp_path: Path, *overrides: str) -> RunConfig:
    """A model and corpus small enough for a test to train in a second."""
    return tiny_lm_config(tmp_path, *overrides)


def quiet(_: str) -> None:
    """Swallow the readable lines."""


def test_run_folder_holds_everything(tmp_path: Path) -> None:
    result = train_lm(tiny_config(tmp_path), out=tmp_path / "run", quiet=True, echo=quiet)
    run = tmp_path / "run"
    names = {"config.json", "metrics.jsonl", "last.pt", "best.pt", "curves.png", "samples.txt"}
    assert names <= {p.name for p in run.iterdir()}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("step", "train_loss", "train_ppl", "val_loss", "val_ppl", "val_bpc", "val_unk"):
        assert key in rows[-1]
    assert rows[-1]["elapsed_s"] <= rows[-1]["wall_s"]
    assert rows[-1]["train_ppl"] < rows[0]["train_ppl"] < 28
    ckpt = load_checkpoint(run / "best.pt")
    assert ckpt["task"] == "lm" and ckpt["vocab"]["counts"]
    assert result.best["val_loss"] == min(r["val_loss"] for r in rows)
    assert json.loads((run / "config.json").read_text())["model"]["kind"] == "gru"
    assert "the " in (run / "samples.txt").read_text()


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_resume_continues_bit_for_bit(tmp_path: Path, sampling: str) -> None:
    straight = train_lm(
        tiny_config(tmp_path, "train.epochs=4", f"data.sampling={sampling}"),
        out=tmp_path / "straight",
        quiet=True,
        echo=quiet,
    )
    train_lm(
        tiny_config(tmp_path, "train.epochs=2", f"data.sampling={sampling}"),
        out=tmp_path / "split",
        quiet=True,
        echo=quiet,
    )
    resumed = train_lm(
        tiny_config(tmp_path, "train.epochs=4", f"data.sampling={sampling}"),
        resume=tmp_path / "split",
        quiet=True,
        echo=quiet,
    )
    losses = [r["train_loss"] for r in straight.history]
    assert [r["train_loss"] for r in resumed.history] == losses
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in straight.history]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "split" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("kind", "impl"), [("lstm", "torch"), ("gru", "scratch"), ("rnn", "fused")]
)
def test_bf16_autocast_trains_and_keeps_float32_weights(
    tmp_path: Path, kind: str, impl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not bf16_supported(torch.device("cpu")):
        if impl == "torch":
            pytest.skip("oneDNN refuses a bf16 LSTM on a CPU without AVX-512 BF16 or AMX")
        monkeypatch.setattr(lm_train, "bf16_supported", lambda device: True)  # emulated bf16
    sets = (f"model.kind={kind}", f"model.impl={impl}", "train.epochs=3")
    fp32 = train_lm(tiny_config(tmp_path, *sets), out=tmp_path / "fp32", quiet=True, echo=quiet)
    bf16 = train_lm(
        tiny_config(tmp_path, *sets, "train.precision=bf16"),
        out=tmp_path / "bf16",
        quiet=True,
        echo=quiet,
    )
    losses = [r["train_loss"] for r in bf16.history]
    assert losses[-1] < losses[0]
    assert losses != [r["train_loss"] for r in fp32.history]  # autocast really ran
    weights = load_checkpoint(tmp_path / "bf16" / "best.pt")["model"]
    assert all(w.dtype == torch.float32 for w in weights.values())


def test_bf16_without_cpu_support_trains_in_fp32_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lm_train, "bf16_supported", lambda device: False)
    lines: list[str] = []
    cfg = tiny_config(tmp_path, "model.kind=lstm", "train.epochs=1", "train.precision=bf16")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    assert any("no native bf16" in line and "fp32" in line for line in lines)
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["train"]["precision"] == "fp32"


def test_bf16_resume_continues_bit_for_bit(tmp_path: Path) -> None:
    sets = ("model.kind=lstm", "train.precision=bf16")
    straight = train_lm(
        tiny_config(tmp_path, *sets, "train.epochs=4"), out=tmp_path / "a", quiet=True, echo=quiet
    )
    train_lm(tiny_config(tmp_path, *sets), out=tmp_path / "b", quiet=True, echo=quiet)
    resumed = train_lm(
        tiny_config(tmp_path, *sets, "train.epochs=4"),
        resume=tmp_path / "b",
        quiet=True,
        echo=quiet,
    )
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]


def test_nan_loss_stops_without_touching_the_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_lm(tiny_config(tmp_path, "train.epochs=1"), out=tmp_path / "run", quiet=True, echo=quiet)
    before = (tmp_path / "run" / "last.pt").read_bytes()
    calls = []
    original = F.cross_entropy

    def poisoned(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        loss = original(*args, **kwargs)
        return loss * float("nan") if len(calls) == 5 else loss

    monkeypatch.setattr(F, "cross_entropy", poisoned)
    with pytest.raises(RnnkitError, match=rf"loss became nan at training step .*; {NOT_SAVED}"):
        train_lm(tiny_config(tmp_path, "train.epochs=3"), resume=tmp_path / "run", echo=quiet)
    assert (tmp_path / "run" / "last.pt").read_bytes() == before


def test_ctrl_c_saves_last_and_resume_finishes(tmp_path: Path) -> None:
    def interrupt_after_first_epoch(line: str) -> None:
        if line.startswith("epoch"):
            signal.raise_signal(signal.SIGINT)

    cfg = tiny_config(tmp_path, "train.epochs=3")
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=interrupt_after_first_epoch)
    assert result.interrupted and result.stopped_by == "interrupt"
    progress = load_checkpoint(tmp_path / "run" / "last.pt", prefer="last")["progress"]
    assert progress["epoch"] == 1 and progress["batch_in_epoch"] == 1
    done = train_lm(cfg, resume=tmp_path / "run", quiet=True, echo=quiet)
    assert done.history[-1]["epoch"] == 3 and not done.interrupted


def test_stop_rules_and_refusals(tmp_path: Path) -> None:
    result = train_lm(
        tiny_config(tmp_path, "train.epochs=50", "train.max_steps=3"),
        out=tmp_path / "steps",
        quiet=True,
        echo=quiet,
    )
    assert result.stopped_by == "max_steps" and result.history[-1]["step"] == 3
    start = time.perf_counter()
    result = train_lm(
        tiny_config(tmp_path, "train.epochs=1000", "train.time_budget=1", "generate.every=1"),
        out=tmp_path / "budget",
        quiet=True,
        echo=quiet,
    )
    # The budget is wall-clock time: evaluations, checkpoints and samples count.
    assert result.stopped_by == "time_budget"
    last = result.history[-1]
    assert last["elapsed_s"] < last["wall_s"] <= 1.1 * 1 + 2
    assert time.perf_counter() - start < 1.1 * 1 + 2 + 3  # + reading the corpus, the folder
    with pytest.raises(RnnkitError, match="already holds a run"):
        train_lm(tiny_config(tmp_path), out=tmp_path / "steps", quiet=True, echo=quiet)
    with pytest.raises(RnnkitError, match="another model or optimizer"):
        train_lm(
            tiny_config(tmp_path, "model.hidden_size=32"),
            resume=tmp_path / "steps",
            quiet=True,
            echo=quiet,
        )


def test_early_stopping(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "train.epochs=60", "train.lr=0.05", "train.patience=2")
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    assert result.stopped_by == "patience"
    assert len(result.history) < 60
    assert result.best["val_loss"] == min(r["val_loss"] for r in result.history)


def test_data_settings_reach_the_training_corpus(tmp_path: Path) -> None:
    """data.min_freq (like max_size, nfc, word_regex, encoding_errors) shapes the vocabulary."""
    plain = tiny_config(tmp_path, "train.max_steps=2", "generate.every=0")
    train_lm(plain, out=tmp_path / "plain", quiet=True, echo=quiet)
    capped = tiny_config(tmp_path, "train.max_steps=2", "generate.every=0", "data.min_freq=40")
    train_lm(capped, out=tmp_path / "capped", quiet=True, echo=quiet)
    tokens = {
        name: load_checkpoint(tmp_path / name / "last.pt")["vocab"]["idx_to_token"]
        for name in ("plain", "capped")
    }
    assert set(tokens["capped"]) < set(tokens["plain"])


def global_rng_states() -> tuple[Any, ...]:
    """The caller-visible global generators: Python, NumPy, torch (CPU)."""
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def assert_same_rng_states(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1], strict=True):  # ('MT19937', keys, pos, has_gauss, gauss)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
    assert torch.equal(a[2], b[2])


def test_train_lm_leaves_the_callers_rng_and_threads_as_found(tmp_path: Path) -> None:
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the run sets train.threads=1
    try:
        before = global_rng_states()
        cfg = tiny_config(tmp_path, "train.epochs=1")
        train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
        assert_same_rng_states(global_rng_states(), before)
        assert torch.get_num_threads() == 2
        # Also when the run fails after seeding and building its model.
        with pytest.raises(RnnkitError, match="another model or optimizer"):
            train_lm(
                tiny_config(tmp_path, "model.hidden_size=32"),
                resume=tmp_path / "run",
                quiet=True,
                echo=quiet,
            )
        assert_same_rng_states(global_rng_states(), before)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_seeded_runs_do_not_depend_on_the_callers_rng(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "train.max_steps=20")
    torch.manual_seed(1)
    a = train_lm(cfg, out=tmp_path / "a", quiet=True, echo=quiet)
    torch.manual_seed(2)
    random.seed(2)
    np.random.seed(2)
    b = train_lm(cfg, out=tmp_path / "b", quiet=True, echo=quiet)
    assert a.history
    assert [(r["train_loss"], r["val_loss"]) for r in a.history] == [
        (r["train_loss"], r["val_loss"]) for r in b.history
    ]


def test_interrupt_flags_the_first_ctrl_c_and_restores_the_old_handler() -> None:
    def mine(signum: int, frame: FrameType | None) -> None:
        """The caller's own handler."""

    old = signal.signal(signal.SIGINT, mine)
    try:
        with Interrupt() as interrupt:
            assert signal.getsignal(signal.SIGINT) is not mine
            signal.raise_signal(signal.SIGINT)
            assert interrupt.hit
            with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C aborts at once
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, old)


def test_resume_drops_a_metrics_row_that_last_pt_never_saw(tmp_path: Path) -> None:
    # a kill between the metrics row and last.pt leaves a row past the checkpoint
    train_lm(tiny_config(tmp_path, "train.epochs=2"), out=tmp_path / "run", quiet=True, echo=quiet)
    metrics = tmp_path / "run" / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    orphan = {**rows[-1], "epoch": 3, "step": rows[-1]["step"] * 2}
    metrics.write_text(metrics.read_text() + json.dumps(orphan) + "\n")
    train_lm(tiny_config(tmp_path, "train.epochs=3"), resume=tmp_path / "run", echo=quiet)
    resumed = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    assert resumed[:2] == rows and resumed[2]["step"] == rows[-1]["step"] * 3 // 2
