"""Parity of the recurrent implementations against `torch.nn`: the check behind `rnnkit verify`.

For each kind (rnn, gru, lstm), 1 to 3 layers and both directions, a candidate core (scratch,
fused, ...) gets the weights of its `torch.nn` twin through `load_state_dict`; both run the
same input and initial state, and the outputs, final states and gradients (of every
parameter, of the input and of the initial state) are compared by largest absolute
difference. `verify` returns the rows; `rnnkit verify` prints them as a table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.nn.recurrent import KINDS, Kind, available_impls, build_rnn
from rnnkit.nn.state import from_parts, parts

DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}
TOLERANCES: dict[str, float] = {"float64": 1e-10, "float32": 1e-5}


@dataclass
class ParityRow:
    """The largest absolute differences between one candidate core and torch.

    `tolerance` is the one of the dtype compared in (`TOLERANCES`).
    """

    kind: str
    impl: str
    num_layers: int
    bidirectional: bool
    output: float
    state: float
    grad: float
    tolerance: float = TOLERANCES["float64"]

    def ok(self, tolerance: float | None = None) -> bool:
        """Whether every difference is within `tolerance` (default: the row's own)."""
        limit = self.tolerance if tolerance is None else tolerance
        return max(self.output, self.state, self.grad) <= limit


def _max_diff(a: list[Tensor], b: list[Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def _run(
    core: nn.Module, x: Tensor, state: tuple[Tensor, ...], weights: list[Tensor]
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Outputs, final state parts and gradients (input, state, parameters by name order)."""
    x = x.clone().requires_grad_(True)
    state = tuple(s.clone().requires_grad_(True) for s in state)
    output, final = core(x, from_parts(state))  # (B, T, D*H)
    finals = list(parts(final))
    # Random weights on every output, so each element reaches the gradient differently.
    loss = sum((t * w).sum() for t, w in zip([output, *finals], weights, strict=True))
    params = [p for _, p in sorted(core.named_parameters())]
    grads = torch.autograd.grad(loss, [x, *state, *params])
    return [output.detach()], [f.detach() for f in finals], list(grads)


def compare(
    kind: Kind,
    impl: str,
    num_layers: int,
    bidirectional: bool,
    dtype: torch.dtype = torch.float64,
    batch: int = 3,
    steps: int = 5,
    input_size: int = 4,
    hidden_size: int = 5,
    seed: int = 0,
) -> ParityRow:
    """Run `impl` and torch with the same weights, input and state; report the differences.

    Shape:
        The input is (batch, steps, input_size), batch-first; the state (D*L, batch, H).
    """
    gen = torch.Generator().manual_seed(seed)
    build = functools.partial(
        build_rnn,
        kind,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )
    with torch.random.fork_rng(devices=[]):  # building draws initial weights; keep global RNG
        reference = build("torch").to(dtype)
        candidate = build(impl).to(dtype)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=dtype) * 2 - 1)
    candidate.load_state_dict(reference.state_dict())

    d = 2 if bidirectional else 1
    x = torch.randn(batch, steps, input_size, generator=gen, dtype=dtype)  # (B, T, I)
    parts = 2 if kind == "lstm" else 1
    state_shape = (d * num_layers, batch, hidden_size)
    state = tuple(torch.randn(state_shape, generator=gen, dtype=dtype) for _ in range(parts))
    out_shapes = [(batch, steps, d * hidden_size)] + [state_shape] * parts
    weights = [torch.randn(s, generator=gen, dtype=dtype) for s in out_shapes]

    ref = _run(reference, x, state, weights)
    cand = _run(candidate, x, state, weights)
    return ParityRow(
        kind=kind,
        impl=impl,
        num_layers=num_layers,
        bidirectional=bidirectional,
        output=_max_diff(ref[0], cand[0]),
        state=_max_diff(ref[1], cand[1]),
        grad=_max_diff(ref[2], cand[2]),
        tolerance=TOLERANCES.get(str(dtype).removeprefix("torch."), TOLERANCES["float32"]),
    )


def verify(dtype: str = "float64", impls: tuple[str, ...] | None = None) -> list[ParityRow]:
    """Compare the given implementations with torch: every kind, 1 to 3 layers, both
    directions. Prints nothing; `row.ok()` tells whether a row is within the tolerance.

    Args:
        dtype: "float64" (tolerance 1e-10) or "float32" (tolerance 1e-5).
        impls: the implementations to check; None means every registered one but torch.

    Returns:
        One row per impl, kind, layer count and direction, in that order.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose one of {list(DTYPES)}")
    registered = available_impls()
    if impls is None:
        impls = tuple(name for name in registered if name != "torch")
    for impl in impls:
        if impl not in registered:
            raise ConfigError(f"unknown impl {impl!r}; choose one of {registered}")
    return [
        compare(kind, impl, num_layers, bidirectional, DTYPES[dtype])
        for impl in impls
        for kind in KINDS
        for num_layers in (1, 2, 3)
        for bidirectional in (False, True)
    ]
