"""Text normalisation and tokenizers: characters (Unicode code points) or words.

`normalize_text` implements the `normalize` modes of the architecture note (`none`, `d2l`,
`newlines`) plus optional NFC. `tokenize` / `detokenize` turn text into tokens and back.
For corpora of hundreds of megabytes the character level has a vectorised path:
`iter_char_codes` yields the text as numpy arrays of code points, chunk by chunk, and
`count_chars` counts them without ever building a Python list of one-character strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np

from rnnkit.errors import RnnkitError

NormalizeMode = Literal["none", "d2l", "newlines"]
Level = Literal["char", "word"]

# Characters per chunk on the vectorised character path: 4 Mi chars is 16 MiB of uint32.
CHUNK_CHARS = 1 << 22

# d2l 0.17 `read_time_machine`: per line, every run of non-letters becomes one space.
_D2L_NON_LETTERS = re.compile(r"[^A-Za-z\r\n]+")
# A line break with the (at most one) space on either side: the strip of each line, and
# the lines joined with nothing.
_D2L_LINE_BREAKS = re.compile(r" ?[\r\n][\r\n ]*")
_NEWLINES_TO_SPACES = str.maketrans({"\n": " ", "\r": " "})


def _normalize_none(text: str) -> str:
    return text


def _normalize_d2l(text: str) -> str:
    # Whole-text equivalent of d2l's per-line loop (a test checks it against the loop):
    # after the first substitution only letters, single spaces and line breaks remain.
    text = _D2L_NON_LETTERS.sub(" ", text)
    text = _D2L_LINE_BREAKS.sub("", text)
    return text.strip(" ").lower()


def _normalize_newlines(text: str) -> str:
    return text.translate(_NEWLINES_TO_SPACES)


NORMALIZERS = {"none": _normalize_none, "d2l": _normalize_d2l, "newlines": _normalize_newlines}


def normalize_text(text: str, mode: NormalizeMode = "none", nfc: bool = False) -> str:
    """Apply Unicode NFC (optional, first) and one of the `normalize` modes.

    Args:
        text: the raw text.
        mode: `none` keeps the text; `d2l` does d2l 0.17's `read_time_machine` (per line,
            every run of characters other than A-Z/a-z becomes one space, strip,
            lower-case; lines, split at `\\n` and `\\r`, joined with nothing); `newlines`
            turns every `\\n` and `\\r` into a space (the Jay Chou book).
        nfc: compose the text to Unicode NFC before anything else.

    Returns:
        The normalised text.
    """
    if mode not in NORMALIZERS:
        raise RnnkitError(
            f"unknown normalize mode {mode!r}; use one of {', '.join(map(repr, NORMALIZERS))}"
        )
    if nfc:
        text = unicodedata.normalize("NFC", text)
    return NORMALIZERS[mode](text)


def tokenize(text: str, level: Level = "char", word_regex: str | None = None) -> list[str]:
    """Split text into tokens.

    Args:
        text: the (normalised) text.
        level: `char` gives one token per Unicode code point; `word` splits at whitespace,
            or, with `word_regex`, returns every match of that regular expression.
        word_regex: a regular expression for word tokens (e.g. `r"\\w+|[^\\w\\s]"`);
            only for `level="word"`.

    Returns:
        The tokens, in order.
    """
    if level == "char":
        if word_regex is not None:
            raise RnnkitError("word_regex only applies to level='word'; drop it or use words")
        return list(text)
    if level == "word":
        if word_regex is None:
            return text.split()
        return compile_word_regex(word_regex).findall(text)
    raise RnnkitError(f"unknown token level {level!r}; use 'char' or 'word'")


def detokenize(tokens: Iterable[str], level: Level = "char") -> str:
    """Join tokens back into text: characters with nothing, words with one space."""
    if level == "char":
        return "".join(tokens)
    if level == "word":
        return " ".join(tokens)
    raise RnnkitError(f"unknown token level {level!r}; use 'char' or 'word'")


def compile_word_regex(word_regex: str) -> re.Pattern[str]:
    """Compile a word regex, checking it has no capture groups (findall must give strings)."""
    try:
        pattern = re.compile(word_regex)
    except re.error as exc:
        raise RnnkitError(f"invalid word_regex {word_regex!r}: {exc}; fix the pattern") from exc
    if pattern.groups:
        raise RnnkitError(
            f"word_regex {word_regex!r} has capture groups; use non-capturing (?:...) groups"
        )
    return pattern


def iter_char_codes(
    text: str, start: int = 0, stop: int | None = None, chunk: int = CHUNK_CHARS
) -> Iterator[np.ndarray]:
    """Yield the code points of `text[start:stop]` as numpy arrays, a chunk at a time.

    Shape:
        each yielded array: `(n,)` with `n <= chunk`; uint8 for an all-ASCII chunk
        (a quarter of the memory), else uint32.
    """
    stop = len(text) if stop is None else min(stop, len(text))
    for lo in range(start, stop, chunk):
        piece = text[lo : min(lo + chunk, stop)]
        if piece.isascii():
            yield np.frombuffer(piece.encode("ascii"), dtype=np.uint8)
        else:
            yield np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)


def count_chars(
    text: str, start: int = 0, stop: int | None = None, chunk: int = CHUNK_CHARS
) -> dict[str, int]:
    """Count the characters of `text[start:stop]`, vectorised.

    Returns:
        character -> count, in order of first occurrence (the tie order `Vocab` needs).
    """
    counts = np.zeros(0, dtype=np.int64)  # grows to the largest code point seen
    seen = np.zeros(0, dtype=bool)
    first_seen: list[np.ndarray] = []
    for codes in iter_char_codes(text, start, stop, chunk):
        chunk_counts = np.bincount(codes, minlength=counts.size)
        if chunk_counts.size > counts.size:
            grow = chunk_counts.size - counts.size
            counts = np.concatenate([counts, np.zeros(grow, dtype=np.int64)])
            seen = np.concatenate([seen, np.zeros(grow, dtype=bool)])
        new = (chunk_counts > 0) & ~seen
        if new.any():
            # Codes seen for the first time in this chunk, in order of first position.
            positions = np.flatnonzero(new[codes])
            uniq, first = np.unique(codes[positions], return_index=True)
            first_seen.append(uniq[np.argsort(first, kind="stable")])
            seen[uniq] = True
        counts += chunk_counts
    if not first_seen:
        return {}
    order = np.concatenate(first_seen)
    return {chr(int(c)): int(n) for c, n in zip(order, counts[order], strict=True)}


def count_tokens(tokens: Iterable[str]) -> dict[str, int]:
    """Count tokens; the result keeps the order of first occurrence."""
    return dict(Counter(tokens))
