"""Classification panel (issues 26, 27): `rnnkit classify DATA --time-budget B --seeds 3`,
run as a user, on digits, four UCR/UEA sets bundled in sktime's wheel, first-names and
fashion-mnist (28 rows of 28 pixels; `make fashion-mnist` installs Debian's files).

Each dataset is run by a subprocess `python -m rnnkit classify DATA --time-budget B
--threads 2 --seeds 3 --out RUNDIR` (no other option: the recipe chooses the rest; the
issues' targets are at 2 threads); the table reads
each run's `metrics.json` and `config.json`: rnnkit's median test accuracy over the seeds,
each printed reference's accuracy, the target, and the ratio
`(error + 1/n_test) / (best reference's error + 1/n_test)`; under the table, the
geometric mean of the ratios (the issue wants it at most 1.0), the command and the CPU. A
failed or timed-out run is recorded with its last error line. Writes
`benchmarks/results/classify_panel[-TAG].json` and `.md` (gitignored). Needs the
`classify` extra (scikit-learn; sktime with numba for MiniRocket) and `RNNKIT_DATA` for
first-names. Run it alone on a quiet machine: the budget is wall time.

    python -m benchmarks.classify_panel [--only digits,GunPoint] [--seeds 3] [--tag NAME]
        [--timeout 1800] [--threads 2]

A run may take `--timeout` seconds beyond its seeds' budgets (fashion-mnist's three 600 s
fits and its references need about 35 minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import cpu_name, write_report

ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = ROOT / "runs" / "classify-panel"  # runs/ is gitignored


@dataclass(frozen=True)
class Entry:
    """One panel row: the DATA argument (a name, or a folder under sktime's data),
    its budget in seconds and the issue's target accuracy; `dev`: in the recipe's
    cross-validation loop (benchmarks/classify_dev.py) unless named with --only."""

    name: str
    budget: float
    target: float
    sktime: bool = False
    dev: bool = True


PANEL = (
    Entry("digits", 30, 0.97),
    Entry("GunPoint", 120, 0.97, sktime=True),
    Entry("ItalyPowerDemand", 120, 0.96, sktime=True),
    Entry("JapaneseVowels", 120, 0.97, sktime=True),
    Entry("BasicMotions", 120, 0.95, sktime=True),
    Entry("first-names", 60, 0.90),
    Entry("fashion-mnist", 600, 0.90, dev=False),
)


def sktime_data() -> Path:
    """sktime's bundled datasets folder (`sktime/datasets/data/`), found without
    importing sktime (its import is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("sktime")
    if spec is None or spec.origin is None:
        raise SystemExit("the panel needs sktime's bundled data: pip install 'rnnkit[classify]'")
    return Path(spec.origin).parent / "datasets" / "data"


def data_argument(entry: Entry) -> str:
    """The DATA a user would type: the `_TRAIN.ts` file, or the dataset's name."""
    if not entry.sktime:
        return entry.name
    return str(sktime_data() / entry.name / f"{entry.name}_TRAIN.ts")


@dataclass
class Row:
    """One dataset's outcome (accuracies in [0, 1]; `error` set when the run failed)."""

    name: str
    budget: float
    target: float
    command: str
    accuracy: float = math.nan
    n_test: int = 0
    references: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    recipe: str = ""
    wall_s: float = 0.0
    error: str = ""
    seed_accuracies: list[float] = field(default_factory=list)
    tokens_per_s: float = 0.0

    def ratio(self) -> float:
        """(error + 1/n) / (best reference's error + 1/n); nan without a reference."""
        if self.error or not self.references or not self.n_test:
            return math.nan
        eps = 1.0 / self.n_test
        best = max(self.references.values())
        return (1.0 - self.accuracy + eps) / (1.0 - best + eps)


def run_one(entry: Entry, seeds: int, timeout: float, tag: str, extra: tuple[str, ...] = ()) -> Row:
    """Run `rnnkit classify` on one dataset in a subprocess and read its run folder
    (`extra`: more command-line options, after the budget)."""
    out = RUNS_DIR / (f"{entry.name}-{tag}" if tag else entry.name)
    args = ["classify", data_argument(entry), "--time-budget", f"{entry.budget:g}", *extra]
    args += ["--seeds", str(seeds), "--out", str(out)]
    row = Row(entry.name, entry.budget, entry.target, "rnnkit " + shlex.join(args))
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rnnkit", *args],
            capture_output=True,
            text=True,
            timeout=timeout + seeds * entry.budget,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
    except subprocess.TimeoutExpired:
        row.error = f"timed out after {timeout + seeds * entry.budget:g} s"
        return row
    row.wall_s = round(time.perf_counter() - start, 1)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        row.error = lines[-1] if lines else f"exit status {done.returncode}"
        return row
    return read_run(row, out)


def read_run(row: Row, out: Path) -> Row:
    """Fill `row` from the run folder's `metrics.json` and `config.json`."""
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    row.accuracy = float(metrics["test"]["accuracy"])
    row.n_test = int(config["split"]["sizes"]["test"])
    row.references = {n: float(m["accuracy"]) for n, m in metrics["references"].items()}
    row.skipped = dict(metrics.get("references_skipped", {}))
    row.recipe = str(config.get("recipe_note", ""))
    row.seed_accuracies = [float(s["accuracy"]) for s in metrics["test"]["seeds"]]
    row.tokens_per_s = float(metrics["test"].get("tokens_per_s", 0.0))
    return row


def geometric_mean(values: list[float]) -> float:
    """The geometric mean of the finite values (nan when there are none)."""
    finite = [v for v in values if math.isfinite(v) and v > 0]
    if not finite:
        return math.nan
    return math.exp(sum(math.log(v) for v in finite) / len(finite))


def markdown(rows: list[Row], seeds: int, threads: int) -> str:
    """The panel as a Markdown table with the geometric mean, the command and the CPU."""
    names = sorted({n for r in rows for n in r.references})
    head = ["data", "budget", "rnnkit (median)", *names, "target", "met", "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"| {r.name} | {r.budget:g} s | failed: {r.error} |")
            continue
        refs = [f"{r.references[n]:.3f}" if n in r.references else "-" for n in names]
        met = "yes" if r.accuracy >= r.target else "no"
        cells = [r.name, f"{r.budget:g} s", f"{r.accuracy:.3f}", *refs, f">= {r.target:.2f}"]
        lines.append("| " + " | ".join([*cells, met, f"{r.ratio():.3f}"]) + " |")
    gm = geometric_mean([r.ratio() for r in rows])
    lines += [
        "",
        f"Geometric mean of (error + 1/n_test) / (best reference's error + 1/n_test): "
        f"{gm:.3f} (target <= 1.0).",
        "",
        f"Command: `rnnkit classify DATA --time-budget B --threads {threads} --seeds {seeds}` "
        "(each run alone); "
        f"CPU: {cpu_name()}; {dt.date.today().isoformat()}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the panel (or `--only` some of it) and write the JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated dataset names")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tag", default="", help="suffix of the result files and run folders")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds per dataset beyond its budgets"
    )
    parser.add_argument("--threads", type=int, default=2, help="--threads of every run")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    entries = [e for e in PANEL if not only or e.name in only]
    rows = []
    for entry in entries:
        row = run_one(entry, args.seeds, args.timeout, args.tag, ("--threads", str(args.threads)))
        print(f"{row.name}: {row.error or f'{row.accuracy:.4f}'} ({row.wall_s:g} s)", flush=True)
        rows.append(row)
    stem = "classify_panel" + (f"-{args.tag}" if args.tag else "")
    payload: dict[str, Any] = {"rows": [asdict(r) for r in rows], "cpu": cpu_name()}
    write_report(stem, payload, lambda _: markdown(rows, args.seeds, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
