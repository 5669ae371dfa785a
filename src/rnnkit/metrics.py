"""Metric definitions shared by the training loops, `eval` and the benchmarks.

Language models: perplexity and bits per token from mean cross-entropy in nats.
"""

from __future__ import annotations

import math


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats); `inf` when it overflows."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def bits_per_token(loss: float) -> float:
    """Mean cross-entropy in bits (`loss / ln 2`): bits per character at char level."""
    return loss / math.log(2)
