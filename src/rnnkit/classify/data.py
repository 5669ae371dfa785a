"""Labelled sequences and where they come from: `.ts` files, CSV/TSV tables, folders of IDX
images or of texts, named datasets.

`load_split(source, test, label_col)` reads the training part and the test part of a
classification task and says how the test part came about:

- an existing path wins over a dataset name;
- a UCR/UEA `NAME_TRAIN.ts` file takes the `NAME_TEST.ts` beside it (an error if absent),
  a folder holding one `*_TRAIN.ts` file the same; another `.ts` file is split;
- any other file is a CSV/TSV table, one sequence per row (`rnnkit.classify.tables`);
- a folder of MNIST IDX files (`rnnkit.classify.idx`): the `train-*` images (R rows of C
  pixels read as R steps of C values) and labels; the `t10k-*` pair is the test part;
- a folder with one subfolder of `.txt` files per class (`rnnkit.classify.textfolder`):
  one text per file, labelled by its folder; a folder holding `train/` and `test/` in that
  layout has them as its two parts;
- any other folder is an error naming the three folder layouts;
- `digits`: scikit-learn's bundled 8 x 8 digits read row by row (8 steps of 8 values),
  its own stratified 50/50 split with seed 0;
- `first-names`: `first-names-gender.csv` from `$RNNKIT_DATA` (first name -> gender), its
  own stratified 80/20 split with seed 0;
- `fashion-mnist`: the Fashion-MNIST IDX files from `$RNNKIT_DATA/fashion-mnist` (or
  `$RNNKIT_DATA` itself), else `/usr/share/datasets/fashion-mnist` (Debian's
  `dataset-fashion-mnist`): 60,000 training and 10,000 test images of 28 x 28, labelled
  with the class names in label order;
- `test` (a file or folder of the same kind) is the test part of any of them; without a
  test part, a stratified 80/20 split seeded by `seed`.

Everything here is numpy; nothing imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rnnkit.errors import DataError

Kind = Literal["numeric", "text"]
Layout = Literal["file", "ts", "idx", "text"]
NAMED = ("digits", "first-names", "fashion-mnist")
FIRST_NAMES_FILE = "first-names-gender.csv"
FASHION_MNIST = "fashion-mnist"
FASHION_MNIST_SYSTEM = Path("/usr/share/datasets/fashion-mnist")  # Debian's package
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
TEST_FRACTION = 0.2  # the test part split off when a source has none


@dataclass
class Sequences:
    """Labelled (or unlabelled) sequences of one kind.

    Attributes:
        x: numeric: one float32 array `(T_i, C)` per sequence (NaN = missing value); text:
            one int64 array `(T_i,)` of token ids once encoded, empty before.
        y: `(N,)` int64 label indices into `label_names`; -1 where a sequence has no label
            (or one the label names do not hold).
        label_names: the classes, in the order of the model's outputs.
        ids: one id per sequence (the row number, or the series' number in its file).
        texts: text only: the raw strings (the references and the tokenizer read them).
    """

    x: list[np.ndarray]
    y: np.ndarray
    label_names: list[str]
    ids: list[str]
    texts: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def kind(self) -> Kind:
        """`text` for strings, `numeric` for series."""
        return "text" if self.texts is not None else "numeric"

    @property
    def labelled(self) -> bool:
        """Whether every sequence carries a label."""
        return bool(len(self.y)) and bool((self.y >= 0).all())

    @property
    def channels(self) -> int:
        """C, the values per step of a numeric sequence (0 for text)."""
        return int(self.x[0].shape[1]) if self.kind == "numeric" and self.x else 0

    def lengths(self) -> np.ndarray:
        """`(N,)` the steps of each sequence (characters of a text before encoding)."""
        if self.texts is not None and not self.x:
            return np.array([len(t) for t in self.texts], dtype=np.int64)
        return np.array([len(a) for a in self.x], dtype=np.int64)

    def subset(self, index: np.ndarray) -> Sequences:
        """The sequences at `index` (an int array), in that order."""
        pick = [int(i) for i in index]
        return Sequences(
            x=[self.x[i] for i in pick] if self.x else [],
            y=self.y[np.asarray(pick, dtype=np.int64)],
            label_names=list(self.label_names),
            ids=[self.ids[i] for i in pick],
            texts=None if self.texts is None else [self.texts[i] for i in pick],
            meta=dict(self.meta),
        )


def _label_key(name: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then other names in string order."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def make_sequences(
    x: list[np.ndarray],
    labels: list[str] | None,
    ids: list[str],
    texts: list[str] | None = None,
    label_names: list[str] | None = None,
) -> Sequences:
    """Sequences with string `labels` turned into indices (`label_names`: sorted labels)."""
    names = label_names or sorted(set(labels or []), key=_label_key)
    index = {n: i for i, n in enumerate(names)}
    y = np.array([index.get(v, -1) for v in labels] if labels else [-1] * len(ids), np.int64)
    return Sequences(x=x, y=y, label_names=list(names), ids=ids, texts=texts)


def relabel(seqs: Sequences, label_names: list[str]) -> Sequences:
    """`seqs` with its labels as indices into `label_names`; labels those names lack give -1."""
    labels = [seqs.label_names[i] if i >= 0 else "" for i in seqs.y.tolist()]
    index = {n: i for i, n in enumerate(label_names)}
    out = seqs.subset(np.arange(len(seqs)))
    out.y = np.array([index.get(v, -1) for v in labels], dtype=np.int64)
    out.label_names = list(label_names)
    return out


# --- splits ----------------------------------------------------------------------------


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into `(kept, held)`: each class gives `round(n_c * fraction)` of its
    members to `held` (at least one when it has two or more, never all of them), drawn
    with `seed`; both parts in ascending order.

    Shape:
        y: (N,) class indices. Returns two int64 index arrays that partition `range(N)`.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"a split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        rng.shuffle(members)
        n = len(members)
        take = min(max(round(n * fraction), 1 if n >= 2 else 0), n - 1)
        held.append(members[:take])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    kept_idx = np.setdiff1d(np.arange(len(y)), held_idx)
    return kept_idx.astype(np.int64), held_idx.astype(np.int64)


def check_trainable(train: Sequences, origin: str) -> None:
    """Refuse a training part without labels, with one class, or too small to split."""
    if not train.labelled:
        raise DataError(f"{origin}: every training sequence needs a label; fill the label column")
    counts = np.bincount(train.y, minlength=len(train.label_names))
    if (counts > 0).sum() < 2:
        raise DataError(
            f"{origin}: the training part has one class ({train.label_names[0]!r}); "
            "classification needs sequences of at least two classes"
        )
    if len(train) < 4:
        raise DataError(
            f"{origin}: the training part has {len(train)} sequences; give at least 4 "
            "(some are held out for validation)"
        )


# --- sources ---------------------------------------------------------------------------


@dataclass
class Split:
    """A task's training and test parts, and how the test part came about.

    Attributes:
        train: the training sequences (validation is carved from them later).
        test: the test sequences, labelled with `train.label_names`.
        name: what the summary calls the data (a dataset name or the file's stem).
        how: `test file <path>` (or folder), `paired NAME_TEST.ts`, `the folder's t10k
            files`, `the folder's test/ subfolder`, the dataset's own, or `stratified 80/20,
            seed S`.
    """

    train: Sequences
    test: Sequences
    name: str
    how: str


def _read_file(path: Path, label_col: str, level: str, need_label: bool = True) -> Sequences:
    """A `.ts` file or a CSV/TSV table."""
    if path.suffix.lower() == ".ts":
        from rnnkit.classify.tsfile import read_ts

        return read_ts(path)
    from rnnkit.classify.tables import read_table

    return read_table(path, label_col, level, need_label)


def layout_of(path: Path) -> Layout:
    """What `path` holds: `file`, or a folder with a `*_TRAIN.ts` file (`ts`), MNIST IDX
    files (`idx`) or one subfolder of `.txt` files per class (`text`), checked in that order."""
    from rnnkit.classify.idx import is_idx_folder
    from rnnkit.classify.textfolder import class_dirs

    if not path.is_dir():
        return "file"
    if any(path.glob("*_TRAIN.ts")):
        return "ts"
    if is_idx_folder(path):
        return "idx"
    if class_dirs(path):
        return "text"
    raise DataError(
        f"folder {path} is none of the folders classify reads: one NAME_TRAIN.ts (with its "
        "NAME_TEST.ts), MNIST IDX files (train-images-idx3-ubyte, ...) or one subfolder of "
        ".txt files per class; give such a folder or a file"
    )


def _idx_names(classes: list[str] | None) -> list[str] | None:
    """The names IDX label bytes read as: byte k is `classes[k]`, unless the classes are
    numbers (or not given): then it is the class named `str(k)`."""
    return classes if classes and not all(c.isdigit() for c in classes) else None


def read_part(
    path: Path,
    label_col: str = "",
    level: str = "char",
    need_label: bool = True,
    classes: list[str] | None = None,
) -> Sequences:
    """A test part or new data to label: a `.ts` file or a table; an IDX folder's t10k
    images (its train images when it has no t10k files); a class-subfolder text folder (its
    `test/` part when it holds `train/` and `test/`). `classes`: the model's classes, which
    IDX labels index when they are not numbers (fashion-mnist)."""
    from rnnkit.classify.idx import has_part, read_idx_part
    from rnnkit.classify.textfolder import has_parts, read_text_folder

    layout = layout_of(path)
    if layout == "idx":
        part = "t10k" if has_part(path, "t10k") else "train"
        return read_idx_part(path, part, _idx_names(classes), need_label)
    if layout == "text":
        return read_text_folder(path / "test" if has_parts(path) else path, level)
    if layout == "ts":
        raise DataError(f"{path} is a folder of .ts files; give the .ts file itself")
    return _read_file(path, label_col, level, need_label)


def _read_train(path: Path, layout: Layout, label_col: str, level: str) -> Sequences:
    """The training part of a file, an IDX folder (its train files) or a text folder (its
    `train/` part when it holds `train/` and `test/`)."""
    from rnnkit.classify.idx import read_idx_part
    from rnnkit.classify.textfolder import has_parts, read_text_folder

    if layout == "idx":
        return read_idx_part(path, "train")
    if layout == "text":
        return read_text_folder(path / "train" if has_parts(path) else path, level)
    return _read_file(path, label_col, level)


def _own_test(path: Path, layout: Layout) -> tuple[Path, str] | None:
    """Where the source's own test part is and how the summary calls it; None when it has
    none (it is then split)."""
    from rnnkit.classify.idx import has_part
    from rnnkit.classify.textfolder import has_parts

    if layout == "idx":
        return (path, "the folder's t10k files") if has_part(path, "t10k") else None
    if layout == "text":
        return (path / "test", "the folder's test/ subfolder") if has_parts(path) else None
    paired = _paired_test(path)
    return (paired, f"paired {paired.name}") if paired else None


def _ts_train_file(path: Path) -> Path:
    """The `*_TRAIN.ts` file a folder holds (exactly one)."""
    found = sorted(path.glob("*_TRAIN.ts"))
    if len(found) != 1:
        raise DataError(
            f"folder {path} holds {len(found)} *_TRAIN.ts files; give a folder with one "
            "NAME_TRAIN.ts (and its NAME_TEST.ts) or the file itself"
        )
    return found[0]


def _paired_test(path: Path) -> Path | None:
    """`NAME_TEST.ts` beside `NAME_TRAIN.ts` (an error if absent); None for other files."""
    stem = path.stem
    if path.suffix.lower() != ".ts" or not stem.upper().endswith("_TRAIN"):
        return None
    tail = "TEST" if stem.endswith("TRAIN") else "test"
    test = path.with_name(stem[: -len("TRAIN")] + tail + path.suffix)
    if not test.is_file():
        raise DataError(
            f"{path.name} is a training file but {test.name} is not beside it; put the test "
            "file there or name one with the test option"
        )
    return test


def _align(train: Sequences, test: Sequences, origin: str) -> Sequences:
    """`test` labelled with the training part's classes; a class the training part lacks is
    an error, and so is a test part of another kind or channel count."""
    if test.kind != train.kind or test.channels != train.channels:
        raise DataError(
            f"{origin}: the test part is {test.kind} with {test.channels} channels, the "
            f"training part {train.kind} with {train.channels}; give files of the same layout"
        )
    unseen = sorted(set(test.label_names) - set(train.label_names))
    if unseen:
        raise DataError(
            f"{origin}: the test part has labels the training part lacks ({', '.join(unseen)}); "
            "give a training file with every class"
        )
    return relabel(test, train.label_names)


def _split_off(data: Sequences, fraction: float, seed: int) -> tuple[Sequences, Sequences]:
    """A stratified `(1 - fraction, fraction)` split of labelled data."""
    kept, held = stratified_split(data.y, fraction, seed)
    return data.subset(kept), data.subset(held)


def load_split(
    source: str, test: str = "", label_col: str = "", level: str = "char", seed: int = 0
) -> Split:
    """The training and test parts of `source` (see the module docstring).

    Args:
        source: a `.ts` file, a CSV/TSV file, a folder (one `*_TRAIN.ts`, MNIST IDX files,
            or one subfolder of `.txt` files per class) or a named dataset (`NAMED`).
        test: a file or folder of the same layout to test on ("" = paired, the dataset's or
            folder's own, or split).
        label_col: the label column of a table (a name, or a 0-based index); "" = by name.
        level: how a text column is read later (`char` or `word`); checked here.
        seed: the seed of the 80/20 split when there is no test part.
    """
    path = Path(source).expanduser()
    if not path.exists():
        if source in NAMED:
            return _named(source, test, level)
        raise DataError(
            f"unknown data {source!r}: not an existing file or folder nor a dataset "
            f"({', '.join(NAMED)}); check the path"
        )
    layout = layout_of(path)
    if layout == "ts":
        path, layout = _ts_train_file(path), "file"
    train = _read_train(path, layout, label_col, level)
    origin = str(path)
    name = path.stem.removesuffix("_TRAIN") if layout == "file" else path.resolve().name
    check_trainable(train, origin)
    own = None if test else _own_test(path, layout)
    if own is None and not test:
        fit, held = _split_off(train, TEST_FRACTION, seed)
        return Split(fit, held, name, f"stratified 80/20, seed {seed}")
    test_path, how = own or _given_test(test)
    test_part = _align(train, read_part(test_path, label_col, level), str(test_path))
    return Split(train, test_part, name, how)


def _given_test(test: str) -> tuple[Path, str]:
    """The test option's path and how the summary calls it; an error when it is absent."""
    path = Path(test).expanduser()
    if not path.exists():
        raise DataError(f"test file {path} does not exist; check the path")
    return path, f"test {'folder' if path.is_dir() else 'file'} {path}"


# --- named datasets ----------------------------------------------------------------------


def _digits() -> Sequences:
    """scikit-learn's 1,797 digits, each 8 rows of 8 pixels (0..16): 8 steps x 8 values."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "digits: scikit-learn is not installed; pip install 'rnnkit[classify]'"
        ) from None
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)  # (N, 8, 8)
    labels = [str(int(t)) for t in bunch.target]
    return make_sequences(list(images), labels, [str(i) for i in range(len(images))])


def first_names_path() -> Path:
    """`first-names-gender.csv` in `$RNNKIT_DATA`, as the named text sources are found."""
    from rnnkit.text.sources import data_dir

    folder = data_dir()
    if folder is None or not (folder / FIRST_NAMES_FILE).is_file():
        where = f"in {folder}" if folder is not None else "(RNNKIT_DATA is not set)"
        raise DataError(
            f"first-names: no {FIRST_NAMES_FILE} {where}; put the file in a folder and set "
            "RNNKIT_DATA to that folder"
        )
    return folder / FIRST_NAMES_FILE


def fashion_mnist_dir() -> Path:
    """The Fashion-MNIST IDX folder: `$RNNKIT_DATA/fashion-mnist`, else `$RNNKIT_DATA` itself
    when it holds the four files, else `FASHION_MNIST_SYSTEM`."""
    from rnnkit.classify.idx import FILES, PARTS, idx_file
    from rnnkit.text.sources import data_dir

    folder = data_dir()
    if folder is not None and (folder / FASHION_MNIST).is_dir():
        return folder / FASHION_MNIST
    if folder is not None and all(idx_file(folder, p, w) for p in PARTS for w in FILES):
        return folder
    if FASHION_MNIST_SYSTEM.is_dir():
        return FASHION_MNIST_SYSTEM
    where = folder / FASHION_MNIST if folder is not None else "$RNNKIT_DATA (not set)"
    raise DataError(
        f"fashion-mnist: its IDX files are neither in {where} nor in {FASHION_MNIST_SYSTEM}; "
        "apt-get install dataset-fashion-mnist, or put the four IDX files "
        "(train-/t10k-images-idx3-ubyte, train-/t10k-labels-idx1-ubyte, .gz or not) in "
        "$RNNKIT_DATA/fashion-mnist"
    )


def _fashion_mnist(test: str, level: str) -> Split:
    """Fashion-MNIST: 28 x 28 images as 28 steps of 28 values, its own t10k test part."""
    from rnnkit.classify.idx import read_idx_part

    folder, names = fashion_mnist_dir(), list(FASHION_MNIST_CLASSES)
    train = read_idx_part(folder, "train", names)
    if test:
        path, how = _given_test(test)
        test_part = _align(train, read_part(path, "", level, classes=names), test)
    else:
        test_part, how = read_idx_part(folder, "t10k", names), "the dataset's own t10k files"
    return Split(train, test_part, FASHION_MNIST, how)


def _named(source: str, test: str, level: str) -> Split:
    """A named dataset with its own stratified split (seed 0) or test files, or the given
    test file."""
    if source == FASHION_MNIST:
        return _fashion_mnist(test, level)
    if source == "digits":
        data, fraction = _digits(), 0.5
    else:
        from rnnkit.classify.tables import read_table

        data, fraction = read_table(first_names_path(), "gender", level), TEST_FRACTION
    if test:
        test_part = _align(data, read_part(Path(test), "", level), test)
        return Split(data, test_part, source, f"test file {test}")
    fit, held = _split_off(data, fraction, 0)
    share = round(100 * (1 - fraction))
    return Split(fit, held, source, f"stratified {share}/{100 - share}, seed 0 (the dataset's own)")
