"""The recipe's speed probe: how fast this machine trains the candidate model, measured.

A few training steps of the model the recipe chose, on the first training batches, timed
after untimed ones (they build the kernels), at each thread count the caller names (the best
one is where adaptive threads start), under a private RNG scope so that the run's seeded
draws are those it would make without the probe. Under torchrun rank 0 measures and
every rank gets its figure, so all of them make the same choice.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Sequence

import torch

from rnnkit.config import RunConfig
from rnnkit.lm.adaptive import choose_cutoffs, resolve_output
from rnnkit.lm.model import RNNLM, training_loss
from rnnkit.text.batches import BatchIterator
from rnnkit.text.corpora import Corpus
from rnnkit.training.distributed import DistContext, sum_across_ranks
from rnnkit.training.environment import bf16_supported, global_rng_kept, threads_kept
from rnnkit.training.optim import build_optimizer, clip_gradients

PROBE_S = 0.5  # seconds of timed steps at most, per thread count tried
PROBE_STEPS = 8  # timed steps at most, per thread count tried
WARM_STEPS = 2  # untimed steps first, and one after each change of thread count


def measure_rate(
    cfg: RunConfig, corpus: Corpus, ctx: DistContext, counts: Sequence[int] = ()
) -> tuple[float, int]:
    """Training tokens per second of the model `cfg` describes on this machine at the best
    of the thread `counts` tried (none: the current count), and that count; rank 0's
    figures on every rank. The rate is 0.0 when the training part holds no whole batch."""
    rate, best = 0.0, torch.get_num_threads()
    if ctx.is_main:
        with global_rng_kept(ctx.device), threads_kept():
            rate, best = _timed_steps(cfg, corpus, ctx.device, list(counts) or [best])
    summed = sum_across_ranks(ctx, rate, float(best if ctx.is_main else 0))
    return float(summed[0]), int(summed[1])


def _timed_steps(
    cfg: RunConfig, corpus: Corpus, device: torch.device, counts: list[int]
) -> tuple[float, int]:
    """The best tokens per second over `counts` (each: up to `PROBE_STEPS` optimizer steps,
    `PROBE_S` seconds at most) and the count that gave it.

    Shape:
        each batch X, Y: (B, T) token ids
    """
    dc, tc = cfg.data, cfg.train
    batches = BatchIterator(
        corpus.train, dc.batch_size, dc.num_steps, "sequential", torch.Generator().manual_seed(0)
    )
    if len(batches) == 0:
        return 0.0, counts[0]
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.output = resolve_output(model_cfg.output, dc.level, len(corpus.vocab))
    if model_cfg.output == "adaptive" and not model_cfg.cutoffs:
        model_cfg.cutoffs = choose_cutoffs(corpus.vocab.counts, len(corpus.vocab))
    model = RNNLM.from_config(model_cfg, len(corpus.vocab)).to(device).train()
    optimizer = build_optimizer(model.parameters(), tc.optimizer, tc.lr, tc.weight_decay)
    bf16 = tc.precision == "bf16" and bf16_supported(device)
    stream = itertools.cycle(batches)

    def step() -> int:
        X, Y = next(stream)
        loss, _ = training_loss(model, X.to(device), Y.to(device), None, bf16)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), tc.clip)
        optimizer.step()
        return Y.numel()

    for _ in range(WARM_STEPS - 1):
        step()
    rates = {}
    for count in counts:
        torch.set_num_threads(count)
        step()  # untimed: the kernels for this count
        tokens, start = 0, time.perf_counter()
        for _ in range(PROBE_STEPS):
            tokens += step()
            if time.perf_counter() - start >= PROBE_S:
                break
        rates[count] = tokens / (time.perf_counter() - start)
    best = max(rates, key=lambda c: rates[c])
    return rates[best], best
