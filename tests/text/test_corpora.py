"""Tests for rnnkit.text.corpora and sources: d2l parity facts, local files, downloads.

Reference files come from `$RNNKIT_DATA` (the Makefile points it at ../shared/data); those
tests skip when it is absent. Downloads are never real: `urlopen` is monkeypatched.
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import data_table
from rnnkit.errors import RnnkitError
from rnnkit.text import sources
from rnnkit.text.corpora import compact_dtype, describe_datasets, load_corpus, read_text

REFERENCE = Path(os.environ.get("RNNKIT_DATA", "/nonexistent")).expanduser()


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The reference-data folder (skip when absent), with an empty cache and no network."""
    if not (REFERENCE / "timemachine.txt").is_file():
        pytest.skip("reference data absent: set RNNKIT_DATA to the folder with timemachine.txt")
    monkeypatch.setenv("RNNKIT_DATA", str(REFERENCE))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    return REFERENCE


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RNNKIT_DATA, an empty cache folder (returned), downloads allowed (to a fake)."""
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.delenv("RNNKIT_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "rnnkit"


class FakeResponse(io.BytesIO):
    """What `urlopen` returns: a readable context manager."""


def serve(monkeypatch: pytest.MonkeyPatch, payload: bytes) -> list[str]:
    """Make `urlopen` serve `payload`; returns the list of URLs requested."""
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float = 0) -> FakeResponse:
        requested.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return requested


# --- d2l parity ---------------------------------------------------------------------------


def test_time_machine_d2l(reference: Path) -> None:
    c = load_corpus(data_table("timemachine", normalize="d2l", split=[1.0, 0.0, 0.0]))
    assert c.num_tokens == 170_580 and c.train.size == 170_580
    assert len(c.vocab) == 28
    assert c.vocab.idx_to_token[:12] == ["<unk>", " ", *"etainoshrd"]
    assert c.sha1 == "090b5e7e70c295757f55df93cb0a180b9691891a"
    assert c.train.dtype == np.uint8
    first = load_corpus(data_table("timemachine", normalize="d2l", max_tokens=10_000))
    assert first.train.size == 10_000 and len(first.vocab) == 28  # all 27 characters
    assert first.val.size == first.test.size == (170_580 - 10_000) // 2
    assert first.unk_share == {"val": 0.0, "test": 0.0}


def test_jaychou_newlines(reference: Path) -> None:
    c = load_corpus(data_table("jaychou", normalize="newlines", max_tokens=10_000))
    assert len(c.vocab) == 1_028
    assert c.num_tokens == 63_282
    assert c.sha1 == "9529987e701a4f37048ab778270a5dde9a762a0b"
    assert c.train.dtype == np.int16
    assert 0.0 < c.unk_share["val"] < 0.5 and 0.0 < c.unk_share["test"] < 0.5
    whole = load_corpus(data_table("jaychou", normalize="newlines", split=[1.0, 0.0, 0.0]))
    assert whole.train.size == 63_282 and len(whole.vocab) == 2_582 + 1  # with <unk>


def test_python_docs_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    text, sha1 = read_text("python-docs")
    assert len(text) > 100_000 and "\n\n" in text
    assert sha1 == hashlib.sha1(text.encode("utf-8")).hexdigest()
    c = load_corpus(data_table("python-docs"))
    assert c.name == "python-docs" and c.sha1 == sha1
    assert c.train.size + c.val.size + c.test.size == c.num_tokens == len(text)


# --- splits and levels ---------------------------------------------------------------------


def test_split_is_contiguous_and_vocab_from_train(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("a" * 80 + "b" * 10 + "c" * 10, encoding="utf-8")
    c = load_corpus(data_table(path, split=[0.8, 0.1, 0.1]))
    assert (c.train.size, c.val.size, c.test.size) == (80, 10, 10)
    assert c.vocab.idx_to_token == ["<unk>", "a"]
    assert c.unk_share == {"val": 1.0, "test": 1.0}
    assert c.name == str(path) and c.level == "char" and c.normalize == "none"
    with pytest.raises(RnnkitError, match="split must be three"):
        load_corpus(data_table(path, split=[0.5, 0.1, 0.1]))
    with pytest.raises(RnnkitError, match="training part is empty"):
        load_corpus(data_table(path, split=[0.0, 0.5, 0.5]))


def test_max_tokens_halves_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("abcdefghij" * 3, encoding="utf-8")
    c = load_corpus(data_table(path, max_tokens=5))
    assert (c.train.size, c.val.size, c.test.size) == (5, 12, 13)
    assert c.vocab.idx_to_token == ["<unk>", *"abcde"]
    assert c.vocab.decode(c.val[:6]) == ["<unk>"] * 5 + ["a"]  # f..j are not in train
    c = load_corpus(data_table(path, max_tokens=100))  # more than there is: all of it trains
    assert (c.train.size, c.val.size, c.test.size) == (30, 0, 0)


def test_word_level_and_min_freq(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_text("the cat sat on the mat . the end the cat", encoding="utf-8")
    c = load_corpus(data_table(path, level="word", split=[1.0, 0.0, 0.0], min_freq=2))
    assert c.vocab.idx_to_token == ["<unk>", "the", "cat"]
    assert c.num_tokens == 11
    c = load_corpus(data_table(path, level="word", word_regex=r"[a-z]+", split=[1.0, 0.0, 0.0]))
    assert c.num_tokens == 10


def test_compact_dtype() -> None:
    assert compact_dtype(256) is np.uint8
    assert compact_dtype(257) is np.int16
    assert compact_dtype(40_000) is np.int32


# --- local files -----------------------------------------------------------------------------


def test_folder_of_txt_files_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("third", encoding="utf-8")
    (tmp_path / "skip.md").write_text("not read", encoding="utf-8")
    text, sha1 = read_text(tmp_path)
    assert text == "first\nsecond\nthird\n"
    assert sha1 == hashlib.sha1(b"first\nsecondthird").hexdigest()
    (tmp_path / "empty").mkdir()
    with pytest.raises(RnnkitError, match=r"no \.txt files"):
        read_text(tmp_path / "empty")


def test_invalid_utf8_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes("héllo".encode() + b"\xff\xfe world")
    with pytest.raises(RnnkitError, match=r"bad\.txt is not valid UTF-8 at byte offset 6"):
        read_text(path)
    text, _ = read_text(path, encoding_errors="replace")
    assert text == "héllo\ufffd\ufffd world"
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(RnnkitError, match="byte offset 5"):
        read_text(bom)
    assert read_text(bom, encoding_errors="ignore")[0] == "ab"


def test_binary_empty_and_missing(tmp_path: Path) -> None:
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(RnnkitError, match="looks binary"):
        read_text(binary)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(RnnkitError, match=r"empty\.txt is empty"):
        load_corpus(data_table(empty))
    only_digits = tmp_path / "digits.txt"
    only_digits.write_text("123 456\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="no char tokens after normalize='d2l'"):
        load_corpus(data_table(only_digits, normalize="d2l"))
    with pytest.raises(RnnkitError, match=r"unknown source .*not a named corpus"):
        load_corpus(data_table(tmp_path / "nope.txt"))
    with pytest.raises(RnnkitError, match="encoding_errors"):
        read_text(only_digits, encoding_errors="surrogateescape")  # type: ignore[arg-type]


# --- named sources: lookup, cache, download ---------------------------------------------------


def test_download_verifies_caches_and_is_used_once(
    no_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = b"The Time Machine\n"
    monkeypatch.setitem(
        sources.REMOTE,
        "timemachine",
        sources.RemoteFile(
            "timemachine",
            "d",
            "timemachine.txt",
            "http://x/t.txt",
            hashlib.sha1(payload).hexdigest(),
        ),
    )
    requested = serve(monkeypatch, payload)
    assert read_text("timemachine")[0] == "The Time Machine\n"
    assert (no_data / "timemachine.txt").read_bytes() == payload
    assert list(no_data.iterdir()) == [no_data / "timemachine.txt"]  # no temporary left
    assert read_text("timemachine")[0] == "The Time Machine\n"
    assert requested == ["http://x/t.txt"]  # the second read used the cache
    assert "cached: " in dict((n, w) for n, _, w in describe_datasets())["timemachine"]


def test_download_checksum_mismatch_is_rejected(
    no_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, b"tampered")
    with pytest.raises(RnnkitError, match=r"has sha1 .* expected 090b5e7e.*discarded"):
        read_text("timemachine")
    assert not (no_data / "timemachine.txt").exists()
    assert not no_data.exists() or not list(no_data.iterdir())


def test_corrupt_cache_is_replaced(no_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = "周杰伦\n".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("jaychou_lyrics.txt", payload)
    archive_bytes = buf.getvalue()
    monkeypatch.setitem(
        sources.REMOTE,
        "jaychou",
        sources.RemoteFile(
            "jaychou",
            "d",
            "jaychou_lyrics.txt.zip",
            "http://x/j.zip",
            hashlib.sha1(archive_bytes).hexdigest(),
            member="jaychou_lyrics.txt",
        ),
    )
    no_data.mkdir(parents=True)
    (no_data / "jaychou_lyrics.txt.zip").write_bytes(b"corrupt")
    serve(monkeypatch, archive_bytes)
    text, sha1 = read_text("jaychou")
    assert text == "周杰伦\n" and sha1 == hashlib.sha1(archive_bytes).hexdigest()
    assert (no_data / "jaychou_lyrics.txt.zip").read_bytes() == archive_bytes


def test_offline_error_is_one_line_and_names_everything(
    no_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(url: str, timeout: float = 0) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(RnnkitError) as info:
        read_text("timemachine")
    message = str(info.value)
    assert "\n" not in message
    for part in (
        "timemachine.txt",
        "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
        "090b5e7e70c295757f55df93cb0a180b9691891a",
        "RNNKIT_DATA",
    ):
        assert part in message
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(RnnkitError, match="RNNKIT_OFFLINE forbids downloading"):
        read_text("jaychou")


def test_mismatching_rnnkit_data_copy_is_rejected(
    no_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "timemachine.txt").write_text("not the book", encoding="utf-8")
    monkeypatch.setenv("RNNKIT_DATA", str(folder))
    with pytest.raises(RnnkitError, match=r"timemachine\.txt has sha1 .* expected 090b5e7e"):
        read_text("timemachine")


def test_describe_datasets(reference: Path) -> None:
    rows = {name: (desc, where) for name, desc, where in describe_datasets()}
    assert list(rows) == ["python-docs", "timemachine", "jaychou", "tinyshakespeare"]
    assert "offline" in rows["python-docs"][1]
    assert str(reference) in rows["timemachine"][1]
