"""The preset catalogue: the TOML files shipped in `rnnkit/presets/`, which task each is
for, and TOML files in general (`--config FILE`).

A preset is a TOML file of tables (`[model]`, `[train]`, ...) with a first comment line
that `rnnkit presets` prints and an optional top-level `task` (`lm` when absent).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from rnnkit.config.fields import Task
from rnnkit.errors import ConfigError
from rnnkit.storage import storage_errors

# The preset a run starts from when no preset is named: its level char, or word.
DEFAULT_PRESET = "default"
WORD_PRESET = "words"

_TASK_NAMES = {"lm": "language-model", "forecast": "forecasting", "classify": "classification"}


def _preset_text(name: str) -> str:
    return (resources.files("rnnkit") / "presets" / f"{name}.toml").read_text(encoding="utf-8")


def list_presets() -> list[str]:
    """Names of the presets shipped inside the package (every task)."""
    folder = resources.files("rnnkit") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_raw(name: str) -> dict[str, Any]:
    """The shipped preset `name` as a nested dict, or a `ConfigError` listing the presets."""
    names = list_presets()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; available presets: {', '.join(names)}")
    return tomllib.loads(_preset_text(name))


def preset_task(name: str) -> Task:
    """The task a shipped preset is for (its `task` key; `lm` when absent)."""
    return "forecast" if preset_raw(name).get("task", "lm") == "forecast" else "lm"


def preset_description(name: str) -> str:
    """The first comment line of a preset file, used by `rnnkit presets`."""
    for line in _preset_text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def source_preset(source: str) -> str | None:
    """The shipped `forecast-<source>` preset of a built-in series, if there is one."""
    name = f"forecast-{source}"
    return name if name in list_presets() else None


def check_task(found: str, wanted: Task, what: str) -> None:
    """A `ConfigError` unless the config `what` (with `task = found`) is for `wanted`."""
    if found not in _TASK_NAMES:
        raise ConfigError(f"{what} has task = {found!r}; choose one of {', '.join(_TASK_NAMES)}")
    if found != wanted:
        command = "rnnkit train" if found == "lm" else f"rnnkit {found}"
        raise ConfigError(
            f"{what} is a {_TASK_NAMES[found]} config, not a {_TASK_NAMES[wanted]} one; "
            f"use it with {command}"
        )


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, with clear errors for missing or broken files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path")
    with storage_errors(path, "read"):
        text = path.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def parse_value(text: str) -> Any:
    """Read a `--set` value as TOML (numbers, booleans, lists), else as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
