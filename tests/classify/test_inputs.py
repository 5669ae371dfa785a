"""The folder inputs of `rnnkit classify`: MNIST IDX folders, the named `fashion-mnist`
(faked through RNNKIT_DATA) and folders of one subfolder of `.txt` files per class; their
readers, splits, one-line errors, and the CLI end to end on each."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.classify import data as data_module
from rnnkit.classify.data import FASHION_MNIST_CLASSES, load_split
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_part, write_idx_part
from rnnkit.classify.textfolder import read_text_folder
from rnnkit.cli import main
from rnnkit.errors import DataError

TINY = ["--max-epochs", "2", "--time-budget", "0", "--hidden-size", "8", "--embed-size", "4"]
TINY += ["--batch-size", "8", "--references", "none", "--threads", "1", "--quiet"]


# --- writers ---------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write_idx_pair(
    folder: Path, part: str, images: np.ndarray, labels: np.ndarray, gz: bool = False
) -> None:
    """`{part}-images-idx3-ubyte` and `{part}-labels-idx1-ubyte` (`.gz` when `gz`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for what, array, magic in (
        ("images-idx3", images, IMAGES_MAGIC),
        ("labels-idx1", labels, LABELS_MAGIC),
    ):
        raw = _idx_bytes(array, magic)
        name = f"{part}-{what}-ubyte"
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def tiny_images(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of 6 rows x 5 columns whose brightness grows with the label."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % classes).astype(np.uint8)
    base = labels[:, None, None] * (200 // max(classes - 1, 1))
    images = np.clip(base + rng.integers(0, 40, size=(n, 6, 5)), 0, 255).astype(np.uint8)
    return images, labels


def idx_folder(folder: Path, gz: bool = False, test: bool = True, classes: int = 2) -> Path:
    """A folder of tiny IDX files: 30 training images (and 10 t10k ones when `test`)."""
    write_idx_pair(folder, "train", *tiny_images(30, classes, 0), gz=gz)
    if test:
        write_idx_pair(folder, "t10k", *tiny_images(10, classes, 1), gz=gz)
    return folder


def text_folder(folder: Path, n: int = 12, seed: int = 0) -> Path:
    """`folder/<class>/<i>.txt`: "pos" texts of a/b words, "neg" texts of y/z words."""
    rng = np.random.default_rng(seed)
    for label, words in (("pos", ["aa", "ab", "ba"]), ("neg", ["yy", "yz", "zy"])):
        (folder / label).mkdir(parents=True)
        for i in range(n):
            text = " ".join(rng.choice(words, size=int(rng.integers(2, 6))))
            (folder / label / f"{i:02d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def _one_line(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- IDX folders -----------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_reads_train_and_t10k(tmp_path: Path, gz: bool) -> None:
    folder = idx_folder(tmp_path / "mnist", gz=gz)
    images, labels = tiny_images(30, 2, 0)
    split = load_split(str(folder))
    assert (len(split.train), len(split.test)) == (30, 10)
    assert split.how == "the folder's t10k files" and split.name == "mnist"
    assert split.train.label_names == ["0", "1"] and split.train.kind == "numeric"
    first = split.train.x[0]
    assert first.shape == (6, 5) and first.dtype == np.float32 and split.train.channels == 5
    np.testing.assert_array_equal(np.stack(split.train.x), images.astype(np.float32))
    np.testing.assert_array_equal(split.train.y, labels)
    assert split.train.ids[:3] == ["0", "1", "2"]
    assert first.base is not None and first.base is split.train.x[1].base  # views of one array


@pytest.mark.parametrize("gz", [False, True])
def test_write_idx_part_is_what_the_reader_reads(tmp_path: Path, gz: bool) -> None:
    images, labels = tiny_images(12, 3, 1)
    for part in ("train", "t10k"):
        write_idx_part(tmp_path / "mine", part, images, labels, gz=gz)
    split = load_split(str(tmp_path / "mine"))
    np.testing.assert_array_equal(np.stack(split.test.x), images.astype(np.float32))
    np.testing.assert_array_equal(split.test.y, labels)
    with pytest.raises(DataError, match="images \\(N, R, C\\)"):
        write_idx_part(tmp_path, "train", images[0], labels)


def test_idx_folder_without_t10k_is_split_80_20(tmp_path: Path) -> None:
    split = load_split(str(idx_folder(tmp_path / "m", test=False)), seed=2)
    assert (len(split.train), len(split.test)) == (24, 6)
    assert split.how == "stratified 80/20, seed 2"


def test_idx_labels_keep_numeric_order(tmp_path: Path) -> None:
    images, _ = tiny_images(12, 2, 0)
    labels = np.array([10, 2, 9] * 4, dtype=np.uint8)
    write_idx_pair(tmp_path, "train", images, labels)
    seqs = read_idx_part(tmp_path, "train")
    assert seqs.label_names == ["2", "9", "10"]
    assert seqs.y[:3].tolist() == [2, 0, 1]


def test_corrupt_idx_files_are_one_line_errors(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "m")
    images = folder / "train-images-idx3-ubyte"
    raw = images.read_bytes()
    images.write_bytes(raw[:-7])
    with pytest.raises(DataError, match="is truncated") as exc:
        load_split(str(folder))
    assert str(images) in _one_line(exc)
    images.write_bytes(raw + b"\x00")
    with pytest.raises(DataError, match="has extra bytes"):
        load_split(str(folder))
    images.write_bytes(raw[:6])
    with pytest.raises(DataError, match="less than an IDX images header"):
        load_split(str(folder))
    images.write_bytes((folder / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match="0x00000801 is not an IDX images file's") as exc:
        load_split(str(folder))
    assert "download" not in _one_line(exc) and "as MNIST publishes it" in str(exc.value)


def test_idx_count_mismatch_and_bad_gzip(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    images, labels = tiny_images(10, 2, 0)
    write_idx_pair(folder, "train", images, labels[:9])
    with pytest.raises(DataError, match="holds 10 images but train-labels-idx1-ubyte 9") as exc:
        load_split(str(folder))
    _one_line(exc)
    other = tmp_path / "g"
    write_idx_pair(other, "train", images, labels, gz=True)
    gz = other / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DataError, match="not a complete gzip file"):
        load_split(str(other))


def test_an_idx_folder_missing_its_train_labels(tmp_path: Path) -> None:
    folder = idx_folder(tmp_path / "m")
    (folder / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no train-labels-idx1-ubyte"):
        load_split(str(folder))


def test_read_idx_checks_the_magic(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(_idx_bytes(np.zeros(3), LABELS_MAGIC))
    assert read_idx(path, LABELS_MAGIC).shape == (3,)


# --- fashion-mnist ---------------------------------------------------------------------


@pytest.mark.parametrize("inside", [True, False])
def test_fashion_mnist_found_through_rnnkit_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: bool
) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    monkeypatch.setattr(data_module, "FASHION_MNIST_SYSTEM", tmp_path / "absent")
    idx_folder(tmp_path / "fashion-mnist" if inside else tmp_path, gz=True, classes=10)
    split = load_split("fashion-mnist")
    assert split.train.label_names == list(FASHION_MNIST_CLASSES)  # label order, not sorted
    assert split.train.label_names[0] == "T-shirt/top"
    assert split.train.y[:3].tolist() == [0, 1, 2] and split.test.y[9] == 9
    assert split.how == "the dataset's own t10k files" and split.name == "fashion-mnist"


def test_fashion_mnist_missing_names_both_places_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    monkeypatch.setattr(data_module, "FASHION_MNIST_SYSTEM", tmp_path / "absent")
    with pytest.raises(DataError) as exc:
        load_split("fashion-mnist")
    message = _one_line(exc)
    assert str(tmp_path / "fashion-mnist") in message and str(tmp_path / "absent") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_fashion_mnist_labels_beyond_the_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    images, labels = tiny_images(12, 2, 0)
    write_idx_pair(tmp_path / "fashion-mnist", "train", images, labels + 9)
    with pytest.raises(DataError, match="holds label 10, the set has 10 classes"):
        load_split("fashion-mnist")


# --- text folders ----------------------------------------------------------------------


def test_text_folder_reads_texts_labels_and_ids(tmp_path: Path) -> None:
    folder = text_folder(tmp_path / "reviews")
    seqs = read_text_folder(folder)
    assert seqs.kind == "text" and len(seqs) == 24
    assert seqs.label_names == ["neg", "pos"]
    assert seqs.ids[0] == "neg/00.txt" and seqs.ids[-1] == "pos/11.txt"
    assert seqs.texts is not None and not seqs.texts[0].endswith("\n")
    assert seqs.texts[0] == (folder / "neg" / "00.txt").read_text().strip()
    split = load_split(str(folder), seed=1)
    assert (len(split.train), len(split.test)) == (20, 4) and split.name == "reviews"
    assert split.how == "stratified 80/20, seed 1"


def test_text_folder_train_test_parts_and_a_test_folder(tmp_path: Path) -> None:
    folder = tmp_path / "imdb"
    text_folder(folder / "train")
    text_folder(folder / "test", n=3, seed=1)
    split = load_split(str(folder))
    assert (len(split.train), len(split.test)) == (24, 6)
    assert split.how == "the folder's test/ subfolder" and split.name == "imdb"
    other = text_folder(tmp_path / "other", n=2)
    split = load_split(str(folder / "train"), test=str(other))
    assert len(split.test) == 4 and split.how == f"test folder {other}"


def test_word_level_reads_a_text_folder(tmp_path: Path) -> None:
    split = load_split(str(text_folder(tmp_path / "t")), level="word")
    encoder = InputEncoder.fit(split.train, "word")
    assert encoder.vocab is not None and "aa" in encoder.vocab
    assert all(len(a) <= 5 for a in encoder.transform(split.test))  # words, not characters


def test_text_folder_errors_are_one_line(tmp_path: Path) -> None:
    folder = text_folder(tmp_path / "t")
    (folder / "neg" / "bad.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(DataError, match=r"bad\.txt is not valid UTF-8 at byte offset 3") as exc:
        load_split(str(folder))
    _one_line(exc)
    (folder / "neg" / "bad.txt").unlink()
    (folder / "empty").mkdir()
    with pytest.raises(DataError, match=r"class folder .*empty holds no \.txt files"):
        load_split(str(folder))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("text", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_split(str(plain))
    message = _one_line(exc)
    assert "NAME_TRAIN.ts" in message and "IDX" in message and "subfolder" in message


# --- the CLI ---------------------------------------------------------------------------


def _run(data: str, out: Path, *extra: str) -> dict[str, object]:
    assert main(["classify", data, *TINY, "--out", str(out), *extra]) == 0
    metrics: dict[str, object] = json.loads((out / "metrics.json").read_text())
    return metrics


def test_cli_on_an_idx_folder_and_prediction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = idx_folder(tmp_path / "mnist", gz=True)
    _run(str(folder), tmp_path / "run")
    assert "test accuracy" in capsys.readouterr().out
    run = str(tmp_path / "run")
    assert main(["classify", "--checkpoint", run, str(folder)]) == 0  # its t10k images
    assert "10 sequences labelled" in capsys.readouterr().out.splitlines()[-1]
    target = tmp_path / "run" / "predict-mnist.csv"
    assert target.read_text().splitlines()[0] == "id,label,predicted,p_0,p_1"


def test_cli_on_fake_fashion_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    idx_folder(tmp_path / "fashion-mnist", classes=10)
    _run("fashion-mnist", tmp_path / "run")
    line = capsys.readouterr().out
    assert "fashion-mnist" in line and "test accuracy" in line
    predictions = (tmp_path / "run" / "predictions.csv").read_text().splitlines()[0]
    assert predictions.endswith("p_Bag,p_Ankle boot")


def test_cli_on_a_text_folder_at_word_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = text_folder(tmp_path / "t")
    _run(str(folder), tmp_path / "run", "--level", "word")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["level"] == "word"
    assert main(["classify", "--checkpoint", str(tmp_path / "run"), str(folder)]) == 0
    assert "24 sequences labelled" in capsys.readouterr().out.splitlines()[-1]
    assert main(["classify", str(tmp_path / "nowhere"), *TINY]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_fashion_mnist_with_a_test_folder_reads_its_labels_as_the_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    idx_folder(tmp_path / "fashion-mnist", classes=10)
    other = idx_folder(tmp_path / "other", test=False, classes=10)
    split = load_split("fashion-mnist", test=str(other))
    assert len(split.test) == 30 and split.how == f"test folder {other}"
    assert split.test.label_names == list(FASHION_MNIST_CLASSES)
    assert split.test.y[:3].tolist() == [0, 1, 2]
