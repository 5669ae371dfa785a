"""rnnkit's side of `benchmarks.speed`: one case, one implementation, one thread count.

Runs in the project environment, one measurement per process (so each has its own peak
memory and thread setting), called by `benchmarks.speed` as::

    .venv/bin/python -m benchmarks.speed_rnnkit '<json arguments>' result.json

Modes:

- `loop`: the training step of `rnnkit.lm.train` (the same calls: `training_loss`,
  the finite-loss check, the schedule, `zero_grad`, `backward`, `clip_gradients`, the
  optimizer, the detached carried state, the on-device loss sum), built from the preset
  through rnnkit's public pieces, and timed per epoch around the whole batch loop, data
  iteration included, as d2l's `train_epoch_ch8` times itself. Then generation (one greedy
  sequence; `num_samples` sampled at once) and, when asked, the matrix-product limit.
- `train_lm`: `rnnkit.lm.train` itself on the same configuration, evaluation only at the end,
  no samples; reports training tokens over its `elapsed_s` (a cross-check of `loop`).

The matrix-product limit: the products no implementation can avoid, at the case's shapes,
timed alone with `torch.mm` (medians of repeats), per training step:

- per layer: T recurrent products forward `(B, H) x (H, G*H)` and T backward
  `(B, G*H) x (G*H, H)`, and `dW_hh` over all steps `(G*H, T*B) x (T*B, H)`;
- the input side of every layer that reads dense vectors (an embedding, or the layer
  below): forward `(T*B, I) x (I, G*H)`, `dW_ih` and the input gradient; a one-hot
  first layer has none (a column lookup and a scatter-add, no product);
- the output layer: forward `(T*B, H) x (H, V)`, `dW` and the gradient into the core.
"""

from __future__ import annotations

import copy
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import RunConfig, apply_overrides, load_preset
from rnnkit.decode.options import SamplingOptions
from rnnkit.lm.generation import generate_text
from rnnkit.lm.model import RNNLM
from rnnkit.lm.train import corpus_for, train_lm, training_loss
from rnnkit.nn.state import detach
from rnnkit.text.batches import BatchIterator
from rnnkit.training.environment import bf16_supported, seed_everything, set_threads
from rnnkit.training.optim import build_optimizer, clip_gradients, lr_factor

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config_for(args: dict[str, Any]) -> RunConfig:
    """The preset with the case's overrides, implementation, threads and seed."""
    cfg = load_preset(args["preset"])
    apply_overrides(
        cfg,
        [
            *args["overrides"],
            f"model.impl={args['impl']}",
            f"train.threads={args['threads']}",
            f"train.seed={args['seed']}",
        ],
    )
    return cfg


def train_loop(
    cfg: RunConfig, model: RNNLM, batches: BatchIterator, epochs: int, max_batches: int
) -> list[dict[str, float]]:
    """Train as `train_lm` does, timing each epoch (capped at `max_batches`, 0 = all)."""
    tc, dc = cfg.train, cfg.data
    optimizer = build_optimizer(model.parameters(), tc.optimizer, tc.lr, tc.weight_decay)
    per_epoch = min(len(batches), max_batches) if max_batches > 0 else len(batches)
    total_steps, step = epochs * per_epoch, 0
    sequential = dc.sampling == "sequential"
    # train.precision as train_lm applies it: bf16 only where the CPU runs it natively
    bf16 = tc.precision == "bf16" and bf16_supported(torch.device("cpu"))
    model.train()
    rows = []
    for _ in range(epochs):
        start, cpu = time.perf_counter(), time.process_time()
        loss_sum = torch.zeros((), dtype=torch.float64)
        tokens, carried = 0, None
        for i, (X, Y) in enumerate(batches):
            if i >= per_epoch:
                break
            state = detach(carried) if sequential else None
            loss, state = training_loss(model, X, Y, state, bf16)
            if not torch.isfinite(loss):
                raise RuntimeError(f"the loss became {loss.item()} at step {step}")
            factor = lr_factor(tc.schedule, step, total_steps, tc.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = tc.lr * factor
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model.parameters(), tc.clip)
            optimizer.step()
            carried = state if sequential else None
            loss_sum += loss.detach().double() * Y.numel()
            tokens += Y.numel()
            step += 1
        train_loss = loss_sum.item() / tokens
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append({"s": seconds, "cpu_s": cpu, "tokens": tokens, "loss": train_loss})
    return rows


def _median_s(
    fn: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median time of `fn` on `clock` (wall time by default), after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def product_limit(cfg: RunConfig, vocab_size: int, repeats: int) -> dict[str, float]:
    """Seconds per training step of the unavoidable products, by group (see the docstring),
    on the wall clock and (`cpu_total`) on the process's CPU clock."""
    m, d = cfg.model, cfg.data
    B, T, H, L, V = d.batch_size, d.num_steps, m.hidden_size, m.num_layers, vocab_size
    GH = GATES[m.kind] * H
    E = m.embedding_dim or H
    r = torch.randn
    h, w_hh, dg = r(B, H), r(GH, H), r(B, GH)
    big_g, big_h, big_e = r(T * B, GH), r(T * B, H), r(T * B, E)
    w_in_h, w_in_e = r(GH, H), r(GH, E)
    w_out, d_logits = r(V, H), r(T * B, V)

    def recurrent() -> None:
        for _ in range(L):
            for _ in range(T):
                torch.mm(h, w_hh.t())  # forward (B, H) x (H, GH)
                torch.mm(dg, w_hh)  # backward (B, GH) x (GH, H)
            torch.mm(big_g.t(), big_h)  # dW_hh (GH, TB) x (TB, H)

    def input_side() -> None:
        if m.input_mode == "embedding":
            torch.mm(big_e, w_in_e.t())  # (TB, E) x (E, GH)
            torch.mm(big_g.t(), big_e)  # dW_ih
            torch.mm(big_g, w_in_e)  # gradient into the embedding
        for _ in range(L - 1):
            torch.mm(big_h, w_in_h.t())  # the layer below's output
            torch.mm(big_g.t(), big_h)  # dW_ih
            torch.mm(big_g, w_in_h)  # gradient into the layer below

    def output() -> None:
        torch.mm(big_h, w_out.t())  # logits (TB, H) x (H, V)
        torch.mm(d_logits.t(), big_h)  # dW_out (V, TB) x (TB, H)
        torch.mm(d_logits, w_out)  # gradient into the core (TB, V) x (V, H)

    parts = {"recurrent": recurrent, "input": input_side, "output": output}
    out = {name: _median_s(fn, repeats) for name, fn in parts.items()}
    out["total"] = sum(out.values())
    out["cpu_total"] = sum(_median_s(fn, repeats, time.process_time) for fn in parts.values())
    return out


def run_loop(args: dict[str, Any]) -> dict[str, Any]:
    """Train, generate and (optionally) time the product limit; the result row."""
    cfg = config_for(args)
    threads = set_threads(args["threads"])
    rss_import = rss_mib()
    seed_everything(args["seed"])
    corpus = corpus_for(cfg)
    vocab = corpus.vocab
    gen = torch.Generator().manual_seed(args["seed"])
    dc = cfg.data
    batches = BatchIterator(corpus.train, dc.batch_size, dc.num_steps, dc.sampling, gen)
    model = RNNLM.from_config(cfg.model, len(vocab))
    rows = train_loop(cfg, model, batches, args["epochs"], args["max_batches"])
    rss_train = rss_mib()

    prefix, length = args["prefix"], args["gen_length"]
    level = dc.level

    greedy_options = SamplingOptions(prefix, length, temperature=0.0, seed=0)
    sampled_options = SamplingOptions(
        prefix, length, temperature=1.0, num_samples=args["num_samples"], seed=0
    )

    def greedy() -> None:
        generate_text(model, vocab, greedy_options, level=level)

    def sampled() -> None:
        generate_text(model, vocab, sampled_options, level=level)

    greedy_s = _median_s(greedy, args["gen_repeats"])
    sampled_s = _median_s(sampled, args["gen_repeats"])
    timed = rows[1:] if len(rows) >= 3 else rows  # the first epoch warms up
    tok_s = [row["tokens"] / row["s"] for row in timed]
    result: dict[str, Any] = {
        "side": "rnnkit",
        "impl": args["impl"],
        "threads": threads,
        "vocab": len(vocab),
        "epochs": len(rows),
        "tokens_per_epoch": rows[0]["tokens"],
        "tok_s": statistics.median(tok_s),
        "tok_s_all": [row["tokens"] / row["s"] for row in rows],
        "cpu_tok_s": statistics.median(row["tokens"] / row["cpu_s"] for row in timed),
        "final_ppl": math.exp(rows[-1]["loss"]),
        "greedy_ch_s": length / greedy_s,
        "sampled_ch_s": args["num_samples"] * length / sampled_s,
        "num_samples": args["num_samples"],
        "rss_import_mib": rss_import,
        "rss_train_mib": rss_train,
    }
    if args.get("limit"):
        limit = product_limit(cfg, len(vocab), args["limit_repeats"])
        result["limit_s"] = limit
        result["limit_tok_s"] = dc.batch_size * dc.num_steps / limit["total"]
        result["limit_cpu_tok_s"] = dc.batch_size * dc.num_steps / limit["cpu_total"]
    result["peak_mib"] = rss_mib()
    return result


def run_train_lm(args: dict[str, Any]) -> dict[str, Any]:
    """`rnnkit.lm.train` itself on the same configuration: tokens over its `elapsed_s`.

    A two-step run first warms the process up, so that the mean over all epochs is not
    dominated by one-off start-up costs (the loop's median skips its first epoch for the
    same reason).
    """
    cfg = config_for(args)
    epochs, cap = args["epochs"], args["max_batches"]
    quiet = ["generate.every=0", "train.time_budget=0", "train.patience=0"]
    if cap > 0:
        steps = [f"train.max_steps={epochs * cap}", "train.epochs=1000000"]
        steps += ["train.eval_every=1000000"]
    else:
        steps = [f"train.epochs={epochs}", f"train.eval_every={epochs}"]
    warm = copy.deepcopy(cfg)
    apply_overrides(warm, [*quiet, "train.max_steps=2", "train.epochs=1"])
    apply_overrides(cfg, [*quiet, *steps])
    rss_import = rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        train_lm(warm, out=Path(tmp) / "warm", quiet=True, echo=lambda line: None)
        res = train_lm(cfg, out=Path(tmp) / "run", quiet=True, echo=lambda line: None)
    final = res.history[-1]
    tokens = final["step"] * cfg.data.batch_size * cfg.data.num_steps
    return {
        "side": "rnnkit-train_lm",
        "impl": args["impl"],
        "threads": torch.get_num_threads(),
        "steps": final["step"],
        "tok_s": tokens / final["elapsed_s"],
        "final_ppl": final["train_ppl"],
        "rss_import_mib": rss_import,
        "peak_mib": rss_mib(),
    }


def main() -> None:
    args = json.loads(sys.argv[1])
    run = run_train_lm if args.get("mode") == "train_lm" else run_loop
    result = run(args)
    result["versions"] = {"torch": torch.__version__}
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
