"""Checked types: every `# type: ignore` in the package names the mypy error it silences."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import rnnkit

# `type: ignore` followed by `[code, ...]`; anything else is a bare ignore.
IGNORE = re.compile(r"type:\s*ignore(?P<codes>\[[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*\])?")


def bare_ignores(source: str) -> list[int]:
    """Line numbers of the comments of `source` that hold a `type: ignore` without codes."""
    lines = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        if any(m["codes"] is None for m in IGNORE.finditer(tok.string)):
            lines.append(tok.start[0])
    return lines


def test_bare_ignores_are_found() -> None:
    source = (
        "a = 1  # type: ignore\n"
        "b = 2  # type: ignore[assignment]\n"
        "c = 3  # type:ignore  # why\n"
        "d = 4  # type: ignore[arg-type, misc]\n"
        "e = '# type: ignore'\n"
    )
    assert bare_ignores(source) == [1, 3]


def test_every_type_ignore_in_the_package_has_an_error_code() -> None:
    package = Path(rnnkit.__file__).parent
    bare = [
        f"{path.relative_to(package)}:{line}"
        for path in sorted(package.rglob("*.py"))
        for line in bare_ignores(path.read_text(encoding="utf-8"))
    ]
    assert bare == [], "add the error code: `# type: ignore[code]`"
