"""The code stays readable: no function of the package runs past 120 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnkit

MAX_FUNCTION_LINES = 120  # the AST span of the def, docstring included


def test_no_function_is_longer_than_the_limit() -> None:
    package = Path(rnnkit.__file__).parent
    long = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(package)}:{node.lineno} {node.name} {lines}")
    assert long == []
