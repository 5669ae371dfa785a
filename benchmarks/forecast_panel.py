"""Forecasting development panel: `rnnkit forecast` on 9 statsmodels series, run as a user.

Each series is written as a two-column CSV (`time,value`) built from statsmodels' bundled
datasets only, then fitted by a subprocess `python -m rnnkit forecast FILE --horizon H
--seeds N --threads 2 --quiet --out RUNDIR [EXTRA...]`, which holds out the last H points.
The table reads each run's `metrics.json`: rnnkit's MAE (mean over seeds) beside seasonal
naive (naive where season <= 1), the ETS and ARIMA references when the run reports them,
80% interval coverage and fit time per seed; for the panel, the geometric means of
rnnkit/ETS and ARIMA/ETS, the pooled coverage and how many series beat seasonal naive. A
failed or timed-out run is recorded with its error line. Writes
`benchmarks/results/forecast_panel[-TAG].json` and `.md` (gitignored).

    python -m benchmarks.forecast_panel [--only nile,sunspots] [--seeds 3] [--tag NAME]
        [--extra "--set series.method=es"] [--jobs 1] [--timeout 1800] [--ablation]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
DATA_DIR = RESULTS / "forecast_panel_data"  # benchmarks/results/ is gitignored
RUNS_DIR = ROOT / "runs" / "forecast-panel"  # runs/ is gitignored
ABLATION = {
    "esrnn": "--set series.method=esrnn",
    "es": "--set series.method=es",
    "rnn": "--set series.method=rnn",
}

Labels = list[str]


# ---------------------------------------------------------------------------------------
# the panel: builders from statsmodels' bundled datasets
# ---------------------------------------------------------------------------------------


def _dataset(name: str) -> Any:
    """`statsmodels.api.datasets.<name>.load_pandas().data` (a pandas DataFrame); the same
    module as `statsmodels.datasets`, imported alone (a third of `statsmodels.api`'s time)."""
    import statsmodels.datasets

    return getattr(statsmodels.datasets, name).load_pandas().data


def _co2_weekly_frame() -> Any:
    """Weekly Mauna Loa CO2 1958-03-29 .. 2001-12-29 (pandas Series of 2284, gaps filled)."""
    return _dataset("co2")["co2"].interpolate(method="linear")


def co2_weekly() -> tuple[Labels, np.ndarray]:
    """2284 weekly values, the 59 missing weeks interpolated linearly; ISO dates."""
    s = _co2_weekly_frame()
    return [d.strftime("%Y-%m-%d") for d in s.index], s.to_numpy(np.float64)


def co2_monthly() -> tuple[Labels, np.ndarray]:
    """Monthly means of the raw weekly series (526), empty months interpolated; first days."""
    s = _dataset("co2")["co2"].resample("MS").mean().interpolate(method="linear")
    return [d.strftime("%Y-%m-%d") for d in s.index], s.to_numpy(np.float64)


def _yearly(name: str, year_col: str, value_col: str) -> tuple[Labels, np.ndarray]:
    """A yearly column, labelled with plain years."""
    d = _dataset(name)
    return [str(int(y)) for y in d[year_col]], d[value_col].to_numpy(np.float64)


def sunspots() -> tuple[Labels, np.ndarray]:
    """Yearly sunspot activity 1700-2008 (309)."""
    return _yearly("sunspots", "YEAR", "SUNACTIVITY")


def nile() -> tuple[Labels, np.ndarray]:
    """Yearly Nile volume at Aswan 1871-1970 (100)."""
    return _yearly("nile", "year", "volume")


def elnino() -> tuple[Labels, np.ndarray]:
    """The 61 x 12 table of sea surface temperatures, flattened row by row (732); YYYY-MM."""
    d = _dataset("elnino")
    months = [c for c in d.columns if c != "YEAR"]  # JAN .. DEC, in order
    labels = [f"{int(y):04d}-{m:02d}" for y in d["YEAR"] for m in range(1, len(months) + 1)]
    return labels, d[months].to_numpy(np.float64).reshape(-1)


def _macro(column: str) -> Callable[[], tuple[Labels, np.ndarray]]:
    """A quarterly `macrodata` column 1959Q1-2009Q3 (203), first day of each quarter."""

    def build() -> tuple[Labels, np.ndarray]:
        d = _dataset("macrodata")
        labels = [
            f"{int(y):04d}-{3 * (int(q) - 1) + 1:02d}-01"
            for y, q in zip(d["year"], d["quarter"], strict=True)
        ]
        return labels, d[column].to_numpy(np.float64)

    build.__doc__ = f"macrodata {column}, quarterly, ISO first-of-quarter dates."
    return build


def short() -> tuple[Labels, np.ndarray]:
    """The last 48 months of co2-monthly (under 60 points), labels kept."""
    labels, values = co2_monthly()
    return labels[-48:], values[-48:]


@dataclass(frozen=True)
class PanelSeries:
    """One panel entry: its name, the held-out horizon and why, and its builder."""

    name: str
    horizon: int
    reason: str
    build: Callable[[], tuple[Labels, np.ndarray]]


# name, horizon, and the reason for that horizon (one line each)
PANEL: list[PanelSeries] = [
    PanelSeries("co2-weekly", 52, "one full year of weeks: the whole seasonal cycle", co2_weekly),
    PanelSeries(
        "co2-monthly", 24, "two years: the seasonal cycle twice, trend visible", co2_monthly
    ),
    PanelSeries("sunspots", 20, "about two 11-year cycles; past that, forecasts fade", sunspots),
    PanelSeries("nile", 10, "a decade, a tenth of the 100 points", nile),
    PanelSeries("elnino", 24, "two years of months, the usual ENSO outlook range", elnino),
    PanelSeries("realgdp", 8, "two years of quarters, the usual macro horizon", _macro("realgdp")),
    PanelSeries("cpi", 8, "two years of quarters, the usual macro horizon", _macro("cpi")),
    PanelSeries("unemp", 8, "two years of quarters, the usual macro horizon", _macro("unemp")),
    PanelSeries("short", 12, "one seasonal cycle: all a 48-point history allows", short),
]
BY_NAME = {p.name: p for p in PANEL}


def write_csv(path: Path, labels: Labels, values: np.ndarray) -> None:
    """Write `time,value` rows; `values` is (N,) float64 without NaN."""
    if np.isnan(values).any():
        raise ValueError(f"{path.name}: {int(np.isnan(values).sum())} missing values left")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "value"])
        writer.writerows([t, f"{v:.10g}"] for t, v in zip(labels, values, strict=True))


def build_panel(folder: Path, names: Iterable[str]) -> dict[str, Path]:
    """Write one CSV per named series into `folder`; returns name -> path."""
    paths = {}
    for name in names:
        labels, values = BY_NAME[name].build()
        paths[name] = folder / f"{name}.csv"
        write_csv(paths[name], labels, values)
    return paths


# ---------------------------------------------------------------------------------------
# one run: the CLI in a subprocess
# ---------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """One series' outcome: `metrics` (metrics.json) or `error` (the last stderr line)."""

    name: str
    points: int
    horizon: int
    command: list[str]
    wall_s: float
    metrics: dict[str, Any] | None = None
    error: str | None = None
    row: dict[str, Any] = field(default_factory=dict)


def _error_line(stderr: str, returncode: int) -> str:
    """The last non-empty stderr line (the CLI's one error line, or a traceback's end)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {returncode}, nothing on stderr"


def run_one(
    name: str, csv_path: Path, run_dir: Path, seeds: int, extra: list[str], timeout: float
) -> RunResult:
    """Run `rnnkit forecast` on one CSV and read its `metrics.json`."""
    horizon = BY_NAME[name].horizon
    command = [
        sys.executable, "-m", "rnnkit", "forecast", str(csv_path),
        "--horizon", str(horizon), "--seeds", str(seeds), "--threads", "2",
        "--quiet", "--out", str(run_dir), *extra,
    ]  # fmt: skip
    points = sum(1 for _ in csv_path.open(encoding="utf-8")) - 1
    result = RunResult(name, points, horizon, command, 0.0)
    (run_dir / "metrics.json").unlink(missing_ok=True)  # never read a stale one
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        result.wall_s = time.perf_counter() - t0
        result.error = f"timed out after {timeout:.0f} s"
        return result
    result.wall_s = time.perf_counter() - t0
    metrics_path = run_dir / "metrics.json"
    if proc.returncode != 0 or not metrics_path.is_file():
        result.error = _error_line(proc.stderr, proc.returncode)
        return result
    result.metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    return result


# ---------------------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------------------


def _get(d: Any, dotted: str) -> Any:
    """`d["a"]["b"]` for `"a.b"`, or None when any part is missing."""
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def score_row(r: RunResult) -> dict[str, Any]:
    """The table row of one successful run (None where metrics.json lacks a key)."""
    m = r.metrics or {}
    season = _get(m, "season")
    model_mae = _get(m, "model.mae.mean")
    base_key = "seasonal_naive.mae" if season and season > 1 else "naive.mae"
    base = _get(m, base_key)
    ets, arima = _get(m, "references.ets.mae"), _get(m, "references.arima.mae")
    cov = _finite(_get(m, "coverage80.values") or [])
    rec = _get(m, "recurrent.mae.mean")
    refs = _finite([_get(m, "naive.mae"), base, ets, arima])
    best_ref = min(refs) if refs else None
    return {
        "horizon": _get(m, "horizon") or r.horizon,
        "season": season,
        "mae": model_mae,
        "mae_values": _get(m, "model.mae.values"),
        "mase": _get(m, "model.mase.mean"),
        "baseline": base_key.split(".")[0],
        "baseline_mae": base,
        "beats_baseline": None if model_mae is None or base is None else model_mae < base,
        "ets_mae": ets,
        "ets_spec": _get(m, "references.ets.spec"),
        "ets_fit_s": _get(m, "references.ets.fit_s"),
        "arima_mae": arima,
        "arima_spec": _get(m, "references.arima.spec"),
        "arima_fit_s": _get(m, "references.arima.fit_s"),
        "ratio_ets": model_mae / ets if model_mae is not None and ets else None,
        "arima_ratio_ets": arima / ets if arima is not None and ets else None,
        "recurrent_mae": rec,
        "recurrent_ratio_ets": rec / ets if rec is not None and ets else None,
        "best_ref_mae": best_ref,
        "ratio_best_ref": model_mae / best_ref if model_mae is not None and best_ref else None,
        "chosen": _get(m, "method"),
        "coverage80": float(np.mean(cov)) if cov else None,
        "coverage80_values": cov,
        "fit_s": _get(m, "fit_s.mean"),
        "auto": _get(m, "auto"),
        "method": _get(m, "method"),
    }


def geomean(values: Iterable[Any]) -> float | None:
    """Geometric mean of the positive finite values, None when there are none."""
    v = [x for x in _finite(values) if x > 0]
    return float(np.exp(np.mean(np.log(v)))) if v else None


def summarise(results: list[RunResult]) -> dict[str, Any]:
    """Panel scores: geometric means over ETS, pooled coverage, wins over the baseline."""
    rows = [r.row for r in results if r.metrics is not None]
    covered = weight = 0.0
    for row in rows:  # pooled over series and seeds, each seed weighted by its test points
        for c in row["coverage80_values"]:
            covered, weight = covered + c * row["horizon"], weight + row["horizon"]
    beats = [row["beats_baseline"] for row in rows if row["beats_baseline"] is not None]
    return {
        "series": len(results),
        "completed": len(rows),
        "failed": [r.name for r in results if r.metrics is None],
        "geomean_rnnkit_over_ets": geomean(row["ratio_ets"] for row in rows),
        "geomean_arima_over_ets": geomean(row["arima_ratio_ets"] for row in rows),
        "geomean_recurrent_over_ets": geomean(row["recurrent_ratio_ets"] for row in rows),
        "worst_over_best_reference": max(
            _finite(row["ratio_best_ref"] for row in rows), default=None
        ),
        "within_1_1_of_best_reference": sum(
            r <= 1.1 for r in _finite(row["ratio_best_ref"] for row in rows)
        ),
        "ets_series": sum(row["ratio_ets"] is not None for row in rows),
        "pooled_coverage80": covered / weight if weight else None,
        "beats_seasonal_naive": sum(beats),
        "beats_scored": len(beats),
    }


# ---------------------------------------------------------------------------------------
# the environment and the tables
# ---------------------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else `platform.processor()`."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(argv: list[str]) -> dict[str, Any]:
    """CPU, core count, torch version, the exact command, the UTC date."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    return {
        "cpu": cpu_name(),
        "cores": len(os.sched_getaffinity(0)),
        "torch": torch_version,
        "python": sys.executable,
        "command": shlex.join(["python", "-m", "benchmarks.forecast_panel", *argv]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _f(x: Any, digits: int = 4) -> str:
    """A number to `digits` significant digits, `-` for None or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _clip(text: str | None, limit: int = 200) -> str:
    """An error line cut to `limit` characters for the markdown (the JSON keeps it whole)."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:.0%}"


def series_table(results: list[RunResult]) -> list[str]:
    """Markdown lines: one row per series, then notes (auto config, method, errors)."""
    head = (
        "| series | n | H | season | rnnkit MAE | snaive MAE | beats | ETS MAE | ETS spec "
        "| ARIMA MAE | ARIMA spec | rnnkit/ETS | /best ref | recurrent MAE | recurrent/ETS "
        "| cov80 | fit s/seed |"
    )
    lines = [head, "|" + "---|" * 17]
    notes = []
    for r in results:
        if r.metrics is None:
            lines.append(f"| {r.name} | {r.points} | {r.horizon} |" + " - |" * 14)
            notes.append(f"- `{r.name}` failed: {_clip(r.error)}")
            continue
        w = r.row
        beats = "-" if w["beats_baseline"] is None else ("yes" if w["beats_baseline"] else "no")
        base = "" if w["baseline"] == "seasonal_naive" else " (naive)"
        lines.append(
            f"| {r.name} | {r.points} | {w['horizon']} | {_f(w['season'])} | {_f(w['mae'])} "
            f"| {_f(w['baseline_mae'])}{base} | {beats} | {_f(w['ets_mae'])} "
            f"| {w['ets_spec'] or '-'} | {_f(w['arima_mae'])} | {w['arima_spec'] or '-'} "
            f"| {_f(w['ratio_ets'], 3)} | {_f(w['ratio_best_ref'], 3)} | {_f(w['recurrent_mae'])} "
            f"| {_f(w['recurrent_ratio_ets'], 3)} | {_pct(w['coverage80'])} | {_f(w['fit_s'], 3)} |"
        )
        for key in ("method", "auto"):
            if w[key]:
                notes.append(f"- `{r.name}` {key}: {w[key]}")
    return lines + (["", *notes] if notes else [])


def summary_lines(s: dict[str, Any]) -> list[str]:
    """The panel's scores as markdown bullet lines."""
    return [
        f"- completed: {s['completed']} of {s['series']}"
        + (f" (failed: {', '.join(s['failed'])})" if s["failed"] else ""),
        f"- geometric mean rnnkit/ETS: {_f(s['geomean_rnnkit_over_ets'], 3)}"
        f" (over {s['ets_series']} series with an ETS reference)",
        f"- geometric mean ARIMA/ETS: {_f(s['geomean_arima_over_ets'], 3)}",
        f"- geometric mean of the recurrent family alone (ablation) / ETS: "
        f"{_f(s['geomean_recurrent_over_ets'], 3)}",
        f"- chosen MAE / best printed reference (naive, seasonal naive, ETS, ARIMA): worst "
        f"{_f(s['worst_over_best_reference'], 3)}, within 1.1x on "
        f"{s['within_1_1_of_best_reference']} of {s['completed']}",
        f"- pooled 80% coverage (series and seeds, weighted by test points): "
        f"{_pct(s['pooled_coverage80'])}",
        f"- beats seasonal naive (naive where season <= 1): "
        f"{s['beats_seasonal_naive']} of {s['beats_scored']}",
    ]


def environment_lines(env: dict[str, Any], extra: str) -> list[str]:
    return [
        f"`{env['command']}`",
        "",
        f"{env['date']}, {env['cpu']} ({env['cores']} cores), torch {env['torch']}"
        + (f", extra args `{extra}`" if extra else ""),
    ]


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------


def run_panel(
    names: list[str],
    paths: dict[str, Path],
    runs_dir: Path,
    args: argparse.Namespace,
    extra: list[str],
) -> list[RunResult]:
    """Run every named series (`args.jobs` at a time), printing one line as each ends."""

    def job(name: str) -> RunResult:
        r = run_one(name, paths[name], runs_dir / name, args.seeds, extra, args.timeout)
        if r.metrics is not None:
            r.row = score_row(r)
            print(
                f"{name:<12} MAE {_f(r.row['mae'])}  snaive {_f(r.row['baseline_mae'])}  "
                f"ETS {_f(r.row['ets_mae'])}  ({r.wall_s:.0f} s)",
                flush=True,
            )
        else:
            print(f"{name:<12} failed ({r.wall_s:.0f} s): {r.error}", flush=True)
        return r

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        return list(pool.map(job, names))


def _result_json(r: RunResult) -> dict[str, Any]:
    d = asdict(r)
    d.pop("metrics")  # the run folder keeps metrics.json; the row holds what the table reads
    return d


def write_results(stem: str, payload: dict[str, Any], markdown: list[str]) -> None:
    """Write `benchmarks/results/<stem>.json` and `.md`."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    (RESULTS / f"{stem}.md").write_text("\n".join(markdown) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS / stem}.json and .md")


def panel_mode(
    args: argparse.Namespace, names: list[str], paths: dict[str, Path], env: dict[str, Any]
) -> None:
    """One pass over the panel with `--extra`: the per-series table and the summary."""
    stem = "forecast_panel" + (f"-{args.tag}" if args.tag else "")
    results = run_panel(names, paths, args.runs / (args.tag or "default"), args, _split(args))
    summary = summarise(results)
    md = [f"# Forecast panel{f' ({args.tag})' if args.tag else ''}", ""]
    md += [*environment_lines(env, args.extra), "", *series_table(results)]
    md += ["", *summary_lines(summary)]
    print("\n" + "\n".join(md))
    horizons = {p.name: {"horizon": p.horizon, "reason": p.reason} for p in PANEL}
    payload = {
        "environment": env,
        "seeds": args.seeds,
        "extra": args.extra,
        "panel": {n: horizons[n] for n in names},
        "series": {r.name: _result_json(r) for r in results},
        "summary": summary,
    }
    write_results(stem, payload, md)


def ablation_mode(
    args: argparse.Namespace, names: list[str], paths: dict[str, Path], env: dict[str, Any]
) -> None:
    """The panel once per `series.method` variant: MAE per series per variant, and each
    variant's geometric mean over ETS."""
    stem = "forecast_panel-ablation" + (f"-{args.tag}" if args.tag else "")
    by_variant: dict[str, list[RunResult]] = {}
    for variant, variant_extra in ABLATION.items():
        print(f"--- variant {variant}: {variant_extra}", flush=True)
        extra = shlex.split(variant_extra) + _split(args)
        by_variant[variant] = run_panel(
            names, paths, args.runs / f"ablation-{variant}", args, extra
        )
    md = ["# Forecast panel ablation", "", *environment_lines(env, args.extra), ""]
    md += ablation_table(names, by_variant)
    print("\n" + "\n".join(md))
    payload = {
        "environment": env,
        "seeds": args.seeds,
        "extra": args.extra,
        "variants": {
            v: {
                "extra": ABLATION[v],
                "series": {r.name: _result_json(r) for r in rs},
                "summary": summarise(rs),
            }
            for v, rs in by_variant.items()
        },
    }
    write_results(stem, payload, md)


def ablation_table(names: list[str], by_variant: dict[str, list[RunResult]]) -> list[str]:
    """Markdown: MAE per series (rows) per variant (columns), ETS beside, then geomeans."""
    variants = list(by_variant)
    lines = [
        "| series | " + " | ".join(variants) + " | ETS MAE |",
        "|" + "---|" * (len(variants) + 2),
    ]
    notes: list[str] = []
    for i, name in enumerate(names):
        cells, ets = [], None
        for v in variants:
            r = by_variant[v][i]
            if r.metrics is None:
                cells.append("failed")
                notes.append(f"- `{name}` / {v}: {_clip(r.error)}")
            else:
                cells.append(_f(r.row["mae"]))
                ets = ets if ets is not None else r.row["ets_mae"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_f(ets)} |")
    geo = [_f(summarise(by_variant[v])["geomean_rnnkit_over_ets"], 3) for v in variants]
    lines.append("| **geomean / ETS** | " + " | ".join(geo) + " | 1 |")
    return lines + (["", *notes] if notes else [])


def _split(args: argparse.Namespace) -> list[str]:
    return shlex.split(args.extra) if args.extra else []


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated series names (default: all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--extra", default="", help='extra `rnnkit forecast` args, e.g. "--set a.b=c"')
    ap.add_argument("--tag", default="", help="write forecast_panel-TAG.json / .md")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each uses 2 threads)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--ablation", action="store_true", help="one pass per series.method")
    ap.add_argument("--data", type=Path, default=DATA_DIR, help="where the CSVs are written")
    ap.add_argument("--runs", type=Path, default=RUNS_DIR, help="parent of the run folders")
    ap.add_argument("--build-only", action="store_true", help="write the CSVs and stop")
    args = ap.parse_args(argv)
    args.names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BY_NAME)
    unknown = [n for n in args.names if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown series {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build the CSVs, run the panel (or the ablation), print and write the tables."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    paths = build_panel(args.data, args.names)
    for name, path in paths.items():
        print(f"{name:<12} {path}  H={BY_NAME[name].horizon}", flush=True)
    if args.build_only:
        return
    env = environment(argv)
    (ablation_mode if args.ablation else panel_mode)(args, args.names, paths, env)


if __name__ == "__main__":
    main()
