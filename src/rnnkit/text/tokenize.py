"""Text normalisation and tokenizers: characters (Unicode code points) or words.

`normalize_text` implements the `normalize` modes (`none` keeps the text; `d2l` keeps only
ASCII letters, lower-cased, as d2l's `read_time_machine`; `newlines` turns line breaks into
spaces) plus optional NFC. `tokenize` / `detokenize` turn text into tokens and back.
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

from rnnkit.errors import ConfigError

NormalizeMode = Literal["none", "d2l", "newlines"]
Level = Literal["char", "word"]

# Characters per chunk on the vectorised character path: 4 Mi chars is 16 MiB of uint32.
CHUNK_CHARS = 1 << 22


def _normalize_none(text: str) -> str:
    return text


def _normalize_d2l(text: str, chunk: int = CHUNK_CHARS) -> str:
    """d2l 0.17 `read_time_machine`, vectorised (a test checks it against the per-line loop).

    Per line, runs of non-letters become one space and the line is stripped; lines are
    joined with nothing. So the output is the letters, lower-cased, with one space between
    two letters exactly when the gap between them is non-empty and holds no line break.
    Chunks carry the gap state across their boundaries.
    """
    out: list[bytes] = []
    seen_letter = False  # a letter was emitted before the current gap
    gap_len = 0  # non-letters since the last letter
    gap_has_break = False
    for codes in iter_char_codes(text, chunk=chunk):
        lower = codes | 0x20  # ASCII letters to lower case; other codes are not letters
        is_letter = (lower >= ord("a")) & (lower <= ord("z"))  # (n,) exactly A-Z, a-z
        breaks = np.cumsum((codes == 0x0A) | (codes == 0x0D))  # (n,) line breaks so far
        pos = np.flatnonzero(is_letter)  # (k,) positions of the letters
        if pos.size == 0:
            gap_len += codes.size
            gap_has_break = gap_has_break or bool(breaks[-1])
            continue
        gap = np.empty(pos.size, dtype=np.int64)  # (k,) non-letters before each letter
        gap[0] = gap_len + pos[0]
        gap[1:] = np.diff(pos) - 1
        has_break = np.empty(pos.size, dtype=bool)
        has_break[0] = gap_has_break or bool(breaks[pos[0]])
        has_break[1:] = breaks[pos[1:]] != breaks[pos[:-1]]
        space = (gap > 0) & ~has_break
        space[0] &= seen_letter
        slots = np.arange(pos.size) + np.cumsum(space)  # (k,) output index of each letter
        piece = np.full(pos.size + int(space.sum()), ord(" "), dtype=np.uint8)
        piece[slots] = lower[pos]
        out.append(piece.tobytes())
        seen_letter = True
        gap_len = codes.size - 1 - int(pos[-1])
        gap_has_break = bool(breaks[-1] != breaks[pos[-1]])
    return b"".join(out).decode("ascii")


def _normalize_newlines(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")  # str.replace is far faster than translate


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
        raise ConfigError(
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
            raise ConfigError("word_regex only applies to level='word'; drop it or use words")
        return list(text)
    if level == "word":
        if word_regex is None:
            return text.split()
        return compile_word_regex(word_regex).findall(text)
    raise ConfigError(f"unknown token level {level!r}; use 'char' or 'word'")


def detokenize(tokens: Iterable[str], level: Level = "char") -> str:
    """Join tokens back into text: characters with nothing, words with one space."""
    if level == "char":
        return "".join(tokens)
    if level == "word":
        return " ".join(tokens)
    raise ConfigError(f"unknown token level {level!r}; use 'char' or 'word'")


def compile_word_regex(word_regex: str) -> re.Pattern[str]:
    """Compile a word regex, checking it has no capture groups (findall must give strings)."""
    try:
        pattern = re.compile(word_regex)
    except re.error as exc:
        raise ConfigError(f"invalid word_regex {word_regex!r}: {exc}; fix the pattern") from exc
    if pattern.groups:
        raise ConfigError(
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
        missing = (chunk_counts > 0) & ~seen  # codes whose first occurrence is in this chunk
        remaining = int(missing.sum())
        # New codes mostly appear early: look for them in windows growing 4x each time.
        lo, width = 0, 1 << 12
        while remaining:
            window = codes[lo : lo + width]
            hits = window[missing[window]]
            if hits.size:
                uniq, first = np.unique(hits, return_index=True)
                first_seen.append(uniq[np.argsort(first, kind="stable")])  # by first position
                missing[uniq] = False
                seen[uniq] = True
                remaining -= uniq.size
            lo, width = lo + width, width * 4
        counts += chunk_counts
    if not first_seen:
        return {}
    order = np.concatenate(first_seen)
    return {chr(int(c)): int(n) for c, n in zip(order, counts[order], strict=True)}


def count_tokens(tokens: Iterable[str]) -> dict[str, int]:
    """Count tokens; the result keeps the order of first occurrence."""
    return dict(Counter(tokens))
