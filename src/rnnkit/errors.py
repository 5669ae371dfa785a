"""The exceptions for mistakes a user can make (bad path, bad config key, ...).

The CLI prints these on one line and exits non-zero without a traceback; anything else
is a bug and keeps its traceback. Each message names the problem and the fix.
"""


class RnnkitError(ValueError):
    """A user-facing error: the message names the problem and the fix."""


class ConfigError(RnnkitError):
    """A bad option, config key or value: from the CLI, a config file, a preset or Python."""
