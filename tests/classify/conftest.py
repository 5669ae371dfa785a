"""Tiny classification data written on the fly: `.ts` pairs, CSV text and numeric tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import write_ts


@pytest.fixture
def ts_pair(tmp_path: Path) -> Path:
    """`Tiny_TRAIN.ts` (24 series) beside `Tiny_TEST.ts` (12); returns the training file."""
    write_ts(tmp_path / "Tiny_TEST.ts", 12, seed=1)
    return write_ts(tmp_path / "Tiny_TRAIN.ts", 24)


@pytest.fixture
def text_csv(tmp_path: Path) -> Path:
    """A labelled CSV of 40 short texts: "a" texts are made of a/b, "z" texts of y/z."""
    rng = np.random.default_rng(0)
    rows = ["label,text"]
    for i in range(40):
        label = "a" if i % 2 else "z"
        letters = "ab" if label == "a" else "yz"
        rows.append(f"{label}," + "".join(rng.choice(list(letters), size=int(rng.integers(3, 9)))))
    path = tmp_path / "texts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def numeric_csv(tmp_path: Path) -> Path:
    """A headerless numeric CSV (label in column 0), 30 rows of 10 values, UCR style."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(30):
        label = i % 2 + 1
        values = np.linspace(0, 1, 10) * (1 if label == 1 else -1) + 0.1 * rng.normal(size=10)
        rows.append(f"{label}," + ",".join(f"{v:.4f}" for v in values))
    path = tmp_path / "series.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
