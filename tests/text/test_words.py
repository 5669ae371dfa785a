"""Word level: the tokenizer and its options, the joiner (detokenizer), the auto choices
(newlines, the vocabulary rule, unsegmented Chinese), prepared words and prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import data_table
from rnnkit.config import DataConfig, RunConfig, load_preset, resolve
from rnnkit.decode.prefix import StepJoiner, encode_prefix, join_steps, text_pieces
from rnnkit.errors import DataError
from rnnkit.text import prepared
from rnnkit.text.corpora import load_corpus
from rnnkit.text.prepared import corpus_for, load_prepared, prepare
from rnnkit.text.tokenize import (
    DEFAULT_WORD_REGEX,
    WHITESPACE_REGEX,
    WordTokenizer,
    detokenize,
    is_hard_wrapped,
    resolve_word_tokenizer,
    tokenize,
)
from rnnkit.text.vocab import Vocab, word_vocab_size

VERSE = (
    "First Citizen:\n"
    "Before we proceed any further, hear me speak.\n"
    "\n"
    "All:\n"
    "Speak, speak! 'Tis (truly) 3.14 well-known and/or \"quoted words,\" he said--o' "
    "the king's men... don't?\n"
)


def test_the_default_pattern_separates_punctuation_and_keeps_line_breaks() -> None:
    tokens = WordTokenizer().tokenize(VERSE)
    assert tokens[:5] == ["First", "Citizen", ":", "\n", "Before"]
    assert "further" in tokens and "him," not in tokens
    assert [t for t in tokens if "'" in t and len(t) > 1] == ["king's", "don't"]
    assert tokens.count("\n") == VERSE.count("\n")
    assert WordTokenizer(newlines="drop").tokenize("a\nb\n\nc") == ["a", "b", "c"]
    assert WordTokenizer(newlines="paragraphs").tokenize("a\nb\n \n\nc.\n") == [
        "a", "b", "\n\n", "c", "."
    ]  # fmt: skip
    assert WordTokenizer(lowercase=True).tokenize("The KING.") == ["the", "king", "."]


def test_the_whitespace_pattern_is_the_old_behaviour() -> None:
    text = "  Him, the\tTower.\nII:  x "
    legacy = WordTokenizer(WHITESPACE_REGEX, "drop")
    assert legacy.tokenize(text) == tokenize(text, "word") == text.split()
    assert WordTokenizer(WHITESPACE_REGEX, "keep").tokenize("a b,\nc") == ["a", "b,", "\n", "c"]
    assert WordTokenizer(r"[a-z]+", "drop").tokenize("ab, cd!") == ["ab", "cd"]


def test_detokenize_gives_normally_spaced_text_back() -> None:
    tokens = WordTokenizer().tokenize(VERSE)
    assert detokenize(tokens, "word") == VERSE
    assert detokenize(["the", "time"], "word") == "the time"
    prose = "'Scientific people,' he said, 'know that.' \"Yes (it is) $5, 12:30 - 40%.\""
    assert detokenize(WordTokenizer().tokenize(prose), "word") == prose.replace(" - ", "-")
    # Legacy whitespace tokens keep their single spaces.
    assert detokenize(["Him,", "the", "Tower."], "word") == "Him, the Tower."


def test_joining_after_a_prefix_and_step_by_step() -> None:
    steps = [[",", "("], ["you", "a"], ["\n", ")"], ["go", "."]]
    assert join_steps("Hello", steps, "word", 2) == ["Hello, you\ngo", "Hello (a)."]
    assert join_steps("Hello ", [["there"]], "word", 1) == ["Hello there"]
    assert join_steps("", [["A"], ["b"]], "char", 1) == ["Ab"]
    joiner = StepJoiner('He said "', WordTokenizer(), 1)  # an open quote in the prefix
    assert [joiner.pieces([t])[0] for t in ["yes", '"', "."]] == ["yes", '"', "."]
    assert text_pieces("the", 0, ["time"], "word") == [" time"]
    assert text_pieces("the", 1, ["."], "word") == ["."]


def test_the_prompt_is_split_like_the_corpus() -> None:
    vocab = Vocab.build(["<unk>", "Hello", ",", "world", "!", "hello"])
    words = WordTokenizer()
    assert encode_prefix(vocab, "Hello, world!", words) == [
        vocab[t] for t in ["Hello", ",", "world", "!"]
    ]
    assert encode_prefix(vocab, "HELLO", WordTokenizer(lowercase=True)) == [vocab["hello"]]
    with pytest.warns(UserWarning, match="'Hello,'"):
        encode_prefix(vocab, "Hello, world!", "word")  # whitespace: "Hello," is unknown


def test_auto_newlines_and_the_recorded_pattern() -> None:
    wrapped = ("word " * 13 + "end\n") * 30 + "\n" + ("more " * 13 + "text\n") * 30
    assert is_hard_wrapped(wrapped)
    assert not is_hard_wrapped(VERSE * 20)
    tok = resolve_word_tokenizer(WordTokenizer(newlines="auto"), wrapped, "prose")
    assert (tok.newlines, tok.word_regex) == ("paragraphs", DEFAULT_WORD_REGEX)
    tok = resolve_word_tokenizer(WordTokenizer(newlines="auto"), VERSE * 20, "verse")
    assert tok.newlines == "keep"


def test_chinese_at_word_level_asks_for_a_segmenter(tmp_path: Path) -> None:
    lyrics = "想要有直升机 想要和你飞到宇宙去\n想要和你融化在一起 融化在宇宙里\n" * 20
    path = tmp_path / "zh.txt"
    path.write_text(lyrics, encoding="utf-8")
    with pytest.raises(DataError, match="segment"):
        load_corpus(data_table(path, level="word", word_regex="", newlines="auto"))
    segmented = "想要 有 直升机 想要 和 你 飞 到 宇宙 去\n" * 40
    path.write_text(segmented, encoding="utf-8")
    corpus = load_corpus(
        data_table(path, level="word", word_regex=WHITESPACE_REGEX, newlines="auto")
    )
    assert corpus.vocab["宇宙"] > 0
    assert load_corpus(data_table(path, level="char")).num_tokens == len(segmented)


def test_the_vocabulary_rule() -> None:
    counts = {f"w{i}": (3 if i < 6000 else 1) for i in range(9000)}
    assert word_vocab_size(counts) == 6001  # the repeated tokens and <unk>
    small = {f"w{i}": (2 if i < 10 else 1) for i in range(3000)}
    assert word_vocab_size(small) == 3001  # a short text keeps its words
    assert word_vocab_size({f"w{i}": (2 if i < 10 else 1) for i in range(8000)}) == 5001
    huge = {f"w{i}": 5 for i in range(60_000)}
    assert word_vocab_size(huge) == 50_001


def test_corpus_records_the_rule_and_the_unk_share(tmp_path: Path) -> None:
    words = [f"w{i % 6000}" for i in range(90_000)] + [f"rare{i}" for i in range(1800)]
    rng = np.random.default_rng(0)
    rng.shuffle(words)
    path = tmp_path / "words.txt"
    path.write_text(" ".join(words) + "\n", encoding="utf-8")
    data = DataConfig(source=str(path), level="word")
    corpus = corpus_for(data)
    assert len(corpus.vocab) == data.max_size == 6001  # the rule's cap, recorded
    assert (data.newlines, data.word_regex) == ("keep", DEFAULT_WORD_REGEX)
    assert 0 < corpus.unk_share["val"] < 0.2 and 0 < corpus.unk_share["test"] < 0.2
    data = DataConfig(source=str(path), level="word", vocab="all")
    assert len(corpus_for(data).vocab) > 6100 and data.max_size == 0


def test_prepared_words_equal_load_corpus_whatever_the_chunk_size(tmp_path: Path) -> None:
    text = VERSE * 3 + "a long line without breaks, " * 6 + "\n\n\nend.\nlast"
    source = tmp_path / "t.txt"
    source.write_text(text, encoding="utf-8")
    for newlines in ("keep", "paragraphs"):
        tok = WordTokenizer(newlines=newlines, lowercase=True)
        reference = load_corpus(data_table(source, level="word", **tok.to_dict()))
        for chunk in (16, 37, prepared.CHUNK_BYTES):
            out = tmp_path / f"{newlines}-{chunk}"
            prepare(
                data_table(source, level="word", **tok.to_dict()),
                out,
                chunk_bytes=chunk,
                quiet=True,
            )
            data = DataConfig(source=str(out))
            got = corpus_for(data)
            assert got.vocab == reference.vocab, (newlines, chunk)
            for part in ("train", "val", "test"):
                assert np.array_equal(getattr(got, part), getattr(reference, part))
            assert (data.newlines, data.lowercase) == (newlines, True)
    assert resolve(str(out)).preset == "words"  # a word folder starts from the word defaults


def test_an_old_prepared_folder_splits_at_whitespace(tmp_path: Path) -> None:
    source = tmp_path / "t.txt"
    source.write_text(VERSE, encoding="utf-8")
    old = data_table(source, level="word")  # the old default: words split at whitespace
    prepare(old, tmp_path / "old", quiet=True)
    manifest = tmp_path / "old" / "manifest.json"
    raw = manifest.read_text(encoding="utf-8")
    for key in ('"word_regex"', '"newlines"', '"lowercase"'):
        raw = "\n".join(line for line in raw.splitlines() if key not in line)
    manifest.write_text(raw, encoding="utf-8")  # as written before the word tokenizer
    data = DataConfig()
    corpus = load_prepared(tmp_path / "old", data=data)
    assert (data.word_regex, data.newlines) == (WHITESPACE_REGEX, "drop")
    assert "Citizen:" in corpus.vocab


def test_word_level_starts_from_the_word_defaults() -> None:
    cfg = resolve("some.txt", overrides=["data.level=word"])
    assert cfg.preset == "words" and cfg.model.tie_weights and cfg.model.num_layers == 2
    assert resolve("some.txt").preset == "default"
    assert resolve("some.txt", preset="default", overrides=["data.level=word"]).preset == "default"


def test_a_config_saved_before_the_word_tokenizer_keeps_whitespace_words() -> None:
    old = RunConfig().to_dict()
    for key in ("newlines", "lowercase", "vocab", "word_regex"):
        del old["data"][key]
    for key in ("output", "cutoffs"):
        del old["model"][key]
    cfg = RunConfig.from_dict(old)
    assert (cfg.data.word_regex, cfg.data.newlines, cfg.data.vocab) == (
        WHITESPACE_REGEX, "drop", "all"
    )  # fmt: skip
    assert cfg.model.output == "softmax"
    fresh = RunConfig()
    assert RunConfig.from_dict(fresh.to_dict()) == fresh


def test_the_shakespeare_preset_is_the_word_defaults_on_tiny_shakespeare() -> None:
    preset = load_preset("shakespeare-words").to_dict()
    defaults = resolve("tinyshakespeare", overrides=["data.level=word"]).to_dict()
    preset["generate"]["prefixes"] = defaults["generate"]["prefixes"]
    assert {**preset, "preset": ""} == {**defaults, "preset": ""}
