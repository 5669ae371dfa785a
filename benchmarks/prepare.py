"""`rnnkit prepare` benchmark: a 2 GB corpus, char and word level, peak memory and MB/s.

No corpus that large is available offline, so one is synthesised in a temporary folder from
the words of the Time Machine (`$RNNKIT_DATA/timemachine.txt`, else python-docs), a dozen
words a line. A share of the words (4% by default) is replaced by one of a
million made-up words (`w123456`), so the vocabulary approaches a million types, the
regime the issue sets as the limit for bounded memory. Free disk space is checked first
(the corpus, plus the token files of one level at a time).

Each measurement runs in a fresh child process, so that its peak resident memory
(`VmHWM`) belongs to the measured work alone:

- `prepare`: `rnnkit.text.prepared.prepare` end to end (three passes), wall time, MB/s of
  source text, peak RSS;
- `load`: `load_prepared` plus 200 training batches (sequential, random) read through the
  memory maps: peak RSS, split into anonymous memory and mapped (reclaimable) file pages.

Prints a table and writes JSON to `benchmarks/results/prepare.json`. Other work on the
machine slows it down: record the load average beside the numbers.

    python -m benchmarks.prepare [--size-gb 2] [--levels char word] [--rare-share 0.04]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
WORDS_PER_LINE = 12
BLOCK_WORDS = WORDS_PER_LINE << 17  # words per synthesised block (about 8.5 MB)
NUM_BLOCKS = 32  # distinct blocks; the file cycles through them
RARE_TYPES = 1_000_000


def _memory_mb() -> dict[str, float]:
    """This process's peak resident memory (`peak_rss_mb`) and, now, its anonymous memory
    (`anon_mb`, what it allocated) and mapped file pages (`file_mb`, page cache that the
    kernel can drop). Linux `/proc/self/status` (ru_maxrss survives exec, so a child would
    report its parent's peak); elsewhere only ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(re.findall(r"^(VmHWM|RssAnon|RssFile):\s+(\d+) kB", status.read_text(), re.M))
        return {
            "peak_rss_mb": int(fields["VmHWM"]) / 1024,
            "anon_mb": int(fields["RssAnon"]) / 1024,
            "file_mb": int(fields["RssFile"]) / 1024,
        }
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20}


def _base_words() -> tuple[list[str], str]:
    from rnnkit.text.sources import data_dir, read_text

    folder = data_dir()
    name = "timemachine" if folder and (folder / "timemachine.txt").is_file() else "python-docs"
    text, _ = read_text(name)
    return re.findall(r"[A-Za-z']+", text), name


def synthesise(path: Path, size_bytes: int, rare_share: float, seed: int = 0) -> dict[str, Any]:
    """Write about `size_bytes` of text to `path`; returns what it is made of."""
    words, name = _base_words()
    vocab = np.array(sorted(set(words)), dtype=object)
    freq = np.unique(np.array(words, dtype=object), return_counts=True)[1].astype(np.float64)
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(NUM_BLOCKS):
        ids = rng.choice(len(vocab), size=BLOCK_WORDS, p=freq / freq.sum())  # unigram draws
        block = vocab[ids]
        rare = np.flatnonzero(rng.random(BLOCK_WORDS) < rare_share)
        block[rare] = [f"w{k}" for k in rng.integers(0, RARE_TYPES, rare.size)]
        lines = block.reshape(-1, WORDS_PER_LINE)
        blocks.append(("\n".join(" ".join(line) for line in lines) + "\n").encode("ascii"))
    written, k = 0, 0
    with path.open("wb") as f:
        while written < size_bytes:
            block = blocks[k % NUM_BLOCKS][: size_bytes - written]
            f.write(block)
            written, k = written + len(block), k + 1
    return {"from": name, "base_types": len(vocab), "rare_share": rare_share, "bytes": written}


def measure_prepare(path: Path, out: Path, level: str) -> dict[str, Any]:
    """Run `prepare` (in a child process) and time it."""
    from rnnkit.config import DataConfig
    from rnnkit.text.prepared import prepare

    t = time.perf_counter()
    m = prepare(DataConfig(source=str(path), level=level), out, quiet=True)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "mb_per_s": m["source_bytes"] / 1e6 / seconds,
        **_memory_mb(),
        "num_tokens": m["num_tokens"],
        "vocab_size": m["vocab_size"],
        "dtype": m["dtype"],
        "token_files_mb": sum((out / s["file"]).stat().st_size for s in m["splits"].values()) / 1e6,
    }


def measure_load(out: Path, sampling: str) -> dict[str, Any]:
    """Open a prepared folder and read 200 batches through the maps (in a child process).

    Memory here is mostly torch itself, the page cache mapped by reading (file pages, which
    the kernel reclaims) and, for random sampling, `BatchIterator`'s shuffled order of all
    windows (8 bytes per `num_steps` tokens).
    """
    import torch

    from rnnkit.text.batches import BatchIterator
    from rnnkit.text.prepared import load_prepared

    t = time.perf_counter()
    corpus = load_prepared(out)
    batches = BatchIterator(corpus.train, 32, 35, sampling, torch.Generator().manual_seed(0))  # type: ignore[arg-type]
    for k, _ in enumerate(batches):
        if k == 200:
            break
    return {"seconds": time.perf_counter() - t, **_memory_mb()}


def _child(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.prepare", "--child", *args]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and writes the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--levels", nargs="+", default=["char", "word"], choices=["char", "word"])
    parser.add_argument("--rare-share", type=float, default=0.04)
    parser.add_argument("--tmp", default=None, help="folder for the corpus (default: system tmp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "prepare":
            print(json.dumps(measure_prepare(Path(rest[0]), Path(rest[1]), rest[2])))
        else:
            print(json.dumps(measure_load(Path(rest[0]), rest[1])))
        return 0

    size = int(args.size_gb * 1e9)
    base = Path(args.tmp or tempfile.gettempdir())
    need = size * 2.2  # the corpus, char ids (1 byte a char) or word ids, and some slack
    free = shutil.disk_usage(base).free
    if free < need:
        print(
            f"need {need / 1e9:.1f} GB free in {base}, have {free / 1e9:.1f} GB; "
            "pass --tmp or a smaller --size-gb",
            file=sys.stderr,
        )
        return 2
    result: dict[str, Any] = {
        "benchmark": "prepare",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "levels": {},
    }
    with tempfile.TemporaryDirectory(prefix="rnnkit-prepare-", dir=base) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        t = time.perf_counter()
        result["corpus"] = synthesise(corpus, size, args.rare_share)
        result["corpus"]["synthesis_s"] = time.perf_counter() - t
        print(
            f"corpus: {size / 1e9:.2f} GB from the words of {result['corpus']['from']}, "
            f"{args.rare_share:.0%} rare words out of {RARE_TYPES:,}"
        )
        for level in args.levels:
            out = Path(tmp) / f"prepared-{level}"
            row = _child("prepare", str(corpus), str(out), level)
            row["load"] = {s: _child("load", str(out), s) for s in ("sequential", "random")}
            result["levels"][level] = row
            shutil.rmtree(out)
            print(
                f"{level:<5} prepare {row['seconds']:6.1f} s  {row['mb_per_s']:6.1f} MB/s  "
                f"peak RSS {row['peak_rss_mb']:5.0f} MB  tokens {row['num_tokens']:,}  "
                f"vocab {row['vocab_size']:,} ({row['dtype']})"
            )
            for sampling, load in row["load"].items():
                print(
                    f"      train-time read, {sampling:<10} 200 batches: peak RSS "
                    f"{load['peak_rss_mb']:5.0f} MB = anon {load.get('anon_mb', 0):5.0f} MB "
                    f"+ mapped file pages {load.get('file_mb', 0):5.0f} MB"
                )
    result["load_average_after"] = os.getloadavg()
    print(
        f"load average before {result['load_average_before']}, after {result['load_average_after']}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "prepare.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
