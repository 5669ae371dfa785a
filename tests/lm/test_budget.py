"""Issue 30: the budget's wall clock, spread-out samples, --quiet, and the numbers a run
prints agreeing with each other."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import TINY_TEXT, tiny_lm_config
from rnnkit.cli import main
from rnnkit.config import resolve
from rnnkit.lm.load import info
from rnnkit.lm.train import SAMPLE_BLOCKS, train_lm


def test_a_budgeted_run_ends_on_time_with_a_few_sample_blocks(tmp_path: Path) -> None:
    lines: list[str] = []
    budget = 6.0
    sets = ("train.epochs=0", f"train.time_budget={budget}", "generate.every=1")
    cfg = tiny_lm_config(tmp_path, *sets, text=TINY_TEXT[:1500])  # short epochs
    start = time.perf_counter()
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    assert time.perf_counter() - start <= 1.1 * budget + 2 + 2  # + the corpus and the folder
    assert result.stopped_by in ("time_budget", "patience")
    assert len(result.history) > SAMPLE_BLOCKS  # many epochs ...
    headers = [line for line in lines if line.startswith("[epoch ")]
    assert 1 <= len(headers) <= SAMPLE_BLOCKS  # ... but a few sample blocks
    done = lines[-1]
    wall = float(done.split("wall ")[1].split("s")[0])
    assert done.startswith("done (") and wall <= 1.1 * budget + 2


def test_the_epoch_numbers_agree_in_the_log_the_samples_and_info(tmp_path: Path) -> None:
    lines: list[str] = []
    # 10 steps: a cut-short first epoch, counted as epoch 1 everywhere.
    cfg = tiny_lm_config(tmp_path, "train.epochs=0", "train.max_steps=10", "generate.every=1")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    log = [line for line in lines if line.startswith("epoch ")]
    assert log and log[-1].split()[1] == "1"
    assert any(line.startswith("[epoch 1] prefix ") for line in lines)
    facts = info(tmp_path / "run")
    assert facts["epoch"] == facts["best_epoch"] == 1


def test_the_recipe_line_shows_the_values_that_run(tmp_path: Path) -> None:
    source = tmp_path / "mine.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    sets = ["train.precision=fp32", "train.max_steps=3", "train.threads=1"]
    cfg = resolve(str(source), overrides=sets)
    lines: list[str] = []
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    recipe = lines[0]
    assert recipe.startswith("recipe: ") and "tokens/s measured" in recipe
    assert "fp32" in recipe and "bf16" not in recipe and "kept yours: train.precision" in recipe
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert f"warm-up {saved['train']['warmup_steps']}," in recipe
    assert f"patience {saved['train']['patience']}," in recipe and saved["train"]["patience"] > 0
    assert lines[-1].startswith("done (max_steps)") and "passes (announced " in lines[-1]


def test_quiet_prints_the_done_line_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "tiny.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    args = ["train", str(source), "--max-steps", "3", "--threads", "1", "--hidden-size", "16"]
    assert main([*args, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("done (max_steps): ")
