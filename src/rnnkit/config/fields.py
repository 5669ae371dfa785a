"""The field machinery of every config table: closed choices, ranges, help and coercion.

Every closed choice is a `Literal` declared here once and imported where it is used
(`rnnkit.text`, `rnnkit.nn`, `rnnkit.lm`, `rnnkit.forecast`). A table is a dataclass
`Table` whose fields carry their metadata (`key(...)`): the help line of the key (the
flag's help and the reference's), and for a number its allowed range (`Bound`) and a hint
for the error message (`0 = off`). Assigning a field converts the value to the field's
type and checks it, with one wording for every bad value::

    model.hidden_size must be an integer in [1, 65536], got -5      (--set, a config file)
    --hidden-size must be an integer in [1, 65536], got -5          (a CLI flag)

This module imports nothing from rnnkit but the errors, so `text/` and `nn/` may use it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints

from rnnkit.errors import ConfigError

# ------------------------------------------------------------------ the closed choices
Task = Literal["lm", "forecast", "classify"]
Level = Literal["char", "word"]
Normalize = Literal["none", "d2l", "newlines"]
Sampling = Literal["sequential", "random"]
EncodingErrors = Literal["strict", "replace", "ignore"]
Kind = Literal["rnn", "gru", "lstm"]
Impl = Literal["torch", "scratch", "fused"]
InputMode = Literal["embedding", "onehot"]
Newlines = Literal["auto", "keep", "paragraphs", "drop"]
VocabRule = Literal["auto", "all"]
Output = Literal["auto", "softmax", "adaptive"]
OptimizerName = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "cosine", "step"]
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["fp32", "bf16"]
Scaler = Literal["standard", "minmax", "none"]
Strategy = Literal["direct", "autoregressive"]
Transform = Literal["auto", "none", "diff", "window"]
Method = Literal["auto", "rnn", "esrnn", "es"]
LogTransform = Literal["auto", "yes", "no"]
Likelihood = Literal["gaussian", "mse"]
Fill = Literal["none", "linear", "ffill", "zero", "drop"]
References = Literal["all", "ets", "arima", "none"]
Pooling = Literal["last", "mean", "max", "attention"]
ClassWeights = Literal["auto", "balanced", "none"]
ClassReferences = Literal["auto", "none"]
# "Chosen automatically" (`auto`: made when the run starts, from the data) or not (`fixed`:
# as given, or already chosen and recorded with its reason).
Recipe = Literal["auto", "fixed"]

# Upper ends of the ranges where a bigger value can only be a mistake.
MAX_WIDTH = 65_536  # hidden_size, embedding_dim
MAX_LAYERS = 1024
MAX_THREADS = 1024
MAX_SEED = 2**63 - 1  # what torch.manual_seed takes (NumPy's seed is taken modulo 2**32)


# ------------------------------------------------------------------ message wording
def number_text(x: float) -> str:
    """`10.0` as `10`, `0.5` as `0.5`, big integers in full."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def must_be(name: str, what: str, got: str, hint: str = "") -> str:
    """The one wording of a bad value: `{name} must be {what}, got {got}` (+ ` (hint)`);
    `got` is the value as `shown` quotes it (or a description, `3 characters`)."""
    message = f"{name} must be {what}, got {got}"
    return f"{message} ({hint})" if hint else message


@dataclass(frozen=True)
class Bound:
    """The values from `low` to `high`, both included unless `low_open` / `high_open`;
    `None` = no end."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        above = self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        )
        return not above

    def __str__(self) -> str:
        """`[1, 100000]`, `(0, 1]`, `[0, 1)`, `[0, inf)`; `any` when neither end is set."""
        if self.low is None and self.high is None:
            return "any"
        low, high = "(-inf", "inf)"
        if self.low is not None:
            low = ("(" if self.low_open else "[") + number_text(self.low)
        if self.high is not None:
            high = number_text(self.high) + (")" if self.high_open else "]")
        return f"{low}, {high}"

    def describe(self) -> str:
        """The range as the end of `must be an integer ...`: `in [1, 2000]`, or `` for any."""
        return "" if self.low is None and self.high is None else f"in {self}"

    def expects(self, integer: bool) -> str:
        """What a value must be: `an integer in [1, 2000]`, `a number in (0, 1]`."""
        kind = "an integer" if integer else "a number"
        return " ".join(filter(None, (kind, self.describe())))

    def narrow(self, other: Bound) -> Bound:
        """The values both bounds allow."""
        low, low_open = self.low, self.low_open
        if other.low is not None and (low is None or other.low > low):
            low, low_open = other.low, other.low_open
        elif other.low is not None and other.low == low:
            low_open = low_open or other.low_open
        high, high_open = self.high, self.high_open
        if other.high is not None and (high is None or other.high < high):
            high, high_open = other.high, other.high_open
        elif other.high is not None and other.high == high:
            high_open = high_open or other.high_open
        return Bound(low, high, low_open, high_open)


# ------------------------------------------------------------------ field metadata
# A key's help, range, hint and whole-value check live in its field's metadata.
_HELP, _BOUND, _HINT, _CHECK = "rnnkit.help", "rnnkit.bound", "rnnkit.hint", "rnnkit.check"


def about(help: str) -> dict[str, Any]:
    """A non-numeric field's metadata: its help line."""
    return {_HELP: help}


def bounded(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
    check: Callable[[str, Any], None] | None = None,
    help: str = "",
) -> dict[str, Any]:
    """A numeric field's metadata: its allowed range (each item's, for a list), a hint for
    the error message (`0 = off`), an optional `check(name, value)` of the whole value and
    its help line."""
    bound = Bound(low, high, low_open, high_open)
    return {_BOUND: bound, _HINT: hint, _CHECK: check, _HELP: help}


def key(default: Any = dataclasses.MISSING, help: str = "", **bounds: Any) -> Any:
    """A table field: `key("lstm", "rnn, gru or lstm")`; a number passes its range as
    `low=`, `high=` (and `hint=`, ...); a list default is copied for each table."""
    meta = bounded(help=help, **bounds) if bounds else about(help)
    if isinstance(default, list):
        items = list(default)
        return dataclasses.field(default_factory=lambda: list(items), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a table class (computed once per class)."""
    return _hints(cls)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _meta(cls: type) -> dict[str, dict[str, Any]]:
    """Each field's metadata (computed once per class)."""
    return _field_meta(cls)


@cache
def _field_meta(cls: type) -> dict[str, dict[str, Any]]:
    """Each field's metadata; a subclass that only changes a default keeps it."""
    found: dict[str, dict[str, Any]] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            for f in dataclasses.fields(klass):
                if f.metadata:
                    found[f.name] = dict(f.metadata)
    return found


def field_bound(cls: type, name: str) -> Bound:
    """The allowed range of the numeric key `name` of the table class `cls`."""
    return _meta(cls)[name][_BOUND]


def field_help(cls: type, name: str) -> str:
    """The help line of the key `name` of the table class `cls` ("" when it has none)."""
    return str(_meta(cls).get(name, {}).get(_HELP, ""))


def field_hint(cls: type, name: str) -> str:
    """The error hint of the numeric key `name` (`0 = off`), "" when it has none."""
    return str(_meta(cls).get(name, {}).get(_HINT, ""))


def is_bounded(cls: type, name: str) -> bool:
    """Whether the key `name` of `cls` has a range (every numeric key has one)."""
    return _BOUND in _meta(cls).get(name, {})


def type_text(typ: Any) -> str:
    """A field type as the reference and the flags show it: `int`, `list[str]`, `a|b|c`."""
    origin = get_origin(typ)
    if origin is Literal:
        return "|".join(get_args(typ))
    if origin is list:
        return f"list[{type_text(get_args(typ)[0])}]"
    return getattr(typ, "__name__", str(typ))


# ------------------------------------------------------------------ coercion
def _scalar(typ: Any, value: Any) -> Any:
    """`value` converted to `int` or `float` (finite), or `ValueError`."""
    if isinstance(value, bool):
        raise ValueError(value)
    if typ is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _given(value: Any) -> str:
    """A refused value as the message quotes it: a flag's text `'big'`, but `nan` as `nan`."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return shown(value)
        if not math.isfinite(number):
            return number_text(number)
    return shown(value)


def _numbers(path: str, value: Any, typ: Any, meta: dict[str, Any]) -> Any:
    """A number (or list of numbers) key's value converted and checked against its range."""
    origin = get_origin(typ)
    inner = get_args(typ)[0] if origin is list else typ
    bound: Bound = meta[_BOUND]
    what, hint = bound.expects(inner is int), meta[_HINT]
    items: Any = [value]
    if origin is list and isinstance(value, str):
        items = [v for v in value.split(",") if v != ""]
    elif origin is list:
        try:
            items = list(value)
        except TypeError:
            what = f"a list of numbers {bound.describe()}"
            raise ConfigError(must_be(path, what, shown(value))) from None
    out = []
    for item in items:
        try:
            number = _scalar(inner, item)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(must_be(path, what, _given(item), hint)) from None
        if number not in bound:
            given = shown(item) if isinstance(item, (int, float)) else number_text(number)
            raise ConfigError(must_be(path, what, given, hint))
        out.append(number)
    result = out if origin is list else out[0]
    if meta[_CHECK] is not None:
        meta[_CHECK](path, result)
    return result


def _plain(path: str, value: Any, typ: Any) -> Any:
    """A choice, bool, str or list key's value converted, or `ValueError` / `ConfigError`."""
    origin = get_origin(typ)
    if origin is Literal:
        choices = get_args(typ)
        if str(value) not in choices:
            valid = ", ".join(choices)
            raise ConfigError(f"{path} = {value!r} is not valid; choose one of {valid}")
        return str(value)
    if typ is bool:
        if isinstance(value, str):
            low = value.lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(value)
        return bool(value)
    if typ in (int, float):
        return _scalar(typ, value)
    if typ is str:
        return str(value)
    if origin is list:
        (inner,) = get_args(typ)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""] if inner is not str else [value]
        return [coerce(path, v, inner) for v in value]
    raise ValueError(value)


def coerce(path: str, value: Any, typ: Any, meta: dict[str, Any] | None = None) -> Any:
    """Convert `value` to the field type `typ` and check its range (from `meta`), or raise
    naming the key (as `path` spells it) and the fix."""
    if meta is not None and _BOUND in meta and (typ in (int, float) or get_origin(typ) is list):
        return _numbers(path, value, typ, meta)
    try:
        return _plain(path, value, typ)
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        pass
    name = getattr(typ, "__name__", str(typ))
    raise ConfigError(f"{path} = {value!r} is not a valid {name}; fix the value in your config")


def check_split(name: str, split: list[float]) -> None:
    """Three fractions (train, val, test) that sum to 1."""
    if len(split) != 3 or abs(sum(split) - 1.0) > 1e-6:
        what = "three numbers in [0, 1] (train, val, test) summing to 1"
        raise ConfigError(must_be(name, what, shown(split), "e.g. [0.9, 0.05, 0.05]"))


# ------------------------------------------------------------------ the table base
class Table:
    """A config table: assigning a field converts the value to its type and checks it."""

    NAME: ClassVar[str] = ""

    def __setattr__(self, name: str, value: Any) -> None:
        self.assign(name, value)

    def assign(self, name: str, value: Any, spelled: str | None = None) -> None:
        """Set `name` to `value`, converted and checked; errors call it `spelled` (a CLI
        flag's spelling), else `table.key`."""
        super().__setattr__(name, check_value(type(self), name, value, spelled))

    def check(self) -> Table:
        """Check every key again (each is checked when set; this catches values written
        around `__setattr__`) and return the table."""
        for name in self.keys():
            self.assign(name, getattr(self, name))
        return self

    @classmethod
    def keys(cls) -> list[str]:
        """The table's keys, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]


def check_value(table: type[Table], name: str, value: Any, spelled: str | None = None) -> Any:
    """`value` converted to the type of the key `name` of `table` and checked (its choices,
    its range); errors call it `spelled` (a CLI flag's spelling), else `table.key`."""
    types = hints(table)
    if name not in types or name == "NAME":
        raise ConfigError(
            f"unknown config key {table.NAME}.{name}; valid keys: "
            + ", ".join(f"{table.NAME}.{f.name}" for f in dataclasses.fields(table))  # type: ignore[arg-type]
        )
    path = spelled or f"{table.NAME}.{name}"
    return coerce(path, value, types[name], _meta(table).get(name))
