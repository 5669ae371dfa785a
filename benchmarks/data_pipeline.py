"""Data-pipeline benchmark: load, build the vocabulary and encode a 100 MB char-level corpus.

Synthesises the corpus in a temporary folder by repeating a named source (python-docs by
default, always offline), then measures in fresh child processes, so that each peak
resident memory (`ru_maxrss`) belongs to the measured work alone:

- `stages`: read + decode, normalise, count characters (vocabulary), encode, each timed;
- `load_corpus`: the public call end to end (read, split, vocab on train, encode).

Prints a table and writes JSON to `benchmarks/results/data_pipeline.json`.

    python -m benchmarks.data_pipeline [--size-mb 100] [--source python-docs]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def synthesise(path: Path, source: str, size_mb: float) -> int:
    """Write about `size_mb` MB of `source`'s text, repeated, to `path`; returns bytes."""
    from rnnkit.text.corpora import read_text

    text, _ = read_text(source)
    block = text.encode("utf-8")
    target = int(size_mb * 1_000_000)
    written = 0
    with path.open("wb") as f:
        while written < target:
            # Cut at a character boundary: the corpus must stay valid UTF-8.
            piece = block[: target - written].decode("utf-8", "ignore").encode("utf-8")
            if not piece:
                break
            f.write(piece)
            written += len(piece)
    return written


def measure_stages(path: Path, normalize: str) -> dict[str, Any]:
    """Time each stage of the char pipeline (runs in a child process)."""
    from rnnkit.text.corpora import compact_dtype, read_text
    from rnnkit.text.tokenize import count_chars, normalize_text
    from rnnkit.text.vocab import Vocab

    times: dict[str, float] = {}
    t = time.perf_counter()
    text, _ = read_text(path)
    times["read_decode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    text = normalize_text(text, normalize)  # type: ignore[arg-type]
    times["normalize_s"] = time.perf_counter() - t
    t = time.perf_counter()
    vocab = Vocab.build(count_chars(text))
    times["vocab_s"] = time.perf_counter() - t
    t = time.perf_counter()
    ids = vocab.encode(text, dtype=compact_dtype(len(vocab)))
    times["encode_s"] = time.perf_counter() - t
    times["total_s"] = sum(times.values())
    return {
        **times,
        "tokens": int(ids.size),
        "vocab_size": len(vocab),
        "dtype": str(ids.dtype),
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_load_corpus(path: Path, normalize: str) -> dict[str, Any]:
    """Time `load_corpus` end to end (runs in a child process)."""
    from rnnkit.config import DataConfig
    from rnnkit.text.corpora import load_corpus

    t = time.perf_counter()
    corpus = load_corpus(DataConfig(source=str(path), normalize=normalize))  # type: ignore[arg-type]
    total = time.perf_counter() - t
    return {
        "total_s": total,
        "tokens": corpus.num_tokens,
        "vocab_size": len(corpus.vocab),
        "dtype": str(corpus.train.dtype),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(kind: str, path: Path, normalize: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.data_pipeline", "--child", kind, str(path)]
    out = subprocess.run(
        [*command, "--normalize", normalize],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and writes the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--source", default="python-docs")
    parser.add_argument("--normalize", default="none", choices=["none", "d2l", "newlines"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, path = args.child
        measure = measure_stages if kind == "stages" else measure_load_corpus
        print(json.dumps(measure(Path(path), args.normalize)))
        return 0

    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-") as tmp:
        path = Path(tmp) / "corpus.txt"
        size = synthesise(path, args.source, args.size_mb)
        stages = _child("stages", path, args.normalize)
        end_to_end = _child("load_corpus", path, args.normalize)

    result = {
        "benchmark": "data_pipeline",
        "source": args.source,
        "normalize": args.normalize,
        "bytes": size,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "stages": stages,
        "load_corpus": end_to_end,
    }
    print(f"corpus: {size / 1e6:.1f} MB of {args.source}, normalize={args.normalize}, char level")
    print(f"tokens {stages['tokens']:,}, vocab {stages['vocab_size']}, ids {stages['dtype']}")
    print(f"{'stage':<22}{'seconds':>10}")
    for key in ("read_decode_s", "normalize_s", "vocab_s", "encode_s", "total_s"):
        print(f"{key.removesuffix('_s'):<22}{stages[key]:>10.2f}")
    print(f"{'peak RSS (stages)':<22}{stages['peak_rss_mb']:>9.0f}M")
    print(f"{'load_corpus total':<22}{end_to_end['total_s']:>10.2f}")
    print(f"{'peak RSS (load_corpus)':<22}{end_to_end['peak_rss_mb']:>9.0f}M")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "data_pipeline.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
