"""CSV / TSV tables with one sequence per row.

The label column is `label_col` (a name, or a 0-based index), else the column named
`label`, `class` or `target` (any case); a file whose first row is all numbers has no
header, and its label is column 0 (as UCR's own text exports). A column named `id` gives
the rows' ids (else the row index, from 0). The other columns are either

- one text column: text classification (each cell one text), or
- numeric columns: one univariate series per row (empty cells, `?` and `NaN` are missing;
  missing cells at the end of a row shorten that series).

The delimiter is a tab for `.tsv` / `.tab` files, a comma for `.csv`, and otherwise the
one of `,` `\\t` `;` that the first line holds most of.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from rnnkit.classify.data import Sequences, make_sequences
from rnnkit.errors import DataError
from rnnkit.storage import storage_errors

LABEL_NAMES = ("label", "class", "target")
MISSING = ("", "?", "nan", "NaN", "NA")
LEVELS = ("char", "word")


def _delimiter(path: Path, first: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    return max((",", "\t", ";"), key=first.count)


def _rows(path: Path) -> list[list[str]]:
    """The file's non-empty rows as lists of cells."""
    with storage_errors(path, "read"):
        data = path.read_bytes()
    if b"\x00" in data:
        raise DataError(f"{path} contains NUL bytes (binary?); give a UTF-8 CSV or TSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not valid UTF-8 at byte offset {exc.start}; convert it to UTF-8"
        ) from None
    first = text.split("\n", 1)[0]
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=_delimiter(path, first)) if r]
    if len(rows) < 2:
        raise DataError(f"{path} has {len(rows)} rows; give a table with a row per sequence")
    return rows


def _is_number(cell: str) -> bool:
    if cell.strip() in MISSING:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_index(header: list[str], label_col: str, path: Path, need: bool = True) -> int:
    """The label column's index in `header` (names compared without case); -1 when there
    is none and none is `need`ed."""
    lowered = [h.strip().lower() for h in header]
    if label_col:
        if label_col.strip().lower() in lowered:
            return lowered.index(label_col.strip().lower())
        if label_col.isdigit() and int(label_col) < len(header):
            return int(label_col)
        raise DataError(
            f"{path}: no column {label_col!r} (columns: {', '.join(header)}); name one of them "
            "as the label column"
        )
    for name in LABEL_NAMES:
        if name in lowered:
            return lowered.index(name)
    if not need:
        return -1
    raise DataError(
        f"{path}: no label column (columns: {', '.join(header[:8])}); name it label, class or "
        "target, or give the label column"
    )


def _split_header(
    rows: list[list[str]], label_col: str, path: Path, need: bool
) -> tuple[list[str], int]:
    """The header (made up for a headerless file) and the label column's index; the header
    row is removed from `rows`."""
    first = rows[0]
    named = {h.strip().lower() for h in first} & {*LABEL_NAMES, label_col.strip().lower()}
    if all(_is_number(c) for c in first) and not (label_col and named):
        header = [str(i) for i in range(len(first))]
        return header, int(label_col) if label_col.isdigit() else 0
    rows.pop(0)
    return first, _label_index(first, label_col, path, need)


def _numeric_row(cells: list[str], where: str) -> np.ndarray:
    """A row's values as a `(T, 1)` series; trailing missing cells are dropped."""
    values = [math.nan if c.strip() in MISSING else float(c) for c in cells]
    while values and math.isnan(values[-1]):
        values.pop()
    if not values:
        raise DataError(f"{where}: the row has no values; drop it or fill it in")
    return np.array(values, dtype=np.float32).reshape(-1, 1)


def read_table(
    path: str | Path, label_col: str = "", level: str = "char", need_label: bool = True
) -> Sequences:
    """Read a CSV/TSV table (see the module docstring) into `Sequences`: numeric rows as
    `(T_i, 1)` float32 series; a text column as `texts` (encoded later, at `level`).
    With `need_label` false (new data to label), a table with a header may have no label
    column."""
    path = Path(path)
    if level not in LEVELS:
        raise DataError(f"unknown text level {level!r}; use char or word")
    rows = _rows(path)
    header, label_at = _split_header(rows, label_col, path, need_label)
    id_at = next((i for i, h in enumerate(header) if h.strip().lower() == "id"), -1)
    features = [i for i in range(len(header)) if i not in (label_at, id_at)]
    width = len(header)
    for number, row in enumerate(rows):
        if len(row) != width:
            raise DataError(
                f"{path} data row {number}: {len(row)} cells, the table has {width} columns; "
                "give every row the same columns (quote text that holds the delimiter)"
            )
    if not features:
        raise DataError(f"{path}: no column besides the label; add the sequences' columns")
    labels = [r[label_at].strip() for r in rows] if label_at >= 0 else None
    ids = [r[id_at].strip() for r in rows] if id_at >= 0 else [str(i) for i in range(len(rows))]
    if labels is not None and any(not v for v in labels):
        empty = labels.index("")
        raise DataError(f"{path} data row {empty}: the label is empty; fill it in or drop the row")
    text_cols = [i for i in features if not all(_is_number(r[i]) for r in rows)]
    if not text_cols:
        x = [
            _numeric_row([r[i] for i in features], f"{path} data row {n}")
            for n, r in enumerate(rows)
        ]
        return make_sequences(x, labels, ids)
    if len(features) > 1:
        names = ", ".join(header[i] for i in features[:6])
        raise DataError(
            f"{path}: columns {names} mix text and numbers; keep one text column (text "
            "classification) or only numeric columns (one series per row)"
        )
    texts = [r[text_cols[0]] for r in rows]
    seqs = make_sequences([], labels, ids, texts)
    seqs.meta["level"] = level
    return seqs
