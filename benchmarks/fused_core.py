"""Training-step time of the fused recurrent core against `torch.nn`, at the d2l shapes.

One training step of the core alone: forward over a (B, T) batch, then backward of a fixed
random gradient on the output (the state's gradient is zero, as with a detached state in
truncated BPTT). `torch.nn` gets a real one-hot float tensor, the fused core the token ids
(contract 4). Both cores hold the same weights. The two are timed interleaved in one
process, and the median of many repeats is reported, because the machine is shared.

The "product limit" is the time of the matrix products no implementation can avoid, timed
alone with `torch.mm`: T recurrent products forward and T backward at (B, H) x (H, G*H), the
two weight-gradient products over all steps, and the input-side products of layers > 0.

Run from the repository root::

    .venv/bin/python -m benchmarks.fused_core            # 1 and 2 threads
    .venv/bin/python -m benchmarks.fused_core --threads 1 --repeats 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn.fused import FusedGRU, FusedLSTM, FusedRNN

TORCH = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
FUSED = {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass
class Case:
    """One benchmark shape."""

    name: str
    kind: str
    vocab: int
    hidden: int = 256
    layers: int = 1
    batch: int = 32
    steps: int = 35


CASES = [
    Case("8.6 rnn, V=28", "rnn", 28),
    Case("9.3 lstm x2, V=28", "lstm", 28, layers=2),
    Case("jaychou rnn, V=1028", "rnn", 1028),
    Case("gru, V=28", "gru", 28),
]


def _step(core: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], None]:
    """One forward and backward of `core`, the output's gradient fixed to `grad`."""

    def run() -> None:
        out, _ = core(x)  # (B, T, H)
        out.backward(grad)

    return run


def _product_limit(case: Case, dtype: torch.dtype) -> Callable[[], None]:
    """The unavoidable matrix products of one training step, alone with `torch.mm`."""
    b, t, h, g = case.batch, case.steps, case.hidden, GATES[case.kind] * case.hidden
    hs = torch.randn(b, h, dtype=dtype)
    dg = torch.randn(b, g, dtype=dtype)
    w = torch.randn(g, h, dtype=dtype)
    big_g = torch.randn(t * b, g, dtype=dtype)
    big_h = torch.randn(t * b, h, dtype=dtype)

    def run() -> None:
        for _ in range(case.layers):
            for _ in range(t):
                torch.mm(hs, w.t())  # forward recurrent product
                torch.mm(dg, w)  # backward recurrent product
            torch.mm(big_g.t(), big_h)  # dW_hh over all steps
        for _ in range(case.layers - 1):
            torch.mm(big_h, w.t())  # input projection of the upper layers
            torch.mm(big_g.t(), big_h)  # their dW_ih
            torch.mm(big_g, w)  # their dx

    return run


def _median_ms(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median wall time of each function in ms, the functions interleaved round by round."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench(case: Case, repeats: int, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Median step times (ms) of torch.nn, fused and the product limit for one case."""
    torch.manual_seed(0)
    ref = TORCH[case.kind](case.vocab, case.hidden, case.layers, batch_first=True).to(dtype)
    fused = FUSED[case.kind](case.vocab, case.hidden, case.layers, batch_first=True).to(dtype)
    fused.load_state_dict(ref.state_dict())
    ids = torch.randint(0, case.vocab, (case.batch, case.steps))  # (B, T)
    one_hot = F.one_hot(ids, case.vocab).to(dtype)  # (B, T, V)
    grad = torch.randn(case.batch, case.steps, case.hidden, dtype=dtype)  # (B, T, H)
    fns = {
        "torch": _step(ref, one_hot, grad),
        "fused": _step(fused, ids, grad),
        "limit": _product_limit(case, dtype),
    }
    return _median_ms(fns, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, float32, core forward+backward, medians of {args.repeats}")
    header = (
        f"{'case':<22} {'thr':>3} {'torch ms':>9} {'fused ms':>9} {'speedup':>8} "
        f"{'limit ms':>9} {'fused/lim':>9}"
    )
    print(header)
    print("-" * len(header))
    for threads in args.threads:
        torch.set_num_threads(threads)
        for case in CASES:
            if args.only not in case.name:
                continue
            ms = bench(case, args.repeats)
            print(
                f"{case.name:<22} {threads:>3} {ms['torch']:>9.2f} {ms['fused']:>9.2f} "
                f"{ms['torch'] / ms['fused']:>7.2f}x {ms['limit']:>9.2f} "
                f"{ms['limit'] / ms['fused']:>8.0%}"
            )


if __name__ == "__main__":
    main()
