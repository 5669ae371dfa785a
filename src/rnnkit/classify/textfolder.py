"""Folders of texts with one subfolder per class (scikit-learn's `load_files` layout).

`DATA/<class>/<any>.txt`: each `.txt` file (found recursively in its class folder) is one
UTF-8 text, its leading and trailing whitespace dropped; the class folder's name is its
label and its path relative to `DATA` its id. Hidden folders (`.name`) and files directly
in `DATA` are ignored. A folder holding `train/` and `test/` subfolders that are each in
this layout (as aclImdb and 20-newsgroups are laid out) holds the two parts of a task.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.classify.data import Sequences, make_sequences
from rnnkit.errors import DataError
from rnnkit.storage import storage_errors

LEVELS = ("char", "word")
PARTS = ("train", "test")


def class_dirs(folder: Path) -> list[Path]:
    """`folder`'s subfolders (hidden ones left out), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def has_parts(folder: Path) -> bool:
    """Whether `folder` holds `train/` and `test/`, each with class subfolders."""
    return all((folder / p).is_dir() and class_dirs(folder / p) for p in PARTS)


def _read_text(path: Path) -> str:
    """A file's UTF-8 text (a leading byte-order mark dropped), whitespace stripped."""
    with storage_errors(path, "read"):
        data = path.read_bytes()
    if b"\x00" in data:
        raise DataError(f"{path} contains NUL bytes (binary or UTF-16?); convert it to UTF-8 text")
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not valid UTF-8 at byte offset {exc.start}; convert it to UTF-8"
        ) from None


def _class_files(folder: Path, label: Path) -> list[Path]:
    """The `.txt` files of one class folder, sorted by their path; an error when none."""
    files = sorted(p for p in label.rglob("*.txt") if p.is_file())
    if not files:
        raise DataError(
            f"class folder {label} holds no .txt files; put the class's texts in it as .txt "
            f"files or remove it from {folder}"
        )
    return files


def read_text_folder(folder: Path, level: str = "char") -> Sequences:
    """The texts of a class-subfolder folder (see the module docstring), labelled by their
    folder's name (label names in numeric, then string order), read later at `level`."""
    if level not in LEVELS:
        raise DataError(f"unknown text level {level!r}; use char or word")
    labels_dirs = class_dirs(folder)
    if not labels_dirs:
        raise DataError(
            f"folder {folder} has no class subfolders; put each class's .txt files in a "
            "subfolder named after the class"
        )
    texts: list[str] = []
    labels: list[str] = []
    ids: list[str] = []
    for label in labels_dirs:
        for path in _class_files(folder, label):
            texts.append(_read_text(path))
            labels.append(label.name)
            ids.append(path.relative_to(folder).as_posix())
    seqs = make_sequences([], labels, ids, texts)
    seqs.meta["level"] = level
    return seqs
