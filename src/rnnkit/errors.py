"""The exceptions for mistakes a user can make, one base and a few narrow kinds.

The CLI prints any `RnnkitError` on one line and exits non-zero without a traceback;
anything else is a bug and keeps its traceback. Each message names the problem and the fix.
The recurrent cores in `rnnkit.nn` are drop-in twins of `torch.nn` and raise what torch
raises (`ValueError`, `RuntimeError`) instead.
"""


class RnnkitError(Exception):
    """A user-facing error: the message names the problem and the fix."""


class ConfigError(RnnkitError):
    """A bad option, argument, config key or value: from the CLI, a file, a preset or Python."""


class DataError(RnnkitError):
    """A text or series source that is missing, unreadable, empty or too short."""


class CheckpointError(RnnkitError):
    """A checkpoint that is missing, broken, of another task or incompatible with the code."""


class DistributedError(RnnkitError):
    """A multi-process run that cannot start or lost a peer."""


class StorageError(RnnkitError):
    """A file that cannot be read or written: no space, no permission, read-only, vanished."""


class NumericalError(RnnkitError):
    """Numbers that became infinite or NaN: a model's weights, logits, loss or forecasts."""
