"""Classical references fitted beside every classifier: on the whole training part, scored
on the same test part. Each returns `accuracy`, `macro_f1`, `fit_s` (the seconds the fit
took, imports excluded, outside the network's budget) and `spec` (what was fitted).

- `majority`: always the training part's most frequent class.
- `tfidf_logreg` (text): character 1-5-gram TF-IDF (sublinear term frequency) and a
  logistic regression, its C chosen from 0.1, 1, 10, 100 by 3-fold cross-validation on
  the training part.
- `minirocket` (numeric series): sktime's MiniRocket transform (10,000 features; the
  multivariate one for several channels) and a ridge classifier with its penalty chosen by
  leave-one-out cross-validation over 10^-3..10^3 on standardised features. Series of
  unequal length (or shorter than MiniRocket's 9 steps) are zero-padded at the end; the
  inputs are the standardised series the network reads (missing values 0).
- `interval_ridge`, the lighter fallback when sktime or numba is not installed: per channel,
  the mean, standard deviation, minimum, maximum and least-squares slope over the whole
  series and over each of 4 equal intervals of its own length, plus the mean and standard
  deviation of its first differences, into the same ridge classifier.

The series references fit on at most `MAX_SERIES_FIT` training series (a stratified
sample, seed 0, said in their `spec`): MiniRocket's 10,000 features of 60,000 series and
the ridge's leave-one-out fit on them would take far longer than the network's budget.

scikit-learn, sktime and numba are imported inside the functions (the `classify` extra);
a reference that cannot run is left out with its reason in `skipped`.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from rnnkit.classify.data import Sequences, stratified_split
from rnnkit.metrics import accuracy, macro_f1

NOT_INSTALLED = "{what} not installed (pip install 'rnnkit[classify]')"
INTERVALS = 4
LOGREG_CS = (0.1, 1.0, 10.0, 100.0)
MIN_ROCKET_STEPS = 9
MAX_SERIES_FIT = 5_000


@dataclass(frozen=True)
class RefResult:
    """A reference's test predictions `(N,)` (class indices), what it is and its fit time."""

    predictions: np.ndarray
    spec: str
    fit_s: float

    def scores(self, y: np.ndarray, num_classes: int) -> dict[str, float | str]:
        """`accuracy`, `macro_f1`, `fit_s` and `spec` against the true classes `y`."""
        return {
            "accuracy": accuracy(y, self.predictions),
            "macro_f1": macro_f1(y, self.predictions, num_classes),
            "fit_s": round(self.fit_s, 3),
            "spec": self.spec,
        }


def majority(train: Sequences, test: Sequences) -> RefResult:
    """The most frequent training class for every test sequence (ties: the first class)."""
    t0 = time.perf_counter()
    top = int(np.bincount(train.y, minlength=len(train.label_names)).argmax())
    fit_s = time.perf_counter() - t0
    spec = f"most frequent class {train.label_names[top]!r}"
    return RefResult(np.full(len(test), top, dtype=np.int64), spec, fit_s)


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def tfidf_logreg(train: Sequences, test: Sequences) -> RefResult:
    """Character 1-5-gram TF-IDF + logistic regression on the raw texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline

    assert train.texts is not None and test.texts is not None
    folds = int(min(3, np.bincount(train.y).min()))
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 5), sublinear_tf=True),
        LogisticRegressionCV(Cs=LOGREG_CS, cv=max(folds, 2), max_iter=1000),
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # scikit-learn's notices of coming default changes
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(train.texts, train.y)
    fit_s = time.perf_counter() - t0
    c = float(np.atleast_1d(model[-1].C_)[0])
    spec = f"TF-IDF of character 1-5-grams (sublinear tf) + logistic regression (C={c:g} by CV)"
    return RefResult(model.predict(test.texts).astype(np.int64), spec, fit_s)


def _ridge() -> object:
    """Standardised features into a ridge classifier, penalty by leave-one-out CV."""
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))


def panel(arrays: list[np.ndarray], steps: int) -> np.ndarray:
    """Series zero-padded (or cut) to `steps`, channels first.

    Shape:
        arrays: N arrays (T_i, C). Returns (N, C, steps) float64.
    """
    out = np.zeros((len(arrays), arrays[0].shape[1], steps), dtype=np.float64)
    for i, a in enumerate(arrays):
        n = min(len(a), steps)
        out[i, :, :n] = a[:n].T
    return out


def minirocket(train_x: list[np.ndarray], y: np.ndarray, test_x: list[np.ndarray]) -> RefResult:
    """sktime's MiniRocket (multivariate for C > 1) + the ridge classifier. The transform is
    run by hand: sktime's estimators do not fit in a scikit-learn 1.9 pipeline."""
    from sktime.transformations.rocket import MiniRocket, MiniRocketMultivariate

    steps = max(MIN_ROCKET_STEPS, *(len(a) for a in train_x), *(len(a) for a in test_x))
    xtr, xte = panel(train_x, steps), panel(test_x, steps)
    kind = MiniRocket if xtr.shape[1] == 1 else MiniRocketMultivariate
    rocket, ridge = kind(random_state=0, n_jobs=1), _ridge()
    t0 = time.perf_counter()
    ridge.fit(np.asarray(rocket.fit_transform(xtr)), y)  # type: ignore[attr-defined]
    fit_s = time.perf_counter() - t0
    pred = ridge.predict(np.asarray(rocket.transform(xte)))  # type: ignore[attr-defined]
    spec = f"{kind.__name__} (10,000 features, series padded to {steps}) + RidgeClassifierCV"
    return RefResult(np.asarray(pred).astype(np.int64), spec, fit_s)


def _slope(x: np.ndarray) -> np.ndarray:
    """Least-squares slope of each column over its steps. Shape: (T, C) -> (C,)."""
    if len(x) < 2:
        return np.zeros(x.shape[1])
    t = np.arange(len(x), dtype=np.float64) - (len(x) - 1) / 2
    return (t @ x) / (t @ t)


def interval_features(x: np.ndarray) -> np.ndarray:
    """The fallback's features of one series. Shape: (T, C) -> (C * (5 * 5 + 2),)."""
    pieces = [x, *np.array_split(x, INTERVALS)]
    feats = []
    for p in pieces:
        p = p if len(p) else x[-1:]
        feats += [p.mean(0), p.std(0), p.min(0), p.max(0), _slope(p)]
    diff = np.diff(x, axis=0) if len(x) > 1 else np.zeros_like(x)
    feats += [diff.mean(0), diff.std(0)]
    return np.concatenate(feats)


def interval_ridge(train_x: list[np.ndarray], y: np.ndarray, test_x: list[np.ndarray]) -> RefResult:
    """The lighter fallback: interval statistics + the ridge classifier."""
    model = _ridge()
    t0 = time.perf_counter()
    feats = np.stack([interval_features(a.astype(np.float64)) for a in train_x])
    model.fit(feats, y)  # type: ignore[attr-defined]
    fit_s = time.perf_counter() - t0
    test_feats = np.stack([interval_features(a.astype(np.float64)) for a in test_x])
    spec = f"interval statistics (whole series + {INTERVALS} intervals) + RidgeClassifierCV"
    return RefResult(model.predict(test_feats).astype(np.int64), spec, fit_s)  # type: ignore[attr-defined]


def _warm_up(fn: Callable[[], object]) -> None:
    """Import a reference's modules before its clock starts (fit_s times the fit only)."""
    fn()


def reference_results(
    train: Sequences,
    test: Sequences,
    train_x: list[np.ndarray] | None,
    test_x: list[np.ndarray] | None,
    skipped: dict[str, str],
) -> dict[str, RefResult]:
    """Fit the references of the data's kind; record in `skipped` those that cannot run.

    `train_x` / `test_x` are the encoded numeric series `(T_i, C)` (None for text).
    """
    results = {"majority": majority(train, test)}
    if not _installed("sklearn"):
        other = "tfidf_logreg" if train.kind == "text" else "minirocket"
        skipped[other] = NOT_INSTALLED.format(what="scikit-learn")
        return results
    if train.kind == "text":
        _warm_up(lambda: __import__("sklearn.linear_model"))
        results["tfidf_logreg"] = tfidf_logreg(train, test)
        return results
    assert train_x is not None and test_x is not None
    fit_x, fit_y, note = _series_sample(train_x, train.y)
    if _installed("sktime", "numba"):
        _warm_up(lambda: __import__("sktime.transformations.rocket"))
        results["minirocket"] = minirocket(fit_x, fit_y, test_x)
    else:
        skipped["minirocket"] = NOT_INSTALLED.format(what="sktime / numba") + (
            "; the interval_ridge fallback ran instead"
        )
        results["interval_ridge"] = interval_ridge(fit_x, fit_y, test_x)
    return {n: r if n == "majority" else replace(r, spec=r.spec + note) for n, r in results.items()}


def _series_sample(x: list[np.ndarray], y: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, str]:
    """At most `MAX_SERIES_FIT` of the series (stratified, seed 0) and a note for the spec."""
    if len(x) <= MAX_SERIES_FIT:
        return x, y, ""
    _, take = stratified_split(y, MAX_SERIES_FIT / len(x), 0)
    note = f"; fit on a stratified {len(take):,} of the {len(x):,} training series"
    return [x[i] for i in take], y[take], note
