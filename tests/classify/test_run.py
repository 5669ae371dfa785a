"""run_classify's run folder, the checkpoint round trip, prediction on new data, the
recipe and the references' keys."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from rnnkit.classify import references
from rnnkit.classify.data import Split, load_split
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.model import SequenceClassifierNet
from rnnkit.classify.recipe import DataStats, apply_recipe, choose, min_epochs
from rnnkit.classify.run import load_classifier, predict_with, run_classify
from rnnkit.classify.train import Part, fit
from rnnkit.config import ClassifyConfig, update
from rnnkit.errors import ConfigError

RUN_FILES = {
    "config.json",
    "metrics.jsonl",
    "metrics.json",
    "confusion.png",
    "curves.png",
    "predictions.csv",
    "best.pt",
    "last.pt",
}


def test_a_ts_run_writes_the_folder_and_the_metrics(ts_pair: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    out = tmp_path / "run"
    cfg = tiny_config(train={"seeds": 2})
    result = run_classify(str(ts_pair), cfg, out=str(out), echo=lines.append)
    assert {p.name for p in out.iterdir()} >= RUN_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert {"accuracy", "macro_f1", "loss", "seeds", "per_class"} <= set(test)
    assert [s["seed"] for s in test["seeds"]] == [0, 1]
    assert set(test["per_class"]) == {"up", "down"}
    assert set(test["per_class"]["up"]) == {"precision", "recall"}
    assert metrics["references_skipped"] == {"all": "data.references = none"}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["seed"] for r in rows} == {0, 1} and "val_loss" in rows[0]
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "classify" and config["split"]["test_part"] == "paired Tiny_TEST.ts"
    assert config["train"]["seeds"] == 2 and config["recipe"] == "fixed"
    assert lines[-1] == result["summary"] and result["summary"].startswith("classify Tiny")
    assert "stopped: max epochs" in result["summary"]


def test_checkpoint_round_trip_gives_the_run_predictions(text_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_classify(str(text_csv), tiny_config(), out=str(out), echo=lambda _: None)
    net, encoder, ckpt = load_classifier(out)
    assert ckpt["task"] == "classify" and encoder.kind == "text"
    with (out / "predictions.csv").open() as fh:
        saved = list(csv.DictReader(fh))
    assert list(saved[0]) == ["id", "label", "predicted", "p_a", "p_z"]
    # the ids of the test rows index the file's rows
    split = load_split(str(text_csv))
    from rnnkit.classify.model import pad_batch

    x, lengths = pad_batch(encoder.transform(split.test))
    with torch.no_grad():
        probs = net(torch.as_tensor(x), torch.as_tensor(lengths)).softmax(-1).numpy()
    got = np.array([[float(r["p_a"]), float(r["p_z"])] for r in saved])
    np.testing.assert_allclose(probs, got, atol=1e-5)


def test_predict_on_new_data_with_and_without_labels(numeric_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_classify(str(numeric_csv), tiny_config(), out=str(out), echo=lambda _: None)
    lines: list[str] = []
    labelled = predict_with(out, str(numeric_csv), out=str(tmp_path / "p.csv"), echo=lines.append)
    assert 0.0 <= labelled["accuracy"] <= 1.0 and "accuracy" in lines[-1]
    new = tmp_path / "new.csv"
    new.write_text("x1,x2,x3\n0.1,0.2,0.3\n0.3,0.2,0.1\n", encoding="utf-8")
    unlabelled = predict_with(out, str(new), echo=lines.append)
    assert "accuracy" not in unlabelled
    with open(unlabelled["out"]) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["0", "1"] and set(rows[0]) == {
        "id",
        "predicted",
        "p_1",
        "p_2",
    }


def test_the_recipe_is_pure_and_keeps_pinned_keys(ts_pair: Path) -> None:
    split = load_split(str(ts_pair))
    stats = DataStats.of(split.train, InputEncoder.fit(split.train).input_size)
    assert choose(stats, 30.0) == choose(stats, 30.0)
    long = DataStats(50, "numeric", 150.0, 150, 1, 2)
    assert choose(long, 120.0).values["model.patch"] == 4
    # max pooling when each step is a vector (patches, channels, tokens); mean for one number
    assert choose(long, 120.0).values["model.pooling"] == "max"
    assert choose(DataStats(50, "numeric", 24.0, 24, 1, 2), 120.0).values["model.pooling"] == "mean"
    assert choose(DataStats(50, "text", 6.0, 9, 30, 2), 60.0).values["model.pooling"] == "max"
    given = update(ClassifyConfig(), {"model": {"hidden_size": 7}, "pinned": ["model.hidden_size"]})
    chosen = apply_recipe(given, stats)
    assert chosen.model.hidden_size == 7
    assert "kept as given: model.hidden_size" in chosen.recipe_note
    assert chosen.recipe_note.startswith("recipe: 24 series")
    assert chosen.recipe == "fixed" and given.recipe == "auto"
    assert apply_recipe(chosen, stats) is chosen


def test_the_recipe_picks_the_fused_core_on_a_cpu_and_counts_its_speed() -> None:
    stats = DataStats(60_000, "numeric", 28.0, 28, 28, 10)  # Fashion-MNIST's shape
    cpu = apply_recipe(ClassifyConfig(), stats)
    assert cpu.model.impl == "fused" and "(fused)" in cpu.recipe_note
    pinned = update(ClassifyConfig(), {"model": {"impl": "torch"}, "pinned": ["model.impl"]})
    assert apply_recipe(pinned, stats).model.impl == "torch"
    # a slower core gets a narrower network for the same budget
    fast, slow = choose(stats, 600.0, "fused"), choose(stats, 600.0, "scratch")
    assert fast.values["model.hidden_size"] > slow.values["model.hidden_size"]
    # large parts need fewer passes: 60,000 sequences may have 5 epochs, 500 need 10
    assert min_epochs(60_000) == 5.0 and min_epochs(500) == 10.0 and min_epochs(10**7) == 3.0


def test_a_plateau_anneals_the_learning_rate_to_zero_then_stops() -> None:
    torch.manual_seed(0)
    x = [np.random.default_rng(i).normal(size=(6, 1)).astype(np.float32) for i in range(32)]
    y = np.arange(32) % 2  # noise: the validation loss soon stops falling
    train = Part.of(x[:16], y[:16], torch.device("cpu"))
    val = Part.of(x[16:], y[16:], torch.device("cpu"))
    net = SequenceClassifierNet(1, 2, tokens=False, hidden_size=8)
    s = ClassifyConfig().train
    s.time_budget, s.max_epochs, s.patience, s.batch_size, s.warmup_steps = 0, 500, 3, 8, 0
    result = fit(net, train, val, s)
    assert result.stop_reason.startswith("plateau (3 epochs without a lower validation loss")
    lr = [row["lr"] for row in result.history]
    assert len(lr) < 500 and lr[-1] < 0.2 * s.lr and lr[-1] < lr[-4]
    losses = [row["val_loss"] for row in result.history]
    first = next(i for i in range(len(losses)) if i - int(np.argmin(losses[: i + 1])) >= 3)
    assert len(lr) - 1 - first == 3  # annealed over `patience` more epochs (2 steps each)


def test_config_tables_refuse_bad_values_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"model.pooling = 'sum' is not valid; choose one of"):
        update(ClassifyConfig(), {"model": {"pooling": "sum"}})
    with pytest.raises(ConfigError, match=r"^model.hidden_size must be an integer in \[1, "):
        update(ClassifyConfig(), {"model": {"hidden_size": 0}})
    with pytest.raises(ConfigError, match=r"unknown config key model\.hiden_size"):
        ClassifyConfig.from_dict({"model": {"hiden_size": 3}})


def test_text_references_keys(text_csv: Path) -> None:
    pytest.importorskip("sklearn")
    split = load_split(str(text_csv))
    skipped: dict[str, str] = {}
    results = references.reference_results(split.train, split.test, None, None, skipped)
    assert set(results) == {"majority", "tfidf_logreg"} and skipped == {}
    scores = results["tfidf_logreg"].scores(split.test.y, 2)
    assert set(scores) == {"accuracy", "macro_f1", "fit_s", "spec"}


def _fallback_references(
    ts_pair: Path, monkeypatch: pytest.MonkeyPatch, skipped: dict[str, str]
) -> tuple[Split, dict[str, references.RefResult]]:
    """The series references of `ts_pair` as if sktime were not installed."""
    pytest.importorskip("sklearn")
    split = load_split(str(ts_pair))
    enc = InputEncoder.fit(split.train)
    monkeypatch.setattr(references, "_installed", lambda *m: "sktime" not in m)
    results = references.reference_results(
        split.train, split.test, enc.transform(split.train), enc.transform(split.test), skipped
    )
    return split, results


def test_numeric_fallback_reference_when_sktime_is_missing(
    ts_pair: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped: dict[str, str] = {}
    split, results = _fallback_references(ts_pair, monkeypatch, skipped)
    assert set(results) == {"majority", "interval_ridge"}
    assert "sktime" in skipped["minirocket"]
    assert results["interval_ridge"].scores(split.test.y, 2)["accuracy"] >= 0.75


def test_series_references_fit_on_a_capped_stratified_sample(
    ts_pair: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(references, "MAX_SERIES_FIT", 10)
    seen: list[int] = []
    fallback = references.interval_ridge
    monkeypatch.setattr(
        references,
        "interval_ridge",
        lambda x, y, t: seen.append(len(x)) or fallback(x, y, t),
    )
    split, results = _fallback_references(ts_pair, monkeypatch, {})
    assert seen == [10] and len(split.train) > 10
    assert f"fit on a stratified 10 of the {len(split.train)} training series" in (
        results["interval_ridge"].spec
    )
    assert "stratified" not in results["majority"].spec


@pytest.mark.slow
def test_minirocket_reference(ts_pair: Path) -> None:
    pytest.importorskip("sktime")
    split = load_split(str(ts_pair))
    enc = InputEncoder.fit(split.train)
    result = references.minirocket(
        enc.transform(split.train), split.train.y, enc.transform(split.test)
    )
    assert result.predictions.shape == (len(split.test),)
