"""Models built on the recurrent cores."""
