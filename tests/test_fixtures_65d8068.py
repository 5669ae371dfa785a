"""Against the fixtures of 65d8068, made before "Restructure, part 3" moved the decoding,
I/O and configuration code (`tests/fixtures/make_65d8068.py`): seeded 20-step runs give the
same loss at every step, and the checkpoints and the ONNX export written then still load
and give the same text and forecasts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rnnkit
from conftest import wave_values
from rnnkit.forecast.forecaster import Forecaster
from rnnkit.forecast.series import Series

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected-65d8068.json").read_text())
sys.path.insert(0, str(FIXTURES))
from make_65d8068 import STEP_RUNS, step_losses  # noqa: E402


@pytest.mark.parametrize("name", list(STEP_RUNS))
def test_seeded_runs_give_the_recorded_loss_at_every_step(tmp_path: Path, name: str) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = step_losses(tmp_path, STEP_RUNS[name])
    finally:
        torch.set_num_threads(threads)
    want = EXPECTED["runs"][name]
    assert got["stop"] == want["stop"]
    assert len(got["losses"]) == len(want["losses"]) == 20
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=1e-6, atol=0)
    for row, expected in zip(got["rows"], want["rows"], strict=True):
        assert row["step"] == expected["step"]
        np.testing.assert_allclose(row["val_loss"], expected["val_loss"], rtol=1e-6)


def test_char_checkpoint_generates_the_recorded_text() -> None:
    lm = rnnkit.load(FIXTURES / "lm-65d8068")
    assert rnnkit.generate(lm, "the ", 40, temperature=0) == EXPECTED["lm_greedy"]
    sampled = rnnkit.generate(lm, "the ", 30, top_k=5, num_samples=2, seed=3)
    assert sampled == EXPECTED["lm_sampled"]
    assert rnnkit.generate(lm, "the ", 20, beam=3, num_samples=2) == EXPECTED["lm_beam"]


def test_word_checkpoint_generates_the_recorded_text() -> None:
    lm = rnnkit.load(FIXTURES / "words-65d8068")
    assert rnnkit.generate(lm, "the time", 12, temperature=0) == EXPECTED["words_greedy"]


def test_export_generates_the_recorded_text_without_torch_code() -> None:
    pytest.importorskip("onnxruntime", reason="the export needs onnxruntime")
    from rnnkit.runtime.onnx_lm import generate, load_onnx

    lm = load_onnx(FIXTURES / "export-65d8068")
    assert generate(lm, "the ", 40, temperature=0) == EXPECTED["export_greedy"]
    sampled = generate(lm, "the ", 30, top_k=5, num_samples=2, seed=3)
    assert sampled == EXPECTED["export_sampled"]


def test_forecast_checkpoint_forecasts_the_recorded_numbers() -> None:
    series = Series("wave", [], wave_values(), ["y0"], np.zeros((80, 0)))
    pred = Forecaster.load(FIXTURES / "forecast-65d8068").predict(5, series=series)
    np.testing.assert_allclose(pred.mean, EXPECTED["forecast"]["mean"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(pred.lower, EXPECTED["forecast"]["lower"], rtol=0, atol=1e-9)
