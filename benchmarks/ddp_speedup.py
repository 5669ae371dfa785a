"""Speed-up of data-parallel training from 1 to 2 processes on this machine.

The same global batch (32 streams x 35 steps of a character LSTM on the Time Machine, or
python-docs without `$RNNKIT_DATA`) and the same number of optimizer steps, trained:

- by one process with 1 thread, and with 2 threads (torch's intra-op parallelism);
- by `torchrun --standalone --nproc-per-node 2`, 16 streams and 1 thread per process
  (gloo on CPU), so the two processes share the two cores.

Training throughput is the `tokens_per_sec` of the run's last metrics row (training tokens
of all processes over the training-loop time, without start-up and evaluation). Each setup
runs `--repeats` times, the setups taking turns, and keeps the best, since other work on
the machine only slows runs down. Writes JSON to `benchmarks/results/ddp_speedup.json`.

    python -m benchmarks.ddp_speedup [--steps 100] [--repeats 3] [--hidden-size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _source() -> str:
    folder = os.environ.get("RNNKIT_DATA", "")
    if folder and (Path(folder) / "timemachine.txt").is_file():
        return "timemachine"
    return "python-docs"


def run(processes: int, threads: int, args: argparse.Namespace, out: Path) -> float:
    """Train one setup; returns its training tokens per second (all processes)."""
    batch = args.batch_size // processes
    sets = [
        f"data.source={_source()}",
        f"data.batch_size={batch}",
        "data.num_steps=35",
        "model.kind=lstm",
        f"model.hidden_size={args.hidden_size}",
        "train.epochs=1000",
        f"train.max_steps={args.steps}",
        f"train.threads={threads}",
        "train.device=cpu",
        "generate.every=0",
    ]
    train = ["-m", "rnnkit", "train", *[a for s in sets for a in ("--set", s)], "--quiet"]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = str(threads)
    subprocess.run([*launcher, *train, "--out", str(out)], env=env, check=True, capture_output=True)
    rows = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return float(json.loads(rows[-1])["tokens_per_sec"])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and writes the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (streams)")
    parser.add_argument("--hidden-size", type=int, default=256)
    args = parser.parse_args(argv)

    setups = {"1 process x 1 thread": (1, 1), "1 process x 2 threads": (1, 2)}
    setups["2 processes x 1 thread"] = (2, 1)
    result: dict[str, Any] = {
        "benchmark": "ddp_speedup",
        "source": _source(),
        "global_batch": args.batch_size,
        "num_steps": 35,
        "hidden_size": args.hidden_size,
        "steps": args.steps,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": os.getloadavg(),
        "tokens_per_sec": {},
    }
    runs: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory(prefix="rnnkit-ddp-") as tmp:
        for k in range(args.repeats):  # round robin: a change in load hits every setup
            for name, (processes, threads) in setups.items():
                out = Path(tmp) / f"{processes}-{threads}-{k}"
                runs[name].append(run(processes, threads, args, out))
    for name, values in runs.items():
        result["tokens_per_sec"][name] = {"best": max(values), "runs": values}
        each = ", ".join(f"{r:,.0f}" for r in values)
        print(f"{name:<24} {max(values):>10,.0f} tok/s  (runs: {each})")
    tps = {k: v["best"] for k, v in result["tokens_per_sec"].items()}
    result["speedup_vs_1x1"] = tps["2 processes x 1 thread"] / tps["1 process x 1 thread"]
    result["speedup_vs_1x2"] = tps["2 processes x 1 thread"] / tps["1 process x 2 threads"]
    result["load_average_after"] = os.getloadavg()
    print(
        f"2 processes vs 1 process x 1 thread: {result['speedup_vs_1x1']:.2f}x; "
        f"vs 1 process x 2 threads: {result['speedup_vs_1x2']:.2f}x; load average "
        f"{result['load_average_before'][0]:.1f} -> {result['load_average_after'][0]:.1f}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "ddp_speedup.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
