"""Tests for rnnkit.text.tokenize: normalize modes, char/word tokenizers, vectorised counts."""

from __future__ import annotations

import io
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError
from rnnkit.text.tokenize import (
    _normalize_d2l,
    count_chars,
    count_tokens,
    detokenize,
    iter_char_codes,
    normalize_text,
    tokenize,
)


def d2l_reference(text: str) -> str:
    """d2l 0.17 `read_time_machine` + char tokens, written as the book does (per line)."""
    # open(...).readlines() in text mode: universal newlines turn \r\n and \r into \n.
    lines = io.StringIO(text, newline=None).readlines()
    lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines]
    return "".join(lines)


def test_d2l_example() -> None:
    text = "The Time Machine, by H. G. Wells [1898]\n\n\n\n\nI\r\n  The Time Traveller (for so"
    assert normalize_text(text, "d2l") == (
        "the time machine by h g wells" + "i" + "the time traveller for so"
    )


D2L_ALPHABET = st.sampled_from("aZq \t\r\n.,9é-_ü中@[`{")


@given(st.text(alphabet=D2L_ALPHABET, max_size=80))
def test_d2l_matches_per_line_reference(text: str) -> None:
    assert normalize_text(text, "d2l") == d2l_reference(text)


@given(st.text(alphabet=D2L_ALPHABET, max_size=40), st.integers(1, 6))
def test_d2l_chunk_boundaries(text: str, chunk: int) -> None:
    assert _normalize_d2l(text, chunk=chunk) == d2l_reference(text)


def test_newlines_mode() -> None:
    assert normalize_text("a\r\nb\nc\rd", "newlines") == "a  b c d"


def test_none_and_nfc() -> None:
    decomposed = "e\u0301"
    assert normalize_text(decomposed) == decomposed
    assert normalize_text(decomposed, nfc=True) == "\u00e9"
    assert normalize_text(decomposed, "newlines", nfc=True) == unicodedata.normalize(
        "NFC", decomposed
    )


def test_unknown_mode() -> None:
    with pytest.raises(RnnkitError, match="normalize mode 'lower'"):
        normalize_text("x", "lower")  # type: ignore[arg-type]


def test_char_tokens_are_code_points() -> None:
    assert tokenize("周杰伦 ok") == ["周", "杰", "伦", " ", "o", "k"]
    assert tokenize("😀a") == ["😀", "a"]
    assert detokenize(["周", "杰"], "char") == "周杰"


def test_word_tokens() -> None:
    assert tokenize("  the  time\nmachine ", "word") == ["the", "time", "machine"]
    assert tokenize("Hello, world!", "word", r"\w+|[^\w\s]") == ["Hello", ",", "world", "!"]
    assert detokenize(["the", "time"], "word") == "the time"


def test_bad_word_regex() -> None:
    with pytest.raises(RnnkitError, match="capture groups"):
        tokenize("a b", "word", r"(\w)+")
    with pytest.raises(RnnkitError, match="invalid word_regex"):
        tokenize("a b", "word", r"[")
    with pytest.raises(RnnkitError, match="only applies to level='word'"):
        tokenize("a b", "char", r"\w+")
    with pytest.raises(RnnkitError, match="unknown token level"):
        tokenize("a b", "byte")  # type: ignore[arg-type]


@given(st.text(max_size=60), st.integers(1, 7))
def test_count_chars_matches_counter_with_first_seen_order(text: str, chunk: int) -> None:
    expected = count_tokens(list(text))
    got = count_chars(text, chunk=chunk)
    assert got == expected
    assert list(got) == list(expected)  # the order of first occurrence


def test_count_chars_range_and_codes() -> None:
    text = "abcab中a"
    assert count_chars(text, 1, 5) == {"b": 2, "c": 1, "a": 1}
    codes = np.concatenate([c.astype(np.uint32) for c in iter_char_codes(text, chunk=3)])
    assert codes.tolist() == [ord(ch) for ch in text]
    assert count_chars("") == {}


def test_count_chars_finds_late_first_occurrences() -> None:
    text = "ab" * 5_000 + "z" + "ab" * 50_000 + "周" + "a" * 10 + "y"
    got = count_chars(text)
    assert list(got) == ["a", "b", "z", "周", "y"]
    assert got == {"a": 55_010, "b": 55_000, "z": 1, "周": 1, "y": 1}
