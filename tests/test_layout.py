"""The code stays readable: no function of the package runs past 80 lines.

At most two functions may be listed as exceptions, each with its reason; a listed function
that is back under the cap (or gone) fails the test too, so the list cannot rot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rnnkit

MAX_FUNCTION_LINES = 80  # the AST span of the def, docstring included
MAX_EXCEPTIONS = 2
# "path:function" (path relative to the package) -> why it may run longer; none today.
EXCEPTIONS: dict[str, str] = {}


def _function_lengths() -> dict[str, int]:
    """The line span of every function of the package, by "path:function" (the longest
    when a name repeats in a file)."""
    package = Path(rnnkit.__file__).parent
    lengths: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{path.relative_to(package).as_posix()}:{node.name}"
                lines = node.end_lineno - node.lineno + 1
                lengths[key] = max(lengths.get(key, 0), lines)
    return lengths


def test_no_function_is_longer_than_the_limit() -> None:
    long = {
        key: lines
        for key, lines in _function_lengths().items()
        if lines > MAX_FUNCTION_LINES and key not in EXCEPTIONS
    }
    assert long == {}, f"over {MAX_FUNCTION_LINES} lines: split them into named steps"


def test_every_exception_is_still_needed() -> None:
    assert len(EXCEPTIONS) <= MAX_EXCEPTIONS
    assert all(reason.strip() for reason in EXCEPTIONS.values()), "give each its reason"
    lengths = _function_lengths()
    stale = {
        key: lengths.get(key, 0) for key in EXCEPTIONS if lengths.get(key, 0) <= MAX_FUNCTION_LINES
    }
    assert stale == {}, "drop these from EXCEPTIONS: they are within the cap (0 = gone)"
