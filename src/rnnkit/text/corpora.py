"""Corpora: text from a source, normalised, tokenised, split and encoded with a vocabulary.

`load_corpus` reads a source (see `rnnkit.text.sources`), normalises and tokenises it,
builds the vocabulary on the training part and encodes every part into a compact numpy
array. Splits: with `max_tokens=N > 0` the first N tokens are the training part and the
tokens after them are halved into validation and test (the d2l book trains on exactly those
N); otherwise `split` cuts the whole text contiguously, train then validation then test.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnkit.config.tables import DataConfig
from rnnkit.errors import DataError
from rnnkit.text.sources import describe_datasets, read_text, source_names
from rnnkit.text.tokenize import (
    WordTokenizer,
    count_chars,
    count_tokens,
    join_words,
    normalize_text,
    resolve_word_tokenizer,
    sample_of,
)
from rnnkit.text.vocab import Vocab, word_vocab_size

__all__ = [
    "Corpus",
    "compact_dtype",
    "corpus_prefixes",
    "describe_datasets",
    "load_corpus",
    "read_text",
    "require_tokens",
    "source_names",
    "split_bounds",
]


@dataclass
class Corpus:
    """A tokenised corpus: its vocabulary and the train / validation / test id arrays.

    Attributes:
        vocab: built on the training part.
        train, val, test: token ids, `(N,)` numpy arrays of the smallest fitting dtype
            (uint8 below 256 tokens, int16 below 32,768, else int32).
        name: the source name or path.
        sha1: SHA-1 of the raw source bytes (record it with a run).
        level, normalize: how the text was tokenised.
        num_tokens: tokens in the whole text (not only the three parts).
        unk_share: share of `<unk>` in `val` and `test` (0.0 for an empty part).
        tokenizer: the word tokenizer, its `auto` choices made (None: characters, or words
            split at whitespace by `word_regex=None`).
        max_size: the vocabulary cap the word-level rule chose (0: the rule did not apply).
    """

    vocab: Vocab
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    name: str
    sha1: str
    level: str
    normalize: str
    num_tokens: int
    unk_share: dict[str, float] = field(default_factory=dict)
    tokenizer: WordTokenizer | None = None
    max_size: int = 0


def vocab_cap(rule: str, level: str, min_freq: int, max_size: int, counts: dict[str, int]) -> int:
    """The `max_size` a vocabulary is built with: `auto` at word level, with neither
    `min_freq` nor `max_size` set, takes `word_vocab_size(counts)`; else `max_size`."""
    if rule not in ("auto", "all"):
        raise DataError(f"unknown vocab rule {rule!r}; use 'auto' or 'all'")
    if rule == "auto" and level == "word" and min_freq == 1 and max_size == 0:
        return word_vocab_size(counts)
    return max_size


def compact_dtype(vocab_size: int) -> type:
    """The smallest numpy integer type holding ids below `vocab_size`."""
    if vocab_size <= 1 << 8:
        return np.uint8
    if vocab_size <= 1 << 15:
        return np.int16
    return np.int32


def split_bounds(
    num_tokens: int, max_tokens: int, split: Sequence[float]
) -> tuple[int, int, int, int]:
    """Token positions `(0, train_end, val_end, test_end)` of the three parts."""
    if max_tokens < 0:
        raise DataError(f"max_tokens must be >= 0 (0 = off), got {max_tokens}")
    if max_tokens > 0:
        train_end = min(max_tokens, num_tokens)
        val_end = train_end + (num_tokens - train_end) // 2
        return 0, train_end, val_end, num_tokens
    if len(split) != 3 or any(p < 0 for p in split) or abs(sum(split) - 1.0) > 1e-6:
        raise DataError(
            f"split must be three non-negative fractions (train, val, test) summing to 1, "
            f"got {list(split)}; e.g. 0.9,0.05,0.05"
        )
    train_end = int(num_tokens * split[0])
    val_end = train_end + int(num_tokens * split[1])
    return 0, train_end, val_end, num_tokens


def require_tokens(
    name: str,
    level: str,
    normalize: str,
    num_tokens: int,
    train_tokens: int,
    split: Sequence[float],
) -> None:
    """Refuse a text with no tokens, or whose training part (`train_tokens`) is empty."""
    if num_tokens == 0:
        raise DataError(
            f"{name} has no {level} tokens after normalize={normalize!r}; "
            "check the file or pick another normalize mode"
        )
    if train_tokens == 0:
        raise DataError(
            f"{name}: the training part is empty ({num_tokens} tokens, split={list(split)}); "
            "raise the training fraction or max_tokens"
        )


def _unk_share(ids: np.ndarray) -> float:
    return float(np.count_nonzero(ids == 0) / ids.size) if ids.size else 0.0


def load_corpus(data: DataConfig) -> Corpus:
    """Read, normalise, tokenise, split and encode the corpus a `[data]` table describes.

    The keys read (`rnnkit.config.DataConfig`): `source` (a named source, a UTF-8 file, or a
    folder of `.txt` files, see `read_text`); `level` (`char`, Unicode code points, or
    `word`, the `WordTokenizer` of `word_regex`, `newlines` and `lowercase`, whose `auto`
    choices are made from the first lines of the text, `resolve_word_tokenizer`);
    `normalize` (see `normalize_text`) and `nfc`; `max_tokens` (N > 0 keeps the first N
    tokens as the training part and halves the rest into validation and test; 0 uses
    `split`, train / validation / test fractions cut contiguously in that order);
    `encoding_errors`; `min_freq`, `max_size` and `vocab` (`auto` lets `vocab_cap` choose
    `max_size` for words). The batching keys are not read.

    Returns:
        The `Corpus`; the vocabulary comes from the training part only.
    """
    source, level, normalize, nfc = data.source, data.level, data.normalize, data.nfc
    max_tokens, split, encoding_errors = data.max_tokens, tuple(data.split), data.encoding_errors
    min_freq, max_size, vocab_rule = data.min_freq, data.max_size, data.vocab
    tokenizer = WordTokenizer.from_data(data) if level == "word" else None
    text, sha1 = read_text(source, encoding_errors)
    name = os.fspath(source)
    text = normalize_text(text, normalize, nfc=nfc)
    if level not in ("char", "word"):
        raise DataError(f"unknown token level {level!r}; use 'char' or 'word'")

    tokens: str | list[str]
    if tokenizer is None:
        tokens = text  # the vectorised path: code points, never a list of 1-char strings
        num_tokens = len(text)
        bounds = split_bounds(num_tokens, max_tokens, split)
        counts = count_chars(text, 0, bounds[1])
    else:
        tokenizer = resolve_word_tokenizer(tokenizer, sample_of(text), name)
        tokens = tokenizer.tokenize(text)
        num_tokens = len(tokens)
        bounds = split_bounds(num_tokens, max_tokens, split)
        counts = count_tokens(tokens[: bounds[1]])
    require_tokens(name, level, normalize, num_tokens, bounds[1], split)
    cap = vocab_cap(vocab_rule, level, min_freq, max_size, counts)
    vocab = Vocab.build(counts, min_freq=min_freq, max_size=cap or None)
    ids = vocab.encode(tokens, dtype=compact_dtype(len(vocab)))  # (num_tokens,)
    del tokens, text
    # The three parts are views of one array: no copies.
    _, train_end, val_end, _ = bounds
    train, val, test = ids[:train_end], ids[train_end:val_end], ids[val_end:]
    return Corpus(
        vocab=vocab,
        train=train,
        val=val,
        test=test,
        name=name,
        sha1=sha1,
        level=level,
        normalize=normalize,
        num_tokens=num_tokens,
        unk_share={"val": _unk_share(val), "test": _unk_share(test)},
        tokenizer=tokenizer,
        max_size=cap if cap != max_size else 0,
    )


PREFIX_SCAN = 20_000  # validation tokens read for prefixes
PREFIX_WORDS = 2  # words of a word-level prefix


def corpus_prefixes(corpus: Corpus, count: int = 2) -> list[str]:
    """`count` sample prefixes taken from the corpus itself: the starts of validation lines
    spread over the first `PREFIX_SCAN` validation tokens (whole lines without `<unk>`).

    A character prefix runs to the first space after its third character (`"The "`,
    `"def "`), or is the line's first four characters where there is none (Chinese); a
    word prefix is a line's first `PREFIX_WORDS` words. Without line breaks, the text's
    own start is used. Empty only for an empty validation part.
    """
    itos = corpus.vocab.idx_to_token
    tokens = [itos[int(i)] for i in corpus.val[:PREFIX_SCAN]]
    lines: list[list[str]] = [[]]
    for token in tokens:
        if "\n" in token and not token.strip():  # a line break (or a blank line) token
            lines.append([])
        elif token.strip() or lines[-1]:  # a line starts at its first visible token
            lines[-1].append(token)
    lines = lines[1:] if len(lines) > 1 else lines  # the split cuts the first line anywhere
    unk = itos[corpus.vocab.unk]
    shortest = PREFIX_WORDS + 1 if corpus.level == "word" else 8
    usable = [line for line in lines if len(line) >= shortest and unk not in line]
    if not usable:
        usable = [tokens] if tokens else []
    picks = [usable[(k * len(usable)) // count] for k in range(count)] if usable else []
    out: list[str] = []
    for line in picks:
        prefix = _line_start(line, corpus.level)
        if prefix and prefix not in out:
            out.append(prefix)
    return out


def _line_start(line: Sequence[str], level: str) -> str:
    """The start of one line of tokens as a prefix (see `corpus_prefixes`)."""
    if level == "word":
        words = [t for t in line if t.strip()][:PREFIX_WORDS]
        return join_words(words) + " "
    text = "".join(line)
    space = text.find(" ", 3)
    return text[: space + 1] if 0 < space < 20 else text[:4]
