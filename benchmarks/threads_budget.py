"""Issue 30: adaptive threads, the recipe's speed probe and the wall-clock budget, measured.

    .venv/bin/python -m benchmarks.threads_budget                 # every part (~20 min)
    .venv/bin/python -m benchmarks.threads_budget --parts budget  # one part

Parts (each run is `rnnkit train ... --quiet` in a child process, run alone):

- `contention`: `rnnkit train timemachine --time-budget 20` at `--threads 0` (adaptive), 1
  and 2, alone and beside one busy process (`python -c 'while True: pass'`), interleaved,
  `--runs` each: tokens/s of the training steps, passes made against the passes announced.
- `shift`: a 40 s run whose busy neighbour starts 10 s in: tokens/s of its last 20 s.
- `budget`: `--time-budget 20` on a character and a word-level corpus of every size up to
  10 MB: the wall-clock seconds from the start of training to the summary line (the run's
  own `wall` figure) and of the whole process (reading and preparing the corpus included).

The tokens/s come from every training step's time, logged by a wrapper around the thread
tuner's `step_done` (`_CHILD`), so a window of the run (the last 20 s) can be measured.
Writes benchmarks/results/threads_budget[-tag].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.report import cpu_name, write_report

DATA = Path(os.environ.get("RNNKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BUSY = [sys.executable, "-c", "while True: pass"]

# The child: rnnkit's CLI with every step's end time and tokens logged to $STEP_LOG.
_CHILD = """
import atexit, json, os, sys, time
import rnnkit.training.threads as threads
log = []
for cls in (threads.ThreadTuner, threads.FixedThreads):
    def wrap(original):
        def step_done(self, seconds, work=1.0):
            log.append((time.perf_counter(), seconds, work, __import__("torch").get_num_threads()))
            return original(self, seconds, work)
        return step_done
    cls.step_done = wrap(cls.step_done)
start = time.perf_counter()
atexit.register(lambda: open(os.environ["STEP_LOG"], "w").write(json.dumps(
    {"start": start, "steps": log})))
from rnnkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def train(argv: list[str], busy_after: float | None = None) -> dict[str, Any]:
    """One `rnnkit train` child; `busy_after` starts the busy neighbour that many seconds
    into training (None: no neighbour started here)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "steps.json"
        env = dict(os.environ, STEP_LOG=str(log))
        cmd = [sys.executable, "-c", _CHILD, "train", *argv, "--out", f"{tmp}/run", "--quiet"]
        t0 = time.perf_counter()
        child = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        neighbour = None
        if busy_after is not None:
            time.sleep(busy_after + 2.0)  # the corpus and the probe come first (about 2 s)
            neighbour = subprocess.Popen(BUSY)
        out, err = child.communicate()
        total = time.perf_counter() - t0
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
        if child.returncode != 0:
            raise SystemExit(f"rnnkit train failed:\n{out}\n{err}")
        steps = json.loads(log.read_text())["steps"]
    done = next(line for line in out.splitlines() if line.startswith("done"))
    return {"done": done, "process_s": total, "steps": steps}


def rate(steps: list[list[float]], since: float = 0.0) -> float:
    """Tokens per second of the steps that ended `since` seconds or more after the first."""
    first = steps[0][0] if steps else 0.0
    kept = [s for s in steps if s[0] - first >= since]
    seconds = sum(s[1] for s in kept)
    return sum(s[2] for s in kept) / seconds if seconds else 0.0


def done_figures(done: str) -> dict[str, float]:
    """The wall seconds and the passes made / announced of a `done` line."""
    figures: dict[str, float] = {}
    if m := re.search(r"wall ([\d.]+)s", done):
        figures["wall_s"] = float(m.group(1))
    if m := re.search(r"([\d.]+) passes \(announced ([\d.]+)\)", done):
        figures["passes"], figures["announced"] = float(m.group(1)), float(m.group(2))
    return figures


def contention(runs: int) -> dict[str, Any]:
    """Adaptive vs fixed thread counts, alone and beside one busy process."""
    argv = ["timemachine", "--time-budget", "20", "--seed", "0"]
    table: dict[str, dict[str, list[dict[str, float]]]] = {"alone": {}, "busy": {}}
    for situation in ("alone", "busy"):
        neighbour = subprocess.Popen(BUSY) if situation == "busy" else None
        try:
            for _ in range(runs):
                for threads in ("0", "1", "2"):
                    r = train([*argv, "--threads", threads])
                    row = {"tokens_per_s": rate(r["steps"]), **done_figures(r["done"])}
                    row["threads_used"] = statistics.mode(s[3] for s in r["steps"])
                    table[situation].setdefault(threads, []).append(row)
                    print(situation, threads, row, flush=True)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    return table


def shift(runs: int) -> dict[str, list[float]]:
    """40 s runs whose busy neighbour starts 10 s in: tokens/s of the last 20 s."""
    argv = ["timemachine", "--time-budget", "40", "--seed", "0"]
    table: dict[str, list[float]] = {}
    for _ in range(runs):
        for threads in ("0", "1", "2"):
            r = train([*argv, "--threads", threads], busy_after=10.0)
            table.setdefault(threads, []).append(rate(r["steps"], since=20.0))
            print("shift", threads, table[threads][-1], flush=True)
    return table


def corpora(tmp: Path) -> list[tuple[str, list[str]]]:
    """(name, the source and its level flags) of the budget part, up to 10 MB."""
    shakespeare = DATA / "tinyshakespeare.txt"
    licence = Path("/usr/share/common-licenses/GPL-3")
    big = tmp / "shakespeare-x10.txt"
    big.write_text(shakespeare.read_text(encoding="utf-8") * 10, encoding="utf-8")
    cases = [
        ("timemachine char", ["timemachine"]),
        ("tinyshakespeare char (1.1 MB)", [str(shakespeare)]),
        ("tinyshakespeare x10 char (11 MB)", [str(big)]),
        ("tinyshakespeare word (1.1 MB)", [str(shakespeare), "--level", "word"]),
    ]
    if licence.exists():
        cases.insert(1, ("GPL-3 word (35 KB)", [str(licence), "--level", "word"]))
    return cases


def budget(seconds: float) -> list[dict[str, Any]]:
    """Wall-clock ends of `--time-budget` runs on corpora up to 10 MB."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in corpora(Path(tmp)):
            r = train([*source, "--time-budget", f"{seconds:g}", "--threads", "0"])
            row = {"corpus": name, "process_s": r["process_s"], **done_figures(r["done"])}
            row["done"] = r["done"]
            rows.append(row)
            print(row, flush=True)
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    lines = [f"# threads and budget ({report['cpu']}, {report['date']})", ""]
    if "contention" in report:
        lines += [
            "| situation | threads | tokens/s (median) | passes / announced |",
            "|---|---|---|---|",
        ]
        for situation, by_threads in report["contention"].items():
            for threads, rows in by_threads.items():
                tps = statistics.median(r["tokens_per_s"] for r in rows)
                ratio = statistics.median(r["passes"] / r["announced"] for r in rows)
                lines.append(f"| {situation} | {threads} | {tps:,.0f} | {ratio:.2f} |")
        lines.append("")
    if "shift" in report:
        lines += [
            "| neighbour from 10 s | threads | last 20 s tokens/s (median) |",
            "|---|---|---|",
        ]
        for threads, values in report["shift"].items():
            lines.append(f"| 40 s run | {threads} | {statistics.median(values):,.0f} |")
        lines.append("")
    if "budget" in report:
        lines += [
            f"| corpus (budget {report['budget_s']:g} s) | training to summary (s) "
            "| whole process (s) |",
            "|---|---|---|",
        ]
        for row in report["budget"]:
            lines.append(f"| {row['corpus']} | {row['wall_s']:.1f} | {row['process_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["contention", "shift", "budget"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores": len(os.sched_getaffinity(0)),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": " ".join(sys.argv),
        "budget_s": args.budget,
    }
    if "contention" in args.parts:
        report["contention"] = contention(args.runs)
    if "shift" in args.parts:
        report["shift"] = shift(args.runs)
    if "budget" in args.parts:
        report["budget"] = budget(args.budget)
    write_report("threads_budget" + (f"-{args.tag}" if args.tag else ""), report, markdown)


if __name__ == "__main__":
    main()
