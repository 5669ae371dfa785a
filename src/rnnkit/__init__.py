"""rnnkit: recurrent sequence models in PyTorch.

Language models (RNN / GRU / LSTM) on any text, scratch cells identical to `torch.nn`,
time-series forecasting, and the d2l RNN experiments reproduced with held-out numbers.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["RnnkitError", "__version__"]

from rnnkit.errors import RnnkitError
