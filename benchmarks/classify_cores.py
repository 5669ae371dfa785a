"""Every core on the classification panel (issue 27): the same accuracy, and the speed.

For each panel dataset and each core (`torch`, `scratch`, `fused`) this runs, as a user
would, `rnnkit classify DATA --time-budget 0 --max-epochs E --impl CORE --threads 2
--references none --seeds S` in a subprocess (the recipe chooses the rest, the same for
every core). A fixed number of epochs makes the accuracies comparable whatever each core's
speed: the cores compute the same function (tests/nn/test_packed.py), so they should agree
within the spread of the seeds. Speed is each run's median training tokens (sequence steps)
per second of training steps, at 2 threads. Writes `benchmarks/results/classify_cores.json`
and `.md` (gitignored). Run it alone: speed is wall time.

    python -m benchmarks.classify_cores [--only digits,GunPoint] [--epochs 30] [--seeds 3]
        [--impls torch,fused] [--set model.kind=lstm]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import asdict, replace
from typing import Any

from benchmarks.classify_panel import PANEL, Row, run_one
from benchmarks.report import cpu_name, write_report

IMPLS = ("torch", "scratch", "fused")


def _cell(row: Row) -> str:
    """`accuracy (min-max over seeds), tokens/s`, or the failure."""
    if row.error:
        return f"failed: {row.error}"
    low, high = min(row.seed_accuracies), max(row.seed_accuracies)
    return f"{row.accuracy:.3f} ({low:.3f}-{high:.3f}), {row.tokens_per_s:,.0f}/s"


def markdown(rows: dict[str, dict[str, Row]], impls: list[str], command: str) -> str:
    """One line per dataset: each core's median accuracy, spread and speed; the speed
    ratio of each core to `torch`."""
    others = [i for i in impls if i != "torch"]
    head = ["data", *impls, *(f"{i} / torch speed" for i in others)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, by_impl in rows.items():
        cells = [name, *(_cell(by_impl[i]) for i in impls)]
        base = by_impl.get("torch")
        for i in others:
            ok = base and not base.error and not by_impl[i].error and base.tokens_per_s
            cells.append(f"{by_impl[i].tokens_per_s / base.tokens_per_s:.2f}x" if ok else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Command: `{command}`; CPU: {cpu_name()}; {dt.date.today().isoformat()}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every core on the panel (or `--only` some of it); write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated dataset names")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--set", dest="sets", action="append", default=[], help="key=value")
    parser.add_argument("--tag", default="cores")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    extra = ["--max-epochs", str(args.epochs), "--threads", "2", "--references", "none"]
    for item in args.sets:
        extra += ["--set", item]
    rows: dict[str, dict[str, Row]] = {}
    for entry in (e for e in PANEL if (e.name in only if only else e.dev)):
        no_budget = replace(entry, budget=0)
        for impl in impls:
            tag = f"{args.tag}-{impl}"
            row = run_one(no_budget, args.seeds, args.timeout, tag, (*extra, "--impl", impl))
            rows.setdefault(entry.name, {})[impl] = row
            print(f"{entry.name} {impl}: {_cell(row)} ({row.wall_s:g} s)", flush=True)
    command = (
        f"rnnkit classify DATA --time-budget 0 {' '.join(extra)} --impl CORE --seeds {args.seeds}"
    )
    payload: dict[str, Any] = {
        "rows": {n: {i: asdict(r) for i, r in d.items()} for n, d in rows.items()},
        "cpu": cpu_name(),
        "command": command,
    }
    write_report(f"classify_{args.tag}", payload, lambda _: markdown(rows, impls, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
