"""The options of one generation call, their bounds and their checks, said once.

Every entry point builds a `SamplingOptions`: `rnnkit.generate` / `rnnkit.stream` and the
runtime's `generate` / `stream` from their arguments (`prefix`, `length` and the keywords of
`SamplingKwargs`, declared once here: `**kwargs: Unpack[SamplingKwargs]`), `rnnkit generate`
from its flags, the playground from its JSON body.
`check_sampling` holds the rules. An entry point may pass tighter `SamplingLimits` (the
playground's, `LIMITS.tighten(length=2000, ...)`) and its own spelling of the names (the
CLI's `--num-samples`), so a bad option reads the same everywhere: the name, the allowed
range, the value given::

    num_samples must be an integer in [1, 1024], got -3        (Python)
    --num-samples must be an integer in [1, 1024], got -3      (CLI)
    num_samples must be an integer in [1, 8], got 9            (playground)

`random_seed` is what `seed=None` stands for: a fresh seed from `os.urandom`. A prefix is
normalised once per call (`normalized`): options already normalised for the model's
`data.normalize` are passed on as they are.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NoReturn, TypedDict

from rnnkit.config import Bound, GenerateConfig, field_bound, must_be, number_text, shown
from rnnkit.decode.prefix import normalize_prefix
from rnnkit.errors import ConfigError

# A drawn seed fits a JSON / JavaScript number exactly, so a reported seed can be replayed.
MAX_RANDOM_SEED = 2**53 - 1

__all__ = [
    "LIMITS",
    "MAX_RANDOM_SEED",
    "OPTION_NAMES",
    "SAMPLING_KEYWORDS",
    "Bound",
    "SamplingKwargs",
    "SamplingLimits",
    "SamplingOptionError",
    "SamplingOptions",
    "check_sampling",
    "normalized",
    "options_from_call",
    "random_seed",
]


class SamplingOptionError(ConfigError, ValueError):
    """A bad sampling option; `option` is its field name (however the message spells it).

    Also a `ValueError`, so that a pydantic validator reports it as a validation error.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class SamplingLimits:
    """The allowed range of every option (`prefix`: its length in characters)."""

    prefix: Bound = field(default=Bound())
    # The ranges the `generate` config table shares (training samples) are said there.
    length: Bound = field(default=field_bound(GenerateConfig, "length"))
    temperature: Bound = field(default=field_bound(GenerateConfig, "temperature"))
    top_k: Bound = field(default=field_bound(GenerateConfig, "top_k"))
    top_p: Bound = field(default=field_bound(GenerateConfig, "top_p"))
    num_samples: Bound = field(default=Bound(1, 1024))
    beam: Bound = field(default=Bound(0, 1024))
    seed: Bound = field(default=Bound())

    def tighten(self, **bounds: Bound | float) -> SamplingLimits:
        """These limits with some ranges narrowed (never widened).

        Args:
            bounds: option name -> a number (the new upper end) or a `Bound` to intersect.
        """
        changes = {}
        for name, bound in bounds.items():
            if name not in OPTION_NAMES:
                raise TypeError(f"no sampling option named {name!r}")
            extra = bound if isinstance(bound, Bound) else Bound(high=bound)
            changes[name] = getattr(self, name).narrow(extra)
        return replace(self, **changes)


LIMITS = SamplingLimits()

# The integer options (`prefix` is a string, `temperature` and `top_p` are numbers), and a
# hint where the range alone does not say what a value means.
_INTEGERS = ("length", "top_k", "num_samples", "beam", "seed")
_HINTS = {
    "temperature": "0 = greedy",
    "top_k": "0 keeps every token",
    "top_p": "1 keeps every token",
    "beam": "0 samples instead of beam search",
}


def _same(name: str) -> str:
    return name


def _fail(name: str, spell: Callable[[str], str], what: str, got: str, hint: str = "") -> NoReturn:
    raise SamplingOptionError(name, must_be(spell(name), what, got, hint))


def _check_one(name: str, value: Any, bound: Bound, spell: Callable[[str], str]) -> None:
    """Raise `SamplingOptionError` unless `value` has the option's type and lies in `bound`."""
    hint = _HINTS.get(name, "")
    if name == "prefix":
        most = f" of at most {number_text(bound.high)} characters" if bound.high is not None else ""
        if not isinstance(value, str):
            _fail(name, spell, f"a string{most}", shown(value))
        if len(value) not in bound:
            _fail(name, spell, f"a string{most}", f"{len(value)} characters")
        return
    is_bool = isinstance(value, bool)
    if name in _INTEGERS:
        if name == "seed" and value is None:
            return
        what = bound.expects(integer=True)
        if name == "seed":
            what += " or None"
        if is_bool or not isinstance(value, int) or value not in bound:
            _fail(name, spell, what, shown(value), hint)
        return
    what = bound.expects(integer=False)
    if (
        is_bool
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
        or value not in bound
    ):
        _fail(name, spell, what, shown(value), hint)


def check_sampling(
    values: Mapping[str, Any],
    limits: SamplingLimits = LIMITS,
    spell: Callable[[str], str] = _same,
) -> None:
    """Raise `SamplingOptionError` (a `ConfigError`) on the first bad option in `values`.

    Only the options present are checked (other keys are ignored). With a `beam` above 0,
    `num_samples` may be at most `beam`.

    Args:
        values: option name -> value, as given (nothing converted).
        limits: the ranges; an entry point narrows them with `LIMITS.tighten(...)`.
        spell: how the entry point writes an option's name (the CLI: `--num-samples`).
    """
    for name in OPTION_NAMES:
        if name in values:
            _check_one(name, values[name], getattr(limits, name), spell)
    beam, num_samples = values.get("beam", 0), values.get("num_samples", 1)
    if beam > 0 and num_samples > beam:
        bound = limits.num_samples.narrow(Bound(high=beam))
        what = f"an integer {bound.describe()} when {spell('beam')} is {beam}"
        _fail("num_samples", spell, what, shown(num_samples), "at most one per beam")


def random_seed() -> int:
    """A fresh seed from `os.urandom`, 0 to `MAX_RANDOM_SEED`: what `seed=None` stands for."""
    return int.from_bytes(os.urandom(8), "little") & MAX_RANDOM_SEED


@dataclass(frozen=True)
class SamplingOptions:
    """What to generate: checked when built (`SamplingOptionError` on the first bad field).

    Attributes:
        prefix: text to continue (the empty prefix starts from the training unigrams).
        length: new tokens per sample, 1 to 100,000.
        temperature: 0 = greedy; otherwise divides the logits (finite, >= 0).
        top_k: keep only the `top_k` most likely tokens (0 = all).
        top_p: nucleus sampling mass in (0, 1] (1 = all).
        num_samples: samples side by side, 1 to 1024 (at most `beam` when `beam > 0`).
        beam: beam width, 0 to 1024 (0 = sample; beam search ignores temperature, top-k,
            top-p and seed).
        seed: seeds a private generator; `None` draws one with `random_seed`.
    """

    prefix: str = ""
    length: int = 100
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    num_samples: int = 1
    beam: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        check_sampling(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """The options by name (a shallow copy)."""
        return {name: getattr(self, name) for name in OPTION_NAMES}

    @classmethod
    def checked(
        cls,
        values: Mapping[str, Any],
        limits: SamplingLimits = LIMITS,
        spell: Callable[[str], str] = _same,
    ) -> SamplingOptions:
        """Check `values` with an entry point's limits and spelling, then build the options."""
        check_sampling(values, limits, spell)
        return cls(**values)


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SamplingOptions))


class SamplingKwargs(TypedDict, total=False):
    """The keyword arguments of every `generate` / `stream` call (torch and runtime alike),
    declared once: `**kwargs: Unpack[SamplingKwargs]`. They are the `SamplingOptions` fields
    after `prefix` and `length` (which the calls take by position); see it for their meaning
    and defaults."""

    temperature: float
    top_k: int
    top_p: float
    num_samples: int
    beam: int
    seed: int | None


SAMPLING_KEYWORDS: tuple[str, ...] = tuple(SamplingKwargs.__annotations__)


def options_from_call(
    options: SamplingOptions | None,
    prefix: str,
    length: int,
    kwargs: Mapping[str, Any],
    normalize: str,
) -> SamplingOptions:
    """The options of a `generate` or `stream` call, torch path or runtime alike: `options`,
    or those built from the call's `prefix`, `length` and keyword arguments `kwargs`
    (`SamplingKwargs`), never both; the prefix normalised as the training text was
    (`normalize`, the model's `data.normalize`).

    Raises:
        TypeError: a keyword that is no sampling option (as Python says for a signature).
        ConfigError: a bad option, or `options` together with other arguments.
    """
    unknown = [name for name in kwargs if name not in SAMPLING_KEYWORDS]
    if unknown:
        raise TypeError(
            f"unexpected keyword argument {unknown[0]!r}; the sampling keywords are "
            f"{', '.join(SAMPLING_KEYWORDS)}"
        )
    given = {"prefix": prefix, "length": length, **kwargs}
    if options is None:
        options = SamplingOptions(**given)
    elif not isinstance(options, SamplingOptions):
        raise ConfigError(f"options must be a SamplingOptions, got {type(options).__name__}")
    else:
        defaults = SamplingOptions()
        changed = [n for n in OPTION_NAMES if n in given and given[n] != getattr(defaults, n)]
        if changed:
            raise ConfigError(
                f"pass options= or the keyword arguments, not both (also got {', '.join(changed)})"
            )
    return normalized(options, normalize)


# Set on the options `normalized` returns: the `data.normalize` their prefix was brought to.
_NORMALIZED_FOR = "_normalized_for"


def normalized(options: SamplingOptions, mode: str) -> SamplingOptions:
    """The options with the prefix as a model trained with `data.normalize` = `mode` reads it
    (`normalize_prefix`). Options that this function returned for the same mode come back
    as they are, so a prefix is normalised once however many layers pass it on (the
    playground's plan, then the model's `stream`); `dataclasses.replace` forgets it."""
    if getattr(options, _NORMALIZED_FOR, None) == mode:
        return options
    done = replace(options, prefix=normalize_prefix(options.prefix, mode))
    object.__setattr__(done, _NORMALIZED_FOR, mode)  # not a field: equality is unchanged
    return done
