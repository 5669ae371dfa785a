"""The one exception type for mistakes a user can make (bad path, bad config key, ...).

The CLI prints these on one line and exits non-zero without a traceback; anything else
is a bug and keeps its traceback.
"""


class RnnkitError(ValueError):
    """A user-facing error: the message names the problem and the fix."""
