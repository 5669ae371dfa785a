"""The ONNX export and its torch-free runtime against rnnkit's torch path.

    .venv/bin/python -m benchmarks.export_runtime [--threads 1 2] [--rounds 7] [--tokens 500]

Two models, trained only a few steps (speed does not depend on the weights) into a temporary
folder with `rnnkit.train_lm` and exported with `rnnkit.lm.export.export_onnx`:

- `default`: the `default` preset's architecture (character LSTM 256, embedding, python-docs);
- `lstm-2x512`: the same with `model.num_layers=2 model.hidden_size=512`.

Measured:

(a) decoding: batch-1 greedy tokens/s after a 20-character prefix, `rnnkit.generate(lm,
    prefix, N, temperature=0)` (torch) against `rnnkit.runtime.onnx_lm.generate` (onnxruntime),
    in this process, per thread count: `torch.set_num_threads(t)` and an onnxruntime session
    with `intra_op_num_threads=t`, `inter_op_num_threads=1`. One warm-up call each, then
    `--rounds` rounds, torch first in even rounds and onnx first in odd ones; the median.
    The prefix's warm-up forward is inside the timing (N tokens over the whole call).
(b) cold start: `rnnkit generate --checkpoint X --length 1 --greedy --prefix P` timed as a
    whole process (`.venv/bin/rnnkit`), X the run folder (.pt, torch) or the export folder
    (onnx); one untimed run each first (warm page cache), then `--cold-runs` alternated runs,
    the median.
(c) peak RSS: the maximum resident set of those same processes (`/usr/bin/time -f %M`, or
    a bare Python's os.wait4 without it: started from this process, a child's ru_maxrss
    would count the torch pages it shared at fork), the median.

Writes benchmarks/results/export_runtime.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PREFIX = "The Python tutorial "  # 20 characters
assert len(PREFIX) == 20

MODELS: dict[str, list[str]] = {
    "default": [],
    "lstm-2x512": ["model.num_layers=2", "model.hidden_size=512"],
}


def cpu_name() -> str:
    """The CPU model as lscpu reports it (falls back to platform)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def build(name: str, overrides: list[str], root: Path, steps: int) -> tuple[Path, Path]:
    """Train `steps` steps of the default preset with `overrides`; export it. (run, export)."""
    import rnnkit
    from rnnkit.config import apply_overrides
    from rnnkit.lm.export import export_onnx

    cfg = rnnkit.load_preset("default")
    apply_overrides(
        cfg,
        [
            *overrides,
            f"train.max_steps={steps}",
            "train.epochs=1",
            "generate.every=0",
            "train.threads=2",
        ],
    )
    run, export = root / name, root / f"{name}-onnx"
    rnnkit.train_lm(cfg, out=run, quiet=True, echo=lambda _: None)
    export_onnx(run, export)
    return run, export


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall, busy CPU seconds of the whole machine, CPU seconds of this process + children)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return time.perf_counter(), busy, t.user + t.system + t.children_user + t.children_system


def others_cores(before: tuple[float, float, float]) -> float:
    """Cores other processes kept busy since `before` (machine busy minus ours)."""
    after = cpu_snapshot()
    return max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0])


def ort_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def decoding(run: Path, export: Path, threads: int, tokens: int, rounds: int) -> dict[str, Any]:
    """(a): batch-1 greedy tokens/s, torch against onnxruntime, rounds alternated."""
    import torch

    import rnnkit
    from rnnkit.runtime import onnx_lm

    torch.set_num_threads(threads)
    lm = rnnkit.load(run)
    ox = onnx_lm.load_onnx(export)
    ox = replace(ox, session=ort_session(ox.path, threads))

    def torch_call() -> str:
        return rnnkit.generate(lm, PREFIX, tokens, temperature=0)[0]

    def onnx_call() -> str:
        return onnx_lm.generate(ox, PREFIX, tokens, temperature=0)[0]

    calls = {"torch": torch_call, "onnx": onnx_call}
    texts = {side: call() for side, call in calls.items()}  # warm-up
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    before = cpu_snapshot()
    for r in range(rounds):
        order = ["torch", "onnx"] if r % 2 == 0 else ["onnx", "torch"]
        for side in order:
            start = time.perf_counter()
            calls[side]()
            times[side].append(time.perf_counter() - start)
    row: dict[str, Any] = {"threads": threads, "tokens": tokens, "rounds": rounds}
    row["others_cores"] = others_cores(before)
    for side, ts in times.items():
        row[f"{side}_s"] = ts
        row[f"{side}_tok_s"] = tokens / statistics.median(ts)
    row["speedup"] = row["onnx_tok_s"] / row["torch_tok_s"]
    row["same_text"] = texts["torch"] == texts["onnx"]
    return row


# A child's ru_maxrss counts the pages it shared with its parent at fork (this process holds
# torch, hundreds of MiB), so each process is started from a small one that reports it:
# /usr/bin/time, else a bare Python that waits for it.
_WAIT = (
    "import os, sys; pid = os.fork()\n"
    "if pid == 0: os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss, file=open(os.environ['RSS_FILE'], 'w'))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def run_child(argv: list[str], rss_file: Path) -> tuple[float, float, str]:
    """Run one process; its wall seconds, its own peak RSS (MiB) and stdout."""
    if Path("/usr/bin/time").is_file():
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *argv]
    else:
        wrapped = [sys.executable, "-S", "-c", _WAIT, *argv]
    env = {**os.environ, "RSS_FILE": str(rss_file)}
    start = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True, cwd=REPO, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr}")
    kib = float(rss_file.read_text().split()[-1])
    return wall, kib / 1024, done.stdout


def cold_start(run: Path, export: Path, runs: int) -> dict[str, Any]:
    """(b) and (c): whole `rnnkit generate --length 1` processes, .pt against the export."""
    rss_file = run.parent / "rss.txt"
    exe = str(Path(sys.executable).with_name("rnnkit"))
    base = ["generate", "--length", "1", "--greedy", "--prefix", PREFIX]
    argv = {
        "torch": [exe, *base, "--checkpoint", str(run), "--backend", "torch"],
        "onnx": [exe, *base, "--checkpoint", str(export), "--backend", "onnx"],
    }
    for args in argv.values():
        run_child(args, rss_file)  # warm the page cache
    walls: dict[str, list[float]] = {"torch": [], "onnx": []}
    rss: dict[str, list[float]] = {"torch": [], "onnx": []}
    outs: dict[str, str] = {}
    before = cpu_snapshot()
    for r in range(runs):
        order = ["torch", "onnx"] if r % 2 == 0 else ["onnx", "torch"]
        for side in order:
            wall, peak, outs[side] = run_child(argv[side], rss_file)
            walls[side].append(wall)
            rss[side].append(peak)
    row: dict[str, Any] = {"runs": runs, "same_text": outs["torch"] == outs["onnx"]}
    row["others_cores"] = others_cores(before)
    for side in ("torch", "onnx"):
        row[f"{side}_s"] = walls[side]
        row[f"{side}_median_s"] = statistics.median(walls[side])
        row[f"{side}_rss_mib"] = rss[side]
        row[f"{side}_rss_median_mib"] = statistics.median(rss[side])
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=7, help="decoding rounds per case")
    p.add_argument("--tokens", type=int, default=500, help="greedy tokens per decoding call")
    p.add_argument("--cold-runs", type=int, default=5, help="processes per side for (b), (c)")
    p.add_argument("--train-steps", type=int, default=5)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--out", type=Path, default=RESULTS / "export_runtime.json")
    args = p.parse_args(argv)

    import onnxruntime
    import torch

    started = time.perf_counter()
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "prefix": PREFIX,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="rnnkit-export-bench-") as tmp:
        for name in args.models:
            run, export = build(name, MODELS[name], Path(tmp), args.train_steps)
            model: dict[str, Any] = {
                "overrides": MODELS[name],
                "onnx_mib": (export / "model.onnx").stat().st_size / 2**20,
                "decoding": [
                    decoding(run, export, t, args.tokens, args.rounds) for t in args.threads
                ],
                "cold": cold_start(run, export, args.cold_runs),
            }
            result["models"][name] = model
            print(f"{name}: done ({time.perf_counter() - started:.0f} s)", flush=True)
    result["load_after"] = os.getloadavg()
    result["elapsed_s"] = time.perf_counter() - started

    print(
        f"\n{result['date']}  {result['cpu']} ({result['cpus']} CPUs)  torch {result['torch']}"
        f"  onnxruntime {result['onnxruntime']}  load {load_before[0]:.2f} -> "
        f"{result['load_after'][0]:.2f}\n"
    )
    print(
        "| model | threads | torch tok/s | onnx tok/s | onnx / torch | same text | "
        "other procs (cores) |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    for name, model in result["models"].items():
        for row in model["decoding"]:
            print(
                f"| {name} | {row['threads']} | {row['torch_tok_s']:,.0f} | "
                f"{row['onnx_tok_s']:,.0f} | {row['speedup']:.2f}x | {row['same_text']} | "
                f"{row['others_cores']:.2f} |"
            )
    print()
    print(
        "| model | cold start .pt (torch) | cold start export (onnx) | peak RSS torch | "
        "peak RSS onnx | other procs (cores) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, model in result["models"].items():
        c = model["cold"]
        print(
            f"| {name} | {c['torch_median_s']:.2f} s | {c['onnx_median_s']:.2f} s | "
            f"{c['torch_rss_median_mib']:.0f} MiB | {c['onnx_rss_median_mib']:.0f} MiB | "
            f"{c['others_cores']:.2f} |"
        )
    print(f"\nelapsed {result['elapsed_s']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
