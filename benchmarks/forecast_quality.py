"""Forecast-quality benchmark: rnnkit's default forecaster on `sunspots` and `co2`, 3 seeds.

The splits of issue 5: sunspots = statsmodels' yearly SUNACTIVITY 1700-2008 (309 points),
test = the last 30; co2 = monthly means of statsmodels' weekly series, gaps interpolated
linearly (526 points), test = the last 60. Seasonal naive uses season 11 and 12.

Reports MAE mean ± std over the seeds, sMAPE and MASE, the 80% interval coverage (per
dataset and pooled over seeds and both datasets), fit time per seed, and beside them the
naive and seasonal naive baselines and statsmodels' AR(9) with constant (sunspots) and
SARIMA (1,1,1)(0,1,1,12) (co2), refit here. Writes `benchmarks/results/forecast_quality.json`.

    python -m benchmarks.forecast_quality [--seeds 3] [--threads 1] [--sources sunspots co2]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from rnnkit.config import resolve_forecast
from rnnkit.forecast.backtest import run_forecast
from rnnkit.forecast.series import load_series
from rnnkit.metrics import mae

RESULTS = Path(__file__).parent / "results" / "forecast_quality.json"
ARIMA_ORDERS = {"sunspots": ((9, 0, 0), (0, 0, 0, 0), "c"), "co2": ((1, 1, 1), (0, 1, 1, 12), "n")}


def arima_mae(source: str, horizon: int) -> float | None:
    """statsmodels' ARIMA on the same split, or None without statsmodels."""
    try:
        from statsmodels.tsa.arima.model import ARIMA
    except ImportError:
        return None
    s = load_series(source)
    y = s.target[:, 0]
    order, seasonal, trend = ARIMA_ORDERS[source]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(y[:-horizon], order=order, seasonal_order=seasonal, trend=trend).fit()
    return mae(y[-horizon:], fit.forecast(horizon))


def main() -> None:
    """Run every source, print a table and write the JSON results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sources", nargs="+", default=["sunspots", "co2"])
    ap.add_argument("--out", default="runs/bench-forecast")
    args = ap.parse_args()
    rows, pooled = {}, []
    for source in args.sources:
        t0 = time.perf_counter()
        cfg = resolve_forecast(
            source, overrides=[f"train.threads={args.threads}", "train.device=cpu"]
        )
        res = run_forecast(
            source,
            cfg,
            seeds=args.seeds,
            out=f"{args.out}/{source}",
            quiet=True,
            echo=lambda _: None,
        )
        pooled += res["coverage80"]["values"]
        rows[source] = {
            "mae": res["model"]["mae"],
            "smape": res["model"]["smape"]["mean"],
            "mase": res["model"]["mase"]["mean"],
            "coverage80": res["coverage80"],
            "fit_s": res["fit_s"],
            "naive_mae": res["naive"]["mae"],
            "seasonal_naive_mae": res["seasonal_naive"]["mae"],
            "arima_mae": arima_mae(source, res["horizon"]),
            "wall_s": time.perf_counter() - t0,
        }
        r = rows[source]
        arima = "n/a" if r["arima_mae"] is None else f"{r['arima_mae']:.2f}"
        print(
            f"{source:<9} MAE {r['mae']['mean']:.2f} ± {r['mae']['std']:.2f}  "
            f"sMAPE {r['smape']:.1f}  MASE {r['mase']:.2f}  "
            f"80% cov {r['coverage80']['mean']:.0%}  fit {r['fit_s']['mean']:.1f} s/seed | "
            f"naive {r['naive_mae']:.2f}  seasonal naive {r['seasonal_naive_mae']:.2f}  "
            f"ARIMA {arima}",
            flush=True,
        )
    summary = {"sources": rows, "pooled_coverage80": float(np.mean(pooled)), "seeds": args.seeds}
    print(f"pooled 80% interval coverage: {summary['pooled_coverage80']:.0%}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
