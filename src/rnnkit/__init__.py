"""rnnkit: recurrent sequence models in PyTorch.

Language models (RNN / GRU / LSTM) on any text, scratch cells identical to `torch.nn`,
time-series forecasting, sequence classification, and the d2l RNN experiments reproduced
with held-out numbers.

The public names are imported lazily (PEP 562): `rnnkit --help` does not load torch, and
`rnnkit.load` does not load the training recipe, the distributed module, matplotlib or the
playground. The `TYPE_CHECKING` block lets type checkers and IDEs see the same names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from rnnkit.errors import RnnkitError

if TYPE_CHECKING:
    from rnnkit.classify.estimator import SequenceClassifier
    from rnnkit.config import ForecastConfig, RunConfig, load_preset
    from rnnkit.decode.options import SamplingOptions
    from rnnkit.forecast.forecaster import Forecaster
    from rnnkit.lm.evaluate import evaluate
    from rnnkit.lm.generation import generate, stream
    from rnnkit.lm.load import LoadedLM, info, load
    from rnnkit.lm.model import RNNLM
    from rnnkit.lm.train import train_lm
    from rnnkit.nn.recurrent import build_rnn
    from rnnkit.text.batches import BatchIterator
    from rnnkit.text.corpora import load_corpus
    from rnnkit.text.vocab import Vocab

from rnnkit._version import __version__

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
    "generate": "rnnkit.lm.generation",
    "stream": "rnnkit.lm.generation",
    "evaluate": "rnnkit.lm.evaluate",
    "info": "rnnkit.lm.load",
    "SamplingOptions": "rnnkit.decode.options",
    "Forecaster": "rnnkit.forecast.forecaster",
    "ForecastConfig": "rnnkit.config",
    "SequenceClassifier": "rnnkit.classify.estimator",
}

__all__ = [
    "RNNLM",
    "BatchIterator",
    "ForecastConfig",
    "Forecaster",
    "LoadedLM",
    "RnnkitError",
    "RunConfig",
    "SamplingOptions",
    "SequenceClassifier",
    "Vocab",
    "__version__",
    "build_rnn",
    "evaluate",
    "generate",
    "info",
    "load",
    "load_corpus",
    "load_preset",
    "stream",
    "train_lm",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
