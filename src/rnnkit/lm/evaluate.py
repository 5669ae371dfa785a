"""Held-out evaluation of a language model: loss, perplexity, bits per token, `<unk>` share.

`evaluate_tokens` scores a model on token ids (the training recipe calls it each epoch);
`evaluate` scores a loaded model on its own corpus's validation or test part, or on any text.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.errors import ConfigError, NumericalError
from rnnkit.lm.model import RNNLM
from rnnkit.metrics import bits_per_token, perplexity
from rnnkit.text.corpora import load_corpus
from rnnkit.text.prepared import corpus_for

if TYPE_CHECKING:
    from rnnkit.lm.load import LoadedLM
    from rnnkit.training.distributed import DistContext

MIN_EVAL_STREAM = 2048  # tokens per evaluation stream, where the held-out text is long enough


@torch.no_grad()
def evaluate_tokens(
    model: RNNLM,
    tokens: np.ndarray,
    batch_size: int,
    num_steps: int,
    device: torch.device,
    ranks: DistContext | None = None,
) -> dict[str, float]:
    """Mean cross-entropy over held-out `tokens`, read as parallel streams whose hidden
    state is carried across chunks of `num_steps` (no random offset).

    Few long streams give the model the context it has when reading a text: at most
    `batch_size` streams, each at least `MIN_EVAL_STREAM` tokens long where the text allows.
    The tokens are read a chunk at a time, so a memory-mapped part is never loaded whole.
    With `ranks` (a multi-process run) each rank reads its share of the streams and the
    sums are added across ranks: every rank gets the numbers one process would.

    Returns `loss`, `ppl`, `bpc` (bits per token) and `unk` (share of `<unk>` targets).
    """
    n = len(tokens) - 1
    if n < 1:
        raise ConfigError("held-out text has fewer than 2 tokens; use a larger corpus or split")
    batch_size = max(1, min(batch_size, n // MIN_EVAL_STREAM))
    length = n // batch_size
    arr = np.asarray(tokens)
    Xs = arr[: batch_size * length].reshape(batch_size, length)  # (B, L) view
    Ys = arr[1 : batch_size * length + 1].reshape(batch_size, length)  # (B, L) view
    rows = slice(0, batch_size)
    if ranks is not None and ranks.enabled:  # imported only by a multi-process run
        from rnnkit.training.distributed import shard_rows, sum_across_ranks

        rows = shard_rows(batch_size, ranks)
    was_training = model.training
    model.eval()
    state = None
    total = torch.zeros((), dtype=torch.float64, device=device)
    unk_sum = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, length if rows.stop > rows.start else 0, num_steps):
        cols = slice(start, start + num_steps)
        x = torch.from_numpy(Xs[rows, cols].astype(np.int64)).to(device)  # (B, t)
        y = torch.from_numpy(Ys[rows, cols].astype(np.int64)).to(device)  # (B, t)
        if getattr(model, "output", "") == "adaptive":  # exact target log-probs, no (B, t, V)
            picked, state = model(x, state, targets=y)  # (B, t)
            total -= picked.double().sum()
        else:
            logits, state = model(x, state)  # (B, t, V)
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
            )
        unk_sum += (y == 0).sum()
    model.train(was_training)
    count: float = (rows.stop - rows.start) * length
    total_all, unk_all = total.item(), unk_sum.item()
    if ranks is not None and ranks.enabled:
        total_all, count, unk_all = sum_across_ranks(ranks, total_all, count, unk_all)
    loss = total_all / count
    unk = float(unk_all) / count
    return {"loss": loss, "ppl": perplexity(loss), "bpc": bits_per_token(loss), "unk": unk}


def evaluate(
    lm: LoadedLM, source: str | None = None, split: str = "val", batch_size: int = 0
) -> dict[str, Any]:
    """Loss, perplexity, bits per token and `<unk>` share of `lm` on held-out text.

    Without `source` the run's own corpus is re-read with its settings and `split` picks its
    validation or test part; with another `source`, the whole of that text is scored
    (encoded with the model's vocabulary, unseen tokens counted as `<unk>`).

    Raises:
        NumericalError: the loss is inf or NaN (the message names the checkpoint).
    """
    if split not in ("val", "test"):
        raise ConfigError(f"split {split!r} is not valid; choose val or test")
    d = lm.config.data
    source = d.source if source is None else source
    same = source == d.source
    if same:
        corpus = corpus_for(copy.deepcopy(d))
    else:
        other = copy.deepcopy(d)  # the model's tokens, over the whole of another text
        other.source, other.split, other.max_tokens = str(source), [1.0, 0.0, 0.0], 0
        other.min_freq, other.max_size, other.vocab = 1, 0, "all"
        corpus = load_corpus(other)
    ids = getattr(corpus, split) if same else corpus.train
    # The corpus built its own vocabulary: map its ids onto the model's through the tokens.
    to_model = np.array([lm.vocab[t] for t in corpus.vocab.idx_to_token], dtype=np.int64)
    tokens = to_model[np.asarray(ids, dtype=np.int64)]
    result = evaluate_tokens(lm.model, tokens, batch_size or d.batch_size, d.num_steps, lm.device)
    if not math.isfinite(result["loss"]):
        where = f"checkpoint {lm.path}: " if lm.path is not None else ""
        raise NumericalError(
            f"{where}the held-out loss is {result['loss']} (the logits are not finite); "
            "the model's weights overflow: retrain with a smaller train.lr or with clipping "
            "(train.clip)"
        )
    return {
        "source": corpus.name,
        "split": split if same else "all",
        "tokens": len(tokens),
        "loss": result["loss"],
        "ppl": result["ppl"],
        "bits_per_token": result["bpc"],
        "unk": result["unk"],
    }
