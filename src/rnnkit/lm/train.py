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
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.config import RunConfig, to_json
from rnnkit.errors import RnnkitError
from rnnkit.lm.evaluate import evaluate_tokens
from rnnkit.lm.generation import generate, normalize_prefix
from rnnkit.lm.model import RNNLM
from rnnkit.metrics import perplexity
from rnnkit.plots import plot_curves
from rnnkit.text.batches import rank_batches
from rnnkit.text.corpora import Corpus, load_corpus
from rnnkit.text.prepared import load_prepared, looks_prepared
from rnnkit.text.vocab import Vocab
from rnnkit.training.distributed import (
    agree,
    close_distributed,
    collective_errors,
    init_distributed,
    my_rank_state,
    rank_states,
    sum_across_ranks,
    wrap_model,
)
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor
from rnnkit.training.runtime import (
    count_parameters,
    progress,
    resolve_device,
    seed_everything,
    set_threads,
)

State = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass
class TrainResult:
    """What a finished (or interrupted) run leaves behind."""

    run_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    stopped_by: str = "epochs"
    interrupted: bool = False


def detach(state: State | None) -> State | None:
    """Cut the graph behind a carried hidden state (truncated BPTT)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def training_loss(
    net: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor, state: State | None, bf16: bool
) -> tuple[torch.Tensor, State]:
    """Mean cross-entropy of one batch and the model's final state, the forward pass under
    bf16 autocast when `bf16` (train.precision; weights, gradients and optimizer stay float32).

    Shape:
        X, Y: (B, T) token ids. state: h or (h, c), each (L, B, H), or None for zeros.
        Returns a 0-dim loss and the final state.
    """
    with torch.autocast(X.device.type, torch.bfloat16, enabled=bf16):
        logits, state = net(X, state)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
    return loss, state


def state_to_list(state: State | None) -> list[torch.Tensor]:
    """A hidden state as a plain list of tensors (checkpoint friendly)."""
    if state is None:
        return []
    return [s.detach().cpu() for s in (state if isinstance(state, tuple) else (state,))]


def state_from_list(items: list[torch.Tensor], device: torch.device) -> State | None:
    """Inverse of `state_to_list`."""
    if not items:
        return None
    tensors = tuple(t.to(device) for t in items)
    return tensors if len(tensors) > 1 else tensors[0]


def corpus_for(cfg: RunConfig) -> Corpus:
    """Load the corpus a config names.

    A folder written by `rnnkit prepare` is memory-mapped, never read whole; its level,
    normalize, split and max_tokens were fixed when preparing and replace the config's.
    """
    d = cfg.data
    if looks_prepared(d.source):
        return load_prepared(d.source, data=d)
    return load_corpus(
        d.source,
        level=d.level,
        normalize=d.normalize,
        max_tokens=d.max_tokens,
        split=tuple(d.split),
    )


def default_run_dir(cfg: RunConfig) -> Path:
    """`runs/<preset or source>-<timestamp>` under the current directory."""
    name = cfg.preset or Path(cfg.data.source).stem or "run"
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


class _Interrupt:
    """Turns the first Ctrl-C into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.hit = False
        self._old: Any = None

    def __enter__(self) -> _Interrupt:
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread: leave Ctrl-C alone
            self._old = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.hit:  # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train_lm(
    config: RunConfig,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
) -> TrainResult:
    """Train a language model as `config` says; write the run folder; return its history.

    Args:
        config: the resolved run configuration.
        out: run folder (default `runs/<preset or source>-<timestamp>`; the resumed folder
            with `resume`).
        resume: a run folder (or `last.pt`) to continue from.
        quiet: no progress bar.
        echo: where the readable lines go (stdout by default).
    """
    cfg = config
    tc, dc, gc = cfg.train, cfg.data, cfg.generate
    set_threads(tc.threads)
    ctx = init_distributed(resolve_device(tc.device))  # one process unless under torchrun
    device = ctx.device
    if not ctx.is_main:  # rank 0 alone prints, shows the bar and writes the run folder
        echo, quiet = _silent, True
    ckpt = load_checkpoint(resume, prefer="last") if resume is not None else None
    if ckpt is not None and ckpt.get("task") != "lm":
        raise RnnkitError(f"{resume} is a {ckpt.get('task')!r} checkpoint, not a language model")

    run_dir = Path(out) if out is not None else (Path(resume) if resume else default_run_dir(cfg))
    if run_dir.suffix == ".pt":
        run_dir = run_dir.parent
    if ckpt is None and (run_dir / "last.pt").exists():
        raise RnnkitError(
            f"run folder {run_dir} already holds a run; continue it with --resume {run_dir} "
            "or choose another --out"
        )
    seed_everything(tc.seed)

    # Data: the vocabulary is the checkpoint's when resuming, so ids never shift.
    corpus = corpus_for(cfg)
    vocab = corpus.vocab
    if ckpt is not None:
        saved = Vocab.from_dict(ckpt["vocab"])
        if saved.idx_to_token != vocab.idx_to_token:
            raise RnnkitError(
                f"the corpus {dc.source} no longer gives the vocabulary of {resume}; "
                "resume needs the same data settings"
            )
    data_gen = torch.Generator().manual_seed(tc.seed)
    batches = rank_batches(
        corpus.train, dc.batch_size, dc.num_steps, dc.sampling, data_gen, ctx.rank, ctx.world_size
    )
    steps_per_epoch = len(batches)

    # Model and optimisation.
    model = RNNLM.from_config(cfg.model, len(vocab)).to(device)
    net = wrap_model(model, ctx, tc.seed)  # DDP under torchrun; `model` is what gets saved
    optimizer = build_optimizer(model.parameters(), tc.optimizer, tc.lr, tc.weight_decay)
    total_steps = tc.epochs * steps_per_epoch
    if tc.max_steps > 0:
        total_steps = min(total_steps, tc.max_steps)
    lr_factor(tc.schedule, 0, total_steps, tc.warmup_steps)  # an unknown schedule fails here

    def set_lr() -> None:
        """The schedule is a function of the step and, under a time budget, of elapsed_s."""
        fraction = elapsed_s / tc.time_budget if tc.time_budget > 0 else 0.0
        factor = lr_factor(tc.schedule, step, total_steps, tc.warmup_steps, fraction)
        for group in optimizer.param_groups:
            group["lr"] = tc.lr * factor

    # Where the run stands; restored from the checkpoint when resuming.
    epoch, step, batch_in_epoch = 0, 0, 0
    elapsed_s, wall_before = 0.0, 0.0
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    tokens_done = 0
    epoch_train_s = 0.0
    carried: State | None = None
    best: dict[str, Any] = {}
    bad_evals = 0
    history: list[dict[str, Any]] = []
    epoch_rng = data_gen.get_state()
    if ckpt is not None:
        saved_cfg = RunConfig.from_dict(ckpt["config"])
        if saved_cfg.model != cfg.model or saved_cfg.train.optimizer != tc.optimizer:
            raise RnnkitError(
                f"{resume} was trained with another model or optimizer; resume keeps "
                "[model] and train.optimizer as they were (change epochs, lr, budget freely)"
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:  # the resumed config's decay wins
            group["weight_decay"] = tc.weight_decay
        torch.set_rng_state(ckpt["rng"]["torch"])
        epoch_rng = ckpt["rng"]["data_epoch_start"]
        p = ckpt["progress"]
        epoch, step, batch_in_epoch = p["epoch"], p["step"], p["batch_in_epoch"]
        elapsed_s, wall_before = p["elapsed_s"], p["wall_s"]
        loss_sum += p["loss_sum"]
        tokens_done, epoch_train_s = p["tokens_done"], p["epoch_train_s"]
        carried = state_from_list(ckpt["carried_state"], device)
        mine = my_rank_state(ckpt, ctx, resume)  # refuses another number of processes
        if mine is not None:  # each rank continues its own streams, dropout and sums
            torch.set_rng_state(mine["torch_rng"])
            carried = state_from_list(mine["carried_state"], device)
            loss_sum.fill_(mine["loss_sum"])
            tokens_done = mine["tokens_done"]
        best, bad_evals = ckpt.get("best_metrics", {}), p["bad_evals"]
        history = _read_history(run_dir / "metrics.jsonl")

    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(to_json(cfg) + "\n", encoding="utf-8")
    echo(f"run folder: {run_dir}")
    echo(
        f"corpus {corpus.name} (sha1 {corpus.sha1[:12]}): {corpus.num_tokens:,} {dc.level} tokens, "
        f"vocab {len(vocab):,}, train/val/test {len(corpus.train):,}/{len(corpus.val):,}/"
        f"{len(corpus.test):,}; model {cfg.model.kind} {cfg.model.num_layers}x"
        f"{cfg.model.hidden_size} ({cfg.model.impl}), {count_parameters(model):,} parameters, "
        f"{steps_per_epoch} batches/epoch, {torch.get_num_threads()} threads, {device}"
    )
    for name in ("val", "test"):
        share = corpus.unk_share.get(name, 0.0)
        if share > 0:
            echo(f"note: {share:.2%} of the {name} tokens are not in the vocabulary (<unk>)")

    def checkpoint_payload(metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "task": "lm",
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": {"schedule": tc.schedule, "step": step, "elapsed_s": elapsed_s},
            "rng": {"torch": torch.get_rng_state(), "data_epoch_start": epoch_rng},
            "vocab": vocab.to_dict(),
            "corpus": {
                "name": corpus.name,
                "sha1": corpus.sha1,
                "level": corpus.level,
                "normalize": corpus.normalize,
                "num_tokens": int(corpus.num_tokens),
                "split_sizes": [len(corpus.train), len(corpus.val), len(corpus.test)],
            },
            "progress": {
                "epoch": epoch,
                "step": step,
                "batch_in_epoch": batch_in_epoch,
                "elapsed_s": elapsed_s,
                "wall_s": wall_before + (time.perf_counter() - wall_start),
                "loss_sum": float(loss_sum.item()),
                "tokens_done": tokens_done,
                "epoch_train_s": epoch_train_s,
                "bad_evals": bad_evals,
            },
            "carried_state": state_to_list(carried),
            "step": step,
            "epoch": epoch,
            "metrics": metrics,
            "best_metrics": best,
            **rank_states(ctx, state_to_list(carried), loss_sum.item(), tokens_done),
        }

    def save(name: str, metrics: dict[str, Any]) -> None:
        """Every rank builds the checkpoint (it gathers their states); rank 0 writes it."""
        payload = checkpoint_payload(metrics)
        if ctx.is_main:
            save_checkpoint(run_dir / name, payload)

    def params_finite() -> bool:
        return all(bool(torch.isfinite(p).all()) for p in model.parameters())

    def evaluate_and_save(partial: bool) -> dict[str, Any]:
        """Metrics row + checkpoints at the end of an epoch (or of a cut-short one)."""
        nonlocal best, bad_evals
        loss_all, tokens_all = sum_across_ranks(ctx, loss_sum.item(), tokens_done)
        train_loss = loss_all / max(tokens_all, 1)
        val_rows = dc.batch_size * ctx.world_size  # the streams of all ranks, shared out
        val = evaluate_tokens(model, corpus.val, val_rows, dc.num_steps, device, ranks=ctx)
        row = {
            "epoch": epoch + (1 if partial else 0),
            "step": step,
            "train_loss": train_loss,
            "train_ppl": perplexity(train_loss),
            "val_loss": val["loss"],
            "val_ppl": val["ppl"],
            "val_bpc": val["bpc"],
            "val_unk": val["unk"],
            "tokens_per_sec": tokens_all / epoch_train_s if epoch_train_s > 0 else 0.0,
            "elapsed_s": elapsed_s,
            "wall_s": wall_before + (time.perf_counter() - wall_start),
            "lr": optimizer.param_groups[0]["lr"],
        }
        history.append(row)
        if ctx.is_main:
            with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        improved = not best or row["val_loss"] < best["val_loss"]
        if improved:
            best = dict(row)
            bad_evals = 0
        else:
            bad_evals += 1
        if not params_finite() or not math.isfinite(val["loss"]):
            raise RnnkitError(
                f"weights became non-finite at step {step}; nothing was saved over the last "
                "good checkpoint; lower train.lr or set train.clip"
            )
        save("last.pt", row)
        if improved:
            save("best.pt", row)
        if ctx.is_main:
            plot_curves(history, run_dir / "curves.png", title=f"{cfg.preset or dc.source}")
        echo(
            f"epoch {row['epoch']:>4}  step {step:>6}  train ppl {row['train_ppl']:8.3f}  "
            f"val ppl {row['val_ppl']:8.3f}  val bpc {row['val_bpc']:.3f}  "
            f"{row['tokens_per_sec']:,.0f} tok/s  elapsed {elapsed_s:.1f}s"
        )
        return row

    def write_samples(at_epoch: int) -> None:
        if not ctx.is_main:  # samples come from rank 0 alone
            return
        lines = []
        for prefix in gc.prefixes:
            (text,) = generate(
                model,
                vocab,
                normalize_prefix(prefix, dc.normalize),
                gc.length,
                level=dc.level,
                temperature=gc.temperature,
                top_k=gc.top_k,
                top_p=gc.top_p,
                seed=tc.seed,
                device=device,
            )
            lines.append(f"[epoch {at_epoch}] {text!r}")
        with open(run_dir / "samples.txt", "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        for line in lines:
            echo(line)

    # The loop. `elapsed_s` counts only forward, backward and optimizer time.
    # bf16 autocasts the forward pass and loss only (see training_loss); evaluation is float32.
    bf16 = tc.precision == "bf16"
    wall_start = time.perf_counter()
    stopped_by = "epochs"
    interrupted = False
    bar = progress(range(total_steps), total_steps, "train", quiet)
    bar.update(step)
    model.train()
    with _Interrupt() as interrupt, collective_errors(ctx):
        while epoch < tc.epochs and stopped_by == "epochs":
            data_gen.set_state(epoch_rng)
            skip = batch_in_epoch
            if batch_in_epoch == 0:
                loss_sum.zero_()
                tokens_done, epoch_train_s, carried = 0, 0.0, None
            for i, (X, Y) in enumerate(batches):
                if i < skip:
                    continue
                t0 = time.perf_counter()
                X, Y = X.to(device), Y.to(device)  # (B, T)
                state = detach(carried) if dc.sampling == "sequential" else None
                loss, state = training_loss(net, X, Y, state, bf16)
                if not torch.isfinite(loss):
                    raise RnnkitError(
                        f"the loss became {loss.item()} at step {step} (epoch {epoch + 1}); "
                        "stopped without saving over the last good checkpoint; lower train.lr "
                        "or set train.clip"
                    )
                set_lr()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                clip_gradients(model.parameters(), tc.clip)
                optimizer.step()
                carried = state if dc.sampling == "sequential" else None
                loss_sum += loss.detach().double() * Y.numel()
                tokens_done += Y.numel()
                step += 1
                batch_in_epoch = i + 1
                dt = time.perf_counter() - t0
                elapsed_s += dt
                epoch_train_s += dt
                stop = interrupt.hit
                if ctx.enabled:  # stop together, and schedule by one clock
                    stop, elapsed_s, epoch_train_s = agree(ctx, stop, elapsed_s, epoch_train_s)
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                if stop:
                    stopped_by, interrupted = "interrupt", True
                    break
                if tc.max_steps > 0 and step >= tc.max_steps:
                    stopped_by = "max_steps"
                    break
                if tc.time_budget > 0 and elapsed_s >= tc.time_budget:
                    stopped_by = "time_budget"
                    break
            if interrupted:
                break
            finished_epoch = batch_in_epoch >= steps_per_epoch
            if finished_epoch:
                epoch += 1
                batch_in_epoch = 0
                epoch_rng = data_gen.get_state()
            last_epoch = epoch >= tc.epochs or stopped_by != "epochs"
            if last_epoch or epoch % max(tc.eval_every, 1) == 0:
                evaluate_and_save(partial=not finished_epoch)
                if tc.patience > 0 and bad_evals >= tc.patience:
                    stopped_by = "patience"
            if gc.every > 0 and gc.prefixes and (last_epoch or epoch % gc.every == 0):
                write_samples(epoch)
    bar.close()

    if interrupted:
        if params_finite():
            with collective_errors(ctx):
                save("last.pt", history[-1] if history else {})
        echo(
            f"interrupted at step {step}; saved {run_dir / 'last.pt'}; "
            f"continue with --resume {run_dir}"
        )
    final = history[-1] if history else {}
    if final:
        echo(
            f"done ({stopped_by}): {final['epoch']} epochs, {step} steps, "
            f"train ppl {final['train_ppl']:.3f}, val ppl {final['val_ppl']:.3f} "
            f"(best {best['val_ppl']:.3f} at epoch {best['epoch']}), "
            f"elapsed {final['elapsed_s']:.1f}s, run folder {run_dir}"
        )
    close_distributed(ctx)
    return TrainResult(run_dir, history, best, stopped_by, interrupted)


def _silent(_: str) -> None:
    """The `echo` of ranks other than 0."""


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
