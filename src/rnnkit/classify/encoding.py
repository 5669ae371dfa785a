"""What a classifier reads, fitted on the training part only and kept for prediction.

- Text: the language models' tokenization and vocabulary (`rnnkit.text`): characters (the
  default) or whitespace words, a `Vocab` built from the training texts (`<unk>` = 0 for
  what it lacks; words kept by the word-level vocabulary rule). An empty text reads as one
  `<unk>`.
- Numeric series: each channel standardised with the training part's mean and standard
  deviation (over every step of every training series); missing values (NaN) read as 0,
  the channel's mean, after standardising.

`InputEncoder.to_dict` holds plain builtins, so a checkpoint loaded with
`weights_only=True` keeps it; `from_dict` rebuilds it for `predict_with`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.classify.data import Kind, Sequences
from rnnkit.errors import DataError
from rnnkit.text.tokenize import count_tokens, tokenize
from rnnkit.text.vocab import Vocab, word_vocab_size

MIN_STD = 1e-8


@dataclass
class InputEncoder:
    """Turns `Sequences` into the arrays a `SequenceClassifierNet` reads.

    Attributes:
        kind: `text` or `numeric`.
        label_names: the classes, in the order of the model's outputs.
        level: text only: `char` or `word`.
        vocab: text only: the training part's vocabulary.
        mean, std: numeric only: per-channel statistics of the training part, each `(C,)`.
    """

    kind: Kind
    label_names: list[str]
    level: str = "char"
    vocab: Vocab | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @classmethod
    def fit(cls, train: Sequences, level: str = "char") -> InputEncoder:
        """Fit on the training part: the vocabulary, or the channels' mean and std."""
        if train.kind == "text":
            assert train.texts is not None
            if level == "char":
                vocab = Vocab.build(count_tokens(_chars(train.texts)))
            else:
                counts = count_tokens(t for text in train.texts for t in tokenize(text, "word"))
                vocab = Vocab.build(counts, max_size=word_vocab_size(counts))
            return cls("text", list(train.label_names), level, vocab=vocab)
        stacked = np.concatenate(train.x, axis=0).astype(np.float64)  # (sum T, C)
        mean = np.nanmean(stacked, axis=0)
        std = np.nanstd(stacked, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > MIN_STD), std, 1.0)
        return cls("numeric", list(train.label_names), mean=mean, std=std)

    @property
    def input_size(self) -> int:
        """I: the vocabulary's size (text) or the channels (numeric)."""
        if self.kind == "text":
            assert self.vocab is not None
            return len(self.vocab)
        assert self.mean is not None
        return len(self.mean)

    def transform(self, seqs: Sequences) -> list[np.ndarray]:
        """The model's inputs: `(T_i,)` int64 token ids or `(T_i, C)` float32 values."""
        if seqs.kind != self.kind:
            raise DataError(
                f"the data is {seqs.kind} but the model reads {self.kind}; give data of the "
                "kind it was trained on"
            )
        if self.kind == "text":
            assert seqs.texts is not None and self.vocab is not None
            return [self._encode_text(t) for t in seqs.texts]
        assert self.mean is not None and self.std is not None
        if seqs.channels != len(self.mean):
            raise DataError(
                f"the series have {seqs.channels} channels but the model reads "
                f"{len(self.mean)}; give series with {len(self.mean)} channels"
            )
        out = []
        for x in seqs.x:
            z = (x.astype(np.float64) - self.mean) / self.std
            out.append(np.nan_to_num(z, nan=0.0).astype(np.float32))
        return out

    def _encode_text(self, text: str) -> np.ndarray:
        assert self.vocab is not None
        tokens: str | list[str] = text if self.level == "char" else tokenize(text, "word")
        ids = self.vocab.encode(tokens)
        return ids if len(ids) else np.zeros(1, dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins for a checkpoint."""
        return {
            "kind": self.kind,
            "label_names": list(self.label_names),
            "level": self.level,
            "vocab": self.vocab.to_dict() if self.vocab is not None else None,
            "mean": None if self.mean is None else [float(v) for v in self.mean],
            "std": None if self.std is None else [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputEncoder:
        """Rebuild what `to_dict` wrote."""
        return cls(
            kind=d["kind"],
            label_names=list(d["label_names"]),
            level=d.get("level", "char"),
            vocab=Vocab.from_dict(d["vocab"]) if d.get("vocab") else None,
            mean=None if d.get("mean") is None else np.array(d["mean"], dtype=np.float64),
            std=None if d.get("std") is None else np.array(d["std"], dtype=np.float64),
        )


def _chars(texts: list[str]) -> list[str]:
    """Every character of every text, in order (the character vocabulary's tokens)."""
    return [c for t in texts for c in t]
