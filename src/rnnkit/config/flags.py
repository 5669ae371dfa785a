"""Command-line flags generated from the config fields, so a flag cannot drift from its key.

A flag is the key's name with dashes (`model.hidden_size` -> `--hidden-size`); its help is
the field's help line with the key, its range and its default; a closed choice shows its
choices; a `list[str]` key takes one or more values; a `bool` key is a switch. The value
stays as typed (argparse converts nothing), so the key's own check reports a bad one,
named as the flag: `--hidden-size must be an integer in [1, 65536], got -5` (argparse
itself refuses a direct flag's unknown choice).

Two kinds of flags:

* layered (`rnnkit train`, `rnnkit forecast`): the default is `None`, "not given", so the
  preset and `--config` keep their value; `flag_layer` turns the given ones into the flag
  layer of the resolution (`rnnkit.config.resolve`);
* direct (`rnnkit prepare`, `serve`, ...): the default is the field's default, and
  `table_from_flags` builds the table from them.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args, get_origin

from rnnkit.config.fields import (
    Table,
    field_bound,
    field_help,
    field_hint,
    hints,
    is_bounded,
    number_text,
    type_text,
)
from rnnkit.config.resolve import Layer


def flag_name(name: str) -> str:
    """`table.key` or `key` as its flag: `model.hidden_size` -> `hidden-size`."""
    return name.rpartition(".")[2].replace("_", "-")


def default_text(value: Any) -> str:
    """A default as the help and the reference show it: `256`, `0.002`, `[]`, `''`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return number_text(value) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value if value else "''"
    if isinstance(value, list):
        return "[" + ", ".join(default_text(v) for v in value) + "]"
    return str(value)


def field_default(table: type[Table], name: str) -> Any:
    """The default of the key `name` of `table`."""
    return getattr(table(), name)


def describe_key(table: type[Table], name: str, path: str = "") -> str:
    """A flag's help: `hidden units per layer (model.hidden_size, [1, 65536], default 256)`."""
    parts = [path] if path else []
    if is_bounded(table, name):
        parts += [str(field_bound(table, name)), field_hint(table, name)]
    parts.append(f"default {default_text(field_default(table, name))}")
    return f"{field_help(table, name)} ({', '.join(filter(None, parts))})"


def _argument(table: type[Table], name: str, default: Any, layered: bool) -> dict[str, Any]:
    """The argparse keywords of the key `name`'s flag (choices, nargs), values as text: a
    layered flag's choice is checked by its key, a direct one's by argparse."""
    typ = hints(table)[name]
    if typ is bool:
        return {"action": "store_true", "default": default}
    extra: dict[str, Any] = {"default": default}
    if get_origin(typ) is Literal and not layered:
        extra["choices"] = get_args(typ)
    elif get_origin(typ) is Literal:
        extra["metavar"] = "{" + ",".join(get_args(typ)) + "}"
    elif get_origin(typ) is list and get_args(typ)[0] is str:
        extra["nargs"] = "+"
    return extra


def add_key_flags(
    parser: argparse.ArgumentParser,
    tables: Mapping[str, type[Table]],
    keys: Sequence[str],
    layered: bool = True,
) -> dict[str, str]:
    """Add a flag for each `table.key` of `keys` (`tables`: name -> table class); layered
    flags default to `None` (not given), direct ones to the field's default. Returns
    flag name -> key."""
    out = {}
    for path in keys:
        table_name, _, name = path.partition(".")
        table = tables[table_name]
        default = None if layered else field_default(table, name)
        shown = path if layered else ""
        flag = flag_name(path)
        help_text = describe_key(table, name, shown).replace("%", "%%")
        parser.add_argument(f"--{flag}", help=help_text, **_argument(table, name, default, layered))
        out[flag] = path
    return out


def flag_layer(args: argparse.Namespace, flags: Mapping[str, str]) -> Layer:
    """The flags given in `args` (`flags`: flag name -> `table.key`) as the flag layer, each
    named as its flag in errors."""
    values, names = {}, {}
    for flag, path in flags.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            values[path], names[path] = value, f"--{flag}"
    return Layer("flags", values, names)


def table_from_flags(table: type[Table], args: argparse.Namespace, names: Sequence[str]) -> Any:
    """A `table` whose keys `names` are the flags' values in `args` (each checked, named as
    its flag), the others its defaults."""
    out = table()
    for name in names:
        out.assign(name, getattr(args, name), f"--{flag_name(name)}")
    return out


def table_keys(table: type[Table], skip: Sequence[str] = ()) -> list[str]:
    """The keys of `table` as `table.key`, in order, but those in `skip`."""
    fields = dataclasses.fields(table)  # type: ignore[arg-type]
    return [f"{table.NAME}.{f.name}" for f in fields if f.name not in skip]


__all__ = [
    "add_key_flags",
    "default_text",
    "describe_key",
    "field_default",
    "flag_layer",
    "flag_name",
    "table_from_flags",
    "table_keys",
    "type_text",
]
