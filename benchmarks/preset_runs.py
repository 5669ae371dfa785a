"""A preset's held-out numbers within its budget, over several runs, beside another version.

    .venv/bin/python -m benchmarks.preset_runs --preset timemachine --runs 3 --baseline e4eb39b
    .venv/bin/python -m benchmarks.preset_runs --preset shakespeare --runs 2

Each run is `rnnkit train --preset P --threads T --seed S --quiet` in a child process; its
best validation perplexity and loss (nats per token) among the evaluations at or within
`--within` seconds of `elapsed_s` (default: the preset's own budget) and its whole curve
(`metrics.jsonl`) are kept. `--baseline REV` runs the same preset from the package source
of git revision REV too (a temporary `git worktree`, put first on `PYTHONPATH`),
alternating which goes first, so both sides share the CPU and its load. Seeds are
`--seed`, `--seed + 1`, ...: a preset fixes its seed, and runs of one seed differ only by
timing. Writes benchmarks/results/preset-<preset>[-tag].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.report import cpu_name, write_report
from rnnkit.config import load_preset

REPO = Path(__file__).resolve().parents[1]


def run_preset(preset: str, seed: int, threads: int, within: float, src: Path | None) -> dict:
    """One `rnnkit train --preset` run in a child process (the package from `src` if given)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "rnnkit", "train", "--preset", preset, "--quiet"]
        argv += ["--threads", str(threads), "--seed", str(seed), "--out", str(out)]
        result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp)
        if result.returncode != 0:
            raise SystemExit(f"rnnkit train failed:\n{result.stdout}\n{result.stderr}")
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    inside = [r for r in rows if r["elapsed_s"] <= within + 1e-6] or rows[:1]
    best = min(inside, key=lambda r: r["val_loss"])
    curve = [
        {k: r[k] for k in ("epoch", "elapsed_s", "train_loss", "val_loss", "val_ppl")} for r in rows
    ]
    done = [line for line in result.stdout.splitlines() if line.startswith("done")]
    return {
        "val_ppl": best["val_ppl"],
        "val_loss": best["val_loss"],
        "at_s": best["elapsed_s"],
        "curve": curve,
        "done": done[0] if done else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--within", type=float, default=0.0, help="seconds (0 = the budget)")
    parser.add_argument("--baseline", default="", help="a git revision to run beside")
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    within = args.within or load_preset(args.preset).train.time_budget
    load = os.getloadavg()[0]
    sides: dict[str, Path | None] = {"current": None}
    with ExitStack() as stack:
        if args.baseline:
            tree = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "tree"
            git = ["git", "-C", str(REPO)]
            subprocess.run([*git, "worktree", "add", "-q", "--detach", str(tree), args.baseline])
            stack.callback(subprocess.run, [*git, "worktree", "remove", "--force", str(tree)])
            sides[args.baseline] = tree / "src"
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for k in range(args.runs):
            order = list(sides) if k % 2 == 0 else list(reversed(sides))
            for name in order:
                row = run_preset(args.preset, args.seed + k, args.threads, within, sides[name])
                results[name].append(row)
                print(f"{name} run {k}: {json.dumps(row)[:200]}", flush=True)
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(
            [".venv/bin/python -m benchmarks.preset_runs", *(argv or sys.argv[1:])]
        ),
        "cpu": cpu_name(),
        "threads": args.threads,
        "load_before": load,
        "preset": args.preset,
        "within_s": within,
        "sides": {
            name: {
                "median_val_ppl": statistics.median(r["val_ppl"] for r in rows),
                "median_val_loss": statistics.median(r["val_loss"] for r in rows),
                "runs": rows,
            }
            for name, rows in results.items()
        },
    }
    write_report(f"preset-{args.preset}{'-' + args.tag if args.tag else ''}", report, markdown)
    return 0


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one row per side, then each run's curve."""
    lines = [
        f"# Preset {report['preset']}, best within {report['within_s']:g} s of training",
        "",
        f"`{report['command']}`; {report['cpu']}, {report['threads']} threads, load "
        f"{report['load_before']:.2f} before",
        "",
        "| version | val ppl per run | median val ppl | median val loss (nats) |",
        "|---|---|---|---|",
    ]
    for name, side in report["sides"].items():
        runs = ", ".join(f"{r['val_ppl']:.3f}" for r in side["runs"])
        lines.append(
            f"| {name} | {runs} | **{side['median_val_ppl']:.3f}** | "
            f"{side['median_val_loss']:.4f} |"
        )
    for name, side in report["sides"].items():
        for k, run in enumerate(side["runs"]):
            points = ", ".join(f"{p['elapsed_s']:.0f}s {p['val_loss']:.3f}" for p in run["curve"])
            lines += ["", f"{name} run {k} (elapsed, val loss): {points}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
