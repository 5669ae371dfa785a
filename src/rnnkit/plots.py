"""Figures written into run folders: training curves and forecasts.

Each plot draws on its own `matplotlib.figure.Figure` and saves it to a file: no pyplot, no
global backend switch, so a notebook's inline plots are left alone. The file is written
through `write_atomic`: a full disk leaves the previous figure and a one-line `StorageError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rnnkit.storage import write_atomic

# The dashed reference lines of `plot_forecast`, apart from the forecast's blue.
REFERENCE_COLORS = ("tab:orange", "tab:green", "tab:purple", "tab:brown")


def _save(fig: Figure, path: str | Path, then: str | Callable[[], str] = "") -> Path:
    """Save `fig` to `path` atomically, in the format its suffix names (PNG without one)."""
    path = Path(path)
    kind = path.suffix.lstrip(".").lower() or "png"
    return write_atomic(path, lambda fh: fig.savefig(fh, format=kind, dpi=100), then)


def plot_curves(
    rows: Sequence[dict[str, Any]],
    path: str | Path,
    title: str = "",
    then: str | Callable[[], str] = "",
) -> Path:
    """Loss and perplexity against epoch, train and validation, from `metrics.jsonl` rows."""
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_ppl = fig.subplots(1, 2)
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
    return _save(fig, path, then)


def plot_forecast(
    time: Sequence[str],
    history: Any,
    future_time: Sequence[str],
    mean: Any,
    lower: Any,
    upper: Any,
    path: str | Path,
    truth: Any | None = None,
    names: Sequence[str] = (),
    title: str = "",
    level: float = 0.8,
    show_last: int = 0,
    references: dict[str, Any] | None = None,
) -> Path:
    """History, truth, forecast and its interval band, one panel per target (at most 4).

    The x-axis is the step index, labelled with a few of the time labels. `show_last`
    (default: four horizons, at least 60 points) trims the history drawn. `references`
    (legend label -> forecast) adds thin dashed lines, e.g. the classical references.

    Shape:
        history: (N, C). mean, lower, upper, truth, each reference: (H, C). time: N
        labels, future_time: H.
    """
    import numpy as np

    hist = np.asarray(history, dtype=float).reshape(len(history), -1)  # (N, C)
    mu = np.asarray(mean, dtype=float).reshape(len(mean), -1)  # (H, C)
    lo = np.asarray(lower, dtype=float).reshape(mu.shape)
    hi = np.asarray(upper, dtype=float).reshape(mu.shape)
    n, h = len(hist), len(mu)
    keep = min(n, show_last or max(4 * h, 60))
    x_hist = np.arange(n - keep, n)
    x_fut = np.arange(n, n + h)
    panels = min(mu.shape[1], 4)
    fig = Figure(figsize=(10, 3.2 * panels))
    axes = fig.subplots(panels, 1, squeeze=False)
    labels = [*time, *future_time]
    for c in range(panels):
        ax = axes[c][0]
        ax.plot(x_hist, hist[n - keep :, c], color="0.3", marker=".", ms=4, label="history")
        if truth is not None:
            tr = np.asarray(truth, dtype=float).reshape(mu.shape)
            ax.plot(x_fut, tr[:, c], color="black", marker="o", ms=4, lw=1, label="truth")
        if np.isfinite(lo[:, c]).all() and np.isfinite(hi[:, c]).all():
            ax.fill_between(
                x_fut,
                lo[:, c],
                hi[:, c],
                color="tab:blue",
                alpha=0.2,
                label=f"{level:.0%} interval",
            )
        ax.plot(x_fut, mu[:, c], color="tab:blue", marker="x", ms=4, label="forecast")
        for k, (label, ref) in enumerate((references or {}).items()):
            ref_c = np.asarray(ref, dtype=float).reshape(mu.shape)[:, c]
            color = REFERENCE_COLORS[k % len(REFERENCE_COLORS)]
            ax.plot(x_fut, ref_c, color=color, ls="--", lw=1, label=label)
        ticks = np.linspace(n - keep, n + h - 1, num=min(8, keep + h)).astype(int)
        ax.set_xticks(ticks)
        ax.set_xticklabels([labels[t] if t < len(labels) else "" for t in ticks], fontsize=8)
        ax.set_ylabel(names[c] if c < len(names) else f"target {c}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    if title:
        axes[0][0].set_title(title)
    fig.tight_layout()
    return _save(fig, path)
