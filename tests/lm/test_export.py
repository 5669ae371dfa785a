"""`rnnkit export --format onnx`: the ONNX step agrees with PyTorch, and the side files.

Each case trains a tiny model for a few steps and exports it once (module-scoped cache);
onnxruntime then runs the exported step with the state carried in numpy, teacher-forced
over 1,000 tokens (logits within 1e-4 of `RNNLM.forward`), greedily over 500 tokens (the
same text as `rnnkit.generate(..., temperature=0)`) and on a batch of 3 (dynamic batch).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rnnkit
from conftest import TINY_TEXT, tiny_lm_config
from rnnkit.cli import main
from rnnkit.errors import ConfigError
from rnnkit.lm.train import train_lm

ort = pytest.importorskip("onnxruntime", reason="the parity tests need onnxruntime")
pytest.importorskip("onnx", reason="the ONNX export needs onnx (pip install 'rnnkit[export]')")
pytest.importorskip("onnxscript", reason="the ONNX export needs onnxscript")

TOL = 1e-4
PREFIX = "the "

# (kind, num_layers, impl, input_mode, extra overrides)
Case = tuple[str, int, str, str, tuple[str, ...]]
DEFAULT_CASES: list[Case] = [
    (kind, 2, "torch", mode, ())
    for kind in ("rnn", "gru", "lstm")
    for mode in ("embedding", "onehot")
]
SLOW_CASES: list[Case] = [
    case
    for kind in ("rnn", "gru", "lstm")
    for case in (
        (kind, 1, "torch", "embedding", ()),
        (kind, 3, "torch", "onehot", ()),
        (kind, 2, "scratch", "embedding", ()),
        (kind, 2, "scratch", "onehot", ()),
        (kind, 2, "fused", "embedding", ()),
        (kind, 2, "fused", "onehot", ()),
        (kind, 1, "torch", "embedding", ("model.embedding_dim=0", "model.tie_weights=true")),
    )
]
CASES = [
    pytest.param(case, id=f"{case[0]}-{case[1]}-{case[2]}-{case[3]}") for case in DEFAULT_CASES
]
CASES += [
    pytest.param(
        case,
        id=f"{case[0]}-{case[1]}-{case[2]}-{case[3]}{'-tied' if case[4] else ''}",
        marks=pytest.mark.slow,
    )
    for case in SLOW_CASES
]


def quiet(_: str) -> None:
    """Swallow the readable lines."""


class Exported:
    """A trained tiny model, its run folder, its export folder and an ONNX session."""

    def __init__(self, run: Path, out: Path) -> None:
        self.run = run
        self.out = out
        self.lm = rnnkit.load(run)
        self.card: dict[str, Any] = json.loads((out / "model.json").read_text("utf-8"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(out / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.lstm = self.card["kind"] == "lstm"

    def zeros(self, batch: int) -> list[np.ndarray]:
        """The zero state: [h] or [h, c], each (L, B, H) float32."""
        shape = (self.card["num_layers"], batch, self.card["hidden_size"])
        return [np.zeros(shape, np.float32) for _ in range(2 if self.lstm else 1)]

    def step(
        self, tokens: np.ndarray, state: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One ONNX step. Shape: tokens (B,) -> logits (B, V); state [h] or [h, c]."""
        feeds = {"tokens": tokens.astype(np.int64)[:, None], "h": state[0]}
        if self.lstm:
            feeds["c"] = state[1]
        logits, *new_state = self.session.run(None, feeds)
        return logits, new_state

    def teacher_forced(self, ids: np.ndarray) -> np.ndarray:
        """ONNX logits of every position. Shape: ids (B, T) -> (B, T, V)."""
        state = self.zeros(ids.shape[0])
        rows = []
        for t in range(ids.shape[1]):
            logits, state = self.step(ids[:, t], state)
            rows.append(logits)
        return np.stack(rows, axis=1)

    def greedy(self, prefix: list[int], length: int) -> list[int]:
        """Greedy continuation of `prefix` by `length` token ids, all in numpy."""
        state = self.zeros(1)
        logits = np.zeros((1, 0), np.float32)
        for token in prefix:
            logits, state = self.step(np.array([token]), state)
        out: list[int] = []
        for _ in range(length):
            token = int(np.argmax(logits[0]))
            out.append(token)
            logits, state = self.step(np.array([token]), state)
        return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Case], Exported]:
    """Train and export each case once per module; returns the case's `Exported`."""
    cache: dict[Case, Exported] = {}

    def get(case: Case) -> Exported:
        if case not in cache:
            kind, layers, impl, mode, extra = case
            folder = tmp_path_factory.mktemp(f"{kind}-{layers}-{impl}-{mode}")
            overrides = [
                # Enough steps that greedy text is not one repeated character.
                f"train.max_steps={120 if layers < 3 else 400}",
                "train.epochs=10",
                "model.dropout=0",
                f"model.kind={kind}",
                f"model.num_layers={layers}",
                f"model.impl={impl}",
                f"model.input_mode={mode}",
                *(["model.embedding_dim=0"] if mode == "onehot" else []),
                *extra,
            ]
            cfg = tiny_lm_config(folder, *overrides)
            train_lm(cfg, out=folder / "run", quiet=True, echo=quiet)
            assert main(["export", str(folder / "run"), "--out", str(folder / "onnx")]) == 0
            cache[case] = Exported(folder / "run", folder / "onnx")
        return cache[case]

    return get


def corpus_ids(ex: Exported, length: int, offset: int = 0) -> np.ndarray:
    """`length` token ids of the tiny text from `offset`. Shape: (length,)."""
    text = (TINY_TEXT * 2)[offset : offset + length]
    return np.array([ex.lm.vocab[ch] for ch in text], dtype=np.int64)


@pytest.mark.parametrize("case", CASES)
def test_teacher_forced_logits_match_pytorch(exported: Callable, case: Case) -> None:
    ex = exported(case)
    ids = corpus_ids(ex, 1000)[None, :]  # (1, 1000)
    with torch.no_grad():
        expected, _ = ex.lm.model(torch.from_numpy(ids))  # (1, 1000, V)
    got = ex.teacher_forced(ids)
    assert got.shape == expected.shape
    assert np.abs(got - expected.numpy()).max() < TOL


@pytest.mark.parametrize("case", CASES)
def test_greedy_decoding_matches_rnnkit_generate(exported: Callable, case: Case) -> None:
    ex = exported(case)
    expected = rnnkit.generate(ex.lm, PREFIX, 500, temperature=0)[0]
    prefix = [ex.lm.vocab[ch] for ch in PREFIX]
    tokens = ex.greedy(prefix, 500)
    assert len(set(expected[len(PREFIX) :])) >= 3  # a real test: the text varies
    assert PREFIX + "".join(ex.lm.vocab.idx_to_token[i] for i in tokens) == expected


@pytest.mark.parametrize("case", CASES)
def test_a_batch_of_three_steps_each_row(exported: Callable, case: Case) -> None:
    ex = exported(case)
    ids = np.stack([corpus_ids(ex, 60, offset) for offset in (0, 7, 101)])  # (3, 60)
    with torch.no_grad():
        expected, _ = ex.lm.model(torch.from_numpy(ids))  # (3, 60, V)
    got = ex.teacher_forced(ids)
    assert got.shape == (3, 60, ex.card["vocab_size"])
    assert np.abs(got - expected.numpy()).max() < TOL


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_onnx_graph_follows_the_contract(exported: Callable, kind: str) -> None:
    import onnx

    ex = exported((kind, 2, "torch", "embedding", ()))
    model = onnx.load(str(ex.out / "model.onnx"))
    state = ["h", "c"] if kind == "lstm" else ["h"]

    def signature(values: Any) -> dict[str, tuple[int, list[Any]]]:
        return {
            v.name: (
                v.type.tensor_type.elem_type,
                [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            )
            for v in values
        }

    L, H, V = 2, ex.card["hidden_size"], ex.card["vocab_size"]
    f32, i64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    assert signature(model.graph.input) == {
        "tokens": (i64, ["batch", 1]),
        **{name: (f32, [L, "batch", H]) for name in state},
    }
    assert signature(model.graph.output) == {
        "logits": (f32, ["batch", V]),
        **{f"{name}_out": (f32, [L, "batch", H]) for name in state},
    }
    assert [i.name for i in model.graph.input] == ["tokens", *state]
    assert [o.name for o in model.graph.output] == ["logits", *(f"{s}_out" for s in state)]
    opset = next(op.version for op in model.opset_import if op.domain in ("", "ai.onnx"))
    assert ex.card["opset"] == opset


def test_side_files_hold_the_vocab_and_the_card(exported: Callable) -> None:
    ex = exported(("gru", 2, "torch", "embedding", ()))
    assert (ex.out / "vocab.json").read_text("utf-8") == ex.lm.vocab.to_json()
    card = ex.card
    assert card["format"] == "rnnkit-onnx"
    assert card["format_version"] == 1
    assert card["task"] == "lm"
    assert (card["level"], card["normalize"], card["word_regex"]) == ("char", "none", "")
    assert (card["kind"], card["num_layers"], card["hidden_size"]) == ("gru", 2, 24)
    assert card["vocab_size"] == len(ex.lm.vocab)
    assert card["input_mode"] == "embedding"
    assert card["corpus"]["sha1"] == ex.lm.corpus["sha1"]
    assert card["config"] == json.loads(json.dumps(ex.lm.config.to_dict()))
    assert card["metrics"]["step"] == ex.lm.metrics["step"]
    assert card["best_metrics"]["val_loss"] == ex.lm.best["val_loss"]
    rows = (ex.run / "metrics.jsonl").read_text("utf-8").splitlines()
    assert card["history"] == [json.loads(row) for row in rows]
    assert len(card["history"]) >= 1


def test_missing_exporter_is_one_line(
    exported: Callable, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    import importlib.util

    ex = exported(("gru", 2, "torch", "embedding", ()))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else real(name, *a),
    )
    assert main(["export", str(ex.run), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'rnnkit[export]'" in err
    assert not (tmp_path / "x").exists()
    from rnnkit.lm.export import check_exporter

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError, match=r"rnnkit\[export\]"):
        check_exporter()


def test_a_missing_checkpoint_is_one_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("rnnkit: error: ")
    assert not (tmp_path / "x").exists()


def test_load_does_not_import_the_exporter() -> None:
    code = (
        "import sys, rnnkit; rnnkit.load; import rnnkit.lm.load; "
        "assert 'rnnkit.lm.export' not in sys.modules; "
        "assert 'onnx' not in sys.modules and 'onnxscript' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_non_finite_metrics_become_null() -> None:
    from rnnkit.lm.export import _finite

    row = {"val_loss": float("nan"), "ppl": [1.5, float("inf")], "step": 3}
    assert _finite(row) == {"val_loss": None, "ppl": [1.5, None], "step": 3}


@pytest.mark.slow
def test_a_word_level_model_exports(tmp_path: Path) -> None:
    cfg = tiny_lm_config(
        tmp_path,
        "data.level=word",
        "data.normalize=newlines",
        "train.max_steps=30",
        "model.kind=lstm",
    )
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "onnx")]) == 0
    ex = Exported(tmp_path / "run", tmp_path / "onnx")
    assert (ex.card["level"], ex.card["normalize"]) == ("word", "newlines")
    ids = np.array([ex.lm.vocab.encode(TINY_TEXT.split()[:300])])  # (1, 300)
    with torch.no_grad():
        expected, _ = ex.lm.model(torch.from_numpy(ids))  # (1, 300, V)
    assert np.abs(ex.teacher_forced(ids) - expected.numpy()).max() < TOL
