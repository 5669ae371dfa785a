"""`rnnkit forecast`: hold out the last `horizon` points, fit (N seeds), forecast them, score
the model beside the naive and seasonal naive baselines and the classical references
(automatic ETS and ARIMA, `series.references`, fit once per run), and write the run folder:
`config.json`, `forecast.csv`, `forecast.png`, `metrics.json`, `best.pt`, `last.pt`.

`run_forecast` is the command body: it holds the test part out, runs `backtest` (the seed
loop and the scores) and `write_forecast_run` (the files). With a checkpoint, it forecasts
past the end of the given data without retraining and writes `forecast.csv` and
`forecast.png`. Every file goes through `write_atomic` (checkpoints through `Forecaster.save`):
a full disk or a read-only folder ends in one `StorageError` line, the earlier files intact.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import ForecastConfig, resolve_forecast
from rnnkit.errors import DataError
from rnnkit.forecast.auto import configure, future_dates, min_history
from rnnkit.forecast.baselines import naive_forecast, seasonal_naive_forecast
from rnnkit.forecast.forecaster import Forecast, Forecaster
from rnnkit.forecast.references import RefForecast, reference_forecasts
from rnnkit.forecast.select import (
    COMBINATION,
    Chosen,
    OriginRuns,
    add_references,
    fit_choice,
    forecast_past_end,
    origin_runs,
    plain_forecast,
)
from rnnkit.forecast.series import BUILTINS, Series, infer_season, load_series, plan_sizes
from rnnkit.metrics import coverage, forecast_metrics
from rnnkit.storage import storage_errors, write_atomic


def _run_dir(out: str | None, source: str) -> Path:
    if out:
        return Path(out)
    name = source if source in BUILTINS else Path(source).stem
    return Path("runs") / f"forecast-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _make_run_dir(run_dir: Path) -> None:
    """Create the run folder; a failure is a one-line `StorageError`."""
    with storage_errors(run_dir, "write"):
        run_dir.mkdir(parents=True, exist_ok=True)


def _spread(values: list[float]) -> dict[str, Any]:
    arr = np.array(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "values": [float(v) for v in arr]}


def _future_labels(time_labels: list[str], horizon: int) -> list[str]:
    """Continue integer time labels with their step and ISO dates with their frequency;
    otherwise `+1`, `+2`, ..."""
    dates = future_dates(time_labels, horizon)
    if dates is not None:
        return dates
    try:
        a, b = int(time_labels[-2]), int(time_labels[-1])
        return [str(b + (b - a) * k) for k in range(1, horizon + 1)]
    except (ValueError, IndexError):
        return [f"+{k}" for k in range(1, horizon + 1)]


def _write_csv(
    path: Path,
    times: list[str],
    names: list[str],
    columns: dict[str, np.ndarray],
) -> Path:
    """One row per forecast step: `time`, then `<target>_<column>` for every column."""
    header = ["time"] + [f"{n}_{c}" for n in names for c in columns]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for i, t in enumerate(times):
        row: list[Any] = [t]
        for j in range(len(names)):
            row += [f"{columns[c][i, j]:.6g}" for c in columns]
        writer.writerow(row)
    return write_atomic(path, buffer.getvalue())


def run_forecast(
    source: str,
    config: ForecastConfig | None = None,
    *,
    seeds: int = 1,
    out: str | None = None,
    checkpoint: str | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
    rolling: int = 0,
) -> dict[str, Any]:
    """Fit and score a forecaster on `source` (or forecast past its end from `checkpoint`).

    Args:
        source: a built-in source (`sine`, `noisy-sine`, `sunspots`, `co2`) or a CSV path.
        config: the resolved configuration (`rnnkit.config.resolve_forecast`; default:
            `resolve_forecast(source)`, the source's preset for a built-in one). Its
            `series.target`, `time_col`, `covariates` and `fill` pick and fill the CSV
            columns; it is copied, never changed. With `checkpoint`, the saved forecaster
            keeps its own configuration and only `series.horizon` (0 = the one it was
            trained for), `series.fill` and the CSV columns are read from `config`.
        seeds: independent fits (seeds `train.seed`, +1, ...), reported as mean and std.
        out: the run folder (default `runs/forecast-<source>-<timestamp>`).
        checkpoint: a run folder or `.pt`: forecast past the end without retraining.
        quiet: no progress bars.
        echo: where the progress lines and the final summary line go.
        rolling: `--backtest N`: score the same way from N origins a horizon apart, the
            last the run's own test part (`rolling_backtest`; first seed only).

    Returns:
        The metrics written to `metrics.json` plus `run_dir` and `summary` (the last line).
    """
    if seeds < 1:
        raise DataError(f"seeds must be at least 1, got {seeds}")
    if checkpoint:
        return _forecast_from_checkpoint(source, checkpoint, config or ForecastConfig(), out, echo)
    cfg = copy.deepcopy(config) if config is not None else resolve_forecast(source)
    cfg.series.source = source
    s = cfg.series
    data = load_series(source, s.target or None, s.time_col, s.covariates or None, s.fill)
    choice = configure(cfg, data, hold_out=_test_points(cfg, data))
    cfg = choice.config
    history, test = _hold_out(cfg, data)
    season = cfg.series.season or data.season or infer_season(history.target)
    _check_rolling(rolling, len(data), cfg.series.horizon, season)
    run_dir = _run_dir(out, source)
    _make_run_dir(run_dir)
    echo(f"run folder: {run_dir}")
    if choice.line:
        echo(choice.line)
    write_atomic(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))
    cfg.series.season = season
    run = backtest(cfg, history, test, season, seeds, quiet, echo)
    if rolling:
        run.results["backtest"] = rolling_backtest(cfg, data, season, rolling, run, quiet)
    write_forecast_run(run_dir, run, history, test)
    summary = _summary_line(source, run.results, run_dir)
    echo(summary)
    return {**run.results, "run_dir": str(run_dir), "summary": summary}


def _check_rolling(count: int, n: int, horizon: int, season: int) -> None:
    """Refuse a backtest on `count` origins before anything is written when its earliest
    origin would leave less history than the automatic configuration fits on."""
    most = max(0, (n - min_history(season)) // horizon)
    if count > most:
        raise DataError(
            f"a backtest on {count} origins needs {count} x {horizon} points after the first "
            f"{min_history(season)}, the series has {n}: ask for at most {most} origins or a "
            "smaller series.horizon"
        )


def _scores_at(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """One origin's entry of `rolling_backtest`: the first seed's scores of the chosen
    forecast (`model`) and of the recurrent family, and the baselines' and references'."""
    metrics = ("mae", "rmse", "smape", "mase")
    out = {"model": {k: results["model"][k]["values"][0] for k in metrics}}
    out["model"]["coverage80"] = results["coverage80"]["values"][0]
    if "recurrent" in results:
        rec = results["recurrent"]
        out["recurrent"] = {k: rec[k]["values"][0] for k in metrics}
        out["recurrent"]["coverage80"] = rec["coverage80"]["values"][0]
    for name in ("naive", "seasonal_naive"):
        out[name] = {k: results[name][k] for k in metrics}
    for name, ref in results.get("references", {}).items():
        out[name] = {k: ref[k] for k in metrics}
    return out


def rolling_backtest(
    cfg: ForecastConfig, data: Series, season: int, count: int, last: Backtest, quiet: bool
) -> dict[str, Any]:
    """`--backtest N`: fit and score with the first seed from `count` origins a horizon
    apart, the last being the run's own split (`last`, already scored), the others
    holding out the `horizon` points after them; the `metrics.json` entry `backtest`:
    `origins` (time labels of each first forecast step), `per_origin` and `mean`."""
    horizon = cfg.series.horizon
    starts = [len(data) - horizon * (j + 1) for j in reversed(range(count))]  # ascending
    runs: list[Backtest] = []
    for start in starts[:-1]:
        test = data.head(start + horizon).tail(horizon)
        runs.append(backtest(cfg, data.head(start), test, season, 1, quiet, lambda _: None))
    runs.append(last)
    per_origin = [_scores_at(run.results) for run in runs]
    names = [n for n in per_origin[0] if all(n in p for p in per_origin)]
    mean = {
        n: {k: float(np.mean([p[n][k] for p in per_origin])) for k in per_origin[0][n]}
        for n in names
    }
    last.segments = [(s, r.forecast) for s, r in zip(starts, runs, strict=True)]
    return {"origins": [data.time[s] for s in starts], "per_origin": per_origin, "mean": mean}


def _test_points(cfg: ForecastConfig, data: Series) -> int:
    """The points held out for testing: `series.horizon`, or its default for the season."""
    season = cfg.series.season or data.season or infer_season(data.target)
    return plan_sizes(cfg.series, len(data), season)["horizon"]


def _hold_out(cfg: ForecastConfig, data: Series) -> tuple[Series, Series]:
    """Fix `cfg.series.horizon` and split `data` into history and the last `horizon` points,
    checking that the history is long enough to train on (the rule of `series.method`:
    the plain network needs full windows, the automatic configuration `min_history`)."""
    season = cfg.series.season or data.season or infer_season(data.target)
    sizes = plan_sizes(cfg.series, len(data), season)
    horizon = sizes["horizon"]
    cfg.series.horizon = horizon
    needed = horizon + plan_sizes(cfg.series, len(data) - horizon, season)["needed"]
    if cfg.series.method != "rnn":
        needed = horizon + min_history(season)
    if len(data) < needed:
        raise DataError(
            f"series {data.name!r} has {len(data)} points but testing on the last {horizon} and "
            f"training with lookback {sizes['lookback']} needs at least {needed}; use a longer "
            "series or a smaller series.lookback / series.horizon"
        )
    return data.head(len(data) - horizon), data.tail(horizon)


def _model_label(fc: Forecaster) -> str:
    """What the plot's title calls the model: `ES-RNN (lstm)`, `exponential smoothing`,
    or the network's kind and strategy."""
    s, kind = fc.config.series, fc.config.model.kind
    labels = {"esrnn": f"ES-RNN ({kind})", "es": "exponential smoothing"}
    return labels.get(s.method, f"{kind} {s.strategy}")


def _method_text(info: dict[str, Any]) -> str:
    """The method a fit used, with the candidates' validation MAE when it chose one."""
    method = str(info.get("method", "rnn"))
    scores = info.get("candidates")
    if not scores:
        return method
    return method + " (" + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()) + ")"


@dataclass
class Backtest:
    """What `backtest` produced: the metrics (the `metrics.json` content), the first seed's
    forecaster and forecast, the two baselines' forecasts `(H, C)` and the references'
    (name -> `(H, C)`)."""

    results: dict[str, Any]
    forecaster: Forecaster | None
    forecast: Forecast
    naive: np.ndarray
    seasonal_naive: np.ndarray
    references: dict[str, np.ndarray] = field(default_factory=dict)
    segments: list[tuple[int, Forecast]] = field(default_factory=list)  # --backtest
    members: dict[str, Forecaster] = field(default_factory=dict)  # the choice's recurrent fits
    recurrent: Forecast | None = None  # the best recurrent method's forecast (the ablation)


def _ref_label(name: str, spec: str) -> str:
    """A reference's name in the summary and the plot: its model, or `ETS` for several."""
    return name.upper() if ";" in spec else spec


def _references(
    cfg: ForecastConfig,
    history: Series,
    truth: np.ndarray,
    season: int,
    echo: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, RefForecast]]:
    """Fit the references `series.references` names on `history` and score them on `truth`
    `(H, C)`: the `metrics.json` entries (with `references_skipped`) and the forecasts."""
    skipped: dict[str, str] = {}
    refs = reference_forecasts(history.target, len(truth), season, cfg.series.references, skipped)
    scores = {
        name: {
            **forecast_metrics(truth, r.mean, history.target, season),
            "spec": r.spec,
            "fit_s": r.fit_s,
        }
        for name, r in refs.items()
    }
    parts = [
        f"{_ref_label(n, refs[n].spec)} MAE {m['mae']:.4g} (fit {m['fit_s']:.1f} s)"
        for n, m in scores.items()
    ] + [f"{n} skipped: {why}" for n, why in skipped.items()]
    if parts:
        echo("references: " + " | ".join(parts))
    entries: dict[str, Any] = {"references": scores}
    if skipped:
        entries["references_skipped"] = skipped
    return entries, refs


def _choice_label(name: str, results: dict[str, Any]) -> str:
    """A candidate's name as the summary and the plot show it: a reference's model, the
    combination's members."""
    specs = {n: m["spec"] for n, m in results.get("references", {}).items()}
    if name == COMBINATION:
        members = results.get("choice", {}).get("combination", [])
        return "mean of " + ", ".join(_choice_label(m, results) for m in members)
    return _ref_label(name, specs[name]) if name in specs else name.replace("_", " ")


@dataclass
class _Scores:
    """Per-seed test scores of one forecast: MAE, RMSE, sMAPE, MASE, MSE and coverage."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, truth: np.ndarray, pred: Forecast, history: Series, season: int) -> None:
        m = forecast_metrics(truth, pred.mean, history.target, season)
        m["mse"] = m["rmse"] ** 2
        finite = np.isfinite(pred.lower).all()
        m["coverage80"] = coverage(truth, pred.lower, pred.upper) if finite else math.nan
        for k, v in m.items():
            self.values.setdefault(k, []).append(v)

    def last(self, key: str) -> float:
        return self.values[key][-1]

    def spread(self) -> dict[str, Any]:
        return {k: _spread(v) for k, v in self.values.items() if k != "coverage80"}


def _seed_line(seed: int, sc: _Scores, fit_s: float, method: str) -> str:
    """One seed's progress line."""
    c = sc.last("coverage80")
    return (
        f"seed {seed}: MAE {sc.last('mae'):.4g}  RMSE {sc.last('rmse'):.4g}  "
        f"sMAPE {sc.last('smape'):.4g}  MASE {sc.last('mase'):.4g}  80% coverage "
        + ("n/a" if math.isnan(c) else f"{c:.0%}")
        + f"  fit {fit_s:.1f} s  {method}"
    )


def _reference_runs(
    cfg: ForecastConfig,
    history: Series,
    season: int,
    finals: dict[str, np.ndarray],
    references: dict[str, RefForecast],
) -> tuple[OriginRuns | None, dict[str, Forecast]]:
    """For the automatic choice: the baselines' and references' forecasts from the rolling
    origins (fit once, shared by the seeds) and past the end (`finals`: name -> (H, C))."""
    if cfg.series.method != "auto":
        return None, {}
    runs = origin_runs(cfg, history)
    add_references(runs, history, season, references)
    names = list(history.target_names)
    return runs, {n: plain_forecast(v, names) for n, v in finals.items() if n in runs.forecasts}


@dataclass
class _SeedFit:
    """One seed's fit: the forecaster saved (the best recurrent one under the choice), the
    chosen forecast, and the choice (None with a pinned method)."""

    forecaster: Forecaster | None
    forecast: Forecast
    method: str
    pick: Chosen | None = None


def _fit_seed(
    cfg: ForecastConfig,
    history: Series,
    horizon: int,
    base: OriginRuns | None,
    finals: dict[str, Forecast],
    quiet: bool,
) -> _SeedFit:
    """Fit one seed: the pinned method, or the choice on the rolling origins (`base`)."""
    if base is None:
        fc = Forecaster(cfg, quiet=quiet).fit(history)
        return _SeedFit(fc, fc.predict(horizon), _method_text(fc.train_info))
    pick = fit_choice(cfg, history, base, finals, quiet)
    return _SeedFit(pick.forecaster, pick.forecast, pick.choice.chosen, pick)


@dataclass
class _Seeds:
    """The seeds' test scores: the chosen forecast's, the recurrent family's and every
    candidate's MAE, the fit times, the last training losses and the methods."""

    chosen: _Scores = field(default_factory=_Scores)
    recurrent: _Scores = field(default_factory=_Scores)
    candidate_mae: dict[str, list[float]] = field(default_factory=dict)
    fit_s: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def add(self, one: _SeedFit, truth: np.ndarray, history: Series, season: int) -> None:
        self.losses.append(_train_loss(one.forecaster))
        self.methods.append(one.method)
        self.chosen.add(truth, one.forecast, history, season)
        if one.pick is None:
            return
        if one.pick.recurrent is not None:
            self.recurrent.add(truth, one.pick.recurrent, history, season)
        for name, made in one.pick.candidates.items():
            mae = forecast_metrics(truth, made.mean, history.target, season)["mae"]
            self.candidate_mae.setdefault(name, []).append(mae)

    def results(self, first: _SeedFit) -> dict[str, Any]:
        """The seeds' entries of `metrics.json`."""
        out: dict[str, Any] = {
            "model": self.chosen.spread(),
            "coverage80": _spread(self.chosen.values["coverage80"]),
            "fit_s": _spread(self.fit_s),
            "train_loss": _spread(self.losses),
            "method": self.methods,
        }
        if first.pick is not None:
            out["choice"] = first.pick.choice.to_dict()
            out["test_mae"] = {k: float(np.mean(v)) for k, v in self.candidate_mae.items()}
        if self.recurrent.values:
            rec = self.recurrent
            out["recurrent"] = {**rec.spread(), "coverage80": _spread(rec.values["coverage80"])}
        return out


def backtest(
    cfg: ForecastConfig,
    history: Series,
    test: Series,
    season: int,
    seeds: int,
    quiet: bool,
    echo: Callable[[str], None],
) -> Backtest:
    """Fit on `history` with `seeds` seeds (`cfg.train.seed`, +1, ...), forecast `test`, and
    score each fit and the naive and seasonal naive baselines; one line per seed to `echo`.
    With `series.method = "auto"` each seed makes the choice on rolling origins
    (`rnnkit.forecast.select`) and the best recurrent method is scored beside it."""
    horizon, truth = len(test), test.target  # (H, C)
    naive = naive_forecast(history.target, horizon)
    snaive = seasonal_naive_forecast(history.target, horizon, season)
    entries, fitted = _references(cfg, history, truth, season, echo)
    references = {name: r.mean for name, r in fitted.items()}
    finals = {"naive": naive, "seasonal_naive": snaive, **references}
    base, final_forecasts = _reference_runs(cfg, history, season, finals, fitted)
    scores, fits = _Seeds(), []
    for i in range(seeds):
        seed = cfg.train.seed + i
        cfg_i = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))
        t0 = time.perf_counter()
        fits.append(_fit_seed(cfg_i, history, horizon, base, final_forecasts, quiet))
        scores.fit_s.append(time.perf_counter() - t0)
        scores.add(fits[-1], truth, history, season)
        echo(_seed_line(seed, scores.chosen, scores.fit_s[-1], scores.methods[-1]))
    first = fits[0]
    fc = first.forecaster
    results: dict[str, Any] = {
        "source": cfg.series.source,
        "horizon": horizon,
        "lookback": cfg.series.lookback if fc is None else fc.lookback,
        "season": season,
        "seeds": seeds,
        "test_points": horizon,
        **scores.results(first),
        "naive": forecast_metrics(truth, naive, history.target, season),
        "seasonal_naive": forecast_metrics(truth, snaive, history.target, season),
    }
    if base is not None:
        results["origins"] = {"count": len(base.starts), "starts": base.starts}
    results.update(entries)
    run = Backtest(results, fc, first.forecast, naive, snaive, references)
    if first.pick is not None:
        run.members = first.pick.members
        run.recurrent = first.pick.recurrent
    return run


def _train_loss(fc: Forecaster | None) -> float:
    """The last training loss of a fitted forecaster (NaN without one)."""
    if fc is None or not fc.train_info.get("history"):
        return math.nan
    return float(fc.train_info["history"][-1]["train_loss"])


def write_forecast_run(run_dir: Path, run: Backtest, history: Series, test: Series) -> None:
    """Write the first seed's `best.pt` / `last.pt`, then `metrics.json`, `forecast.csv`
    (actual, forecast, interval, both baselines and the references per step) and
    `forecast.png`."""
    fc, pred, results = run.forecaster, run.forecast, run.results
    if fc is not None:  # the best recurrent method's (none when none could fit)
        fc.save(run_dir, metrics=results)
    for name, member in run.members.items():  # the choice's other recurrent fits
        if member is not fc:
            member.save(run_dir / f"member-{name}.pt", metrics=results)
    write_atomic(run_dir / "metrics.json", json.dumps(results, indent=2))
    _write_csv(
        run_dir / "forecast.csv",
        test.time,
        test.target_names,
        {
            "actual": test.target,
            "forecast": pred.mean,
            "lower": pred.lower,
            "upper": pred.upper,
            "naive": run.naive,
            "seasonal_naive": run.seasonal_naive,
            **run.references,
        },
    )
    from rnnkit.plots import plot_forecast

    specs = results.get("references", {})
    label = _model_label(fc) if fc is not None else ""
    if results.get("choice"):
        label = "chosen: " + _choice_label(results["choice"]["chosen"], results)
    plot_forecast(
        history.time,
        history.target,
        test.time,
        pred.mean,
        pred.lower,
        pred.upper,
        run_dir / "forecast.png",
        truth=test.target,
        names=test.target_names,
        title=f"{Path(results['source']).name}: {label}, horizon {len(test)}",
        references={_ref_label(n, specs[n]["spec"]): v for n, v in run.references.items()},
        label=label,
        extra=_recurrent_line(run),
    )
    if run.segments:
        _plot_rolling(run_dir / "backtest.png", run, history, test)


def _recurrent_line(run: Backtest) -> dict[str, np.ndarray]:
    """The recurrent family's forecast as an extra plot line, when it is not the chosen."""
    choice = run.results.get("choice") or {}
    best = choice.get("recurrent")
    if run.recurrent is None or not best or choice.get("chosen") == best:
        return {}
    return {f"recurrent: {best}": run.recurrent.mean}


def _plot_rolling(path: Path, run: Backtest, history: Series, test: Series) -> None:
    """`backtest.png`: the chosen forecast from every origin, and MASE per origin."""
    from rnnkit.plots import plot_backtest

    per_origin = run.results["backtest"]["per_origin"]
    names = [n for n in per_origin[0] if all(n in p for p in per_origin)]
    label = {"model": "chosen", "recurrent": "recurrent"}
    scores = {
        label.get(n, _choice_label(n, run.results)): [p[n]["mase"] for p in per_origin]
        for n in names
    }
    segments = [(s, f.mean[:, 0], f.lower[:, 0], f.upper[:, 0]) for s, f in run.segments]
    values = np.concatenate([history.target, test.target])
    title = f"{Path(run.results['source']).name}: backtest on {len(segments)} origins"
    plot_backtest([*history.time, *test.time], values, segments, scores, path, title)


def _summary_line(source: str, results: dict[str, Any], run_dir: Path) -> str:
    """The last printed line: the model's scores beside the baselines' and the references',
    and the run folder."""
    seeds, season = results["seeds"], results["season"]
    model_m, cov_m = results["model"], results["coverage80"]
    pm = "" if seeds == 1 else " ± {:.3g}"
    cov_txt = "n/a" if math.isnan(cov_m["mean"]) else f"{cov_m['mean']:.0%}"
    mse_txt = (
        f" train MSE {results['train_loss']['mean']:.2g}, test MSE {model_m['mse']['mean']:.3g},"
        if source == "sine"
        else ""
    )
    refs = "".join(
        f" | {_ref_label(n, m['spec'])} MAE {m['mae']:.4g}"
        for n, m in results.get("references", {}).items()
    )
    return (
        f"forecast {source} h={results['horizon']} ({seeds} seed{'s' if seeds > 1 else ''}):"
        f"{mse_txt} MAE {model_m['mae']['mean']:.4g}{pm.format(model_m['mae']['std'])}"
        f" MASE {model_m['mase']['mean']:.3g}{_choice_text(results)}"
        f" | naive MAE {results['naive']['mae']:.4g}"
        f" | seasonal naive (m={season}) MAE {results['seasonal_naive']['mae']:.4g}{refs}"
        f" | 80% interval coverage {cov_txt} | fit {results['fit_s']['mean']:.1f} s"
        f" | {run_dir}"
    )


def _choice_text(results: dict[str, Any]) -> str:
    """` chosen ETS(A,A,M) | recurrent esrnn MAE 1.23` for the automatic choice, else ``."""
    choice = results.get("choice")
    if not choice:
        return ""
    text = f" chosen {_choice_label(choice['chosen'], results)}"
    rec = results.get("recurrent")
    if rec and choice.get("recurrent"):
        text += f" | recurrent ({choice['recurrent']}) MAE {rec['mae']['mean']:.4g}"
    return text


def _members(checkpoint: Path) -> dict[str, Forecaster]:
    """The other recurrent fits a run folder holds (`member-<method>.pt`), by method."""
    if not checkpoint.is_dir():
        return {}
    members = (Forecaster.load(p) for p in sorted(checkpoint.glob("member-*.pt")))
    return {m.config.series.method: m for m in members}


def _forecast_from_checkpoint(
    source: str,
    checkpoint: str,
    over: ForecastConfig,
    out: str | None,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Forecast past the end of `source` with a saved forecaster; no retraining. From
    `over`, only `series.horizon`, `series.fill` and the CSV columns are read."""
    fc = Forecaster.load(checkpoint)
    info, s, o = fc.train_info, fc.config.series, over.series
    builtin = source in BUILTINS
    data: Series = load_series(
        source,
        None if builtin else (o.target or info.get("target_names")),
        "" if builtin else (o.time_col or s.time_col),
        None if builtin else (o.covariates or info.get("covariate_names") or None),
        o.fill if o.fill != "none" else s.fill,
    )
    horizon = int(o.horizon or fc.horizon)
    recorded = info.get("choice")
    if recorded:  # the automatic choice: the chosen forecast, as the run chose it
        fitted = {s.method: fc, **_members(Path(checkpoint))}
        pred = forecast_past_end(recorded, fitted, data, horizon)
    else:
        pred = fc.predict(horizon, data)
    run_dir = _run_dir(out, source)
    _make_run_dir(run_dir)
    future = _future_labels(data.time, horizon)
    _write_csv(
        run_dir / "forecast.csv",
        future,
        data.target_names,
        {"forecast": pred.mean, "lower": pred.lower, "upper": pred.upper},
    )
    from rnnkit.plots import plot_forecast

    plot_forecast(
        data.time,
        data.target,
        future,
        pred.mean,
        pred.lower,
        pred.upper,
        run_dir / "forecast.png",
        names=data.target_names,
        title=f"{source}: forecast past the end ({checkpoint})",
    )
    summary = (
        f"forecast {source}: {horizon} steps past {data.time[-1]} from {checkpoint} "
        f"(no retraining) | {run_dir / 'forecast.csv'}"
    )
    echo(summary)
    return {"horizon": horizon, "run_dir": str(run_dir), "summary": summary}
