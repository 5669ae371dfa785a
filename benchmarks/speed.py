"""Training and generation speed of rnnkit beside d2l's own code, and the matrix-product limit.

    python -m benchmarks.speed                          # everything, 2 and 1 threads
    python -m benchmarks.speed --epochs 5 --only a      # a quick look at the 8.6 case
    python -m benchmarks.speed --threads 1 --no-d2l --impls fused

Cases (the batch is 32 x 35 for a-c, as in the book):

    a  8.6     one-hot rnn 256, Time Machine's first 10,000 chars, SGD lr 1, clip 1
    b  9.3     one-hot 2-layer lstm 256, the same data, SGD lr 2, clip 1
    b16        case b with `train.precision=bf16` on rnnkit's side (d2l unchanged)
    c  jaychou one-hot rnn 256 over the 1,028-token Jay Chou vocabulary, SGD lr 1, clip 1
    d1 the `default` preset, d2 the `timemachine` preset (no d2l counterpart; each timed
       "epoch" is the first `--chunk` batches of an epoch, their epochs being long)

Every measurement runs in a child process of its own (its thread count set before any
work, its peak resident memory its own): d2l's `train_ch8` and `predict_ch8` in a separate
environment with `d2l==0.17.6` (`benchmarks/d2l_env.py`, made on first use), rnnkit once per
implementation (`model.impl`), then `rnnkit.lm.train` itself as a cross-check. Both sides
time whole epochs, data iteration included, and the table gives medians over the epochs
after the first. `limit` is the matrix-product limit: the products no implementation can
avoid, timed alone with `torch.mm` at the case's shapes (`benchmarks/speed_rnnkit.py`), and
`%lim` is the share of that speed each side reaches. The table is printed and written as
JSON to `benchmarks/results/speed.json`. The machine is shared: the load average at the
start and the end is printed and recorded; trust numbers taken below a load of 0.5.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from benchmarks import d2l_env
from rnnkit.nn.recurrent import available_impls

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
D2L_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"  # d2l's DATA_HUB['time_machine']
SGD_1 = ("train.optimizer=sgd", "train.lr=1.0", "train.clip=1.0", "train.weight_decay=0")
BF16 = ("train.precision=bf16",)


@dataclass(frozen=True)
class Case:
    """One benchmark case: an rnnkit preset (with overrides) and its d2l counterpart."""

    key: str
    name: str
    preset: str
    overrides: tuple[str, ...] = ()
    d2l: str | None = None  # the case's name in benchmarks/speed_d2l.py
    prefix: str = ""
    chunk: bool = False  # time the first --chunk batches of each epoch


CASES = [
    Case("a", "8.6 rnn", "d2l-rnn", d2l="tm-rnn", prefix="time traveller"),
    Case("b", "9.3 lstm x2", "d2l-deep-lstm", d2l="tm-lstm2", prefix="time traveller"),
    # (b) with bf16 autocast on rnnkit's side (d2l has no such switch; same final perplexity).
    Case("b16", "9.3 bf16", "d2l-deep-lstm", BF16, d2l="tm-lstm2", prefix="time traveller"),
    Case("c", "jaychou rnn", "d2l-jaychou", SGD_1, d2l="jaychou-rnn", prefix="分开"),
    Case("d1", "default", "default", prefix="The ", chunk=True),
    Case("d2", "timemachine", "timemachine", prefix="the time traveller ", chunk=True),
]


def data_dir() -> Path:
    """The reference data (`RNNKIT_DATA`, else ../shared/data); refuses to go on without it."""
    folder = Path(os.environ.get("RNNKIT_DATA", ROOT.parent / "shared" / "data")).resolve()
    tm = folder / "timemachine.txt"
    if not tm.is_file() or not (folder / "jaychou_lyrics.txt.zip").is_file():
        sys.exit(
            f"no reference data in {folder}; set RNNKIT_DATA to the folder holding "
            "timemachine.txt and jaychou_lyrics.txt.zip (nothing is downloaded)"
        )
    if hashlib.sha1(tm.read_bytes()).hexdigest() != D2L_SHA1:
        sys.exit(f"{tm} is not the file d2l expects (sha1 {D2L_SHA1}); d2l would download it")
    return folder


def run_child(cmd: list[str], args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run one measurement in a child process; its JSON result, or an `error` entry."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        done = subprocess.run(
            [*cmd, json.dumps(args), str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not out.exists():
            tail = "\n".join(done.stderr.strip().splitlines()[-8:])
            print(f"  failed ({done.returncode}):\n{tail}", file=sys.stderr)
            return {"error": tail}
        return json.loads(out.read_text(encoding="utf-8"))


def child_env(threads: int, **extra: str) -> dict[str, str]:
    """The environment of a child: its thread count fixed for every math library."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MPLBACKEND="Agg")
    env.update(extra)
    return env


def measure(args: argparse.Namespace, cases: list[Case], impls: list[str]) -> list[dict]:
    """Every measurement the arguments ask for, one child process each.

    With `--rounds R` each case's measurements run R times, in reverse order every other
    round, so that a burst of load elsewhere does not fall on one side only.
    """
    data = data_dir()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d2l_python = None
        stubs = d2l_env.write_stubs(Path(tmp) / "stubs")
        workdir = Path(tmp) / "d2l" / "run"  # d2l reads ../data/timemachine.txt from here
        workdir.mkdir(parents=True)
        (workdir.parent / "data").mkdir()
        shutil.copyfile(data / "timemachine.txt", workdir.parent / "data" / "timemachine.txt")
        if not args.no_d2l and any(c.d2l for c in cases):
            d2l_python = d2l_env.ensure_env(echo=lambda s: print(s, file=sys.stderr))
        d2l_cmd = [str(d2l_python), str(ROOT / "benchmarks" / "speed_d2l.py")]
        rk_cmd = [sys.executable, "-m", "benchmarks.speed_rnnkit"]
        for threads in args.threads:
            rk_env = child_env(threads, RNNKIT_DATA=str(data))
            d2l_env_vars = child_env(threads, PYTHONPATH=str(stubs), RNNKIT_DATA=str(data))
            for case in cases:
                common = {"threads": threads, "seed": args.seed, "epochs": args.epochs}
                gen = {"gen_length": args.gen_length, "gen_repeats": args.gen_repeats}
                rk = {
                    **common,
                    "preset": case.preset,
                    "overrides": list(case.overrides),
                    "max_batches": args.chunk if case.chunk else 0,
                }
                jobs: list[tuple[str, str, list[str], dict[str, Any], dict[str, str]]] = []
                if case.d2l and d2l_python is not None:
                    d2l_args = {**common, **gen, "case": case.d2l, "workdir": str(workdir)}
                    d2l_args["data_dir"] = str(data)
                    jobs.append(("d2l", "d2l", d2l_cmd, d2l_args, d2l_env_vars))
                for impl in impls:
                    loop_args = {**rk, **gen, "impl": impl, "prefix": case.prefix}
                    loop_args.update(
                        num_samples=args.samples, limit=True, limit_repeats=args.limit_repeats
                    )
                    jobs.append(("rnnkit", impl, rk_cmd, loop_args, rk_env))
                    if not args.no_train_lm:
                        lm_args = {**rk, "impl": impl, "mode": "train_lm"}
                        jobs.append(("train_lm", impl, rk_cmd, lm_args, rk_env))
                for rnd in range(args.rounds):
                    for side, impl, cmd, child_args, env in jobs[:: -1 if rnd % 2 else 1]:
                        print(f"[{threads} thr] {case.name}: {side} {impl}", file=sys.stderr)
                        load = os.getloadavg()[0]
                        res = run_child(cmd, child_args, env)
                        base = {"case": case.key, "name": case.name, "threads": threads}
                        base.update(side=side, impl=impl, round=rnd, load_1min=load)
                        rows.append({**res, **base})
    return rows


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one measurement: medians of the speeds, the largest memory."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = dict(ok[0])
    for key in (
        "tok_s",
        "cpu_tok_s",
        "greedy_ch_s",
        "sampled_ch_s",
        "limit_tok_s",
        "limit_cpu_tok_s",
    ):
        if key in out:
            out[key] = statistics.median(r[key] for r in ok)
    if "rss_train_mib" in out:
        out["train_mib"] = max(r["rss_train_mib"] - r["rss_import_mib"] for r in ok)
    out["peak_mib"] = max(r["peak_mib"] for r in ok)
    out["rounds"] = len(ok)
    return out


def _fmt(value: float | None, spec: str, width: int) -> str:
    return f"{value:{spec}}".rjust(width) if value is not None else "-".rjust(width)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (case, threads, side), with the ratios; then the case's limit line.

    The `cpu_*` figures use the process's CPU time instead of wall time, and are given at
    1 thread only, where they leave out the time spent waiting for a core.
    """
    lines = []
    keys = list(dict.fromkeys((r["case"], r["threads"]) for r in rows))
    for case, threads in keys:
        runs = [r for r in rows if (r["case"], r["threads"]) == (case, threads)]
        sides = list(dict.fromkeys((r["side"], r["impl"]) for r in runs))
        group = [merge([r for r in runs if (r["side"], r["impl"]) == si]) for si in sides]
        d2l = next((r for r in group if r["side"] == "d2l" and "error" not in r), {})
        limit, cpu_limit = (
            statistics.median(vals) if vals else None
            for vals in (
                [r["limit_tok_s"] for r in group if "limit_tok_s" in r],
                [r["limit_cpu_tok_s"] for r in group if "limit_cpu_tok_s" in r],
            )
        )
        if threads != 1:
            cpu_limit = None
        for r in group:
            if r["side"] == "train_lm" or "error" in r:
                continue
            lm = next((x for x in group if (x["side"], x["impl"]) == ("train_lm", r["impl"])), {})
            cpu = r.get("cpu_tok_s") if threads == 1 else None
            lines.append(
                {
                    "case": case,
                    "name": r["name"],
                    "threads": threads,
                    "side": "d2l" if r["side"] == "d2l" else f"rnnkit {r['impl']}",
                    "tok_s": r["tok_s"],
                    "x_d2l": _ratio(r["tok_s"], d2l.get("tok_s")),
                    "of_limit": _ratio(r["tok_s"], limit),
                    "cpu_tok_s": cpu,
                    "cpu_x_d2l": _ratio(cpu, d2l.get("cpu_tok_s")),
                    "cpu_of_limit": _ratio(cpu, cpu_limit),
                    "train_lm_tok_s": lm.get("tok_s"),
                    "final_ppl": r["final_ppl"],
                    "greedy_ch_s": r["greedy_ch_s"],
                    "greedy_x_d2l": _ratio(r["greedy_ch_s"], d2l.get("greedy_ch_s")),
                    "sampled_ch_s": r.get("sampled_ch_s"),
                    "sampled_x_greedy": _ratio(r.get("sampled_ch_s"), r["greedy_ch_s"]),
                    "peak_mib": r["peak_mib"],
                    "train_mib": r.get("train_mib"),
                }
            )
        if limit:
            lines.append(
                {
                    "case": case,
                    "name": group[0]["name"],
                    "threads": threads,
                    "side": "mm limit",
                    "tok_s": limit,
                    "cpu_tok_s": cpu_limit,
                }
            )
    return lines


COLUMNS = [  # (title, key, format, width)
    ("tok/s", "tok_s", ",.0f", 9),
    ("x d2l", "x_d2l", ".2f", 7),
    ("%lim", "of_limit", ".0%", 6),
    ("cpu tok/s", "cpu_tok_s", ",.0f", 10),
    ("x d2l", "cpu_x_d2l", ".2f", 7),
    ("%lim", "cpu_of_limit", ".0%", 6),
    ("train_lm", "train_lm_tok_s", ",.0f", 9),
    ("ppl", "final_ppl", ".2f", 8),
    ("greedy", "greedy_ch_s", ",.0f", 8),
    ("x d2l", "greedy_x_d2l", ".1f", 7),
    ("64x", "sampled_ch_s", ",.0f", 8),
    ("x1", "sampled_x_greedy", ".1f", 6),
    ("peak MiB", "peak_mib", ".0f", 9),
    ("+train", "train_mib", ".0f", 7),
]


def render(lines: list[dict[str, Any]]) -> str:
    """The table as text: training tok/s (wall; CPU at 1 thread), generation ch/s, memory."""
    head = f"{'case':<16}{'thr':>3}  {'side':<13}" + "".join(
        title.rjust(width) for title, _, _, width in COLUMNS
    )
    out = [head, "-" * len(head)]
    for x in lines:
        cells = "".join(_fmt(x.get(key), spec, width) for _, key, spec, width in COLUMNS)
        out.append(f"{x['case'] + ' ' + x['name']:<16}{x['threads']:>3}  {x['side']:<13}{cells}")
    return "\n".join(out)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="timed epochs per measurement")
    parser.add_argument(
        "--only", default="", help="case keys (a b b16 c d1 d2) or name parts, comma-separated"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--impls", nargs="+", default=None, help="default: torch and fused")
    parser.add_argument("--chunk", type=int, default=4, help="batches per timed epoch, d1/d2")
    parser.add_argument("--gen-length", type=int, default=500, help="new characters")
    parser.add_argument("--gen-repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=64, help="sequences sampled at once")
    parser.add_argument("--limit-repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="repeat each case, alternating")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-d2l", action="store_true", help="skip d2l's side")
    parser.add_argument("--no-train-lm", action="store_true", help="skip the train_lm check")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.json")
    args = parser.parse_args()

    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    keys = {c.key for c in CASES}
    cases = [
        c
        for c in CASES
        if not wanted or any(w == c.key or (w not in keys and w in c.name) for w in wanted)
    ]
    if not cases:
        sys.exit(f"--only {args.only!r} matches no case; keys: {sorted(keys)}")
    registered = available_impls()
    impls = args.impls or [i for i in ("torch", "fused") if i in registered]
    unknown = [i for i in impls if i not in registered]
    if unknown:
        sys.exit(f"unknown impls {unknown}; registered: {registered}")

    load_start = os.getloadavg()
    started = datetime.now().astimezone()
    rows = measure(args, cases, impls)
    load_end = os.getloadavg()
    lines = table(rows)
    header = (
        f"speed benchmark {started:%Y-%m-%d %H:%M %Z}, {platform.node()}, {_cpu_model()}, "
        f"{os.cpu_count()} cpus, torch {torch.__version__}; epochs {args.epochs} "
        f"(medians after the first), threads {args.threads}; load average (1/5/15 min) "
        f"start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
        f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}, "
        f"highest 1-min load before a measurement {max(r['load_1min'] for r in rows):.2f}"
    )
    print(header)
    print(render(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "date": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "load_start": load_start,
        "load_end": load_end,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "header": header,
        "table": lines,
        "runs": rows,
    }
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
