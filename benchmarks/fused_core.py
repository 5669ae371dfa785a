"""Training-step time of the fused recurrent core against `torch.nn`, at the d2l shapes.

One training step of the core alone: forward over a batch, then backward of a fixed random
gradient on the output (the final state's gradient is zero, as with a detached state in
truncated BPTT). For token-id cases `torch.nn` gets a real one-hot float tensor and the
fused core the ids (it reads columns of W_ih); for embedding cases both get the same float
input, which needs its gradient. Both cores hold the same weights. They are timed
interleaved in one process, step by step, and the medians are reported.

Two clocks: wall time, and at 1 thread also the CPU time of the calling thread
(`time.thread_time`), which leaves out the time the thread waited for a core; on a shared
machine that is the steadier number. At 2 threads only wall time means anything.

The "product limit" is the time of the matrix products no implementation can avoid, timed
alone with `torch.mm` at the same shapes: per layer T recurrent products forward and T
backward at (B, H) x (H, G*H), the weight-gradient product `dW_hh` over all steps, and for
float inputs the input projection, `dW_ih` and the input gradient over all steps.

Run from the repository root::

    .venv/bin/python -m benchmarks.fused_core                  # 1 and 2 threads
    .venv/bin/python -m benchmarks.fused_core --threads 1 --repeats 40 --only rnn
    .venv/bin/python -m benchmarks.fused_core --json results/fused_core.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn.fused import FusedGRU, FusedLSTM, FusedRNN

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
FUSED = {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass
class Case:
    """One benchmark shape: token ids of a vocabulary, or float embeddings of width `embed`."""

    name: str
    kind: str
    vocab: int = 0
    embed: int = 0
    hidden: int = 256
    layers: int = 1
    batch: int = 32
    steps: int = 35


CASES = [
    Case("8.6 rnn onehot V=28", "rnn", vocab=28),
    Case("9.3 lstm x2 onehot V=28", "lstm", vocab=28, layers=2),
    Case("jaychou rnn onehot V=1028", "rnn", vocab=1028),
    Case("gru onehot V=28", "gru", vocab=28),
    Case("default lstm 256 emb256 T64", "lstm", embed=256, steps=64),
    Case("timemachine lstm 512 emb64", "lstm", embed=64, hidden=512, steps=64),
]


def _step(core: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], None]:
    """One forward and backward of `core`, the output's gradient fixed to `grad`."""

    def run() -> None:
        out, _ = core(x)  # (B, T, H)
        out.backward(grad)
        core.zero_grad(set_to_none=True)
        if x.grad is not None:
            x.grad = None

    return run


def _product_limit(case: Case, dtype: torch.dtype) -> Callable[[], None]:
    """The unavoidable matrix products of one training step, alone with `torch.mm`."""
    b, t, h, g = case.batch, case.steps, case.hidden, GATES[case.kind] * case.hidden
    hs = torch.randn(b, h, dtype=dtype)
    dg = torch.randn(b, g, dtype=dtype)
    w = torch.randn(g, h, dtype=dtype)
    big_g = torch.randn(t * b, g, dtype=dtype)
    big_h = torch.randn(t * b, h, dtype=dtype)
    w_in = torch.randn(g, case.embed, dtype=dtype)
    big_in = torch.randn(t * b, case.embed, dtype=dtype)

    def run() -> None:
        for layer in range(case.layers):
            for _ in range(t):
                torch.mm(hs, w.t())  # forward recurrent product
                torch.mm(dg, w)  # backward recurrent product
            torch.mm(big_g.t(), big_h)  # dW_hh over all steps
            if layer > 0:  # float input from the layer below
                torch.mm(big_h, w.t())  # input projection
                torch.mm(big_g.t(), big_h)  # dW_ih
                torch.mm(big_g, w)  # dx
            elif case.embed:
                torch.mm(big_in, w_in.t())
                torch.mm(big_g.t(), big_in)
                torch.mm(big_g, w_in)

    return run


def _medians(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and thread-CPU ms of each function, the functions interleaved per round."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start_wall, start_cpu = time.perf_counter(), time.thread_time()
            fn()
            cpu[name].append((time.thread_time() - start_cpu) * 1e3)
            wall[name].append((time.perf_counter() - start_wall) * 1e3)
    return {
        name: {"wall_ms": statistics.median(wall[name]), "cpu_ms": statistics.median(cpu[name])}
        for name in fns
    }


def bench(case: Case, repeats: int, dtype: torch.dtype = torch.float32) -> dict[str, dict]:
    """Median step times of torch.nn, fused and the product limit for one case."""
    torch.manual_seed(0)
    width = case.vocab or case.embed
    sizes = (width, case.hidden, case.layers)
    ref = TORCH[case.kind](*sizes, batch_first=True).to(dtype)
    fused = FUSED[case.kind](*sizes, batch_first=True).to(dtype)
    fused.load_state_dict(ref.state_dict())
    grad = torch.randn(case.batch, case.steps, case.hidden, dtype=dtype)  # (B, T, H)
    if case.vocab:
        ids = torch.randint(0, case.vocab, (case.batch, case.steps))  # (B, T)
        x_ref, x_fused = F.one_hot(ids, case.vocab).to(dtype), ids  # (B, T, V), (B, T)
    else:
        x_ref = x_fused = torch.randn(case.batch, case.steps, case.embed, dtype=dtype)
        x_ref.requires_grad_(True)
    fns = {
        "torch": _step(ref, x_ref, grad),
        "fused": _step(fused, x_fused, grad),
        "limit": _product_limit(case, dtype),
    }
    return _medians(fns, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, float32, core forward+backward, medians of "
        f"{args.repeats} interleaved steps; ms (cpu = thread CPU time, 1 thread only)"
    )
    header = (
        f"{'case':<29} {'thr':>3} {'clock':>5} {'torch':>8} {'fused':>8} {'speedup':>8} "
        f"{'limit':>8} {'fused at':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for case in CASES:
            if args.only not in case.name:
                continue
            ms = bench(case, args.repeats)
            clocks = ("cpu", "wall") if threads == 1 else ("wall",)
            for clock in clocks:
                key = f"{clock}_ms"
                torch_ms, fused_ms, limit_ms = (ms[n][key] for n in ("torch", "fused", "limit"))
                print(
                    f"{case.name:<29} {threads:>3} {clock:>5} {torch_ms:>8.2f} {fused_ms:>8.2f} "
                    f"{torch_ms / fused_ms:>7.2f}x {limit_ms:>8.2f} {limit_ms / fused_ms:>8.0%}"
                )
            rows.append({"case": asdict(case), "threads": threads, **ms})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
