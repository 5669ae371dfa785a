"""The adaptive softmax output: exact log-probabilities, the rules that choose it, training,
evaluation, sampling, the stepper, the ONNX step and the checkpoint round trip."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from conftest import tiny_lm_config
from rnnkit.errors import ConfigError
from rnnkit.lm.adaptive import (
    AdaptiveHead,
    check_cutoffs,
    choose_cutoffs,
    output_cost,
    resolve_output,
)
from rnnkit.lm.model import RNNLM
from rnnkit.lm.step import Decoding, LMStep
from rnnkit.lm.train import train_lm, training_loss

V, H = 60, 12
CUTS = [10, 30]
WORDS = (
    "model.output=adaptive",
    "model.cutoffs=[8, 20]",
    "model.tie_weights=true",
    "model.embedding_dim=0",
    "model.kind=lstm",
    "model.num_layers=2",
    "data.level=word",
    "data.num_steps=8",
    "train.epochs=2",
    "generate.prefixes=['the time']",
)


def quiet(_: str) -> None:
    """Swallow the readable lines."""


def model(tie: bool = True) -> RNNLM:
    torch.manual_seed(0)
    lm = RNNLM(V, "lstm", H, 2, 0.2, 0, "embedding", tie, "torch", "adaptive", CUTS)
    return lm.double()


def test_log_probs_are_a_distribution_and_the_targets_read_them() -> None:
    head = AdaptiveHead(H, V, CUTS).double()
    x = torch.randn(9, H, dtype=torch.float64)
    log_probs = head.log_probs(x)  # (9, V)
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(9, dtype=torch.float64))
    target = torch.tensor([0, 9, 10, 29, 30, 59, 5, 45, 12])  # head, both clusters, edges
    want = log_probs.gather(1, target[:, None]).squeeze(1)
    torch.testing.assert_close(head.target_log_probs(x, target), want)


def test_the_rules() -> None:
    assert resolve_output("auto", "word", 5000) == "adaptive"
    assert resolve_output("auto", "word", 4999) == "softmax"
    assert resolve_output("auto", "char", 20000) == "softmax"
    assert resolve_output("softmax", "word", 20000) == "softmax"
    zipf = [int(1e6 / (r + 1)) for r in range(10_000)]
    cuts = choose_cutoffs(zipf, 10_000)
    assert cuts == sorted(cuts) and 0 < cuts[0] < cuts[-1] < 10_000
    shares = [0.0]
    for c in zipf:
        shares.append(shares[-1] + c / sum(zipf))
    assert output_cost(shares, cuts, 10_000) < 10_000 / 4  # a quarter of a full softmax
    assert choose_cutoffs(None, 10_000) == cuts  # no counts: Zipf
    for bad in ([], [0, 5], [30, 10], [10, V]):
        with pytest.raises(ConfigError, match="cutoffs"):
            check_cutoffs(bad, V)


def test_tied_targets_and_full_forward_agree() -> None:
    lm = model().eval()
    assert lm.head.weight is lm.embedding.weight  # type: ignore[union-attr]
    tokens = torch.randint(0, V, (3, 7))
    targets = torch.randint(0, V, (3, 7))
    log_probs, _ = lm(tokens)  # (3, 7, V)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 7, dtype=torch.float64))
    picked, _ = lm(tokens, targets=targets)
    torch.testing.assert_close(picked, log_probs.gather(-1, targets[..., None]).squeeze(-1))
    loss, _ = training_loss(lm, tokens, targets, None, bf16=False)
    want = F.cross_entropy(log_probs.reshape(-1, V), targets.reshape(-1))
    torch.testing.assert_close(loss, want)
    loss.backward()  # a training step reaches the tied rows
    assert lm.embedding.weight.grad is not None  # type: ignore[union-attr]


def test_the_stepper_and_the_onnx_step_give_the_forward_distribution() -> None:
    lm = model().eval()
    tokens = torch.randint(0, V, (2, 6))
    with torch.no_grad():
        _, state = lm(torch.randint(0, V, (2, 4)))
        stepper = Decoding(lm, state, 2)
        for t in range(tokens.size(1)):
            want, state = lm(tokens[:, t : t + 1], state)
            torch.testing.assert_close(stepper.step(tokens[:, t]), want[:, 0])
    weights = {name: w.float() for name, w in lm.state_dict().items()}  # as the export's
    step = LMStep(weights, "lstm", 2, CUTS)
    zeros = list(torch.zeros(2, 2, H))
    with torch.no_grad():
        got, _, _ = step.step(tokens[:, 0], zeros, zeros)
        want, _ = lm.float()(tokens[:, :1])
    torch.testing.assert_close(got, want[:, 0])


def test_training_evaluation_sampling_and_the_checkpoint(tmp_path: Path) -> None:
    cfg = tiny_lm_config(tmp_path, *WORDS)
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    rows = result.history
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] < math.log(100)
    assert "test_unk" in rows[-1]
    lm = rnnkit.load(tmp_path / "run")  # the round trip: an adaptive head, tied
    assert isinstance(lm.model.head, AdaptiveHead) and lm.model.cutoffs == [8, 20]
    assert lm.config.model.output == "adaptive"
    scores = rnnkit.evaluate(lm)
    assert scores["loss"] == pytest.approx(result.best["val_loss"], rel=1e-6)
    greedy = rnnkit.generate(lm, "the time", 12, temperature=0)
    assert greedy == rnnkit.generate(lm, "the time", 12, temperature=0)
    assert greedy[0].startswith("the time") and " ," not in greedy[0]
    sampled = rnnkit.generate(lm, "the time", 12, seed=3, num_samples=2)
    steps = list(rnnkit.stream(lm, "the time", 12, seed=3, num_samples=2))
    assert rnnkit.lm.generation.join_steps("the time", steps, lm.tokenizer, 2) == sampled
    (beam,) = rnnkit.generate(lm, "the time", 6, beam=3)
    assert beam.startswith("the time")


def test_an_adaptive_run_resumes_as_the_straight_run(tmp_path: Path) -> None:
    straight = train_lm(
        tiny_lm_config(tmp_path / "a", *WORDS), out=tmp_path / "a" / "run", quiet=True, echo=quiet
    )
    first = tiny_lm_config(tmp_path / "b", *WORDS, "train.epochs=1")
    train_lm(first, out=tmp_path / "b" / "run", quiet=True, echo=quiet)
    resumed = train_lm(
        tiny_lm_config(tmp_path / "b", *WORDS),
        resume=tmp_path / "b" / "run",
        quiet=True,
        echo=quiet,
    )
    keys = ("step", "train_loss", "val_loss")
    assert [{k: r[k] for k in keys} for r in resumed.history] == [
        {k: r[k] for k in keys} for r in straight.history
    ]


def test_a_small_word_vocabulary_keeps_the_softmax(tmp_path: Path) -> None:
    cfg = tiny_lm_config(tmp_path, "data.level=word", "train.epochs=1")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    assert (cfg.model.output, cfg.model.cutoffs) == ("softmax", [])
    assert cfg.data.word_regex and cfg.data.newlines == "keep"


@pytest.mark.slow
def test_an_adaptive_model_exports_and_the_runtime_generates_the_same(tmp_path: Path) -> None:
    from rnnkit.lm.export import export_onnx
    from rnnkit.runtime.onnx_lm import generate, load_onnx

    cfg = tiny_lm_config(tmp_path, *WORDS)
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    export_onnx(tmp_path / "run", tmp_path / "onnx")
    lm, onnx = rnnkit.load(tmp_path / "run"), load_onnx(tmp_path / "onnx")
    for prefix in ("the time", "(for so"):
        want = rnnkit.generate(lm, prefix, 20, temperature=0)
        assert generate(onnx, prefix, 20, temperature=0) == want
