"""The `rnnkit` command line: each subcommand parses its arguments and calls one library function.

Every subcommand has an `_add_<name>(sub)` that declares its arguments and a `_run_<name>(args)`
that does the work; imports of heavy modules happen inside `_run_*` so `--help` stays fast.
Errors a user can cause (`RnnkitError`) are printed on one line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rnnkit import __version__
from rnnkit.errors import RnnkitError


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the named corpora and where each is found")
    p.set_defaults(run=_run_datasets)


def _run_datasets(args: argparse.Namespace) -> int:
    from rnnkit.data.corpora import describe_datasets

    for name, description, location in describe_datasets():
        print(f"{name:<12} {description}\n{'':<12} {location}")
    return 0


def _add_presets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the shipped run presets")
    p.set_defaults(run=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from rnnkit.config import list_presets, preset_description

    for name in list_presets():
        print(f"{name:<16} {preset_description(name)}")
    return 0


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="check the scratch (and fused) cores against torch.nn, print a table"
    )
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from rnnkit.nn.parity import verify

    return 0 if verify(dtype=args.dtype) else 1


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_datasets,
    _add_presets,
    _add_verify,
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent sequence models: train, generate, evaluate, forecast.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = parser.add_subparsers(title="subcommands", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `rnnkit` and `python -m rnnkit`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except RnnkitError as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
