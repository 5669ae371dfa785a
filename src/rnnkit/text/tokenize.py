"""Text normalisation and tokenizers: characters (Unicode code points) or words.

`normalize_text` implements the `normalize` modes (`none` keeps the text; `d2l` keeps only
ASCII letters, lower-cased, as d2l's `read_time_machine`; `newlines` turns line breaks into
spaces) plus optional NFC. `tokenize` / `detokenize` turn text into tokens and back.

Word level has a `WordTokenizer`: a regular expression (`DEFAULT_WORD_REGEX`, which
separates punctuation from words; `WHITESPACE_REGEX` splits at whitespace as rnnkit did
before), line breaks kept as tokens or not (`newlines`), optional lower-casing, and
`resolve_word_tokenizer`, which fixes the `auto` choices from a sample of the corpus and
refuses unsegmented Chinese or Japanese. `Joiner` (and `detokenize`) put word tokens back
together with normal spacing: no space before closing punctuation or after opening
brackets, none around line breaks, quotes paired.
For corpora of hundreds of megabytes the character level has a vectorised path:
`iter_char_codes` yields the text as numpy arrays of code points, chunk by chunk, and
`count_chars` counts them without ever building a Python list of one-character strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.config.fields import Level
from rnnkit.config.fields import Newlines as NewlineMode
from rnnkit.config.fields import Normalize as NormalizeMode
from rnnkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rnnkit.config import DataConfig

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
    """Join tokens back into text: characters with nothing, words by `Joiner` (one space
    between words, none before closing punctuation, none around line breaks, ...)."""
    if level == "char":
        return "".join(tokens)
    if level == "word":
        return join_words(tokens)
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


# --------------------------------------------------------------------------- word tokenizer

# Words (letters, digits, `_`; an apostrophe inside a word keeps it whole: don't, o'er) and
# single punctuation marks; whitespace separates and is dropped.
DEFAULT_WORD_REGEX = r"\w+(?:['\u2019]\w+)*|[^\w\s]"
# rnnkit's word level before the default pattern: every run of non-whitespace is a token.
WHITESPACE_REGEX = r"\S+"
NEWLINE = "\n"
PARAGRAPH = "\n\n"  # the token of a blank line (newlines = "paragraphs")
NEWLINE_MODES: tuple[str, ...] = ("auto", "keep", "paragraphs", "drop")
# A run of whitespace holding a blank line (two line breaks or more).
_BLANK_RUN = re.compile(r"[^\S\n]*\n(?:[^\S\n]*\n)+")


@dataclass(frozen=True)
class WordTokenizer:
    """How word-level text becomes tokens.

    Attributes:
        word_regex: the tokens are the matches of this pattern ("" = `DEFAULT_WORD_REGEX`;
            `WHITESPACE_REGEX` splits at whitespace). Text between matches is dropped.
        newlines: `keep` makes every line break a token `"\\n"` (verse, lyrics, code);
            `paragraphs` makes a blank line one token `"\\n\\n"` and other line breaks
            spaces (hard-wrapped prose); `drop` treats line breaks as spaces; `auto` is
            decided from the corpus by `resolve_word_tokenizer`.
        lowercase: lower-case the text first.
    """

    word_regex: str = ""
    newlines: NewlineMode = "keep"
    lowercase: bool = False

    @property
    def pattern(self) -> str:
        """The pattern in use (the default one for "")."""
        return self.word_regex or DEFAULT_WORD_REGEX

    def tokenize(self, text: str) -> list[str]:
        """The tokens of `text`; `auto` newlines are read as `keep` (resolve them first)."""
        text, mode = self._prepared(text)
        if mode == "drop" and self.pattern == WHITESPACE_REGEX:
            return text.split()  # the same tokens, faster
        return _word_pattern(self.pattern, mode).findall(text)

    def spans(self, text: str) -> tuple[str, list[tuple[int, int]]]:
        """Where the tokens of `text` are: the text they are matched in (lower-cased, blank
        lines made one paragraph break, as `tokenize` does) and each token's (start, end)
        in it, so `prepared[start:end]` are the tokens of `tokenize(text)`."""
        prepared, mode = self._prepared(text)
        found = _word_pattern(self.pattern, mode).finditer(prepared)
        return prepared, [m.span() for m in found]

    def _prepared(self, text: str) -> tuple[str, str]:
        """The text as the pattern reads it, and the newline mode in use (`auto` -> `keep`)."""
        if self.newlines not in NEWLINE_MODES:
            raise ConfigError(
                f"unknown newlines mode {self.newlines!r}; use one of {', '.join(NEWLINE_MODES)}"
            )
        if self.lowercase:
            text = text.lower()
        mode = "keep" if self.newlines == "auto" else self.newlines
        if mode == "paragraphs":
            text = _BLANK_RUN.sub(PARAGRAPH, text)
        return text, mode

    @classmethod
    def from_data(cls, data: Any) -> WordTokenizer:
        """The tokenizer a `[data]` table describes (its `word_regex`, `newlines`, `lowercase`)."""
        return cls(data.word_regex, data.newlines, data.lowercase)

    def to_dict(self) -> dict[str, Any]:
        """The settings as the `data` keys that hold them."""
        return {
            "word_regex": self.word_regex,
            "newlines": self.newlines,
            "lowercase": self.lowercase,
        }


LEGACY_WORDS = WordTokenizer(WHITESPACE_REGEX, "drop", False)
"""Word level as `tokenize(text, "word")` splits: at whitespace, line breaks dropped."""


@cache
def _word_pattern(word_regex: str, newlines: str) -> re.Pattern[str]:
    """The compiled pattern of a word tokenizer: its regex, plus the line-break tokens."""
    compile_word_regex(word_regex)  # a clear error for a bad pattern
    if newlines == "keep":
        return re.compile(f"(?:{word_regex})|\n")
    if newlines == "paragraphs":
        return re.compile(f"(?:{word_regex})|\n\n")
    return re.compile(word_regex)


def word_tokenizer(spec: str | WordTokenizer) -> WordTokenizer:
    """The word tokenizer of a level or tokenizer argument: a `WordTokenizer` as it is; the
    plain level "word" splits at whitespace (`LEGACY_WORDS`), as `tokenize(text, "word")`."""
    if isinstance(spec, WordTokenizer):
        return spec
    if spec == "word":
        return LEGACY_WORDS
    raise ConfigError(f"unknown token level {spec!r}; use 'char' or 'word'")


def tokens_spec(data: DataConfig) -> Level | WordTokenizer:
    """How a `[data]` table's text is split, as the `level` arguments of `rnnkit.decode.prefix`
    and generation take it: "char", or its `WordTokenizer` at word level."""
    return WordTokenizer.from_data(data) if data.level == "word" else data.level


def level_of(spec: str | WordTokenizer) -> str:
    """`char` or `word`: the level of a level or tokenizer argument."""
    return "word" if isinstance(spec, WordTokenizer) else str(spec)


def split_tokens(text: str, spec: str | WordTokenizer) -> list[str]:
    """Tokens of `text` at a level (`char`, `word` = whitespace) or with a word tokenizer."""
    if isinstance(spec, WordTokenizer):
        return spec.tokenize(text)
    return tokenize(text, spec)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- auto choices

SAMPLE_LINES = 20_000  # the lines of a corpus its auto choices are made from
# Hard-wrapped prose: this share of the lines inside paragraphs reach WRAP_FILL of the width.
WRAP_SHARE = 0.8
WRAP_FILL = 0.75
WRAP_MIN_WIDTH = 40
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_TOKEN_SHARE = 0.1  # of the tokens hold CJK characters ...
CJK_TOKEN_CHARS = 3.0  # ... and they are this long on average: the text is not segmented


def sample_of(text: str, lines: int = SAMPLE_LINES) -> str:
    """The first `lines` lines of `text` (what the auto choices look at)."""
    end = -1
    for _ in range(lines):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[: end + 1]


def is_hard_wrapped(sample: str) -> bool:
    """Whether the text is prose wrapped at a fixed width (its line breaks say nothing).

    Hard-wrapped: the 95th percentile W of the non-empty line lengths is at least
    `WRAP_MIN_WIDTH` characters and at least `WRAP_SHARE` of the lines followed by another
    non-empty line (lines inside a paragraph) are at least `WRAP_FILL` * W long. Verse,
    lyrics, dialogue and code have short or ragged lines; one paragraph per line has no
    line inside a paragraph.
    """
    lines = [line.rstrip() for line in sample.split("\n")]
    lengths = np.array([len(line) for line in lines if line], dtype=np.int64)
    inner = np.array([len(a) for a, b in pairwise(lines) if a and b], dtype=np.int64)
    if lengths.size == 0 or inner.size < 20:
        return False
    width = float(np.percentile(lengths, 95))
    return width >= WRAP_MIN_WIDTH and float(np.mean(inner >= WRAP_FILL * width)) >= WRAP_SHARE


def check_segmented(tokens: Sequence[str], name: str) -> None:
    """Refuse word tokens of unsegmented Chinese or Japanese (one "word" per phrase).

    Refused when at least `CJK_TOKEN_SHARE` of the tokens hold CJK characters and those
    tokens average `CJK_TOKEN_CHARS` characters or more (segmented text has words of one
    to three characters).
    """
    cjk = [t for t in tokens if _CJK.search(t)]
    if not tokens or len(cjk) < CJK_TOKEN_SHARE * len(tokens):
        return
    mean = sum(map(len, cjk)) / len(cjk)
    if mean >= CJK_TOKEN_CHARS:
        raise DataError(
            f"{name} looks like Chinese or Japanese text without spaces between words "
            f"({len(cjk) / len(tokens):.0%} of its word tokens hold CJK characters, "
            f"{mean:.1f} characters each): word level needs a word segmenter; segment the "
            "text first (e.g. with jieba) and split it with data.word_regex='\\S+', or "
            "train at data.level = char"
        )


def resolve_word_tokenizer(tok: WordTokenizer, sample: str, name: str) -> WordTokenizer:
    """The tokenizer with its `auto` choices made from a sample of the corpus (see
    `sample_of`), after refusing unsegmented Chinese or Japanese (`check_segmented`).

    `newlines = "auto"` becomes `paragraphs` for hard-wrapped prose (`is_hard_wrapped`),
    else `keep`; "" for the pattern becomes `DEFAULT_WORD_REGEX`, so a run records the
    pattern it was trained with.
    """
    newlines = tok.newlines
    if newlines == "auto":
        newlines = "paragraphs" if is_hard_wrapped(sample) else "keep"
    resolved = WordTokenizer(tok.pattern, newlines, tok.lowercase)
    check_segmented(resolved.tokenize(sample), name)
    return resolved


# --------------------------------------------------------------------------- joining words

_CLOSERS = frozenset(".,;:!?%)]}\u2026\u201d\u00bb")  # no space before
_OPENERS = frozenset("([{\u00bf\u00a1\u201c\u00ab$#\u00a3\u20ac\u2018")  # no space after
_GLUE = frozenset("-/\u2013\u2014")  # no space on either side: well-known, and/or
_DIGIT_MARKS = frozenset(".,:")  # 3.14, 1,000, 12:30


def _is_space_token(token: str) -> bool:
    return not token or token.isspace()


class Joiner:
    """Joins word tokens into text with normal spacing, one sample's text or several.

    The space before a token depends on it and the tokens before it: none before closing
    punctuation (`. , ; : ! ? ) ]`) or after opening brackets, none around line breaks,
    hyphens and slashes, none inside numbers (`3.14`); straight quotes alternate between
    opening (space before, none after) and closing (none before), and a blank line ends
    any open quote. Every other pair gets one space. So normally spaced text survives
    `detokenize(tokenize(text))`.

    Args:
        prefix: the text the tokens continue (its end sets the context).
        num_samples: how many texts grow side by side.

    Shape:
        pieces: tokens (B,) -> pieces (B,), each the token with its leading space if any.
    """

    def __init__(self, prefix: str = "", num_samples: int = 1) -> None:
        context = _prefix_context(prefix)
        self.states = [list(context) for _ in range(num_samples)]

    def pieces(self, tokens: Sequence[str]) -> list[str]:
        """What each sample's text grows by for its next token."""
        return [self._piece(state, token) for state, token in zip(self.states, tokens, strict=True)]

    @staticmethod
    def _piece(state: list[Any], token: str) -> str:
        """`state`: [previous token, the one before, double quote open, single quote open];
        None for "no token" (the start, or a prefix that ends in whitespace)."""
        prev, before, double_open, single_open = state
        space = _space_between(before, prev, token)
        if token == '"' or token in ("'", "\u2019"):
            is_double = token == '"'
            is_open = double_open if is_double else single_open
            closing = is_open or (token == "\u2019")
            if prev is not None and (prev in _OPENERS or _is_space_token(prev)):
                closing = False  # a quote at the start of a line or after a bracket opens
            if closing:
                space = False
            if is_double:
                double_open = not closing
            else:
                single_open = not closing
        if token == PARAGRAPH or (token == NEWLINE and prev == NEWLINE):
            double_open = single_open = False
        opened = token in ('"', "'") and (double_open if token == '"' else single_open)
        # An opening quote holds on to the next token as "(" does: remember it as one.
        state[:] = ["(" if opened else token, prev, double_open, single_open]
        return " " + token if space else token


def _space_between(before: str | None, prev: str | None, token: str) -> bool:
    """Whether one space goes between `prev` and `token` (`before` precedes `prev`)."""
    if prev is None or _is_space_token(prev) or _is_space_token(token):
        return False
    if token in _CLOSERS or prev in _OPENERS or token in _GLUE or prev in _GLUE:
        return False
    in_number = prev in _DIGIT_MARKS and before is not None and before[-1:].isdigit()
    if prev == ",":  # 1,000 but not "5, 12"
        return not (in_number and len(token) == 3 and token.isdigit())
    return not (in_number and token[:1].isdigit())


def _prefix_context(prefix: str) -> tuple[str | None, str | None, bool, bool]:
    """The joining state after `prefix`: its last two tokens (None after trailing whitespace
    or for an empty prefix) and which quotes are open since its last blank line."""
    if not prefix:
        return (None, None, False, False)
    tail = prefix.rsplit("\n\n", 1)[-1]
    tokens = re.findall(DEFAULT_WORD_REGEX, tail)
    double_open = tokens.count('"') % 2 == 1
    single_open = tokens.count("'") % 2 == 1
    if prefix[-1].isspace():
        return (None, None, double_open, single_open)
    last = tokens[-1] if tokens else None
    before = tokens[-2] if len(tokens) > 1 else None
    if last is not None and prefix.endswith(last):
        opened = last in ('"', "'") and (double_open if last == '"' else single_open)
        return ("(" if opened else last, before, double_open, single_open)
    return (last, before, double_open, single_open)


def join_words(tokens: Iterable[str], prefix: str = "") -> str:
    """`tokens` after `prefix`, joined by `Joiner` (the prefix itself is not included)."""
    joiner = Joiner(prefix)
    return "".join(joiner.pieces([token])[0] for token in tokens)


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
