"""The vocabulary: tokens <-> integer ids, in frequency order, with counts kept.

Index 0 is always `<unk>`; optional reserved tokens (`<pad>`, `<bos>`, `<eos>`, ...) follow,
then the tokens of the data, most frequent first, ties in order of first occurrence, so the
same text gives the same ids in every process (no `set()` ordering). The counts are kept,
because sampling from an empty prefix needs the unigram distribution. `to_dict` gives plain
builtins that a checkpoint loaded with `torch.load(..., weights_only=True)` can hold.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.text.tokenize import iter_char_codes

UNK = "<unk>"
FORMAT = "rnnkit.vocab"
FORMAT_VERSION = 1

# The word-level vocabulary rule (`word_vocab_size`).
WORD_MIN_COUNT = 2
WORD_MIN_SIZE = 5_000
WORD_MAX_SIZE = 50_000


def word_vocab_size(counts: Mapping[str, int]) -> int:
    """`max_size` (entries, `<unk>` included) of a word vocabulary chosen by rule from the
    training counts: every token seen at least `WORD_MIN_COUNT` (2) times, since a token
    seen once cannot be learned and its row only costs time, but at least the
    `WORD_MIN_SIZE` (5,000) most frequent where the text has that many distinct tokens (a
    short text keeps its words rather than a tenth of them as `<unk>`), and at most
    `WORD_MAX_SIZE` (50,000).
    """
    seen = sum(1 for c in counts.values() if c > 0)
    repeated = sum(1 for c in counts.values() if c >= WORD_MIN_COUNT)
    size = min(max(repeated, min(seen, WORD_MIN_SIZE)), WORD_MAX_SIZE)
    return max(size, 1) + 1


class Vocab:
    """A token <-> id mapping with `<unk>` at 0, reserved tokens next, then by frequency.

    Attributes:
        idx_to_token: the token of each id.
        token_to_idx: the id of each token.
        counts: the count of each id in the data it was built from (0 for the specials).
        reserved: the reserved tokens, at ids 1..len(reserved).
        unk: the id of `<unk>`, always 0.
    """

    unk: int = 0

    def __init__(
        self, idx_to_token: Sequence[str], counts: Sequence[int], reserved: Sequence[str] = ()
    ) -> None:
        """Wrap an explicit token list; prefer `Vocab.build` or `Vocab.from_dict`."""
        idx_to_token = [str(t) for t in idx_to_token]
        counts = [int(c) for c in counts]
        reserved = [str(t) for t in reserved]
        if not idx_to_token or idx_to_token[0] != UNK:
            raise ConfigError(f"a vocabulary must start with {UNK!r}; rebuild it with Vocab.build")
        if len(counts) != len(idx_to_token):
            raise ConfigError(
                f"vocabulary has {len(idx_to_token)} tokens but {len(counts)} counts; "
                "rebuild it with Vocab.build"
            )
        if idx_to_token[1 : 1 + len(reserved)] != reserved:
            raise ConfigError(
                f"reserved tokens {reserved} must follow {UNK!r}; rebuild it with Vocab.build"
            )
        token_to_idx = {t: i for i, t in enumerate(idx_to_token)}
        if len(token_to_idx) != len(idx_to_token):
            dup = next(t for t, n in Counter(idx_to_token).items() if n > 1)
            raise ConfigError(f"token {dup!r} appears twice in the vocabulary; rebuild it")
        self.idx_to_token: list[str] = idx_to_token
        self.token_to_idx: dict[str, int] = token_to_idx
        self.counts: list[int] = counts
        self.reserved: list[str] = reserved
        self._char_lut: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        tokens_or_counts: Iterable[str] | Mapping[str, int],
        min_freq: int = 1,
        max_size: int | None = None,
        reserved: Sequence[str] = (),
    ) -> Vocab:
        """Build a vocabulary from tokens or from token counts.

        Args:
            tokens_or_counts: an iterable of tokens (a `str` is its characters), or an
                ordered mapping token -> count whose order breaks ties.
            min_freq: drop tokens seen fewer times than this (they become `<unk>`).
            max_size: the most entries in all, `<unk>` and reserved tokens included;
                `None` for no limit. The least frequent tokens are dropped first.
            reserved: special tokens placed right after `<unk>` (e.g. `<pad>`, `<bos>`).

        Returns:
            The vocabulary, most frequent token first, ties in order of first occurrence.
        """
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
        reserved = list(reserved)
        if UNK in reserved or len(set(reserved)) != len(reserved):
            raise ConfigError(
                f"reserved tokens {reserved} must be distinct and must not include {UNK!r}"
            )
        specials = [UNK, *reserved]
        if max_size is not None and max_size < len(specials):
            raise ConfigError(
                f"max_size={max_size} leaves no room for the {len(specials)} special tokens "
                f"{specials}; raise max_size"
            )
        if isinstance(tokens_or_counts, Mapping):
            counts = tokens_or_counts
        else:
            counts = Counter(tokens_or_counts)  # insertion order = first occurrence
        special_set = set(specials)
        items = [(t, int(c)) for t, c in counts.items() if c >= min_freq and t not in special_set]
        items.sort(key=lambda tc: -tc[1])  # stable: ties keep first-occurrence order
        if max_size is not None:
            items = items[: max_size - len(specials)]
        return cls(
            specials + [t for t, _ in items],
            [0] * len(specials) + [c for _, c in items],
            reserved,
        )

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, token: str) -> int:
        """The id of one token; unknown tokens give `<unk>` (0)."""
        return self.token_to_idx.get(token, 0)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_idx

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (self.idx_to_token, self.counts, self.reserved) == (
            other.idx_to_token,
            other.counts,
            other.reserved,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self.idx_to_token[:8]))
        more = ", ..." if len(self) > 8 else ""
        return f"Vocab(size={len(self)}, tokens=[{head}{more}])"

    def encode(self, tokens: Iterable[str], dtype: np.dtype | type = np.int64) -> np.ndarray:
        """Map tokens (a `str` is its characters) to ids; unknown tokens give 0.

        Shape:
            returns `(N,)` of `dtype` (int64 by default) for N tokens.
        """
        if isinstance(tokens, str):
            return self._encode_chars(tokens, dtype)
        get = self.token_to_idx.get
        ids = [get(t, 0) for t in tokens]
        return np.array(ids, dtype=dtype) if ids else np.zeros(0, dtype=dtype)

    def decode(self, ids: Iterable[int] | np.ndarray) -> list[str]:
        """Map ids (a sequence, numpy array or CPU tensor) back to tokens.

        Shape:
            `ids (N,)` -> N tokens.
        """
        arr = np.asarray(ids).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise ConfigError(
                f"token id {bad} is out of range for a vocabulary of {len(self)}; "
                "decode with the vocabulary the ids came from"
            )
        table = self.idx_to_token
        return [table[i] for i in arr.tolist()]

    def char_lut(self) -> np.ndarray:
        """Code point -> id table over all of Unicode (one-character tokens only).

        Shape:
            `(0x110000,)` int32; code points not in the vocabulary map to 0.
        """
        if self._char_lut is None:
            lut = np.zeros(0x110000, dtype=np.int32)
            for token, idx in self.token_to_idx.items():
                if len(token) == 1:
                    lut[ord(token)] = idx
            self._char_lut = lut
        return self._char_lut

    def _encode_chars(self, text: str, dtype: np.dtype | type) -> np.ndarray:
        """The vectorised `encode` of a string's characters (code points) through `char_lut`."""
        lut = self.char_lut()
        out = np.empty(len(text), dtype=dtype)
        pos = 0
        for codes in iter_char_codes(text):
            ids = lut[codes]
            out[pos : pos + codes.size] = ids
            pos += codes.size
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (str, int, lists) for JSON files and `weights_only` checkpoints."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "idx_to_token": list(self.idx_to_token),
            "counts": list(self.counts),
            "reserved": list(self.reserved),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocab:
        """Rebuild a vocabulary written by `to_dict`."""
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ConfigError(
                "not a saved rnnkit vocabulary (no format 'rnnkit.vocab'); "
                "pass the dict written by Vocab.to_dict"
            )
        if d.get("format_version") != FORMAT_VERSION:
            raise ConfigError(
                f"vocabulary format_version {d.get('format_version')!r} is not supported "
                f"(this rnnkit reads {FORMAT_VERSION}); upgrade rnnkit or rebuild the vocabulary"
            )
        try:
            return cls(d["idx_to_token"], d["counts"], d.get("reserved", ()))
        except KeyError as exc:
            raise ConfigError(f"saved vocabulary lacks the key {exc}; rebuild it") from exc

    def to_json(self) -> str:
        """The vocabulary as a JSON string (UTF-8 characters kept as they are)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> Vocab:
        """Rebuild a vocabulary from `to_json` output."""
        try:
            d = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"vocabulary JSON is not valid JSON: {exc}") from exc
        return cls.from_dict(d)
