"""Reproduce the book's endpoints and the `timemachine` target; print one table, write JSON.

    python -m benchmarks.reproduce                       # every preset below
    python -m benchmarks.reproduce --presets d2l-rnn --threads 1
    python -m benchmarks.reproduce --presets timemachine --runs 3

Each run trains a shipped preset through `rnnkit.lm.train` into a temporary folder and
reports its final training perplexity (d2l's `train_ch8` figure), the validation perplexity
and `<unk>` share on the text that follows (which the book never shows), the best
validation perplexity, and `elapsed_s`. Several runs of a preset use seeds 0, 1, 2, ... and
the table gives their median. Needs the reference data (`RNNKIT_DATA`, default
`../shared/data`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import apply_overrides, load_preset
from rnnkit.lm.train import train_lm

PRESETS = ["d2l-rnn", "d2l-deep-lstm", "d2l-jaychou", "timemachine"]
RESULTS = Path(__file__).parent / "results"


def run_once(preset: str, seed: int, threads: int, overrides: list[str]) -> dict[str, Any]:
    """Train `preset` once; return its final and best numbers."""
    cfg = load_preset(preset)
    apply_overrides(cfg, [f"train.seed={seed}", f"train.threads={threads}", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train_lm(cfg, out=Path(tmp) / "run", quiet=True, echo=lambda line: None)
        wall = time.perf_counter() - start
    final = result.history[-1]
    return {
        "preset": preset,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "epochs": final["epoch"],
        "train_ppl": final["train_ppl"],
        "val_ppl": final["val_ppl"],
        "val_unk": final["val_unk"],
        "best_val_ppl": result.best["val_ppl"],
        "elapsed_s": final["elapsed_s"],
        "tokens_per_sec": final["tokens_per_sec"],
        "wall_s": wall,
    }


def main() -> None:
    """Run the presets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    parser.add_argument("--runs", type=int, default=1, help="runs per preset (median)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="extra table.key=value")
    args = parser.parse_args()
    os.environ.setdefault("RNNKIT_DATA", str(Path(__file__).parents[1].parent / "shared/data"))

    rows = []
    header = (
        f"{'preset':<15}{'runs':>5}{'epochs':>7}{'train ppl':>11}{'val ppl':>12}"
        f"{'best val':>10}{'val <unk>':>10}{'elapsed s':>11}{'tok/s':>9}"
    )
    print(header)
    for preset in args.presets:
        runs = [run_once(preset, seed, args.threads, args.set) for seed in range(args.runs)]
        med = {
            key: statistics.median(r[key] for r in runs)
            for key in ("epochs", "train_ppl", "val_ppl", "best_val_ppl", "val_unk", "elapsed_s")
        }
        med["tokens_per_sec"] = statistics.median(r["tokens_per_sec"] for r in runs)
        rows.append({"preset": preset, "median": med, "runs": runs})
        print(
            f"{preset:<15}{len(runs):>5}{med['epochs']:>7.0f}{med['train_ppl']:>11.3f}"
            f"{med['val_ppl']:>12.3f}{med['best_val_ppl']:>10.3f}{med['val_unk']:>10.2%}"
            f"{med['elapsed_s']:>11.1f}{med['tokens_per_sec']:>9.0f}",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "reproduce.json"
    out.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
