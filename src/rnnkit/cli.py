"""The `rnnkit` command line: each subcommand parses its arguments and calls one library function.

Every subcommand has an `_add_<name>(sub)` that declares its arguments and a `_run_<name>(args)`
that does the work; imports of heavy modules happen inside `_run_*` so `--help` stays fast.
Errors a user can cause (`RnnkitError`) are printed on one line with a non-zero exit.

Every number and choice a flag sets is checked where its config key is (`rnnkit.config`),
or by `check_sampling` for the sampling flags, so a bad value reads the same as in a config
file, only spelled as the flag: `--hidden-size must be an integer in [1, 65536], got -5`.
The number flags therefore reach the checks as given (argparse does not convert them); what
argparse itself refuses (an unknown flag, a missing argument) is one line too,
`rnnkit train: error: ...; see rnnkit train --help`, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from rnnkit._version import __version__
from rnnkit.errors import ConfigError, RnnkitError

if TYPE_CHECKING:
    from rnnkit.config import ForecastConfig, RunConfig, Table
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


def _checked(table: type[Table], key: str, value: Any, flag: str) -> Any:
    """`value` converted and checked as the config key `key` of `table` is, named `flag`."""
    from rnnkit.config import check_value

    return check_value(table, key, value, flag)


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


# Flags for the common config keys: flag name -> (table.key, type, help).
TRAIN_FLAGS: dict[str, tuple[str, type, str]] = {
    "level": ("data.level", str, "char or word tokens"),
    "normalize": ("data.normalize", str, "none, d2l or newlines"),
    "max-tokens": ("data.max_tokens", int, "train on the first N tokens (0 = use split)"),
    "sampling": ("data.sampling", str, "sequential or random batches"),
    "batch-size": ("data.batch_size", int, "parallel streams per batch"),
    "num-steps": ("data.num_steps", int, "time steps per batch (BPTT length)"),
    "kind": ("model.kind", str, "rnn, gru or lstm"),
    "impl": ("model.impl", str, "torch, scratch or fused"),
    "hidden-size": ("model.hidden_size", int, "hidden units per layer"),
    "num-layers": ("model.num_layers", int, "stacked recurrent layers"),
    "dropout": ("model.dropout", float, "dropout probability"),
    "embedding-dim": ("model.embedding_dim", int, "embedding size (0 = hidden size)"),
    "input-mode": ("model.input_mode", str, "embedding or onehot"),
    "epochs": ("train.epochs", int, "passes over the training text"),
    "max-steps": ("train.max_steps", int, "stop after N optimizer steps (0 = off)"),
    "time-budget": ("train.time_budget", float, "stop after N seconds of training (elapsed_s)"),
    "optimizer": ("train.optimizer", str, "sgd, adam or adamw"),
    "lr": ("train.lr", float, "learning rate"),
    "weight-decay": ("train.weight_decay", float, "weight decay"),
    "schedule": ("train.schedule", str, "constant, cosine or step"),
    "precision": ("train.precision", str, "fp32, or bf16 autocast for the training step"),
    "clip": ("train.clip", float, "clip gradients to this global norm (0 = off)"),
    "patience": ("train.patience", int, "early stopping after N evaluations without gain"),
    "eval-every": ("train.eval_every", int, "epochs between evaluations"),
    "seed": ("train.seed", int, "random seed"),
    "threads": ("train.threads", int, "torch threads (0 = torch default)"),
    "device": ("train.device", str, "auto, cpu or cuda"),
}


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a language model on a corpus or text file")
    p.add_argument("source", nargs="?", help="named corpus (see `rnnkit datasets`) or a path")
    p.add_argument("--preset", help="start from a shipped preset (see `rnnkit presets`)")
    p.add_argument("--config", help="a TOML file with [data] [model] [train] [generate] tables")
    p.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="set any config key"
    )
    p.add_argument("--out", help="run folder (default runs/<preset or source>-<timestamp>)")
    p.add_argument("--resume", help="continue the run in this folder from its last.pt")
    p.add_argument("--tie-weights", action="store_true", default=None, help="tie input/output")
    for flag, (key, _, text) in TRAIN_FLAGS.items():
        # The value stays text: the config converts and checks it, naming the flag.
        p.add_argument(f"--{flag}", help=f"{text} ({key})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(run=_run_train)


def _train_config(args: argparse.Namespace) -> RunConfig:
    from rnnkit.checkpoint import load_checkpoint
    from rnnkit.config import RunConfig, load_toml, resolve, update

    if not args.resume:  # the flags are layers too: `--level word` picks the word defaults
        return resolve(args.source, args.preset, args.config, then=lambda c: _flags(c, args))
    cfg = RunConfig.from_dict(load_checkpoint(args.resume, prefer="last")["config"])
    if args.preset:
        raise ConfigError("--resume continues a run with its own config; drop --preset")
    if args.config:
        update(cfg, load_toml(args.config))
    if args.source:
        cfg.data.source = args.source
    return _flags(cfg, args)


def _flags(cfg: RunConfig, args: argparse.Namespace) -> RunConfig:
    """The train flags and `--set` of `args`, applied to `cfg`."""
    from rnnkit.config import apply_overrides

    _apply_flags(cfg, args, {flag: key for flag, (key, _, _) in TRAIN_FLAGS.items()})
    if args.tie_weights:
        cfg.model.tie_weights = True
    return apply_overrides(cfg, args.set)


def _apply_flags(
    cfg: RunConfig | ForecastConfig, args: argparse.Namespace, keys: dict[str, str]
) -> None:
    """Set the config key of each flag given (`keys`: flag name -> table.key); a bad value
    fails naming the flag (`--hidden-size must be ...`)."""
    from rnnkit.config import set_key

    for flag, key in keys.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            set_key(cfg, key, value, f"--{flag}")


def _run_train(args: argparse.Namespace) -> int:
    from rnnkit.config import to_json

    cfg = _train_config(args)
    if args.print_config:
        print(to_json(cfg))
        return 0
    from rnnkit.lm.train import train_lm

    result = train_lm(cfg, out=args.out, resume=args.resume, quiet=args.quiet)
    return 130 if result.interrupted else 0


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


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from rnnkit.decode.options import LIMITS

    length = f"{LIMITS.length.low}..{LIMITS.length.high}"
    p = sub.add_parser("generate", help="generate text from a trained language model")
    _add_model_flags(p)
    p.add_argument("--prefix", default="", help="text to continue (empty: start from unigrams)")
    # Numbers that do not parse stay text, for `check_sampling` to name with the flag.
    integer, number = _int_or_text, _number_or_text
    p.add_argument("--length", type=integer, default=200, help=f"tokens to generate ({length})")
    p.add_argument("--temperature", type=number, default=1.0, help="0 means greedy")
    p.add_argument("--greedy", action="store_true", help="always the most likely token")
    p.add_argument(
        "--top-k", type=integer, default=0, help="sample from the k most likely (0 = all)"
    )
    p.add_argument("--top-p", type=number, default=1.0, help="nucleus sampling mass")
    p.add_argument("--beam", type=integer, default=0, help="beam search with this width")
    p.add_argument("--num-samples", type=integer, default=1, help="samples generated as one batch")
    p.add_argument("--seed", type=integer, default=None, help="seed for reproducible samples")
    p.add_argument(
        "--device", default="cpu", choices=["auto", "cpu", "cuda"], help="onnx: cpu only"
    )
    p.add_argument("--threads", default="0", help="torch / onnxruntime threads (0 = default)")
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
    from rnnkit.config import TrainConfig
    from rnnkit.decode.backend import choose_backend, load_backend

    threads = _checked(TrainConfig, "threads", args.threads, "--threads")
    backend = choose_backend(args.checkpoint, args.backend)
    lm = load_backend(args.checkpoint, backend, device=args.device, threads=threads)
    if backend == "torch":  # torch's threads are process-wide: the command line sets them
        from rnnkit.training.environment import set_threads

        set_threads(threads)
    options = normalized(options, lm.normalize)  # once: the calls take it as it is
    whole = options.beam > 0 or options.num_samples > 1
    texts = lm.generate(options=options) if whole else None
    steps = iter(()) if whole else lm.stream(options=options)
    _print_generation(texts, options.prefix, steps, lm.tokenizer)
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="loss, perplexity and bits per token on held-out text")
    p.add_argument("--checkpoint", required=True, help="run folder (uses best.pt) or .pt file")
    p.add_argument("source", nargs="?", help="another corpus or path to score (whole text)")
    p.add_argument("--split", default="val", choices=["val", "test"])
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from rnnkit.lm.evaluate import evaluate
    from rnnkit.lm.load import load

    r = evaluate(load(args.checkpoint, device=args.device), args.source, args.split)
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


# Flags of `rnnkit forecast` for the common config keys: flag name -> (table.key, help). A
# flag's type, choices and nargs follow the key's type in `rnnkit.config.ForecastConfig`.
FORECAST_FLAGS: dict[str, tuple[str, str]] = {
    "target": ("series.target", "CSV target column(s) (default: all numeric)"),
    "time-col": ("series.time_col", "CSV time column"),
    "covariates": ("series.covariates", "CSV covariate column(s)"),
    "horizon": ("series.horizon", "points to forecast (and hold out)"),
    "lookback": ("series.lookback", "points of history each forecast reads"),
    "strategy": ("series.strategy", "one step at a time, or one multi-step head"),
    "transform": ("series.transform", "first differences or per-window levels"),
    "scaler": ("series.scaler", "scaling fit on the training part"),
    "likelihood": ("series.likelihood", "gaussian gives intervals"),
    "season": ("series.season", "season length for seasonal naive and MASE"),
    "fill": ("series.fill", "what to do with missing CSV cells"),
    "kind": ("model.kind", "recurrent cell"),
    "impl": ("model.impl", "the core's implementation"),
    "hidden-size": ("model.hidden_size", "hidden units per layer"),
    "num-layers": ("model.num_layers", "stacked recurrent layers"),
    "dropout": ("model.dropout", "dropout between layers"),
    "epochs": ("train.epochs", "passes over the training windows"),
    "max-steps": ("train.max_steps", "stop after N optimizer steps (0 = off)"),
    "lr": ("train.lr", "learning rate"),
    "seed": ("train.seed", "random seed (of the first fit)"),
    "threads": ("train.threads", "torch threads (0 = one)"),
    "device": ("train.device", "auto, cpu or cuda"),
}


MAX_SEEDS = 1000  # independent fits of `rnnkit forecast --seeds`


def _add_forecast(sub: argparse._SubParsersAction) -> None:
    from typing import Literal, get_args, get_origin, get_type_hints

    from rnnkit.config import ForecastConfig

    p = sub.add_parser(
        "forecast",
        help="fit a recurrent forecaster on a series, score the held-out tail against baselines",
        description="Hold out the last --horizon points, fit, forecast them, and write "
        "forecast.csv, forecast.png, metrics.json and best.pt / last.pt into the run folder. "
        "With --checkpoint, forecast past the end of SOURCE without retraining. Config layers, "
        "later wins: the generic defaults, the preset (forecast-SOURCE for a built-in SOURCE "
        "unless --preset or --config), --config, SOURCE, --set, then the flags below.",
    )
    p.add_argument("source", help="sine, noisy-sine, sunspots, co2 (rnnkit[ts]) or a CSV path")
    p.add_argument("--preset", help="start from a shipped forecast preset (see `rnnkit presets`)")
    p.add_argument("--config", help="a TOML file with [series] [model] [train] tables")
    p.add_argument(
        "--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="set any config key"
    )
    tables = get_type_hints(ForecastConfig)
    for flag, (key, text) in FORECAST_FLAGS.items():
        # Values stay text: the config converts and checks them, naming the flag.
        table, name = key.split(".")
        hint = get_type_hints(tables[table])[name]
        extra: dict[str, Any] = {}
        if get_origin(hint) is list:
            extra = {"nargs": "+"}
        elif get_origin(hint) is Literal:
            extra = {"metavar": "{" + ",".join(get_args(hint)) + "}"}
        p.add_argument(f"--{flag}", help=f"{text} ({key})", **extra)
    p.add_argument("--seeds", type=_int_or_text, default=1, help="independent fits (mean ± std)")
    p.add_argument("--out", help="run folder (default runs/forecast-<source>-<timestamp>)")
    p.add_argument("--checkpoint", help="run folder or .pt: forecast without retraining")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(run=_run_forecast)


def _run_forecast(args: argparse.Namespace) -> int:
    from rnnkit.config import resolve_forecast, to_json

    # With --checkpoint the saved forecaster keeps its own config: no source preset, so
    # only what is given here (horizon, fill, CSV columns) changes the forecast.
    preset = args.preset if args.preset or not args.checkpoint else ""
    cfg = resolve_forecast(args.source, preset, args.config, args.set)
    _apply_flags(cfg, args, {flag: key for flag, (key, _) in FORECAST_FLAGS.items()})
    seeds = _in_range("--seeds", args.seeds, 1, MAX_SEEDS)
    if args.print_config:
        print(to_json(cfg))
        return 0
    from rnnkit.forecast.backtest import run_forecast

    run_forecast(
        args.source,
        cfg,
        seeds=seeds,
        out=args.out,
        checkpoint=args.checkpoint,
        quiet=args.quiet,
    )
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="a local web playground: stream text from a trained model in the browser",
        description="Serve one page (prefix, sampling controls, one streaming column per "
        "sample, the model card and training curves) and its JSON/SSE API (/openapi.json). "
        "Needs the serve extra: pip install 'rnnkit[serve]'.",
    )
    _add_model_flags(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    integer = _int_or_text  # checked in _run_serve, naming the flag
    p.add_argument("--port", type=integer, default=8000, help="port (0 = any free port)")
    p.add_argument("--workers", type=integer, default=2, help="requests generating at once")
    p.add_argument(
        "--queue-size", type=integer, default=128, help="requests that may wait (then 429)"
    )
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--threads",
        default="1",
        help="torch (or onnxruntime) threads (1 suits small models; 0 = default)",
    )
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    from rnnkit.config import TrainConfig

    port = _in_range("--port", args.port, 0, 65535, "0 = any free port")
    workers = _in_range("--workers", args.workers, 1)
    queue_size = _in_range("--queue-size", args.queue_size, 0)
    threads = _checked(TrainConfig, "threads", args.threads, "--threads")

    missing = [name for name in ("fastapi", "uvicorn") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"rnnkit serve needs {' and '.join(missing)}; install them with "
            "pip install 'rnnkit[serve]'"
        )
    from rnnkit.serve import run

    run(
        args.checkpoint,
        host=args.host,
        port=port,
        workers=workers,
        queue_size=queue_size,
        device=args.device,
        threads=threads,
        backend=args.backend,
    )
    return 0


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="tokenise a corpus of any size into memory-mapped files for `rnnkit train DIR`",
    )
    p.add_argument("source", help="named corpus, UTF-8 file or folder of .txt files")
    p.add_argument("--out", required=True, help="folder to write (new or empty)")
    p.add_argument("--level", default="char", choices=["char", "word"])
    p.add_argument("--normalize", default="none", choices=["none", "d2l", "newlines"])
    # The numbers are checked as the `data` keys they match (data.min_freq, ...).
    p.add_argument("--min-freq", default="1", help="rarer training tokens become <unk>")
    p.add_argument("--max-size", default="0", help="keep at most N vocabulary entries (0 = all)")
    p.add_argument("--max-tokens", default="0", help="train on the first N tokens")
    p.add_argument("--split", default="0.9,0.05,0.05", help="train,val,test fractions")
    p.add_argument("--encoding-errors", default="strict", choices=["strict", "replace", "ignore"])
    p.add_argument("--nfc", action="store_true", help="compose the text to Unicode NFC first")
    p.add_argument("--word-regex", default="", help="word tokens ('' = the default pattern)")
    p.add_argument("--newlines", default="auto", choices=["auto", "keep", "paragraphs", "drop"])
    p.add_argument("--lowercase", action="store_true", help="lower-case words")
    p.add_argument("--force", action="store_true", help="replace a finished prepare in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from rnnkit.config import DataConfig

    numbers = {
        key: _checked(DataConfig, key, getattr(args, key), "--" + key.replace("_", "-"))
        for key in ("min_freq", "max_size", "max_tokens", "split")
    }
    from rnnkit.text.prepared import prepare
    from rnnkit.text.tokenize import WordTokenizer

    words = WordTokenizer(args.word_regex, args.newlines, args.lowercase)
    m = prepare(
        args.source,
        args.out,
        level=args.level,
        normalize=args.normalize,
        min_freq=numbers["min_freq"],
        max_tokens=numbers["max_tokens"],
        split=numbers["split"],
        encoding_errors=args.encoding_errors,
        nfc=args.nfc,
        max_size=numbers["max_size"],
        force=args.force,
        quiet=args.quiet,
        tokenizer=words if args.level == "word" else None,
        vocab_rule="auto",
    )
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
    _add_forecast,
    _add_serve,
    _add_prepare,
    _add_export,
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = _Parser(
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
        print(f"rnnkit: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
