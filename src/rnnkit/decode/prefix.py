"""A generation prefix and the generated tokens as text, without torch.

Shared by the torch generation (`rnnkit.lm.generation`), the torch-free ONNX runtime
(`rnnkit.runtime`) and the playground, so all read a typed prefix and join new tokens the
same way:
`normalize_prefix` (the model's `data.normalize`, keeping a trailing space),
`unknown_tokens` / `encode_prefix` (unknown tokens warn once and become `<unk>`) and
`text_pieces` / `join_steps` (the one rule for putting new tokens after a prefix).

Their `level` is "char", "word" (split at whitespace) or the model's `WordTokenizer`
(`rnnkit.text.tokenize.tokens_spec` of its `[data]` table), so a prefix is split exactly as
the training text was. New words are joined by `rnnkit.text.tokenize.Joiner` (normal
spacing around punctuation and line breaks) whatever split them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Protocol

from rnnkit.text.tokenize import Joiner, WordTokenizer, level_of, split_tokens

__all__ = [
    "Joiner",
    "StepJoiner",
    "VocabLike",
    "encode_prefix",
    "join_steps",
    "normalize_prefix",
    "text_pieces",
    "unknown_tokens",
]


class VocabLike(Protocol):
    """What generation needs from a vocabulary (`rnnkit.text.vocab.Vocab` has it all)."""

    idx_to_token: list[str]
    token_to_idx: dict[str, int]
    counts: list[int]
    unk: int

    def __len__(self) -> int: ...


def normalize_prefix(prefix: str, mode: str) -> str:
    """Bring a typed prefix into the form the model was trained on (its `data.normalize`).

    Unlike the corpus normalisation this keeps a trailing space, which matters at the end
    of a prefix: `d2l` lower-cases and turns every run of non-letters into one space,
    `newlines` turns line breaks into spaces, `none` keeps the prefix.
    """
    if mode == "d2l":
        return re.sub("[^A-Za-z]+", " ", prefix).lower()
    if mode == "newlines":
        return prefix.replace("\r", " ").replace("\n", " ")
    return prefix


def unknown_tokens(vocab: VocabLike, text: str, level: str | WordTokenizer) -> list[str]:
    """The tokens of `text` (split at `level`) missing from the vocabulary, once each, in order."""
    known = vocab.token_to_idx
    return list(dict.fromkeys(t for t in split_tokens(text, level) if t not in known))


def encode_prefix(
    vocab: VocabLike, prefix: str, level: str | WordTokenizer, stacklevel: int = 3
) -> list[int]:
    """Token ids of the prefix; unknown tokens warn once (naming them) and become `<unk>`.

    `stacklevel` is passed to `warnings.warn` (counted from this function), so the warning
    points at the caller's line of the public entry point.
    """
    unknown = unknown_tokens(vocab, prefix, level)
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        warnings.warn(
            f"prefix tokens not in the vocabulary, read as <unk>: {shown}{more}",
            UserWarning,
            stacklevel=stacklevel,
        )
    return [vocab.token_to_idx.get(t, vocab.unk) for t in split_tokens(prefix, level)]


class StepJoiner:
    """What each sample's text grows by, step after step: characters as they are, words
    through `Joiner` (which remembers each sample's previous tokens and open quotes).

    `prefix + pieces of steps 0, 1, ...` is the text `generate` returns.

    Shape:
        pieces: tokens (B,) -> pieces (B,), one per sample
    """

    def __init__(self, prefix: str, level: str | WordTokenizer, num_samples: int) -> None:
        self.words = level_of(level) == "word"
        self.joiner = Joiner(prefix, num_samples) if self.words else None

    def pieces(self, tokens: Sequence[str]) -> list[str]:
        """The next piece of each sample's text."""
        return self.joiner.pieces(tokens) if self.joiner is not None else list(tokens)


def text_pieces(
    prefix: str,
    step: int,
    tokens: Sequence[str],
    level: str | WordTokenizer,
    previous: Sequence[str] | None = None,
) -> list[str]:
    """What each sample's text grows by at `step`, knowing only the prefix and (optionally)
    each sample's `previous` token; `StepJoiner` remembers them itself.

    At word level no space goes before the first new word when the prefix is empty or ends
    in whitespace, nor before punctuation that closes (`Joiner`).

    Shape:
        tokens (B,) -> pieces (B,), one per sample
    """
    joiner = StepJoiner(prefix if step == 0 else "", level, len(tokens))
    if joiner.joiner is not None and step > 0:
        for state, last in zip(joiner.joiner.states, previous or ["w"] * len(tokens), strict=True):
            state[0] = last
    return joiner.pieces(tokens)


def join_steps(
    prefix: str, steps: Iterable[Sequence[str]], level: str | WordTokenizer, num_samples: int
) -> list[str]:
    """One text per sample: the prefix, verbatim, then each step's pieces (`StepJoiner`).

    Shape:
        steps: T steps of (num_samples,) tokens -> (num_samples,) texts
    """
    texts = [[prefix] for _ in range(num_samples)]
    joiner = StepJoiner(prefix, level, num_samples)
    for tokens in steps:
        for text, piece in zip(texts, joiner.pieces(tokens), strict=True):
            text.append(piece)
    return ["".join(text) for text in texts]
