"""Text data: tokenizers, vocabulary, named corpora and batch iterators.

The batch iterators need torch; they are imported on first use so that commands which only
read text (`rnnkit datasets`) start quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnkit.text.corpora import Corpus, describe_datasets, load_corpus, read_text
from rnnkit.text.tokenize import detokenize, normalize_text, tokenize
from rnnkit.text.vocab import Vocab

if TYPE_CHECKING:
    from rnnkit.text.batches import BatchIterator

__all__ = [
    "BatchIterator",
    "Corpus",
    "Vocab",
    "describe_datasets",
    "detokenize",
    "load_corpus",
    "normalize_text",
    "read_text",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    if name == "BatchIterator":
        from rnnkit.text.batches import BatchIterator

        return BatchIterator
    raise AttributeError(f"module 'rnnkit.text' has no attribute {name!r}")
