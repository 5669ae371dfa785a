"""The recipe's speed probe: how fast this machine trains the candidate model, measured.

A few training steps of the model the recipe chose, on the first training batches, timed
after two untimed ones (they build the kernels), under a private RNG scope so that the run's
seeded draws are those it would make without the probe. Under torchrun rank 0 measures and
every rank gets its figure, so all of them make the same choice.
"""

from __future__ import annotations

import copy
import itertools
import time

import torch

from rnnkit.config import RunConfig
from rnnkit.lm.adaptive import choose_cutoffs, resolve_output
from rnnkit.lm.model import RNNLM, training_loss
from rnnkit.text.batches import BatchIterator
from rnnkit.text.corpora import Corpus
from rnnkit.training.distributed import DistContext, sum_across_ranks
from rnnkit.training.environment import bf16_supported, global_rng_kept
from rnnkit.training.optim import build_optimizer, clip_gradients

PROBE_S = 1.0  # seconds of timed steps at most
PROBE_STEPS = 16  # timed steps at most
WARM_STEPS = 2  # untimed steps first


def measure_rate(cfg: RunConfig, corpus: Corpus, ctx: DistContext) -> float:
    """Training tokens per second of the model `cfg` describes on this machine (rank 0's
    figure on every rank); 0.0 when the training part holds no whole batch."""
    rate = 0.0
    if ctx.is_main:
        with global_rng_kept(ctx.device):
            rate = _timed_steps(cfg, corpus, ctx.device)
    return float(sum_across_ranks(ctx, rate)[0])


def _timed_steps(cfg: RunConfig, corpus: Corpus, device: torch.device) -> float:
    """Tokens per second of up to `PROBE_STEPS` optimizer steps (`PROBE_S` seconds at most).

    Shape:
        each batch X, Y: (B, T) token ids
    """
    dc, tc = cfg.data, cfg.train
    batches = BatchIterator(
        corpus.train, dc.batch_size, dc.num_steps, "sequential", torch.Generator().manual_seed(0)
    )
    if len(batches) == 0:
        return 0.0
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.output = resolve_output(model_cfg.output, dc.level, len(corpus.vocab))
    if model_cfg.output == "adaptive" and not model_cfg.cutoffs:
        model_cfg.cutoffs = choose_cutoffs(corpus.vocab.counts, len(corpus.vocab))
    model = RNNLM.from_config(model_cfg, len(corpus.vocab)).to(device).train()
    optimizer = build_optimizer(model.parameters(), tc.optimizer, tc.lr, tc.weight_decay)
    bf16 = tc.precision == "bf16" and bf16_supported(device)
    tokens, seconds = 0, 0.0
    for i, (X, Y) in enumerate(itertools.cycle(batches)):
        if i >= WARM_STEPS + PROBE_STEPS or seconds >= PROBE_S:
            break
        t0 = time.perf_counter()
        loss, _ = training_loss(model, X.to(device), Y.to(device), None, bf16)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), tc.clip)
        optimizer.step()
        if i >= WARM_STEPS:
            seconds += time.perf_counter() - t0
            tokens += Y.numel()
    return tokens / seconds if seconds > 0 else 0.0
