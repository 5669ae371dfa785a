"""Figures written into run folders: training curves, forecasts and confusion matrices.

Each plot draws on its own `matplotlib.figure.Figure` and saves it to a file: no pyplot, no
global backend switch, so a notebook's inline plots are left alone. The file is written
through `write_atomic`: a full disk leaves the previous figure and a one-line `StorageError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rnnkit.storage import write_atomic
from rnnkit.timelabels import parse_time

# The reference lines of `plot_forecast`: each has its own colour, dash pattern and hollow
# marker, and each is thinner, with a smaller marker, than the one before and drawn above it,
# all above the model's wide solid blue line: lines that coincide still all show. On a long
# horizon each marks other steps (`MARKS`).
REFERENCE_STYLES: tuple[dict[str, Any], ...] = (
    {"color": "tab:orange", "ls": "--", "marker": "s", "lw": 2.4, "ms": 6.5},
    {"color": "tab:green", "ls": "-.", "marker": "^", "lw": 2.0, "ms": 6.0},
    {"color": "tab:purple", "ls": ":", "marker": "v", "lw": 1.7, "ms": 5.5},
    {"color": "tab:brown", "ls": (0, (6, 2, 1, 2, 1, 2)), "marker": "D", "lw": 1.4, "ms": 5.0},
    {"color": "tab:pink", "ls": (0, (1, 1)), "marker": "P", "lw": 1.2, "ms": 4.5},
    {"color": "tab:olive", "ls": (0, (8, 3)), "marker": "X", "lw": 1.0, "ms": 4.0},
)
REFERENCE_COLORS = tuple(style["color"] for style in REFERENCE_STYLES)
MAX_TICKS = 10
MARKS = 12  # about as many markers per reference line, whatever the horizon
# Days a time axis spans for its ticks to fall on years, quarters or months (`date_ticks`).
YEARS_SPAN, QUARTERS_SPAN, MONTHS_SPAN = 3 * 365, 360, 60


@dataclass
class TimeAxis:
    """Where a plot puts each time label and which ticks it labels.

    `kind` is `dates` (x is a matplotlib date number, ticks on calendar boundaries),
    `numbers` (labels that are numbers, x is their value) or `steps` (x is the label's index,
    the ticks name the labels there).

    Shape:
        x: (N,) one position per label. ticks: T positions, tick_labels: T strings.
    """

    x: Any
    ticks: list[float]
    tick_labels: list[str]
    kind: str


def _as_number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _extend(known: list[float], count: int) -> list[float]:
    """`known` positions followed by `count` more at their median step (1 with one)."""
    import numpy as np

    step = float(np.median(np.diff(known))) if len(known) > 1 else 1.0
    return [*known, *(known[-1] + step * k for k in range(1, count + 1))]


def date_ticks(start: datetime, end: datetime, max_ticks: int = MAX_TICKS) -> list[datetime]:
    """Ticks on calendar boundaries from `start` to `end`: years (every 1, 2, 5, 10, ...
    years) over three years or more, quarters over about one, months over two months, else
    matplotlib's automatic choice (days, hours)."""
    from matplotlib.dates import AutoDateLocator, MonthLocator, YearLocator, num2date

    days = (end - start).days
    if days >= YEARS_SPAN:
        years = days / 365.25
        base = next((b for b in (1, 2, 5, 10, 20, 25, 50, 100) if years / b <= max_ticks), 200)
        locator: Any = YearLocator(base=base)
    elif days >= QUARTERS_SPAN:
        locator = MonthLocator(bymonth=(1, 4, 7, 10))
    elif days >= MONTHS_SPAN:
        locator = MonthLocator()
    else:
        locator = AutoDateLocator(minticks=3, maxticks=max_ticks)
    ticks = [num2date(t).replace(tzinfo=None) for t in locator.tick_values(start, end)]
    return [t for t in ticks if start <= t <= end]


def date_tick_label(tick: datetime, start: datetime, end: datetime) -> str:
    """A tick's label for a span from `start` to `end`: `2001` for ticks on years over
    three years, `2001 Q2` on quarters, `Jan 2001` on months, else the day (and time)."""
    days = (end - start).days
    if days >= YEARS_SPAN and (tick.month, tick.day) == (1, 1):
        return f"{tick.year}"
    if days >= QUARTERS_SPAN and tick.day == 1 and tick.month in (1, 4, 7, 10):
        return f"{tick.year} Q{(tick.month - 1) // 3 + 1}"
    if days >= MONTHS_SPAN and tick.day == 1:
        return tick.strftime("%b %Y")
    if (end - start).days < 3:
        return tick.strftime("%m-%d %H:%M")
    return tick.strftime("%Y-%m-%d")


def time_axis(labels: Sequence[str], n_known: int = -1, max_ticks: int = MAX_TICKS) -> TimeAxis:
    """The positions and ticks of `labels`. The first `n_known` (default all) decide the
    kind; later labels that do not parse (`+1`, `+2`, ...) continue at the median step."""
    import numpy as np
    from matplotlib.dates import date2num
    from matplotlib.ticker import MaxNLocator

    n = len(labels)
    known = n if n_known < 0 else n_known
    dates = [parse_time(s) for s in labels]
    numbers = [_as_number(s) for s in labels]
    if known > 1 and all(d is not None for d in dates[:known]):
        head = [float(date2num(d)) for d in dates[:known]]
        tail = [float(date2num(d)) for d in dates[known:] if d is not None]
        x = head + tail if len(tail) == n - known else _extend(head, n - known)
        first, last = _to_datetime(x[0]), _to_datetime(x[-1])
        ticks = date_ticks(first, last, max_ticks)
        if len(ticks) >= 2:
            tick_labels = [date_tick_label(t, first, last) for t in ticks]
            return TimeAxis(np.array(x), [float(date2num(t)) for t in ticks], tick_labels, "dates")
    if known > 1 and all(v is not None for v in numbers[:known]):
        head_n = [float(v) for v in numbers[:known] if v is not None]
        tail_n = [float(v) for v in numbers[known:] if v is not None]
        x = head_n + tail_n if len(tail_n) == n - known else _extend(head_n, n - known)
        whole = all(float(v).is_integer() for v in x)
        values = MaxNLocator(nbins=max_ticks, integer=whole).tick_values(x[0], x[-1])
        ticks_n = [float(t) for t in values if x[0] <= t <= x[-1]]
        return TimeAxis(np.array(x), ticks_n, [f"{t:g}" for t in ticks_n], "numbers")
    idx = MaxNLocator(nbins=max_ticks, integer=True).tick_values(0, max(n - 1, 1))
    steps = [int(t) for t in idx if 0 <= t < n]
    return TimeAxis(
        np.arange(n, dtype=float), [float(t) for t in steps], [labels[t] for t in steps], "steps"
    )


def _to_datetime(value: float) -> datetime:
    from matplotlib.dates import num2date

    return num2date(value).replace(tzinfo=None)


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
    references: Mapping[str, Any] | None = None,
    label: str = "forecast",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """History, truth, forecast and its interval band, one panel per target (at most 4).

    The x-axis follows the time labels (`time_axis`): dates get ticks on calendar
    boundaries. `show_last` (default: four horizons, at least 60 points) trims the history
    drawn, and a note says how much is shown. `label` names the model's line in the legend
    (e.g. `chosen: ETS(A,A,M)`); `references` (legend label -> forecast), then `extra`,
    add lines of their own colour, dashes and marker, e.g. the classical references.

    Shape:
        history: (N, C). mean, lower, upper, truth, each reference and extra: (H, C). time: N
        labels, future_time: H.
    """
    import numpy as np

    hist = np.asarray(history, dtype=float).reshape(len(history), -1)  # (N, C)
    mu = np.asarray(mean, dtype=float).reshape(len(mean), -1)  # (H, C)
    n, h = len(hist), len(mu)
    keep = min(n, show_last or max(4 * h, 60))
    axis = time_axis([*time[n - keep :], *future_time], n_known=keep)
    panels = min(mu.shape[1], 4)
    fig = Figure(figsize=(11, 3.4 * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)
    lines = {**(references or {}), **(extra or {})}
    bands = (np.asarray(lower, dtype=float), np.asarray(upper, dtype=float))
    marks = max(1, round(h / MARKS))  # a marker every `marks` steps
    for c in range(panels):
        ax = axes[c][0]
        x_hist, x_fut = axis.x[:keep], axis.x[keep:]
        ax.plot(x_hist, hist[n - keep :, c], color="0.35", marker=".", ms=3, lw=1, label="history")
        if truth is not None:
            tr = np.asarray(truth, dtype=float).reshape(mu.shape)[:, c]
            ax.plot(x_fut, tr, color="black", marker="o", ms=4, lw=1.2, label="truth", zorder=3)
        _draw_forecast(
            ax, x_fut, mu[:, c], [b.reshape(mu.shape)[:, c] for b in bands], level, label
        )
        for k, (name, values) in enumerate(lines.items()):
            style = REFERENCE_STYLES[k % len(REFERENCE_STYLES)]
            ref = np.asarray(values, dtype=float).reshape(mu.shape)[:, c]
            every = (k % marks, marks)  # each line marks other steps of a long horizon
            ax.plot(x_fut, ref, mfc="none", markevery=every, label=name, zorder=6 + k, **style)
        if 0 < keep < len(axis.x):  # the forecast origin, between the history and the future
            ax.axvline((x_hist[-1] + x_fut[0]) / 2, color="0.6", ls=":", lw=1, zorder=1)
        ax.set_xticks(axis.ticks, axis.tick_labels, fontsize=8)
        ax.set_xlim(axis.x[0] - 0.01 * _span(axis.x), axis.x[-1] + 0.01 * _span(axis.x))
        ax.set_ylabel(names[c] if c < len(names) else f"target {c}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        if keep < n:
            note = f"last {keep} of {n} points of history shown"
            ax.text(0.01, 0.02, note, transform=ax.transAxes, fontsize=8, color="0.35")
    if title:
        axes[0][0].set_title(title)
    return _save(fig, path)


def _span(x: Any) -> float:
    return float(x[-1] - x[0]) or 1.0


def _draw_forecast(ax: Any, x: Any, mean: Any, band: list[Any], level: float, label: str) -> None:
    """The model's interval band (when finite) and its wide solid line, under the references.
    Shape: x, mean and each of band (lower, upper): (H,)."""
    import numpy as np

    lo, hi = band
    if np.isfinite(lo).all() and np.isfinite(hi).all():
        ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.18, label=f"{level:.0%} interval")
    ax.plot(x, mean, color="tab:blue", marker="o", ms=4, lw=3.4, label=label, zorder=5)


def plot_panel(
    panels: Sequence[tuple[str, Any, Any, Any, Any, Any]], path: str | Path, title: str = ""
) -> Path:
    """A few series of a panel, one row each: the history's tail, the held-out truth and
    the forecast with its band.

    Args:
        panels: (caption, history (N,), truth (H,), mean (H,), lower (H,), upper (H,)).
    """
    import numpy as np

    fig = Figure(figsize=(9, 2.6 * max(len(panels), 1)))
    for k, (caption, history, truth, mean, lower, upper) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, k + 1)
        n, h = len(history), len(truth)
        x_past, x_next = np.arange(n), np.arange(n, n + h)
        ax.plot(x_past, history, color="0.3", lw=1.2, label="history")
        ax.plot(x_next, truth, color="black", lw=1.2, ls="--", label="actual")
        _draw_forecast(ax, x_next, mean, [lower, upper], 0.8, "forecast")
        ax.set_title(caption, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_mase_histogram(
    scores: Mapping[str, Sequence[float]], path: str | Path, title: str = ""
) -> Path:
    """Histograms of per-series MASE, one outline per forecast (the model beside ETS), on
    shared bins."""
    import numpy as np

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot(1, 1, 1)
    finite = {k: np.asarray([v for v in vals if math.isfinite(v)]) for k, vals in scores.items()}
    every = np.concatenate([v for v in finite.values() if len(v)] or [np.zeros(1)])
    bins = np.linspace(0.0, float(np.quantile(every, 0.98)) or 1.0, 30)
    for name, vals in finite.items():
        label = f"{name} (mean {vals.mean():.3g})" if len(vals) else name
        ax.hist(np.clip(vals, 0, bins[-1]), bins=list(bins), histtype="step", lw=2, label=label)
    ax.set_xlabel("MASE per series")
    ax.set_ylabel("series")
    ax.legend()
    if title:
        ax.set_title(title)
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
