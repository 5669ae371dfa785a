"""Word-level language models: rnnkit's word-level defaults against a plain PyTorch script.

    .venv/bin/python -m benchmarks.word_lm --budget 60 --seeds 3     # ~12 min on 2 threads
    .venv/bin/python -m benchmarks.word_lm --budget 300 --seeds 3    # ~45 min
    .venv/bin/python -m benchmarks.word_lm --budget 10 --seeds 1 --speed-seconds 10  # smoke

Both sides train on the same tokens with the same vocabulary: rnnkit's, for the same file
(`rnnkit.text.prepared.corpus_for` of the `[data]` table `rnnkit train FILE --level word`
resolves to), so their perplexities are over the same tokens.

- **plain**: the script the issue describes, written out here (`plain_train`): a tied
  2 x 256 LSTM with dropout 0.3 (`pytorch/examples`' word_language_model `RNNModel`, its
  initialisation), a full softmax over the vocabulary, AdamW at 3e-3 (constant), gradient
  clipping at 0.25, batches of 32 streams x 35 steps with the state carried, float32. It
  trains for the budget (training time only, as rnnkit counts `elapsed_s`), scores the
  validation part at the end of every epoch and at the end, and reports the best.
- **rnnkit**: run as a user runs it, `rnnkit train FILE --level word --time-budget B
  --threads T --seed S` (the word-level defaults, the `words` preset), in a child process;
  its best `val_ppl` and median `tokens_per_sec` from `metrics.jsonl`.

Targets (issue 19): rnnkit's median validation perplexity at most 0.85 x the plain
script's, at 60 s and at 300 s; and (`--speed-seconds`, after the quality runs) training
tokens/s at a 10,001-token vocabulary (`data.max_size=10001`, the 10,000 most frequent
tokens and `<unk>`) at least 2 x the plain script's full softmax on the same CPU, the two
run back to back. Writes benchmarks/results/word_lm-<budget>s.json and .md (with the CPU's
`lscpu` model name and the load average).
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

from benchmarks.report import cpu_name, write_report
from rnnkit.config import DataConfig, resolve
from rnnkit.text.corpora import Corpus
from rnnkit.text.prepared import corpus_for

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RNNKIT_DATA", REPO.parent / "shared" / "data"))
SPEED_VOCAB = 10_001  # the 10,000 most frequent training tokens plus <unk>


def word_data(source: str, extra: list[str]) -> DataConfig:
    """The `[data]` table of `rnnkit train SOURCE --level word --set EXTRA...`."""
    return resolve(source, overrides=["data.level=word", *extra]).data


# --------------------------------------------------------------------------- the plain script


class PlainLM(nn.Module):
    """pytorch/examples' word_language_model `RNNModel` (LSTM, tied): encoder, LSTM, dropout,
    decoder; uniform(-0.1, 0.1) initialisation of the encoder and decoder."""

    def __init__(self, vocab: int, size: int = 256, layers: int = 2, dropout: float = 0.3):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab, size)
        self.rnn = nn.LSTM(size, size, layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab)
        self.decoder.weight = self.encoder.weight
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, x: Tensor, hidden: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Any]:
        """x (T, B) -> logits (T, B, V), hidden."""
        out, hidden = self.rnn(self.drop(self.encoder(x)), hidden)
        return self.decoder(self.drop(out)), hidden


def batchify(ids: np.ndarray, streams: int) -> Tensor:
    """The ids as `streams` columns, (N // streams, streams), as pytorch/examples does."""
    n = len(ids) // streams
    return torch.from_numpy(np.asarray(ids[: n * streams], dtype=np.int64)).view(streams, n).t()


@torch.no_grad()
def plain_eval(model: PlainLM, data: Tensor, bptt: int = 35) -> float:
    """Mean cross-entropy over the columns of `data` (T, B), state carried."""
    model.eval()
    total, count, hidden = 0.0, 0, None
    for i in range(0, data.size(0) - 1, bptt):
        x, y = data[i : i + bptt], data[i + 1 : i + 1 + bptt]
        x = x[: y.size(0)]
        logits, hidden = model(x, hidden)
        total += F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
        ).item()
        count += y.numel()
    model.train()
    return total / count


def plain_train(corpus: Corpus, budget: float, seed: int, eval_each_epoch: bool = True) -> dict:
    """Train the plain script for `budget` seconds of training steps; best validation ppl."""
    torch.manual_seed(seed)
    vocab = len(corpus.vocab)
    model = PlainLM(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    train, val = batchify(corpus.train, 32), batchify(corpus.val, 10)
    bptt, elapsed, tokens, best, epochs = 35, 0.0, 0, math.inf, 0
    done = False
    while not done:
        hidden = None
        for i in range(0, train.size(0) - 1, bptt):
            t0 = time.perf_counter()
            x, y = train[i : i + bptt], train[i + 1 : i + 1 + bptt]
            x = x[: y.size(0)]
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden)
            logits, hidden = model(x, hidden)
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            opt.step()
            elapsed += time.perf_counter() - t0
            tokens += y.numel()
            if elapsed >= budget:
                done = True
                break
        epochs += 1
        if eval_each_epoch or done:
            best = min(best, plain_eval(model, val))
    return {
        "val_ppl": math.exp(best),
        "tokens_per_sec": tokens / elapsed,
        "epochs": epochs,
        "elapsed_s": elapsed,
    }


# --------------------------------------------------------------------------- rnnkit as a user


def rnnkit_train(source: str, budget: float, seed: int, threads: int, extra: list[str]) -> dict:
    """`rnnkit train SOURCE --level word --time-budget B ...` in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "rnnkit", "train", source, "--level", "word"]
        argv += ["--time-budget", str(budget), "--threads", str(threads), "--seed", str(seed)]
        argv += ["--out", str(out), "--quiet", *(f"--set={s}" for s in extra)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp)
        if result.returncode != 0:
            raise SystemExit(f"rnnkit train failed:\n{result.stdout}\n{result.stderr}")
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        config = json.loads((out / "config.json").read_text())
        sample = (out / "samples.txt").read_text(encoding="utf-8").strip().splitlines()
    return {
        "val_ppl": min(r["val_ppl"] for r in rows),
        "tokens_per_sec": statistics.median(r["tokens_per_sec"] for r in rows),
        "epochs": rows[-1]["epoch"],
        "elapsed_s": rows[-1]["elapsed_s"],
        "val_unk": rows[-1]["val_unk"],
        "test_unk": rows[-1].get("test_unk"),
        "output": config["model"]["output"],
        "cutoffs": config["model"]["cutoffs"],
        "vocab_size": config["data"]["max_size"],
        "sample": sample[-1] if sample else "",
        "stdout": result.stdout.strip().splitlines()[:4],
    }


# --------------------------------------------------------------------------- the report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(DATA / "tinyshakespeare.txt"))
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--speed-seconds", type=float, default=30.0, help="the 10k-vocabulary speed runs (0 = skip)"
    )
    parser.add_argument("--set", action="append", default=[], help="extra rnnkit --set")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    data = word_data(args.source, args.set)
    corpus = corpus_for(data)
    print(
        f"{args.source}: {corpus.num_tokens:,} tokens, vocab {len(corpus.vocab):,}, "
        f"unk val {corpus.unk_share['val']:.2%} test {corpus.unk_share['test']:.2%}; "
        f"{cpu_name()}, {args.threads} threads, load {load:.2f}",
        flush=True,
    )
    rows = []
    for seed in range(args.seeds):
        sides = ("plain", "rnnkit") if seed % 2 == 0 else ("rnnkit", "plain")
        row: dict[str, Any] = {"seed": seed}
        for side in sides:
            if side == "plain":
                row[side] = plain_train(corpus, args.budget, seed)
            else:
                row[side] = rnnkit_train(args.source, args.budget, seed, args.threads, args.set)
            print(f"seed {seed} {side}: {json.dumps(row[side])[:300]}", flush=True)
        row["ratio"] = row["rnnkit"]["val_ppl"] / row["plain"]["val_ppl"]
        rows.append(row)
    plain_ppl = statistics.median(r["plain"]["val_ppl"] for r in rows)
    rnnkit_ppl = statistics.median(r["rnnkit"]["val_ppl"] for r in rows)
    speed: dict[str, Any] = {}
    if args.speed_seconds > 0:
        sized = [*args.set, f"data.max_size={SPEED_VOCAB}"]
        big = corpus_for(word_data(args.source, sized))
        plain = plain_train(big, args.speed_seconds, 0, eval_each_epoch=False)
        ours = rnnkit_train(args.source, args.speed_seconds, 0, args.threads, sized)
        speed = {
            "vocab_size": len(big.vocab),
            "plain_tokens_per_sec": plain["tokens_per_sec"],
            "rnnkit_tokens_per_sec": ours["tokens_per_sec"],
            "speedup": ours["tokens_per_sec"] / plain["tokens_per_sec"],
            "rnnkit_output": ours["output"],
        }
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m benchmarks.word_lm", *(argv or sys.argv[1:])]),
        "cpu": cpu_name(),
        "threads": args.threads,
        "load_before": load,
        "source": args.source,
        "budget_s": args.budget,
        "vocab_size": len(corpus.vocab),
        "unk_share": corpus.unk_share,
        "rows": rows,
        "median_plain_val_ppl": plain_ppl,
        "median_rnnkit_val_ppl": rnnkit_ppl,
        "ratio": rnnkit_ppl / plain_ppl,
        "target_ratio": 0.85,
        "speed": speed,
    }
    write_report(f"word_lm-{args.budget:g}s{'-' + args.tag if args.tag else ''}", report, markdown)
    return 0


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"# Word-level LM, {Path(report['source']).name}, {report['budget_s']:g} s of training",
        "",
        f"`{report['command']}`; {report['cpu']}, {report['threads']} threads, load "
        f"{report['load_before']:.2f} before; vocabulary {report['vocab_size']:,} "
        f"(<unk>: val {report['unk_share']['val']:.2%}, test {report['unk_share']['test']:.2%})",
        "",
        "| seed | plain val ppl | plain tok/s | rnnkit val ppl | rnnkit tok/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        p, k = r["plain"], r["rnnkit"]
        lines.append(
            f"| {r['seed']} | {p['val_ppl']:.1f} | {p['tokens_per_sec']:,.0f} | "
            f"{k['val_ppl']:.1f} | {k['tokens_per_sec']:,.0f} | {r['ratio']:.3f} |"
        )
    lines.append(
        f"| median | {report['median_plain_val_ppl']:.1f} | | {report['median_rnnkit_val_ppl']:.1f}"
        f" | | **{report['ratio']:.3f}** (target <= {report['target_ratio']}) |"
    )
    s = report["speed"]
    if s:
        lines += [
            "",
            f"Training speed at a {s['vocab_size']:,}-token vocabulary: plain (full softmax) "
            f"{s['plain_tokens_per_sec']:,.0f} tok/s, rnnkit ({s['rnnkit_output']}) "
            f"{s['rnnkit_tokens_per_sec']:,.0f} tok/s: **{s['speedup']:.2f}x** (target >= 2x)",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
