"""Figures written into run folders: training curves (and forecasts). Matplotlib, Agg backend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curves(rows: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Loss and perplexity against epoch, train and validation, from `metrics.jsonl` rows."""
    fig, (ax_loss, ax_ppl) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [r["epoch"] for r in rows]
    for key, label in (("train", "train"), ("val", "validation")):
        loss = [r.get(f"{key}_loss", math.nan) for r in rows]
        ppl = [r.get(f"{key}_ppl", math.nan) for r in rows]
        if all(math.isnan(v) for v in loss):
            continue
        ax_loss.plot(epochs, loss, marker=".", label=label)
        ax_ppl.plot(epochs, ppl, marker=".", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats / token)", title="loss")
    ax_ppl.set(xlabel="epoch", ylabel="perplexity", title="perplexity", yscale="log")
    for ax in (ax_loss, ax_ppl):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
