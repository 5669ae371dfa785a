"""`SequenceClassifier`: fit / predict / predict_proba / score on series and texts, labels
of any kind back as given, save / load through the run folder (a CLI run included), the
keys it pins, and one-line errors for bad X, y and calls."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.classify.estimator import NOT_PARAMS, PARAMS, SequenceClassifier
from rnnkit.classify.run import predict_with
from rnnkit.cli import main
from rnnkit.config import ClassifyConfig
from rnnkit.errors import ConfigError, DataError, RnnkitError

TINY = {
    "hidden_size": 8,
    "embed_size": 4,
    "max_epochs": 2,
    "time_budget": 0.0,
    "batch_size": 8,
    "threads": 1,
}


def _series(n: int, channels: int = 0, seed: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """`n` series of 8..19 steps: sines (label 1) and noise (label 0); `(T,)` when
    `channels` is 0, else `(T, channels)`."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        steps = np.arange(int(rng.integers(8, 20)))
        sine = np.sin(steps / 2.0) + 0.1 * rng.normal(size=len(steps))
        x = sine if i % 2 else rng.normal(size=len(steps))
        xs.append(np.stack([x] * channels, axis=1) if channels else x)
        ys.append(i % 2)
    return xs, ys


def _texts(n: int) -> tuple[list[str], list[str]]:
    """`n` short texts: "ab" ones of a/b, "yz" ones of y/z."""
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for i in range(n):
        label = "ab" if i % 2 else "yz"
        texts.append("".join(rng.choice(list(label), size=int(rng.integers(3, 9)))))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def numeric_fit() -> tuple[SequenceClassifier, list[np.ndarray], list[int]]:
    x, y = _series(32)
    return SequenceClassifier(**TINY).fit(x, y), x, y


@pytest.fixture(scope="module")
def text_fit() -> tuple[SequenceClassifier, list[str], list[str]]:
    x, y = _texts(32)
    return SequenceClassifier(**TINY).fit(x, y), x, y


def _check_probs(probs: np.ndarray, n: int, k: int) -> None:
    assert probs.shape == (n, k)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and (probs >= 0).all()


def test_series_with_int_labels_give_int_labels_back(
    numeric_fit: tuple[SequenceClassifier, list[np.ndarray], list[int]],
) -> None:
    clf, x, y = numeric_fit
    assert clf.classes_.tolist() == [0, 1] and clf.classes_.dtype == np.int64
    pred = clf.predict(x[:5])
    assert pred.shape == (5,) and all(type(p) is int for p in pred.tolist())
    assert set(pred.tolist()) <= {0, 1}
    _check_probs(clf.predict_proba(x), len(x), 2)
    assert 0.0 <= clf.score(x, y) <= 1.0
    assert clf.score(x, y) == np.mean(clf.predict(x) == np.array(y))


def test_fit_writes_the_cli_run_folder_without_a_test_part(
    numeric_fit: tuple[SequenceClassifier, list[np.ndarray], list[int]],
) -> None:
    clf, x, _ = numeric_fit
    files = {p.name for p in Path(clf.run_dir_).iterdir()}
    assert {"config.json", "metrics.jsonl", "metrics.json", "best.pt", "last.pt"} <= files
    assert not {"predictions.csv", "confusion.png"} & files
    metrics = json.loads((Path(clf.run_dir_) / "metrics.json").read_text())
    assert metrics["test"] is None and metrics["references_skipped"] == {"all": "no test part"}
    assert 0.0 <= metrics["validation"]["accuracy"] <= 1.0
    config = json.loads((Path(clf.run_dir_) / "config.json").read_text())
    assert config["split"]["sizes"]["test"] == 0
    assert config["split"]["sizes"]["fit"] + config["split"]["sizes"]["val"] == len(x)
    assert "validation accuracy" in clf.result_["summary"]


def test_multichannel_series_with_str_labels(tmp_path: Path) -> None:
    x, y = _series(24, channels=3, seed=1)
    labels = ["sine" if v else "noise" for v in y]
    clf = SequenceClassifier(**TINY, out=tmp_path / "run").fit(x, labels)
    assert clf.classes_.tolist() == ["noise", "sine"]
    assert set(clf.predict(x).tolist()) <= {"noise", "sine"}
    _check_probs(clf.predict_proba(x[:4]), 4, 2)
    assert (tmp_path / "run" / "best.pt").is_file()
    with pytest.raises(DataError, match="channels"):
        clf.predict([np.zeros((5, 2))])


def test_texts_with_str_labels(text_fit: tuple[SequenceClassifier, list[str], list[str]]) -> None:
    clf, x, y = text_fit
    assert clf.classes_.tolist() == ["ab", "yz"]
    pred = clf.predict(["abab", "zzyz", ""])
    assert pred.shape == (3,) and set(pred.tolist()) <= {"ab", "yz"}
    _check_probs(clf.predict_proba(x), len(x), 2)
    assert 0.0 <= clf.score(x, y) <= 1.0
    with pytest.raises(DataError, match="model reads text"):
        clf.predict([np.zeros(4)])


def test_save_and_load_give_the_same_probabilities(
    numeric_fit: tuple[SequenceClassifier, list[np.ndarray], list[int]], tmp_path: Path
) -> None:
    clf, x, _ = numeric_fit
    saved = clf.save(tmp_path / "saved")
    back = SequenceClassifier.load(saved)
    assert np.array_equal(back.predict_proba(x), clf.predict_proba(x))
    assert back.classes_.tolist() == [0, 1] and back.classes_.dtype == np.int64
    assert back.predict(x).tolist() == clf.predict(x).tolist()
    assert back.hidden_size == 8 and back.max_epochs == 2 and back.pooling is None
    # the saved folder is a CLI run folder: rnnkit classify --checkpoint reads it too
    assert {"best.pt", "config.json", "classes.json"} <= {p.name for p in saved.iterdir()}
    copied = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(copied.predict_proba(x), clf.predict_proba(x))


def test_a_cli_run_folder_loads_into_the_estimator(text_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    flags = ["--max-epochs", "2", "--time-budget", "0", "--hidden-size", "8"]
    flags += ["--embed-size", "4", "--references", "none", "--threads", "1", "--quiet"]
    assert main(["classify", str(text_csv), *flags, "--out", str(out)]) == 0
    clf = SequenceClassifier.load(out)
    assert clf.classes_.tolist() == ["a", "z"] and clf.hidden_size == 8
    with text_csv.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    written = predict_with(out, str(text_csv), out=str(tmp_path / "p.csv"), echo=lambda s: None)
    with open(written["out"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert clf.predict(texts).tolist() == [row["predicted"] for row in rows]
    probs = clf.predict_proba(texts)
    assert np.allclose(probs[:, 0], [float(row["p_a"]) for row in rows], atol=1e-6)


def test_given_keys_are_pinned_and_the_recipe_chooses_the_rest(
    text_fit: tuple[SequenceClassifier, list[str], list[str]],
) -> None:
    clf, _, _ = text_fit
    cfg = clf.config_
    assert cfg.model.hidden_size == 8 and cfg.model.embed_size == 4 and cfg.train.max_epochs == 2
    assert "model.hidden_size" in cfg.pinned and "model.pooling" not in cfg.pinned
    assert cfg.recipe == "fixed" and "kept as given: model.hidden_size" in cfg.recipe_note
    assert cfg.train.patience >= 20  # chosen by the recipe (the default is 30; 32 texts: 20)
    before = SequenceClassifier(hidden_size=64).config()
    assert before.recipe == "auto" and before.pinned == ["model.hidden_size"]


def test_every_config_key_a_user_tunes_is_a_parameter() -> None:
    tables = ClassifyConfig.table_types().items()
    keys = {f"{t}.{k}" for t, table in tables for k in table.keys()}  # noqa: SIM118 (a Table)
    assert set(PARAMS.values()) | set(NOT_PARAMS) == keys
    assert set(PARAMS) | {"out", "verbose"} == set(SequenceClassifier().get_params())


def test_params_follow_scikit_learn_conventions() -> None:
    clf = SequenceClassifier(hidden_size=16, verbose=True)
    params = clf.get_params()
    assert params["hidden_size"] == 16 and params["lr"] is None
    assert SequenceClassifier(**params).get_params() == params
    assert clf.set_params(lr=0.01) is clf and clf.lr == 0.01
    assert repr(clf) == "SequenceClassifier(hidden_size=16, lr=0.01, verbose=True)"
    with pytest.raises(ConfigError, match="no parameter hiden_size"):
        clf.set_params(hiden_size=3)
    with pytest.raises(ConfigError, match=r"^hidden_size must be an integer"):
        SequenceClassifier(hidden_size=-5).config()
    assert rnnkit.SequenceClassifier is SequenceClassifier


def test_predict_before_fit_is_one_line() -> None:
    with pytest.raises(ConfigError, match="not fitted; call fit"):
        SequenceClassifier().predict(["abc"])
    with pytest.raises(ConfigError, match="not fitted"):
        SequenceClassifier().save("nowhere")


BAD = [
    (["ab", np.zeros(3)] * 3, [0, 1] * 3, "mixes texts and series"),
    ([], [], "X is empty"),
    (["ab", "ba", "yz", "zy"], [0, 1, 0], "X has 4 sequences but y has 3 labels"),
    ([np.zeros((4, 2)), np.zeros((5, 3)), np.zeros(4), np.zeros(3)], [0, 1] * 2, "channels"),
    ([np.zeros((2, 2, 2))] * 4, [0, 1] * 2, "shape"),
    ([np.zeros(0)] * 4, [0, 1] * 2, "no steps"),
    ([np.array([1.0, np.inf])] * 4, [0, 1] * 2, "infinite"),
    ([["a", "b"]] * 4, [0, 1] * 2, "not a numeric array"),
    ("abcd", [0, 1, 0, 1], "X is one string"),
    (["ab"] * 4, [[0], [1]] * 2, "unhashable"),
    (["ab"] * 4, [1, "1", 1, "1"], "read the same"),
    (["ab"] * 4, ["a"] * 4, "one class"),
    (["ab"] * 3, ["a", "b", "a"], "at least 4"),
]


@pytest.mark.parametrize(("x", "y", "match"), BAD)
def test_bad_x_and_y_are_one_line_errors(x: object, y: object, match: str) -> None:
    with pytest.raises(RnnkitError, match=match) as info:
        SequenceClassifier(**TINY).fit(x, y)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
