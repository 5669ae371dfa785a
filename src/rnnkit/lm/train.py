"""The language-model training loop, explicit and top to bottom.

    corpus -> vocab -> batches (B, T) -> RNNLM -> cross-entropy -> clip -> optimizer step
      every `eval_every` epochs: validation loss / perplexity, metrics.jsonl, last.pt, best.pt
      every `generate.every` epochs: samples from `generate.prefixes`

Sequential sampling carries the hidden state from one batch to the next (detached: truncated
backpropagation through time) and starts each epoch from a fresh state, as d2l's `train_ch8`
does; random sampling starts every batch from a fresh state.

A checkpoint holds everything needed to continue exactly: weights, optimizer, schedule position,
the global torch RNG (dropout), the data generator's state at the start of the current epoch
and how many batches of it were done, and the carried hidden state. `--resume` replays the
epoch's batch order from that state and skips the finished batches, so 2 epochs + resume +
2 epochs equals 4 epochs straight, bit for bit on CPU.

Under torchrun (`torchrun --nproc-per-node N -m rnnkit train ...`) the same loop runs in N
processes through `rnnkit.training.distributed`: DDP averages the gradients, each rank takes its own
rows of every batch, validation is shared and summed, and only rank 0 writes the run folder.

The pieces, in the order `train_lm` uses them:

    _setup             checkpoint, run folder, seed, data, model, optimizer -> _Run, TrainState
    _train_epochs      the epoch loop and its stop rules, under Ctrl-C and collective guards
      _train_epoch     the batches of one epoch (or the rest of one, after a resume)
        _train_step    one optimizer step
      _evaluate_and_checkpoint   metrics row, last.pt / best.pt, curves
      _write_samples   samples.txt
    _summarize         the interrupted checkpoint and the `done (<reason>): ...` line

`TrainState` is everything the loop changes; it writes itself into a checkpoint and restores
itself from one. `train_lm` seeds inside a private scope, so the caller's global generators
(torch, Python, NumPy) and torch's thread count come back as they were.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from rnnkit.checkpoint import load_checkpoint
from rnnkit.config import RunConfig, TrainConfig, resume_config, to_json
from rnnkit.decode.options import SamplingOptions
from rnnkit.errors import CheckpointError, ConfigError, NumericalError
from rnnkit.lm.adaptive import choose_cutoffs, resolve_output
from rnnkit.lm.evaluate import evaluate_tokens
from rnnkit.lm.generation import generate_text, normalize_prefix, warm_up
from rnnkit.lm.model import RNNLM, training_loss
from rnnkit.lm.probe import measure_rate
from rnnkit.lm.recipe import apply_recipe
from rnnkit.lm.step import Decoding
from rnnkit.metrics import perplexity
from rnnkit.nn.state import State, detach, from_list, to_list
from rnnkit.text.batches import BatchIterator, RankBatches, rank_batches
from rnnkit.text.corpora import Corpus, corpus_prefixes
from rnnkit.text.prepared import corpus_for as corpus_for_data
from rnnkit.text.tokenize import tokens_spec
from rnnkit.text.vocab import Vocab
from rnnkit.training.distributed import (
    DistContext,
    agree,
    agree_flag,
    close_distributed,
    collective_errors,
    init_distributed,
    my_rank_state,
    rank_states,
    sum_across_ranks,
    wrap_model,
)
from rnnkit.training.environment import (
    Interrupt,
    bf16_supported,
    count_parameters,
    global_rng_kept,
    progress,
    resolve_device,
    seed_everything,
    threads_kept,
)
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor, set_lr
from rnnkit.training.run_folder import RunFolder
from rnnkit.training.threads import FixedThreads, ThreadTuner, tuner_for

if TYPE_CHECKING:
    from tqdm import tqdm


@dataclass
class TrainResult:
    """What a finished (or interrupted) run leaves behind."""

    run_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    stopped_by: str = "epochs"
    interrupted: bool = False


def corpus_for(cfg: RunConfig) -> Corpus:
    """Load the corpus a config names (`rnnkit.text.prepared.corpus_for` of its `[data]`).

    A folder written by `rnnkit prepare` is memory-mapped, never read whole; its level,
    normalize, split and max_tokens were fixed when preparing and replace the config's.
    """
    return corpus_for_data(cfg.data)


def default_run_dir(cfg: RunConfig) -> Path:
    """`runs/<preset or source>-<timestamp>` under the current directory."""
    name = cfg.preset or Path(cfg.data.source).stem or "run"
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@dataclass
class TrainState:
    """Where a run stands: everything the loop changes, saved in and restored from checkpoints.

    Attributes:
        epoch_rng: the data generator's state at the start of the current epoch (a uint8
            tensor); the epoch's batch order is replayed from it on resume.
        loss_sum: 0-dim float64 on the device, this rank's summed token losses of the epoch.
        epoch, step, batch_in_epoch: finished epochs, optimizer steps, batches of this epoch.
        elapsed_s: forward, backward and optimizer time of all sessions.
        wall_before: wall-clock seconds of the earlier sessions of a resumed run.
        wall_start: `time.perf_counter()` when this session's loop started.
        finish_s: the budget's clock: when the run would end if it stopped after the last
            step, in wall-clock seconds of training of all sessions plus what the end costs
            (`_end_cost`); the ranks' latest under torchrun.
        reserve_s: what the run's end costs (evaluation, checkpoints, samples), measured.
        samples_written: the sample blocks written so far (a budget spreads them out).
        tokens_done, epoch_train_s: this rank's tokens and training seconds of the epoch.
        carried: the hidden state carried between batches, h or (h, c), each (L, B, H).
        best, bad_evals: the best metrics row and the evaluations since it (patience).
        history: the metrics rows so far (`metrics.jsonl`).
    """

    epoch_rng: torch.Tensor
    loss_sum: torch.Tensor
    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    elapsed_s: float = 0.0
    wall_before: float = 0.0
    wall_start: float = field(default_factory=time.perf_counter)
    finish_s: float = 0.0
    reserve_s: float = 0.0
    samples_written: int = 0
    tokens_done: int = 0
    epoch_train_s: float = 0.0
    carried: State | None = None
    best: dict[str, Any] = field(default_factory=dict)
    bad_evals: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def fresh(cls, data_gen: torch.Generator, device: torch.device) -> TrainState:
        """The state before the first step."""
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        return cls(epoch_rng=data_gen.get_state(), loss_sum=loss_sum)

    def wall_s(self) -> float:
        """Wall-clock seconds of the whole run, earlier sessions included."""
        return self.wall_before + (time.perf_counter() - self.wall_start)

    def begin_epoch(self, data_gen: torch.Generator) -> int:
        """Rewind the data generator to the epoch's start; a fresh epoch also zeroes its sums
        and the carried state. Returns how many batches of the epoch are already done."""
        data_gen.set_state(self.epoch_rng)
        if self.batch_in_epoch == 0:
            self.loss_sum.zero_()
            self.tokens_done, self.epoch_train_s, self.carried = 0, 0.0, None
        return self.batch_in_epoch

    def end_epoch(self, steps_per_epoch: int, data_gen: torch.Generator) -> bool:
        """Count the epoch as done if all its batches were; returns whether they were."""
        finished = self.batch_in_epoch >= steps_per_epoch
        if finished:
            self.epoch += 1
            self.batch_in_epoch = 0
            self.epoch_rng = data_gen.get_state()
        return finished

    def record(self, row: dict[str, Any]) -> bool:
        """Add a metrics row to the history; returns whether it is the best so far."""
        self.history.append(row)
        improved = not self.best or row["val_loss"] < self.best["val_loss"]
        if improved:
            self.best = dict(row)
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        return improved

    def to_checkpoint(self, ctx: DistContext, schedule: str) -> dict[str, Any]:
        """The checkpoint entries of the state (every rank must call it: it gathers the ranks'
        own hidden states, dropout generators and sums into `world_size` and `ranks`)."""
        loss_sum = float(self.loss_sum.item())
        return {
            "scheduler": {"schedule": schedule, "step": self.step, "elapsed_s": self.elapsed_s},
            "rng": {"torch": torch.get_rng_state(), "data_epoch_start": self.epoch_rng},
            "progress": {
                "epoch": self.epoch,
                "step": self.step,
                "batch_in_epoch": self.batch_in_epoch,
                "elapsed_s": self.elapsed_s,
                "wall_s": self.wall_s(),
                "loss_sum": loss_sum,
                "tokens_done": self.tokens_done,
                "epoch_train_s": self.epoch_train_s,
                "bad_evals": self.bad_evals,
            },
            "carried_state": to_list(self.carried),
            "step": self.step,
            "epoch": self.epoch,
            "best_metrics": self.best,
            **rank_states(ctx, to_list(self.carried), loss_sum, self.tokens_done),
        }

    def restore(self, ckpt: dict[str, Any], ctx: DistContext, where: object) -> None:
        """Continue from `ckpt`, restoring torch's global generator too; under torchrun each
        rank takes its own entry (refused when the number of processes differs)."""
        device = self.loss_sum.device
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.epoch_rng = ckpt["rng"]["data_epoch_start"]
        p = ckpt["progress"]
        self.epoch, self.step, self.batch_in_epoch = p["epoch"], p["step"], p["batch_in_epoch"]
        self.elapsed_s, self.wall_before = p["elapsed_s"], p["wall_s"]
        self.finish_s = p["wall_s"]
        self.loss_sum += p["loss_sum"]
        self.tokens_done, self.epoch_train_s = p["tokens_done"], p["epoch_train_s"]
        self.carried = from_list(ckpt["carried_state"], device)
        mine = my_rank_state(ckpt, ctx, where)
        if mine is not None:  # each rank continues its own streams, dropout and sums
            torch.set_rng_state(mine["torch_rng"])
            self.carried = from_list(mine["carried_state"], device)
            self.loss_sum.fill_(mine["loss_sum"])
            self.tokens_done = mine["tokens_done"]
        self.best, self.bad_evals = ckpt.get("best_metrics", {}), p["bad_evals"]


@dataclass
class _Run:
    """What a run trains with: built once by `_setup`, never reassigned."""

    cfg: RunConfig
    ctx: DistContext
    folder: RunFolder
    corpus: Corpus
    data_gen: torch.Generator
    batches: BatchIterator | RankBatches
    model: RNNLM
    net: nn.Module  # `model`, or `model` inside DDP; `model` is what gets saved
    optimizer: torch.optim.Optimizer
    total_steps: int
    prefixes: list[str]  # generate.prefixes, or the corpus's own when that is []
    threads: ThreadTuner | FixedThreads  # train.threads: adaptive (0) or fixed
    announced: float  # the passes the recipe announced (0.0: no recipe ran now)


def train_lm(
    config: RunConfig | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
    lines: bool = True,
) -> TrainResult:
    """Train a language model as `config` says; write the run folder; return its history.

    The caller's global generators (torch, Python, NumPy) and torch's thread count are
    restored on return, so the run leaves the process as it found it.

    Args:
        config: the resolved run configuration (`rnnkit.config.resolve`); with `resume` and
            no config, the resumed run's own (`rnnkit.config.resume_config(resume)`).
        out: run folder (default `runs/<preset or source>-<timestamp>`; the resumed folder
            with `resume`).
        resume: a run folder (or `last.pt`) to continue from.
        quiet: no progress bar.
        echo: where the readable lines go (stdout by default; rank 0 alone prints).
        lines: False prints only the `done` line (`rnnkit train --quiet`).
    """
    if config is None:
        if resume is None:
            raise ConfigError("train_lm needs a config, or resume= the run folder to continue")
        config = resume_config(resume)
    with threads_kept():
        threads = tuner_for(config.train.threads)  # 0: adaptive (rnnkit.training.threads)
        ctx = init_distributed(resolve_device(config.train.device))  # one process w/o torchrun
        try:
            with global_rng_kept(ctx.device):
                run, state = _setup(config, ctx, (out, resume), threads, (echo, not lines))
                stopped_by = _train_epochs(run, state, quiet or not ctx.is_main)
                _summarize(run, state, stopped_by)
        finally:
            close_distributed(ctx)
    interrupted = stopped_by == "interrupt"
    return TrainResult(run.folder.path, state.history, state.best, stopped_by, interrupted)


def _setup(
    cfg: RunConfig,
    ctx: DistContext,
    where: tuple[str | Path | None, str | Path | None],
    threads: ThreadTuner | FixedThreads,
    lines: tuple[Callable[[str], None], bool],
) -> tuple[_Run, TrainState]:
    """Open the checkpoint (`where`: out, resume) and the run folder (`lines`: echo, quiet),
    seed, load the data, choose the recipe (its speed probe runs on this machine), build the
    model and the optimizer; restore them and the state when resuming; write config.json."""
    (out, resume), (echo, quiet), tc, dc = where, lines, cfg.train, cfg.data
    check_limits(tc)
    ckpt = load_checkpoint(resume, prefer="last") if resume is not None else None
    if ckpt is not None and ckpt.get("task") != "lm":
        raise CheckpointError(
            f"{resume} is a {ckpt.get('task')!r} checkpoint, not a language model"
        )
    folder = RunFolder(_run_dir(cfg, out, resume, resuming=ckpt is not None), ctx, echo, quiet)
    seed_everything(tc.seed)

    # Data: the vocabulary is the checkpoint's when resuming, so ids never shift.
    corpus = corpus_for(cfg)
    saved_vocab = Vocab.from_dict(ckpt["vocab"]) if ckpt is not None else corpus.vocab
    if saved_vocab.idx_to_token != corpus.vocab.idx_to_token:
        raise ConfigError(
            f"the corpus {dc.source} no longer gives the vocabulary of {resume}; "
            "resume needs the same data settings"
        )
    announced = 0.0
    if cfg.recipe == "auto":  # chosen once; config.json and --resume keep the choice
        announced = apply_recipe(
            cfg, corpus, _probe(corpus, ctx, threads), bf16_supported(ctx.device)
        )
        folder.echo(f"recipe: {cfg.recipe_note}")
        check_limits(tc)
    if tc.precision == "bf16" and not bf16_supported(ctx.device):  # recorded as trained
        tc.precision = "fp32"
        folder.echo("note: this CPU has no native bf16 (AVX-512 BF16 or AMX); training in fp32")
    data_gen = torch.Generator().manual_seed(tc.seed)
    batches = rank_batches(
        corpus.train, dc.batch_size, dc.num_steps, dc.sampling, data_gen, ctx.rank, ctx.world_size
    )

    # Model and optimisation.
    _choose_output(cfg, corpus)
    model = RNNLM.from_config(cfg.model, len(corpus.vocab)).to(ctx.device)
    net = wrap_model(model, ctx, tc.seed)  # DDP under torchrun
    optimizer = build_optimizer(model.parameters(), tc.optimizer, tc.lr, tc.weight_decay)
    total_steps = step_limit(tc.epochs, tc.max_steps, len(batches))
    lr_factor(tc.schedule, 0, total_steps, tc.warmup_steps)  # an unknown schedule fails here

    prefixes = list(cfg.generate.prefixes) or corpus_prefixes(corpus)
    run = _Run(
        *(cfg, ctx, folder, corpus, data_gen, batches, model, net, optimizer, total_steps),
        *(prefixes, threads, announced),
    )
    state = TrainState.fresh(data_gen, ctx.device)
    if ckpt is not None:
        _resume(run, state, ckpt, resume)
    folder.write_config(to_json(cfg))
    _announce(run)
    return run, state


def _probe(
    corpus: Corpus, ctx: DistContext, threads: ThreadTuner | FixedThreads
) -> Callable[[RunConfig], float]:
    """The recipe's speed probe (`rnnkit.lm.probe`): it measures the candidate model at the
    thread counts worth trying, and adaptive threads start from the best."""

    def measure(chosen: RunConfig) -> float:
        rate, count = measure_rate(chosen, corpus, ctx, threads.candidates())
        threads.start_at(count)
        return rate

    return measure


def step_limit(epochs: int, max_steps: int, steps_per_epoch: int) -> int:
    """The optimizer steps the run may take at most (0 = no step limit: time or patience
    ends it); the schedule and the progress bar are laid out over them."""
    limits = [n for n in (epochs * steps_per_epoch, max_steps) if n > 0]
    return min(limits) if limits else 0


def check_limits(tc: TrainConfig) -> None:
    """A run needs something that ends it: an epoch or step limit, a budget or patience."""
    if not (tc.epochs or tc.max_steps or tc.time_budget or tc.patience):
        raise ConfigError(
            "train.epochs = 0 (no limit) needs another limit; set train.time_budget, "
            "train.max_steps or train.patience (or train.epochs)"
        )


def _choose_output(cfg: RunConfig, corpus: Corpus) -> None:
    """Make `model.output = "auto"` and empty adaptive cutoffs concrete, in the config the
    run records: adaptive for a word vocabulary of `ADAPTIVE_MIN_VOCAB` tokens or more, its
    cutoffs the cheapest for the training counts (`rnnkit.lm.adaptive`)."""
    m, vocab = cfg.model, corpus.vocab
    m.output = resolve_output(m.output, cfg.data.level, len(vocab))
    if m.output == "adaptive" and not m.cutoffs:
        m.cutoffs = choose_cutoffs(vocab.counts, len(vocab))


def _run_dir(
    cfg: RunConfig, out: str | Path | None, resume: str | Path | None, resuming: bool
) -> Path:
    """The run folder: `out`, else the resumed one, else a fresh timestamped one; a new run
    refuses a folder that already holds one."""
    run_dir = Path(out) if out is not None else (Path(resume) if resume else default_run_dir(cfg))
    if run_dir.suffix == ".pt":
        run_dir = run_dir.parent
    if not resuming and (run_dir / "last.pt").exists():
        raise ConfigError(
            f"run folder {run_dir} already holds a run; resume it or choose another run folder"
        )
    return run_dir


def _resume(run: _Run, state: TrainState, ckpt: dict[str, Any], where: object) -> None:
    """Load the weights, optimizer and state of `ckpt`; the history from metrics.jsonl."""
    tc = run.cfg.train
    saved = RunConfig.from_dict(ckpt["config"])
    if saved.model != run.cfg.model or saved.train.optimizer != tc.optimizer:
        raise ConfigError(
            f"{where} was trained with another model or optimizer; resume keeps "
            "[model] and train.optimizer as they were (change epochs, lr, budget freely)"
        )
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    for group in run.optimizer.param_groups:  # the resumed config's decay wins
        group["weight_decay"] = tc.weight_decay
    state.restore(ckpt, run.ctx, where)
    if tc.time_budget > 0:  # the sample blocks of the quarters already passed
        state.samples_written = int(SAMPLE_BLOCKS * state.finish_s / tc.time_budget)
    # A kill between the metrics row and last.pt leaves a row the checkpoint never saw.
    rows = run.folder.read_metrics()
    state.history = [row for row in rows if row.get("step", 0) <= state.step]
    if len(state.history) < len(rows):
        run.folder.keep_metrics(state.history)


def _announce(run: _Run) -> None:
    """The readable lines that open a run: folder, corpus, model, unknown-token shares."""
    corpus, m, echo = run.corpus, run.cfg.model, run.folder.echo
    echo(f"run folder: {run.folder.path}")
    echo(
        f"corpus {corpus.name} (sha1 {corpus.sha1[:12]}): {corpus.num_tokens:,} "
        f"{run.cfg.data.level} tokens, vocab {len(corpus.vocab):,}, train/val/test "
        f"{len(corpus.train):,}/{len(corpus.val):,}/{len(corpus.test):,}; model {m.kind} "
        f"{m.num_layers}x{m.hidden_size} ({m.impl}), {count_parameters(run.model):,} parameters, "
        f"{len(run.batches)} batches/epoch, {_threads_text(run)}, {run.ctx.device}"
    )
    if run.cfg.data.level == "word":
        d = run.cfg.data
        lines = {"keep": "line breaks kept", "paragraphs": "blank lines kept", "drop": "no lines"}
        head = f"adaptive softmax, cutoffs {m.cutoffs}" if m.output == "adaptive" else "softmax"
        echo(
            f"words: pattern {d.word_regex}, {lines.get(d.newlines, d.newlines)}"
            f"{', lower-cased' if d.lowercase else ''}; output {head}"
        )
    for name in ("val", "test"):
        share = corpus.unk_share.get(name, 0.0)
        if share > 0 or run.cfg.data.level == "word":
            echo(f"note: {share:.2%} of the {name} tokens are not in the vocabulary (<unk>)")


def _threads_text(run: _Run) -> str:
    """`4 threads` (fixed) or `adaptive threads (from 2)`."""
    if isinstance(run.threads, ThreadTuner):
        return f"adaptive threads (from {run.threads.count})"
    return f"{run.threads.count} threads"


def _train_epochs(run: _Run, state: TrainState, quiet: bool) -> str:
    """Train epoch after epoch, evaluating and sampling as the config says, until a stop rule
    holds; returns it: epochs, max_steps, time_budget, patience or interrupt.

    The time budget is wall-clock time from here to the summary line (`TrainState.finish_s`):
    the loop stops when what is left would not pay for the run's end (`reserve_s`: the last
    evaluation, checkpoints and samples, measured). `elapsed_s` counts the steps alone.
    """
    tc = run.cfg.train
    stopped_by = "epochs"
    state.wall_start = time.perf_counter()
    epoch_limit = tc.epochs or math.inf  # 0 = no epoch limit
    total = run.total_steps or None
    with (
        progress(None, total, "train", quiet) as bar,
        Interrupt() as interrupt,
        collective_errors(run.ctx),
    ):
        bar.update(state.step)
        run.model.train()
        while state.epoch < epoch_limit and stopped_by == "epochs":
            stopped_by = _train_epoch(run, state, interrupt, bar) or stopped_by
            if stopped_by == "interrupt":
                break
            finished = state.end_epoch(len(run.batches), run.data_gen)
            last_epoch = state.epoch >= epoch_limit or stopped_by != "epochs"
            shown = state.epoch + (0 if finished else 1)  # a cut-short epoch counts as one
            t0 = time.perf_counter()
            if last_epoch or state.epoch % max(tc.eval_every, 1) == 0:
                _evaluate_and_checkpoint(run, state, partial=not finished)
                if tc.patience > 0 and state.bad_evals >= tc.patience:
                    stopped_by, last_epoch = "patience", True
            if _samples_due(run, state, last_epoch):
                _write_samples(run, shown)
                state.samples_written += 1
            state.reserve_s = max(state.reserve_s, time.perf_counter() - t0)
    return stopped_by


SAMPLE_BLOCKS = 4  # sample blocks of a run the budget governs: at each quarter of it


def _samples_due(run: _Run, state: TrainState, last_epoch: bool) -> bool:
    """Whether samples are written after this epoch: every `generate.every` epochs, or,
    when the budget governs (`train.time_budget` and no epoch or step limit), at each
    quarter of the budget and at the end."""
    gc, tc = run.cfg.generate, run.cfg.train
    if gc.every <= 0 or not run.prefixes:
        return False
    if last_epoch:
        return True
    if tc.time_budget > 0 and not (tc.epochs or tc.max_steps):
        due = (state.samples_written + 1) / SAMPLE_BLOCKS
        return state.finish_s / tc.time_budget >= due
    return state.epoch % gc.every == 0


def _train_epoch(run: _Run, state: TrainState, interrupt: Interrupt, bar: tqdm) -> str | None:
    """The batches of the current epoch not done yet; returns why it stopped early (interrupt,
    max_steps, time_budget) or None when the epoch ran to its end. The ranks stop together."""
    tc, ctx = run.cfg.train, run.ctx
    skip = state.begin_epoch(run.data_gen)
    for i, (X, Y) in enumerate(run.batches):
        if i < skip:
            continue
        loss, finite = _train_step(run, state, X, Y)
        state.batch_in_epoch = i + 1
        stop, state.finish_s = interrupt.hit, state.wall_s() + _end_cost(run, state)
        if ctx.enabled:  # stop together, schedule by one clock, fail together
            stop, state.elapsed_s, state.epoch_train_s, state.finish_s, broken = agree(
                ctx, stop, state.elapsed_s, state.epoch_train_s, state.finish_s, float(not finite)
            )
            if broken:
                raise _loss_error(run, loss if not finite else None, state.step - 1, state.epoch)
        bar.update(1)
        if state.step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if stop:
            return "interrupt"
        if tc.max_steps > 0 and state.step >= tc.max_steps:
            return "max_steps"
        if tc.time_budget > 0 and state.finish_s >= tc.time_budget:
            return "time_budget"
    return None


SAMPLE_TOKEN_S = 0.002  # seconds per generated token, assumed until samples were timed


def _end_cost(run: _Run, state: TrainState) -> float:
    """Seconds the run's end costs: the longest measured evaluation (with its checkpoints
    and samples), or, before the first, an estimate from the training speed (a forward pass
    costs about a third of a training step) and `SAMPLE_TOKEN_S`."""
    if state.reserve_s > 0:
        return state.reserve_s
    rate = state.tokens_done / state.epoch_train_s if state.epoch_train_s > 0 else 0.0
    evaluation = _val_limit(run, rate) / (3 * rate) if rate > 0 else 0.0
    gc = run.cfg.generate
    samples = len(run.prefixes) * gc.length * SAMPLE_TOKEN_S if gc.every > 0 else 0.0
    return evaluation + samples


def _train_step(
    run: _Run, state: TrainState, X: torch.Tensor, Y: torch.Tensor
) -> tuple[torch.Tensor, bool]:
    """One optimizer step on a batch, X and Y (B, T) token ids; returns the 0-dim loss and
    whether it was finite.

    A non-finite loss stops a one-process run at once; under torchrun the step goes on (the
    other ranks are inside DDP's backward) and `_train_epoch` stops every rank together.
    bf16 autocasts the forward pass and loss only (see `training_loss`).
    """
    t0 = time.perf_counter()
    tc, sequential = run.cfg.train, run.cfg.data.sampling == "sequential"
    X, Y = X.to(run.ctx.device), Y.to(run.ctx.device)
    carried = detach(state.carried) if sequential else None
    loss, carried = training_loss(run.net, X, Y, carried, tc.precision == "bf16")
    finite = bool(torch.isfinite(loss))  # the one host sync of a step on an accelerator
    if not finite and not run.ctx.enabled:
        raise _loss_error(run, loss, state.step, state.epoch)
    _set_lr(run, state)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(run.model.parameters(), tc.clip)
    run.optimizer.step()
    state.carried = carried if sequential else None
    state.loss_sum += loss.detach().double() * Y.numel()
    state.tokens_done += Y.numel()
    state.step += 1
    dt = time.perf_counter() - t0
    state.elapsed_s += dt
    state.epoch_train_s += dt
    run.threads.step_done(dt, Y.numel())
    return loss, finite


NOT_SAVED = "nothing was saved over the last good checkpoint"


def stopped_error(what: str, where: str, folder: Path) -> NumericalError:
    """The one wording of a run stopped by non-finite numbers, wherever they were caught
    (`where`: a training step or an evaluation): what, where, and that nothing was saved."""
    return NumericalError(
        f"{what} {where}; {NOT_SAVED} in {folder}; lower train.lr or set train.clip"
    )


def _loss_error(run: _Run, loss: torch.Tensor | None, step: int, epoch: int) -> NumericalError:
    """The error of a non-finite training loss (`loss` None: another rank's)."""
    what = f"the loss became {loss.item()}" if loss is not None else "another rank's loss"
    return stopped_error(what, f"at training step {step} (epoch {epoch + 1})", run.folder.path)


def _set_lr(run: _Run, state: TrainState) -> None:
    """The schedule is a function of the step and, under a time budget, of the share of it
    used (`TrainState.finish_s`, the end's cost included)."""
    tc = run.cfg.train
    fraction = state.finish_s / tc.time_budget if tc.time_budget > 0 else 0.0
    factor = lr_factor(tc.schedule, state.step, run.total_steps, tc.warmup_steps, fraction)
    set_lr(run.optimizer, tc.lr, factor)


def _evaluate_and_checkpoint(run: _Run, state: TrainState, partial: bool) -> dict[str, Any]:
    """Metrics row, metrics.jsonl, last.pt and best.pt, curves at the end of an epoch (or of a
    cut-short one, `partial`); returns the row.

    Non-finite weights, validation loss or generation logits (`_numerical_problem`) stop
    every rank together, before anything is written: the last good checkpoints and the
    metrics stay as they were.
    """
    ctx, dc = run.ctx, run.cfg.data
    loss_all, tokens_all = sum_across_ranks(ctx, state.loss_sum.item(), state.tokens_done)
    train_loss = loss_all / max(tokens_all, 1)
    val_rows = dc.batch_size * ctx.world_size  # the streams of all ranks, shared out
    rate = tokens_all / state.epoch_train_s if state.epoch_train_s > 0 else 0.0  # all ranks'
    val_tokens = run.corpus.val[: _val_limit(run, rate) + 1]
    val = evaluate_tokens(run.model, val_tokens, val_rows, dc.num_steps, ctx.device, ranks=ctx)
    problem = _numerical_problem(run, val["loss"])
    if agree_flag(ctx, problem is not None):
        what = problem or "another rank found non-finite numbers"
        raise stopped_error(what, f"at the evaluation after step {state.step}", run.folder.path)
    row = {
        "epoch": state.epoch + (1 if partial else 0),
        "step": state.step,
        "train_loss": train_loss,
        "train_ppl": perplexity(train_loss),
        "val_loss": val["loss"],
        "val_ppl": val["ppl"],
        "val_bpc": val["bpc"],
        "val_unk": val["unk"],
        "val_tokens": len(val_tokens) - 1,
        "test_unk": run.corpus.unk_share.get("test", 0.0),
        "tokens_per_sec": tokens_all / state.epoch_train_s if state.epoch_train_s > 0 else 0.0,
        "elapsed_s": state.elapsed_s,
        "wall_s": state.wall_s(),
        "lr": run.optimizer.param_groups[0]["lr"],
        "threads": torch.get_num_threads(),
    }
    improved = state.record(row)
    run.folder.append_metrics(row)
    _save(run, state, "last.pt", row)
    if improved:
        _save(run, state, "best.pt", row)
    run.folder.plot(state.history, title=f"{run.cfg.preset or dc.source}")
    run.folder.echo(
        f"epoch {row['epoch']:>4}  step {state.step:>6}  train ppl {row['train_ppl']:8.3f}  "
        f"val ppl {row['val_ppl']:8.3f}  val bpc {row['val_bpc']:.3f}  "
        f"{row['tokens_per_sec']:,.0f} tok/s  elapsed {state.elapsed_s:.1f}s"
    )
    return row


EVAL_SHARE = 0.05  # under a time budget, one evaluation reads what this share of it allows
MIN_VAL_TOKENS = 2_000  # ... but never fewer validation tokens than these


def _val_limit(run: _Run, rate: float) -> int:
    """How many validation tokens an evaluation reads: all of them, except under a time
    budget, where at most what a forward pass (about 3x `rate`, the training tokens per
    second) reads in `EVAL_SHARE` of the budget, and at least `MIN_VAL_TOKENS`."""
    budget, total = run.cfg.train.time_budget, len(run.corpus.val) - 1
    if budget <= 0 or rate <= 0:
        return total
    return min(total, max(MIN_VAL_TOKENS, int(3 * rate * EVAL_SHARE * budget)))


def _save(run: _Run, state: TrainState, name: str, metrics: dict[str, Any]) -> None:
    """Every rank builds the checkpoint (it gathers their states); rank 0 writes it."""
    corpus = run.corpus
    payload = {
        "task": "lm",
        "config": run.cfg.to_dict(),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "vocab": corpus.vocab.to_dict(),
        "corpus": {
            "name": corpus.name,
            "sha1": corpus.sha1,
            "level": corpus.level,
            "normalize": corpus.normalize,
            "num_tokens": int(corpus.num_tokens),
            "split_sizes": [len(corpus.train), len(corpus.val), len(corpus.test)],
        },
        "metrics": metrics,
        **state.to_checkpoint(run.ctx, run.cfg.train.schedule),
    }
    run.folder.save_checkpoint(name, payload)


def _params_finite(model: nn.Module) -> bool:
    """Whether every weight is finite (one host sync)."""
    flags = [torch.isfinite(p).all() for p in model.parameters()]
    return bool(torch.stack(flags).all()) if flags else True


PROBE_STEPS = 8  # single steps of the logits probe, after a warm-up of up to num_steps tokens


@torch.no_grad()
def _logits_finite(run: _Run) -> bool:
    """Whether generation's own path gives finite logits: a warm-up forward call on the
    first validation tokens, then `PROBE_STEPS` `LMStep` steps (weights that are finite
    but huge overflow there first). No randomness is drawn; one host sync.

    Shape:
        prefix (1, P) -> logits (1, V) per step
    """
    val = run.corpus.val
    count = min(len(val), run.cfg.data.num_steps + PROBE_STEPS)
    ids = torch.from_numpy(np.asarray(val[:count], dtype=np.int64)).to(run.ctx.device)  # (n,)
    warm = max(1, count - PROBE_STEPS)
    logits, state = warm_up(run.model, ids[:warm].unsqueeze(0))  # (1, V)
    ok = torch.isfinite(logits).all()
    stepper = Decoding(run.model, state, 1)
    for k in range(warm, count):
        ok = ok & torch.isfinite(stepper.step(ids[k : k + 1])).all()  # (1, V)
    return bool(ok)


def _numerical_problem(run: _Run, val_loss: float | None) -> str | None:
    """What is non-finite about the model now (weights, validation loss, logits), or None."""
    if not _params_finite(run.model):
        return "weights became non-finite"
    if val_loss is not None and not math.isfinite(val_loss):
        return f"the validation loss became {val_loss}"
    if not _logits_finite(run):
        return "the weights overflow: generation's logits are not finite"
    return None


def _write_samples(run: _Run, at_epoch: int) -> None:
    """Continue each `generate.prefixes` entry; samples.txt and the readable lines (rank 0).

    Non-finite logits stop every rank together (rank 0 finds them; the others wait for its
    word), before samples.txt is touched.
    """
    failure: NumericalError | None = None
    lines: list[str] = []
    if run.ctx.is_main:  # samples come from rank 0 alone
        try:
            lines = _sample_lines(run, at_epoch)
        except NumericalError as exc:
            failure = exc
    if agree_flag(run.ctx, failure is not None):
        raise NumericalError(
            f"the samples of epoch {at_epoch} failed: {failure or 'on rank 0'}; "
            f"last.pt in {run.folder.path} holds the last checked weights"
        )
    if not run.ctx.is_main:
        return
    run.folder.append_samples(lines)
    for line in lines:
        run.folder.echo(line)


def _sample_lines(run: _Run, at_epoch: int) -> list[str]:
    """The samples of one epoch as text blocks, each prefix continued under a header line
    `[epoch 3] prefix 'The '`; the sample keeps its line breaks."""
    dc, gc = run.cfg.data, run.cfg.generate
    lines = []
    for prefix in run.prefixes:
        options = SamplingOptions(
            prefix=normalize_prefix(prefix, dc.normalize),
            length=gc.length,
            temperature=gc.temperature,
            top_k=gc.top_k,
            top_p=gc.top_p,
            seed=run.cfg.train.seed,
        )
        (text,) = generate_text(
            run.model, run.corpus.vocab, options, level=tokens_spec(dc), device=run.ctx.device
        )
        lines += [f"[epoch {at_epoch}] prefix {prefix!r}", text, ""]
    return lines


def _summarize(run: _Run, state: TrainState, stopped_by: str) -> None:
    """After the loop: an interrupted run saves last.pt; then the `done (<reason>)` line,
    with the wall-clock seconds of training and, after a recipe, the passes made beside
    the passes it announced."""
    echo, run_dir = run.folder.summary, run.folder.path
    if stopped_by == "interrupt":
        with collective_errors(run.ctx):
            broken = agree_flag(run.ctx, _numerical_problem(run, None) is not None)
            if not broken:
                _save(run, state, "last.pt", state.history[-1] if state.history else {})
        kept = "kept the last good last.pt (the weights are not finite)" if broken else "saved"
        echo(
            f"interrupted at step {state.step}; {kept} {run_dir / 'last.pt'}; "
            f"continue with --resume {run_dir}"
        )
    final, best = (state.history[-1] if state.history else {}), state.best
    clock = f"wall {state.wall_s():.1f}s (steps {state.elapsed_s:.1f}s){_passes_text(run, state)}"
    if final:
        echo(
            f"done ({stopped_by}): {final['epoch']} epochs, {state.step} steps, "
            f"train ppl {final['train_ppl']:.3f}, val ppl {final['val_ppl']:.3f} "
            f"(best {best['val_ppl']:.3f} at epoch {best['epoch']}), "
            f"{clock}, run folder {run_dir}"
        )
    else:
        echo(
            f"done ({stopped_by}): {state.epoch} epochs, {state.step} steps, no evaluation "
            f"yet, {clock}, run folder {run_dir}"
        )


def _passes_text(run: _Run, state: TrainState) -> str:
    """`, 3.2 passes (announced 3.0)` after a recipe that announced them, else empty."""
    if run.announced <= 0:
        return ""
    dc = run.cfg.data
    made = state.step * dc.batch_size * dc.num_steps / max(len(run.corpus.train), 1)
    return f", {made:.2f} passes (announced {run.announced:.2f})"
