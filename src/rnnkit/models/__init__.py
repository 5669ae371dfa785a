"""Models built on the recurrent cores."""

from rnnkit.models.language_model import RNNLM, detach_state

__all__ = ["RNNLM", "detach_state"]
