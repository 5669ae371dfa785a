"""Text rnnkit has never seen: `rnnkit train FILE --time-budget B` against a plain script.

    .venv/bin/python -m benchmarks.char_lm --seeds 3                  # the panel, ~30 min
    .venv/bin/python -m benchmarks.char_lm --sources timemachine --seeds 1 --set model.dropout=0.3
    .venv/bin/python -m benchmarks.char_lm --panel /path/to/dir       # every *.txt in a folder

Both sides train on the same characters: the contiguous 0.9 / 0.05 / 0.05 split that
`rnnkit train FILE` makes (`rnnkit.text.prepared.corpus_for` of its `[data]` table, no
normalisation), the vocabulary of the training part, unseen characters as `<unk>`.

- **plain**: the reference script issue 15 describes, written out here (`plain_train`): an
  embedding of 64 -> a 2 x 256 LSTM (dropout 0.2 between the layers and before the output
  layer) -> a linear layer over the vocabulary; AdamW at 3e-3 (constant), weight decay
  0.01, 32 streams x 64 steps with the state carried, gradient clipping at 1, float32. It
  trains for the budget (training time only, as rnnkit counts `elapsed_s`), scores the
  validation part at the end of every epoch and at the end of the budget, and keeps the best.
- **rnnkit**: run as a user runs it, `rnnkit train FILE --time-budget B --threads T --seed
  S` (no preset: the automatic recipe), in a child process; its best `val_ppl` from
  `metrics.jsonl` (rnnkit evaluates once an epoch and at the end of the budget, too).

The sides alternate which goes first from seed to seed. `--cache` reuses the plain side's
results of an earlier run on the same CPU, budget, threads and file (development only; the
reported numbers are from runs without it). Targets (issue 15): the geometric mean over
the corpora of the ratio of medians (rnnkit / plain) at most 0.92, every corpus at most
0.97. Writes benchmarks/results/char_lm-<budget>s[-tag].json and .md, with the CPU's model
name and the load average.

The default panel is the reference files in `RNNKIT_DATA` plus what this Python ships:
`timemachine` (English prose, 179 KB), `jaychou` (Chinese lyrics, 2,500 distinct
characters), `tinyshakespeare` (1.1 MB of plays) and `python-docs` (Python's own
documentation topics, 0.8 MB).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.report import RESULTS, cpu_name, write_report
from rnnkit.config import resolve
from rnnkit.text.corpora import Corpus
from rnnkit.text.prepared import corpus_for

REPO = Path(__file__).resolve().parents[1]
PANEL = ("timemachine", "jaychou", "tinyshakespeare", "python-docs")


class PlainLM(nn.Module):
    """Embedding 64 -> 2 x 256 LSTM -> dropout -> linear, as the issue describes it."""

    def __init__(self, vocab: int, embed: int = 64, size: int = 256, dropout: float = 0.2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, size, 2, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(size, vocab)

    def forward(self, x: Tensor, hidden: Any) -> tuple[Tensor, Any]:
        """x (B, T) -> logits (B, T, V), hidden."""
        h, hidden = self.lstm(self.embed(x), hidden)
        return self.out(self.drop(h)), hidden


def streams(ids: np.ndarray, rows: int) -> Tensor:
    """The ids as `rows` contiguous streams, (rows, N // rows)."""
    n = len(ids) // rows
    return torch.from_numpy(np.asarray(ids[: n * rows], dtype=np.int64)).view(rows, n)


@torch.no_grad()
def plain_eval(model: PlainLM, data: Tensor, steps: int = 64) -> float:
    """Mean cross-entropy over the streams of `data` (B, N), state carried."""
    model.eval()
    total, count, hidden = 0.0, 0, None
    for i in range(0, data.size(1) - 1, steps):
        x, y = data[:, i : i + steps], data[:, i + 1 : i + 1 + steps]
        logits, hidden = model(x[:, : y.size(1)], hidden)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


def plain_train(corpus: Corpus, budget: float, seed: int) -> dict[str, Any]:
    """Train the plain script for `budget` seconds of training steps; best validation ppl."""
    torch.manual_seed(seed)
    vocab = len(corpus.vocab)
    model = PlainLM(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    train, val = streams(corpus.train, 32), streams(corpus.val, 8)
    steps, elapsed, tokens, best, epochs, done = 64, 0.0, 0, math.inf, 0, False
    while not done:
        hidden = None
        for i in range(0, train.size(1) - 1, steps):
            t0 = time.perf_counter()
            x, y = train[:, i : i + steps], train[:, i + 1 : i + 1 + steps]
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden)
            logits, hidden = model(x[:, : y.size(1)], hidden)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            elapsed += time.perf_counter() - t0
            tokens += y.numel()
            if elapsed >= budget:
                done = True
                break
        epochs += 1
        best = min(best, plain_eval(model, val))
    return {"val_ppl": math.exp(best), "tokens_per_sec": tokens / elapsed, "epochs": epochs}


def rnnkit_train(
    source: str, budget: float, seed: int, threads: int, extra: list[str], args: list[str]
) -> dict[str, Any]:
    """`rnnkit train SOURCE --time-budget B ...` in a child process; its best val ppl."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "rnnkit", "train", source, "--time-budget", str(budget)]
        argv += ["--threads", str(threads), "--seed", str(seed), "--out", str(out), "--quiet"]
        argv += [*args, *(f"--set={s}" for s in extra)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp)
        if result.returncode != 0:
            raise SystemExit(f"rnnkit train failed:\n{result.stdout}\n{result.stderr}")
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        config = json.loads((out / "config.json").read_text())
    recipe = [line for line in result.stdout.splitlines() if line.startswith("recipe")]
    return {
        "val_ppl": min(r["val_ppl"] for r in rows),
        "tokens_per_sec": statistics.median(r["tokens_per_sec"] for r in rows),
        "epochs": rows[-1]["epoch"],
        "elapsed_s": rows[-1]["elapsed_s"],
        "model": {k: config["model"][k] for k in ("hidden_size", "num_layers", "dropout")},
        "recipe": recipe[0] if recipe else "",
        "done": [line for line in result.stdout.splitlines() if line.startswith("done")],
    }


def _cache_key(source: str, budget: float, threads: int, seed: int) -> str:
    return f"{cpu_name()}|{Path(source).name}|{budget:g}|{threads}|{seed}"


def _panel(args: argparse.Namespace) -> list[str]:
    data = Path(os.environ.get("RNNKIT_DATA", REPO.parent / "shared" / "data"))
    if args.panel:
        return sorted(str(p) for p in Path(args.panel).glob("*.txt"))
    names = args.sources.split(",") if args.sources else list(PANEL)
    named = {"tinyshakespeare": str(data / "tinyshakespeare.txt")}
    return [named.get(n, n) for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", default="", help="comma-separated sources (default PANEL)")
    parser.add_argument("--panel", default="", help="a folder: every *.txt in it")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="extra rnnkit --set")
    parser.add_argument("--args", default="", help="extra rnnkit arguments, space-separated")
    parser.add_argument("--cache", action="store_true", help="reuse earlier plain results")
    parser.add_argument("--plain-only", action="store_true", help="fill the cache only")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache_file = RESULTS / "char_lm-plain-cache.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    print(f"{cpu_name()}, {args.threads} threads, load {load:.2f}", flush=True)
    corpora = []
    for source in _panel(args):
        corpus = corpus_for(resolve(source).data)
        print(
            f"{source}: {corpus.num_tokens:,} chars, vocab {len(corpus.vocab):,}, "
            f"unk val {corpus.unk_share['val']:.2%}",
            flush=True,
        )
        rows = []
        for seed in range(args.seeds):
            row: dict[str, Any] = {"seed": seed}
            sides = ("plain", "rnnkit") if seed % 2 == 0 else ("rnnkit", "plain")
            for side in sides:
                if side == "rnnkit" and args.plain_only:
                    row[side] = row.get("plain", {"val_ppl": math.nan})
                    continue
                key = _cache_key(source, args.budget, args.threads, seed)
                if side == "plain" and args.cache and key in cache:
                    row[side] = cache[key]
                elif side == "plain":
                    row[side] = cache[key] = plain_train(corpus, args.budget, seed)
                    cache_file.write_text(json.dumps(cache, indent=1))
                else:
                    extra = args.args.split()
                    row[side] = rnnkit_train(
                        source, args.budget, seed, args.threads, args.set, extra
                    )
                print(f"  seed {seed} {side}: {json.dumps(row[side])[:400]}", flush=True)
            row["ratio"] = row["rnnkit"]["val_ppl"] / row["plain"]["val_ppl"]
            rows.append(row)
        plain = statistics.median(r["plain"]["val_ppl"] for r in rows)
        ours = statistics.median(r["rnnkit"]["val_ppl"] for r in rows)
        corpora.append(
            {
                "source": source,
                "chars": corpus.num_tokens,
                "vocab": len(corpus.vocab),
                "rows": rows,
                "plain_val_ppl": plain,
                "rnnkit_val_ppl": ours,
                "ratio": ours / plain,
            }
        )
        print(f"  ratio of medians {ours / plain:.3f}", flush=True)
    geomean = math.exp(statistics.fmean(math.log(c["ratio"]) for c in corpora))
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m benchmarks.char_lm", *(argv or sys.argv[1:])]),
        "cpu": cpu_name(),
        "threads": args.threads,
        "load_before": load,
        "budget_s": args.budget,
        "seeds": args.seeds,
        "corpora": corpora,
        "geomean_ratio": geomean,
    }
    write_report(f"char_lm-{args.budget:g}s{'-' + args.tag if args.tag else ''}", report, markdown)
    return 0


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"# Unseen text, {report['budget_s']:g} s of training, {report['seeds']} seeds",
        "",
        f"`{report['command']}`; {report['cpu']}, {report['threads']} threads, load "
        f"{report['load_before']:.2f} before",
        "",
        "| corpus | chars | vocab | plain val ppl | rnnkit val ppl | rnnkit / plain |",
        "|---|---|---|---|---|---|",
    ]
    for c in report["corpora"]:
        lines.append(
            f"| {Path(c['source']).name} | {c['chars']:,} | {c['vocab']:,} | "
            f"{c['plain_val_ppl']:.3f} | {c['rnnkit_val_ppl']:.3f} | {c['ratio']:.3f} |"
        )
    lines.append(f"| geometric mean | | | | | **{report['geomean_ratio']:.3f}** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
