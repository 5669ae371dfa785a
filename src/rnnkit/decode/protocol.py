"""`LanguageModel`: what every loaded language model offers, whichever backend runs it.

`rnnkit.lm.load.LoadedLM` (torch) and `rnnkit.runtime.onnx_lm.OnnxLM` (numpy and
onnxruntime) implement it directly, so the command line and the playground hold either one
(from `rnnkit.decode.load_backend`) and never branch on the backend::

    lm = load_backend("runs/demo")                  # or an export: same calls, no torch
    lm.generate("The ", 200, temperature=0.8, seed=0)    # -> list[str], one per sample
    for tokens in lm.stream("The ", seed=0): ...          # one list of new tokens per step

`generate` and `stream` take the arguments of `rnnkit.generate` / `rnnkit.stream` (the
torch path also takes `generator=`, the runtime `rng=`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rnnkit.config import RunConfig
from rnnkit.decode.options import SamplingOptions
from rnnkit.text.tokenize import WordTokenizer
from rnnkit.text.vocab import Vocab

if TYPE_CHECKING:
    from rnnkit.decode.options import SamplingKwargs

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["LanguageModel"]


@runtime_checkable
class LanguageModel(Protocol):
    """A trained language model ready to sample, on torch or on the ONNX runtime.

    Attributes:
        vocab: the training vocabulary.
        config: the resolved run config the model was trained with.
        path: the file it was read from (`best.pt`, `model.onnx`, ...), if known.
        corpus: facts of the training corpus (name, sha1, num_tokens, ...).
        metrics: the checkpoint's metrics row; `best`: the best validation row.
    """

    vocab: Vocab
    config: RunConfig
    path: Path | None
    corpus: dict[str, Any]
    metrics: dict[str, Any]
    best: dict[str, Any]

    @property
    def level(self) -> str:
        """`char` or `word`: how generated tokens are joined."""
        ...

    @property
    def tokenizer(self) -> str | WordTokenizer:
        """How a prefix is split: "char", or the `WordTokenizer` the model was trained with."""
        ...

    @property
    def normalize(self) -> str:
        """The training text's `data.normalize`, applied to every prefix."""
        ...

    @property
    def parameters(self) -> int | None:
        """The number of weights (None: an export's, without `onnx` to count them)."""
        ...

    @property
    def history(self) -> list[dict[str, Any]]:
        """The metrics rows of training, one per evaluation (empty when unknown)."""
        ...

    def generate(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> list[str]:
        """Continue `prefix` by `length` tokens: one string (prefix included) per sample."""
        ...

    def stream(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> Iterator[list[str]]:
        """The new tokens of every sample, step by step (options checked on the call)."""
        ...
