"""Issue 15: the budget governs, the automatic recipe, the regularisers, corpus prefixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import TINY_TEXT, data_table, tiny_lm_config
from rnnkit.checkpoint import load_checkpoint
from rnnkit.config import RunConfig, resolve
from rnnkit.errors import ConfigError
from rnnkit.lm.model import RNNLM
from rnnkit.lm.recipe import REGIMES, choose
from rnnkit.lm.train import step_limit, train_lm
from rnnkit.text.corpora import corpus_prefixes, load_corpus
from rnnkit.training.optim import lr_factor


def quiet(_: str) -> None:
    """Swallow the readable lines."""


# --------------------------------------------------------------------------- the budget


def test_epochs_zero_means_no_epoch_limit_and_the_budget_ends_the_run(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = tiny_lm_config(tmp_path, "train.epochs=0", "train.max_steps=150", "generate.every=0")
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    steps_per_epoch = len(TINY_TEXT) * 0.9 // (4 * 16)
    assert result.stopped_by == "max_steps"
    assert result.history[-1]["step"] == 150 > 2 * steps_per_epoch  # past the old cap of 2
    assert lines[-1].startswith("done (max_steps): ")


def test_a_run_with_no_limit_is_refused(tmp_path: Path) -> None:
    cfg = tiny_lm_config(tmp_path, "train.epochs=0")
    with pytest.raises(ConfigError, match=r"train.epochs = 0 .*set train.time_budget"):
        train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)


def test_patience_stops_a_run_that_no_longer_improves(tmp_path: Path) -> None:
    # A learning rate this high makes the validation loss worse after the first epochs.
    cfg = tiny_lm_config(
        tmp_path, "train.epochs=0", "train.patience=1", "train.lr=0.2", "generate.every=0"
    )
    lines: list[str] = []
    result = train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    assert result.stopped_by == "patience"
    assert result.history[-1]["val_loss"] >= result.best["val_loss"]
    assert lines[-1].startswith("done (patience): ")


def test_the_schedule_follows_whichever_limit_is_furthest_along() -> None:
    assert step_limit(0, 0, 50) == 0
    assert step_limit(3, 0, 50) == 150
    assert step_limit(3, 100, 50) == 100
    assert step_limit(0, 100, 50) == 100
    # No step limit: time alone decays the schedule.
    assert lr_factor("cosine", 10_000, 0, 0, 0.0) == 1.0
    assert lr_factor("cosine", 10, 0, 0, 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 90, 100, 0, 0.1) == pytest.approx(lr_factor("cosine", 90, 100))


# --------------------------------------------------------------------------- regularisers


REGULARISERS = ("weight_drop", "locked_dropout", "embedding_dropout")


@pytest.mark.parametrize("impl", ["torch", "scratch", "fused"])
@pytest.mark.parametrize("name", REGULARISERS)
def test_each_regulariser_is_random_in_training_only(impl: str, name: str) -> None:
    torch.manual_seed(0)
    plain = RNNLM(20, "lstm", 16, 2, 0.0, 8, impl=impl)
    model = RNNLM(20, "lstm", 16, 2, 0.0, 8, impl=impl, **{name: 0.5})
    model.load_state_dict(plain.state_dict())
    assert list(model.state_dict()) == list(plain.state_dict())  # names as torch.nn's
    x = torch.randint(0, 20, (3, 7))
    model.train()
    first, _ = model(x)
    second, _ = model(x)
    assert not torch.equal(first, second)  # a fresh mask per call
    first.sum().backward()
    assert model.core.weight_hh_l0.grad is not None
    assert model.core.weight_hh_l0.grad.abs().sum() > 0
    model.eval()
    plain.eval()
    torch.testing.assert_close(model(x)[0], plain(x)[0])  # off in evaluation


def test_locked_dropout_keeps_one_mask_per_sequence() -> None:
    model = RNNLM(10, "gru", 8, 1, 0.0, 8, locked_dropout=0.5).train()
    x = torch.ones(4, 6, 8)
    dropped = model._locked(x)  # (B, T, E)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # same at every step
    assert set(dropped.unique().tolist()) == {0.0, 2.0}


def test_embedding_dropout_drops_a_token_everywhere_in_the_batch() -> None:
    torch.manual_seed(3)
    model = RNNLM(5, "gru", 8, 1, 0.0, 8, embedding_dropout=0.5).train()
    tokens = torch.tensor([[1, 2, 1, 2, 3, 3]])
    rows = model._embed(tokens)  # (1, 6, E)
    for a, b in ((0, 2), (1, 3), (4, 5)):
        assert torch.equal(rows[0, a], rows[0, b])
    assert (rows.abs().sum(-1) == 0).any()


def test_regularisers_are_config_keys_that_train_and_save(tmp_path: Path) -> None:
    sets = ["model.weight_drop=0.3", "model.locked_dropout=0.2", "model.embedding_dropout=0.1"]
    cfg = tiny_lm_config(tmp_path, *sets, "model.kind=lstm")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=quiet)
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt["config"]["model"]["weight_drop"] == 0.3
    assert "core.weight_hh_l0" in ckpt["model"]
    with pytest.raises(ConfigError, match=r"model.weight_drop must be a number in"):
        tiny_lm_config(tmp_path, "model.weight_drop=1.0")


# --------------------------------------------------------------------------- samples


def test_corpus_prefixes_are_starts_of_validation_lines(tmp_path: Path) -> None:
    text = "".join(f"line number {i} of the text\n" for i in range(400))
    source = tmp_path / "lines.txt"
    source.write_text(text, encoding="utf-8")
    corpus = load_corpus(data_table(str(source)))
    prefixes = corpus_prefixes(corpus, 2)
    assert prefixes == ["line "]  # the same start twice is kept once
    chinese = tmp_path / "poems.txt"
    chinese.write_text("床前明月光\n疑是地上霜\n舉頭望明月\n低頭思故鄉\n" * 100, encoding="utf-8")
    assert all(len(p) == 4 for p in corpus_prefixes(load_corpus(data_table(str(chinese))), 2))


def test_samples_print_as_text_blocks_from_the_corpus(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = tiny_lm_config(tmp_path, "generate.prefixes=[]", "train.epochs=1")
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    headers = [line for line in lines if line.startswith("[epoch 1] prefix ")]
    assert headers and headers[0] == "[epoch 1] prefix 'the '"
    block = lines[lines.index(headers[0]) + 1]
    assert block.startswith("the ") and "\\n" not in block
    text = (tmp_path / "run" / "samples.txt").read_text(encoding="utf-8")
    assert text.startswith("[epoch 1] prefix 'the '\nthe ")


def test_a_presets_prefixes_stay_with_its_own_source(tmp_path: Path) -> None:
    source = tmp_path / "mine.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    assert resolve(str(source), preset="default").generate.prefixes == []
    assert resolve(preset="default").generate.prefixes == ["The ", "def "]
    mine = resolve(str(source), preset="default", overrides=["generate.prefixes=['x']"])
    assert mine.generate.prefixes == ["x"]


# --------------------------------------------------------------------------- the recipe


def test_the_recipe_grows_regularisation_with_the_passes_the_budget_allows() -> None:
    big = choose(2_000_000, 100, 60)
    small = choose(50_000, 100, 60)
    assert big.values["model.dropout"] <= small.values["model.dropout"]
    assert big.values["model.weight_drop"] <= small.values["model.weight_drop"]
    assert (big.regime, small.regime) == (REGIMES[0].name, REGIMES[-1].name)
    assert choose(300_000, 5000, 60).values["model.output"] == "adaptive"
    assert choose(300_000, 80, 60).values["model.output"] == "softmax"
    for recipe in (big, small):
        assert recipe.values["train.epochs"] == 0 and recipe.values["train.patience"] > 0


def test_the_measured_speed_sets_the_passes_and_the_warm_up() -> None:
    slow = choose(1_000_000, 100, 20, rate=1_000.0)
    fast = choose(1_000_000, 100, 20, rate=100_000.0)
    assert slow.passes == pytest.approx(0.02) and fast.passes == pytest.approx(2.0)
    # The warm-up is a small share of the steps the run is expected to take.
    assert slow.values["train.warmup_steps"] == 1
    assert fast.values["train.warmup_steps"] == 50
    steps = fast.passes * 1_000_000 / (16 * 32)
    assert choose(1_000_000, 100, 4, rate=100_000.0).values["train.warmup_steps"] < 0.1 * steps
    # A slower machine reads the text fewer times: a larger regime, less dropout.
    tiny = choose(20_000, 100, 20, rate=200_000.0)
    assert (
        tiny.values["model.dropout"]
        >= choose(20_000, 100, 20, rate=2_000.0).values["model.dropout"]
    )


def test_the_recipe_applies_without_a_preset_and_keeps_what_the_user_gave(
    tmp_path: Path,
) -> None:
    source = tmp_path / "mine.txt"
    source.write_text(TINY_TEXT, encoding="utf-8")
    cfg = resolve(str(source), overrides=["model.hidden_size=24", "train.max_steps=3"])
    assert cfg.recipe == "auto" and cfg.pinned == ["model.hidden_size", "train.max_steps"]
    assert resolve(str(source), preset="default").recipe == "fixed"
    cfg.train.threads = 1
    lines: list[str] = []
    train_lm(cfg, out=tmp_path / "run", quiet=True, echo=lines.append)
    assert lines[0].startswith("recipe: ") and "kept yours: model.hidden_size" in lines[0]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["recipe"] == "fixed"
    assert saved["recipe_note"] == lines[0].removeprefix("recipe: ")
    assert saved["model"]["hidden_size"] == 24 and saved["train"]["epochs"] == 0
    assert saved["model"]["embedding_dim"] == 64  # the recipe's choice
    # --resume keeps the choice: the saved config is no longer "auto".
    again = RunConfig.from_dict(load_checkpoint(tmp_path / "run")["config"])
    assert (again.recipe, again.recipe_note) == ("fixed", saved["recipe_note"])
    again.train.max_steps = 4
    train_lm(again, resume=tmp_path / "run", quiet=True, echo=quiet)
