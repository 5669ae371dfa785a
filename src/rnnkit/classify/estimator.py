"""`SequenceClassifier`: a scikit-learn style estimator over the same run as `rnnkit classify`.

`fit(X, y)` turns `X` (texts, or numeric series `(T,)` / `(T, C)` of any lengths) and the
labels `y` into a `Split` whose test part is empty and hands it to
`rnnkit.classify.run.run_classify`: the same config resolution (the keyword arguments are
the flag layer, so they are pinned and the automatic recipe chooses the rest), the same
validation part carved from the training data, the same fit and the same run folder as the
CLI (without a test part: no test scores, references, `predictions.csv` or
`confusion.png`). Every sequence of `X` trains or selects; nothing is held out to test,
which is the caller's to do (`score` on data of their own).

The fitted model is the run folder's `best.pt`, read back with `load_classifier` exactly as
`rnnkit classify --checkpoint RUN` reads it; `predict_proba` runs `predict_probs` (the
encoder's `transform`, then `evaluate`) like `predict_with`. The run folder is the saved
form: `save(path)` copies it, `SequenceClassifier.load(path)` reads any run folder (or
`.pt`) that `rnnkit classify` wrote. Beside the CLI's files the estimator writes
`classes.json` (`{"classes": [...]}`: the labels of `y` as given, so int labels come back
as ints); a folder without it predicts its label names (strings).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.classify.data import Sequences, Split, check_trainable, make_sequences
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.model import SequenceClassifierNet
from rnnkit.classify.run import load_classifier, predict_probs, run_classify
from rnnkit.config.resolve import Layer, resolve_classify
from rnnkit.config.tables import ClassifyConfig
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.storage import storage_errors, write_atomic

# keyword argument -> the config key it sets (`rnnkit classify` has a flag for each)
PARAMS: dict[str, str] = {
    "level": "data.level",
    "val_fraction": "data.val_fraction",
    "kind": "model.kind",
    "impl": "model.impl",
    "hidden_size": "model.hidden_size",
    "num_layers": "model.num_layers",
    "bidirectional": "model.bidirectional",
    "pooling": "model.pooling",
    "dropout": "model.dropout",
    "embed_size": "model.embed_size",
    "patch": "model.patch",
    "time_budget": "train.time_budget",
    "max_epochs": "train.max_epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "lr": "train.lr",
    "weight_decay": "train.weight_decay",
    "clip": "train.clip",
    "warmup_steps": "train.warmup_steps",
    "patience": "train.patience",
    "class_weights": "train.class_weights",
    "seed": "train.seed",
    "seeds": "train.seeds",
    "threads": "train.threads",
    "device": "train.device",
}
# The config keys the estimator sets itself or does not read (its data is X and y).
NOT_PARAMS = ("data.source", "data.test", "data.label_col", "data.references")
OTHER_PARAMS = ("out", "verbose")
CLASSES_FILE = "classes.json"
KINDS_HINT = "give a list of strings (texts) or of numeric arrays (T,) / (T, C)"


class SequenceClassifier:
    """Classify sequences (texts or numeric series of any length) with a recurrent network.

    Each keyword argument left at None is chosen by the automatic recipe, exactly as
    `rnnkit classify` chooses the keys its flags do not give; a given one is pinned (the
    recipe leaves it alone). See `rnnkit.config.tables.ClassifyConfig` for each key:
    `level` and `val_fraction` (the `data` table), `kind` ... `patch` (`model`),
    `time_budget` ... `device` (`train`; the budget is the CLI's, 120 s per seed).

    Args:
        out: the run folder to write (None: a temporary folder, removed with the
            estimator; `save` copies it).
        verbose: print the run's lines (the recipe, one per seed, the summary).

    After `fit` or `load`:

    Attributes:
        classes_: `(K,)` the labels, in the order of `predict_proba`'s columns (sorted
            when they compare, else in order of first appearance).
        config_: the resolved config, the recipe's choices and `recipe_note` included.
        run_dir_: the run folder (or the checkpoint file `load` read).
        result_: `fit` only: what `run_classify` returned (`validation`, `summary`, ...).

    Example:
        >>> clf = SequenceClassifier(max_epochs=20, time_budget=0)
        >>> clf.fit(["abba", "baab", "zyzz", "yzyy", ...], ["ab", "ab", "yz", "yz", ...])
        >>> clf.predict(["aabb", "zzyy"])
        array(['ab', 'yz'], dtype='<U2')
        >>> clf.save("runs/letters")  # rnnkit classify --checkpoint runs/letters new.csv
        >>> SequenceClassifier.load("runs/letters").predict_proba(["ab"])  # (1, K)
    """

    def __init__(
        self,
        *,
        level: str | None = None,
        val_fraction: float | None = None,
        kind: str | None = None,
        impl: str | None = None,
        hidden_size: int | None = None,
        num_layers: int | None = None,
        bidirectional: bool | None = None,
        pooling: str | None = None,
        dropout: float | None = None,
        embed_size: int | None = None,
        patch: int | None = None,
        time_budget: float | None = None,
        max_epochs: int | None = None,
        batch_size: int | None = None,
        optimizer: str | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        clip: float | None = None,
        warmup_steps: int | None = None,
        patience: int | None = None,
        class_weights: str | None = None,
        seed: int | None = None,
        seeds: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        out: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.level = level
        self.val_fraction = val_fraction
        self.kind = kind
        self.impl = impl
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.embed_size = embed_size
        self.patch = patch
        self.time_budget = time_budget
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip = clip
        self.warmup_steps = warmup_steps
        self.patience = patience
        self.class_weights = class_weights
        self.seed = seed
        self.seeds = seeds
        self.threads = threads
        self.device = device
        self.out = out
        self.verbose = verbose
        self._cleanup: weakref.finalize | None = None

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments as set (scikit-learn's convention; `deep` is unused)."""
        return {name: getattr(self, name) for name in (*PARAMS, *OTHER_PARAMS)}

    def set_params(self, **params: Any) -> SequenceClassifier:
        """Set constructor arguments by name; returns the estimator (refit to use them)."""
        unknown = sorted(set(params) - {*PARAMS, *OTHER_PARAMS})
        if unknown:
            raise ConfigError(
                f"SequenceClassifier has no parameter {', '.join(unknown)}; valid ones: "
                + ", ".join((*PARAMS, *OTHER_PARAMS))
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickling keeps the fitted network in memory; a copy does not own (or remove) the
        temporary run folder, so `save` the original to keep its folder."""
        return {**self.__dict__, "_cleanup": None}

    def __repr__(self) -> str:
        params = self.get_params().items()
        given = [f"{k}={v!r}" for k, v in params if v is not None and (k != "verbose" or v)]
        return f"SequenceClassifier({', '.join(given)})"

    def config(self) -> ClassifyConfig:
        """The run's config before the recipe: `resolve_classify` with the given keyword
        arguments as its flag layer (pinned), as `rnnkit classify --hidden-size 64` does."""
        values = {PARAMS[n]: v for n in PARAMS if (v := getattr(self, n)) is not None}
        flags = Layer("flags", values, {PARAMS[n]: n for n in PARAMS})
        return resolve_classify(flags=flags)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Iterable[Any], y: Iterable[Any]) -> SequenceClassifier:
        """Train on every sequence of `X` (validation carved from them); returns self.

        Args:
            X: N texts (str), or N numeric arrays `(T_i,)` (one channel) or `(T_i, C)` (the
                same C for all; NaN = missing); also a `(N, T)` or `(N, T, C)` array.
            y: N labels (str, int, any hashable); at least two classes.
        """
        cfg = self.config()
        items, labels = _items(X, "X"), _items(y, "y")
        classes = _classes(labels, len(items))
        names = [str(c) for c in classes]
        train = _sequences(items, names, [str(v) for v in labels])
        check_trainable(train, "X")
        split = Split(train, train.subset(np.zeros(0, np.int64)), "X", "none (fit on all of X)")
        run_dir = self._fresh_run_dir()
        echo = print if self.verbose else _silent
        self.result_ = run_classify(None, cfg, out=str(run_dir), echo=echo, split=split)
        labels = [_json_label(c) for c in classes]
        write_atomic(run_dir / CLASSES_FILE, json.dumps({"classes": labels}, indent=2) + "\n")
        self._attach(run_dir)
        return self

    def _fresh_run_dir(self) -> Path:
        """`out`, or a new temporary folder (an earlier one of this estimator is removed)."""
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None
        if self.out is not None:
            return Path(self.out)
        path = Path(tempfile.mkdtemp(prefix="rnnkit-classify-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, path, ignore_errors=True)
        return path

    def _attach(self, path: Path) -> None:
        """Read the classifier in `path` (a run folder or `.pt`) as `--checkpoint` does."""
        net, encoder, ckpt = load_classifier(path)
        self._net: SequenceClassifierNet = net
        self._encoder: InputEncoder = encoder
        self.config_ = ClassifyConfig.from_dict(ckpt["config"])
        self.classes_ = _label_array(_saved_classes(path, encoder.label_names))
        self.run_dir_ = path

    # ------------------------------------------------------------------ predict
    def _fitted(self) -> tuple[SequenceClassifierNet, InputEncoder]:
        if not hasattr(self, "_net"):
            raise ConfigError(
                "this SequenceClassifier is not fitted; call fit(X, y) or "
                "SequenceClassifier.load(path) first"
            )
        return self._net, self._encoder

    def predict_proba(self, X: Iterable[Any]) -> np.ndarray:
        """Class probabilities `(N, K)` (float32, rows sum to 1), columns in `classes_`'s
        order. `X` as for `fit`, of the kind (and channels) the model was trained on."""
        net, encoder = self._fitted()
        seqs = _sequences(_items(X, "X"), encoder.label_names, None)
        return predict_probs(net, encoder, seqs)

    def predict(self, X: Iterable[Any]) -> np.ndarray:
        """The most probable label of each sequence, `(N,)`, drawn from `classes_`."""
        probs = self.predict_proba(X)
        return self.classes_[probs.argmax(-1)]

    def score(self, X: Iterable[Any], y: Iterable[Any]) -> float:
        """Accuracy of `predict(X)` against `y` (a label the model lacks counts as wrong)."""
        pred, truth = self.predict(X), _items(y, "y")
        if len(truth) != len(pred):
            raise DataError(
                f"X has {len(pred)} sequences but y has {len(truth)} labels; give one label "
                "per sequence"
            )
        return float(np.mean([bool(p == t) for p, t in zip(pred.tolist(), truth, strict=True)]))

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Copy the run folder (or the loaded `.pt`, as `best.pt`) into the folder `path`;
        `rnnkit classify --checkpoint PATH` and `SequenceClassifier.load(PATH)` read it."""
        self._fitted()
        source, target = Path(self.run_dir_), Path(path)
        if target.exists() and source.is_dir() and target.resolve() == source.resolve():
            return target
        files = sorted(f for f in source.iterdir() if f.is_file()) if source.is_dir() else []
        pairs = [(f.name, f) for f in files] or [("best.pt", source)]
        for name, f in pairs:
            with storage_errors(f, "read"):
                data = f.read_bytes()
            write_atomic(target / name, data)
        if not (target / CLASSES_FILE).is_file():
            labels = [_json_label(c) for c in self.classes_.tolist()]
            write_atomic(target / CLASSES_FILE, json.dumps({"classes": labels}) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> SequenceClassifier:
        """A fitted estimator from a run folder (or `.pt`) of `save` or `rnnkit classify`;
        its parameters are the keys the run pinned."""
        est = cls()
        est._attach(Path(path))
        for name, key in PARAMS.items():
            if key in est.config_.pinned:
                table, _, attr = key.partition(".")
                setattr(est, name, getattr(getattr(est.config_, table), attr))
        return est


# ---------------------------------------------------------------------- X and y
def _silent(line: str) -> None:
    """An echo that prints nothing."""


def _items(data: Iterable[Any], what: str) -> list[Any]:
    """`data` as a list (one string is refused: it is one text, not a list of them)."""
    if isinstance(data, str):
        raise DataError(f"{what} is one string; give a list of them (one per sequence)")
    try:
        return list(data)
    except TypeError:
        raise DataError(f"{what} is a {type(data).__name__}, not a list; {KINDS_HINT}") from None


def _classes(labels: list[Any], n: int) -> list[Any]:
    """The distinct labels of `labels` (N of them), sorted when they compare."""
    if len(labels) != n:
        raise DataError(
            f"X has {n} sequences but y has {len(labels)} labels; give one label per sequence"
        )
    try:
        distinct = list(dict.fromkeys(labels))
    except TypeError:
        raise DataError("y holds an unhashable label; give labels as strings or numbers") from None
    with contextlib.suppress(TypeError):  # labels that do not compare keep their order
        distinct = sorted(distinct)
    names = [str(c) for c in distinct]
    if len(set(names)) < len(names):
        raise DataError(
            f"y holds distinct labels that read the same ({', '.join(map(repr, distinct))}); "
            "give labels of one type"
        )
    return distinct


def _sequences(items: list[Any], names: list[str], labels: list[str] | None) -> Sequences:
    """`Sequences` of the texts or series in `items`, labelled by `labels` (or not)."""
    if not items:
        raise DataError(f"X is empty; {KINDS_HINT}")
    ids = [str(i) for i in range(len(items))]
    is_text = [isinstance(x, str) for x in items]
    if all(is_text):
        return make_sequences([], labels, ids, texts=[str(x) for x in items], label_names=names)
    if any(is_text):
        i = is_text.index(not is_text[0])
        raise DataError(
            f"X mixes texts and series (X[0] is a {type(items[0]).__name__}, X[{i}] a "
            f"{type(items[i]).__name__}); give all strings or all numeric arrays"
        )
    arrays = [_series(x, i) for i, x in enumerate(items)]
    channels = [a.shape[1] for a in arrays]
    if len(set(channels)) > 1:
        i = next(i for i, c in enumerate(channels) if c != channels[0])
        raise DataError(
            f"X's series differ in channels (X[0] has {channels[0]}, X[{i}] has "
            f"{channels[i]}); give every series the same number of channels C"
        )
    return make_sequences(arrays, labels, ids, label_names=names)


def _series(x: Any, i: int) -> np.ndarray:
    """`X[i]` as a float32 `(T, C)` array (`(T,)` is one channel)."""
    try:
        a = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(
            f"X[{i}] is not a numeric array ({type(x).__name__}); {KINDS_HINT}"
        ) from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"X[{i}] has shape {a.shape}; {KINDS_HINT}")
    if len(a) == 0:
        raise DataError(f"X[{i}] has no steps; give series of at least one step")
    if np.isinf(a).any():
        raise DataError(f"X[{i}] holds an infinite value; give finite values (NaN = missing)")
    return a


def _label_array(labels: Sequence[Any]) -> np.ndarray:
    """`(K,)` labels as an array of their kind: int64 for ints, str for strings, float64
    for floats, object for anything else or a mix."""
    out = np.empty(len(labels), dtype=object)
    out[:] = list(labels)
    kinds = {type(v.item() if isinstance(v, np.generic) else v) for v in labels}
    for kind, dtype in ((int, np.int64), (str, np.str_), (float, np.float64)):
        if kinds == {kind}:
            return out.astype(dtype)
    return out


def _json_label(label: Any) -> Any:
    """A label as JSON keeps it: numpy scalars as Python ones; other kinds as text."""
    value = label.item() if isinstance(label, np.generic) else label
    return value if isinstance(value, str | int | float | bool) else str(value)


def _saved_classes(path: Path, names: list[str]) -> list[Any]:
    """The labels `classes.json` beside the checkpoint keeps, else `names` (strings)."""
    folder = path if path.is_dir() else path.parent
    saved = folder / CLASSES_FILE
    if not saved.is_file():
        return list(names)
    with storage_errors(saved, "read"):
        text = saved.read_text(encoding="utf-8")
    try:
        classes = list(json.loads(text)["classes"])
    except (ValueError, KeyError, TypeError):
        classes = None
    if classes is None or [str(c) for c in classes] != list(names):
        raise CheckpointError(
            f"{saved} lists other classes than the checkpoint ({', '.join(names)}); delete "
            f"{CLASSES_FILE} or save the estimator again"
        )
    return list(classes)
