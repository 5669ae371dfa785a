"""Make the two folder layouts `rnnkit classify` reads, from data a fresh clone has.

    python examples/classify_folders.py idx runs/digits-idx
        scikit-learn's 1,797 digits (8 x 8 pixels, 0..16 scaled to 0..255) as MNIST IDX
        files: the first 1,437 the training pair, the rest the t10k (test) pair.
    python examples/classify_folders.py authors runs/authors
        passages of H. G. Wells' The Time Machine and of Shakespeare (the reference files in
        $RNNKIT_DATA: timemachine.txt, tinyshakespeare.txt) as one .txt file each, in one
        subfolder per author: the scikit-learn `load_files` layout.

Then `rnnkit classify runs/digits-idx` or `rnnkit classify runs/authors --level word`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.classify.idx import write_idx_part
from rnnkit.storage import write_atomic
from rnnkit.text.sources import data_dir

AUTHORS = {"wells": "timemachine.txt", "shakespeare": "tinyshakespeare.txt"}
PASSAGE_CHARS = 400  # about four lines of prose; passages end at a line break
PASSAGES = 400  # per author


def digits_idx(folder: Path) -> None:
    """Digits as IDX files: 80% training pair, 20% test pair, in the bundle's order."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)  # (N, 8, 8)
    cut = int(0.8 * len(images))
    write_idx_part(folder, "train", images[:cut], bunch.target[:cut])
    write_idx_part(folder, "t10k", images[cut:], bunch.target[cut:])
    print(f"{folder}: {cut} training and {len(images) - cut} test images of 8 x 8")


def passages(text: str, count: int) -> list[str]:
    """The first `count` passages of about `PASSAGE_CHARS` characters, cut at line breaks,
    blank-line-only passages skipped."""
    out, current = [], ""
    for line in text.splitlines(keepends=True):
        current += line
        if len(current) >= PASSAGE_CHARS:
            if current.strip():
                out.append(current.strip())
            current = ""
        if len(out) == count:
            break
    return out


def authors(folder: Path) -> None:
    """One subfolder per author, one .txt file per passage."""
    source = data_dir()
    if source is None:
        sys.exit("set RNNKIT_DATA to the folder of timemachine.txt and tinyshakespeare.txt")
    for author, name in AUTHORS.items():
        text = (source / name).read_text(encoding="utf-8")
        for i, passage in enumerate(passages(text, PASSAGES)):
            write_atomic(folder / author / f"{i:04d}.txt", passage + "\n")
    print(f"{folder}: {PASSAGES} passages each of {', '.join(AUTHORS)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("layout", choices=("idx", "authors"))
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    (digits_idx if args.layout == "idx" else authors)(args.folder)


if __name__ == "__main__":
    main()
