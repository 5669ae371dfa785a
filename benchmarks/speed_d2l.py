"""d2l's side of `benchmarks.speed`: the book's own `train_ch8` and `predict_ch8`, timed.

Runs in the separate d2l environment (`benchmarks/d2l_env.py`), one case per process, and
imports nothing from rnnkit. Called by `benchmarks.speed` as::

    .d2l-venv/bin/python benchmarks/speed_d2l.py '<json arguments>' result.json

The data is d2l's own pipeline: `d2l.load_data_time_machine(32, 35)` (the first 10,000
characters) reads `../data/timemachine.txt` relative to the working folder, where the runner
has put the reference file with the SHA-1 d2l expects, so d2l's download finds its cache hit;
the Jay Chou case (d2l-zh 6.5, absent from d2l 0.17.6) feeds the first 10,000 characters of
the archive, newlines as spaces, to `d2l.Vocab` and `d2l.seq_data_iter_sequential`.
`requests.get` is replaced by a function that raises, so nothing can download, and
`d2l.Animator` by one that draws nothing (the Agg backend is set too).

Per-epoch times come from a wrapper around `d2l.train_epoch_ch8` that `train_ch8` calls
through the module (`d2l = sys.modules[__name__]`): it times each call with the same
clocks rnnkit's side uses (wall time, and the process's CPU time, which at 1 thread leaves
out the time spent waiting for a core on a shared machine) and counts the tokens the
iterator yields.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import resource
import statistics
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

CASES: dict[str, dict[str, Any]] = {
    "tm-rnn": {"data": "timemachine", "kind": "rnn", "layers": 1, "lr": 1.0},
    "tm-lstm2": {"data": "timemachine", "kind": "lstm", "layers": 2, "lr": 2.0},
    "jaychou-rnn": {"data": "jaychou", "kind": "rnn", "layers": 1, "lr": 1.0},
}
PREFIX = {"timemachine": "time traveller", "jaychou": "分开"}
BATCH, STEPS, HIDDEN = 32, 35, 256


def rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the speed benchmark never downloads; the data file is missing or wrong")


class _NoAnimator:
    """Stands in for `d2l.Animator`: no figure, no display."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Counting:
    """Wraps a d2l data iterator; counts the tokens of each epoch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tokens = 0

    def __iter__(self) -> Any:
        self.tokens = 0
        for X, Y in self.inner:
            self.tokens += Y.numel()
            yield X, Y


class _SeqLoader:
    """What `d2l.SeqDataLoader` does, over a corpus given as token ids."""

    def __init__(self, d2l: Any, corpus: list[int]) -> None:
        self.d2l, self.corpus = d2l, corpus

    def __iter__(self) -> Any:
        return self.d2l.seq_data_iter_sequential(self.corpus, BATCH, STEPS)


def load_data(d2l: Any, data: str, data_dir: Path) -> tuple[Any, Any]:
    """d2l's training iterator and vocabulary for the case's corpus."""
    if data == "timemachine":
        return d2l.load_data_time_machine(BATCH, STEPS)  # ../data/timemachine.txt, 10,000 chars
    with zipfile.ZipFile(data_dir / "jaychou_lyrics.txt.zip") as zf:
        text = zf.read("jaychou_lyrics.txt").decode("utf-8")
    text = text.replace("\n", " ").replace("\r", " ")[:10000]
    vocab = d2l.Vocab(list(text))
    return _SeqLoader(d2l, [vocab[c] for c in text]), vocab


def main() -> None:
    args = json.loads(sys.argv[1])
    out_path = Path(sys.argv[2])
    torch.set_num_threads(args["threads"])
    import requests

    requests.get = _refuse  # before d2l binds anything
    from d2l import torch as d2l

    d2l.Animator = _NoAnimator
    d2l.use_svg_display = lambda: None
    rss_import = rss_mib()

    case = CASES[args["case"]]
    os.chdir(args["workdir"])  # d2l reads ../data/timemachine.txt from here
    random.seed(args["seed"])
    torch.manual_seed(args["seed"])
    train_iter, vocab = load_data(d2l, case["data"], Path(args["data_dir"]))
    counting = _Counting(train_iter)
    layer_cls = nn.RNN if case["kind"] == "rnn" else nn.LSTM
    net = d2l.RNNModel(layer_cls(len(vocab), HIDDEN, case["layers"]), vocab_size=len(vocab))
    device = torch.device("cpu")

    epochs: list[dict[str, float]] = []
    inner_epoch = d2l.train_epoch_ch8

    def timed_epoch(*a: Any, **kw: Any) -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        ppl, speed = inner_epoch(*a, **kw)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        epochs.append(
            {"s": seconds, "cpu_s": cpu, "tokens": counting.tokens, "ppl": ppl, "d2l_speed": speed}
        )
        return ppl, speed

    d2l.train_epoch_ch8 = timed_epoch
    with contextlib.redirect_stdout(sys.stderr):  # train_ch8 prints samples and a summary
        d2l.train_ch8(net, counting, vocab, case["lr"], args["epochs"], device)
    rss_train = rss_mib()

    prefix, length = PREFIX[case["data"]], args["gen_length"]
    greedy = []
    for _ in range(args["gen_repeats"]):
        start = time.perf_counter()
        d2l.predict_ch8(prefix, length, net, vocab, device)
        greedy.append(length / (time.perf_counter() - start))

    timed = epochs[1:] if len(epochs) >= 3 else epochs  # the first epoch warms up
    tok_s = [e["tokens"] / e["s"] for e in timed]
    result = {
        "side": "d2l",
        "case": args["case"],
        "threads": torch.get_num_threads(),
        "vocab": len(vocab),
        "epochs": len(epochs),
        "tokens_per_epoch": statistics.median(e["tokens"] for e in epochs),
        "tok_s": statistics.median(tok_s),
        "tok_s_all": [e["tokens"] / e["s"] for e in epochs],
        "cpu_tok_s": statistics.median(e["tokens"] / e["cpu_s"] for e in timed),
        "d2l_reported_tok_s": statistics.median(e["d2l_speed"] for e in timed),
        "final_ppl": epochs[-1]["ppl"],
        "greedy_ch_s": statistics.median(greedy),
        "rss_import_mib": rss_import,
        "rss_train_mib": rss_train,
        "peak_mib": rss_mib(),
        "versions": {"torch": torch.__version__, "d2l": _version("d2l")},
    }
    assert math.isfinite(result["final_ppl"])
    out_path.write_text(json.dumps(result), encoding="utf-8")


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
