"""Readers, splits and the input encoder of `rnnkit.classify`, and their one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import write_ts
from rnnkit.classify.data import load_split, stratified_split
from rnnkit.classify.encoding import InputEncoder
from rnnkit.classify.tables import read_table
from rnnkit.classify.tsfile import read_ts
from rnnkit.errors import DataError


def test_ts_pair_reads_train_and_paired_test(ts_pair: Path) -> None:
    split = load_split(str(ts_pair))
    assert (len(split.train), len(split.test)) == (24, 12)
    assert split.how == "paired Tiny_TEST.ts"
    assert split.train.label_names == ["up", "down"]  # the declared order
    assert split.train.x[0].shape == (12, 1)
    assert np.isnan(split.train.x[1]).sum() == 1  # the `?`


def test_a_folder_with_one_train_file_reads_like_the_file(ts_pair: Path) -> None:
    assert len(load_split(str(ts_pair.parent)).test) == 12


def test_multivariate_unequal_ts(tmp_path: Path) -> None:
    seqs = read_ts(write_ts(tmp_path / "M.ts", 10, dims=3, equal=False))
    assert seqs.channels == 3
    assert len({len(x) for x in seqs.x}) > 1


def test_a_ts_without_pair_is_split_80_20_stratified(tmp_path: Path) -> None:
    split = load_split(str(write_ts(tmp_path / "Solo.ts", 30)), seed=3)
    assert (len(split.train), len(split.test)) == (24, 6)
    assert split.how == "stratified 80/20, seed 3"
    assert sorted(np.bincount(split.test.y).tolist()) == [3, 3]


def test_csv_text_and_headerless_numeric(text_csv: Path, numeric_csv: Path) -> None:
    text = read_table(text_csv)
    assert text.kind == "text" and text.texts is not None and len(text) == 40
    numeric = read_table(numeric_csv)
    assert numeric.kind == "numeric" and numeric.label_names == ["1", "2"]
    assert numeric.x[0].shape == (10, 1)


def test_tsv_with_named_label_and_id(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\tx1\tx2\tClass\nr1\t1\t2\tA\nr2\t3\t\tB\n", encoding="utf-8")
    seqs = read_table(path)
    assert seqs.ids == ["r1", "r2"] and seqs.label_names == ["A", "B"]
    assert seqs.x[1].shape == (1, 1)  # a trailing missing cell shortens the series


def test_stratified_split_partitions_and_keeps_classes() -> None:
    y = np.array([0] * 10 + [1] * 5 + [2] * 2)
    kept, held = stratified_split(y, 0.2, seed=0)
    assert sorted([*kept, *held]) == list(range(len(y)))
    assert np.bincount(y[held]).tolist() == [2, 1, 1]
    assert (held == stratified_split(y, 0.2, seed=0)[1]).all()


def test_encoder_uses_training_statistics_and_round_trips(ts_pair: Path) -> None:
    split = load_split(str(ts_pair))
    enc = InputEncoder.fit(split.train)
    z = np.concatenate(enc.transform(split.train))
    assert abs(float(z.mean())) < 0.05 and not np.isnan(z).any()
    again = InputEncoder.from_dict(enc.to_dict())
    assert all(
        (a == b).all()
        for a, b in zip(enc.transform(split.test), again.transform(split.test), strict=True)
    )


def test_text_encoder_reads_characters_with_the_lm_vocabulary(text_csv: Path) -> None:
    seqs = read_table(text_csv)
    enc = InputEncoder.fit(seqs)
    assert enc.vocab is not None and enc.vocab.idx_to_token[0] == "<unk>"
    assert set(enc.vocab.idx_to_token[1:]) == set("abyz")
    assert enc.transform(seqs)[0].dtype == np.int64


def test_digits_is_8_steps_of_8_values_split_50_50() -> None:
    pytest.importorskip("sklearn")
    split = load_split("digits")
    assert split.train.x[0].shape == (8, 8)
    assert abs(len(split.train) - len(split.test)) <= 10


def test_first_names_is_found_through_rnnkit_data() -> None:
    folder = os.environ.get("RNNKIT_DATA", "")
    if not folder or not (Path(folder) / "first-names-gender.csv").is_file():
        pytest.skip("first-names-gender.csv not in RNNKIT_DATA")
    split = load_split("first-names")
    assert split.train.kind == "text" and split.train.label_names == ["female", "male"]


def _one_line(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message and ";" in message  # the problem; the fix
    return message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@classLabel true a b\n@data\n1,2,3:c\n", "not among @classLabel"),
        ("@targetLabel true\n@data\n1,2:0.5\n", "regression"),
        ("@timeStamps true\n@data\n(0,1):a\n", "time-stamped"),
        ("@classLabel true a b\n@data\n1,x,3:a\n", "not a number"),
        ("@classLabel true a b\n@data\n1,2:a\n1,2:3,4:b\n", "dimensions"),
        ("@classLabel true a b\n", "no series"),
    ],
)
def test_bad_ts_files_fail_in_one_line(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "bad.ts"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_ts(path)
    assert expected in _one_line(exc)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("name,text\nx,hello\ny,world\n", "no label column"),
        ("label,word,other\na,hi,there\nb,yo,you\n", "mix text and numbers"),
        ("label,x\na,1\nb,2,3\n", "cells"),
        ("label,x\n,1\nb,2\n", "label is empty"),
    ],
)
def test_bad_tables_fail_in_one_line(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_table(path)
    assert expected in _one_line(exc)


def test_a_train_file_without_its_test_file_fails(tmp_path: Path) -> None:
    path = write_ts(tmp_path / "Lone_TRAIN.ts", 10)
    with pytest.raises(DataError) as exc:
        load_split(str(path))
    assert "Lone_TEST.ts" in _one_line(exc)


def test_unknown_source_and_one_class_fail(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_split("no-such-data")
    assert "not an existing file" in _one_line(exc)
    path = tmp_path / "one.csv"
    path.write_text("label,x\na,1\na,2\na,3\na,4\na,5\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_split(str(path))
    assert "one class" in _one_line(exc)


def test_a_test_label_the_training_part_lacks_fails(tmp_path: Path, ts_pair: Path) -> None:
    other = tmp_path / "other.ts"
    other.write_text("@classLabel true up sideways\n@data\n1,2,3:sideways\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_split(str(ts_pair), test=str(other))
    assert "sideways" in _one_line(exc)
