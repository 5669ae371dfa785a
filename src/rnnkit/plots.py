"""Figures written into run folders: training curves, forecasts and confusion matrices.

Each plot draws on its own `matplotlib.figure.Figure` and saves it to a file: no pyplot, no
global backend switch, so a notebook's inline plots are left alone. The file is written
through `write_atomic`: a full disk leaves the previous figure and a one-line `StorageError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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


def plot_confusion(
    cm: Any, names: Sequence[str], path: str | Path, title: str = "", then: str = ""
) -> Path:
    """A labelled confusion matrix: counts in the cells, rows = true classes, columns =
    predicted, shaded by each row's share (recall). Shape: cm (K, K)."""
    import numpy as np

    counts = np.asarray(cm, dtype=np.int64)
    k = len(counts)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(max(4.0, 0.55 * k + 2.5), 16.0)
    fig = Figure(figsize=(size + 1.2, size))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    labels = [str(n)[:16] for n in names]
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                color = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    fig.tight_layout()
    return _save(fig, path, then)


def plot_classify_curves(
    rows: Sequence[dict[str, Any]], path: str | Path, title: str = "", then: str = ""
) -> Path:
    """Loss (train, validation) and validation accuracy against epoch, one line per seed,
    from the classification `metrics.jsonl` rows."""
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    seeds = sorted({r.get("seed", 0) for r in rows})
    for seed in seeds:
        mine = [r for r in rows if r.get("seed", 0) == seed]
        epochs = [r["epoch"] for r in mine]
        tag = f" (seed {seed})" if len(seeds) > 1 else ""
        ax_loss.plot(epochs, [r["train_loss"] for r in mine], label="train" + tag)
        ax_loss.plot(epochs, [r["val_loss"] for r in mine], ls="--", label="validation" + tag)
        ax_acc.plot(epochs, [r["val_accuracy"] for r in mine], label="validation" + tag)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, then)


def plot_backtest(
    time: Sequence[str],
    values: Any,
    segments: Sequence[tuple[int, Any, Any, Any]],
    scores: Mapping[str, Sequence[float]],
    path: str | Path,
    title: str = "",
) -> Path:
    """`rnnkit forecast --backtest N` in one figure: the series' tail with the chosen
    forecast and its band from every origin (top), and each forecast's MASE per origin
    (bottom).

    Shape:
        values: (N,) the first target. Each segment: (start index, mean, lower, upper), each
        (H,). scores: name -> one MASE per origin, origins in time order.
    """
    import numpy as np

    y = np.asarray(values, dtype=float).reshape(len(values), -1)[:, 0]  # (N,)
    first = max(0, segments[0][0] - 2 * len(segments[0][1]))
    fig = Figure(figsize=(10, 6))
    ax, ax_score = fig.subplots(2, 1, gridspec_kw={"height_ratios": [2, 1]})
    steps = np.arange(first, len(y))
    ax.plot(steps, y[first:], color="black", linewidth=1, label="actual")
    for k, (start, mean, lower, upper) in enumerate(segments):
        x = np.arange(start, start + len(mean))
        ax.plot(
            x, mean, color="tab:blue", linewidth=1.5, label="chosen forecast" if k == 0 else None
        )
        ax.fill_between(x, lower, upper, color="tab:blue", alpha=0.15, linewidth=0)
        ax.axvline(start - 0.5, color="grey", linestyle=":", linewidth=0.8)
    ticks = np.linspace(first, len(y) - 1, 6).astype(int)
    ax.set_xticks(ticks, [time[i] for i in ticks])
    ax.set(ylabel="value", title=title or "backtest: the chosen forecast from each origin")
    ax.legend(loc="upper left")
    origins = [time[s] for s, *_ in segments]
    for j, (name, mase) in enumerate(scores.items()):
        style = ("-", "--", ":", "-.")[j % 4]
        ax_score.plot(origins, mase, marker="o", linestyle=style, label=name)
    ax_score.set(xlabel="origin (first forecast step)", ylabel="MASE")
    ax_score.legend(fontsize="small", ncol=3)
    for a in (ax, ax_score):
        a.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
