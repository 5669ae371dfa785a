"""rnnkit: recurrent sequence models in PyTorch.

Language models (RNN / GRU / LSTM) on any text, scratch cells identical to `torch.nn`,
time-series forecasting, and the d2l RNN experiments reproduced with held-out numbers.

The public names are imported lazily (PEP 562) so `rnnkit --help` does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from rnnkit.errors import RnnkitError

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "RunConfig": "rnnkit.config",
    "load_preset": "rnnkit.config",
    "Vocab": "rnnkit.text.vocab",
    "load_corpus": "rnnkit.text.corpora",
    "BatchIterator": "rnnkit.text.batches",
    "build_rnn": "rnnkit.nn.recurrent",
    "RNNLM": "rnnkit.lm.model",
    "train_lm": "rnnkit.lm.train",
    "LoadedLM": "rnnkit.lm.load",
    "load": "rnnkit.lm.load",
    "generate": "rnnkit.lm.load",
    "stream": "rnnkit.lm.load",
    "evaluate": "rnnkit.lm.evaluate",
    "info": "rnnkit.lm.load",
}

__all__ = ["RnnkitError", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
