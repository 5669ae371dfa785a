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
from rnnkit.forecast.references import reference_forecasts
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
    run_dir = _run_dir(out, source)
    _make_run_dir(run_dir)
    echo(f"run folder: {run_dir}")
    if choice.line:
        echo(choice.line)
    write_atomic(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))
    cfg.series.season = season
    run = backtest(cfg, history, test, season, seeds, quiet, echo)
    write_forecast_run(run_dir, run, history, test)
    summary = _summary_line(source, run.results, run_dir)
    echo(summary)
    return {**run.results, "run_dir": str(run_dir), "summary": summary}


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
    forecaster: Forecaster
    forecast: Forecast
    naive: np.ndarray
    seasonal_naive: np.ndarray
    references: dict[str, np.ndarray] = field(default_factory=dict)


def _ref_label(name: str, spec: str) -> str:
    """A reference's name in the summary and the plot: its model, or `ETS` for several."""
    return name.upper() if ";" in spec else spec


def _references(
    cfg: ForecastConfig,
    history: Series,
    truth: np.ndarray,
    season: int,
    echo: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
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
    return entries, {name: r.mean for name, r in refs.items()}


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
    score each fit and the naive and seasonal naive baselines; one line per seed to `echo`."""
    horizon = len(test)
    truth = test.target  # (H, C)
    scores: dict[str, list[float]] = {k: [] for k in ("mae", "rmse", "smape", "mase", "mse")}
    cov: list[float] = []
    fit_s: list[float] = []
    train_loss: list[float] = []
    methods: list[str] = []
    first: tuple[Forecaster, Forecast] | None = None
    base_seed = cfg.train.seed
    for i in range(seeds):
        cfg_i = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=base_seed + i))
        t0 = time.perf_counter()
        fc = Forecaster(cfg_i, quiet=quiet).fit(history)
        fit_s.append(time.perf_counter() - t0)
        methods.append(_method_text(fc.train_info))
        train_loss.append(fc.train_info["history"][-1]["train_loss"])
        pred = fc.predict(horizon)
        m = forecast_metrics(truth, pred.mean, history.target, season)
        m["mse"] = m["rmse"] ** 2
        for k, v in m.items():
            scores[k].append(v)
        c = coverage(truth, pred.lower, pred.upper) if np.isfinite(pred.lower).all() else math.nan
        cov.append(c)
        echo(
            f"seed {base_seed + i}: MAE {m['mae']:.4g}  RMSE {m['rmse']:.4g}  "
            f"sMAPE {m['smape']:.4g}  MASE {m['mase']:.4g}  80% coverage "
            + ("n/a" if math.isnan(c) else f"{c:.0%}")
            + f"  fit {fit_s[-1]:.1f} s  {methods[-1]}"
        )
        if first is None:
            first = (fc, pred)
    assert first is not None
    fc, pred = first
    naive = naive_forecast(history.target, horizon)
    snaive = seasonal_naive_forecast(history.target, horizon, season)
    results: dict[str, Any] = {
        "source": cfg.series.source,
        "horizon": horizon,
        "lookback": fc.lookback,
        "season": season,
        "seeds": seeds,
        "test_points": horizon,
        "model": {k: _spread(v) for k, v in scores.items()},
        "coverage80": _spread(cov),
        "fit_s": _spread(fit_s),
        "train_loss": _spread(train_loss),
        "method": methods,
        "naive": forecast_metrics(truth, naive, history.target, season),
        "seasonal_naive": forecast_metrics(truth, snaive, history.target, season),
    }
    entries, references = _references(cfg, history, truth, season, echo)
    results.update(entries)
    return Backtest(results, fc, pred, naive, snaive, references)


def write_forecast_run(run_dir: Path, run: Backtest, history: Series, test: Series) -> None:
    """Write the first seed's `best.pt` / `last.pt`, then `metrics.json`, `forecast.csv`
    (actual, forecast, interval, both baselines and the references per step) and
    `forecast.png`."""
    fc, pred, results = run.forecaster, run.forecast, run.results
    fc.save(run_dir, metrics=results)
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

    s = fc.config.series
    specs = results.get("references", {})
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
        title=f"{Path(s.source).name}: {_model_label(fc)}, horizon {len(test)}",
        references={_ref_label(n, specs[n]["spec"]): v for n, v in run.references.items()},
    )


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
        f" MASE {model_m['mase']['mean']:.3g} | naive MAE {results['naive']['mae']:.4g}"
        f" | seasonal naive (m={season}) MAE {results['seasonal_naive']['mae']:.4g}{refs}"
        f" | 80% interval coverage {cov_txt} | fit {results['fit_s']['mean']:.1f} s"
        f" | {run_dir}"
    )


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
