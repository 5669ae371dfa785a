"""Tests for rnnkit.text.vocab.Vocab: ordering, specials, encode/decode, serialisation."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError
from rnnkit.text.vocab import Vocab


def test_frequency_order_ties_first_seen() -> None:
    v = Vocab.build("abracadabra xyz")
    # a:5 b:2 r:2 c:1 d:1 ' ':1 x:1 y:1 z:1, ties in order of first occurrence
    assert v.idx_to_token == ["<unk>", "a", "b", "r", "c", "d", " ", "x", "y", "z"]
    assert v.counts == [0, 5, 2, 2, 1, 1, 1, 1, 1, 1]
    assert v.unk == 0 and v["a"] == 1 and v["?"] == 0
    assert v.token_to_idx["z"] == len(v) - 1


def test_from_ordered_counts_reserved_min_freq_max_size() -> None:
    counts = {"b": 3, "a": 3, "c": 1, "<pad>": 7}
    v = Vocab.build(counts, min_freq=2, reserved=["<pad>", "<bos>"])
    assert v.idx_to_token == ["<unk>", "<pad>", "<bos>", "b", "a"]
    assert v.counts == [0, 0, 0, 3, 3]
    assert v.reserved == ["<pad>", "<bos>"]
    assert Vocab.build(counts, max_size=3).idx_to_token == ["<unk>", "<pad>", "b"]
    with pytest.raises(RnnkitError, match="max_size=1"):
        Vocab.build(counts, max_size=1, reserved=["<pad>"])
    with pytest.raises(RnnkitError, match="min_freq"):
        Vocab.build(counts, min_freq=0)
    with pytest.raises(RnnkitError, match="distinct"):
        Vocab.build(counts, reserved=["<unk>"])


def test_encode_decode_and_unknowns() -> None:
    v = Vocab.build(["the", "cat", "the"])
    ids = v.encode(["the", "dog", "cat", "dog"])
    assert ids.dtype == np.int64 and ids.tolist() == [1, 0, 2, 0]
    assert v.decode(ids) == ["the", "<unk>", "cat", "<unk>"]
    assert v.decode(torch.tensor([[1, 2]])) == ["the", "cat"]
    assert v.encode([]).shape == (0,)
    with pytest.raises(RnnkitError, match="token id 9 is out of range"):
        v.decode([1, 9])


def test_char_fast_path_matches_list_path() -> None:
    v = Vocab.build("周杰伦的歌 abc")
    text = "周x杰伦的歌é abc周"
    fast, slow = v.encode(text), v.encode(list(text))
    assert fast.tolist() == slow.tolist()
    assert fast[1] == fast[6] == 0  # "x" and "é" are not in the vocabulary
    assert v.encode(text, dtype=np.int16).dtype == np.int16


def test_dict_json_and_weights_only_round_trip() -> None:
    v = Vocab.build("héllo wörld 周", reserved=["<pad>"])
    assert Vocab.from_json(v.to_json()) == v
    buf = io.BytesIO()
    torch.save({"vocab": v.to_dict()}, buf)
    buf.seek(0)
    assert Vocab.from_dict(torch.load(buf, weights_only=True)["vocab"]) == v
    with pytest.raises(RnnkitError, match="not a saved rnnkit vocabulary"):
        Vocab.from_dict({"idx_to_token": ["<unk>"]})
    with pytest.raises(RnnkitError, match="format_version 99"):
        Vocab.from_dict({**v.to_dict(), "format_version": 99})
    with pytest.raises(RnnkitError, match="not valid JSON"):
        Vocab.from_json("{")


@given(st.text(max_size=200))
def test_round_trip_arbitrary_unicode(text: str) -> None:
    v = Vocab.build(text)
    assert "".join(v.decode(v.encode(text))) == text
    assert v.encode(text).tolist() == v.encode(list(text)).tolist()
    assert Vocab.from_json(v.to_json()) == v


@given(st.lists(st.text(min_size=1, max_size=5), max_size=40))
def test_round_trip_word_tokens(tokens: list[str]) -> None:
    v = Vocab.build(tokens, reserved=["<eos>"])
    assert v.decode(v.encode(tokens)) == tokens


def test_deterministic_across_processes() -> None:
    code = (
        "from rnnkit.text.vocab import Vocab;"
        "print(Vocab.build('the quick brown fox jumps over the lazy dog 周杰伦').to_json())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PYTHONIOENCODING": "utf-8"},
            capture_output=True,
            check=True,
            text=True,
            encoding="utf-8",
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
