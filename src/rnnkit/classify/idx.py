"""MNIST-format IDX files: images read as sequences (one step per pixel row).

A folder of IDX files holds `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (the
training part) and, optionally, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (the
test part), each optionally gzipped (`.gz`). A file is a big-endian magic number
(`0x00000803` images, `0x00000801` labels: two zero bytes, the type 0x08 = unsigned byte,
the number of dimensions), each dimension as a big-endian uint32, then the bytes row-major.

An image of R rows x C columns is a sequence of R steps of C values (float32, the raw
0..255 pixels; the encoder standardises per channel). The images of a file stay one
`(N, R, C)` array; `Sequences.x` holds views of it, not copies. Labels are the label
bytes as strings ("0".."9"), or names given by the caller. `write_idx_part` writes a
pair (a user's own images, the classification guide's example). Numpy only.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from rnnkit.classify.data import Sequences
from rnnkit.errors import DataError
from rnnkit.storage import storage_errors, write_atomic

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
PARTS = ("train", "t10k")  # the training part, the test part
FILES = {"images": "{part}-images-idx3-ubyte", "labels": "{part}-labels-idx1-ubyte"}


def idx_file(folder: Path, part: str, what: str) -> Path | None:
    """`folder`'s `{part}-{what}-idx?-ubyte` file, plain or `.gz` (plain first); None if absent."""
    name = FILES[what].format(part=part)
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def has_part(folder: Path, part: str) -> bool:
    """Whether `folder` holds the images or the labels file of `part` (train or t10k)."""
    return any(idx_file(folder, part, what) is not None for what in FILES)


def is_idx_folder(folder: Path) -> bool:
    """Whether `folder` holds any of the four IDX files."""
    return any(has_part(folder, part) for part in PARTS)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in `.gz`."""
    with storage_errors(path, "read"):
        data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise DataError(
            f"{path} is not a complete gzip file; download it again or gunzip a good copy"
        ) from None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file whose magic number must be `magic`.

    Shape: (N,) for labels, (N, R, C) for images. A view of the file's bytes, read-only.
    """
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if len(data) < header:
        raise DataError(
            f"{path} has {len(data)} bytes, less than an IDX {kind} header; download it again"
        )
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"{path}: magic number 0x{found:08x} is not an IDX {kind} file's (0x{magic:08x}); "
            f"give the {kind} file as MNIST publishes it (uncompressed or .gz)"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != size:
        state = "is truncated" if len(data) - header < size else "has extra bytes"
        raise DataError(
            f"{path} {state}: its header says {' x '.join(map(str, dims))} = {size} bytes, "
            f"it holds {len(data) - header}; download it again"
        )
    if dims[0] == 0 or size == 0:
        raise DataError(f"{path} holds no {kind}; give a file with some")
    return np.frombuffer(data, np.uint8, count=size, offset=header).reshape(dims)


def _label_indices(
    labels: np.ndarray, names: list[str] | None, path: Path
) -> tuple[np.ndarray, list[str]]:
    """`(N,)` int64 label indices and the label names: `names` indexed by the label byte, or
    the label bytes that occur as strings, in numeric order."""
    if names is None:
        present, y = np.unique(labels, return_inverse=True)
        return y.astype(np.int64), [str(int(v)) for v in present]
    if int(labels.max()) >= len(names):
        raise DataError(
            f"{path} holds label {int(labels.max())}, the set has {len(names)} classes "
            f"(0..{len(names) - 1}); download the labels file again"
        )
    return labels.astype(np.int64), list(names)


def read_idx_part(
    folder: Path, part: str, names: list[str] | None = None, need_labels: bool = True
) -> Sequences:
    """The images of `folder`'s `part` (train or t10k) as `Sequences`: `x` views of one
    `(N, R, C)` float32 array, labels from the labels file (`names` indexed by the label
    byte, else the bytes as strings), ids `0..N-1`. Without `need_labels` the labels file
    may be absent (the sequences are then unlabelled)."""
    images_path = idx_file(folder, part, "images")
    labels_path = idx_file(folder, part, "labels")
    if images_path is None or (labels_path is None and need_labels):
        missing = FILES["images" if images_path is None else "labels"].format(part=part)
        raise DataError(
            f"folder {folder} has no {missing} (or {missing}.gz); put the {part} images and "
            "labels files there together"
        )
    images = read_idx(images_path, IMAGES_MAGIC).astype(np.float32)  # (N, R, C)
    ids = [str(i) for i in range(len(images))]
    if labels_path is None:
        y, label_names = np.full(len(images), -1, np.int64), list(names or [])
    else:
        labels = read_idx(labels_path, LABELS_MAGIC)
        if len(labels) != len(images):
            raise DataError(
                f"{images_path} holds {len(images)} images but {labels_path.name} "
                f"{len(labels)} labels; give the images and labels files of one set"
            )
        y, label_names = _label_indices(labels, names, labels_path)
    return Sequences(x=list(images), y=y, label_names=label_names, ids=ids)


def write_idx_part(
    folder: Path, part: str, images: np.ndarray, labels: np.ndarray, gz: bool = True
) -> list[Path]:
    """Write images and their labels as the IDX pair of `part` (`train` or `t10k`) in
    `folder` (made if absent), gzipped by default; returns the two paths.

    Shape:
        images: (N, R, C) values in [0, 255] (stored as unsigned bytes). labels: (N,) in
        [0, 255].
    """
    if part not in PARTS or images.ndim != 3 or len(images) != len(labels):
        raise DataError(
            f"write_idx_part needs part train or t10k, images (N, R, C) and N labels; got "
            f"{part!r}, {images.shape} and {len(labels)} labels"
        )
    paths = []
    for what, array, magic in (("images", images, IMAGES_MAGIC), ("labels", labels, LABELS_MAGIC)):
        dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        raw = magic.to_bytes(4, "big") + dims + np.clip(array, 0, 255).astype(np.uint8).tobytes()
        path = Path(folder) / (FILES[what].format(part=part) + (".gz" if gz else ""))
        write_atomic(path, gzip.compress(raw, mtime=0) if gz else raw)
        paths.append(path)
    return paths
