"""The `rnnkit` command line: each subcommand parses its arguments and calls one library function.

Every subcommand has an `_add_<name>(sub)` that declares its arguments and a `_run_<name>(args)`
that does the work; imports of heavy modules happen inside `_run_*` so `--help` stays fast.
Errors a user can cause (`RnnkitError`) are printed on one line with a non-zero exit.

The flags that set config keys are generated from the keys' fields (`rnnkit.config.flags`:
name, help, range, default), the sampling flags from the `SamplingOptions` fields, so no
flag can drift from the library. Every number and choice a flag sets is checked where its
config key is (`rnnkit.config`), or by `check_sampling` for the sampling flags, so a bad
value reads the same as in a config file, only spelled as the flag:
`--hidden-size must be an integer in [1, 65536], got -5`.
The number flags therefore reach the checks as given (argparse does not convert them); what
argparse itself refuses (an unknown flag, a missing argument) is one line too,
`rnnkit train: error: ...; see rnnkit train --help`, exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from rnnkit._version import __version__
from rnnkit.errors import ConfigError, RnnkitError

if TYPE_CHECKING:
    from rnnkit.config import RunConfig
    from rnnkit.text.tokenize import WordTokenizer


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print `PROG: error: MESSAGE; see PROG --help` on one line and exit 2."""
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text}; see {self.prog} --help\n")


def _int_or_text(text: str) -> int | str:
    """An integer flag's value, or the text itself when it is not one (the check that
    follows names the flag, its range and the text)."""
    try:
        return int(text)
    except ValueError:
        return text


def _number_or_text(text: str) -> float | str:
    """A number flag's value, or the text itself when it is not one (see `_int_or_text`)."""
    try:
        return float(text)
    except ValueError:
        return text


def _in_range(flag: str, value: Any, low: int, high: int | None = None, hint: str = "") -> int:
    """`value` if it is an integer from `low` to `high` (`None` = no end), else a
    `ConfigError` worded as the config's: `--port must be an integer in [0, 65535], got 'x'`."""
    from rnnkit.config import Bound, must_be, shown

    bound = Bound(low, high)
    if isinstance(value, bool) or not isinstance(value, int) or value not in bound:
        raise ConfigError(must_be(flag, bound.expects(integer=True), shown(value), hint))
    return value


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the named corpora and where each is found")
    p.set_defaults(run=_run_datasets)


def _run_datasets(args: argparse.Namespace) -> int:
    from rnnkit.text.corpora import describe_datasets

    for name, description, location in describe_datasets():
        print(f"{name:<12} {description}\n{'':<12} {location}")
    return 0


def _add_presets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the shipped presets and the task each is for")
    p.set_defaults(run=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from rnnkit.config import list_presets, preset_description, preset_task

    for name in list_presets():
        task = "forecast" if preset_task(name) == "forecast" else "train"
        print(f"{name:<20} {task:<9} {preset_description(name)}")
    return 0


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="check the scratch (and fused) cores against torch.nn, print a table"
    )
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from rnnkit.nn.parity import TOLERANCES, verify

    tolerance = TOLERANCES[args.dtype]
    print(f"parity against torch.nn, {args.dtype}, tolerance {tolerance:g} (max abs difference)")
    header = (
        f"{'kind':<5} {'impl':<8} {'layers':>6} {'direction':<10} "
        f"{'output':>9} {'state':>9} {'grad':>9}  result"
    )
    print(header)
    print("-" * len(header))
    rows = verify(dtype=args.dtype)
    for row in rows:
        direction = "bi" if row.bidirectional else "uni"
        print(
            f"{row.kind:<5} {row.impl:<8} {row.num_layers:>6} {direction:<10} "
            f"{row.output:>9.1e} {row.state:>9.1e} {row.grad:>9.1e}  "
            f"{'ok' if row.ok(tolerance) else 'MISMATCH'}"
        )
    all_ok = all(row.ok(tolerance) for row in rows)
    print("all match" if all_ok else "MISMATCH: some differences exceed the tolerance")
    return 0 if all_ok else 1


def _flag_name(key: str) -> str:
    """A key's flag name, as `rnnkit.config.flags.flag_name`: `model.hidden_size` ->
    `hidden-size`."""
    return key.rpartition(".")[2].replace("_", "-")


# The keys `rnnkit train` has a flag for (`--hidden-size` sets model.hidden_size); each
# flag's type, range, help and default come from the key's field (`rnnkit.config.flags`).
TRAIN_KEYS = (
    "data.level",
    "data.normalize",
    "data.max_tokens",
    "data.sampling",
    "data.batch_size",
    "data.num_steps",
    "model.kind",
    "model.impl",
    "model.hidden_size",
    "model.num_layers",
    "model.dropout",
    "model.embedding_dim",
    "model.input_mode",
    "model.tie_weights",
    "train.epochs",
    "train.max_steps",
    "train.time_budget",
    "train.optimizer",
    "train.lr",
    "train.weight_decay",
    "train.schedule",
    "train.precision",
    "train.clip",
    "train.patience",
    "train.eval_every",
    "train.seed",
    "train.threads",
    "train.device",
)
# flag name -> (table.key,): `--hidden-size` -> ("model.hidden_size",)
TRAIN_FLAGS = {_flag_name(key): (key,) for key in TRAIN_KEYS}


def _add_train(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config import RunConfig
    from rnnkit.config.flags import add_key_flags

    p = sub.add_parser(
        "train",
        help="train a language model on a corpus or text file",
        description="Config layers, later wins: the preset (default, or words at word level), "
        "--config, SOURCE, the flags below, then --set.",
    )
    p.add_argument("source", nargs="?", help="named corpus (see `rnnkit datasets`) or a path")
    p.add_argument("--preset", help="start from a shipped preset (see `rnnkit presets`)")
    p.add_argument("--config", help="a TOML file with [data] [model] [train] [generate] tables")
    p.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="set any config key"
    )
    p.add_argument("--out", help="run folder (default runs/<preset or source>-<timestamp>)")
    p.add_argument("--resume", help="continue the run in this folder from its last.pt")
    add_key_flags(p, RunConfig.table_types(), TRAIN_KEYS)
    p.add_argument("--quiet", action="store_true", help="print the done line and errors only")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(run=_run_train)


def _train_config(args: argparse.Namespace) -> RunConfig:
    """The layers of `rnnkit train`: preset -> --config -> SOURCE -> flags -> --set (or, with
    --resume, the saved config, then the same layers above the preset)."""
    from rnnkit.config import RunConfig, resolve, resume_config
    from rnnkit.config.flags import flag_layer
    from rnnkit.config.resolve import user_layers

    flags = flag_layer(args, {flag: key for flag, (key,) in TRAIN_FLAGS.items()})
    args.typed_flags = dict(flags.names)  # errors spell these keys as typed
    if not args.resume:  # the flags are layers too: `--level word` picks the word defaults
        return resolve(args.source, args.preset, args.config, args.set, flags)
    if args.preset:
        raise ConfigError("--resume continues a run with its own config; drop --preset")
    layers = user_layers(RunConfig, args.config, args.source, flags, args.set)
    return resume_config(args.resume, layers)


def spell_as_typed(message: str, typed_flags: dict[str, str]) -> str:
    """`message` with each config key the user gave as a flag spelled as that flag: the
    library names `series.horizon`, the user who typed `--horizon` reads `--horizon`."""
    for key, flag in typed_flags.items():
        message = re.sub(rf"(?<![\w.]){re.escape(key)}(?![\w])", flag, message)
    return message


def _run_train(args: argparse.Namespace) -> int:
    from rnnkit.config import to_json

    cfg = _train_config(args)
    if args.print_config:
        print(to_json(cfg))
        return 0
    from rnnkit.lm.train import train_lm

    result = train_lm(cfg, out=args.out, resume=args.resume, quiet=args.quiet, lines=not args.quiet)
    return 130 if result.interrupted else 0


# The keys of `rnnkit generate`, `eval` and `serve` that say how a model runs.
INFERENCE_KEYS = ("inference.device", "inference.threads")


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    """`--checkpoint` and `--backend`, as `generate` and `serve` read a trained model."""
    p.add_argument(
        "--checkpoint",
        required=True,
        help="run folder (uses best.pt), .pt file, ONNX export folder or its model.onnx",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnx"],
        help="torch reads a .pt, onnx an export (numpy + onnxruntime, no torch); auto: a "
        ".onnx file or a folder with model.json + model.onnx and no .pt is onnx; a folder "
        "with both uses the .pt when torch is installed, else the export",
    )


# The sampling flags' help (their names, types and defaults are the `SamplingOptions`
# fields', their ranges `LIMITS`').
SAMPLING_HELP = {
    "prefix": "text to continue (empty: start from unigrams)",
    "length": "tokens to generate",
    "temperature": "0 means greedy",
    "top_k": "sample from the k most likely (0 = all)",
    "top_p": "nucleus sampling mass",
    "num_samples": "samples generated as one batch",
    "beam": "beam search with this width",
    "seed": "seed for reproducible samples",
}


def _add_sampling_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `SamplingOptions` field, its default the field's; numbers that do not
    parse stay text, for `check_sampling` to name with the flag."""
    from dataclasses import fields
    from typing import get_type_hints

    from rnnkit.config.flags import default_text
    from rnnkit.decode.options import LIMITS, SamplingOptions

    types = get_type_hints(SamplingOptions)
    for f in fields(SamplingOptions):
        typ = types[f.name]
        convert = _number_or_text if typ is float else str if typ is str else _int_or_text
        bound = getattr(LIMITS, f.name)
        where = "" if typ is str or str(bound) == "any" else f"{bound}, "
        help_text = f"{SAMPLING_HELP[f.name]} ({where}default {default_text(f.default)})"
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=convert, default=f.default, help=help_text)
        if f.name == "temperature":
            p.add_argument("--greedy", action="store_true", help="always the most likely token")


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config.flags import add_key_flags
    from rnnkit.config.tables import InferenceConfig

    p = sub.add_parser("generate", help="generate text from a trained language model")
    _add_model_flags(p)
    _add_sampling_flags(p)
    add_key_flags(p, {"inference": InferenceConfig}, INFERENCE_KEYS, layered=False)
    p.set_defaults(run=_run_generate)


def _print_generation(
    texts: list[str] | None,
    prefix: str,
    steps: Iterator[list[str]],
    level: str | WordTokenizer,
) -> None:
    """Print whole texts (beam or several samples), or stream one sample's tokens (`level`:
    "char" or the model's `WordTokenizer`, whose `StepJoiner` spaces the words)."""
    from rnnkit.decode.prefix import StepJoiner

    if texts is not None:
        for i, text in enumerate(texts):
            if len(texts) > 1:
                print(f"--- sample {i + 1}")
            print(text)
        return
    print(prefix, end="", flush=True)
    joiner = StepJoiner(prefix, level, 1)
    for tokens in steps:
        print(*joiner.pieces(tokens), sep="", end="", flush=True)
    print()


def _run_generate(args: argparse.Namespace) -> int:
    from rnnkit.decode.options import OPTION_NAMES, SamplingOptions, normalized

    # The flags are the options' names (`--num-samples` is `num_samples`); checked first,
    # so a bad one fails before the checkpoint loads, its message naming the flag.
    values = {name: getattr(args, name) for name in OPTION_NAMES}
    if args.greedy:
        values["temperature"] = 0.0
    options = SamplingOptions.checked(values, spell=lambda name: "--" + name.replace("_", "-"))
    from rnnkit.config.flags import table_from_flags
    from rnnkit.config.tables import InferenceConfig
    from rnnkit.decode.backend import choose_backend, load_backend

    inference = table_from_flags(InferenceConfig, args, ["device", "threads"])
    threads = inference.threads
    backend = choose_backend(args.checkpoint, args.backend)
    lm = load_backend(args.checkpoint, backend, device=inference.device, threads=threads)
    if backend == "torch":  # torch's threads are process-wide: the command line sets them
        from rnnkit.training.environment import set_threads
        from rnnkit.training.threads import usable_cores

        set_threads(threads or usable_cores())  # 0: the cores this process may use
    options = normalized(options, lm.normalize)  # once: the calls take it as it is
    whole = options.beam > 0 or options.num_samples > 1
    texts = lm.generate(options=options) if whole else None
    steps = iter(()) if whole else lm.stream(options=options)
    _print_generation(texts, options.prefix, steps, lm.tokenizer)
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config.flags import add_key_flags
    from rnnkit.config.tables import InferenceConfig

    p = sub.add_parser("eval", help="loss, perplexity and bits per token on held-out text")
    p.add_argument("--checkpoint", required=True, help="run folder (uses best.pt) or .pt file")
    p.add_argument("source", nargs="?", help="another corpus or path to score (whole text)")
    p.add_argument("--split", default="val", choices=["val", "test"])
    add_key_flags(p, {"inference": InferenceConfig}, ["inference.device"], layered=False)
    p.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from rnnkit.config.flags import table_from_flags
    from rnnkit.config.tables import InferenceConfig

    device = table_from_flags(InferenceConfig, args, ["device"]).device
    from rnnkit.lm.evaluate import evaluate
    from rnnkit.lm.load import load

    r = evaluate(load(args.checkpoint, device=device), args.source, args.split)
    print(
        f"{r['source']} [{r['split']}] {r['tokens']:,} tokens: loss {r['loss']:.4f}  "
        f"ppl {r['ppl']:.3f}  bits/token {r['bits_per_token']:.4f}  <unk> {r['unk']:.2%}"
    )
    return 0


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what a checkpoint holds")
    p.add_argument("checkpoint", help="run folder or .pt file")
    p.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from rnnkit.lm import load as api

    for key, value in api.info(args.checkpoint).items():
        print(f"{key:<16} {value}")
    return 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config.flags import add_key_flags
    from rnnkit.config.tables import InferenceConfig

    p = sub.add_parser(
        "inspect",
        help="look inside a trained language model: readable cells, gates, an HTML page",
        description="Run the model over a text, list the cells that follow simple properties "
        "of it (quotes, brackets, position in the line, indentation, words, newlines) and "
        "write one self-contained HTML page: the text coloured by cells and the gates' "
        "saturation per layer.",
    )
    p.add_argument("--checkpoint", required=True, help="run folder (uses best.pt) or .pt file")
    p.add_argument("--text", required=True, metavar="FILE", help="the text to run the model on")
    p.add_argument("--out", required=True, metavar="PAGE.html", help="the HTML page to write")
    p.add_argument(
        "--layer", type=_int_or_text, help="colour the text by this layer's --cell (0-based)"
    )
    p.add_argument(
        "--cell",
        type=_int_or_text,
        help="the cell of --layer (0-based); default: each property's best cell",
    )
    p.add_argument(
        "--max-chars",
        type=_int_or_text,
        default=5000,
        help="read the first N characters of the text (default 5000)",
    )
    p.add_argument("--top", type=_int_or_text, default=4, help="cells listed per property")
    add_key_flags(p, {"inference": InferenceConfig}, ["inference.threads"], layered=False)
    p.set_defaults(run=_run_inspect)


def _print_readable(matches: list[Any], signal: str, tokens: int) -> None:
    """The readable cells, one line per property, then the properties no cell tracks."""
    from rnnkit.lm.inspect import READABLE_R

    what = "cell state c" if signal == "c" else "hidden state h"
    print(f"readable cells ({what}, {tokens:,} tokens; layer #cell r):")
    for m in matches:
        if not m.cells:
            print(f"  {m.description:<54} not in the text")
            continue
        rest = ", ".join(f"L{c.layer} #{c.cell} {c.r:+.2f}" for c in m.cells[1:])
        best = m.cells[0]
        print(f"  {m.description:<54} L{best.layer} #{best.cell:<5} {best.r:+.2f}   ({rest})")
    weak = [m.description for m in matches if m.cells and not m.tracked]
    if weak:
        print(f"no cell tracks (|r| < {READABLE_R}): {'; '.join(weak)}")


def _run_inspect(args: argparse.Namespace) -> int:
    from rnnkit.errors import DataError

    if (args.layer is None) != (args.cell is None):
        raise ConfigError("--layer and --cell go together; give both, or neither")
    max_chars = _in_range("--max-chars", args.max_chars, 1)
    top = _in_range("--top", args.top, 1)
    layer = None if args.layer is None else _in_range("--layer", args.layer, 0)
    cell = None if args.cell is None else _in_range("--cell", args.cell, 0)
    from pathlib import Path

    from rnnkit.config.flags import table_from_flags
    from rnnkit.config.tables import InferenceConfig
    from rnnkit.lm.inspect import load_for_inspect, trace
    from rnnkit.lm.inspect_page import build_page
    from rnnkit.storage import storage_errors, write_atomic
    from rnnkit.training.environment import set_threads

    set_threads(table_from_flags(InferenceConfig, args, ["threads"]).threads)
    lm = load_for_inspect(args.checkpoint)
    if not Path(args.text).is_file():
        raise DataError(f"--text {args.text} is not a file; pass the text to run the model on")
    with storage_errors(args.text, "read"):
        text = Path(args.text).read_text(encoding="utf-8", errors="replace")[:max_chars]
    t = trace(lm, text)
    page, matches = build_page(t, str(args.checkpoint), layer, cell, top)
    _print_readable(matches, t.signal, len(t.tokens))
    write_atomic(args.out, page)
    print(f"wrote {args.out}")
    return 0


# The keys `rnnkit forecast` has a flag for; as TRAIN_KEYS, generated from the fields.
FORECAST_KEYS = (
    "series.target",
    "series.time_col",
    "series.covariates",
    "series.horizon",
    "series.lookback",
    "series.strategy",
    "series.transform",
    "series.scaler",
    "series.likelihood",
    "series.season",
    "series.fill",
    "model.kind",
    "model.impl",
    "model.hidden_size",
    "model.num_layers",
    "model.dropout",
    "train.epochs",
    "train.max_steps",
    "train.lr",
    "train.seed",
    "train.threads",
    "train.device",
)
# flag name -> (table.key,): `--hidden-size` -> ("model.hidden_size",)
FORECAST_FLAGS = {_flag_name(key): (key,) for key in FORECAST_KEYS}


MAX_SEEDS = 1000  # independent fits of `rnnkit forecast --seeds`


def _add_forecast(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config import ForecastConfig
    from rnnkit.config.flags import add_key_flags

    p = sub.add_parser(
        "forecast",
        help="fit a recurrent forecaster on a series, score the held-out tail against baselines",
        description="Hold out the last --horizon points, fit, forecast them, and write "
        "forecast.csv, forecast.png, metrics.json and best.pt / last.pt into the run folder. "
        "With --checkpoint, forecast past the end of SOURCE without retraining. Config layers, "
        "later wins: the generic defaults, the preset (forecast-SOURCE for a built-in SOURCE "
        "unless --preset or --config), --config, SOURCE, the flags below, then --set.",
    )
    p.add_argument("source", help="sine, noisy-sine, sunspots, co2 (rnnkit[ts]) or a CSV path")
    p.add_argument("--preset", help="start from a shipped forecast preset (see `rnnkit presets`)")
    p.add_argument("--config", help="a TOML file with [series] [model] [train] tables")
    p.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="set any config key"
    )
    add_key_flags(p, ForecastConfig.table_types(), FORECAST_KEYS)
    p.add_argument("--seeds", type=_int_or_text, default=1, help="independent fits (mean ± std)")
    p.add_argument(
        "--backtest",
        type=_int_or_text,
        default=0,
        metavar="N",
        help="also score from N origins a horizon apart (the last is the test part; seed 1)",
    )
    p.add_argument("--out", help="run folder (default runs/forecast-<source>-<timestamp>)")
    p.add_argument("--checkpoint", help="run folder or .pt: forecast without retraining")
    p.add_argument(
        "--id-col",
        default="",
        metavar="NAME",
        help="many series in a long CSV: the column naming each row's series (found without "
        "the flag when named id, unique_id, series, series_id or key)",
    )
    p.add_argument(
        "--many", action="store_true", help="many series in a wide CSV: one column per series"
    )
    p.add_argument("--quiet", action="store_true", help="print the summary line only")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(run=_run_forecast)


def _run_forecast(args: argparse.Namespace) -> int:
    from rnnkit.config import resolve_forecast, to_json

    # With --checkpoint the saved forecaster keeps its own config: no source preset, so
    # only what is given here (horizon, fill, CSV columns) changes the forecast.
    preset = args.preset if args.preset or not args.checkpoint else ""
    from rnnkit.config.flags import flag_layer

    flags = flag_layer(args, {flag: key for flag, (key,) in FORECAST_FLAGS.items()})
    args.typed_flags = dict(flags.names)  # errors spell these keys as typed
    cfg = resolve_forecast(args.source, preset, args.config, args.set, flags)
    seeds = _in_range("--seeds", args.seeds, 1, MAX_SEEDS)
    rolling = _in_range("--backtest", args.backtest, 0, MAX_SEEDS)
    if args.print_config:
        print(to_json(cfg))
        return 0
    from rnnkit.forecast.many import is_panel_checkpoint, run_forecast_many
    from rnnkit.forecast.panel import is_panel_csv

    lines: list[str] = []  # --quiet: the summary line (the last) alone is printed
    echo = lines.append if args.quiet else print
    panel_ckpt = bool(args.checkpoint) and is_panel_checkpoint(args.checkpoint)
    if panel_ckpt or is_panel_csv(args.source, args.id_col, args.many):
        if seeds > 1 or rolling:
            raise ConfigError(
                "--seeds and --backtest score one series; a panel is scored on each series' "
                "rolling origins: drop them"
            )
        many = dict(id_col=args.id_col, many=args.many, out=args.out, checkpoint=args.checkpoint)
        run_forecast_many(args.source, cfg, **many, echo=echo)
        if lines:
            print(lines[-1])
        return 0
    from rnnkit.forecast.backtest import run_forecast

    run_forecast(
        args.source,
        cfg,
        seeds=seeds,
        out=args.out,
        checkpoint=args.checkpoint,
        quiet=args.quiet,
        rolling=rolling,
        echo=echo,
    )
    if lines:
        print(lines[-1])
    return 0


# The keys `rnnkit classify` has a flag for; as TRAIN_KEYS, generated from the fields.
CLASSIFY_KEYS = (
    "data.test",
    "data.label_col",
    "data.level",
    "data.val_fraction",
    "data.references",
    "model.kind",
    "model.impl",
    "model.hidden_size",
    "model.num_layers",
    "model.bidirectional",
    "model.pooling",
    "model.dropout",
    "model.embed_size",
    "model.patch",
    "train.time_budget",
    "train.max_epochs",
    "train.batch_size",
    "train.optimizer",
    "train.lr",
    "train.weight_decay",
    "train.clip",
    "train.warmup_steps",
    "train.patience",
    "train.class_weights",
    "train.seed",
    "train.seeds",
    "train.threads",
    "train.device",
)
# flag name -> (table.key,): `--label-col` -> ("data.label_col",)
CLASSIFY_FLAGS = {_flag_name(key): (key,) for key in CLASSIFY_KEYS}


def _add_classify(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config import ClassifyConfig
    from rnnkit.config.flags import add_key_flags

    p = sub.add_parser(
        "classify",
        help="train a sequence classifier (series or texts), scored beside classical references",
        description="Train on DATA's training part, select on a stratified validation part of "
        "it, score on the test part beside the references, and write config.json, "
        "metrics.json(l), predictions.csv, confusion.png, curves.png and best.pt / last.pt "
        "into the run folder. With --checkpoint RUN, label NEW_DATA instead (a CSV of "
        "predictions, with the accuracy when it has labels). Config layers, later wins: the "
        "defaults, --config, DATA, the flags below, then --set; the automatic recipe chooses "
        "the model and optimisation keys that --config, the flags and --set do not give.",
    )
    p.add_argument(
        "source",
        nargs="?",
        metavar="DATA",
        help="a .ts file (NAME_TRAIN.ts), a CSV/TSV table, a folder (of MNIST IDX files, or "
        "of one subfolder of .txt files per class), digits, first-names or fashion-mnist; "
        "with --checkpoint, the data to label",
    )
    p.add_argument("--config", help="a TOML file with [data] [model] [train] tables")
    p.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="set any config key"
    )
    add_key_flags(p, ClassifyConfig.table_types(), CLASSIFY_KEYS)
    p.add_argument(
        "--out",
        help="run folder (default runs/classify-<name>-<timestamp>); with --checkpoint, the "
        "predictions CSV (default <run>/predict-<data>.csv)",
    )
    p.add_argument("--resume", help="continue the run in this folder from its last.pt")
    p.add_argument("--checkpoint", help="a classify run folder or .pt: label DATA with it")
    p.add_argument("--quiet", action="store_true", help="print the summary line only")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(run=_run_classify)


def _classify_predict(args: argparse.Namespace) -> int:
    """`rnnkit classify --checkpoint RUN NEW_DATA`: label the data, print one line."""
    from rnnkit.classify.run import predict_with

    if not args.source:
        raise ConfigError("--checkpoint labels new data; give the data file after the flags")
    if args.resume or args.print_config:
        raise ConfigError(
            "--checkpoint labels data with a trained run; drop --resume and --print-config"
        )
    predict_with(args.checkpoint, args.source, out=args.out, label_col=args.label_col or "")
    return 0


def _run_classify(args: argparse.Namespace) -> int:
    from rnnkit.config import ClassifyConfig, resolve_classify, resume_classify, to_json
    from rnnkit.config.flags import flag_layer
    from rnnkit.config.resolve import user_layers

    if args.checkpoint:
        return _classify_predict(args)
    flags = flag_layer(args, {flag: key for flag, (key,) in CLASSIFY_FLAGS.items()})
    args.typed_flags = dict(flags.names)  # errors spell these keys as typed
    if args.resume:
        layers = user_layers(ClassifyConfig, args.config, args.source, flags, args.set)
        cfg = resume_classify(args.resume, layers)
    elif not args.source and not args.config:
        raise ConfigError("no data to classify; give DATA (a .ts or CSV file, digits, ...)")
    else:
        cfg = resolve_classify(args.source, None, args.config, args.set, flags)
    if args.print_config:
        print(to_json(cfg))
        return 0
    from rnnkit.classify.run import run_classify

    echo = (lambda line: None) if args.quiet else print
    result = run_classify(None, cfg, out=args.out, echo=echo, resume=args.resume)
    if args.quiet:
        print(result["summary"])
    return 130 if result["interrupted"] else 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config.flags import add_key_flags, table_keys
    from rnnkit.config.tables import ServeConfig

    p = sub.add_parser(
        "serve",
        help="a local web playground: stream text from a trained model in the browser",
        description="Serve one page (prefix, sampling controls, one streaming column per "
        "sample, the model card and training curves) and its JSON/SSE API (/openapi.json). "
        "Needs the serve extra: pip install 'rnnkit[serve]'.",
    )
    _add_model_flags(p)
    add_key_flags(p, {"serve": ServeConfig}, table_keys(ServeConfig), layered=False)
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from dataclasses import fields
    from importlib.util import find_spec

    from rnnkit.config.flags import table_from_flags
    from rnnkit.config.tables import ServeConfig

    checked = table_from_flags(ServeConfig, args, [f.name for f in fields(ServeConfig)])
    port, workers, queue_size = checked.port, checked.workers, checked.queue_size
    threads = checked.threads

    missing = [name for name in ("fastapi", "uvicorn") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"rnnkit serve needs {' and '.join(missing)}; install them with "
            "pip install 'rnnkit[serve]'"
        )
    from rnnkit.serve import run

    run(
        args.checkpoint,
        host=checked.host,
        port=port,
        workers=workers,
        queue_size=queue_size,
        device=checked.device,
        threads=threads,
        backend=args.backend,
    )
    return 0


# The `data` keys `rnnkit prepare` has a flag for, with the keys' defaults.
PREPARE_KEYS = (
    "level",
    "normalize",
    "min_freq",
    "max_size",
    "max_tokens",
    "split",
    "encoding_errors",
    "nfc",
    "word_regex",
    "newlines",
    "lowercase",
)


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    from rnnkit.config import DataConfig
    from rnnkit.config.flags import add_key_flags

    p = sub.add_parser(
        "prepare",
        help="tokenise a corpus of any size into memory-mapped files for `rnnkit train DIR`",
    )
    p.add_argument("source", help="named corpus, UTF-8 file or folder of .txt files")
    p.add_argument("--out", required=True, help="folder to write (new or empty)")
    add_key_flags(p, {"data": DataConfig}, [f"data.{key}" for key in PREPARE_KEYS], False)
    p.add_argument("--force", action="store_true", help="replace a finished prepare in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from rnnkit.config import DataConfig
    from rnnkit.config.flags import table_from_flags

    data = table_from_flags(DataConfig, args, PREPARE_KEYS)
    data.source = args.source
    from rnnkit.text.prepared import prepare

    m = prepare(data, args.out, force=args.force, quiet=args.quiet)
    sizes = "/".join(f"{s['tokens']:,}" for s in m["splits"].values())
    print(
        f"prepared {m['source']} (sha1 {m['sha1'][:12]}) into {args.out}: "
        f"{m['num_tokens']:,} {m['level']} tokens, vocab {m['vocab_size']:,}, "
        f"train/val/test {sizes}, {m['dtype']}; train with `rnnkit train {args.out}`"
    )
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained language model for torch-free runtimes (ONNX)",
        description="Write DIR/model.onnx (one decoding step), DIR/vocab.json and "
        "DIR/model.json. Needs the export extra: pip install 'rnnkit[export]'.",
    )
    # Not `run`: that name holds the subcommand's function.
    p.add_argument("run_path", metavar="RUN", help="run folder (uses best.pt) or .pt file")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="the export format")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the files into")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from rnnkit.lm.export import export_onnx

    card = export_onnx(args.run_path, args.out)  # first: onnx and onnxscript are installed
    print(
        f"exported {args.run_path} ({card['kind']} {card['num_layers']}x{card['hidden_size']}, "
        f"vocab {card['vocab_size']:,}, {card['input_mode']} input) to {args.out}: "
        f"model.onnx (opset {card['opset']}), vocab.json, model.json"
    )
    return 0


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_datasets,
    _add_presets,
    _add_verify,
    _add_train,
    _add_generate,
    _add_eval,
    _add_info,
    _add_inspect,
    _add_forecast,
    _add_classify,
    _add_serve,
    _add_prepare,
    _add_export,
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = _Parser(
        prog="rnnkit",
        description="Recurrent sequence models: train, generate, evaluate, forecast, classify.",
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
        message = spell_as_typed(" ".join(str(exc).splitlines()), getattr(args, "typed_flags", {}))
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
