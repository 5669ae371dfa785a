"""Where a training step's time goes: rnnkit's loop beside d2l's, on the same model and data.

    python -m benchmarks.profile_step                      # d2l-deep-lstm (9.3), 2 threads
    python -m benchmarks.profile_step --preset d2l-rnn --threads 1 --steps 60

Both loops train the preset's model (`RNNLM.from_config`, the preset's data, batch, SGD and
clipping; fp32) in this process, one after the other, for `--steps` steps after `--warmup`:

- `rnnkit`: the shared training loop's own pieces, in its order (`rank_batches`,
  `training_loss`, `zero_grad`, `backward`, `clip_gradients`, `optimizer.step`, the loss sum
  and the finiteness check that `lm.train._train_step` makes), batch-first as the loop runs.
- `d2l`: the body of d2l 0.17.6's `train_epoch_ch8` restated on the same modules: time-major
  one-hot input (`X.T`), `y = Y.T.reshape(-1)`, `loss(y_hat, y).mean()`, d2l's
  `grad_clipping` (the global norm computed by hand, a host sync), `updater.step()` and
  `metric.add(l * numel)` (another sync).

Each phase is timed with `time.perf_counter` around it (torch on the CPU runs eagerly, so a
phase's time is its own), and `torch.profiler` lists the top operators of a few steps of
each loop. Writes `benchmarks/results/profile_step[-TAG].json` and `.md` (gitignored).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.report import write_report
from rnnkit.config import resolve
from rnnkit.lm.model import RNNLM
from rnnkit.lm.train import corpus_for, training_loss
from rnnkit.text.batches import rank_batches
from rnnkit.training.optim import build_optimizer, clip_gradients

RESULTS = Path(__file__).parent / "results"
Timings = dict[str, list[float]]


class _Clock:
    """Seconds per named phase, one list entry per step."""

    def __init__(self) -> None:
        self.times: Timings = defaultdict(list)
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[phase].append(now - self._t)
        self._t = now


def _batches(cfg: Any, corpus: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The preset's training batches, epoch after epoch, (B, T) ids each."""
    dc = cfg.data
    gen = torch.Generator().manual_seed(0)
    while True:
        yield from rank_batches(corpus.train, dc.batch_size, dc.num_steps, dc.sampling, gen, 0, 1)


def rnnkit_step(
    model: RNNLM, opt: torch.optim.Optimizer, clip: float
) -> Callable[[torch.Tensor, torch.Tensor, Any, _Clock], Any]:
    """One step of rnnkit's loop (`lm.train._train_step`), phase by phase."""

    def step(X: torch.Tensor, Y: torch.Tensor, state: Any, clock: _Clock) -> Any:
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        loss, state = training_loss(model, X, Y, state, False)
        clock.lap("forward + loss")
        bool(torch.isfinite(loss))
        clock.lap("finite check (sync)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clock.lap("backward")
        clip_gradients(model.parameters(), clip)
        clock.lap("clip")
        opt.step()
        clock.lap("optimizer")
        _ = loss.detach().double() * Y.numel()
        clock.lap("metrics")
        return state

    return step


def d2l_step(
    model: RNNLM, opt: torch.optim.Optimizer, clip: float
) -> Callable[[torch.Tensor, torch.Tensor, Any, _Clock], Any]:
    """One step of d2l's `train_epoch_ch8` with d2l's own modules (`RNNModel`: a time-major
    `nn.LSTM` / `nn.RNN` on one-hot input, then `nn.Linear`), given `model`'s weights: d2l's
    hand-written clipping and metric (each a host sync). `opt` only gives the lr."""
    kind, V = model.kind, model.vocab_size
    H, L = model.hidden_size, model.num_layers
    core = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind](V, H, L)
    core.load_state_dict(model.core.state_dict())
    head = nn.Linear(H, V)
    head.load_state_dict(model.head.state_dict())
    params = [*core.parameters(), *head.parameters()]
    sgd = torch.optim.SGD(params, lr=opt.param_groups[0]["lr"])

    def step(X: torch.Tensor, Y: torch.Tensor, state: Any, clock: _Clock) -> Any:
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        y = Y.T.reshape(-1)
        x = F.one_hot(X.T.long(), V).to(torch.float32)  # (T, B, V)
        out, state = core(x, state)  # (T, B, H)
        y_hat = head(out.reshape(-1, out.shape[-1]))  # (T*B, V)
        loss = nn.functional.cross_entropy(y_hat, y.long()).mean()
        clock.lap("forward + loss")
        sgd.zero_grad()
        loss.backward()
        clock.lap("backward")
        norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))  # d2l.grad_clipping
        if norm > clip:
            for p in params:
                p.grad[:] *= clip / norm
        clock.lap("clip")
        sgd.step()
        clock.lap("optimizer")
        _ = float(loss.detach() * y.numel())  # d2l's Accumulator.add (a host sync)
        clock.lap("metrics")
        return state

    return step


def run_loop(step: Callable[..., Any], cfg: Any, corpus: Any, n: int, warmup: int) -> Timings:
    """`warmup + n` steps of `step` on the preset's batches (the state carried, as
    sequential sampling does); the per-phase times of the last `n`, with data loading."""
    batches, state = _batches(cfg, corpus), None
    carry = cfg.data.sampling == "sequential"
    clock = _Clock()
    for i in range(warmup + n):
        if i == warmup:
            clock = _Clock()
        X, Y = next(batches)
        clock.lap("data")
        state = step(X, Y, state, clock)
        state = state if carry else None
    return clock.times


def top_ops(step: Callable[..., Any], cfg: Any, corpus: Any, steps: int) -> list[dict]:
    """The torch profiler's most expensive operators (self CPU time) over `steps` steps."""
    batches, state, clock = _batches(cfg, corpus), None, _Clock()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            X, Y = next(batches)
            state = step(X, Y, state, clock)
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in rows) or 1
    return [
        {"op": e.key, "ms_per_step": e.self_cpu_time_total / 1000 / steps,
         "share": e.self_cpu_time_total / total, "calls_per_step": e.count / steps}
        for e in rows[:12]
    ]  # fmt: skip


def _fresh(cfg: Any, corpus: Any) -> tuple[RNNLM, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = RNNLM.from_config(cfg.model, len(corpus.vocab))
    opt = build_optimizer(model.parameters(), cfg.train.optimizer, cfg.train.lr, 0.0)
    return model, opt


def measure(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    cfg = resolve(None, args.preset)
    corpus = corpus_for(cfg)
    tokens = cfg.data.batch_size * cfg.data.num_steps
    out: dict[str, Any] = {"preset": args.preset, "threads": args.threads, "tokens": tokens}
    for _ in range(args.repeats):  # interleaved, so both see the same machine
        for name, make in (("rnnkit", rnnkit_step), ("d2l", d2l_step)):
            model, opt = _fresh(cfg, corpus)
            times = run_loop(make(model, opt, cfg.train.clip), cfg, corpus, args.steps, args.warmup)
            entry = out.setdefault(name, {"phases": defaultdict(list), "tok_s": []})
            for phase, values in times.items():
                entry["phases"][phase].append(statistics.median(values) * 1000)
            per_step = sum(statistics.median(v) for v in times.values())
            entry["tok_s"].append(tokens / per_step)
    for name, make in (("rnnkit", rnnkit_step), ("d2l", d2l_step)):
        model, opt = _fresh(cfg, corpus)
        out[name]["top_ops"] = top_ops(make(model, opt, cfg.train.clip), cfg, corpus, 10)
    return out


def markdown(r: dict[str, Any]) -> list[str]:
    phases = list(dict.fromkeys([*r["rnnkit"]["phases"], *r["d2l"]["phases"]]))
    lines = [
        f"`{r['preset']}`, {r['threads']} thread(s), {r['tokens']} tokens per step; median ms "
        "per step over the measured steps, median over the repeats",
        "",
        "| phase | rnnkit ms | d2l ms |",
        "|---|---|---|",
    ]
    med = {
        n: {p: statistics.median(v) for p, v in r[n]["phases"].items()} for n in ("rnnkit", "d2l")
    }
    for p in phases:
        a, b = med["rnnkit"].get(p), med["d2l"].get(p)
        lines.append(
            f"| {p} | {'-' if a is None else f'{a:.2f}'} | {'-' if b is None else f'{b:.2f}'} |"
        )
    tok = {n: statistics.median(r[n]["tok_s"]) for n in ("rnnkit", "d2l")}
    step = {n: sum(med[n].values()) for n in med}
    lines += [
        f"| **step** | **{step['rnnkit']:.2f}** | **{step['d2l']:.2f}** |",
        "",
        f"tokens/s: rnnkit {tok['rnnkit']:,.0f}, d2l loop {tok['d2l']:,.0f} "
        f"({tok['rnnkit'] / tok['d2l']:.2f}x)",
    ]
    for n in ("rnnkit", "d2l"):
        lines += ["", f"Top operators, {n} (self CPU ms per step, share):", ""]
        lines += [f"- `{o['op']}` {o['ms_per_step']:.2f} ms ({o['share']:.0%}), "
                  f"{o['calls_per_step']:.0f} calls" for o in r[n]["top_ops"]]  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="d2l-deep-lstm")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    result = measure(args)
    name = "profile_step" + (f"-{args.tag}" if args.tag else "")
    write_report(name, result, lambda r: "\n".join(markdown(r)) + "\n")


if __name__ == "__main__":
    main()
