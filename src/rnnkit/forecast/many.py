"""`rnnkit forecast` on many series (a panel, `rnnkit.forecast.panel`): one global model
(`rnnkit.forecast.global_model`) across all series, and per series the choice on rolling
origins between it, the naive and seasonal naive forecasts, the classical references and
their combination (`rnnkit.forecast.select`), with intervals calibrated there.

Each series holds out its last `horizon` points (the test part). The global model is fit
once, on what each series' earliest rolling origin knows, and forecasts from every origin
and past the end of each history (the smoothing reads all the known points, the weights
stay as fit). The references are fit per series, in `train.threads` processes (0: one per
usable core); for a
panel `series.references = "all"` fits ETS only (an ARIMA search costs about half a
minute a monthly series; name `arima` to fit it).

The run folder: `config.json`, `metrics.json` (`per_series.<id>`, `aggregate`, `skipped`),
`forecast.csv` (one row per series and test step), `global.pt`, `panel.png` (the best,
median and worst series by MASE) and `mase.png` (per-series MASE beside ETS's).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.config import ForecastConfig, ForecastModelConfig
from rnnkit.errors import DataError
from rnnkit.forecast.auto import min_history, plan_origins, time_frequency
from rnnkit.forecast.baselines import naive_forecast, seasonal_naive_forecast
from rnnkit.forecast.forecaster import Forecast
from rnnkit.forecast.global_model import (
    STEPS,
    GlobalHybrid,
    PanelScale,
    forecast_at,
    padded,
    train_global,
)
from rnnkit.forecast.panel import Panel, keep_long_enough, read_long, read_wide
from rnnkit.forecast.references import reference_forecasts
from rnnkit.forecast.select import (
    Choice,
    OriginRuns,
    add_references,
    choose,
    final_forecast,
    plain_forecast,
)
from rnnkit.forecast.series import Series, default_horizon, infer_season
from rnnkit.metrics import coverage, forecast_metrics
from rnnkit.storage import write_atomic
from rnnkit.training.environment import global_rng_kept, set_threads, threads_kept
from rnnkit.training.threads import tuned_threads, usable_cores

GLOBAL = "global"
PANEL_FILE = "global.pt"
PANEL_REFERENCES = {"all": "ets", "ets": "ets", "arima": "arima", "none": "none"}


@dataclass
class PanelPlan:
    """The sizes every series of a panel shares."""

    season: int
    horizon: int
    lookback: int

    @property
    def needed(self) -> int:
        """The fewest points a series needs: a test part, an origin, enough before it."""
        return 2 * self.horizon + max(min_history(self.season), self.lookback)


def read_panel(source: str, cfg: ForecastConfig, id_col: str = "", many: bool = False) -> Panel:
    """The panel `source` holds: wide with `many`, else long (its id column `id_col` or
    found by name)."""
    s = cfg.series
    if many and not id_col:
        return read_wide(source, s.time_col, s.target or None, s.fill)
    return read_long(source, id_col, s.time_col, s.target or None, s.fill)


def plan_panel(cfg: ForecastConfig, panel: Panel) -> PanelPlan:
    """The season (`series.season`, else the calendar's, else inferred on the longest
    series), the horizon (`series.horizon`, else the default for the median length) and
    the lookback (`series.lookback`, else max(2 season, horizon, 8))."""
    s = cfg.series
    longest = max(panel.series, key=len)
    season = s.season or time_frequency(longest.time)[1] or infer_season(longest.target)
    season = max(int(season), 1)
    median = int(np.median([len(x) for x in panel.series]))
    horizon = s.horizon or default_horizon(season, median)
    return PanelPlan(season, horizon, s.lookback or max(2 * season, horizon, 8))


@dataclass
class SeriesRefs:
    """One series' baselines and references: their forecasts from the rolling origins
    (`runs`), past the end of the history (`finals`, name -> (H, 1)), their models and
    the seconds their fits took."""

    runs: OriginRuns
    finals: dict[str, np.ndarray]
    specs: dict[str, str]
    skipped: dict[str, str]
    fit_s: float


def series_references(
    history: Series, starts: list[int], plan: PanelPlan, which: str
) -> SeriesRefs:
    """Fit one series' references on its history and refit them at its origins."""
    t0 = time.perf_counter()
    y, h = history.target, plan.horizon
    skipped: dict[str, str] = {}
    refs = reference_forecasts(y, h, plan.season, which, skipped)  # type: ignore[arg-type]
    truth = np.stack([y[o : o + h] for o in starts])  # (K, H, 1)
    runs = OriginRuns(list(starts), truth)
    add_references(runs, history, plan.season, refs)
    finals = {
        "naive": naive_forecast(y, h),
        "seasonal_naive": seasonal_naive_forecast(y, h, plan.season),
        **{n: r.mean for n, r in refs.items()},
    }
    finals = {n: v for n, v in finals.items() if n in runs.forecasts or n == "naive"}
    specs = {n: r.spec for n, r in refs.items()}
    return SeriesRefs(runs, finals, specs, {**skipped, **runs.skipped}, time.perf_counter() - t0)


def _one_refs(job: tuple[Series, list[int], PanelPlan, str]) -> SeriesRefs:
    return series_references(*job)


def all_references(
    histories: list[Series], starts: list[list[int]], plan: PanelPlan, which: str, workers: int
) -> list[SeriesRefs]:
    """Every series' `series_references`, in `workers` processes (one: in this one)."""
    jobs = [(h, s, plan, which) for h, s in zip(histories, starts, strict=True)]
    if workers <= 1 or len(jobs) < 4 or which == "none":
        return [_one_refs(j) for j in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(_one_refs, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


@dataclass
class GlobalFit:
    """The fitted global model, the scale of each series and the training losses."""

    model: GlobalHybrid
    scale: PanelScale
    losses: list[float]


def fit_global(
    cfg: ForecastConfig, histories: list[Series], starts: list[list[int]], plan: PanelPlan
) -> GlobalFit:
    """Fit the global model on what each series' earliest origin knows."""
    firsts = [h.target[: s[0], 0] for h, s in zip(histories, starts, strict=True)]
    scale = PanelScale.fit(firsts, cfg.series.log)
    z = padded([scale.encode(i, h.target[:, 0]) for i, h in enumerate(histories)])
    t = cfg.train
    with tuned_threads(t.threads), global_rng_kept(torch.device("cpu")):
        torch.manual_seed(t.seed)
        model = GlobalHybrid(len(histories), plan.season, plan.lookback, plan.horizon, cfg.model)
        model.start_from(z)
        last = [s[0] - plan.horizon for s in starts]
        steps = t.max_steps or STEPS
        losses = train_global(model, z, last, steps=steps, lr=t.lr, seed=t.seed, clip=t.clip)
    return GlobalFit(model, scale, losses)


def global_forecasts(
    fit: GlobalFit, histories: list[Series], starts: list[list[int]]
) -> list[np.ndarray]:
    """Each series' global forecasts from its origins and past its end, in its units.

    Shape: S arrays (K_i + 1, H, 1), the last row past the end."""
    z = padded([fit.scale.encode(i, h.target[:, 0]) for i, h in enumerate(histories)])
    origins = [[*s, len(h)] for h, s in zip(histories, starts, strict=True)]
    with threads_kept():
        set_threads(1)
        made = forecast_at(fit.model, z, origins)
    return [fit.scale.decode(i, f)[..., None] for i, f in enumerate(made)]


def _metrics(truth: np.ndarray, pred: Forecast, history: Series, season: int) -> dict[str, float]:
    """A forecast's scores with its interval's coverage (NaN without one)."""
    m = forecast_metrics(truth, pred.mean, history.target, season)
    finite = np.isfinite(pred.lower).all()
    m["coverage80"] = coverage(truth, pred.lower, pred.upper) if finite else math.nan
    return m


def _one_value(value: float) -> dict[str, Any]:
    """One seed's value in the single-series `metrics.json` layout."""
    return {"mean": value, "std": 0.0, "values": [value]}


@dataclass
class SeriesResult:
    """One series' choice, its chosen and global forecasts past the history, and scores."""

    choice: Choice
    chosen: Forecast
    global_: Forecast
    entry: dict[str, Any]


def series_result(
    refs: SeriesRefs, made: np.ndarray, history: Series, test: Series, season: int
) -> SeriesResult:
    """Choose for one series (`made`: its global forecasts, `global_forecasts`) and score
    the choice, the global model, the baselines and references on its test part."""
    runs, names = refs.runs, list(history.target_names)
    runs.forecasts[GLOBAL] = made[:-1]
    choice = choose(runs)
    finals = {n: plain_forecast(v, names) for n, v in refs.finals.items()}
    finals[GLOBAL] = plain_forecast(made[-1], names)
    chosen = final_forecast(choice, choice.chosen, finals)
    glob = final_forecast(choice, GLOBAL, finals)
    truth = test.target
    model = _metrics(truth, chosen, history, season)
    entry: dict[str, Any] = {
        "horizon": len(truth),
        "season": season,
        "model": {k: _one_value(v) for k, v in model.items() if k != "coverage80"},
        "coverage80": _one_value(model["coverage80"]),
        "global": _metrics(truth, glob, history, season),
        "naive": forecast_metrics(truth, refs.finals["naive"], history.target, season),
        "seasonal_naive": forecast_metrics(
            truth,
            seasonal_naive_forecast(history.target, len(truth), season),
            history.target,
            season,
        ),
        "references": {
            n: {**forecast_metrics(truth, refs.finals[n], history.target, season), "spec": spec}
            for n, spec in refs.specs.items()
            if n in refs.finals
        },
        "choice": {**choice.to_dict(), "specs": refs.specs, "season": season},
    }
    if refs.skipped:
        entry["references_skipped"] = refs.skipped
    return SeriesResult(choice, chosen, glob, entry)


def _mean_scores(entries: list[dict[str, float]]) -> dict[str, Any]:
    """Mean MASE and sMAPE over series (M4 style; a non-finite MASE is left out)."""
    mase = [e["mase"] for e in entries if math.isfinite(e["mase"])]
    smape = [e["smape"] for e in entries if math.isfinite(e["smape"])]
    return {
        "mase": float(np.mean(mase)) if mase else math.nan,
        "smape": float(np.mean(smape)) if smape else math.nan,
        "series": len(entries),
    }


def aggregate(per_series: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`aggregate.model` (the chosen forecasts), `aggregate.global` (the network alone)
    and `aggregate.references.<name>` (naive, seasonal naive, each classical one fit on
    every series)."""
    rows = list(per_series.values())
    model = [{k: e["model"][k]["mean"] for k in ("mase", "smape")} for e in rows]
    out: dict[str, Any] = {
        "model": _mean_scores(model),
        GLOBAL: _mean_scores([e[GLOBAL] for e in rows]),
        "references": {n: _mean_scores([e[n] for e in rows]) for n in ("naive", "seasonal_naive")},
    }
    names = sorted({n for e in rows for n in e["references"]})
    for name in names:
        got = [e["references"][name] for e in rows if name in e["references"]]
        if len(got) == len(rows):  # a reference missing on a series is not comparable
            out["references"][name] = _mean_scores(got)
    return out


@dataclass
class PanelRun:
    """What `fit_panel` made: the metrics, every series' history, test and result, and the
    fit (for the checkpoint)."""

    results: dict[str, Any]
    histories: list[Series]
    tests: list[Series]
    outcomes: list[SeriesResult]
    fit: GlobalFit
    plan: PanelPlan


def _split(panel: Panel, plan: PanelPlan, count: int) -> tuple[Panel, list[list[int]]]:
    """The series with rolling origins left after holding out the test part, and each
    one's origins (a series whose earliest origin knows less than a lookback is skipped)."""
    kept, skipped, starts = [], dict(panel.skipped), []
    least = max(min_history(plan.season), plan.lookback + 1)
    for s in panel.series:
        st = plan_origins(len(s) - plan.horizon, plan.horizon, count, least)
        if st and st[0] >= plan.lookback:
            kept.append(s)
            starts.append(st)
        else:
            skipped[s.name] = f"{len(s)} points, too few for a rolling origin"
    if not kept:
        raise DataError(
            f"no series of {panel.name} is long enough for a rolling origin; use longer "
            "series or a smaller series.horizon"
        )
    return Panel(kept, skipped, panel.name), starts


def fit_panel(cfg: ForecastConfig, panel: Panel, echo: Callable[[str], None] = print) -> PanelRun:
    """Hold out each series' test part, fit the references and the global model, choose
    per series and score."""
    plan = plan_panel(cfg, panel)
    panel, starts = _split(keep_long_enough(panel, plan.needed), plan, cfg.series.origins or 3)
    histories = [s.head(len(s) - plan.horizon) for s in panel.series]
    tests = [s.tail(plan.horizon) for s in panel.series]
    which = PANEL_REFERENCES[cfg.series.references]
    t0 = time.perf_counter()
    workers = cfg.train.threads or usable_cores()  # 0: one process per usable core
    refs = all_references(histories, starts, plan, which, workers)
    ref_s = time.perf_counter() - t0
    echo(f"references ({which}) on {len(histories)} series: {ref_s:.1f} s")
    fit = fit_global(cfg, histories, starts, plan)
    global_s = time.perf_counter() - t0 - ref_s
    echo(f"global model: {len(fit.losses)} steps, {global_s:.1f} s")
    made = global_forecasts(fit, histories, starts)
    outcomes = [
        series_result(r, m, h, t, plan.season)
        for r, m, h, t in zip(refs, made, histories, tests, strict=True)
    ]
    per_series = {h.name: o.entry for h, o in zip(histories, outcomes, strict=True)}
    results: dict[str, Any] = {
        "source": cfg.series.source,
        "series": len(histories),
        "skipped": panel.skipped,
        "horizon": plan.horizon,
        "season": plan.season,
        "lookback": plan.lookback,
        "fit_s": {"references": ref_s, GLOBAL: global_s, "total": ref_s + global_s},
        "train_loss": fit.losses[-1] if fit.losses else math.nan,
        "aggregate": aggregate(per_series),
        "per_series": per_series,
    }
    return PanelRun(results, histories, tests, outcomes, fit, plan)


def save_panel(path: Path, run: PanelRun, cfg: ForecastConfig) -> Path:
    """Write the global model, each series' scale and recorded choice (`global.pt`)."""
    from rnnkit.checkpoint import save_checkpoint

    factors = [o.choice.factors[GLOBAL] for o in run.outcomes]
    payload = {
        "task": "forecast-panel",
        "config": cfg.to_dict(),
        "model": run.fit.model.state_dict(),
        "ids": [h.name for h in run.histories],
        "scale": run.fit.scale.to_dict(),
        "plan": {
            "season": run.plan.season,
            "horizon": run.plan.horizon,
            "lookback": run.plan.lookback,
        },
        "choices": {
            h.name: o.entry["choice"] for h, o in zip(run.histories, run.outcomes, strict=True)
        },
        "global_factor": float(np.median(factors)),
    }
    return save_checkpoint(path, payload)


def _rows_csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(v: float) -> str:
    return f"{v:.6g}"


def write_panel_run(run_dir: Path, run: PanelRun, cfg: ForecastConfig) -> None:
    """`global.pt`, `metrics.json`, `forecast.csv`, `panel.png` and `mase.png`."""
    save_panel(run_dir / PANEL_FILE, run, cfg)
    write_atomic(run_dir / "metrics.json", json.dumps(run.results, indent=2))
    header = ["id", "time", "actual", "forecast", "lower", "upper", GLOBAL]
    rows = []
    for h, t, o in zip(run.histories, run.tests, run.outcomes, strict=True):
        cols = (t.target, o.chosen.mean, o.chosen.lower, o.chosen.upper, o.global_.mean)
        for k, label in enumerate(t.time):
            rows.append([h.name, label, *(_cell(float(c[k, 0])) for c in cols)])
    write_atomic(run_dir / "forecast.csv", _rows_csv(header, rows))
    _plots(run_dir, run)


def _plots(run_dir: Path, run: PanelRun) -> None:
    """`panel.png` (best, median and worst series by MASE) and `mase.png`."""
    from rnnkit.plots import plot_mase_histogram, plot_panel

    per = run.results["per_series"]
    mase = [per[h.name]["model"]["mase"]["mean"] for h in run.histories]
    order = [int(i) for i in np.argsort(mase)]
    picks = dict.fromkeys([order[0], order[len(order) // 2], order[-1]])
    panels: list[tuple[str, Any, Any, Any, Any, Any]] = []
    for i, what in zip(picks, ("best", "median", "worst"), strict=False):
        h, t, o = run.histories[i], run.tests[i], run.outcomes[i]
        tail = h.target[-4 * len(t) :, 0]
        caption = f"{h.name} ({what}, MASE {mase[i]:.3g}, {o.choice.chosen})"
        mean, lower, upper = (a[:, 0] for a in _band(o.chosen))
        panels.append((caption, tail, t.target[:, 0], mean, lower, upper))
    name = Path(str(run.results["source"])).name
    plot_panel(panels, run_dir / "panel.png", f"{name}: {len(run.histories)} series")
    scores = {"chosen": mase, GLOBAL: [per[h.name][GLOBAL]["mase"] for h in run.histories]}
    ets = [per[h.name]["references"].get("ets", {}).get("mase") for h in run.histories]
    if all(v is not None for v in ets):
        scores["ETS"] = [float(v) for v in ets if v is not None]
    plot_mase_histogram(scores, run_dir / "mase.png", f"{name}: MASE per series")


def _band(f: Forecast) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return f.mean, f.lower, f.upper


def summary_line(source: str, results: dict[str, Any], run_dir: Path) -> str:
    """The last printed line: mean MASE / sMAPE of the chosen forecasts, the global model
    and the references, the fit time and the run folder."""
    agg = results["aggregate"]

    def pair(m: dict[str, Any]) -> str:
        return f"MASE {m['mase']:.3g} sMAPE {m['smape']:.3g}"

    refs = "".join(f" | {n.replace('_', ' ')} {pair(m)}" for n, m in agg["references"].items())
    skipped = len(results["skipped"])
    return (
        f"forecast {source}: {results['series']} series h={results['horizon']}"
        f"{f' ({skipped} skipped)' if skipped else ''}: chosen {pair(agg['model'])}"
        f" | global {pair(agg[GLOBAL])}{refs} | fit {results['fit_s']['total']:.1f} s | {run_dir}"
    )


def run_forecast_many(
    source: str,
    config: ForecastConfig,
    *,
    id_col: str = "",
    many: bool = False,
    out: str | None = None,
    checkpoint: str | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`rnnkit forecast` on a panel (see the module): fit, choose, score and write the run
    folder; with `checkpoint` (a panel run folder or its `global.pt`), forecast past the
    end of every series of `source` without retraining.

    Returns:
        The metrics written to `metrics.json` plus `run_dir` and `summary`.
    """
    from rnnkit.forecast.backtest import _make_run_dir, _run_dir

    if checkpoint:
        return forecast_panel_past_end(source, checkpoint, config, id_col, many, out, echo)
    cfg = copy.deepcopy(config)
    cfg.series.source = source
    panel = read_panel(source, cfg, id_col, many)
    run_dir = _run_dir(out, source)
    _make_run_dir(run_dir)
    echo(f"run folder: {run_dir}")
    write_atomic(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))
    run = fit_panel(cfg, panel, echo)
    write_panel_run(run_dir, run, cfg)
    summary = summary_line(source, run.results, run_dir)
    echo(summary)
    return {**run.results, "run_dir": str(run_dir), "summary": summary}


def is_panel_checkpoint(checkpoint: str) -> bool:
    """Whether `checkpoint` is a panel run folder (holding `global.pt`) or that file."""
    path = Path(checkpoint)
    return (path / PANEL_FILE).is_file() or path.name == PANEL_FILE


def load_panel_model(checkpoint: str) -> tuple[dict[str, Any], GlobalHybrid]:
    """The saved panel run and its global model."""
    from rnnkit.checkpoint import load_checkpoint
    from rnnkit.errors import CheckpointError

    path = Path(checkpoint)
    ckpt = load_checkpoint(path / PANEL_FILE if path.is_dir() else path)
    if ckpt.get("task") != "forecast-panel":
        raise CheckpointError(
            f"{checkpoint} is not a panel run; pass a folder holding {PANEL_FILE}"
        )
    plan = ckpt["plan"]
    core = ForecastModelConfig(**ckpt["config"]["model"])
    model = GlobalHybrid(len(ckpt["ids"]), plan["season"], plan["lookback"], plan["horizon"], core)
    model.load_state_dict(ckpt["model"])
    return ckpt, model


def _past_end_made(
    ckpt: dict[str, Any], model: GlobalHybrid, series: list[Series], horizon: int
) -> list[Forecast]:
    """The global model's forecast past the end of each of `series`: a known id with its
    own coefficients and scale, a new one with the median coefficients and its own scale."""
    from rnnkit.forecast.global_model import Coefs

    ids = {name: i for i, name in enumerate(ckpt["ids"])}
    known = PanelScale.from_dict(ckpt["scale"])
    fresh = PanelScale.fit([s.target[:, 0] for s in series], ckpt["config"]["series"]["log"])
    zs, rows = [], []
    for j, s in enumerate(series):
        i = ids.get(s.name)
        scale, k = (known, i) if i is not None else (fresh, j)
        zs.append(scale.encode(k, s.target[:, 0]))
        rows.append(i)
    z = padded(zs)
    mine = model.coefs()
    new = model.new_coefs(z)
    pick = [(mine, i) if i is not None else (new, j) for j, i in enumerate(rows)]
    coefs = Coefs(
        *(torch.stack([getattr(c, f)[i] for c, i in pick]) for f in ("alpha", "gamma", "season"))
    )
    made = forecast_at(model, z, [[len(s)] for s in series], coefs)
    out = []
    for j, i in enumerate(rows):
        scale, k = (known, i) if i is not None else (fresh, j)
        out.append(plain_forecast(scale.decode(k, made[j][0, :horizon])[:, None], ["value"]))
    return out


def forecast_panel_past_end(
    source: str,
    checkpoint: str,
    over: ForecastConfig,
    id_col: str,
    many: bool,
    out: str | None,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Forecast past the end of every series of `source` from a saved panel run: a known
    series as its run chose, a new one by the global model with the panel's median band."""
    from rnnkit.forecast.backtest import _future_labels, _make_run_dir, _run_dir
    from rnnkit.forecast.select import forecast_past_end

    ckpt, model = load_panel_model(checkpoint)
    plan = ckpt["plan"]
    cfg = ForecastConfig.from_dict(ckpt["config"])
    cfg.series.fill = over.series.fill if over.series.fill != "none" else cfg.series.fill
    panel = keep_long_enough(read_panel(source, cfg, id_col, many), plan["lookback"] + 1)
    horizon = int(over.series.horizon or plan["horizon"])
    model.net.check_horizon(horizon)
    made = _past_end_made(ckpt, model, panel.series, horizon)
    rows = []
    for s, g in zip(panel.series, made, strict=True):
        recorded = ckpt["choices"].get(s.name)
        if recorded:
            pred = forecast_past_end(recorded, {}, s, horizon, {GLOBAL: g})
        else:
            alone = Choice(GLOBAL, None, [], {}, {GLOBAL: float(ckpt["global_factor"])})
            pred = final_forecast(alone, GLOBAL, {GLOBAL: g})
        for k, label in enumerate(_future_labels(s.time, horizon)):
            rows.append([s.name, label, *(_cell(float(a[k, 0])) for a in _band(pred))])
    run_dir = _run_dir(out, source)
    _make_run_dir(run_dir)
    write_atomic(
        run_dir / "forecast.csv", _rows_csv(["id", "time", "forecast", "lower", "upper"], rows)
    )
    new = sum(s.name not in ckpt["choices"] for s in panel.series)
    summary = (
        f"forecast {source}: {horizon} steps past the end of {len(panel.series)} series "
        f"({new} new) from {checkpoint} (no retraining) | {run_dir / 'forecast.csv'}"
    )
    echo(summary)
    return {
        "horizon": horizon,
        "run_dir": str(run_dir),
        "summary": summary,
        "skipped": panel.skipped,
    }


__all__ = [
    "GLOBAL",
    "PanelPlan",
    "PanelRun",
    "aggregate",
    "fit_panel",
    "forecast_panel_past_end",
    "is_panel_checkpoint",
    "plan_panel",
    "read_panel",
    "run_forecast_many",
]
