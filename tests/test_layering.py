"""The imports follow the documented layers: every import between rnnkit's packages and
top-level modules is an edge that the table in docs/ARCHITECTURE.md allows (imports inside
functions count, `TYPE_CHECKING` imports do not); and no library error names a `--flag`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import rnnkit

PACKAGE = Path(rnnkit.__file__).parent
ARCHITECTURE = PACKAGE.parents[1] / "docs" / "ARCHITECTURE.md"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def allowed_edges() -> dict[str, set[str]]:
    """The table between `<!-- layers -->` and `<!-- /layers -->`: each row's units (first
    column, in backticks) may import the units of its second column."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    allowed: dict[str, set[str]] = {}
    for line in table.splitlines():
        cells = line.strip().strip("|").split("|")
        if len(cells) < 2 or not cells[0].strip().startswith("`"):
            continue
        targets = set(re.findall(r"`([\w.]+)`", cells[1]))
        for unit in re.findall(r"`([\w.]+)`", cells[0]):
            allowed[unit] = targets
    return allowed


def module_name(path: Path) -> str:
    """`src/rnnkit/lm/train.py` -> `lm.train`; a package's `__init__.py` -> the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def unit_of(module: str, units: set[str]) -> str:
    """The most specific unit of the table that holds `module` (`decode.backend` before
    `decode`); a module of no unit is its own."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in units:
            return ".".join(parts[:n])
    return module


def is_module(name: str) -> bool:
    """Whether `rnnkit.<name>` is a module or package (not a name the package exports)."""
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, rnnkit module without the `rnnkit.` prefix; `__init__` for the package's face)
    of every import outside `if TYPE_CHECKING:` blocks, at any depth."""
    hidden = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "rnnkit":  # a submodule, or a name of the package's face
                names = [f"rnnkit.{a.name}" if is_module(a.name) else "rnnkit" for a in node.names]
        for name in names:
            if name == "rnnkit":
                found.append((node.lineno, "__init__"))
            elif name.startswith("rnnkit."):
                found.append((node.lineno, name.removeprefix("rnnkit.")))
    return found


def test_every_import_is_an_edge_the_architecture_allows() -> None:
    allowed = allowed_edges()
    units = set(allowed)
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = unit_of(module_name(path), units)
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            there = unit_of(module, units)
            if there != here and there not in allowed.get(here, set()):
                broken.append(f"{path.relative_to(PACKAGE)}:{line} {here} -> {there}")
    assert broken == []


def test_the_table_names_only_units_that_exist() -> None:
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    allowed = allowed_edges()
    named = set(allowed) | set().union(*allowed.values())
    assert {u for u in named if not any(m == u or m.startswith(u + ".") for m in modules)} == set()


def test_library_errors_name_config_keys_not_flags() -> None:
    """A `raise` outside cli.py names a key (`series.horizon`), never a flag (`--horizon`):
    a Python caller has no flags; the CLI spells a key as the flag its user typed."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                strings = [
                    n.value
                    for n in ast.walk(node.exc)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
                flags = [f for s in strings for f in FLAG.findall(s)]
                if flags:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {flags}")
    assert found == []
